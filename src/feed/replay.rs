//! File replay: the pipeline's source. Frames an ITCH 5.0 file (read without copying,
//! through mmap) or the generated sample, checks each message's length against its
//! type, and routes it to the shard that owns its symbol.
//!
//! Routing needs only the message type and stock locate, so the source never decodes:
//! decode runs per shard. Stock directory (`R`) messages teach the source which shard
//! owns each locate; locate 0 (system events) goes to every shard; messages for tickers
//! outside the configured universe are counted and dropped here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::MonoClock;
use crate::feed::itch::{self, FrameError, Framer};
use crate::feed::sample::{SampleSpec, generate};
use crate::msg::{RawFrame, SymbolName};
use crate::runtime::edge::EdgeOut;
use crate::stages::Emit;
use crate::sys::mmap::MappedFile;
use crate::sys::{Progress, StopSignal};
use crate::universe::Universe;

/// Where the market data comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A NASDAQ-format ITCH 5.0 file: each message preceded by a 2-byte big-endian length.
    File(PathBuf),
    /// The deterministic sample session, generated in memory.
    Sample(SampleSpec),
}

impl Input {
    /// For reports: the path, or the sample's parameters.
    pub fn describe(&self) -> String {
        match self {
            Input::File(path) => path.display().to_string(),
            Input::Sample(spec) => format!(
                "generated sample (seed {}, {} messages, {} tickers)",
                spec.seed,
                spec.messages,
                spec.tickers.len()
            ),
        }
    }

    /// Maps the file or generates the sample.
    pub fn load(&self) -> Result<InputBytes, InputError> {
        match self {
            Input::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| InputError::open(path, e))?;
                MappedFile::map(&file)
                    .map(InputBytes::Mapped)
                    .map_err(|e| InputError::open(path, e))
            }
            Input::Sample(spec) => Ok(InputBytes::Owned(generate(spec))),
        }
    }
}

/// Why the input could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("{path}")]
pub struct InputError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl InputError {
    fn open(path: &Path, source: std::io::Error) -> InputError {
        InputError {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The bytes being replayed.
pub enum InputBytes {
    Mapped(MappedFile),
    Owned(Vec<u8>),
}

impl InputBytes {
    pub fn bytes(&self) -> &[u8] {
        match self {
            InputBytes::Mapped(m) => m.bytes(),
            InputBytes::Owned(v) => v,
        }
    }
}

/// A message the source could not use, with where it was.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub offset: u64,
    pub reason: String,
}

/// What the source counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceStats {
    /// Every framed message, known type or not.
    pub messages: u64,
    /// Framed messages by type byte.
    pub by_type: [u64; 256],
    pub bytes: u64,
    /// Messages of tickers outside the configured universe.
    pub untracked: u64,
    /// Messages sent to each shard (system messages count once per shard).
    pub routed: Vec<u64>,
    /// Messages skipped: unknown type, wrong length for their type, zero length.
    pub skipped: u64,
    /// The first skipped messages (at most [`SourceStats::SKIP_SAMPLES`]), for the report.
    pub skipped_samples: Vec<Skipped>,
    /// True if a stop was requested before the input ended.
    pub stopped_early: bool,
}

impl SourceStats {
    pub const SKIP_SAMPLES: usize = 8;

    pub fn new(shards: usize) -> SourceStats {
        SourceStats {
            messages: 0,
            by_type: [0; 256],
            bytes: 0,
            untracked: 0,
            routed: vec![0; shards],
            skipped: 0,
            skipped_samples: Vec::new(),
            stopped_early: false,
        }
    }

