//! Interactive Brokers market data as a source (`run --source ibkr`), for users without
//! a direct feed: tick-by-tick `BidAsk` and `AllLast` per configured symbol, turned into
//! ITCH 5.0 messages ([`synth`]) and routed like any feed's, so the same stages run
//! unchanged and any venue can take the decisions.
//!
//! - [`feed`] is the seam: what the market-data connection read ([`FeedEvent`], no
//!   `ibapi` type) and the [`TickFeed`] this source polls; `wire` (feature `ibkr`)
//!   implements it over `ibapi`, tests script it.
//! - **Stale, per symbol.** A symbol goes stale when IB reports its market-data farm down
//!   (2103, 2105, 2157: on its own subscription that symbol, with no request id every
//!   symbol, since IB does not say which farm serves which contract) or when no tick of
//!   it arrives for `stale_after_ms`. The source then sends a stale notice naming its
//!   stock locate (`codec::notice`), and risk refuses it (`FEED_STALE`); its next tick
//!   is sent behind a fresh notice that lifts it.
//! - **Capture.** Under `--journal DIR`, every message and notice is written to
//!   `DIR/input.itch` before it is routed, as the live MoldUDP64 source does, so
//!   `run --input DIR/input.itch` replays the session's decisions exactly.
//! - **End.** The source runs until the run is stopped (SIGINT/SIGTERM). A lost
//!   connection marks every symbol stale and ends the run with an error: this source
//!   does not reconnect.

pub mod config;
pub mod feed;
pub mod synth;
#[cfg(feature = "ibkr")]
pub mod wire;

use std::io;
use std::path::{Path, PathBuf};

use self::feed::{FeedEvent, TickFeed};
use self::synth::{Synth, Untranslatable};
use crate::clock::MonoClock;
use crate::codec::itch::PREFIX_LEN;
use crate::codec::notice::Notice;
use crate::msg::SymbolName;
use crate::source::live::Capture;
use crate::source::router::ShardRouter;
use crate::source::{Source, SourceContext, SourceError};

/// Feed events applied between checks of the stop signal and the deadlines.
const BATCH: u32 = 256;
const NS_PER_MS: u64 = 1_000_000;

/// Why the IB source ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum IbSourceError {
    #[error(
        "IBKR market data: the connection to TWS/IB Gateway was lost; every symbol marked stale (this source does not reconnect)"
    )]
    ConnectionLost,
    #[error("IBKR market data: cannot write the input capture {path}: {source}")]
    Capture { path: PathBuf, source: io::Error },
    #[error("IBKR market data: {0}")]
    Wire(String),
    #[error(
        "IBKR market data: IB ended the subscription of {ticker}: {reason}; every symbol marked stale"
    )]
    Refused { ticker: String, reason: String },
}

/// The IB market-data source over a [`TickFeed`].
pub struct IbSource<F: TickFeed> {
    feed: F,
    description: String,
    stale_after_ns: u64,
    synth: Synth,
    tickers: Vec<SymbolName>,
    /// Per symbol: the feed's clock at its last tick, and whether it is stale.
    last_tick_ns: Vec<u64>,
    stale: Vec<bool>,
    capture: Option<Capturing>,
}

/// The capture, and why it stopped taking messages once it has.
struct Capturing {
    file: Capture,
    failed: Option<io::Error>,
}

impl<F: TickFeed> IbSource<F> {
    /// A source of `symbols` (in universe order, as the feed numbers them) over `feed`.
    pub fn new(
        feed: F,
        symbols: &[SymbolName],
        stale_after_ms: u64,
        description: String,
    ) -> IbSource<F> {
        IbSource {
            feed,
            description,
            stale_after_ns: stale_after_ms.saturating_mul(NS_PER_MS),
            synth: Synth::new(symbols),
            tickers: symbols.to_vec(),
            last_tick_ns: vec![0; symbols.len()],
            stale: vec![false; symbols.len()],
            capture: None,
        }
    }

