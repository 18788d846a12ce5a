//! Routes framed ITCH messages to the shards that own their symbols. Every source
//! (file replay, live UDP) frames its own way, then hands each message here.
//!
//! Routing needs only the message type and stock locate, so nothing is decoded: decode
//! runs per shard. Stock directory (`R`) messages teach the router which shard owns each
//! locate; locate 0 (system events) goes to every shard; messages for tickers outside
//! the configured universe are counted and dropped.
//!
//! Event time is decided here too, once, in feed order, before routing: see
//! [`event_clock`](super::event_clock). A message stamped before the high-water mark, or
//! at an impossible time of day, is routed with its timestamp rewritten to the mark.

use std::sync::Arc;

use super::event_clock::{EventClock, Timing};
use crate::codec::itch;
use crate::codec::notice::Notice;
use crate::msg::{RawFrame, SymbolName};
use crate::sys::edge::{EdgeOut, EdgeStats, Emit};
use crate::universe::Universe;

/// A message a source could not use, with where it was.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub offset: u64,
    pub reason: String,
}

/// A message whose timestamp was rewritten to event time, with where it was.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Restamped {
    pub offset: u64,
    /// The message's own ITCH timestamp.
    pub timestamp_ns: u64,
    /// The event time it was given: the high-water mark then.
    pub stamped_ns: u64,
}

/// Timestamps the source rewrote, of one kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restamps {
    pub count: u64,
    /// The first few (at most [`SourceStats::SKIP_SAMPLES`]), for the report.
    pub samples: Vec<Restamped>,
}

impl Restamps {
    fn record(&mut self, sample: Restamped) {
        self.count += 1;
        if self.samples.len() < SourceStats::SKIP_SAMPLES {
            self.samples.push(sample);
        }
    }
}

/// What a source counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceStats {
    /// Every framed message, known type or not.
    pub messages: u64,
    /// Framed messages by type byte.
    pub by_type: [u64; 256],
    /// Bytes framed, length prefixes included.
    pub bytes: u64,
    /// Messages of tickers outside the configured universe.
    pub untracked: u64,
    /// Messages skipped: unknown type, wrong length for their type, zero length.
    pub skipped: u64,
    /// The first skipped messages (at most [`SourceStats::SKIP_SAMPLES`]), for the report.
    pub skipped_samples: Vec<Skipped>,
    /// Times the framing was lost (a length prefix that did not match its message type)
    /// and found again.
    pub resyncs: u64,
    /// Bytes passed over while resynchronising: none of them was routed.
    pub resync_bytes: u64,
    /// The first resyncs (at most [`SourceStats::SKIP_SAMPLES`]): the offset of the
    /// prefix that lost the framing, and the bytes skipped.
    pub resync_samples: Vec<Skipped>,
    /// Feed-integrity notices sent: times every symbol, or one symbol, was marked stale.
    pub stale_notices: u64,
    /// Messages stamped before the event time already reached, restamped to it.
    pub time_regressions: Restamps,
    /// The largest of those regressions, in nanoseconds.
    pub max_time_regression_ns: u64,
    /// Messages stamped at or past 24 h, restamped to the event time then.
    pub bad_timestamps: Restamps,
    /// True if a stop was requested before the input ended.
    pub stopped_early: bool,
}

impl Default for SourceStats {
    fn default() -> SourceStats {
        SourceStats {
            messages: 0,
            by_type: [0; 256],
            bytes: 0,
            untracked: 0,
            skipped: 0,
            skipped_samples: Vec::new(),
            resyncs: 0,
            resync_bytes: 0,
            resync_samples: Vec::new(),
            stale_notices: 0,
            time_regressions: Restamps::default(),
            max_time_regression_ns: 0,
            bad_timestamps: Restamps::default(),
            stopped_early: false,
        }
    }
}

impl SourceStats {
    pub const SKIP_SAMPLES: usize = 8;

