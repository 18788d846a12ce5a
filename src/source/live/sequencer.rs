//! The sequencer: puts MoldUDP64 packets back into sequence order, finds gaps, says
//! what to re-request and when, and gives a gap up when its deadline passes.
//!
//! It is a state machine with no sockets and no clock of its own — packets and the
//! time come in, messages and stale notices go out to a [`Sink`], requests come back
//! from [`Sequencer::poll`] — so every recovery path is unit-tested here without a
//! network.
//!
//! State: `expected`, the next message to apply; `high_water`, one past the highest
//! message any believed packet or heartbeat has shown to exist. A gap is open while
//! `expected < high_water`. Packets beyond `expected` wait in the [`Reorder`] buffer.
//! A gap's deadline runs from when the hole at `expected` was first seen, and restarts
//! when `expected` moves: a recovery that keeps making progress is never cut short,
//! one that stalls is given up within `recovery_timeout` of its last progress. Giving
//! up skips to the next held packet (or to `high_water`), counts what was skipped as
//! lost, and sends every shard a stale notice.
//!
//! MoldUDP64 carries no checksum, so a sequence number can only be sanity-checked: a
//! packet more than `max_gap` ahead of `expected` is believed only when the next such
//! packet agrees with it (a lone one is most likely corrupt). Once believed, a gap that
//! wide is given up at once rather than re-requested: the receiver is that far behind.
//!
//! End of session ends the run, so it needs the same proof. One whose number is ahead
//! of what has been applied is believed only when a second end of session agrees with
//! it (the server repeats it while it lingers); until then it opens no gap and ends
//! nothing, since one forged packet would otherwise cut the session short. Once
//! believed, the messages before it are recovered like any gap before the run ends. One
//! never confirmed is counted as malformed (`end_unconfirmed`) with its number.

use super::FeedStats;
use super::reorder::{Held, Refused, Reorder};
use crate::codec::itch;
use crate::codec::mold::{BLOCK_PREFIX_LEN, Packet, PacketKind, Request, Session};

/// Why messages were given up.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Loss {
    /// The gap is wider than the source re-requests: given up at once.
    BeyondReach,
    /// Recovery did not complete within its deadline.
    TimedOut,
}

/// Where the sequencer's output goes: the shard router in the pipeline.
pub trait Sink {
    /// One message, in sequence order. `offset` is its position in the stream as
    /// applied, counted as in a NASDAQ file (each message plus a 2-byte length), so it
    /// equals the message's offset in the file the session was played from as long as
    /// nothing was lost.
    fn message(&mut self, offset: u64, msg: &[u8], ts_recv: u64);
    /// Messages were given up: every symbol goes stale from here on.
    fn stale(&mut self, ts_event: u64, ts_recv: u64);
}

/// Which socket a datagram came in on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Feed,
    Recovery,
}

/// Limits and deadlines: the [`LiveConfig`](super::LiveConfig) keys of the same names,
/// times in nanoseconds.
#[derive(Copy, Clone, Debug)]
pub struct Limits {
    /// `max_gap_messages`.
    pub max_gap: u64,
    /// `max_request_messages`.
    pub max_request: u16,
    pub request_interval_ns: u64,
    pub recovery_timeout_ns: u64,
    pub reorder_slots: usize,
    pub reorder_slot_bytes: usize,
}

/// The open gap's deadline.
#[derive(Copy, Clone, Debug)]
struct Hole {
    /// `expected` when this hole was first seen; a different `expected` is a new hole.
    at: u64,
    since_ns: u64,
}

/// The last request sent.
#[derive(Copy, Clone, Debug)]
struct Asked {
    /// One past the last message asked for.
    end: u64,
    at_ns: u64,
}

