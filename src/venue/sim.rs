//! The simulated exchange: one shard's venue, running in event time.
//!
//! It never reads a clock. Time is the commands' `ts_event`, which arrive in
//! non-decreasing order (the source makes event time non-decreasing, and risk never
//! sends a command before its own clock). A command earlier than the last breaks that
//! promise; it is handled at the venue's current time and counted
//! (`VenueStats::time_regressions`, 0 in every correct run), so hostile input can skew a
//! fill's time but never stop the pipeline. With `L` the configured latency:
//!
//! - A `New`, `Cancel` or `CancelAll` sent at `t` arrives at `t + L`.
//! - A `Tick` at `u` is the market for its symbol from `u` on.
//! - An arrival at `a` is handled after every tick at or before `a` and before any tick
//!   after it. The venue cannot know that no tick at `a` is still to come until it sees
//!   an item later than `a`, so on a command at `t` it first handles the arrivals before
//!   `t`, then the command; an arrival at exactly `t` waits for a later item.
//! - Every report of a venue event at `v` (an arrival, or a tick) is stamped `v + L`, its
//!   time at the shard. Events are handled in time order, so reports leave in
//!   non-decreasing `ts_event`.
//! - A `Watermark` at `W` promises no command before `W`. The venue handles the arrivals
//!   before `W` and answers at `W + L`: later events are at `W` or after, so every report
//!   stamped before `W + L` has been sent. Risk uses this to know it has seen every fill
//!   up to a tick before it decides on that tick; it is also why `L` must be at least 1.
//! - `EndOfSession` at `t` ends the stream: every arrival still in flight is handled,
//!   then every resting order cancelled, stamped at the last event plus `L`.
//!
//! Matching is in `exchange`; storage is sized at construction and no path allocates.

use super::exchange::Exchange;
use super::in_flight::{Action, InFlight, InFlightQueue};
use super::reporter::{CancelCause, Reporter};
use super::stats::VenueStats;
use super::{SimConfig, Venue, VenueSetup};
use crate::msg::{ExecReport, Stamp, VenueCommand, VenueTiming};
use crate::sys::edge::Emit;

/// One shard's simulated venue.
pub struct SimVenue {
    latency_ns: u64,
    exchange: Exchange,
    in_flight: InFlightQueue,
    stats: VenueStats,
    /// `ts_event` of the latest command; an earlier one is handled at this time.
    now: u64,
    /// Arrival time of the latest command handled.
    last_arrival: u64,
    finished: bool,
}

impl SimVenue {
    /// A venue for the symbols `0..universe_len`, with room for `capacity` resting orders:
    /// the most orders the shard may have open at once (risk's limit).
    ///
    /// # Panics
    /// If `config.latency_ns` is 0, which [`SimConfig::validate`] rejects.
    pub fn new(universe_len: usize, config: &SimConfig, capacity: usize) -> SimVenue {
        assert!(
            config.latency_ns >= 1,
            "simulated venue: latency_ns must be at least 1 (see SimConfig::validate)"
        );
        SimVenue {
            latency_ns: config.latency_ns,
            exchange: Exchange::new(universe_len, capacity),
            in_flight: InFlightQueue::new(capacity),
            stats: VenueStats::default(),
            now: 0,
            last_arrival: 0,
            finished: false,
        }
    }

    /// The simulated exchange of the config's `[venue]`, sized for the shard.
    ///
    /// # Panics
    /// If `[venue]` is not the simulated exchange's shape (`kind = "ibkr"`), which
    /// validation against [`SimVenue::KIND`] refuses before an engine is built.
    pub fn from_setup(setup: &VenueSetup<'_>) -> SimVenue {
        let config = setup
            .config
            .sim()
            .expect("[venue] was validated against kind \"sim\"");
        SimVenue::new(setup.universe_len, config, setup.capacity)
    }

