//! File replay: frames an ITCH 5.0 file (read in blocks into one reused buffer, see
//! [`FrameReader`]) or the generated sample, as fast as possible or open loop at a fixed
//! rate, and hands each message to the [`ShardRouter`](super::router::ShardRouter).

use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::codec::itch::{FrameError, FrameReader};
use crate::msg::SymbolName;
use crate::source::ibkr::IbSourceError;
use crate::source::ibkr::config::IbSourceConfig;
use crate::source::live::{LiveConfig, LiveError, LiveSource};
use crate::source::{Source, SourceContext, SourceError};
use crate::tools::sample::{SampleSpec, generate};

/// Where the market data comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A NASDAQ-format ITCH 5.0 file: each message preceded by a 2-byte big-endian length.
    File(PathBuf),
    /// The deterministic sample session, generated in memory.
    Sample(SampleSpec),
    /// A live MoldUDP64 feed over UDP ([`crate::source::live`]).
    Live(Box<LiveConfig>),
    /// Interactive Brokers' market data ([`crate::source::ibkr`], feature `ibkr`).
    Ibkr(Box<IbInput>),
}

/// `run --source ibkr`: `[source.ibkr]` and the universe's tickers, in order.
#[derive(Debug, Clone)]
pub struct IbInput {
    pub config: IbSourceConfig,
    pub tickers: Vec<SymbolName>,
}

impl IbInput {
    /// The source, connected and subscribed (a refused connection fails here, before
    /// any thread starts), capturing to `capture` when given.
    #[cfg(feature = "ibkr")]
    fn open(&self, capture: Option<&Path>) -> Result<Box<dyn Source>, IbSourceError> {
        use crate::source::ibkr::{IbSource, wire::IbTickWire};
        let wire = IbTickWire::connect(&self.config, &self.tickers).map_err(IbSourceError::Wire)?;
        let mut source = IbSource::new(
            wire,
            &self.tickers,
            self.config.stale_after_ms,
            self.config.describe(),
        );
        if let Some(path) = capture {
            source.capture_to(path)?;
        }
        Ok(Box::new(source))
    }