/// An end of session not yet believed, and the datagram it came in.
#[derive(Copy, Clone, Debug)]
struct EndAhead {
    sequence: u64,
    datagram: (&'static str, u64),
}

/// Where the applied stream stands.
struct Cursor {
    expected: u64,
    offset: u64,
    /// Exchange time of the last message applied: where a stale notice sits in time.
    last_ts_event: u64,
}

pub struct Sequencer {
    session: Session,
    limits: Limits,
    cursor: Cursor,
    high_water: u64,
    /// The end-of-session packet's sequence number, once believed.
    end: Option<u64>,
    /// An end of session ahead of what was applied, waiting for a second to agree.
    end_ahead: Option<EndAhead>,
    /// First sequence number of the last packet seen beyond `max_gap`, not yet believed.
    far: Option<u64>,
    hole: Option<Hole>,
    asked: Option<Asked>,
    reorder: Reorder,
    stats: FeedStats,
}

impl Sequencer {
    /// Waits for message 1: a late start recovers the session from its beginning.
    pub fn new(session: Session, limits: Limits) -> Sequencer {
        Sequencer {
            session,
            limits,
            cursor: Cursor {
                expected: 1,
                offset: 0,
                last_ts_event: 0,
            },
            high_water: 1,
            end: None,
            end_ahead: None,
            far: None,
            hole: None,
            asked: None,
            reorder: Reorder::new(limits.reorder_slots, limits.reorder_slot_bytes),
            stats: FeedStats::default(),
        }
    }

    /// The next message to apply.
    pub fn expected(&self) -> u64 {
        self.cursor.expected
    }

    /// True once the end of session was seen and every message before it applied or
    /// given up.
    pub fn is_done(&self) -> bool {
        self.end.is_some_and(|end| self.cursor.expected >= end)
    }

    pub fn stats(&self) -> &FeedStats {
        &self.stats
    }

    pub fn stats_mut(&mut self) -> &mut FeedStats {
        &mut self.stats
    }

    /// One datagram, received at `ts_recv`.
    pub fn on_datagram<S: Sink>(
        &mut self,
        datagram: &[u8],
        origin: Origin,
        ts_recv: u64,
        sink: &mut S,
    ) {
        match origin {
            Origin::Feed => self.stats.packets += 1,
            Origin::Recovery => self.stats.recovery_packets += 1,
        }
        let packet = match Packet::parse(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed(origin, e.offset(), e.kind(), e);
                return;
            }
        };
        if packet.session != self.session {
            self.stats.malformed(
                origin,
                0,
                "wrong_session",
                format_args!(
                    "byte 0: session \"{}\", expected \"{}\"",
                    packet.session, self.session
                ),
            );
            return;
        }
        let sequence = packet.sequence;
        match packet.kind {
            PacketKind::Heartbeat => {
                self.stats.heartbeats += 1;
                if self.believe(sequence, ts_recv, sink) {
                    self.note_known(sequence, sequence);
                }
            }
            PacketKind::EndOfSession => self.on_end(sequence, origin, ts_recv, sink),
            PacketKind::Messages { .. } => {
                self.on_messages(&packet, datagram, origin, ts_recv, sink)
            }
        }
    }

    fn on_end<S: Sink>(&mut self, sequence: u64, origin: Origin, ts_recv: u64, sink: &mut S) {
        if self.end.is_some() {
            self.stats.end_of_session += 1;
            return;
        }
        let known = self.high_water.max(self.cursor.expected);
        if sequence < known {
            self.stats.malformed(
                origin,
                10,
                "end_before_received",
                format_args!(
                    "byte 10: end of session at message {sequence}, but messages up to {} were received",
                    known - 1
                ),
            );
            return;
        }
        self.stats.end_of_session += 1;
        let confirmed = self.end_ahead.is_some_and(|e| e.sequence == sequence);
        if sequence > self.cursor.expected && !confirmed {
            let datagram = self.stats.datagram_at(origin);
            if let Some(earlier) = self.end_ahead.replace(EndAhead { sequence, datagram }) {
                self.unconfirmed(earlier);
            }
            return;
        }
        if let Some(earlier) = self.end_ahead.take()
            && earlier.sequence != sequence
        {
            self.unconfirmed(earlier);
        }
        if self.believe(sequence, ts_recv, sink) {
            self.note_known(sequence, sequence);
            self.end = Some(sequence);
        }
    }

    /// Counts an end of session that no second one confirmed.
    fn unconfirmed(&mut self, end: EndAhead) {
        self.stats.malformed_in(
            end.datagram,
            10,
            "end_unconfirmed",
            format_args!(
                "byte 10: end of session at message {}, ahead of the stream and never repeated; not believed",
                end.sequence
            ),
        );
    }

