//! The drain protocol: a consumer that stops once the producer has closed *and* the
//! ring is empty has seen every item — checked in every interleaving loom can build.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use tickpipe_loom_tests::spsc;
use tickpipe_loom_tests::sys::CloseFlag;

const ITEMS: u64 = 3;

/// The order in which a consumer with an empty ring asks "am I done?".
#[derive(Copy, Clone)]
enum Check {
    /// The protocol (`sys::edge::EdgeIn::is_finished`): the close flag, then emptiness.
    ClosedThenEmpty,
    /// The tempting mistake: emptiness, then the flag.
    EmptyThenClosed,
}

/// Runs a producer that pushes ITEMS (waiting while full) and closes, against a consumer
/// that drains until its `check` says done; asserts it saw every item.
fn drain(check: Check) {
    loom::model(move || {
        let (tx, rx) = spsc::ring(2);
        let close = Arc::new(CloseFlag::new());
        let producer = {
            let close = Arc::clone(&close);
            thread::spawn(move || {
                for i in 0..ITEMS {
                    let mut v = i;
                    while let Err(back) = tx.push(v) {
                        v = back;
                        thread::yield_now();
                    }
                }
                close.close();
            })
        };
        let mut seen = Vec::new();
        loop {
            if let Some(v) = rx.pop() {
                seen.push(v);
                continue;
            }
            let done = match check {
                Check::ClosedThenEmpty => close.is_closed() && rx.is_empty(),
                Check::EmptyThenClosed => {
                    let empty = rx.is_empty();
                    empty && close.is_closed()
                }
            };
            if done {
                break;
            }
            thread::yield_now();
        }
        producer.join().unwrap();
        assert_eq!(seen, (0..ITEMS).collect::<Vec<_>>());
    });
}

#[test]
fn closed_then_empty_means_every_item_was_seen() {
    drain(Check::ClosedThenEmpty);
}

/// With the checks swapped, the producer's last push and its close can both land between
/// them and the last items are lost. Loom must find that interleaving; if it ever stops
/// finding it, the model has lost its teeth.
#[test]
#[should_panic(expected = "assertion `left == right` failed")]
fn empty_then_closed_can_lose_items() {
    drain(Check::EmptyThenClosed);
}
