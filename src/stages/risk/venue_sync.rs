//! Synchronisation with the venue, in the mode its [`ReportSource::TIMING`] names.
//!
//! An **asynchronous** venue (a live broker) sends reports when things happen and
//! vouches for no time: risk applies every report received, in arrival order, before
//! each decision ([`VenueSync::next_to_apply`]), never sends a `Watermark` and never
//! waits. Decisions then depend on when reports arrive, as they do in live trading.
//!
//! An **event-time** venue (the simulated exchange) has its reports applied merged with
//! signals by event time, never by arrival, so a replay decides the same whatever the
//! threads did. The contract (the simulated venue implements the other side):
//! - risk's commands are in non-decreasing `ts_event`; one sent at `t` reaches the venue
//!   at `t + L`, `L ≥ 1`;
//! - reports reach the shard in non-decreasing `ts_event`;
//! - `Watermark { ts_event: W }` promises no earlier command will follow; the venue
//!   answers with an [`ExecKind::Watermark`] report at `W + L`, sent after every report
//!   with an earlier event time.
//!
//! So once a watermark report with time `V` has been received, every report with
//! `ts_event < V` is already here ([`VenueSync::covers`]). Before deciding at `T` with
//! orders live, risk needs `V > T`. With no order live no report can come, so there is
//! no round trip at all.
//!
//! Asking only once `V ≤ T` would make every request a wait: a cross-thread round trip
//! per `L` of event time (98 977 of them replaying the 2M-message sample, each one a
//! stall while the venue thread gets scheduled). So risk keeps one request in flight
//! ahead of need: it learns the venue's lead `V − W` from the first answer and asks
//! again once half of it is used ([`VenueSync::should_request`]); the answer is then
//! usually back before event time reaches it, and [`VenueSync::await_answer`] rarely
//! waits. Extra watermarks change no report (the venue's property tests check it).

use std::collections::VecDeque;

use crate::msg::{ExecKind, ExecReport, VenueTiming};
use crate::stages::ReportSource;

/// Reports the inbox holds without allocating: what one drain can bring (the venue →
/// risk ring's capacity) plus what waits for a later signal (a few per live order). A
/// ring larger than this would make the inbox grow on the hot path.
pub const INBOX_CAPACITY: usize = 4096;

/// Received reports not yet applied, and how far the venue has vouched for.
#[derive(Debug)]
pub struct VenueSync {
    inbox: VecDeque<ExecReport>,
    /// Every report with an earlier `ts_event` has been received.
    watermark: u64,
    /// `Some(W)` while a `Watermark { W }` request is unanswered; one at a time.
    in_flight: Option<u64>,
    /// The venue's lead, `V − W`, learnt from the last answer; 0 until one arrives.
    lead: u64,
}

impl Default for VenueSync {
    fn default() -> VenueSync {
        VenueSync {
            inbox: VecDeque::with_capacity(INBOX_CAPACITY),
            watermark: 0,
            in_flight: None,
            lead: 0,
        }
    }
}

impl VenueSync {
    /// Moves every available report into the inbox and notes the watermarks among them.
    /// A watermark counts as soon as it is received, even behind reports not yet due:
    /// they were all sent before it, so they are all here.
    #[inline]
    pub fn receive<R: ReportSource>(&mut self, source: &mut R) {
        let before = self.inbox.len();
        if source.drain_into(&mut self.inbox) == 0 {
            return;
        }
        for r in self.inbox.range(before..) {
            if r.kind == ExecKind::Watermark {
                self.watermark = self.watermark.max(r.stamp.ts_event);
                if let Some(asked) = self.in_flight.take() {
                    self.lead = r.stamp.ts_event.saturating_sub(asked);
                }
            }
        }
    }

    /// Nothing received and nothing asked for yet.
    pub fn is_empty(&self) -> bool {
        self.inbox.is_empty() && self.watermark == 0 && self.in_flight.is_none()
    }

    /// Every report with `ts_event ≤ t` has been received.
    #[inline]
    pub fn covers(&self, t: u64) -> bool {
        self.watermark > t
    }

