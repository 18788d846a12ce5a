//! The metrics mailbox: a reader sees one whole publication, never half of one, and
//! publications never go back; the writer's last one always lands.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::thread;
use tickpipe_loom_tests::sys::Mailbox;

/// A snapshot of two figures the writer always keeps equal, as a runner's counters are
/// consistent with each other at a batch end.
type Pair = [u64; 2];

/// Writes each figure of publication `n` separately, yielding between them: the point a
/// reader must never observe.
fn fill(n: u64) -> impl FnOnce(&mut Pair) {
    move |pair| {
        pair[0] = n;
        thread::yield_now();
        pair[1] = n;
    }
}

#[test]
fn a_reader_sees_whole_publications_in_order_and_the_last_one_lands() {
    loom::model(|| {
        let mailbox = Arc::new(Mailbox::new([0u64; 2]));
        let writer = {
            let m = Arc::clone(&mailbox);
            thread::spawn(move || {
                m.try_publish(fill(1));
                m.publish(fill(2));
            })
        };
        let mut seen = 0;
        for _ in 0..2 {
            let (value, count) = mailbox.read(|pair, count| (*pair, count));
            assert_eq!(value[0], value[1], "a torn snapshot: {value:?}");
            assert!(value[0] >= seen, "went back from {seen} to {}", value[0]);
            assert!(count <= 2);
            seen = value[0];
        }
        writer.join().unwrap();
        assert_eq!(mailbox.read(|pair, _| *pair), [2, 2]);
    });
}

#[test]
fn a_publication_skipped_for_a_reader_leaves_the_previous_one_whole() {
    loom::model(|| {
        let mailbox = Arc::new(Mailbox::new([0u64; 2]));
        let writer = {
            let m = Arc::clone(&mailbox);
            thread::spawn(move || m.try_publish(fill(1)))
        };
        let seen = mailbox.read(|pair, count| (*pair, count));
        let published = writer.join().unwrap();
        assert!(seen == ([0, 0], 0) || seen == ([1, 1], 1), "{seen:?}");
        let after = mailbox.read(|pair, count| (*pair, count));
        assert_eq!(after, if published { ([1, 1], 1) } else { ([0, 0], 0) });
    });
}

/// The negative control: the same writer and reader over a slot that is not exclusive
/// (each figure its own atomic). The model must find the torn read the assertion above
/// rules out, or that assertion proves nothing.
#[test]
#[should_panic(expected = "a torn snapshot")]
fn negative_control_a_slot_without_exclusion_is_caught_torn() {
    loom::model(|| {
        let slot = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let writer = {
            let s = Arc::clone(&slot);
            thread::spawn(move || {
                s[0].store(1, Ordering::Release);
                s[1].store(1, Ordering::Release);
            })
        };
        let value = [
            slot[0].load(Ordering::Acquire),
            slot[1].load(Ordering::Acquire),
        ];
        assert_eq!(value[0], value[1], "a torn snapshot: {value:?}");
        writer.join().unwrap();
    });
}
