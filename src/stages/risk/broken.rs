//! Broken trades (ITCH `B`): the fills our orders made against prints, by match number,
//! so a print the exchange breaks later takes our fill with it.
//!
//! The simulated venue copies a print's match number onto every fill it makes against
//! that print ([`ExecReport::match_number`]); risk records each such fill here. A `B`
//! reaches risk as a view with cause `BrokenTrade` naming the match number, and every
//! fill recorded under it is handed back to be reversed, once. Fills against the quote
//! (match number 0) and a live broker's fills carry no match number: the feed's `B`
//! cannot undo them (a broker busts its own executions).
//!
//! The table is a ring of `broken_trade_fills` slots per symbol, allocated at
//! construction: recording never allocates. When it is full the oldest fill is
//! forgotten, and counted, so a `B` that comes more than that many print fills after its
//! own is missed visibly, never silently.

use crate::msg::{ClOrdId, ExecReport, Price, Side};

/// One fill of ours against a print.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PrintFill {
    pub match_number: u64,
    pub id: ClOrdId,
    pub price: Price,
    pub qty: u32,
    pub side: Side,
}

// A slot is 32 bytes, `Side` holding the `None`: `broken_trade_fills`' bound is in them.
const _: () = assert!(std::mem::size_of::<Option<PrintFill>>() == 32);

impl PrintFill {
    /// The print fill a report books, if it is one: a `Fill` naming a match number.
    pub fn of(report: &ExecReport, side: Side, price: Price, qty: u32) -> Option<PrintFill> {
        (report.match_number != 0).then_some(PrintFill {
            match_number: report.match_number,
            id: report.cl_ord_id,
            price,
            qty,
            side,
        })
    }
}

/// One symbol's print fills, newest overwriting oldest.
#[derive(Debug)]
pub struct PrintFills {
    slots: Box<[Option<PrintFill>]>,
    next: usize,
}

impl PrintFills {
    pub fn new(capacity: usize) -> PrintFills {
        assert!(capacity > 0, "broken trades: the table needs a slot");
        PrintFills {
            slots: vec![None; capacity].into_boxed_slice(),
            next: 0,
        }
    }

    /// Records `fill`; true when it overwrote a fill not yet reversed (forgotten).
    #[inline]
    pub fn record(&mut self, fill: PrintFill) -> bool {
        let forgotten = self.slots[self.next].replace(fill).is_some();
        self.next = (self.next + 1) % self.slots.len();
        forgotten
    }

    /// Removes every fill recorded under `match_number`, oldest first, handing each to
    /// `reverse`; returns how many. A `B` is rare, so a scan of the ring is enough.
    pub fn take(&mut self, match_number: u64, mut reverse: impl FnMut(PrintFill)) -> u32 {
        if match_number == 0 {
            return 0;
        }
        let len = self.slots.len();
        let mut taken = 0;
        for k in 0..len {
            let slot = &mut self.slots[(self.next + k) % len];
            if let Some(fill) = slot.filter(|f| f.match_number == match_number) {
                *slot = None;
                reverse(fill);
                taken += 1;
            }
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::SymbolId;

    fn fill(match_number: u64, seq: u64) -> PrintFill {
        PrintFill {
            match_number,
            id: ClOrdId::new(SymbolId(0), seq),
            price: Price(1_000_000),
            qty: 100,
            side: Side::Sell,
        }
    }

    #[test]
    fn takes_every_fill_of_the_match_once_oldest_first() {
        let mut fills = PrintFills::new(4);
        assert!(!fills.record(fill(7, 1)));
        assert!(!fills.record(fill(8, 2)));
        assert!(!fills.record(fill(7, 3)));
        let mut seen = Vec::new();
        assert_eq!(fills.take(7, |f| seen.push(f.id)), 2);
        assert_eq!(
            seen,
            [ClOrdId::new(SymbolId(0), 1), ClOrdId::new(SymbolId(0), 3)]
        );
        assert_eq!(fills.take(7, |_| panic!("reversed twice")), 0);
        assert_eq!(fills.take(9, |_| panic!("not ours")), 0);
        assert_eq!(fills.take(0, |_| panic!("0 names no print")), 0);
        assert_eq!(fills.take(8, |_| {}), 1);
    }

    #[test]
    fn a_full_ring_forgets_its_oldest_fill_and_says_so() {
        let mut fills = PrintFills::new(2);
        assert!(!fills.record(fill(1, 1)));
        assert!(!fills.record(fill(2, 2)));
        assert!(fills.record(fill(3, 3)));
        assert_eq!(fills.take(1, |_| {}), 0);
        assert_eq!(fills.take(2, |_| {}), 1);
        // A reversed slot is free: overwriting it forgets nothing.
        assert!(!fills.record(fill(4, 4)));
    }
}
