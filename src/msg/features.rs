//! The features stage's output and the inference stage's output.

use super::{Price, Side, Stamp, SymbolId, TradingStatus};

/// Why a [`MarketView`] was emitted. One byte, so the view fits 64 bytes.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ViewCause {
    /// The top of book changed (price or size on either side).
    Quote,
    /// The symbol's trading state changed.
    Status,
    /// A trade printed against a resting buy order: a seller hit the bid.
    BidHit,
    /// A trade printed against a resting sell order: a buyer lifted the ask.
    AskLifted,
    /// A cross (auction) printed; it has no aggressor.
    Cross,
    /// A non-displayed order traded (ITCH `P`). Which side rested is unknown: ITCH 5.0's
    /// Buy/Sell field on `P` has read `B` whatever the side since 2014-07-14, so trade
    /// flow ignores these prints and the venue lets them fill either side.
    Hidden,
    /// The Reg SHO short-sale price test came into effect for the symbol (ITCH `Y`).
    ShortSaleRestricted,
    /// The Reg SHO short-sale price test was lifted (ITCH `Y`).
    ShortSaleLifted,
    /// A market-wide circuit breaker halted trading (ITCH `W`).
    CircuitBreaker,
    /// An execution was broken after the fact (ITCH `B`): `match_number` names it. The
    /// book is unchanged; risk reverses any simulated fill made against that print.
    BrokenTrade,
}

impl ViewCause {
    /// The side of the resting order that traded, for prints with an aggressor.
    #[inline]
    pub const fn resting_side(self) -> Option<Side> {
        match self {
            ViewCause::BidHit => Some(Side::Buy),
            ViewCause::AskLifted => Some(Side::Sell),
            _ => None,
        }
    }

    #[inline]
    pub const fn is_trade(self) -> bool {
        matches!(
            self,
            ViewCause::BidHit | ViewCause::AskLifted | ViewCause::Cross | ViewCause::Hidden
        )
    }
}

/// A symbol's top of book and latest print after one market event: what risk marks
/// positions to and what the simulated venue matches against.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct MarketView {
    pub stamp: Stamp,
    /// Best bid; meaningful only when `bid_qty > 0`.
    pub bid_px: Price,
    /// Best ask; meaningful only when `ask_qty > 0`.
    pub ask_px: Price,
    /// Price of the print in this event; meaningful only when `print_qty > 0`.
    pub print_px: Price,
    /// The exchange's day-unique match number of the print in this event (ITCH `E`,
    /// `C`, `P`, `Q`), or of the print a `BrokenTrade` view breaks; 0 otherwise. The
    /// simulated venue copies it onto a fill made against the print, so risk can find
    /// the fill when the print is broken.
    pub match_number: u64,
    /// Aggregate displayed shares at the best bid; 0 when the side is empty.
    pub bid_qty: u32,
    pub ask_qty: u32,
    /// Shares printed by this event; 0 when it printed nothing.
    pub print_qty: u32,
    pub symbol: SymbolId,
    pub cause: ViewCause,
    pub status: TradingStatus,
}

impl MarketView {
    /// Both sides present: a two-sided quote.
    #[inline]
    pub fn is_two_sided(&self) -> bool {
        self.bid_qty > 0 && self.ask_qty > 0
    }

    /// Midpoint of a two-sided quote.
    #[inline]
    pub fn mid(&self) -> Option<Price> {
        self.is_two_sided()
            .then(|| Price::mid(self.bid_px, self.ask_px))
    }
}

/// Model inputs computed by the features stage. Floats are fine here: they never cross
/// into prices, and the same binary computes the same bits on every run.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct FeatureVector {
    /// (microprice − mid) / mid, in basis points.
    pub microprice_bps: f32,
    /// (ask − bid) / mid, in basis points.
    pub spread_bps: f32,
    /// (bid size − ask size) / (bid size + ask size), in [−1, 1].
    pub imbalance: f32,
    /// EWMA standard deviation of mid-to-mid returns, in basis points.
    pub volatility_bps: f32,
    /// EWMA of signed traded volume over EWMA of traded volume, in [−1, 1]; positive
    /// when buyers are the aggressors.
    pub trade_flow: f32,
}

/// Features stage output: one per market event that changed the view.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Features {
    pub view: MarketView,
    /// Valid when the book is two-sided; zero otherwise.
    pub values: FeatureVector,
}

/// Inference stage output: the model's score and the position it wants.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Signal {
    pub view: MarketView,
    /// The model's raw score.
    pub score: f32,
    /// Desired position in shares (negative: short). Risk decides whether and how to
    /// move toward it.
    pub target: i32,
}
