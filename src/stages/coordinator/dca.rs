//! Scheduled orders (DCA/TWAP): a parent order sliced into equal child orders, one every
//! `interval_ns` from `start_ns` (event time: nanoseconds since midnight).
//!
//! A slice is due from its time on; it is sent at the symbol's first decision after
//! that with no order live (risk works one order per symbol at a time) and a level
//! that allows schedules, priced at the near touch moved `limit_offset` toward the far
//! side (0 joins the touch). It passes every pre-trade check like any order: sent, or
//! refused with the check's code, and either way it is done — a refused slice is not
//! retried, so no slice is ever sent twice.
//!
//! Once sent, the slice's quantity joins the symbol's target ([`Schedules::offset`]):
//! the strategy neither unwinds the slice's fills nor trades them a second time, and
//! works what the slice did not fill (a TTL cancel) toward the same target.

use serde::Deserialize;

use super::consensus::PerSymbol;
use crate::config::Problems;
use crate::msg::{ClOrdId, MarketView, Price, Side, SymbolId};
use crate::stages::reject::RejectCode;
use crate::universe::Universe;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SideName {
    Buy,
    Sell,
}

/// One `[[schedule]]` entry.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub symbol: String,
    pub side: SideName,
    pub quantity: u32,
    pub slices: u16,
    pub start_ns: u64,
    pub interval_ns: u64,
    pub limit_offset: Price,
}

/// Nanoseconds in a day: event time counts from midnight.
pub const DAY_NS: u64 = 86_400_000_000_000;

impl ScheduleConfig {
    /// The largest slice's shares (the first slices take the remainder); `None` without
    /// slices.
    pub fn largest_slice(&self) -> Option<u32> {
        (self.slices >= 1).then(|| self.quantity.div_ceil(u32::from(self.slices)))
    }

    /// The parent order, or `None` after reporting each bad value under `p`.
    pub fn validate(
        &self,
        universe: Option<&Universe>,
        p: &mut Problems<'_>,
    ) -> Option<ParentOrder> {
        let symbol = universe.and_then(|u| u.id_of(&self.symbol));
        if universe.is_some() && symbol.is_none() {
            p.add(
                "symbol",
                format!("{} is not in symbols.tickers", self.symbol),
            );
        }
        p.check(self.slices >= 1, "slices", "must be at least 1");
        p.check(
            self.quantity >= u32::from(self.slices),
            "quantity",
            format!(
                "{} is fewer shares than slices ({})",
                self.quantity, self.slices
            ),
        );
        p.check(self.interval_ns >= 1, "interval_ns", "must be at least 1");
        let last = u64::from(self.slices.saturating_sub(1)).checked_mul(self.interval_ns);
        p.check(
            self.start_ns < DAY_NS && last.and_then(|l| l.checked_add(self.start_ns)).is_some_and(|t| t < DAY_NS),
            "start_ns",
            "the last slice falls at or after midnight (start_ns + (slices − 1) × interval_ns ≥ 24 h)",
        );
        p.check(
            self.limit_offset.0 >= 0,
            "limit_offset",
            "must be ≥ 0 (toward the far side)",
        );
        let parent = ParentOrder {
            symbol: symbol?,
            side: match self.side {
                SideName::Buy => Side::Buy,
                SideName::Sell => Side::Sell,
            },
            quantity: self.quantity,
            slices: self.slices,
            start_ns: self.start_ns,
            interval_ns: self.interval_ns,
            limit_offset: self.limit_offset,
        };
        parent.is_valid().then_some(parent)
    }
}

/// A parent order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ParentOrder {
    pub symbol: SymbolId,
    pub side: Side,
    pub quantity: u32,
    pub slices: u16,
    pub start_ns: u64,
    pub interval_ns: u64,
    pub limit_offset: Price,
}

impl ParentOrder {
    /// What [`ScheduleConfig::validate`] checks, for one from an operator or a journal.
    pub fn is_valid(&self) -> bool {
        self.slices >= 1
            && self.quantity >= u32::from(self.slices)
            && self.interval_ns >= 1
            && self.limit_offset.0 >= 0
            && u64::from(self.slices - 1)
                .checked_mul(self.interval_ns)
                .and_then(|l| l.checked_add(self.start_ns))
                .is_some_and(|t| t < DAY_NS)
    }

    /// Slice `i`'s shares: the quantity split evenly, the remainder one each to the
    /// first slices.
    pub fn slice_qty(&self, i: u16) -> u32 {
        let n = u32::from(self.slices);
        self.quantity / n + u32::from(u32::from(i) < self.quantity % n)
    }

    pub fn due_at(&self, i: u16) -> u64 {
        self.start_ns + u64::from(i) * self.interval_ns
    }

    /// The slice's limit: the near touch moved `limit_offset` toward the far side;
    /// `None` while that touch is empty.
    pub fn limit(&self, view: &MarketView) -> Option<Price> {
        match self.side {
            Side::Buy => (view.bid_qty > 0).then(|| Price(view.bid_px.0 + self.limit_offset.0)),
            Side::Sell => (view.ask_qty > 0).then(|| Price(view.ask_px.0 - self.limit_offset.0)),
        }
    }
}

/// What became of a slice.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SliceFate {
    Sent(ClOrdId),
    Refused(RejectCode),
}

/// A slice ready to send now.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DueSlice {
    pub parent: u16,
    pub slice: u16,
    pub side: Side,
    pub price: Price,
    pub qty: u32,
}

#[derive(Clone, Debug)]
struct Progress {
    order: ParentOrder,
    /// The next slice to send; `slices` when done.
    next: u16,
}

