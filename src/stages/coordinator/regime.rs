//! The `regime` task's classification: each symbol's volatility over the views since it
//! was last classified, as a consensus of per-symbol measures ([`super::consensus`]),
//! mapped to a scale for its targets.
//!
//! A run classifies every owned symbol once: at once for those with `min_views` views
//! behind them, later as views arrive for the others. It finishes when all are
//! classified; a symbol still short at the deadline keeps its previous scale.

use serde::Deserialize;

use super::consensus::{Combine, Measure, PerSymbol, Votes};
use crate::config::Problems;
use crate::msg::{MarketView, SymbolId};

/// `[coordinator.regime]`.
#[derive(Copy, Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeConfig {
    /// Two-sided views a symbol needs behind it to be classified.
    pub min_views: u32,
    /// A consensus below this (basis points) is calm.
    pub calm_below_bps: f64,
    /// A consensus above this is volatile.
    pub volatile_above_bps: f64,
    pub calm_scale: f64,
    pub normal_scale: f64,
    pub volatile_scale: f64,
    pub consensus: Combine,
}

impl RegimeConfig {
    pub fn validate(&self, p: &mut Problems<'_>) {
        p.check(self.min_views >= 1, "min_views", "must be at least 1");
        p.check(
            self.calm_below_bps.is_finite()
                && self.volatile_above_bps.is_finite()
                && self.calm_below_bps <= self.volatile_above_bps,
            "calm_below_bps",
            format!(
                "{} must be finite and at most volatile_above_bps ({})",
                self.calm_below_bps, self.volatile_above_bps
            ),
        );
        for (key, s) in [
            ("calm_scale", self.calm_scale),
            ("normal_scale", self.normal_scale),
            ("volatile_scale", self.volatile_scale),
        ] {
            p.check(
                (0.0..=1.0).contains(&s),
                key,
                format!("{s} is not between 0 and 1"),
            );
        }
        self.consensus.validate(&mut p.nested("consensus"));
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Class {
    Calm,
    Normal,
    Volatile,
}

crate::stats! {
    /// Classifications made, by class.
    #[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
    pub struct RegimeCounts {
        pub calm: u64,
        pub normal: u64,
        pub volatile: u64,
    }
}

/// What one symbol's views add up to since its last classification.
#[derive(Copy, Clone, Debug, Default)]
struct Window {
    low: i64,
    high: i64,
    spread_bps_sum: f64,
    views: u32,
}

#[derive(Clone, Debug)]
pub struct Regime {
    config: RegimeConfig,
    windows: PerSymbol<Window>,
    scales: PerSymbol<f64>,
    /// Owned symbols still to classify in the current run.
    pending: PerSymbol<bool>,
    pending_count: usize,
    pub counts: RegimeCounts,
}

impl Regime {
    /// Every symbol starts at the normal scale, until classified.
    pub fn new(config: RegimeConfig, symbols: usize) -> Regime {
        Regime {
            config,
            windows: PerSymbol::new(symbols, Window::default()),
            scales: PerSymbol::new(symbols, config.normal_scale),
            pending: PerSymbol::new(symbols, false),
            pending_count: 0,
            counts: RegimeCounts::default(),
        }
    }

    /// Adds a two-sided view to its symbol's window; classifies the symbol if the run
    /// is waiting for it and it now has enough.
    pub fn observe(&mut self, view: &MarketView) {
        let Some(mid) = view.mid() else {
            return;
        };
        let mid = mid.0;
        if mid <= 0 {
            return;
        }
        let w = self.windows.get_mut(view.symbol);
        if w.views == 0 {
            (w.low, w.high) = (mid, mid);
        }
        w.low = w.low.min(mid);
        w.high = w.high.max(mid);
        w.spread_bps_sum += (view.ask_px.0 - view.bid_px.0) as f64 * 1e4 / mid as f64;
        w.views += 1;
        if *self.pending.get(view.symbol) {
            self.classify(view.symbol);
        }
    }

    /// A run starts: every owned symbol is to be classified.
    pub fn begin(&mut self, owned: &[SymbolId]) {
        self.pending_count = 0;
        for &s in owned {
            *self.pending.get_mut(s) = true;
            self.pending_count += 1;
            self.classify(s);
        }
    }

    /// True once every symbol of the current run is classified.
    pub fn done(&self) -> bool {
        self.pending_count == 0
    }

    /// The run was abandoned: symbols still pending keep their scale.
    pub fn abandon(&mut self, owned: &[SymbolId]) {
        for &s in owned {
            *self.pending.get_mut(s) = false;
        }
        self.pending_count = 0;
    }

    fn classify(&mut self, symbol: SymbolId) {
        let w = *self.windows.get(symbol);
        if w.views < self.config.min_views {
            return;
        }
        let mut votes = Votes::default();
        votes.set(
            Measure::RangeBps,
            (w.high - w.low) as f64 * 1e4 / w.low as f64,
        );
        votes.set(Measure::SpreadBps, w.spread_bps_sum / f64::from(w.views));
        if let Some(figure) = self.config.consensus.combine(&votes) {
            let c = &self.config;
            let (class, scale) = if figure < c.calm_below_bps {
                (Class::Calm, c.calm_scale)
            } else if figure > c.volatile_above_bps {
                (Class::Volatile, c.volatile_scale)
            } else {
                (Class::Normal, c.normal_scale)
            };
            match class {
                Class::Calm => self.counts.calm += 1,
                Class::Normal => self.counts.normal += 1,
                Class::Volatile => self.counts.volatile += 1,
            }
            *self.scales.get_mut(symbol) = scale;
        }
        *self.windows.get_mut(symbol) = Window::default();
        *self.pending.get_mut(symbol) = false;
        self.pending_count -= 1;
    }

    pub fn scale(&self, symbol: SymbolId) -> f64 {
        *self.scales.get(symbol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{Price, Stamp, TradingStatus, ViewCause};
    use crate::stages::coordinator::consensus::Method;

    const CONFIG: RegimeConfig = RegimeConfig {
        min_views: 2,
        calm_below_bps: 5.0,
        volatile_above_bps: 50.0,
        calm_scale: 1.0,
        normal_scale: 0.8,
        volatile_scale: 0.25,
        consensus: Combine {
            method: Method::WeightedMean,
            range_weight: 1.0,
            spread_weight: 0.0,
        },
    };

    fn view(symbol: u16, bid: i64, ask: i64) -> MarketView {
        MarketView {
            stamp: Stamp::default(),
            bid_px: Price(bid),
            ask_px: Price(ask),
            print_px: Price::ZERO,
            bid_qty: 100,
            ask_qty: 100,
            print_qty: 0,
            symbol: SymbolId(symbol),
            cause: ViewCause::Quote,
            status: TradingStatus::Trading,
            match_number: 0,
        }
    }

    #[test]
    fn each_symbol_is_classified_from_its_own_views() {
        let owned = [SymbolId(0), SymbolId(1)];
        let mut r = Regime::new(CONFIG, 2);
        // Symbol 0 barely moves (1 bp); symbol 1 swings 10 % (about 1000 bp).
        r.observe(&view(0, 1_000_000, 1_000_200));
        r.observe(&view(0, 1_000_100, 1_000_300));
        r.observe(&view(1, 1_000_000, 1_000_200));
        r.begin(&owned);
        assert!(!r.done(), "symbol 1 has one view of the two it needs");
        assert_eq!(r.scale(SymbolId(0)), 1.0, "calm");
        r.observe(&view(1, 1_100_000, 1_100_200));
        assert!(r.done());
        assert_eq!(r.scale(SymbolId(1)), 0.25, "volatile");
        assert_eq!(
            r.scale(SymbolId(0)),
            1.0,
            "the volatile neighbour changed nothing"
        );
        assert_eq!((r.counts.calm, r.counts.volatile), (1, 1));
    }

    #[test]
    fn an_abandoned_run_keeps_the_previous_scale() {
        let mut r = Regime::new(CONFIG, 1);
        r.begin(&[SymbolId(0)]);
        assert!(!r.done());
        r.abandon(&[SymbolId(0)]);
        assert!(r.done());
        assert_eq!(r.scale(SymbolId(0)), CONFIG.normal_scale);
    }
}