    fn skip(&mut self, offset: u64, reason: impl Into<String>) {
        self.skipped += 1;
        if self.skipped_samples.len() < Self::SKIP_SAMPLES {
            self.skipped_samples.push(Skipped {
                offset,
                reason: reason.into(),
            });
        }
    }
}

/// No shard: the locate has no directory entry in the universe.
const UNROUTED: u16 = u16::MAX;
/// Frames between checks of the stop signal and progress updates.
const CHECK_EVERY: u64 = 1024;

/// The replay source: one per pipeline, on its own runner.
pub struct ReplaySource {
    input: Arc<InputBytes>,
    universe: Arc<Universe>,
    shard_of_symbol: Vec<usize>,
    /// Shard of each stock locate, learnt from `R` messages.
    shard_of_locate: Box<[u16]>,
    outputs: Vec<EdgeOut<RawFrame>>,
    clock: MonoClock,
    progress: Arc<Progress>,
    stop: Arc<StopSignal>,
    stats: SourceStats,
}

impl ReplaySource {
    pub fn new(
        input: Arc<InputBytes>,
        universe: Arc<Universe>,
        shard_of_symbol: Vec<usize>,
        outputs: Vec<EdgeOut<RawFrame>>,
        clock: MonoClock,
        progress: Arc<Progress>,
        stop: Arc<StopSignal>,
    ) -> ReplaySource {
        let stats = SourceStats::new(outputs.len());
        ReplaySource {
            input,
            universe,
            shard_of_symbol,
            shard_of_locate: vec![UNROUTED; 1 << 16].into_boxed_slice(),
            outputs,
            clock,
            progress,
            stop,
            stats,
        }
    }

    /// Replays until the input ends or a stop is requested. A framing error that leaves
    /// no way to find the next message (a truncated file) ends the replay with an error
    /// naming its offset; everything framed before it has been sent.
    pub fn run(&mut self) -> Result<(), String> {
        let input = Arc::clone(&self.input);
        let mut since_check = 0u64;
        for item in Framer::new(input.bytes()) {
            match item {
                Ok(frame) => self.route(frame.offset, frame.bytes),
                Err(e @ FrameError::ZeroLength { .. }) => {
                    self.stats.skip(e.offset(), format!("byte {e}"))
                }
                Err(e) => return Err(format!("input ends inside a message: byte {e}")),
            }
            since_check += 1;
            if since_check == CHECK_EVERY {
                self.progress.add(since_check);
                since_check = 0;
                if self.stop.should_stop() {
                    self.stats.stopped_early = true;
                    break;
                }
            }
        }
        self.progress.add(since_check);
        Ok(())
    }

    #[inline]
    fn route(&mut self, offset: u64, msg: &[u8]) {
        self.stats.messages += 1;
        self.stats.bytes += msg.len() as u64 + 2;
        self.stats.by_type[usize::from(msg[0])] += 1;
        let kind = match itch::check_length(msg) {
            Ok(kind) => kind,
            Err(e) => {
                self.stats
                    .skip(offset, format!("byte offset {offset}: {e}, skipped"));
                return;
            }
        };
        let locate = itch::stock_locate(msg).expect("length checked");
        if kind == b'R' {
            self.learn_directory(locate, msg);
        }
        let ts_recv = self.clock.now_ns();
        let frame = RawFrame::new(ts_recv, msg).expect("ITCH messages fit a frame");
        if locate == 0 {
            for (shard, out) in self.outputs.iter_mut().enumerate() {
                out.emit(frame);
                self.stats.routed[shard] += 1;
            }
            return;
        }
        match self.shard_of_locate[usize::from(locate)] {
            UNROUTED => self.stats.untracked += 1,
            shard => {
                let shard = usize::from(shard);
                self.outputs[shard].emit(frame);
                self.stats.routed[shard] += 1;
            }
        }
    }

    /// An `R` message: if its ticker is in the universe, route its locate to the ticker's
    /// shard from now on.
    fn learn_directory(&mut self, locate: u16, msg: &[u8]) {
        let Ok(itch::Message::StockDirectory { stock, .. }) = itch::decode(msg) else {
            return;
        };
        let name = SymbolName(*stock);
        self.shard_of_locate[usize::from(locate)] = match self.universe.id(&name) {
            Some(id) => self.shard_of_symbol[id.index()] as u16,
            None => UNROUTED,
        };
    }

    /// What the source counted; its output rings close when it is dropped.
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// Edge statistics of the per-shard feed rings.
    pub fn edge_stats(&self) -> Vec<crate::runtime::edge::EdgeStats> {
        self.outputs.iter().map(EdgeOut::stats).collect()
    }
}
