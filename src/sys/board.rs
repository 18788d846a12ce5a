//! Per-shard published P&L, summed by any shard without a lock: the firm-wide daily
//! loss and the drawdown from the day's peak.
//!
//! Each shard owns one slot and stores its mark-to-market P&L there (cash flow plus
//! position × mark over its symbols, in price units); only it writes the slot, so a
//! store is enough. Any shard sums every slot and raises the day's peak with a
//! `fetch_max`, which no concurrent raise can undo. A sum is a snapshot: other shards
//! may have moved on while it was read, so the limits act on P&L at most one decision
//! per shard old.

use super::pad::CachePadded;
use super::sync::{AtomicI64, Ordering};

/// One slot per shard and the day's peak of their sum. Padded: each slot is written by
/// its shard on every decision.
#[derive(Debug)]
pub struct PnlBoard {
    slots: Box<[CachePadded<AtomicI64>]>,
    peak: CachePadded<AtomicI64>,
}

impl PnlBoard {
    /// A board for `shards` shards, every slot and the peak at 0 (the day's start).
    pub fn new(shards: usize) -> PnlBoard {
        PnlBoard {
            slots: (0..shards)
                .map(|_| CachePadded::new(AtomicI64::new(0)))
                .collect(),
            peak: CachePadded::new(AtomicI64::new(0)),
        }
    }

    pub fn shards(&self) -> usize {
        self.slots.len()
    }

    /// Shard `shard`'s P&L now. Relaxed: a slot publishes only its own value.
    #[inline]
    pub fn publish(&self, shard: usize, pnl: i64) {
        self.slots[shard].store(pnl, Ordering::Relaxed);
    }

    /// Every shard's last published P&L, summed (saturating).
    #[inline]
    pub fn total(&self) -> i64 {
        self.slots
            .iter()
            .fold(0i64, |sum, s| sum.saturating_add(s.load(Ordering::Relaxed)))
    }

    /// Raises the day's peak to `total` if it is higher; returns the peak.
    #[inline]
    pub fn peak(&self, total: i64) -> i64 {
        let peak = self.peak.load(Ordering::Relaxed);
        if total <= peak {
            return peak;
        }
        self.peak.fetch_max(total, Ordering::Relaxed).max(total)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn sums_every_shard_and_keeps_the_peak() {
        let board = PnlBoard::new(3);
        board.publish(0, 50);
        board.publish(2, -20);
        assert_eq!(board.total(), 30);
        assert_eq!(board.peak(30), 30);
        board.publish(0, -10);
        assert_eq!(board.total(), -30);
        assert_eq!(board.peak(-30), 30, "the peak stays");
    }
}
