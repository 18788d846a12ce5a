//! Stage 2, features: per-symbol order books and the model's inputs.
//!
//! Each event is applied to its symbol's book ([`book`]); a [`Features`] is emitted only
//! when what downstream sees changed — the top of book, a print, or the trading state —
//! so deep-book churn costs no ring hop (on the synthetic 8-symbol stream used to time
//! the stage, one event in twenty emitted).

pub mod book;
mod signals;

use std::sync::Arc;

use serde::Deserialize;

use crate::config::Problems;
use crate::merge::Merge;
use crate::msg::{
    Features, MarketEvent, MarketUpdate, MarketView, Price, Side, SymbolId, TradingStatus,
    ViewCause,
};
use crate::stages::ShardReport;
use crate::stages::Stage;
use crate::sys::edge::Emit;
use crate::universe::Universe;
use book::{BookSet, BookStats, Capacity, Execution, Top};
use signals::{Alphas, Signals};

/// `[features]` in `config/tickpipe.toml`. Every key is required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {
    /// Live orders the shard's order map is sized for, at half load; it grows (an
    /// allocation, counted) only past 1.5 × this. > 0.
    pub max_orders: usize,
    /// Price levels per side per symbol held without growing; > 0.
    pub max_levels: usize,
    /// EWMA weight of the newest squared mid return; in (0, 1].
    pub volatility_alpha: f64,
    /// EWMA weight of the newest trade in the trade flow; in (0, 1].
    pub trade_flow_alpha: f64,
}

/// Largest `max_orders`. The order map is allocated up front at two 24-byte buckets an
/// order (48 bytes), so this is 768 MiB a shard; a full NASDAQ day peaks at a few hundred
/// thousand live orders per shard, and past the bound the map still grows (counted).
pub const MAX_ORDERS: usize = 1 << 24;
/// Largest `max_levels`. Each symbol's two sides are allocated up front at 24 bytes a
/// level, 768 KiB a symbol at the bound: a side 16384 levels deep spans $163.84 at a
/// cent tick, far beyond any real book's active depth, and past it a side still grows.
pub const MAX_LEVELS: usize = 1 << 14;
/// Bytes of ladder storage one level costs, both sides together.
pub const LEVEL_BYTES: usize = 2 * 24;

impl FeaturesConfig {
    pub fn validate(&self, p: &mut Problems<'_>) {
        p.check(
            (1..=MAX_ORDERS).contains(&self.max_orders),
            "max_orders",
            format!(
                "{}: use 1 to {MAX_ORDERS} (the order map is allocated up front: 48 bytes \
                 an order, {} MiB at the bound)",
                self.max_orders,
                (MAX_ORDERS * 48) >> 20
            ),
        );
        p.check(
            (1..=MAX_LEVELS).contains(&self.max_levels),
            "max_levels",
            format!(
                "{}: use 1 to {MAX_LEVELS} (each symbol's two sides are allocated up front: \
                 {LEVEL_BYTES} bytes a level, {} KiB a symbol at the bound)",
                self.max_levels,
                (MAX_LEVELS * LEVEL_BYTES) >> 10
            ),
        );
        for (key, alpha) in [
            ("volatility_alpha", self.volatility_alpha),
            ("trade_flow_alpha", self.trade_flow_alpha),
        ] {
            // Also false for NaN and both infinities.
            let in_range = alpha > 0.0 && alpha <= 1.0;
            p.check(in_range, key, format!("must be in (0, 1]; got {alpha}"));
        }
    }
}

crate::stats! {
    /// Features counters. Serialized, they are the report's `book` section but for its
    /// `final` books, which the report names by ticker.
    #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
    pub struct FeatureStats {
        /// Market events received.
        pub events: u64,
        /// [`Features`] emitted.
        pub views: u64,
        /// Events for symbols this shard does not own; skipped.
        #[serde(skip)]
        pub not_owned: u64,
        /// Book errors by kind, crossed/locked transitions, capacity growths.
        #[serde(flatten)]
        pub book: BookStats,
        /// Each owned symbol's book when the stage reported, indexed by `SymbolId`; `None`
        /// for symbols another shard owns. What a live run and a replay of the same session
        /// must agree on.
        #[serde(skip)]
        pub books: Vec<Option<FinalBook>> => crate::merge::place,
    }
}

