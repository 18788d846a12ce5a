//! The venue called directly on the shard's own thread: routing's output goes straight
//! into the [`Venue`], whose reports wait in a queue the risk stage reads.
//!
//! Decisions are the same as with the venue on its own thread — the protocol is in event
//! time — but nothing crosses a core: no risk ↔ venue round trip sits on the decision
//! path. Used by the pipeline when the topology says `[venue] placement = "inline"`, by
//! [`crate::runtime::inline_run`] and by the benches.
//!
//! Single-threaded by construction (`Rc`): the pair is built on the thread that runs it
//! (the pipeline builds an inline runner's chain on the runner's own thread).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::msg::{ExecReport, VenueCommand, VenueTiming};
use crate::runtime::runner::{Chain, RunnerOutput, RunnerSnapshot};
use crate::stages::{Control, ReportSource};
use crate::sys::edge::Emit;
use crate::venue::runner::VenueReport;
use crate::venue::{SimVenue, Venue};

/// The venue and the reports it has made that risk has not yet read.
struct Shared<V> {
    venue: V,
    reports: VecDeque<ExecReport>,
}

/// Routing's output when the venue runs inline.
pub struct InlineVenue<V: Venue = SimVenue> {
    shared: Rc<RefCell<Shared<V>>>,
}

/// Risk's report source when the venue runs inline.
pub struct InlineReports<V: Venue = SimVenue> {
    shared: Rc<RefCell<Shared<V>>>,
}

/// A venue and the report source that reads it; `capacity` pre-sizes the report queue.
pub fn inline_venue<V: Venue>(venue: V, capacity: usize) -> (InlineVenue<V>, InlineReports<V>) {
    let shared = Rc::new(RefCell::new(Shared {
        venue,
        reports: VecDeque::with_capacity(capacity),
    }));
    (
        InlineVenue {
            shared: Rc::clone(&shared),
        },
        InlineReports { shared },
    )
}

impl<V: Venue> Emit<VenueCommand> for InlineVenue<V> {
    #[inline]
    fn emit(&mut self, command: VenueCommand) {
        let shared = &mut *self.shared.borrow_mut();
        shared.venue.on_command(command, &mut shared.reports);
    }
}

impl<V: Venue> Chain for InlineVenue<V> {
    fn batch_end(&mut self) {}
    fn control(&mut self, _control: Control) {}
    fn end(&mut self) {}

    /// The venue's counters, as the venue runner reports them. Reports wait in a queue
    /// that grows as needed, not an outbox in front of a ring: no outbox to report.
    fn finish(self, out: &mut RunnerOutput) {
        out.venue = Some(VenueReport {
            stats: self.shared.borrow().venue.stats().clone(),
            ..VenueReport::default()
        });
    }

    fn shape(&self, into: &mut RunnerSnapshot) {
        into.output.venue = Some(VenueReport {
            stats: self.shared.borrow().venue.stats().clone(),
            ..VenueReport::default()
        });
    }

    fn publish(&self, into: &mut RunnerSnapshot, _depth: usize) {
        if let Some(report) = &mut into.output.venue {
            report.stats.clone_from(self.shared.borrow().venue.stats());
        }
    }
}

impl<V: Venue> ReportSource for InlineReports<V> {
    const TIMING: VenueTiming = V::TIMING;
    const PACING: Option<u32> = V::PACING;

    #[inline]
    fn drain_into(&mut self, sink: &mut VecDeque<ExecReport>) -> usize {
        let shared = &mut *self.shared.borrow_mut();
        shared.venue.poll(&mut shared.reports);
        shared.reports.drain_into(sink)
    }

    /// An event-time venue placed inline answers every command before `emit` returns,
    /// so a report that is not here yet never will be. An asynchronous one (a broker)
    /// reports on its own time, through the `poll` that `drain_into` calls: an empty
    /// queue says nothing about what is still coming, so it is never finished here, and
    /// risk waits for its `EndOfSession` (which it owes even when the broker goes
    /// silent: the IBKR venue sends it at its end-of-session deadline).
    fn is_finished(&self) -> bool {
        V::TIMING == VenueTiming::EventTime && self.shared.borrow().reports.is_empty()
    }
}
