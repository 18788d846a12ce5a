//! `sys::ring`: every value arrives once, in order, and is read only after it was
//! written — checked in every interleaving loom can build, across a wrap of the ring.
#![cfg(loom)]

use loom::thread;
use tickpipe_loom_tests::sys::ring::{RingConsumer, RingProducer, ring, ring_with_relaxed_publish};

const ITEMS: u64 = 3;

/// A producer that pushes ITEMS through a 2-slot ring (so the first slot is reused),
/// filling each slot in place (or, `whole`, writing each value whole), against a
/// consumer that reads until it has them all.
fn exchange(ring: (RingProducer<[u64; 2]>, RingConsumer<[u64; 2]>), whole: bool) {
    let (mut tx, mut rx) = ring;
    let producer = thread::spawn(move || {
        for i in 0..ITEMS {
            let value = [i, i * 10];
            while !(if whole {
                tx.try_push(value).is_ok()
            } else {
                tx.try_push_with(|slot| *slot = value)
            }) {
                thread::yield_now();
            }
        }
    });
    let mut seen = Vec::new();
    while (seen.len() as u64) < ITEMS {
        if rx.read_batch(2, |v| seen.push(v)) == 0 {
            thread::yield_now();
        }
    }
    producer.join().unwrap();
    assert_eq!(seen, (0..ITEMS).map(|i| [i, i * 10]).collect::<Vec<_>>());
}

#[test]
fn every_value_arrives_once_in_order() {
    loom::model(|| exchange(ring(2), false));
}

/// The same with whole values, written into the slot's uninitialised memory.
#[test]
fn every_whole_value_arrives_once_in_order() {
    loom::model(|| exchange(ring(2), true));
}

/// The negative control: with the publish weakened to Relaxed, the consumer can see a
/// slot published before the value written into it. Loom must report that race; if it
/// ever stops, the model has lost its teeth.
#[test]
#[should_panic(expected = "Causality violation")]
fn a_relaxed_publish_is_caught() {
    loom::model(|| exchange(ring_with_relaxed_publish(2), false));
}
