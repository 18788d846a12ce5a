//! The trading state as one shard decides by it: the firm-wide latch, except while the
//! shard re-derives its journal after a restart.
//!
//! The latch is shared by every shard, but each shard's journal records the state
//! changes *it* found, at its own input positions. Replayed on the shared latch, the
//! first shard to re-apply a journaled halt would halt the others before they reach
//! their own halt's position, and they would diverge from their journals (with one
//! shard it cannot happen, which is why the multi-shard resume used to be refused as a
//! divergence). So while replaying, a shard decides by a copy of its own: set to each
//! journaled state where its journal says (a resume included, which escalating the
//! shared latch could never apply), and escalated by what the shard re-derives itself.
//! When its replay ends, the copy is handed to the shared latch (escalating only: a
//! shard never lowers the firm's state on its own).

use std::sync::Arc;

use crate::sys::{TradingLatch, TradingState};

#[derive(Debug)]
pub struct ShardLatch {
    shared: Arc<TradingLatch>,
    /// `Some` while the journal is replayed.
    replay: Option<TradingState>,
}

impl ShardLatch {
    pub fn new(shared: Arc<TradingLatch>) -> ShardLatch {
        ShardLatch {
            shared,
            replay: None,
        }
    }

    /// Decides by a copy of the shared state from now until [`ShardLatch::replayed`].
    pub fn replaying(&mut self) {
        self.replay = Some(self.shared.get());
    }

    /// The replay is over: the shared latch takes the copy's state (if more severe).
    #[cold]
    pub fn replayed(&mut self) {
        if let Some(state) = self.replay.take() {
            self.shared.escalate(state);
        }
    }

    pub fn is_replaying(&self) -> bool {
        self.replay.is_some()
    }

    #[inline]
    pub fn get(&self) -> TradingState {
        match self.replay {
            Some(state) => state,
            None => self.shared.get(),
        }
    }

    /// Raises the state to `to` unless it is more severe already; returns the state
    /// before.
    #[inline]
    pub fn escalate(&mut self, to: TradingState) -> TradingState {
        match &mut self.replay {
            Some(state) => std::mem::replace(state, (*state).max(to)),
            None => self.shared.escalate(to),
        }
    }

    /// Sets `to`, downgrades included: an operator's command, or a journaled state.
    pub fn reset(&mut self, to: TradingState) {
        match &mut self.replay {
            Some(state) => *state = to,
            None => self.shared.reset(to),
        }
    }

    /// The firm-wide latch itself, whatever the replay: for what must halt the firm now.
    pub fn shared(&self) -> &Arc<TradingLatch> {
        &self.shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaying_shard_decides_by_its_own_copy_until_it_hands_it_over() {
        let shared = Arc::new(TradingLatch::new(TradingState::Active));
        let mut a = ShardLatch::new(Arc::clone(&shared));
        let mut b = ShardLatch::new(Arc::clone(&shared));
        a.replaying();
        b.replaying();
        a.reset(TradingState::Halted);
        assert_eq!(
            b.get(),
            TradingState::Active,
            "b has not reached its halt yet"
        );
        assert_eq!(shared.get(), TradingState::Active);
        a.reset(TradingState::Active);
        assert_eq!(a.escalate(TradingState::ReduceOnly), TradingState::Active);
        a.replayed();
        assert_eq!(shared.get(), TradingState::ReduceOnly);
        assert_eq!(b.get(), TradingState::Active);
        b.replayed();
        assert_eq!(
            b.get(),
            TradingState::ReduceOnly,
            "b decides by the shared one again"
        );
    }
}
