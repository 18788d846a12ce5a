//! Our resting orders at the simulated venue, in the order the market would trade them.
//!
//! Three walks are needed: a print or a quote fills one symbol's orders on one side best
//! price first, then oldest first (price-time priority, as the real book would); a cancel
//! finds one order by id; `CancelAll` and the end of the session visit every order in
//! `ClOrdId` order, so their reports do not depend on arrival order. A slab of slots
//! threaded into one doubly linked list per symbol and side serves the first (an insert
//! walks the list, which holds the few orders one symbol has open); an array of
//! `(ClOrdId, slot)` kept sorted serves the other two. Everything is sized at
//! construction, so no path allocates (a pipeline test counts allocations).

use crate::msg::{ClOrdId, Price, Side, SymbolId};

/// An order as the venue knows it: what its reports say about it.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(super) struct Order {
    pub id: ClOrdId,
    /// Limit price.
    pub price: Price,
    /// Shares still open.
    pub leaves: u32,
    pub symbol: SymbolId,
    pub side: Side,
    /// `ts_recv` of the `New` that created it; every report about the order carries it,
    /// so the pipeline can measure tick-to-fill.
    pub ts_recv: u64,
}

/// Whether an order on `side` limited at `limit` may trade at `px`.
#[inline]
pub(super) fn crosses(side: Side, limit: Price, px: Price) -> bool {
    match side {
        Side::Buy => px <= limit,
        Side::Sell => px >= limit,
    }
}

/// Whether `a` has strictly better price priority than `b` on `side`.
#[inline]
fn outranks(side: Side, a: Price, b: Price) -> bool {
    match side {
        Side::Buy => a > b,
        Side::Sell => a < b,
    }
}

