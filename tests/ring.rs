//! `sys::ring` against a reference queue: any sequence of pushes (whole or filled in
//! place) and batched reads, on one thread, does what a bounded `VecDeque` does —
//! the same values refused, the same values read, in the same order, and the producer's
//! occupancy gauge always the queue's length.

use std::collections::VecDeque;

use proptest::prelude::*;
use tickpipe::sys::ring::ring;

#[derive(Clone, Debug)]
enum Op {
    Push(u64),
    /// Fill the slot in place: set both fields.
    Fill(u64),
    Read(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u64>().prop_map(Op::Push),
        any::<u64>().prop_map(Op::Fill),
        (0usize..10).prop_map(Op::Read),
    ]
}

proptest! {
    #[test]
    fn behaves_as_a_bounded_vecdeque(
        log2_capacity in 1u32..6,
        ops in proptest::collection::vec(op(), 0..400),
    ) {
        let capacity = 1usize << log2_capacity;
        let (mut tx, mut rx) = ring::<[u64; 2]>(capacity);
        let mut model: VecDeque<[u64; 2]> = VecDeque::new();
        for op in ops {
            match op {
                Op::Push(v) | Op::Fill(v) => {
                    let value = [v, v.wrapping_mul(3)];
                    let pushed = match op {
                        Op::Push(_) => tx.try_push(value).is_ok(),
                        _ => tx.try_push_with(|slot| *slot = value),
                    };
                    prop_assert_eq!(pushed, model.len() < capacity);
                    if pushed {
                        model.push_back(value);
                    }
                }
                Op::Read(max) => {
                    let mut got = Vec::new();
                    let n = rx.read_batch(max, |v| got.push(v));
                    let expected: Vec<_> = model.drain(..max.min(model.len())).collect();
                    prop_assert_eq!(n, expected.len());
                    prop_assert_eq!(got, expected);
                }
            }
            prop_assert_eq!(rx.is_empty(), model.is_empty());
            prop_assert_eq!(tx.occupancy(), model.len());
        }
    }
}