    /// Captures every message and notice sent to a new file at `path`.
    pub fn capture_to(&mut self, path: &Path) -> Result<(), IbSourceError> {
        let capture = Capture::create(path).map_err(|source| IbSourceError::Capture {
            path: path.to_path_buf(),
            source,
        })?;
        self.capture = Some(Capturing {
            file: capture,
            failed: None,
        });
        Ok(())
    }

    fn stream(&mut self, ctx: &mut SourceContext) -> Result<(), IbSourceError> {
        let IbSource {
            feed,
            stale_after_ns,
            synth,
            tickers,
            last_tick_ns,
            stale,
            capture,
            ..
        } = self;
        let SourceContext {
            router,
            idle,
            clock,
            progress,
            stop,
            metrics,
        } = ctx;
        let mut out = Out {
            capture: capture.as_mut(),
            router,
            clock,
            offset: 0,
            sent: 0,
        };
        last_tick_ns.fill(feed.now_ns());
        let wall = feed.wall_ns();
        let ts = synth.stamp((wall / 1_000_000_000) as i64, wall);
        synth.open(ts, |m| out.send(m));
        out.check()?;
        loop {
            if stop.should_stop() {
                out.router.stats_mut().stopped_early = true;
                progress.add(out.sent);
                return Ok(());
            }
            let mut polled = 0;
            while polled < BATCH {
                let Some(event) = feed.poll() else { break };
                polled += 1;
                let now = feed.now_ns();
                match event {
                    FeedEvent::Quote {
                        symbol,
                        time_s,
                        recv_unix_ns,
                        bid,
                        ask,
                        bid_size,
                        ask_size,
                    } => {
                        let ts = synth.stamp(time_s, recv_unix_ns);
                        let mut tick = Tick::new(&mut out, synth.locate(symbol), ts, stale[symbol]);
                        let applied =
                            synth.quote(symbol, ts, bid, ask, bid_size, ask_size, |m| tick.send(m));
                        if applied.is_ok() {
                            tick.finish();
                        }
                        out.ticked(applied.map(|()| true), symbol, &mut stale[symbol]);
                        last_tick_ns[symbol] = now;
                    }
                    FeedEvent::Trade {
                        symbol,
                        time_s,
                        recv_unix_ns,
                        price,
                        size,
                    } => {
                        let ts = synth.stamp(time_s, recv_unix_ns);
                        let mut tick = Tick::new(&mut out, synth.locate(symbol), ts, stale[symbol]);
                        let applied = synth.trade(symbol, ts, price, size, |m| tick.send(m));
                        if applied.is_ok() {
                            tick.finish();
                        }
                        out.ticked(applied, symbol, &mut stale[symbol]);
                        last_tick_ns[symbol] = now;
                    }
                    FeedEvent::FarmDown {
                        symbol: Some(symbol),
                        ..
                    } => {
                        if !stale[symbol] {
                            stale[symbol] = true;
                            out.notice(Notice::Stale {
                                locate: synth.locate(symbol),
                                ts_event: synth.last_ts(),
                            });
                        }
                    }
                    FeedEvent::FarmDown { symbol: None, .. } => {
                        stale.fill(true);
                        out.notice(Notice::Stale {
                            locate: 0,
                            ts_event: synth.last_ts(),
                        });
                    }
                    FeedEvent::Refused { symbol, reason } => {
                        stale.fill(true);
                        out.notice(Notice::Stale {
                            locate: 0,
                            ts_event: synth.last_ts(),
                        });
                        out.check()?;
                        return Err(IbSourceError::Refused {
                            ticker: tickers[symbol].to_string(),
                            reason,
                        });
                    }
                    FeedEvent::Lost => {
                        stale.fill(true);
                        out.notice(Notice::Stale {
                            locate: 0,
                            ts_event: synth.last_ts(),
                        });
                        out.check()?;
                        return Err(IbSourceError::ConnectionLost);
                    }
                }
                out.check()?;
            }
            // A symbol's deadline: a comparison per symbol per pass.
            let now = feed.now_ns();
            for symbol in 0..stale.len() {
                if !stale[symbol] && now.saturating_sub(last_tick_ns[symbol]) > *stale_after_ns {
                    stale[symbol] = true;
                    out.notice(Notice::Stale {
                        locate: synth.locate(symbol),
                        ts_event: synth.last_ts(),
                    });
                }
            }
            out.check()?;
            progress.add(std::mem::take(&mut out.sent));
            if let Some(metrics) = metrics {
                metrics.tick(out.clock.now_ns(), out.router, None);
            }
            if polled == 0 {
                idle.idle();
            } else {
                idle.reset();
            }
        }
    }