    /// Handles the shard's next command, emitting the reports it makes due.
    ///
    /// A command earlier than the one before is handled at the time of the one before,
    /// and counted.
    ///
    /// # Panics
    /// On a stream risk never sends: a command after `EndOfSession`, a symbol outside
    /// the universe, or more resting orders or commands in flight than `capacity`
    /// allows. Each would silently break the event-time promises, so the venue stops
    /// the pipeline instead.
    pub fn on_command<O: Emit<ExecReport>>(&mut self, cmd: VenueCommand, out: &mut O) {
        assert!(
            !self.finished,
            "simulated venue: {cmd:?} after EndOfSession"
        );
        let mut stamp = cmd.stamp();
        if stamp.ts_event < self.now {
            self.stats.time_regressions += 1;
            stamp.ts_event = self.now;
        }
        let t = stamp.ts_event;
        self.now = t;
        self.stats.commands.count(&cmd);

        while let Some(arrival) = self.in_flight.pop_before(t) {
            self.arrive(arrival, out);
        }
        match cmd {
            VenueCommand::New { order, .. } => self.send(stamp, Action::New(order)),
            VenueCommand::Cancel { cl_ord_id, .. } => self.send(stamp, Action::Cancel(cl_ord_id)),
            VenueCommand::CancelAll { .. } => self.send(stamp, Action::CancelAll),
            VenueCommand::Tick { view } => {
                let mut rep = Reporter::new(out, &mut self.stats, t + self.latency_ns);
                self.exchange.tick(&view, &mut rep);
            }
            VenueCommand::Watermark { .. } => {
                Reporter::new(out, &mut self.stats, t + self.latency_ns).watermark(stamp.ts_recv);
            }
            VenueCommand::EndOfSession { .. } => self.end_session(stamp, out),
        }
    }

    /// True once `EndOfSession` has been handled: its report was the last.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn send(&mut self, stamp: Stamp, action: Action) {
        self.in_flight.push(InFlight {
            arrival: stamp.ts_event + self.latency_ns,
            ts_recv: stamp.ts_recv,
            action,
        });
    }

    fn arrive<O: Emit<ExecReport>>(&mut self, cmd: InFlight, out: &mut O) {
        self.last_arrival = cmd.arrival;
        let mut rep = Reporter::new(out, &mut self.stats, cmd.arrival + self.latency_ns);
        self.exchange.arrive(cmd, &mut rep);
    }

    fn end_session<O: Emit<ExecReport>>(&mut self, stamp: Stamp, out: &mut O) {
        while let Some(arrival) = self.in_flight.pop() {
            self.arrive(arrival, out);
        }
        let end = stamp.ts_event.max(self.last_arrival);
        let mut rep = Reporter::new(out, &mut self.stats, end + self.latency_ns);
        self.exchange
            .cancel_all(CancelCause::EndOfSession, &mut rep);
        rep.end_of_session(stamp.ts_recv);
        self.finished = true;
    }
}

impl Venue for SimVenue {
    const KIND: &'static str = "sim";
    const TIMING: VenueTiming = VenueTiming::EventTime;

    #[inline]
    fn on_command<O: Emit<ExecReport>>(&mut self, command: VenueCommand, out: &mut O) {
        SimVenue::on_command(self, command, out);
    }

    #[inline]
    fn poll<O: Emit<ExecReport>>(&mut self, _out: &mut O) -> bool {
        false
    }

    fn stats(&self) -> &VenueStats {
        &self.stats
    }

    /// Nothing to settle: this venue lives in the process, so its state died with it, and
    /// the resumed replay feeds it every journaled command again in event time, which
    /// rebuilds it exactly (an event-time venue's reports are not journaled, so the
    /// journal never lists one of its orders as in flight).
    fn reconcile(
        &mut self,
        in_flight: &[crate::msg::InFlightOrder],
        _positions: &[(crate::msg::SymbolId, i64)],
    ) -> Result<(), super::ReconcileError> {
        debug_assert!(
            in_flight.is_empty(),
            "an event-time venue has nothing in flight"
        );
        Ok(())
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
