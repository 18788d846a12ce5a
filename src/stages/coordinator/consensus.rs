//! Combining several signals into one figure for one symbol (the predecessor's
//! "consensus", which pooled every symbol's signals into one number).
//!
//! The types keep symbols apart: a [`Votes`] carries no symbol and belongs to exactly
//! one slot of a [`PerSymbol`], reached only through that symbol's id, and
//! [`Combine::combine`] takes one `Votes`. There is no operation over two symbols'
//! votes, so no figure can be made of another symbol's signals:
//!
//! ```compile_fail
//! use tickpipe::msg::SymbolId;
//! use tickpipe::stages::coordinator::consensus::{PerSymbol, Votes};
//! let mut all = PerSymbol::new(2, Votes::default());
//! // A symbol's votes are reached only by its own id, never as a slice of all symbols.
//! let pooled: &[Votes] = all.as_slice();
//! ```

use serde::Deserialize;

use crate::config::Problems;
use crate::msg::SymbolId;

/// The signals that vote, one slot each in [`Votes`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Measure {
    /// The mid's high-to-low range over the period, in basis points of its low.
    RangeBps = 0,
    /// The mean quoted spread over the period, in basis points of the mid.
    SpreadBps = 1,
}

pub const MEASURES: usize = 2;

/// One symbol's signals, `None` until measured.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Votes([Option<f64>; MEASURES]);

impl Votes {
    pub fn set(&mut self, measure: Measure, value: f64) {
        self.0[measure as usize] = Some(value);
    }
}

/// A value per symbol, indexed by its id and reachable only through it.
#[derive(Clone, Debug)]
pub struct PerSymbol<T> {
    slots: Vec<T>,
}

impl<T: Clone> PerSymbol<T> {
    pub fn new(symbols: usize, initial: T) -> PerSymbol<T> {
        PerSymbol {
            slots: vec![initial; symbols],
        }
    }
}

impl<T> PerSymbol<T> {
    pub fn get(&self, symbol: SymbolId) -> &T {
        &self.slots[symbol.index()]
    }

    pub fn get_mut(&mut self, symbol: SymbolId) -> &mut T {
        &mut self.slots[symbol.index()]
    }
}

/// How the measures combine (`[coordinator.regime.consensus]`).
#[derive(Copy, Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Σ weight × value / Σ weight over the measures present.
    WeightedMean,
    /// The largest weight × value: the most alarming measure decides.
    Max,
}

/// The combining function: its method and each measure's weight.
#[derive(Copy, Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Combine {
    pub method: Method,
    pub range_weight: f64,
    pub spread_weight: f64,
}

impl Combine {
    pub fn validate(&self, p: &mut Problems<'_>) {
        for (key, w) in [
            ("range_weight", self.range_weight),
            ("spread_weight", self.spread_weight),
        ] {
            p.check(
                w.is_finite() && w >= 0.0,
                key,
                format!("{w} is not a finite weight ≥ 0"),
            );
        }
        p.check(
            self.range_weight + self.spread_weight > 0.0,
            "range_weight",
            "the weights sum to 0: no measure would count",
        );
    }

    fn weight(&self, measure: usize) -> f64 {
        [self.range_weight, self.spread_weight][measure]
    }

    /// One symbol's figure, or `None` if no measure with weight is present.
    pub fn combine(&self, votes: &Votes) -> Option<f64> {
        let present = votes
            .0
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (self.weight(i), v)))
            .filter(|&(w, _)| w > 0.0);
        match self.method {
            Method::WeightedMean => {
                let (sum, weights) =
                    present.fold((0.0, 0.0), |(s, ws), (w, v)| (s + w * v, ws + w));
                (weights > 0.0).then(|| sum / weights)
            }
            Method::Max => present.map(|(w, v)| w * v).reduce(f64::max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEAN: Combine = Combine {
        method: Method::WeightedMean,
        range_weight: 3.0,
        spread_weight: 1.0,
    };

    #[test]
    fn consensus_never_mixes_symbols() {
        let (calm, wild) = (SymbolId(0), SymbolId(1));
        let mut all = PerSymbol::new(3, Votes::default());
        all.get_mut(calm).set(Measure::RangeBps, 2.0);
        all.get_mut(calm).set(Measure::SpreadBps, 6.0);
        all.get_mut(wild).set(Measure::RangeBps, 400.0);
        all.get_mut(wild).set(Measure::SpreadBps, 40.0);
        // Each figure is its own symbol's votes alone: (3×2 + 6)/4 and (3×400 + 40)/4.
        assert_eq!(MEAN.combine(all.get(calm)), Some(3.0));
        assert_eq!(MEAN.combine(all.get(wild)), Some(310.0));
        // A symbol with no votes has no figure, whatever its neighbours hold.
        assert_eq!(MEAN.combine(all.get(SymbolId(2))), None);
        // Changing one symbol's votes never moves another's figure.
        all.get_mut(wild).set(Measure::RangeBps, 1e9);
        assert_eq!(MEAN.combine(all.get(calm)), Some(3.0));
        let max = Combine {
            method: Method::Max,
            ..MEAN
        };
        assert_eq!(max.combine(all.get(calm)), Some(6.0));
    }

    #[test]
    fn a_measure_without_weight_does_not_vote() {
        let only_range = Combine {
            spread_weight: 0.0,
            ..MEAN
        };
        let mut v = Votes::default();
        v.set(Measure::SpreadBps, 50.0);
        assert_eq!(only_range.combine(&v), None);
        v.set(Measure::RangeBps, 8.0);
        assert_eq!(only_range.combine(&v), Some(8.0));
    }
}