#[inline]
fn side_index(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// End of a list.
const NIL: u32 = u32::MAX;

#[derive(Copy, Clone)]
struct Slot {
    order: Order,
    prev: u32,
    next: u32,
}

const VACANT: Slot = Slot {
    order: Order {
        id: ClOrdId(0),
        price: Price::ZERO,
        leaves: 0,
        symbol: SymbolId(0),
        side: Side::Buy,
        ts_recv: 0,
    },
    prev: NIL,
    next: NIL,
};

/// Resting orders; every one has `leaves > 0`.
pub(super) struct Book {
    slots: Vec<Slot>,
    /// Slots not holding an order.
    free: Vec<u32>,
    /// `(id, slot)` of every resting order, sorted by id.
    by_id: Vec<(ClOrdId, u32)>,
    /// Per symbol, the first slot of its buys and of its sells, best first.
    heads: Vec<[u32; 2]>,
}

impl Book {
    /// Room for `capacity` resting orders across `universe_len` symbols.
    pub fn new(universe_len: usize, capacity: usize) -> Book {
        assert!(
            capacity < NIL as usize,
            "simulated venue: capacity {capacity} does not fit a slot index"
        );
        let mut book = Book {
            slots: vec![VACANT; capacity],
            free: Vec::with_capacity(capacity),
            by_id: Vec::with_capacity(capacity),
            heads: vec![[NIL; 2]; universe_len],
        };
        book.clear();
        book
    }

    /// Rests `order` behind every order of its symbol and side with a price at least as
    /// good: arrivals are handled in time order, so that is price-time priority.
    ///
    /// # Panics
    /// If `capacity` orders already rest. Risk limits the shard's open orders, and every
    /// resting order is open in risk's eyes, so the venue sized to that limit cannot fill
    /// up; if it does, the sizing is wrong, and stopping beats inventing a rejection.
    pub fn insert(&mut self, order: Order) {
        let Some(slot) = self.free.pop() else {
            panic!(
                "simulated venue: more than {} resting orders; its capacity must cover the \
                 shard's open-order limit",
                self.slots.len()
            );
        };
        let Err(at) = self.position(order.id) else {
            unreachable!("duplicate ids are rejected before they rest");
        };
        self.by_id.insert(at, (order.id, slot));

        let head = &mut self.heads[order.symbol.index()][side_index(order.side)];
        let (mut prev, mut next) = (NIL, *head);
        while next != NIL
            && !outranks(
                order.side,
                order.price,
                self.slots[next as usize].order.price,
            )
        {
            prev = next;
            next = self.slots[next as usize].next;
        }
        self.slots[slot as usize] = Slot { order, prev, next };
        if prev == NIL {
            *head = slot;
        } else {
            self.slots[prev as usize].next = slot;
        }
        if next != NIL {
            self.slots[next as usize].prev = slot;
        }
    }

    /// Takes the resting order `id` off the book.
    pub fn remove(&mut self, id: ClOrdId) -> Option<Order> {
        let at = self.position(id).ok()?;
        let (_, slot) = self.by_id.remove(at);
        let order = self.slots[slot as usize].order;
        self.unlink(slot);
        Some(order)
    }

    /// Fills `symbol`'s resting orders on `side` that may trade at `px`, in priority
    /// order, `budget` shares at most. `on_fill` sees each order with its leaves after the
    /// fill and the shares filled; orders left with nothing are removed. Returns the
    /// shares filled.
    pub fn sweep(
        &mut self,
        symbol: SymbolId,
        side: Side,
        px: Price,
        budget: u32,
        mut on_fill: impl FnMut(&Order, u32),
    ) -> u32 {
        let mut filled = 0;
        let mut cur = self.heads[symbol.index()][side_index(side)];
        while cur != NIL && filled < budget {
            let slot = &mut self.slots[cur as usize];
            // Sorted best first: once one order cannot trade, none behind it can.
            if !crosses(side, slot.order.price, px) {
                break;
            }
            let qty = slot.order.leaves.min(budget - filled);
            slot.order.leaves -= qty;
            filled += qty;
            let next = slot.next;
            on_fill(&slot.order, qty);
            if slot.order.leaves == 0 {
                let id = slot.order.id;
                let at = self
                    .position(id)
                    .expect("every resting order is indexed by id");
                self.by_id.remove(at);
                self.unlink(cur);
            }
            cur = next;
        }
        filled
    }

    /// Hands every resting order to `f` in `ClOrdId` order, then empties the book.
    pub fn drain(&mut self, mut f: impl FnMut(&Order)) {
        for &(_, slot) in &self.by_id {
            f(&self.slots[slot as usize].order);
        }
        self.clear();
    }

    /// Where `id` is, or would go, in `by_id`.
    fn position(&self, id: ClOrdId) -> Result<usize, usize> {
        self.by_id.binary_search_by_key(&id, |&(id, _)| id)
    }

    fn clear(&mut self) {
        self.by_id.clear();
        self.heads.fill([NIL; 2]);
        self.free.clear();
        self.free.extend(0..self.slots.len() as u32);
    }

    /// Takes `slot` out of its priority list and frees it; `by_id` is the caller's.
    fn unlink(&mut self, slot: u32) {
        let Slot { order, prev, next } = self.slots[slot as usize];
        if prev == NIL {
            self.heads[order.symbol.index()][side_index(order.side)] = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        }
        self.slots[slot as usize] = VACANT;
        self.free.push(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(seq: u64, side: Side, cents: i64, leaves: u32) -> Order {
        Order {
            id: ClOrdId::new(SymbolId(0), seq),
            price: Price(cents * 100),
            leaves,
            symbol: SymbolId(0),
            side,
            ts_recv: seq,
        }
    }

    /// (seq, leaves after, qty) of each fill of a sweep.
    fn sweep(book: &mut Book, side: Side, cents: i64, budget: u32) -> Vec<(u64, u32, u32)> {
        let mut fills = Vec::new();
        book.sweep(SymbolId(0), side, Price(cents * 100), budget, |o, q| {
            fills.push((o.id.seq(), o.leaves, q))
        });
        fills
    }

    #[test]
    fn book_sweeps_in_price_then_arrival_order() {
        let mut book = Book::new(1, 8);
        book.insert(order(1, Side::Buy, 100, 10));
        book.insert(order(2, Side::Buy, 101, 10));
        book.insert(order(3, Side::Buy, 100, 10));
        book.insert(order(4, Side::Buy, 99, 10));
        book.insert(order(5, Side::Sell, 90, 10));
        // 99 is below the print at 100: it does not trade; the sell is the other side.
        assert_eq!(
            sweep(&mut book, Side::Buy, 100, 100),
            [(2, 0, 10), (1, 0, 10), (3, 0, 10)]
        );
        assert_eq!(sweep(&mut book, Side::Buy, 99, 4), [(4, 6, 4)]);
        assert_eq!(sweep(&mut book, Side::Sell, 95, 100), [(5, 0, 10)]);
    }

    #[test]
    fn book_removes_and_drains_by_id() {
        let mut book = Book::new(2, 4);
        let mut other = order(1, Side::Sell, 100, 5);
        other.symbol = SymbolId(1);
        other.id = ClOrdId::new(SymbolId(1), 1);
        book.insert(other);
        book.insert(order(7, Side::Buy, 100, 5));
        book.insert(order(3, Side::Buy, 101, 5));
        assert_eq!(book.remove(ClOrdId::new(SymbolId(0), 3)).unwrap().leaves, 5);
        assert!(book.remove(ClOrdId::new(SymbolId(0), 3)).is_none());
        assert_eq!(sweep(&mut book, Side::Buy, 100, 2), [(7, 3, 2)]);

        let mut drained = Vec::new();
        book.drain(|o| drained.push(o.id));
        assert_eq!(
            drained,
            [ClOrdId::new(SymbolId(0), 7), ClOrdId::new(SymbolId(1), 1)]
        );
        assert!(sweep(&mut book, Side::Buy, 0, 100).is_empty());
        // Every slot is free again.
        for seq in 10..14 {
            book.insert(order(seq, Side::Buy, 100, 1));
        }
    }

    #[test]
    #[should_panic(expected = "more than 1 resting orders")]
    fn book_refuses_to_grow() {
        let mut book = Book::new(1, 1);
        book.insert(order(1, Side::Buy, 100, 1));
        book.insert(order(2, Side::Buy, 100, 1));
    }
}