    /// Counts a skipped message and keeps the first few for the report. `reason` is
    /// formatted only for those few, so a flood of bad input allocates nothing per
    /// message.
    pub fn skip(&mut self, offset: u64, reason: impl FnOnce() -> String) {
        self.skipped += 1;
        if self.skipped_samples.len() < Self::SKIP_SAMPLES {
            self.skipped_samples.push(Skipped {
                offset,
                reason: reason(),
            });
        }
    }

    /// Counts a resynchronisation: the framing was lost at `offset` and found again
    /// `skipped` bytes later.
    pub fn resync(&mut self, offset: u64, skipped: u64) {
        self.resyncs += 1;
        self.resync_bytes += skipped;
        if self.resync_samples.len() < Self::SKIP_SAMPLES {
            self.resync_samples.push(Skipped {
                offset,
                reason: format!(
                    "byte offset {offset}: length prefix does not match its message type; {skipped} bytes skipped to resynchronise"
                ),
            });
        }
    }
}

/// Writes `msg`, received at `ts_recv`, into `frame`, whatever it held (`msg` fits: its
/// length is checked), with its timestamp rewritten to `stamped` if given.
#[inline]
fn write_frame(frame: &mut RawFrame, ts_recv: u64, msg: &[u8], stamped: Option<u64>) {
    frame.ts_recv = ts_recv;
    frame.len = msg.len() as u8;
    frame.bytes[..msg.len()].copy_from_slice(msg);
    if let Some(ts) = stamped {
        restamp(frame, ts);
    }
}

/// Rewrites a framed message's timestamp to `ts`.
#[inline]
fn restamp(frame: &mut RawFrame, ts: u64) {
    // The header's 6-byte big-endian timestamp follows type, locate and tracking.
    frame.bytes[5..itch::HEADER_LEN].copy_from_slice(&ts.to_be_bytes()[2..]);
}

/// No shard: the locate has no directory entry in the universe.
const UNROUTED: u16 = u16::MAX;

/// The router: one per source, owning the per-shard feed rings.
pub struct ShardRouter {
    universe: Arc<Universe>,
    shard_of_symbol: Vec<usize>,
    /// Shard of each stock locate, learnt from `R` messages.
    shard_of_locate: Box<[u16]>,
    outputs: Vec<EdgeOut<RawFrame>>,
    clock: EventClock,
    stats: SourceStats,
}

impl ShardRouter {
    /// `shard_of_symbol[i]` is the shard of `SymbolId(i)`; `outputs[s]` feeds shard `s`.
    pub fn new(
        universe: Arc<Universe>,
        shard_of_symbol: Vec<usize>,
        outputs: Vec<EdgeOut<RawFrame>>,
    ) -> ShardRouter {
        let stats = SourceStats::default();
        ShardRouter {
            universe,
            shard_of_symbol,
            shard_of_locate: vec![UNROUTED; 1 << 16].into_boxed_slice(),
            outputs,
            clock: EventClock::default(),
            stats,
        }
    }

    /// Routes one message, received at `ts_recv`, found at `offset` in its source.
    #[inline]
    pub fn route(&mut self, offset: u64, msg: &[u8], ts_recv: u64) {
        // A live session's capture holds its notices in order with the data
        // (`source::live::Capture`, `source::ibkr`): replayed, they mark the same symbols
        // stale (and fresh) at the same point, so the replay decides as the live session
        // did.
        if let Some(notice) = Notice::parse(msg) {
            self.notify(notice, ts_recv);
            return;
        }
        self.stats.messages += 1;
        self.stats.bytes += msg.len() as u64 + itch::PREFIX_LEN as u64;
        if let Some(&kind) = msg.first() {
            self.stats.by_type[usize::from(kind)] += 1;
        }
        let kind = match itch::check_length(msg) {
            Ok(kind) => kind,
            Err(e) => {
                self.stats
                    .skip(offset, || format!("byte offset {offset}: {e}, skipped"));
                return;
            }
        };
        let locate = itch::stock_locate(msg).expect("length checked");
        if kind == b'R' {
            self.learn_directory(locate, msg);
        }
        let stamped = self.stamp_event_time(offset, msg);
        if locate == 0 {
            let mut frame = RawFrame::new(ts_recv, msg).expect("ITCH messages fit a frame");
            if let Some(ts) = stamped {
                restamp(&mut frame, ts);
            }
            self.broadcast(frame);
            return;
        }
        match self.shard_of_locate[usize::from(locate)] {
            UNROUTED => self.stats.untracked += 1,
            shard => {
                // Straight into the ring's slot where the ring allows it: no frame built
                // here and copied in (sys::edge, `emit_with`).
                self.outputs[usize::from(shard)]
                    .emit_with(|frame| write_frame(frame, ts_recv, msg, stamped));
            }
        }
    }

