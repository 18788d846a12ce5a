//! The order-reference map: ITCH reference → resting order, one per shard, shared by all
//! its books (references are unique for the day across symbols).
//!
//! Open addressing with linear probing and backward-shift deletion, sized at start-up.
//! Not `FxHashMap`: hashbrown leaves a tombstone for most removals and, once tombstones
//! have used up the free slots, rehashes the whole table inside whichever insert trips
//! it. ITCH adds and removes orders at the same rate all day, so that is steady-state
//! behaviour: an `FxHashMap` pre-sized for 1M orders, holding 500k under add/remove churn,
//! had 2 inserts over 100 µs (worst 159 µs) in 20M. Backward shift leaves no tombstones,
//! so an operation's cost depends only on the load, and the table moves only if the live
//! count outgrows it.

use crate::msg::{Price, Side, SymbolId};

/// A resting displayed order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub price: Price,
    /// Shares still displayed; always > 0 while the order is in the map.
    pub shares: u32,
    pub symbol: SymbolId,
    pub side: Side,
}

/// One bucket. Empty iff `order.shares == 0`: live orders always have shares, so
/// emptiness needs no extra byte and a slot stays 24 bytes.
#[derive(Copy, Clone)]
struct Slot {
    key: u64,
    order: Order,
}

const EMPTY: Slot = Slot {
    key: 0,
    order: Order {
        price: Price::ZERO,
        shares: 0,
        symbol: SymbolId(0),
        side: Side::Buy,
    },
};

/// Fibonacci hashing: one multiply, then the top bits. ITCH references are nearly
/// sequential, which this spreads evenly across buckets.
const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

pub(super) struct OrderMap {
    /// A power of two long, at least 2.
    slots: Vec<Slot>,
    /// `64 - log2(slots.len())`: the hash's top bits index a bucket.
    shift: u32,
    len: usize,
    /// Live orders that trigger doubling: 3/4 of the buckets, where linear probing's
    /// expected probe count starts to climb steeply.
    grow_at: usize,
}

impl OrderMap {
    /// A map that holds `orders` live orders at no more than half load, so it never
    /// grows below 1.5 × `orders`.
    pub(super) fn with_capacity(orders: usize) -> OrderMap {
        Self::with_buckets((orders.max(1) * 2).next_power_of_two())
    }

    fn with_buckets(buckets: usize) -> OrderMap {
        OrderMap {
            // Writing every slot now faults the pages in at start-up, not on the hot path.
            slots: vec![EMPTY; buckets],
            shift: 64 - buckets.trailing_zeros(),
            len: 0,
            grow_at: buckets * 3 / 4,
        }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(FIBONACCI) >> self.shift) as usize
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot holding `key`, if it is live. Slot indices are valid until the next
    /// insert or removal.
    #[inline]
    pub(super) fn find(&self, key: u64) -> Option<usize> {
        let mask = self.mask();
        let mut i = self.home(key);
        // Terminates: `grow_at` keeps at least a quarter of the slots empty.
        loop {
            let slot = &self.slots[i];
            if slot.order.shares == 0 {
                return None;
            }
            if slot.key == key {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    pub(super) fn get(&self, slot: usize) -> Order {
        self.slots[slot].order
    }

    /// Sets a live order's remaining shares; zero is not allowed (use `remove_at`).
    #[inline]
    pub(super) fn set_shares(&mut self, slot: usize, shares: u32) {
        debug_assert!(shares > 0, "a zero-share order would read as an empty slot");
        self.slots[slot].order.shares = shares;
    }

    /// Inserts an order whose `key` is not live and whose shares are > 0. Returns true
    /// if the table had to grow (allocate) to take it.
    pub(super) fn insert(&mut self, key: u64, order: Order) -> bool {
        debug_assert!(order.shares > 0 && self.find(key).is_none());
        let grew = self.len + 1 > self.grow_at;
        if grew {
            self.grow();
        }
        self.place(key, order);
        self.len += 1;
        grew
    }

    fn place(&mut self, key: u64, order: Order) {
        let mask = self.mask();
        let mut i = self.home(key);
        while self.slots[i].order.shares != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot { key, order };
    }

    fn grow(&mut self) {
        let buckets = self.slots.len() * 2;
        let old = std::mem::replace(self, Self::with_buckets(buckets));
        self.len = old.len;
        for slot in old.slots.iter().filter(|s| s.order.shares != 0) {
            self.place(slot.key, slot.order);
        }
    }

    /// Removes the order in `slot` and returns it. Later entries of the same probe run
    /// shift back into the hole, so no tombstone is left.
    pub(super) fn remove_at(&mut self, slot: usize) -> Order {
        let mask = self.mask();
        let removed = self.slots[slot].order;
        let mut hole = slot;
        let mut i = (slot + 1) & mask;
        while self.slots[i].order.shares != 0 {
            let home = self.home(self.slots[i].key);
            // The entry may fill the hole iff its home is not inside (hole, i]: its probe
            // distance is at least the distance from the hole.
            if i.wrapping_sub(home) & mask >= i.wrapping_sub(hole) & mask {
                self.slots[hole] = self.slots[i];
                hole = i;
            }
            i = (i + 1) & mask;
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
        removed
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn order(shares: u32) -> Order {
        Order {
            price: Price(100),
            shares,
            symbol: SymbolId(1),
            side: Side::Sell,
        }
    }

    #[test]
    fn grows_only_past_three_quarters_of_its_buckets() {
        let mut map = OrderMap::with_capacity(4);
        assert_eq!(map.slots.len(), 8);
        let grew: Vec<bool> = (1..=7).map(|k| map.insert(k, order(1))).collect();
        assert_eq!(grew, [false, false, false, false, false, false, true]);
        assert_eq!(map.slots.len(), 16);
        assert!((1..=7).all(|k| map.find(k).is_some()));
        assert_eq!(map.len(), 7);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64, u32),
        Remove(u64),
        Set(u64, u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few keys in a small table: long probe runs that wrap around the end, so every
        // backward-shift case is exercised.
        let key = 0u64..40;
        prop_oneof![
            3 => (key.clone(), 1u32..5).prop_map(|(k, s)| Op::Insert(k, s)),
            2 => key.clone().prop_map(Op::Remove),
            1 => (key, 1u32..5).prop_map(|(k, s)| Op::Set(k, s)),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_a_hash_map(ops in proptest::collection::vec(op(), 0..300)) {
            let mut map = OrderMap::with_capacity(2);
            let mut model: HashMap<u64, u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, s) => {
                        if model.insert(k, s).is_none() {
                            map.insert(k, order(s));
                        } else {
                            let slot = map.find(k).unwrap();
                            map.set_shares(slot, s);
                        }
                    }
                    Op::Remove(k) => {
                        let removed = map.find(k).map(|slot| map.remove_at(slot).shares);
                        prop_assert_eq!(removed, model.remove(&k));
                    }
                    Op::Set(k, s) => {
                        if let Some(slot) = map.find(k) {
                            map.set_shares(slot, s);
                        }
                        if let Some(v) = model.get_mut(&k) {
                            *v = s;
                        }
                    }
                }
                prop_assert_eq!(map.len(), model.len());
                for k in 0..40 {
                    let got = map.find(k).map(|slot| map.get(slot).shares);
                    prop_assert_eq!(got, model.get(&k).copied());
                }
            }
        }
    }
}
