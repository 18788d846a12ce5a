//! The trading-state latch: escalations never lose to milder ones, and a state change
//! announced through a control channel is visible to whoever receives the announcement.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use tickpipe_loom_tests::sys::{TradingLatch, TradingState};

#[test]
fn concurrent_escalations_end_at_the_most_severe() {
    loom::model(|| {
        let latch = Arc::new(TradingLatch::new(TradingState::Active));
        let a = {
            let l = Arc::clone(&latch);
            thread::spawn(move || l.escalate(TradingState::Halted))
        };
        let b = {
            let l = Arc::clone(&latch);
            thread::spawn(move || l.escalate(TradingState::ReduceOnly))
        };
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(latch.get(), TradingState::Halted);
    });
}

#[test]
fn a_reader_told_of_a_halt_sees_it() {
    loom::model(|| {
        let latch = Arc::new(TradingLatch::new(TradingState::Active));
        // Stands in for the control ring: set after the latch, with Release, as a ring
        // push publishes its slot.
        let announced = Arc::new(AtomicBool::new(false));
        let operator = {
            let (l, a) = (Arc::clone(&latch), Arc::clone(&announced));
            thread::spawn(move || {
                l.reset(TradingState::Halted);
                a.store(true, Ordering::Release);
            })
        };
        if announced.load(Ordering::Acquire) {
            assert_eq!(latch.get(), TradingState::Halted);
        }
        operator.join().unwrap();
    });
}

#[test]
fn a_halt_survives_a_concurrent_reduce_only_escalation_after_a_reset() {
    loom::model(|| {
        let latch = Arc::new(TradingLatch::new(TradingState::ReduceOnly));
        let breaker = {
            let l = Arc::clone(&latch);
            thread::spawn(move || l.escalate(TradingState::Halted))
        };
        let before = latch.escalate(TradingState::ReduceOnly);
        breaker.join().unwrap();
        assert!(before <= TradingState::Halted);
        assert_eq!(latch.get(), TradingState::Halted);
    });
}