    /// Tells every shard, in order with the data already routed, that market data for
    /// any symbol may have been lost at exchange time `ts_event`: every symbol goes stale.
    /// The notice is stamped no earlier than the event time already reached.
    pub fn mark_all_stale(&mut self, ts_event: u64, ts_recv: u64) {
        self.notify(
            Notice::Stale {
                locate: 0,
                ts_event,
            },
            ts_recv,
        );
    }

    /// Sends `notice` in order with the data already routed, stamped no earlier than the
    /// event time already reached: to every shard for locate 0, else to the shard that
    /// owns the locate (one outside the universe is counted as untracked).
    pub fn notify(&mut self, notice: Notice, ts_recv: u64) {
        let (ts_event, _) = self.clock.stamp(notice.ts_event());
        let notice = notice.at(ts_event);
        if let Notice::Stale { .. } = notice {
            self.stats.stale_notices += 1;
        }
        let frame = RawFrame::new(ts_recv, &notice.encode()).expect("a notice fits a frame");
        match notice.locate() {
            0 => self.broadcast(frame),
            locate => match self.shard_of_locate[usize::from(locate)] {
                UNROUTED => self.stats.untracked += 1,
                shard => self.outputs[usize::from(shard)].emit(frame),
            },
        }
    }

    /// Applies the event-time rule to a length-checked message: a timestamp before the
    /// high-water mark, or past 24 h, is counted, and the mark it must be rewritten to
    /// returned.
    #[inline]
    fn stamp_event_time(&mut self, offset: u64, msg: &[u8]) -> Option<u64> {
        let ts = itch::timestamp(msg).expect("length checked");
        let (stamped, timing) = self.clock.stamp(ts);
        let sample = Restamped {
            offset,
            timestamp_ns: ts,
            stamped_ns: stamped,
        };
        match timing {
            Timing::InOrder => return None,
            Timing::Regressed { by_ns } => {
                self.stats.time_regressions.record(sample);
                self.stats.max_time_regression_ns = self.stats.max_time_regression_ns.max(by_ns);
            }
            Timing::Impossible => self.stats.bad_timestamps.record(sample),
        }
        Some(stamped)
    }

    fn broadcast(&mut self, frame: RawFrame) {
        for out in self.outputs.iter_mut() {
            out.emit(frame);
        }
    }

    /// An `R` message: if its ticker is in the universe, route its locate to the ticker's
    /// shard from now on.
    fn learn_directory(&mut self, locate: u16, msg: &[u8]) {
        let Ok(itch::Message::StockDirectory { stock, .. }) = itch::decode(msg) else {
            return;
        };
        self.shard_of_locate[usize::from(locate)] = match self.universe.id(&SymbolName(*stock)) {
            Some(id) => self.shard_of_symbol[id.index()] as u16,
            None => UNROUTED,
        };
    }

    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    pub fn stats_mut(&mut self) -> &mut SourceStats {
        &mut self.stats
    }

    /// The per-shard feed rings, in shard order.
    pub fn feeds(&self) -> &[EdgeOut<RawFrame>] {
        &self.outputs
    }

