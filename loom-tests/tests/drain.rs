//! The drain protocol: a consumer that stops once the producer has closed *and* the
//! ring is empty has seen every item — checked in every interleaving loom can build.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use tickpipe_loom_tests::spsc;
use tickpipe_loom_tests::sys::CloseFlag;

const ITEMS: u64 = 3;

/// The producer pushes ITEMS (waiting while full), then closes.
fn producer(tx: spsc::Producer, close: Arc<CloseFlag>) {
    for i in 0..ITEMS {
        let mut v = i;
        while let Err(back) = tx.push(v) {
            v = back;
            thread::yield_now();
        }
    }
    close.close();
}

#[test]
fn closed_then_empty_means_every_item_was_seen() {
    loom::model(|| {
        let (tx, rx) = spsc::ring(2);
        let close = Arc::new(CloseFlag::new());
        let p = {
            let close = Arc::clone(&close);
            thread::spawn(move || producer(tx, close))
        };
        let mut seen = Vec::new();
        loop {
            if let Some(v) = rx.pop() {
                seen.push(v);
                continue;
            }
            // The protocol (runtime::edge::EdgeIn::is_finished): flag first, then emptiness.
            if close.is_closed() && rx.is_empty() {
                break;
            }
            thread::yield_now();
        }
        p.join().unwrap();
        assert_eq!(seen, (0..ITEMS).collect::<Vec<_>>());
    });
}

/// The same loop with the two checks swapped loses the last items when the producer's
/// final push and its close both land between them. Loom must find that interleaving;
/// if it ever stops finding it, the model has lost its teeth.
#[test]
#[should_panic(expected = "assertion `left == right` failed")]
fn empty_then_closed_can_lose_items() {
    loom::model(|| {
        let (tx, rx) = spsc::ring(2);
        let close = Arc::new(CloseFlag::new());
        let p = {
            let close = Arc::clone(&close);
            thread::spawn(move || producer(tx, close))
        };
        let mut seen = Vec::new();
        loop {
            if let Some(v) = rx.pop() {
                seen.push(v);
                continue;
            }
            let empty = rx.is_empty();
            if empty && close.is_closed() {
                break;
            }
            thread::yield_now();
        }
        p.join().unwrap();
        assert_eq!(seen, (0..ITEMS).collect::<Vec<_>>());
    });
}