    /// The run is over: an end of session still waiting for confirmation never got it.
    pub fn finish(&mut self) {
        if let Some(end) = self.end_ahead.take() {
            self.unconfirmed(end);
        }
    }

    fn on_messages<S: Sink>(
        &mut self,
        packet: &Packet<'_>,
        datagram: &[u8],
        origin: Origin,
        ts_recv: u64,
        sink: &mut S,
    ) {
        if packet.next_sequence() <= self.cursor.expected {
            self.stats.duplicate_packets += 1;
            return;
        }
        if !self.believe(packet.sequence, ts_recv, sink) {
            return;
        }
        self.note_known(packet.sequence, packet.next_sequence());
        if packet.sequence <= self.cursor.expected {
            apply(
                &mut self.cursor,
                &mut self.stats,
                packet,
                origin,
                ts_recv,
                sink,
            );
            self.release(sink);
            return;
        }
        let held = Held {
            sequence: packet.sequence,
            len: datagram.len(),
            ts_recv,
            recovered: origin == Origin::Recovery,
        };
        match self.reorder.insert(datagram, held) {
            Ok(()) => {
                self.stats.held += 1;
                self.stats.held_high_water = self.stats.held_high_water.max(self.reorder.len());
            }
            Err(Refused::Full) => self.stats.overflow += 1,
            Err(Refused::TooLong) => self.stats.too_long_to_hold += 1,
        }
    }

    /// Whether a packet whose first (or next) message is `sequence` may be believed.
    /// Within `max_gap` of `expected` it is. Further ahead it is believed only when the
    /// previous such packet agrees (the stream really moved on); then the messages up to
    /// it are given up at once, since they are more than the source re-requests.
    fn believe<S: Sink>(&mut self, sequence: u64, ts_recv: u64, sink: &mut S) -> bool {
        if sequence.saturating_sub(self.cursor.expected) <= self.limits.max_gap {
            // In-window traffic: a far-ahead packet seen earlier was not the stream moving
            // on, so it must not vouch for a later one.
            self.far = None;
            return true;
        }
        match self.far {
            Some(prev) if sequence >= prev && sequence - prev <= self.limits.max_gap => {
                self.far = None;
                self.reorder.clear();
                self.give_up(sequence, Loss::BeyondReach, ts_recv, sink);
                true
            }
            _ => {
                self.far = Some(sequence);
                self.stats.out_of_window += 1;
                false
            }
        }
    }

    /// A believed packet shows messages `sequence..next` exist: a gap if `sequence` is
    /// beyond everything known.
    fn note_known(&mut self, sequence: u64, next: u64) {
        let known = self.high_water.max(self.cursor.expected);
        if sequence > known {
            self.stats.gaps += 1;
            self.stats.gap_messages += sequence - known;
        }
        self.high_water = self.high_water.max(next);
    }

    /// Applies held packets that are now in sequence.
    fn release<S: Sink>(&mut self, sink: &mut S) {
        while self
            .reorder
            .first_sequence()
            .is_some_and(|s| s <= self.cursor.expected)
        {
            let Some((held, slot)) = self.reorder.pop() else {
                break;
            };
            // Parsed once on arrival; parsing again is a bounds walk over the blocks and
            // keeps no borrowed packet alive across the buffer's mutation.
            let Ok(packet) = Packet::parse(self.reorder.bytes(slot, held.len)) else {
                continue;
            };
            if packet.next_sequence() <= self.cursor.expected {
                self.stats.duplicate_packets += 1;
                continue;
            }
            let origin = if held.recovered {
                Origin::Recovery
            } else {
                Origin::Feed
            };
            apply(
                &mut self.cursor,
                &mut self.stats,
                &packet,
                origin,
                held.ts_recv,
                sink,
            );
        }
    }

