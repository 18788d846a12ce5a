//! The five stages, in pipeline order:
//!
//! ```text
//!  source ─RawFrame─▶ decode ─MarketEvent─▶ features ─Features─▶ inference ─Signal─▶ risk ─VenueCommand─▶ routing ─▶ venue
//!                                                                                      ▲                             │
//!                                                                                      └──────── ExecReport ◀────────┘
//! ```
//!
//! A stage is a single-threaded state machine: an event in, zero or more events out
//! through an [`Emit`]. It knows nothing of threads, rings or clocks it was not given, so
//! a runner can call several stages directly on one thread (fused) or put a ring between
//! each (staged) without changing a decision. Unit tests call stages directly with a
//! `Vec` as the [`Emit`].

pub mod coordinator;
pub mod decode;
pub mod features;
pub mod inference;
pub mod journal;
pub mod list;
pub mod reject;
pub mod report;
pub mod risk;
pub mod routing;
pub mod status;

pub use self::report::ShardReport;
use crate::msg::{ExecReport, Stamped, SymbolId, VenueTiming};
use crate::sys::TradingState;
use crate::sys::edge::Emit;

/// Control-plane events. Every runner delivers its control ring's events to its stages
/// before it reads any data, so a halt overtakes queued market data.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// The firm-wide trading state changed. The latch ([`crate::sys::TradingLatch`]) was
    /// set before this was sent; routing answers `Halted` by cancelling open orders.
    TradingState(TradingState),
    /// An operator re-enables what a latched control stopped; risk journals it, so a
    /// restart applies it at the same input position.
    Operator(Operator),
    /// An operator asked for the shard's state (`tickpipe ctl status`): risk posts a
    /// snapshot of its report to the [`status::StatusBoard`] under this request number.
    /// Only risk answers; every other stage ignores it.
    Status(u64),
    /// An operator's directive to each shard's coordinator (`ctl level`, `ctl schedule
    /// add`); risk journals it and applies it after its latest decision.
    Coordinator(coordinator::Directive),
}

/// An operator's command to lift a latched control (`stages::risk`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Operator {
    /// Clears `symbol`'s repeated-execution latch (`REPEATED_EXECUTIONS`).
    Reenable { symbol: SymbolId },
    /// Clears every symbol's latch and resets the firm-wide latch to `Active` (after a
    /// `MESSAGE_RATE` ceiling halt, or any other).
    ResumeAll,
}

/// A single-threaded pipeline stage.
pub trait Stage {
    type In: Copy + Stamped;
    type Out: Copy;
    /// The stage's name in reports, histograms and failure messages.
    const NAME: &'static str;

    /// Handles one event.
    fn on_event<O: Emit<Self::Out>>(&mut self, event: Self::In, out: &mut O);

    /// Called after the last event of a batch read from a ring, so a stage can flush once
    /// (disruptor-rs's end-of-batch flag). No stage batches its output yet: every edge
    /// publishes each item as it is emitted, which risk's watermark wait relies on.
    fn on_batch_end<O: Emit<Self::Out>>(&mut self, _out: &mut O) {}

    /// Handles a control event.
    fn on_control<O: Emit<Self::Out>>(&mut self, _control: Control, _out: &mut O) {}

    /// The input has ended and every event has been handled: emit what is owed.
    fn on_end<O: Emit<Self::Out>>(&mut self, _out: &mut O) {}

    /// Adds this stage's counters and state to the shard's report.
    fn report(&self, report: &mut ShardReport);

    /// Overwrites this stage's part of `report` with its counters and state now, in
    /// place. `report` was shaped by one [`Stage::report`] at start-up, so this allocates
    /// nothing: runners call it from the hot path to publish metrics
    /// (`runtime::metrics`).
    fn publish(&self, report: &mut ShardReport);
}

/// Where risk reads execution reports. In the pipeline this is the venue → risk ring;
/// tests use a `VecDeque`.
pub trait ReportSource {
    /// How the venue behind it keeps time; risk is monomorphised over it, so the mode
    /// costs no branch per signal.
    const TIMING: VenueTiming;
    /// The venue's message pacing ([`crate::venue::Venue::PACING`]).
    const PACING: Option<u32> = None;
    /// Moves every report available now into `sink`, in order; returns how many.
    fn drain_into(&mut self, sink: &mut std::collections::VecDeque<ExecReport>) -> usize;
    /// True once the venue has closed its end and every report has been taken: no more
    /// will ever arrive.
    fn is_finished(&self) -> bool;
    /// Called while waiting for a report that has not arrived: spin, yield or park as
    /// the runner's idle strategy says.
    fn idle(&mut self) {}
}

/// A scripted event-time venue, for tests.
impl ReportSource for std::collections::VecDeque<ExecReport> {
    const TIMING: VenueTiming = VenueTiming::EventTime;

    fn drain_into(&mut self, sink: &mut std::collections::VecDeque<ExecReport>) -> usize {
        let n = self.len();
        sink.extend(self.drain(..));
        n
    }

    fn is_finished(&self) -> bool {
        self.is_empty()
    }
}