/// A book as the run left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FinalBook {
    #[serde(flatten)]
    pub top: Top,
    /// The state risk last saw: `FeedStale` once the feed lost data.
    #[serde(serialize_with = "status_char")]
    pub status: TradingStatus,
}

/// A status as its one-character code (`T`, `H`, …), as the report shows it.
fn status_char<S: serde::Serializer>(status: &TradingStatus, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&status.as_char())
}

/// A print in one event.
#[derive(Copy, Clone)]
struct Print {
    price: Price,
    qty: u32,
    /// `BidHit`, `AskLifted` or `Cross`.
    cause: ViewCause,
    /// The exchange's match number for it.
    match_number: u64,
}

fn resting(side: Side) -> ViewCause {
    match side {
        Side::Buy => ViewCause::BidHit,
        Side::Sell => ViewCause::AskLifted,
    }
}

/// What `update` printed, if anything: `E` and printable `C` at their execution price,
/// `P` and `Q` at theirs. A print of zero shares is no print.
fn print_of(update: &MarketUpdate, execution: Option<Execution>) -> Option<Print> {
    let (price, qty, cause, match_number) = match *update {
        MarketUpdate::Trade {
            price,
            shares,
            match_number,
        } => (price, shares, ViewCause::Hidden, match_number),
        MarketUpdate::Cross {
            price,
            shares,
            match_number,
        } => (price, saturate(shares), ViewCause::Cross, match_number),
        MarketUpdate::Execute { match_number, .. }
        | MarketUpdate::ExecuteAtPrice { match_number, .. } => match execution {
            Some(e) if e.printable => (e.price, e.shares, resting(e.side), match_number),
            _ => return None,
        },
        _ => return None,
    };
    (qty > 0).then_some(Print {
        price,
        qty,
        cause,
        match_number,
    })
}

/// Shares for a `u32` view field; no real book or cross comes near `u32::MAX`.
#[inline]
fn saturate(shares: u64) -> u32 {
    u32::try_from(shares).unwrap_or(u32::MAX)
}

/// The features stage of one shard.
pub struct FeatureStage {
    books: BookSet,
    /// Indexed by `SymbolId`; meaningful for owned symbols only.
    signals: Vec<Signals>,
    /// Indexed by `SymbolId`: the Reg SHO price test is in effect (ITCH `Y`).
    short_sale: Vec<bool>,
    alphas: Alphas,
    events: u64,
    views: u64,
    not_owned: u64,
}

impl FeatureStage {
    /// Books and signal state for the `owned` symbols, all storage allocated now.
    ///
    /// # Panics
    /// If an owned symbol is not in `universe`: the shard map was built wrong.
    pub fn new(
        universe: Arc<Universe>,
        owned: &[SymbolId],
        config: &FeaturesConfig,
    ) -> FeatureStage {
        assert!(
            owned.iter().all(|s| s.index() < universe.len()),
            "every owned symbol must be in the universe of {} symbols",
            universe.len()
        );
        let slots = owned.iter().map(|s| s.index() + 1).max().unwrap_or(0);
        FeatureStage {
            books: BookSet::new(
                owned,
                Capacity {
                    max_orders: config.max_orders,
                    max_levels: config.max_levels,
                },
            ),
            signals: (0..slots).map(|_| Signals::default()).collect(),
            short_sale: vec![false; slots],
            alphas: Alphas {
                volatility: config.volatility_alpha,
                trade_flow: config.trade_flow_alpha,
            },
            events: 0,
            views: 0,
            not_owned: 0,
        }
    }

    /// The shard's books, read-only.
    pub fn books(&self) -> &BookSet {
        &self.books
    }