    #[cfg(not(feature = "ibkr"))]
    fn open(&self, _capture: Option<&Path>) -> Result<Box<dyn Source>, IbSourceError> {
        Err(IbSourceError::Wire(
            "--source ibkr needs a build with `--features ibkr`".into(),
        ))
    }
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
            Input::Ibkr(ib) => ib.config.describe(),
        }
    }

    /// Opens the file (refusing an empty one: there is nothing to replay) or generates
    /// the sample. A pipe (`zcat day.itch.gz | tickpipe run --input /dev/stdin`) has no
    /// size to check up front: it is streamed, and one that brings nothing ends the
    /// replay with an error. A live feed has no bytes up front (the pipeline opens its
    /// sockets instead): asking for them is an error.
    pub fn open(&self) -> Result<ReplayInput, InputError> {
        match self {
            Input::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| InputError::open(path, e))?;
                let meta = file.metadata().map_err(|e| InputError::open(path, e))?;
                let len = meta.is_file().then_some(meta.len());
                if len == Some(0) {
                    return Err(InputError::open(
                        path,
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "file is empty"),
                    ));
                }
                Ok(ReplayInput::File {
                    file,
                    path: path.clone(),
                    len,
                })
            }
            Input::Sample(spec) => Ok(ReplayInput::Bytes(generate(spec))),
            Input::Live(_) | Input::Ibkr(_) => Err(InputError {
                path: PathBuf::from(self.describe()),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a live feed has no bytes to replay",
                ),
            }),
        }
    }

    /// The source that reads it: a replay paced as `pacing` says, or the live feed with
    /// its sockets open (a bad address fails here, before any thread starts).
    pub fn source(&self, pacing: Pacing) -> Result<Box<dyn Source>, OpenError> {
        Ok(match self {
            Input::Live(config) => Box::new(LiveSource::open(config)?),
            Input::Ibkr(ib) => ib.open(None)?,
            Input::File(_) | Input::Sample(_) => {
                Box::new(ReplaySource::new(self.open()?, self.describe(), pacing))
            }
        })
    }

    /// [`Input::source`], recording what it takes under a journal: a live feed captures
    /// every message it applies to a new file at `capture` (see
    /// [`Capture`](crate::source::live::Capture)), so the session replays exactly. A file
    /// or the sample needs no capture: it is already a replayable input, and the journal
    /// names it by its identity.
    pub fn source_capturing(
        &self,
        pacing: Pacing,
        capture: &Path,
    ) -> Result<Box<dyn Source>, OpenError> {
        match self {
            Input::Live(config) => {
                let mut live = LiveSource::open(config)?;
                live.capture_to(capture)?;
                Ok(Box::new(live))
            }
            Input::Ibkr(ib) => Ok(ib.open(Some(capture))?),
            Input::File(_) | Input::Sample(_) => self.source(pacing),
        }
    }

    /// The whole input in memory, for a reader that needs all of it at once (the feed
    /// server answers re-requests from anywhere in the session).
    pub fn load(&self) -> Result<Vec<u8>, InputError> {
        match self.open()? {
            ReplayInput::Bytes(bytes) => Ok(bytes),
            ReplayInput::File {
                mut file,
                path,
                len,
            } => {
                let mut bytes = Vec::with_capacity(len.unwrap_or(0) as usize);
                file.read_to_end(&mut bytes)
                    .map_err(|e| InputError::open(&path, e))?;
                Ok(bytes)
            }
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

/// Why an input's source could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the input")]
    Input(#[from] InputError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Ibkr(#[from] IbSourceError),
}

/// The input, opened for replay.
pub enum ReplayInput {
    /// A file, read front to back through [`FrameReader`]; `len` is a regular file's
    /// size when opened, to tell a file that shrank during the replay from one that
    /// ended as expected, and `None` for a pipe, which has no size.
    File {
        file: std::fs::File,
        path: PathBuf,
        len: Option<u64>,
    },
    /// The generated sample.
    Bytes(Vec<u8>),
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

/// Why a replay ended before its input did, or had nothing to replay. The texts are the
/// report's failure messages.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(
        "input ended short at byte {offset}: the file shrank from {expected} to {read} bytes \
         while being replayed, ending inside a message ({frame})"
    )]
    ShrankInsideMessage {
        offset: u64,
        expected: u64,
        read: u64,
        frame: FrameError,
    },
    #[error("input ended short at byte {offset}: it ends inside a message ({frame})")]
    EndsInsideMessage { offset: u64, frame: FrameError },
    #[error("input ended short: reading failed after {read} bytes: {source}")]
    ReadFailed { read: u64, source: std::io::Error },
    #[error(
        "input ended short at byte {read}: the file shrank from {expected} to {read} bytes \
         while being replayed"
    )]
    Shrank { expected: u64, read: u64 },
    #[error("the input is empty: nothing to replay")]
    Empty,
    #[error("the replay ran twice")]
    RanTwice,
}

/// The file-replay source: one per pipeline, on its own runner.
pub struct ReplaySource {
    /// Taken by [`Source::run`].
    input: Option<ReplayInput>,
    description: String,
    pacing: Pacing,
}

impl ReplaySource {
    /// Replays `input`, described in the report as `description`.
    pub fn new(input: ReplayInput, description: String, pacing: Pacing) -> ReplaySource {
        ReplaySource {
            input: Some(input),
            description,
            pacing,
        }
    }