    /// Statistics of the per-shard feed rings; they close when the router is dropped.
    pub fn edge_stats(&self) -> Vec<EdgeStats> {
        self.outputs.iter().map(EdgeOut::stats).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::itch::{Header, Message, encode};
    use crate::source::event_clock::DAY_NS;
    use crate::sys::edge::{Backpressure, EdgeIn, edge};
    use crate::sys::idle::{IdleStrategy, Idler};

    fn router(shards: usize) -> (ShardRouter, Vec<EdgeIn<RawFrame>>) {
        let universe = Arc::new(Universe::new(&["AAPL", "MSFT"]).unwrap());
        let (outs, ins): (Vec<_>, Vec<_>) = (0..shards)
            .map(|s| {
                edge(
                    format!("f{s}"),
                    64,
                    Backpressure::Halt,
                    Idler::new(IdleStrategy::BusySpin {}),
                )
            })
            .unzip();
        (ShardRouter::new(universe, vec![0, 1 % shards], outs), ins)
    }

    fn bytes(msg: &Message<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(msg, &mut out).unwrap();
        out
    }

    fn header(locate: u16) -> Header {
        Header {
            stock_locate: locate,
            tracking_number: 0,
            timestamp: 1,
        }
    }

    fn directory(locate: u16, stock: &'static [u8; 8]) -> Vec<u8> {
        bytes(&crate::codec::itch::testing::stock_directory(
            header(locate),
            stock,
        ))
    }

    fn drain(rx: &mut EdgeIn<RawFrame>) -> Vec<u8> {
        let mut kinds = Vec::new();
        rx.read_batch(64, |f| kinds.push(f.message()[0]));
        kinds
    }

    #[test]
    fn routes_by_directory_broadcasts_system_events_and_drops_the_rest() {
        let (mut r, mut ins) = router(2);
        r.route(0, &directory(5, b"MSFT    "), 1);
        r.route(1, &directory(6, b"IBM     "), 1);
        let delete = bytes(&Message::OrderDelete {
            header: header(5),
            order_ref: 9,
        });
        r.route(2, &delete, 1);
        r.route(
            3,
            &bytes(&Message::OrderDelete {
                header: header(6),
                order_ref: 9,
            }),
            1,
        );
        r.route(
            4,
            &bytes(&Message::SystemEvent {
                header: header(0),
                event_code: b'O',
            }),
            1,
        );
        r.route(5, &[b'Z', 1, 2], 1);
        assert_eq!(drain(&mut ins[0]), [b'S']);
        assert_eq!(drain(&mut ins[1]), [b'R', b'D', b'S']);
        let s = r.stats();
        assert_eq!((s.messages, s.untracked, s.skipped), (6, 2, 1));
        assert!(
            s.skipped_samples[0]
                .reason
                .starts_with("byte offset 5: unknown message type")
        );
    }

    #[test]
    fn a_stale_notice_reaches_every_shard_in_order() {
        let (mut r, mut ins) = router(2);
        r.route(0, &directory(5, b"MSFT    "), 1);
        r.mark_all_stale(42, 2);
        assert_eq!(drain(&mut ins[0]), [b'!']);
        assert_eq!(drain(&mut ins[1]), [b'R', b'!']);
        assert_eq!(r.stats().stale_notices, 1);
    }

    #[test]
    fn a_captured_stale_notice_replays_as_the_live_source_sent_it() {
        let (mut r, mut ins) = router(2);
        r.route(0, &directory(5, b"MSFT    "), 1);
        r.route(13, &crate::codec::notice::stale_notice(42), 2);
        assert_eq!(drain(&mut ins[0]), [b'!']);
        assert_eq!(drain(&mut ins[1]), [b'R', b'!']);
        let s = r.stats();
        assert_eq!((s.stale_notices, s.messages, s.skipped), (1, 1, 0));
    }

    #[test]
    fn a_notice_for_one_locate_reaches_only_its_shard() {
        let (mut r, mut ins) = router(2);
        r.route(0, &directory(5, b"MSFT    "), 1);
        r.route(1, &directory(6, b"AAPL    "), 1);
        r.route(2, &delete_at(6, 50), 1);
        let stale = Notice::Stale {
            locate: 5,
            ts_event: 40,
        };
        r.route(3, &stale.encode(), 2);
        r.notify(
            Notice::Fresh {
                locate: 5,
                ts_event: 60,
            },
            3,
        );
        r.notify(
            Notice::Stale {
                locate: 9,
                ts_event: 70,
            },
            4,
        );
        assert_eq!(drain(&mut ins[0]), [b'R', b'D']);
        let mut notices = Vec::new();
        ins[1].read_batch(64, |f| notices.push(Notice::parse(f.message())));
        // Stamped no earlier than the event time reached (50, from AAPL's delete).
        assert_eq!(
            notices,
            [
                None,
                Some(Notice::Stale {
                    locate: 5,
                    ts_event: 50
                }),
                Some(Notice::Fresh {
                    locate: 5,
                    ts_event: 60
                })
            ]
        );
        let s = r.stats();
        assert_eq!((s.stale_notices, s.untracked, s.messages), (2, 1, 3));
    }

    fn delete_at(locate: u16, timestamp: u64) -> Vec<u8> {
        bytes(&Message::OrderDelete {
            header: Header {
                stock_locate: locate,
                tracking_number: 0,
                timestamp,
            },
            order_ref: 9,
        })
    }

    fn stamps(rx: &mut EdgeIn<RawFrame>) -> Vec<u64> {
        let mut out = Vec::new();
        rx.read_batch(64, |f| out.push(itch::timestamp(f.message()).unwrap()));
        out
    }

    #[test]
    fn a_message_back_in_time_is_kept_and_restamped_at_the_high_water_mark() {
        let (mut r, mut ins) = router(1);
        r.route(0, &directory(5, b"AAPL    "), 1);
        r.route(10, &delete_at(5, 500), 1);
        r.route(20, &delete_at(5, 200), 1);
        r.route(30, &delete_at(5, 100), 1);
        r.route(40, &delete_at(5, 600), 1);
        assert_eq!(stamps(&mut ins[0]), [1, 500, 500, 500, 600]);
        let s = r.stats();
        assert_eq!(s.time_regressions.count, 2);
        assert_eq!(s.max_time_regression_ns, 400);
        assert_eq!(
            s.time_regressions.samples[0],
            Restamped {
                offset: 20,
                timestamp_ns: 200,
                stamped_ns: 500
            }
        );
        assert_eq!(s.bad_timestamps.count, 0);
    }

    #[test]
    fn an_impossible_timestamp_is_stamped_at_the_mark_without_moving_it() {
        let (mut r, mut ins) = router(1);
        r.route(0, &directory(5, b"AAPL    "), 1);
        r.route(10, &delete_at(5, 500), 1);
        r.route(20, &delete_at(5, DAY_NS + 7), 1);
        r.route(30, &delete_at(5, 600), 1);
        assert_eq!(stamps(&mut ins[0]), [1, 500, 500, 600]);
        let s = r.stats();
        assert_eq!(s.bad_timestamps.count, 1);
        assert_eq!(s.bad_timestamps.samples[0].offset, 20);
        assert_eq!(s.time_regressions.count, 0, "600 is after the mark of 500");
    }

    #[test]
    fn samples_are_capped_but_every_regression_is_counted() {
        let (mut r, _ins) = router(1);
        r.route(0, &delete_at(0, 1_000), 1);
        for i in 1..=20 {
            r.route(i, &delete_at(0, 1_000 - i), 1);
        }
        let s = r.stats();
        assert_eq!(s.time_regressions.count, 20);
        assert_eq!(s.time_regressions.samples.len(), SourceStats::SKIP_SAMPLES);
        assert_eq!(s.max_time_regression_ns, 20);
    }

    #[test]
    fn a_stale_notice_is_stamped_no_earlier_than_event_time() {
        let (mut r, mut ins) = router(1);
        r.route(0, &delete_at(0, 900), 1);
        r.mark_all_stale(400, 2);
        let mut notices = Vec::new();
        ins[0].read_batch(64, |f| {
            notices.push(crate::codec::notice::parse_stale_notice(f.message()))
        });
        assert_eq!(notices, [None, Some(900)]);
    }
}
