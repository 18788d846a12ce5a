//! The decision digest: a per-symbol FNV-1a 64 hash over every order sent, every cancel
//! sent, every fill applied and every fill reversed by a broken trade, in order.
//!
//! Two runs made the same decisions if and only if (barring collisions) their digests
//! match, whatever the topology or shard count: ids, prices and event times are all
//! per-symbol and deterministic, and the hash never sees `ts_recv`. FNV-1a is fixed by
//! its spec, so digests compare across builds and releases; every field is hashed as
//! little-endian bytes so they compare across hosts too. The state is just the running
//! hash, which keeps it `Copy` and lets a hasher resume from it.

use std::hash::Hasher;

use fnv::FnvHasher;

use crate::msg::{ClOrdId, OrderIntent, Price, SymbolId, TimeInForce};

/// The running hash of one symbol's decisions.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Digest(u64);

impl Default for Digest {
    fn default() -> Digest {
        Digest(FnvHasher::default().finish())
    }
}

/// Record tags, so a `New` can never hash like a `Cancel` followed by something else.
const NEW: u8 = b'N';
const CANCEL: u8 = b'C';
const FILL: u8 = b'F';
const BROKEN: u8 = b'B';

impl Digest {
    #[inline]
    pub fn value(self) -> u64 {
        self.0
    }

    #[inline]
    pub fn new_order(&mut self, order: &OrderIntent, ts_event: u64) {
        let tif = match order.tif {
            TimeInForce::Day => b'D',
            TimeInForce::Ioc => b'I',
        };
        self.update(|h| {
            h.write_u8(NEW);
            h.write(&order.cl_ord_id.0.to_le_bytes());
            h.write_u8(order.side as u8);
            h.write(&order.price.0.to_le_bytes());
            h.write(&order.qty.to_le_bytes());
            h.write_u8(tif);
            h.write(&ts_event.to_le_bytes());
        });
    }

    #[inline]
    pub fn cancel(&mut self, id: ClOrdId, ts_event: u64) {
        self.update(|h| {
            h.write_u8(CANCEL);
            h.write(&id.0.to_le_bytes());
            h.write(&ts_event.to_le_bytes());
        });
    }

    #[inline]
    pub fn fill(&mut self, id: ClOrdId, price: Price, qty: u32, ts_event: u64) {
        self.update(|h| {
            h.write_u8(FILL);
            h.write(&id.0.to_le_bytes());
            h.write(&price.0.to_le_bytes());
            h.write(&qty.to_le_bytes());
            h.write(&ts_event.to_le_bytes());
        });
    }

    /// A fill reversed because the exchange broke its print (ITCH `B`) at `ts_event`.
    pub fn broken(&mut self, id: ClOrdId, price: Price, qty: u32, ts_event: u64) {
        self.update(|h| {
            h.write_u8(BROKEN);
            h.write(&id.0.to_le_bytes());
            h.write(&price.0.to_le_bytes());
            h.write(&qty.to_le_bytes());
            h.write(&ts_event.to_le_bytes());
        });
    }

    #[inline]
    fn update(&mut self, f: impl FnOnce(&mut FnvHasher)) {
        let mut h = FnvHasher::with_key(self.0);
        f(&mut h);
        self.0 = h.finish();
    }
}

/// Combines per-symbol digests, in `SymbolId` order, into one run digest.
pub fn combine(per_symbol: impl IntoIterator<Item = (SymbolId, u64)>) -> u64 {
    let mut h = FnvHasher::default();
    for (symbol, digest) in per_symbol {
        h.write(&symbol.0.to_le_bytes());
        h.write(&digest.to_le_bytes());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Side;

    fn order(seq: u64) -> OrderIntent {
        OrderIntent {
            cl_ord_id: ClOrdId::new(SymbolId(1), seq),
            price: Price(1_234_500),
            qty: 100,
            symbol: SymbolId(1),
            side: Side::Buy,
            tif: TimeInForce::Day,
        }
    }

    #[test]
    fn empty_digest_is_the_fnv_offset_basis() {
        assert_eq!(Digest::default().value(), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn known_sequence_has_a_pinned_value() {
        // Pinned: a change here means every recorded replay digest changes with it.
        let mut d = Digest::default();
        d.new_order(&order(1), 10);
        d.fill(order(1).cl_ord_id, Price(1_234_500), 40, 20);
        d.cancel(order(1).cl_ord_id, 30);
        let mut h = FnvHasher::default();
        h.write(&[NEW]);
        h.write(&ClOrdId::new(SymbolId(1), 1).0.to_le_bytes());
        h.write(b"B");
        h.write(&1_234_500i64.to_le_bytes());
        h.write(&100u32.to_le_bytes());
        h.write(b"D");
        h.write(&10u64.to_le_bytes());
        h.write(&[FILL]);
        h.write(&ClOrdId::new(SymbolId(1), 1).0.to_le_bytes());
        h.write(&1_234_500i64.to_le_bytes());
        h.write(&40u32.to_le_bytes());
        h.write(&20u64.to_le_bytes());
        h.write(&[CANCEL]);
        h.write(&ClOrdId::new(SymbolId(1), 1).0.to_le_bytes());
        h.write(&30u64.to_le_bytes());
        assert_eq!(d.value(), h.finish());
        assert_eq!(d.value(), 0x5ff2_5049_17c0_04d8);
    }

    #[test]
    fn order_and_content_matter() {
        let mut a = Digest::default();
        a.new_order(&order(1), 10);
        a.cancel(order(1).cl_ord_id, 11);
        let mut b = Digest::default();
        b.cancel(order(1).cl_ord_id, 11);
        b.new_order(&order(1), 10);
        assert_ne!(a, b);
        let mut c = Digest::default();
        c.new_order(&order(1), 10);
        c.cancel(order(1).cl_ord_id, 12);
        assert_ne!(a, c);
    }

    #[test]
    fn combine_is_ordered_by_symbol() {
        let x = combine([(SymbolId(0), 1), (SymbolId(1), 2)]);
        assert_eq!(x, combine([(SymbolId(0), 1), (SymbolId(1), 2)]));
        assert_ne!(x, combine([(SymbolId(1), 2), (SymbolId(0), 1)]));
    }
}