    /// Replays until the input ends or a stop is requested. An input that ends short —
    /// inside a message, or a file that shrank while being read — ends the replay with
    /// an error naming the offset after the last whole message and why; everything
    /// framed before it has been sent, so the pipeline drains and reports it.
    fn replay_all(&mut self, ctx: &mut SourceContext) -> Result<(), ReplayError> {
        let (ended, read, expected) = match self.input.take() {
            Some(ReplayInput::File { file, len, .. }) => {
                let mut reader = FrameReader::new(file);
                let ended = self.replay(&mut reader, ctx);
                (ended, reader.bytes_read(), len)
            }
            Some(ReplayInput::Bytes(bytes)) => {
                let mut reader = FrameReader::new(bytes.as_slice());
                let ended = self.replay(&mut reader, ctx);
                (ended, reader.bytes_read(), Some(bytes.len() as u64))
            }
            None => return Err(ReplayError::RanTwice),
        };
        let short = expected.filter(|&expected| read < expected);
        match (ended, short) {
            (Ended::Stopped, _) => Ok(()),
            (Ended::Inside(frame), Some(expected)) => Err(ReplayError::ShrankInsideMessage {
                offset: frame.offset(),
                expected,
                read,
                frame,
            }),
            (Ended::Inside(frame), None) => Err(ReplayError::EndsInsideMessage {
                offset: frame.offset(),
                frame,
            }),
            (Ended::ReadFailed(source), _) => Err(ReplayError::ReadFailed { read, source }),
            (Ended::End, Some(expected)) => Err(ReplayError::Shrank { expected, read }),
            (Ended::End, None) if expected.is_none() && read == 0 => Err(ReplayError::Empty),
            (Ended::End, None) => Ok(()),
        }
    }

    fn replay<R: Read>(&mut self, reader: &mut FrameReader<R>, ctx: &mut SourceContext) -> Ended {
        let SourceContext {
            router,
            idle,
            clock,
            progress,
            stop,
            metrics,
        } = ctx;
        let interval_ns = match self.pacing {
            Pacing::AsFastAsPossible => None,
            Pacing::Rate { messages_per_sec } => Some(1e9 / messages_per_sec),
        };
        let start = clock.now_ns();
        let mut sent = 0u64;
        let mut since_check = 0u64;
        let mut inside = None;
        let framed = reader.for_each(|item| {
            let ts_recv = match interval_ns {
                None => clock.now_ns(),
                Some(interval) => {
                    let due = start + (sent as f64 * interval) as u64;
                    idle.reset();
                    while clock.now_ns() < due {
                        // A slow rate can leave a long wait: a stop must not sit
                        // behind it (at 10 msgs/s, the next check would be 100 s away).
                        if stop.should_stop() {
                            router.stats_mut().stopped_early = true;
                            return ControlFlow::Break(());
                        }
                        idle.idle();
                    }
                    due
                }
            };
            sent += 1;
            match item {
                Ok(frame) => router.route(frame.offset, frame.bytes, ts_recv),
                Err(e @ FrameError::ZeroLength { .. }) => {
                    router.stats_mut().skip(e.offset(), || format!("byte {e}"))
                }
                Err(FrameError::Desync { offset, skipped }) => {
                    router.stats_mut().resync(offset, skipped)
                }
                Err(e) => {
                    inside = Some(e);
                    return ControlFlow::Break(());
                }
            }
            since_check += 1;
            if since_check == CHECK_EVERY {
                progress.add(since_check);
                since_check = 0;
                if let Some(metrics) = metrics {
                    metrics.tick(clock.now_ns(), router, None);
                }
                if stop.should_stop() {
                    router.stats_mut().stopped_early = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        progress.add(since_check);
        match (framed, inside) {
            (Err(e), _) => Ended::ReadFailed(e),
            (Ok(_), Some(e)) => Ended::Inside(e),
            (Ok(ControlFlow::Break(())), None) => Ended::Stopped,
            (Ok(ControlFlow::Continue(())), None) => Ended::End,
        }
    }
}

impl Source for ReplaySource {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn run(&mut self, ctx: &mut SourceContext) -> Result<(), SourceError> {
        Ok(self.replay_all(ctx)?)
    }

    fn pacing(&self) -> Pacing {
        self.pacing
    }
}

/// How a replay's framing ended.
enum Ended {
    /// The input ran out after a whole message.
    End,
    /// A stop was requested.
    Stopped,
    /// The input ends inside a message (a truncation).
    Inside(FrameError),
    ReadFailed(std::io::Error),
}
