//! The venue's thread: one [`Venue`] per shard, each fed by that shard's routing ring
//! and answering on that shard's report ring.
//!
//! The venue never waits on a report ring. Risk sends on the command path and reads
//! the report path, and routing sits between: if the venue blocked on a full report
//! ring while risk blocked sending to routing and routing to the venue, the three would
//! wait on each other forever. So reports go to a per-shard outbox and move to the ring
//! as room appears; the outbox is pre-sized so steady state never allocates, and its
//! high-water mark is reported.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::{Venue, VenueStats};
use crate::clock::{Cadence, MonoClock};
use crate::merge::Merge;
use crate::msg::{ExecReport, VenueCommand};
use crate::sys::edge::{BATCH, EdgeIn, EdgeOut, EdgeStats, RingFigures};
use crate::sys::idle::Idler;
use crate::sys::{Mailbox, Pulse};

/// Reports an outbox holds before it must grow: far above what one shard's live orders
/// produce between two passes of the venue loop.
const OUTBOX_CAPACITY: usize = 4096;

/// One shard's connection to the venue.
pub struct Lane<V: Venue> {
    venue: V,
    commands: EdgeIn<VenueCommand>,
    reports: EdgeOut<ExecReport>,
    outbox: VecDeque<ExecReport>,
    outbox_high_water: usize,
    /// Reports dropped because the shard's risk runner had stopped.
    undelivered: u64,
}

impl<V: Venue> Lane<V> {
    pub fn new(venue: V, commands: EdgeIn<VenueCommand>, reports: EdgeOut<ExecReport>) -> Lane<V> {
        Lane {
            venue,
            commands,
            reports,
            outbox: VecDeque::with_capacity(OUTBOX_CAPACITY),
            outbox_high_water: 0,
            undelivered: 0,
        }
    }

    /// One pass: take a batch of commands and what the venue reported on its own, then
    /// move reports to the ring while it has room. Returns whether anything moved.
    fn poll(&mut self) -> bool {
        let (venue, outbox) = (&mut self.venue, &mut self.outbox);
        let read = self
            .commands
            .read_batch(BATCH, |command| venue.on_command(command, outbox));
        let reported = venue.poll(outbox);
        self.outbox_high_water = self.outbox_high_water.max(self.outbox.len());
        let mut sent = 0;
        while let Some(report) = self.outbox.pop_front() {
            if let Err(report) = self.reports.try_emit(report) {
                self.outbox.push_front(report);
                break;
            }
            sent += 1;
        }
        if !self.outbox.is_empty() && self.reports.is_consumer_gone() {
            self.undelivered += self.outbox.len() as u64;
            self.outbox.clear();
        }
        read + sent > 0 || reported
    }

    /// The shard's input has ended and every report has left.
    fn is_done(&self) -> bool {
        self.commands.is_finished() && self.outbox.is_empty()
    }
}

/// What the venue runner reports.
#[derive(Clone, Debug, Default)]
pub struct VenueReport {
    pub stats: VenueStats,
    pub outbox_high_water: usize,
    pub undelivered: u64,
    pub edges: Vec<EdgeStats>,
}

/// Passes of the venue loop between two looks at the clock when publishing metrics: a
/// pass polls every lane (tens of ns at least), so the clock read (9.6 ns) stays under a
/// few percent of the loop even when it spins idle.
const PASSES_PER_CHECK: u32 = 64;

/// Where the venue runner publishes its report rings for `run --metrics`, and when.
pub struct VenuePublisher {
    mailbox: Arc<Mailbox<RingFigures>>,
    cadence: Cadence,
    clock: MonoClock,
    passes: u32,
}

impl VenuePublisher {
    /// Shapes `mailbox`'s slot for the lanes' report rings (allocating now, at start-up)
    /// and publishes the starting figures; later ones come at most every `period`.
    pub fn new<V: Venue>(
        mailbox: Arc<Mailbox<RingFigures>>,
        lanes: &[Lane<V>],
        period: Duration,
        clock: MonoClock,
    ) -> VenuePublisher {
        mailbox.publish(|slot| *slot = RingFigures::of(lanes.iter().map(|l| &l.reports)));
        VenuePublisher {
            mailbox,
            cadence: Cadence::new(period, clock.now_ns()),
            clock,
            passes: 0,
        }
    }

    /// After a pass: publishes if a period has passed (a scrape holding the slot skips
    /// it; the next comes a period later).
    #[inline]
    fn tick<V: Venue>(&mut self, lanes: &[Lane<V>]) {
        self.passes += 1;
        if self.passes < PASSES_PER_CHECK {
            return;
        }
        self.passes = 0;
        if self.cadence.due(self.clock.now_ns()) {
            self.mailbox
                .try_publish(|slot| slot.publish(lanes.iter().map(|l| &l.reports)));
        }
    }

    /// The last publication, waiting for a reader: the final figures, as reported.
    pub fn finish<V: Venue>(&self, lanes: &[Lane<V>]) {
        self.mailbox
            .publish(|slot| slot.publish(lanes.iter().map(|l| &l.reports)));
    }
}

/// Serves every lane until each shard's commands have ended and its reports have left,
/// publishing the report rings' figures into `metrics` if given.
pub fn serve<V: Venue>(
    lanes: &mut [Lane<V>],
    idle: &mut Idler,
    metrics: &mut Option<VenuePublisher>,
    pulse: &mut Pulse,
) {
    loop {
        // A pass over every lane is inside the heartbeat (`sys::heartbeat`), so a venue
        // stuck in a command leaves it odd for the watchdog.
        pulse.enter();
        let mut busy = false;
        for lane in lanes.iter_mut() {
            busy |= lane.poll();
        }
        if let Some(metrics) = metrics {
            metrics.tick(lanes);
        }
        pulse.leave();
        if busy {
            idle.reset();
        } else if lanes.iter().all(Lane::is_done) {
            return;
        } else {
            idle.idle();
        }
    }
}

/// Collects the lanes' statistics; dropping the lanes closes the report rings.
pub fn report<V: Venue>(lanes: Vec<Lane<V>>) -> VenueReport {
    let mut out = VenueReport::default();
    for lane in lanes {
        out.stats.merge(lane.venue.stats());
        out.outbox_high_water = out.outbox_high_water.max(lane.outbox_high_water);
        out.undelivered += lane.undelivered;
        out.edges.push(lane.reports.stats());
    }
    out
}
