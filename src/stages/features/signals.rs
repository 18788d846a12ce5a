//! One symbol's model inputs: the feature vector of its top of book, and the state the
//! two EWMAs (volatility, trade flow) carry from event to event.
//!
//! Computed in `f64` from prices' integer units and stored as `f32`; no float ever goes
//! back into a price.

use crate::msg::{FeatureVector, Side};

use super::book::Top;

const BPS: f64 = 1e4;

/// Smoothing factors, each in (0, 1]: the weight of the newest observation.
#[derive(Copy, Clone, Debug)]
pub(super) struct Alphas {
    pub volatility: f64,
    pub trade_flow: f64,
}

#[inline]
fn ewma(state: &mut f64, alpha: f64, x: f64) {
    *state += alpha * (x - *state);
}

/// Twice the mid in price units (bid + ask, exact), for a two-sided top with a positive
/// mid: every ratio to the mid is then a ratio of integers.
#[inline]
fn doubled_mid(top: &Top) -> Option<i128> {
    let mid2 = i128::from(top.bid_px.units()) + i128::from(top.ask_px.units());
    (top.is_two_sided() && mid2 > 0).then_some(mid2)
}

#[derive(Default)]
pub(super) struct Signals {
    /// Doubled mid of the last two-sided top; kept across one-sided spells, so the
    /// first mid after one is measured against the last before it.
    last_mid2: Option<i128>,
    /// EWMA of squared mid-to-mid returns, in bps².
    variance: f64,
    /// EWMA of traded shares, signed + when the buyer was the aggressor.
    signed_volume: f64,
    /// EWMA of traded shares.
    volume: f64,
}

impl Signals {
    /// Updates the volatility EWMA if the mid moved.
    pub(super) fn on_top(&mut self, top: &Top, alphas: Alphas) {
        let Some(mid2) = doubled_mid(top) else {
            return;
        };
        if let Some(last) = self.last_mid2
            && last != mid2
        {
            let ret_bps = (mid2 - last) as f64 / last as f64 * BPS;
            ewma(&mut self.variance, alphas.volatility, ret_bps * ret_bps);
        }
        self.last_mid2 = Some(mid2);
    }

    /// Counts a print against a resting order on `resting`'s side.
    pub(super) fn on_trade(&mut self, resting: Side, shares: u32, alphas: Alphas) {
        let shares = f64::from(shares);
        // A resting sell was lifted by a buyer: positive flow.
        let signed = -(resting.sign() as f64) * shares;
        ewma(&mut self.signed_volume, alphas.trade_flow, signed);
        ewma(&mut self.volume, alphas.trade_flow, shares);
    }

    /// The features of `top`; all zero unless it is two-sided.
    pub(super) fn vector(&self, top: &Top) -> FeatureVector {
        let Some(mid2) = doubled_mid(top) else {
            return FeatureVector::default();
        };
        let spread = i128::from(top.ask_px.units()) - i128::from(top.bid_px.units());
        // (ask − bid) / mid, with mid = mid2 / 2.
        let spread_bps = 2.0 * spread as f64 / mid2 as f64 * BPS;
        let (bid_qty, ask_qty) = (top.bid_qty as f64, top.ask_qty as f64);
        let imbalance = (bid_qty - ask_qty) / (bid_qty + ask_qty);
        // microprice − mid = (bid·askQty + ask·bidQty)/(bidQty + askQty) − (bid + ask)/2
        //                  = (ask − bid)/2 · imbalance, which avoids the cancellation of
        // subtracting two nearly equal prices.
        let microprice_bps = spread_bps * imbalance / 2.0;
        let trade_flow = if self.volume > 0.0 {
            self.signed_volume / self.volume
        } else {
            0.0
        };
        FeatureVector {
            microprice_bps: microprice_bps as f32,
            spread_bps: spread_bps as f32,
            imbalance: imbalance as f32,
            volatility_bps: self.variance.sqrt() as f32,
            trade_flow: trade_flow as f32,
        }
    }
}