    /// Finishes the capture (cut to length, on stable storage).
    fn finish_capture(&mut self) -> Result<(), IbSourceError> {
        let Some(Capturing { file, failed }) = self.capture.take() else {
            return Ok(());
        };
        let path = file.path().to_path_buf();
        let finished = file.finish().map(drop);
        failed
            .map_or(finished, Err)
            .map_err(|source| IbSourceError::Capture { path, source })
    }
}

impl<F: TickFeed> Source for IbSource<F> {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn run(&mut self, ctx: &mut SourceContext) -> Result<(), SourceError> {
        let streamed = self.stream(ctx);
        let finished = self.finish_capture();
        Ok(streamed.and(finished)?)
    }
}

/// Where the source's messages go: the capture first, then the router.
struct Out<'a> {
    capture: Option<&'a mut Capturing>,
    router: &'a mut ShardRouter,
    clock: &'a MonoClock,
    /// Bytes sent so far, as a file's offset (the capture's, when there is one).
    offset: u64,
    /// Messages sent since the progress counter last took them.
    sent: u64,
}

impl Out<'_> {
    /// Captures then routes one message. Once the capture has failed nothing more is
    /// routed: no decision may rest on input the capture lacks.
    fn send(&mut self, msg: &[u8]) {
        if let Some(capture) = self.capture.as_deref_mut() {
            if capture.failed.is_some() {
                return;
            }
            if let Err(e) = capture.file.append(msg) {
                capture.failed = Some(e);
                return;
            }
        }
        self.router.route(self.offset, msg, self.clock.now_ns());
        self.offset += (PREFIX_LEN + msg.len()) as u64;
        self.sent += 1;
    }

    fn notice(&mut self, notice: Notice) {
        self.send(&notice.encode());
    }

    /// After a tick: a tick that could not be translated is counted as skipped (it
    /// leaves the symbol as it was); one that was applied has lifted a stale symbol.
    fn ticked(&mut self, applied: Result<bool, Untranslatable>, symbol: usize, stale: &mut bool) {
        match applied {
            Ok(_) => *stale = false,
            Err(e) => self.router.stats_mut().skip(self.offset, || {
                format!("IBKR tick of symbol {symbol}: {e}, skipped")
            }),
        }
    }

    fn check(&mut self) -> Result<(), IbSourceError> {
        match self.capture.as_deref_mut() {
            Some(c) => match &c.failed {
                Some(e) => Err(IbSourceError::Capture {
                    path: c.file.path().to_path_buf(),
                    source: io::Error::new(e.kind(), e.to_string()),
                }),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }
}

/// One tick's messages: a stale symbol's fresh notice goes before the first of them.
struct Tick<'a, 'b> {
    out: &'a mut Out<'b>,
    fresh: Option<Notice>,
}

impl<'a, 'b> Tick<'a, 'b> {
    fn new(out: &'a mut Out<'b>, locate: u16, ts_event: u64, stale: bool) -> Tick<'a, 'b> {
        Tick {
            out,
            fresh: stale.then_some(Notice::Fresh { locate, ts_event }),
        }
    }

    fn send(&mut self, msg: &[u8]) {
        self.finish();
        self.out.send(msg);
    }

    /// Sends the fresh notice if no message has: a tick that moved nothing still says
    /// the symbol's data flows.
    fn finish(&mut self) {
        if let Some(fresh) = self.fresh.take() {
            self.out.notice(fresh);
        }
    }
}

#[cfg(test)]
mod tests;
