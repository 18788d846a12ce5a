//! What the source runner publishes for `run --metrics`: its feed rings and, for a live
//! feed, the sequencer's counters (gaps, recoveries, losses). Published through a
//! [`Mailbox`] as the shard runners publish theirs (`runtime::metrics`), at most once a
//! period, allocating nothing after start-up: the figures are `Copy` counters written
//! over the slot's.

use std::sync::Arc;
use std::time::Duration;

use super::live::FeedStats;
use super::router::ShardRouter;
use crate::clock::Cadence;
use crate::sys::Mailbox;
use crate::sys::edge::RingFigures;

/// A live feed's counters as they stand, copied from its [`FeedStats`] (which also holds
/// strings and samples, too costly to copy every period). Each is a running total.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedCounters {
    pub packets: u64,
    pub recovery_packets: u64,
    pub heartbeats: u64,
    pub messages: u64,
    pub duplicate_packets: u64,
    pub gaps: u64,
    pub gap_messages: u64,
    pub requests: u64,
    pub request_errors: u64,
    pub recovered: u64,
    pub lost: u64,
    pub losses: u64,
    pub timed_out: u64,
    pub held: u64,
    pub overflow: u64,
    pub malformed: u64,
}

impl FeedCounters {
    pub fn of(s: &FeedStats) -> FeedCounters {
        FeedCounters {
            packets: s.packets,
            recovery_packets: s.recovery_packets,
            heartbeats: s.heartbeats,
            messages: s.messages,
            duplicate_packets: s.duplicate_packets,
            gaps: s.gaps,
            gap_messages: s.gap_messages,
            requests: s.requests,
            request_errors: s.request_errors,
            recovered: s.recovered,
            lost: s.lost,
            losses: s.losses,
            timed_out: s.timed_out,
            held: s.held,
            overflow: s.overflow,
            malformed: s.malformed,
        }
    }
}

/// One publication of the source runner.
#[derive(Clone, Debug, Default)]
pub struct SourceFigures {
    /// The feed rings, one per shard, in shard order.
    pub rings: RingFigures,
    /// A live feed's counters; `None` for a replay.
    pub feed: Option<FeedCounters>,
}

/// Where the source runner publishes, and when.
pub struct SourcePublisher {
    mailbox: Arc<Mailbox<SourceFigures>>,
    cadence: Cadence,
}

impl SourcePublisher {
    /// Shapes `mailbox`'s slot for `router`'s rings (allocating now, at start-up) and
    /// publishes the starting figures; later publications come at most every `period`
    /// from `now_ns`.
    pub fn new(
        mailbox: Arc<Mailbox<SourceFigures>>,
        router: &ShardRouter,
        period: Duration,
        now_ns: u64,
    ) -> SourcePublisher {
        mailbox.publish(|slot| slot.rings = RingFigures::of(router.feeds()));
        SourcePublisher {
            mailbox,
            cadence: Cadence::new(period, now_ns),
        }
    }

    /// Publishes if a period has passed since the last publication; a scrape holding the
    /// slot skips this one (the next comes a period later). Cheap when not due: one
    /// comparison.
    #[inline]
    pub fn tick(&mut self, now_ns: u64, router: &ShardRouter, feed: Option<&FeedStats>) {
        if self.cadence.due(now_ns) {
            self.mailbox
                .try_publish(|slot| Self::fill(slot, router, feed));
        }
    }

    /// The last publication, waiting for a reader rather than skipped: it carries the
    /// final figures, the ones the report prints.
    pub fn finish(&self, router: &ShardRouter, feed: Option<&FeedStats>) {
        self.mailbox.publish(|slot| Self::fill(slot, router, feed));
    }

    fn fill(slot: &mut SourceFigures, router: &ShardRouter, feed: Option<&FeedStats>) {
        slot.rings.publish(router.feeds());
        slot.feed = feed.map(FeedCounters::of);
    }
}