/// Every parent order of a shard, in the order they were added (config first).
#[derive(Clone, Debug)]
pub struct Schedules {
    parents: Vec<Progress>,
    /// Signed shares of the slices sent, per symbol: added to its target.
    offsets: PerSymbol<i64>,
    /// Client order ids of slices sent and not yet done, so sizing leaves them alone.
    live: Vec<ClOrdId>,
    pub sent: u64,
    pub refused: u64,
}

impl Schedules {
    pub fn new(symbols: usize) -> Schedules {
        Schedules {
            parents: Vec::new(),
            offsets: PerSymbol::new(symbols, 0),
            // At most one slice per symbol is live (one order per symbol at a time), so
            // sending one never allocates.
            live: Vec::with_capacity(symbols),
            sent: 0,
            refused: 0,
        }
    }

    /// Adds a parent; returns its number.
    pub fn add(&mut self, order: ParentOrder) -> u16 {
        self.parents.push(Progress { order, next: 0 });
        (self.parents.len() - 1) as u16
    }

    /// The first slice of `symbol` due at `now`, priced from `view`.
    pub fn due(&self, symbol: SymbolId, now: u64, view: &MarketView) -> Option<DueSlice> {
        self.parents.iter().enumerate().find_map(|(i, p)| {
            let o = &p.order;
            if o.symbol != symbol || p.next >= o.slices || o.due_at(p.next) > now {
                return None;
            }
            Some(DueSlice {
                parent: i as u16,
                slice: p.next,
                side: o.side,
                price: o.limit(view)?,
                qty: o.slice_qty(p.next),
            })
        })
    }

    /// Records `slice`'s fate; it is never due again.
    pub fn settle(&mut self, slice: &DueSlice, symbol: SymbolId, fate: SliceFate) {
        let p = &mut self.parents[usize::from(slice.parent)];
        debug_assert_eq!(p.next, slice.slice);
        p.next += 1;
        match fate {
            SliceFate::Sent(id) => {
                *self.offsets.get_mut(symbol) += i64::from(slice.qty) * slice.side.sign();
                self.live.push(id);
                self.sent += 1;
            }
            SliceFate::Refused(_) => self.refused += 1,
        }
    }

    pub fn offset(&self, symbol: SymbolId) -> i64 {
        *self.offsets.get(symbol)
    }

    pub fn is_slice(&self, id: ClOrdId) -> bool {
        self.live.contains(&id)
    }

    /// `id` is no longer live.
    pub fn closed(&mut self, id: ClOrdId) {
        self.live.retain(|&l| l != id);
    }

    /// Slices not yet settled, over every parent.
    pub fn remaining(&self) -> u64 {
        self.parents
            .iter()
            .map(|p| u64::from(p.order.slices - p.next))
            .sum()
    }

    /// The earliest time a remaining slice is due.
    pub fn next_due(&self) -> Option<u64> {
        self.parents
            .iter()
            .filter(|p| p.next < p.order.slices)
            .map(|p| p.order.due_at(p.next))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{Stamp, TradingStatus, ViewCause};

    const PARENT: ParentOrder = ParentOrder {
        symbol: SymbolId(1),
        side: Side::Buy,
        quantity: 10,
        slices: 3,
        start_ns: 1_000,
        interval_ns: 100,
        limit_offset: Price(100),
    };

    fn view() -> MarketView {
        MarketView {
            stamp: Stamp::default(),
            bid_px: Price(1_000_000),
            ask_px: Price(1_000_500),
            print_px: Price::ZERO,
            bid_qty: 100,
            ask_qty: 100,
            print_qty: 0,
            symbol: SymbolId(1),
            cause: ViewCause::Quote,
            status: TradingStatus::Trading,
            match_number: 0,
        }
    }

    #[test]
    fn a_parent_is_sliced_evenly_in_time_and_each_slice_settles_once() {
        assert_eq!(
            (0..3).map(|i| PARENT.slice_qty(i)).collect::<Vec<_>>(),
            [4, 3, 3]
        );
        let mut s = Schedules::new(2);
        s.add(PARENT);
        assert_eq!(s.due(SymbolId(1), 999, &view()), None, "before its start");
        assert_eq!(s.due(SymbolId(0), 5_000, &view()), None, "another symbol's");
        let first = s.due(SymbolId(1), 1_000, &view()).unwrap();
        assert_eq!(
            (first.slice, first.qty, first.price),
            (0, 4, Price(1_000_100))
        );
        let id = ClOrdId::new(SymbolId(1), 1);
        s.settle(&first, SymbolId(1), SliceFate::Sent(id));
        assert!(s.is_slice(id));
        assert_eq!(s.offset(SymbolId(1)), 4);
        assert_eq!(
            s.due(SymbolId(1), 1_099, &view()),
            None,
            "slice 1 is due at 1100"
        );
        let second = s.due(SymbolId(1), 1_250, &view()).unwrap();
        assert_eq!(second.slice, 1);
        s.settle(
            &second,
            SymbolId(1),
            SliceFate::Refused(RejectCode::MaxPosition),
        );
        assert_eq!(s.offset(SymbolId(1)), 4, "a refused slice adds nothing");
        assert_eq!(s.remaining(), 1);
        assert_eq!(s.next_due(), Some(1_200));
        s.closed(id);
        assert!(!s.is_slice(id));
    }

    #[test]
    fn a_slice_waits_for_its_touch() {
        let mut s = Schedules::new(2);
        s.add(PARENT);
        let mut empty = view();
        empty.bid_qty = 0;
        assert_eq!(s.due(SymbolId(1), 2_000, &empty), None);
    }
}
