//! The firm-wide trading-state latch (the kill switch): active → reduce-only → halted.
//!
//! Every risk check reads it; escalation is a `fetch_max`, so concurrent escalations from
//! different threads (an operator, a circuit breaker) always end at the most severe state
//! and a halt can never be overwritten by a later, milder escalation. Only an explicit
//! [`TradingLatch::reset`] (an operator's decision) moves it back down.

use super::sync::{AtomicU8, Ordering};

/// What the firm may do.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TradingState {
    /// Orders may open and close positions.
    Active = 0,
    /// Only orders that reduce an existing position.
    ReduceOnly = 1,
    /// No new orders; open orders are cancelled.
    Halted = 2,
}

impl TradingState {
    fn from_u8(v: u8) -> TradingState {
        match v {
            0 => TradingState::Active,
            1 => TradingState::ReduceOnly,
            _ => TradingState::Halted,
        }
    }

    /// The name used in config files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TradingState::Active => "active",
            TradingState::ReduceOnly => "reduce-only",
            TradingState::Halted => "halted",
        }
    }
}

/// Shared by every shard's risk stage; one byte, read on every check.
#[derive(Debug)]
pub struct TradingLatch {
    state: AtomicU8,
}

impl TradingLatch {
    pub fn new(initial: TradingState) -> TradingLatch {
        TradingLatch {
            state: AtomicU8::new(initial as u8),
        }
    }

    /// The current state.
    ///
    /// Acquire: pairs with the Release in `escalate`/`reset`, so a thread that learns of
    /// a change through another channel (a control event sent after the store) and then
    /// reads the latch sees that change or a later one.
    #[inline]
    pub fn get(&self) -> TradingState {
        TradingState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Moves to `to` if it is more severe than the current state; returns the state
    /// before. AcqRel: Release publishes the escalation (paired with `get`'s Acquire);
    /// Acquire orders it after any escalation it observed.
    pub fn escalate(&self, to: TradingState) -> TradingState {
        TradingState::from_u8(self.state.fetch_max(to as u8, Ordering::AcqRel))
    }

    /// Sets `to` unconditionally, downgrades included: an operator's decision. Release:
    /// pairs with `get`'s Acquire.
    pub fn reset(&self, to: TradingState) {
        self.state.store(to as u8, Ordering::Release);
    }
}
