//! File replay: frames an ITCH 5.0 file (read without copying, through mmap) or the
//! generated sample, as fast as possible or open loop at a fixed rate, and hands each
//! message to the [`ShardRouter`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::MonoClock;
use crate::feed::itch::{FrameError, Framer};
use crate::feed::live::LiveConfig;
use crate::feed::router::ShardRouter;
use crate::feed::sample::{SampleSpec, generate};
use crate::sys::idle::Idler;
use crate::sys::mmap::MappedFile;
use crate::sys::{Progress, StopSignal};

/// Where the market data comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A NASDAQ-format ITCH 5.0 file: each message preceded by a 2-byte big-endian length.
    File(PathBuf),
    /// The deterministic sample session, generated in memory.
    Sample(SampleSpec),
    /// A live MoldUDP64 feed over UDP ([`crate::feed::live`]).
    Live(Box<LiveConfig>),
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
            Input::Live(config) => config.describe(),
        }
    }

    /// Maps the file or generates the sample. A live feed has no bytes up front (the
    /// pipeline opens its sockets instead): asking for them is an error.
    pub fn load(&self) -> Result<InputBytes, InputError> {
        match self {
            Input::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| InputError::open(path, e))?;
                MappedFile::map(&file)
                    .map(InputBytes::Mapped)
                    .map_err(|e| InputError::open(path, e))
            }
            Input::Sample(spec) => Ok(InputBytes::Owned(generate(spec))),
            Input::Live(config) => Err(InputError {
                path: PathBuf::from(config.describe()),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a live feed has no bytes to replay",
                ),
            }),
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

/// How fast the replay goes.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Pacing {
    /// As fast as the pipeline takes it. `ts_recv` is the time each message is framed,
    /// so latencies include waiting in a full feed ring.
    AsFastAsPossible,
    /// Open loop at a fixed offered rate: message `i` is due at `start + i / rate`. Its
    /// `ts_recv` is that intended time, not the (possibly later) time it is sent, so a
    /// stalled pipeline shows as latency instead of hiding behind a slowed sender
    /// (coordinated omission).
    Rate { messages_per_sec: f64 },
}

/// Frames between checks of the stop signal and progress updates.
const CHECK_EVERY: u64 = 1024;

/// The file-replay source: one per pipeline, on its own runner.
pub struct ReplaySource {
    input: Arc<InputBytes>,
    router: ShardRouter,
    pacing: Pacing,
    /// How to wait for a paced message's due time: the source runner's idle strategy,
    /// so a source sharing a core yields it (busy-spinning would starve the shard).
    idle: Idler,
    clock: MonoClock,
    progress: Arc<Progress>,
    stop: Arc<StopSignal>,
}

impl ReplaySource {
    pub fn new(
        input: Arc<InputBytes>,
        router: ShardRouter,
        pacing: Pacing,
        idle: Idler,
        clock: MonoClock,
        progress: Arc<Progress>,
        stop: Arc<StopSignal>,
    ) -> ReplaySource {
        ReplaySource {
            input,
            router,
            pacing,
            idle,
            clock,
            progress,
            stop,
        }
    }

    /// Replays until the input ends or a stop is requested. A framing error that leaves
    /// no way to find the next message (a truncated file) ends the replay with an error
    /// naming its offset; everything framed before it has been sent.
    pub fn run(&mut self) -> Result<(), String> {
        let input = Arc::clone(&self.input);
        let interval_ns = match self.pacing {
            Pacing::AsFastAsPossible => None,
            Pacing::Rate { messages_per_sec } => Some(1e9 / messages_per_sec),
        };
        let start = self.clock.now_ns();
        let mut since_check = 0u64;
        for (sent, item) in Framer::new(input.bytes()).enumerate() {
            let ts_recv = match interval_ns {
                None => self.clock.now_ns(),
                Some(interval) => {
                    let due = start + (sent as f64 * interval) as u64;
                    self.idle.reset();
                    while self.clock.now_ns() < due {
                        // A slow rate can leave a long wait: a stop must not sit
                        // behind it (at 10 msgs/s, the next check would be 100 s away).
                        if self.stop.should_stop() {
                            self.router.stats_mut().stopped_early = true;
                            self.progress.add(since_check);
                            return Ok(());
                        }
                        self.idle.idle();
                    }
                    due
                }
            };
            match item {
                Ok(frame) => self.router.route(frame.offset, frame.bytes, ts_recv),
                Err(e @ FrameError::ZeroLength { .. }) => self
                    .router
                    .stats_mut()
                    .skip(e.offset(), || format!("byte {e}")),
                Err(e) => return Err(format!("input ends inside a message: byte {e}")),
            }
            since_check += 1;
            if since_check == CHECK_EVERY {
                self.progress.add(since_check);
                since_check = 0;
                if self.stop.should_stop() {
                    self.router.stats_mut().stopped_early = true;
                    break;
                }
            }
        }
        self.progress.add(since_check);
        Ok(())
    }

    pub fn router(&self) -> &ShardRouter {
        &self.router
    }
}