    pub fn stats(&self) -> FeatureStats {
        FeatureStats {
            events: self.events,
            views: self.views,
            not_owned: self.not_owned,
            book: *self.books.stats(),
            // `signals` has a slot for every symbol up to the highest owned one.
            books: (0..self.signals.len())
                .map(|i| self.final_book(i))
                .collect(),
        }
    }

    fn final_book(&self, index: usize) -> Option<FinalBook> {
        self.books.book(SymbolId(index as u16)).map(|b| FinalBook {
            top: b.top(),
            status: b.effective_status(),
        })
    }
}

impl Stage for FeatureStage {
    type In = MarketEvent;
    type Out = Features;
    const NAME: &'static str = "features";

    fn on_event<O: Emit<Features>>(&mut self, event: MarketEvent, out: &mut O) {
        self.events += 1;
        let symbol = event.symbol;
        let Some(before) = self.books.book(symbol) else {
            self.not_owned += 1;
            return;
        };
        let (top_before, status_before) = (before.top(), before.effective_status());
        // Reg SHO, circuit breakers and broken trades change no book: they travel as a
        // view of the unchanged top with their own cause, in event order, to risk.
        let mut match_number = 0;
        let control = match event.update {
            MarketUpdate::ShortSaleRestriction { restricted } => {
                let flag = &mut self.short_sale[symbol.index()];
                if *flag == restricted {
                    return;
                }
                *flag = restricted;
                Some(if restricted {
                    ViewCause::ShortSaleRestricted
                } else {
                    ViewCause::ShortSaleLifted
                })
            }
            MarketUpdate::CircuitBreaker { .. } => Some(ViewCause::CircuitBreaker),
            MarketUpdate::BrokenTrade {
                match_number: broken,
            } => {
                match_number = broken;
                Some(ViewCause::BrokenTrade)
            }
            _ => None,
        };
        if let Some(cause) = control {
            let view = MarketView {
                stamp: event.stamp,
                bid_px: top_before.bid_px,
                ask_px: top_before.ask_px,
                print_px: Price::ZERO,
                match_number,
                bid_qty: saturate(top_before.bid_qty),
                ask_qty: saturate(top_before.ask_qty),
                print_qty: 0,
                symbol,
                cause,
                status: status_before,
            };
            out.emit(Features {
                view,
                values: self.signals[symbol.index()].vector(&top_before),
            });
            self.views += 1;
            return;
        }
        // A skipped event changed nothing; the book set has counted it.
        let Ok(applied) = self.books.apply(symbol, &event.update) else {
            return;
        };
        let (top, status) = (applied.book.top(), applied.book.effective_status());
        let print = print_of(&event.update, applied.execution);

        let signals = &mut self.signals[symbol.index()];
        signals.on_top(&top, self.alphas);
        if let Some(p) = print
            && let Some(side) = p.cause.resting_side()
        {
            signals.on_trade(side, p.qty, self.alphas);
        }

        let status_changed = status != status_before;
        if top == top_before && !status_changed && print.is_none() {
            return;
        }
        let cause = match print {
            Some(p) => p.cause,
            None if status_changed => ViewCause::Status,
            None => ViewCause::Quote,
        };
        let view = MarketView {
            stamp: event.stamp,
            bid_px: top.bid_px,
            ask_px: top.ask_px,
            print_px: print.map_or(Price::ZERO, |p| p.price),
            match_number: print.map_or(0, |p| p.match_number),
            bid_qty: saturate(top.bid_qty),
            ask_qty: saturate(top.ask_qty),
            print_qty: print.map_or(0, |p| p.qty),
            symbol,
            cause,
            status,
        };
        out.emit(Features {
            view,
            values: signals.vector(&top),
        });
        self.views += 1;
    }

    fn report(&self, report: &mut ShardReport) {
        report.features.merge(&self.stats());
    }

    fn publish(&self, report: &mut ShardReport) {
        let f = &mut report.features;
        f.events = self.events;
        f.views = self.views;
        f.not_owned = self.not_owned;
        f.book = *self.books.stats();
        for (i, slot) in f.books.iter_mut().enumerate() {
            *slot = self.final_book(i);
        }
    }
}

#[cfg(test)]
mod tests;