    /// Whether to ask for a watermark at `t` now: none is in flight, and less than half
    /// the venue's lead of coverage is left (all of it gone, until the lead is known).
    #[inline]
    pub fn should_request(&self, t: u64) -> bool {
        self.in_flight.is_none() && t.saturating_add(self.lead / 2) >= self.watermark
    }

    /// A `Watermark { t }` request was sent.
    #[inline]
    pub fn requested(&mut self, t: u64) {
        self.in_flight = Some(t);
    }

    /// Waits for the answer to the request in flight.
    ///
    /// # Panics
    /// If the venue's stream ends first: the venue is gone, so no decision at `t` could
    /// ever be made correctly. The runtime turns the panic into a pipeline failure that
    /// names the stage.
    pub fn await_answer<R: ReportSource>(&mut self, source: &mut R, t: u64) {
        loop {
            self.receive(source);
            if self.in_flight.is_none() {
                return;
            }
            if source.is_finished() {
                venue_gone("the watermark", t);
            }
            source.idle();
        }
    }

    /// The next report due at or before `t`, in arrival (= event time) order.
    #[inline]
    pub fn next_due(&mut self, t: u64) -> Option<ExecReport> {
        match self.inbox.front() {
            Some(r) if r.stamp.ts_event <= t => self.inbox.pop_front(),
            _ => None,
        }
    }

    /// The next report to apply before deciding at `t`: the next one due at or before
    /// `t` from an event-time venue; the next one received, whatever its time, from an
    /// asynchronous one.
    #[inline]
    pub fn next_to_apply<R: ReportSource>(&mut self, t: u64) -> Option<ExecReport> {
        match R::TIMING {
            VenueTiming::EventTime => self.next_due(t),
            VenueTiming::Asynchronous => self.next_any(),
        }
    }

    /// The next report, whatever its time (end of session).
    #[inline]
    pub fn next_any(&mut self) -> Option<ExecReport> {
        self.inbox.pop_front()
    }
}

/// Panics for a venue whose report stream ended while risk still waited on it.
#[cold]
pub fn venue_gone(what: &str, t: u64) -> ! {
    panic!(
        "risk: the venue's report stream ended while waiting for {what} at ts_event {t}; \
         the venue is gone, so orders and positions can no longer be known"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Stamp;

    fn report(kind: ExecKind, ts_event: u64) -> ExecReport {
        ExecReport::session(
            kind,
            Stamp {
                ts_recv: 0,
                ts_event,
            },
        )
    }

    #[test]
    fn a_watermark_behind_later_reports_still_counts() {
        let mut sync = VenueSync::default();
        let mut source: VecDeque<ExecReport> = [
            report(ExecKind::Ack, 5),
            report(ExecKind::Ack, 12),
            report(ExecKind::Watermark, 15),
        ]
        .into();
        assert!(!sync.covers(0));
        sync.receive(&mut source);
        assert!(sync.covers(14));
        assert!(!sync.covers(15));
        assert_eq!(sync.next_due(10).unwrap().stamp.ts_event, 5);
        assert_eq!(sync.next_due(10), None, "12 is not due at 10");
        assert_eq!(sync.next_any().unwrap().stamp.ts_event, 12);
    }

    #[test]
    fn the_lead_is_learnt_and_the_next_request_goes_out_at_half_of_it() {
        let mut sync = VenueSync::default();
        assert!(sync.should_request(0), "nothing vouched for yet");
        sync.requested(100);
        assert!(!sync.should_request(100), "one request in flight at a time");
        let mut source: VecDeque<ExecReport> = [report(ExecKind::Watermark, 150)].into();
        sync.await_answer(&mut source, 100);
        assert!(sync.covers(149) && !sync.covers(150));
        assert!(
            !sync.should_request(124),
            "more than half of the 50 ns lead left"
        );
        assert!(sync.should_request(125));
    }

    #[test]
    #[should_panic(expected = "venue is gone")]
    fn waiting_on_a_finished_stream_panics() {
        let mut sync = VenueSync::default();
        let mut source: VecDeque<ExecReport> = [report(ExecKind::Ack, 5)].into();
        sync.requested(10);
        sync.await_answer(&mut source, 10);
    }
}