    /// Timers, at `now_ns`: gives up a gap past its deadline, or says what to request.
    ///
    /// A request goes out when a gap opens, again as soon as everything asked for has
    /// arrived while a gap remains, and otherwise every `request_interval` (an answer
    /// may be lost too). Not on every bit of progress: answers arrive a packet at a
    /// time, and asking again at each would have the server resend what is already on
    /// its way — measured on loopback at 1 M msgs/s with 2% drops, that wasted 16 of
    /// every 17 messages retransmitted.
    pub fn poll<S: Sink>(&mut self, now_ns: u64, sink: &mut S) -> Option<Request> {
        let expected = self.cursor.expected;
        if expected >= self.high_water {
            self.hole = None;
            self.asked = None;
            return None;
        }
        let hole = match self.hole {
            Some(h) if h.at == expected => h,
            _ => Hole {
                at: expected,
                since_ns: now_ns,
            },
        };
        self.hole = Some(hole);
        let gap_end = self.gap_end();
        if now_ns.saturating_sub(hole.since_ns) >= self.limits.recovery_timeout_ns {
            self.give_up(gap_end, Loss::TimedOut, now_ns, sink);
            self.release(sink);
            return None;
        }
        let due = self.asked.is_none_or(|a| {
            expected >= a.end || now_ns.saturating_sub(a.at_ns) >= self.limits.request_interval_ns
        });
        if !due {
            return None;
        }
        let count = (gap_end - expected).min(u64::from(self.limits.max_request));
        self.asked = Some(Asked {
            end: expected + count,
            at_ns: now_ns,
        });
        self.stats.requests += 1;
        Some(Request {
            session: self.session,
            sequence: expected,
            count: count as u16,
        })
    }

    /// Gives up every message before `resume`: every symbol goes stale.
    fn give_up<S: Sink>(&mut self, resume: u64, reason: Loss, ts_recv: u64, sink: &mut S) {
        self.stats.losses += 1;
        if reason == Loss::TimedOut {
            self.stats.timed_out += 1;
        }
        sink.stale(self.cursor.last_ts_event, ts_recv);
        self.skip_to(resume);
    }

    fn skip_to(&mut self, resume: u64) {
        self.stats.lost += resume.saturating_sub(self.cursor.expected);
        self.cursor.expected = self.cursor.expected.max(resume);
        self.high_water = self.high_water.max(self.cursor.expected);
        self.hole = None;
        self.asked = None;
    }

    /// One past the open gap: the first held packet, or what heartbeats have shown.
    fn gap_end(&self) -> u64 {
        self.reorder
            .first_sequence()
            .map_or(self.high_water, |s| s.min(self.high_water))
    }

    /// The feed went silent before its end of session: every symbol is marked stale
    /// (what was not delivered may have concerned any of them), held packets are
    /// applied and the gaps between them given up, before the pipeline drains.
    pub fn abandon<S: Sink>(&mut self, now_ns: u64, sink: &mut S) {
        if self.is_done() {
            return;
        }
        self.stats.losses += 1;
        self.stats.timed_out += 1;
        sink.stale(self.cursor.last_ts_event, now_ns);
        while self.cursor.expected < self.high_water {
            self.skip_to(self.gap_end());
            self.release(sink);
        }
    }
}

