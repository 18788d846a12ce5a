//! Routes framed ITCH messages to the shards that own their symbols. Every source
//! (file replay, live UDP) frames its own way, then hands each message here.
//!
//! Routing needs only the message type and stock locate, so nothing is decoded: decode
//! runs per shard. Stock directory (`R`) messages teach the router which shard owns each
//! locate; locate 0 (system events) goes to every shard; messages for tickers outside
//! the configured universe are counted and dropped.

use std::sync::Arc;

use super::integrity::stale_notice;
use super::itch;
use crate::msg::{RawFrame, SymbolName};
use crate::runtime::edge::{EdgeOut, EdgeStats};
use crate::stages::Emit;
use crate::universe::Universe;

/// A message a source could not use, with where it was.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub offset: u64,
    pub reason: String,
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
    /// Feed-integrity notices sent: times every symbol was marked stale.
    pub stale_notices: u64,
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

/// No shard: the locate has no directory entry in the universe.
const UNROUTED: u16 = u16::MAX;

/// The router: one per source, owning the per-shard feed rings.
pub struct ShardRouter {
    universe: Arc<Universe>,
    shard_of_symbol: Vec<usize>,
    /// Shard of each stock locate, learnt from `R` messages.
    shard_of_locate: Box<[u16]>,
    outputs: Vec<EdgeOut<RawFrame>>,
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
            stats,
        }
    }

    /// Routes one message, received at `ts_recv`, found at `offset` in its source.
    #[inline]
    pub fn route(&mut self, offset: u64, msg: &[u8], ts_recv: u64) {
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
        let frame = RawFrame::new(ts_recv, msg).expect("ITCH messages fit a frame");
        if locate == 0 {
            self.broadcast(frame);
            return;
        }
        match self.shard_of_locate[usize::from(locate)] {
            UNROUTED => self.stats.untracked += 1,
            shard => {
                let shard = usize::from(shard);
                self.outputs[shard].emit(frame);
            }
        }
    }

    /// Tells every shard, in order with the data already routed, that market data for
    /// any symbol may have been lost at exchange time `ts_event`: every symbol goes stale.
    pub fn mark_all_stale(&mut self, ts_event: u64, ts_recv: u64) {
        let notice = stale_notice(ts_event);
        self.stats.stale_notices += 1;
        self.broadcast(RawFrame::new(ts_recv, &notice).expect("a notice fits a frame"));
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

    /// Statistics of the per-shard feed rings; they close when the router is dropped.
    pub fn edge_stats(&self) -> Vec<EdgeStats> {
        self.outputs.iter().map(EdgeOut::stats).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::itch::{Header, Message, encode};
    use crate::runtime::edge::{Backpressure, EdgeIn, edge};
    use crate::runtime::idle::{IdleStrategy, Idler};

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
        bytes(&crate::feed::itch::testing::stock_directory(
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
}
