//! A short-horizon mean-reversion rule, as a user's own [`Model`].
//!
//! It is an example of plugging a strategy into tickpipe, not an edge: nothing here has
//! been fitted or backtested beyond showing that it trades.
//!
//! Per symbol it keeps an exponential moving average of the mid. When the mid has run
//! away from that average, it bets on the move fading (score below zero after a rise,
//! above zero after a fall), tempered by the microprice: a microprice leaning the way
//! the mid moved says the book still supports the move, so it weakens the bet.

use tickpipe::msg::Features;
use tickpipe::stages::inference::{Model, ModelSetup};

/// The mean-reversion model of one shard.
pub struct MeanReversion {
    /// Weight of the newest mid in the average: 2 / (N + 1) for an N-update memory.
    alpha: f64,
    /// The average mid of each symbol, in price units; `None` before its first
    /// two-sided book. Indexed by `SymbolId`: state of the model's own, per symbol.
    averages: Vec<Option<f64>>,
}

impl MeanReversion {
    /// The average's memory, in book updates: short-horizon by design, so the rule
    /// reacts within a few dozen quotes.
    pub const MEMORY: f64 = 32.0;

    /// The model for one shard (the factory the engine calls per shard).
    pub fn new(setup: &ModelSetup<'_>) -> MeanReversion {
        MeanReversion {
            alpha: 2.0 / (Self::MEMORY + 1.0),
            averages: vec![None; setup.universe_len],
        }
    }
}

impl Model for MeanReversion {
    const KIND: &'static str = "mean-reversion";

    fn score(&mut self, features: &Features) -> Option<f32> {
        // A one-sided book has no mid: no opinion, the target stays.
        let mid = features.view.mid()?.0 as f64;
        let average = self.averages[features.view.symbol.index()].get_or_insert(mid);
        let stretch_bps = (mid - *average) / *average * 1e4;
        *average += self.alpha * (mid - *average);
        Some((features.values.microprice_bps as f64 - stretch_bps) as f32)
    }
}
