//! The simulated venue called directly on the shard's own thread, for single-core
//! measurement (bench `fused_replay`): routing's output goes straight into the
//! [`SimVenue`], whose reports wait in a queue the risk stage reads.
//!
//! Decisions are the same as with the venue on its own thread — the protocol is in event
//! time — but nothing crosses a core, so what is measured is the stages' compute alone.
//! Single-threaded by construction (`Rc`): it cannot be handed to a runner thread.
//! Used by the benches and by [`crate::runtime::inline_run`].

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::msg::{ExecReport, VenueCommand};
use crate::runtime::runner::{Chain, RunnerOutput};
use crate::stages::{Control, ReportSource};
use crate::sys::edge::Emit;
use crate::venue::SimVenue;
use crate::venue::runner::VenueReport;

/// Routing's output when the venue runs inline.
pub struct InlineVenue {
    venue: SimVenue,
    reports: Rc<RefCell<VecDeque<ExecReport>>>,
}

/// Risk's report source when the venue runs inline.
pub struct InlineReports {
    reports: Rc<RefCell<VecDeque<ExecReport>>>,
}

/// A venue and the report source that reads it; `capacity` pre-sizes the report queue.
pub fn inline_venue(venue: SimVenue, capacity: usize) -> (InlineVenue, InlineReports) {
    let reports = Rc::new(RefCell::new(VecDeque::with_capacity(capacity)));
    (
        InlineVenue {
            venue,
            reports: Rc::clone(&reports),
        },
        InlineReports { reports },
    )
}

impl Emit<VenueCommand> for InlineVenue {
    #[inline]
    fn emit(&mut self, command: VenueCommand) {
        self.venue
            .on_command(command, &mut *self.reports.borrow_mut());
    }
}

impl Chain for InlineVenue {
    fn batch_end(&mut self) {}
    fn control(&mut self, _control: Control) {}
    fn end(&mut self) {}

    /// The venue's counters, as the venue runner reports them. Reports wait in a queue
    /// that grows as needed, not an outbox in front of a ring: no outbox to report.
    fn finish(self, out: &mut RunnerOutput) {
        out.venue = Some(VenueReport {
            stats: self.venue.stats().clone(),
            ..VenueReport::default()
        });
    }
}

impl ReportSource for InlineReports {
    #[inline]
    fn drain_into(&mut self, sink: &mut VecDeque<ExecReport>) -> usize {
        self.reports.borrow_mut().drain_into(sink)
    }

    /// The venue answers every command before `emit` returns, so a report that is not
    /// here yet never will be.
    fn is_finished(&self) -> bool {
        self.reports.borrow().is_empty()
    }
}