/// Applies a packet's messages from `cursor.expected` on (the packet starts at or
/// before it and ends after it).
fn apply<S: Sink>(
    cursor: &mut Cursor,
    stats: &mut FeedStats,
    packet: &Packet<'_>,
    origin: Origin,
    ts_recv: u64,
    sink: &mut S,
) {
    let skip = cursor.expected - packet.sequence;
    for msg in packet.messages().skip(skip as usize) {
        sink.message(cursor.offset, msg, ts_recv);
        cursor.offset += (BLOCK_PREFIX_LEN + msg.len()) as u64;
        if itch::check_length(msg).is_ok() {
            cursor.last_ts_event = itch::timestamp(msg).unwrap_or(cursor.last_ts_event);
        }
    }
    let applied = packet.next_sequence() - cursor.expected;
    stats.messages += applied;
    if origin == Origin::Recovery {
        stats.recovered += applied;
    }
    cursor.expected = packet.next_sequence();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::mold::PacketBuilder;

    const MS: u64 = 1_000_000;

    fn session() -> Session {
        Session::new("SEQTEST").unwrap()
    }

    fn limits() -> Limits {
        Limits {
            max_gap: 1000,
            max_request: 100,
            request_interval_ns: 10 * MS,
            recovery_timeout_ns: 100 * MS,
            reorder_slots: 4,
            reorder_slot_bytes: 256,
        }
    }

    /// A packet of messages `first..first + count`, each 8 bytes: its sequence number.
    fn packet(first: u64, count: u64) -> Vec<u8> {
        let mut b = PacketBuilder::new(session(), 1400);
        b.start(first);
        for seq in first..first + count {
            b.push(&seq.to_be_bytes()).unwrap();
        }
        b.bytes().to_vec()
    }

    #[derive(Default)]
    struct Out {
        messages: Vec<(u64, u64)>,
        stale: usize,
    }

    impl Out {
        fn sequences(&self) -> Vec<u64> {
            self.messages.iter().map(|m| m.0).collect()
        }
    }

    impl Sink for Out {
        fn message(&mut self, offset: u64, msg: &[u8], _ts_recv: u64) {
            let seq = u64::from_be_bytes(msg.try_into().unwrap());
            self.messages.push((seq, offset));
        }
        fn stale(&mut self, _ts_event: u64, _ts_recv: u64) {
            self.stale += 1;
        }
    }

    fn feed(s: &mut Sequencer, out: &mut Out, bytes: &[u8]) {
        s.on_datagram(bytes, Origin::Feed, 0, out);
    }

    fn answer(s: &mut Sequencer, out: &mut Out, bytes: &[u8]) {
        s.on_datagram(bytes, Origin::Recovery, 0, out);
    }

    fn request(sequence: u64, count: u16) -> Option<Request> {
        Some(Request {
            session: session(),
            sequence,
            count,
        })
    }

    #[test]
    fn in_order_packets_apply_with_file_offsets() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        feed(&mut s, &mut out, &packet(1, 2));
        feed(&mut s, &mut out, &packet(3, 1));
        assert_eq!(out.messages, [(1, 0), (2, 10), (3, 20)]);
        assert_eq!(s.poll(0, &mut out), None);
        assert_eq!(
            (s.expected(), s.stats().gaps, s.stats().messages),
            (4, 0, 3)
        );
    }

    #[test]
    fn a_gap_is_requested_held_packets_wait_and_the_answer_fills_it() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        feed(&mut s, &mut out, &packet(1, 3));
        feed(&mut s, &mut out, &packet(6, 3));
        feed(&mut s, &mut out, &packet(9, 1));
        assert_eq!(out.sequences(), [1, 2, 3]);
        assert_eq!(s.poll(0, &mut out), request(4, 2));
        // Rate-limited: nothing more until the interval passes.
        assert_eq!(s.poll(5 * MS, &mut out), None);
        assert_eq!(s.poll(10 * MS, &mut out), request(4, 2));
        answer(&mut s, &mut out, &packet(4, 2));
        assert_eq!(out.sequences(), (1..=9).collect::<Vec<_>>());
        assert_eq!(s.poll(11 * MS, &mut out), None);
        let st = s.stats();
        assert_eq!(
            (
                st.gaps,
                st.gap_messages,
                st.held,
                st.recovered,
                st.requests,
                st.lost
            ),
            (1, 2, 2, 2, 2, 0)
        );
        // A late duplicate answer changes nothing.
        answer(&mut s, &mut out, &packet(4, 2));
        assert_eq!(s.stats().duplicate_packets, 1);
        assert_eq!(out.stale, 0);
    }

    #[test]
    fn overlapping_packets_apply_only_what_is_new() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        feed(&mut s, &mut out, &packet(1, 3));
        feed(&mut s, &mut out, &packet(2, 4));
        assert_eq!(out.sequences(), [1, 2, 3, 4, 5]);
        feed(&mut s, &mut out, &packet(1, 5));
        assert_eq!(s.stats().duplicate_packets, 1);
    }

    #[test]
    fn a_stalled_gap_is_given_up_at_its_deadline_and_marks_every_symbol_stale() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        feed(&mut s, &mut out, &packet(1, 1));
        feed(&mut s, &mut out, &packet(4, 2));
        assert_eq!(s.poll(0, &mut out), request(2, 2));
        assert_eq!(s.poll(99 * MS, &mut out), request(2, 2));
        assert_eq!(out.stale, 0);
        assert_eq!(s.poll(100 * MS, &mut out), None);
        assert_eq!((out.stale, s.stats().timed_out), (1, 1));
        assert_eq!(out.sequences(), [1, 4, 5]);
        let st = s.stats();
        assert_eq!((st.lost, st.losses, s.expected()), (2, 1, 6));
        assert!(st.books_stale());
        // Later data flows again.
        feed(&mut s, &mut out, &packet(6, 1));
        assert_eq!(out.sequences(), [1, 4, 5, 6]);
    }

    #[test]
    fn progress_restarts_the_deadline() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        feed(&mut s, &mut out, &packet(1, 1));
        feed(&mut s, &mut out, &packet(10, 1));
        assert_eq!(s.poll(0, &mut out), request(2, 8));
        // Part of the answer: the rest is on its way, so nothing is asked again yet.
        answer(&mut s, &mut out, &packet(2, 4));
        assert_eq!(s.poll(5 * MS, &mut out), None);
        assert_eq!(s.poll(90 * MS, &mut out), request(6, 4));
        // Past the first hole's deadline (100 ms), inside the second's (5 + 100 ms).
        assert_eq!(s.poll(104 * MS, &mut out), request(6, 4));
        assert_eq!(out.stale, 0);
        answer(&mut s, &mut out, &packet(6, 4));
        assert_eq!(out.sequences(), (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn requests_are_capped_at_max_request() {
        let limits = Limits {
            max_request: 3,
            ..limits()
        };
        let (mut s, mut out) = (Sequencer::new(session(), limits), Out::default());
        feed(&mut s, &mut out, &packet(20, 1));
        // A late start: the session is recovered from message 1.
        assert_eq!(s.poll(0, &mut out), request(1, 3));
    }

    #[test]
    fn heartbeats_reveal_a_lost_tail_and_end_of_session_ends_the_run() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        let b = PacketBuilder::new(session(), 1400);
        feed(&mut s, &mut out, &packet(1, 2));
        feed(&mut s, &mut out, &b.heartbeat(3));
        assert_eq!(s.poll(0, &mut out), None);
        feed(&mut s, &mut out, &b.heartbeat(5));
        assert_eq!(s.poll(0, &mut out), request(3, 2));
        // Ahead of what was applied: believed when the server's repeat agrees.
        feed(&mut s, &mut out, &b.end_of_session(5));
        feed(&mut s, &mut out, &b.end_of_session(5));
        assert!(!s.is_done(), "messages 3 and 4 are still missing");
        answer(&mut s, &mut out, &packet(3, 2));
        assert!(s.is_done());
        s.finish();
        let st = s.stats();
        assert_eq!((st.heartbeats, st.end_of_session, st.gaps), (2, 2, 1));
        assert_eq!(st.malformed, 0);
    }

    #[test]
    fn a_lone_end_of_session_ahead_of_the_stream_ends_nothing() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        let b = PacketBuilder::new(session(), 1400);
        feed(&mut s, &mut out, &b.end_of_session(40));
        feed(&mut s, &mut out, &packet(1, 2));
        // No gap opened: nothing to re-request up to the forged end.
        assert_eq!(s.poll(0, &mut out), None);
        for first in (3..60).step_by(3) {
            feed(&mut s, &mut out, &packet(first, 3));
        }
        assert!(!s.is_done(), "the stream went past message 40");
        assert_eq!(s.expected(), 60);
        feed(&mut s, &mut out, &b.end_of_session(60));
        assert!(s.is_done());
        s.finish();
        let st = s.stats();
        assert_eq!((st.malformed, st.lost, out.stale), (1, 0, 0));
        assert_eq!(st.malformed_samples[0].kind, "end_unconfirmed");
        assert_eq!(
            (
                st.malformed_samples[0].socket,
                st.malformed_samples[0].datagram
            ),
            ("feed", 1)
        );
        assert!(
            st.malformed_samples[0].detail.contains("message 40,"),
            "{:?}",
            st.malformed_samples
        );
        assert_eq!(out.sequences(), (1..60).collect::<Vec<_>>());
    }

    #[test]
    fn an_end_of_session_is_believed_when_repeated_and_its_gap_recovered_first() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        let b = PacketBuilder::new(session(), 1400);
        feed(&mut s, &mut out, &packet(1, 2));
        feed(&mut s, &mut out, &b.end_of_session(6));
        assert_eq!(s.poll(0, &mut out), None, "one end of session opens no gap");
        feed(&mut s, &mut out, &b.end_of_session(6));
        assert_eq!(s.poll(0, &mut out), request(3, 3));
        assert!(!s.is_done());
        answer(&mut s, &mut out, &packet(3, 3));
        assert!(s.is_done());
        s.finish();
        assert_eq!(s.stats().malformed, 0);
    }

    #[test]
    fn an_end_of_session_behind_what_was_received_is_malformed() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        let b = PacketBuilder::new(session(), 1400);
        feed(&mut s, &mut out, &packet(1, 5));
        feed(&mut s, &mut out, &b.end_of_session(3));
        assert!(!s.is_done());
        assert_eq!(s.stats().malformed_samples[0].kind, "end_before_received");
    }

    #[test]
    fn a_packet_far_ahead_is_believed_only_when_a_second_agrees() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        feed(&mut s, &mut out, &packet(1, 1));
        // A lone packet from nowhere (a corrupted sequence number) is ignored.
        feed(&mut s, &mut out, &packet(1_000_000, 1));
        assert_eq!(s.poll(0, &mut out), None);
        feed(&mut s, &mut out, &packet(2, 1));
        assert_eq!(s.stats().out_of_window, 1);
        // Two that agree mean the stream moved on: the messages between are given up.
        feed(&mut s, &mut out, &packet(50_000, 2));
        feed(&mut s, &mut out, &packet(50_002, 1));
        assert_eq!(out.sequences(), [1, 2, 50_002]);
        assert_eq!((out.stale, s.stats().timed_out), (1, 0));
        assert_eq!((s.stats().lost, s.stats().out_of_window), (50_002 - 3, 2));
    }

    #[test]
    fn a_full_reorder_buffer_drops_and_the_drop_is_recovered_later() {
        let limits = Limits {
            reorder_slots: 1,
            ..limits()
        };
        let (mut s, mut out) = (Sequencer::new(session(), limits), Out::default());
        feed(&mut s, &mut out, &packet(2, 1));
        feed(&mut s, &mut out, &packet(3, 1));
        assert_eq!(s.stats().overflow, 1);
        assert_eq!(s.poll(0, &mut out), request(1, 1));
        answer(&mut s, &mut out, &packet(1, 1));
        assert_eq!(out.sequences(), [1, 2]);
        // Everything asked for arrived and a gap remains: ask at once.
        assert_eq!(s.poll(1, &mut out), request(3, 1));
        answer(&mut s, &mut out, &packet(3, 1));
        assert_eq!(out.sequences(), [1, 2, 3]);
    }

    #[test]
    fn held_answers_count_as_recovered_when_released() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        answer(&mut s, &mut out, &packet(3, 2));
        feed(&mut s, &mut out, &packet(1, 2));
        assert_eq!(out.sequences(), [1, 2, 3, 4]);
        assert_eq!(s.stats().recovered, 2);
    }

    #[test]
    fn bad_datagrams_are_counted_with_kind_and_offset() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        feed(&mut s, &mut out, &[]);
        let mut cut = packet(1, 2);
        cut.truncate(cut.len() - 1);
        feed(&mut s, &mut out, &cut);
        let mut other = PacketBuilder::new(Session::new("OTHER").unwrap(), 1400);
        other.start(1);
        other.push(b"x").unwrap();
        answer(&mut s, &mut out, other.bytes());
        feed(&mut s, &mut out, &packet(1, 1));
        assert_eq!(out.sequences(), [1]);
        let st = s.stats();
        assert_eq!((st.malformed, st.packets, st.recovery_packets), (3, 3, 1));
        let kinds: Vec<_> = st
            .malformed_samples
            .iter()
            .map(|m| (m.socket, m.datagram, m.offset, m.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("feed", 1, 0, "truncated_header"),
                ("feed", 2, 30, "block_past_end"),
                ("recovery", 1, 0, "wrong_session"),
            ]
        );
    }

    #[test]
    fn abandon_gives_up_whatever_is_missing() {
        let (mut s, mut out) = (Sequencer::new(session(), limits()), Out::default());
        feed(&mut s, &mut out, &packet(1, 1));
        feed(&mut s, &mut out, &packet(3, 1));
        feed(&mut s, &mut out, &packet(5, 1));
        s.abandon(0, &mut out);
        assert_eq!((out.stale, s.stats().timed_out), (1, 1));
        assert_eq!(out.sequences(), [1, 3, 5]);
        assert_eq!((s.stats().lost, s.stats().losses), (2, 1));
    }
}
