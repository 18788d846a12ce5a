//! The live source: MoldUDP64 over UDP in, ITCH messages in sequence order out to the
//! [`ShardRouter`], with every lost packet noticed and recovered — or, when recovery
//! fails, every symbol marked stale so risk blocks it (`FEED_STALE`).
//!
//! Two non-blocking sockets: the feed (unicast, or a joined multicast group) and the
//! re-request socket, connected to the re-request server so the kernel drops answers
//! from anyone else. One loop drains both, hands each datagram to the [`Sequencer`]
//! (which owns ordering, gaps and deadlines; see its module), sends the request it
//! asks for, and idles with the source runner's idle strategy when both are empty.
//! Nothing is allocated per packet: the receive buffer and the reorder buffer are
//! allocated at start-up.
//!
//! The run ends at end of session once every message before it is applied or given
//! up, on the pipeline's stop signal, or with an error when the feed stays silent past
//! its deadline (`first_packet_timeout_ms`, `silence_timeout_ms`).

mod capture;
mod config;
mod reorder;
mod sequencer;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};

use socket2::{Domain, Protocol, Socket, Type};

pub use capture::{CAPTURE_FILE, Capture};
pub use config::{LiveConfig, Receive};
pub use sequencer::{Limits, Origin, Sequencer, Sink};

use crate::codec::mold::{MAX_DATAGRAM, Session};
use crate::codec::notice::stale_notice;
use crate::config::Problem;
use crate::source::router::ShardRouter;
use crate::source::{Source, SourceContext, SourceError};

const NS_PER_MS: u64 = 1_000_000;

/// Datagrams read from one socket before the other is looked at and the timers run:
/// bounds how long a flood on the feed can delay requests and deadlines.
const RECV_BATCH: usize = 64;

/// How the live source's run ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedEnd {
    /// End of session seen and every message before it applied or given up.
    EndOfSession,
    /// The pipeline's stop signal.
    Stopped,
    /// No packet within `first_packet_timeout_ms` of the start.
    NoFirstPacket,
    /// No packet for `silence_timeout_ms` before the end of session.
    Silent,
    /// A socket error.
    SocketError,
    /// The input capture failed (`run --journal` on a live feed): nothing after it was
    /// routed.
    CaptureFailed,
}

impl FeedEnd {
    /// As in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedEnd::EndOfSession => "end_of_session",
            FeedEnd::Stopped => "stopped",
            FeedEnd::NoFirstPacket => "no_first_packet",
            FeedEnd::Silent => "silent",
            FeedEnd::SocketError => "socket_error",
            FeedEnd::CaptureFailed => "capture_failed",
        }
    }
}

/// A datagram that was not a usable packet, for the report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MalformedPacket {
    /// `feed` or `recovery`.
    pub socket: &'static str,
    /// Its number among the datagrams received on that socket, from 1.
    pub datagram: u64,
    /// Byte offset of the fault in the datagram.
    pub offset: usize,
    /// A stable name for the fault (`block_past_end`, `wrong_session`, …).
    pub kind: &'static str,
    pub detail: String,
}

/// What the live source counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FeedStats {
    pub session: String,
    /// The address the feed socket is bound to.
    pub listen: String,
    pub rerequest_server: String,
    /// SO_RCVBUF of the feed socket as the kernel reports it (Linux reports twice what
    /// it grants, capped by `net.core.rmem_max`).
    pub recv_buffer_bytes: usize,
    /// Datagrams received on the feed socket.
    pub packets: u64,
    /// Datagrams received from the re-request server.
    pub recovery_packets: u64,
    pub heartbeats: u64,
    /// End-of-session packets received (the server repeats it).
    pub end_of_session: u64,
    /// Messages applied in sequence order, live and recovered.
    pub messages: u64,
    /// Packets whose messages had all been applied already.
    pub duplicate_packets: u64,
    /// Sequence discontinuities seen: each run of missing messages counts once.
    pub gaps: u64,
    /// Messages missing when their gaps were seen.
    pub gap_messages: u64,
    /// Requests sent to the re-request server.
    pub requests: u64,
    /// Requests that could not be sent, and errors the re-request socket reported.
    pub request_errors: u64,
    /// Messages applied from the re-request server's answers.
    pub recovered: u64,
    /// Messages given up.
    pub lost: u64,
    /// Times messages were given up; each marked every symbol stale.
    pub losses: u64,
    /// Of those, the ones whose recovery ran out of time (or the feed went silent); the
    /// rest were beyond what the source re-requests.
    pub timed_out: u64,
    /// Packets held in the reorder buffer until a gap before them was filled.
    pub held: u64,
    /// Most packets held at once.
    pub held_high_water: usize,
    /// Packets dropped because the reorder buffer was full; re-requested in their turn.
    pub overflow: u64,
    /// Packets dropped because they are longer than a reorder slot.
    pub too_long_to_hold: u64,
    /// Packets ignored because they claimed to be more than `max_gap_messages` ahead.
    pub out_of_window: u64,
    /// Datagrams that were not usable packets.
    pub malformed: u64,
    /// The first of them (at most [`FeedStats::MALFORMED_SAMPLES`]).
    pub malformed_samples: Vec<MalformedPacket>,
    pub end: Option<FeedEnd>,
    /// Where the applied messages were captured (`run --journal DIR` on a live feed:
    /// `DIR/input.itch`), and how many; none without a journal.
    pub capture: Option<CaptureStats>,
}

/// The live input capture, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CaptureStats {
    pub path: String,
    /// Messages stored, stale notices included.
    pub messages: u64,
    pub bytes: u64,
}

impl FeedStats {
    pub const MALFORMED_SAMPLES: usize = 8;

    /// Counts a malformed datagram; formats `detail` only for the first few, so a flood
    /// of garbage allocates nothing.
    pub fn malformed(
        &mut self,
        origin: Origin,
        offset: usize,
        kind: &'static str,
        detail: impl fmt::Display,
    ) {
        let at = self.datagram_at(origin);
        self.malformed_in(at, offset, kind, detail);
    }

    /// The datagram being handled: its socket and its number on that socket.
    pub fn datagram_at(&self, origin: Origin) -> (&'static str, u64) {
        match origin {
            Origin::Feed => ("feed", self.packets),
            Origin::Recovery => ("recovery", self.recovery_packets),
        }
    }

    /// Counts a malformed datagram found earlier, `(socket, datagram)` as
    /// [`FeedStats::datagram_at`] gave it then.
    pub fn malformed_in(
        &mut self,
        (socket, datagram): (&'static str, u64),
        offset: usize,
        kind: &'static str,
        detail: impl fmt::Display,
    ) {
        self.malformed += 1;
        if self.malformed_samples.len() < Self::MALFORMED_SAMPLES {
            self.malformed_samples.push(MalformedPacket {
                socket,
                datagram,
                offset,
                kind,
                detail: detail.to_string(),
            });
        }
    }

    /// True once messages were given up: the books are stale for the rest of the session.
    pub fn books_stale(&self) -> bool {
        self.losses > 0
    }
}

/// Why the live source could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("live feed: {} invalid value(s):{}", .0.len(), list(.0))]
    Config(Vec<Problem>),
    #[error("live feed: bad session name: {0}")]
    Session(#[from] crate::codec::mold::SessionError),
    #[error("live feed: cannot open the {socket} socket on {addr}: {source}")]
    Socket {
        socket: &'static str,
        addr: SocketAddr,
        source: io::Error,
    },
    #[error("live feed: cannot join multicast group {group} on interface {interface}: {source}")]
    Join {
        group: SocketAddr,
        interface: Ipv4Addr,
        source: io::Error,
    },
    #[error("live feed: receiving on the {socket} socket: {source}")]
    Receive {
        socket: &'static str,
        source: io::Error,
    },
    #[error(
        "live feed: no packet on {listen} within first_packet_timeout_ms = {ms}; is the feed sending there?"
    )]
    NoFirstPacket { listen: SocketAddr, ms: u64 },
    #[error(
        "live feed: capturing the input to {path}: {source}; the session stopped (no message is routed that the capture lacks)"
    )]
    Capture { path: PathBuf, source: io::Error },
    #[error(
        "live feed: nothing received for silence_timeout_ms = {ms} before the end of session (next message {expected}); every symbol marked stale"
    )]
    Silent { ms: u64, expected: u64 },
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

/// The feed and re-request sockets, opened before the pipeline's threads start so that
/// a bad address fails the start, not the run.
pub struct LiveSockets {
    feed: UdpSocket,
    requests: UdpSocket,
    listen: SocketAddr,
    recv_buffer_bytes: usize,
}

impl LiveSockets {
    /// Validates `config`, then binds (and joins) the feed socket and connects the
    /// re-request socket.
    pub fn open(config: &LiveConfig) -> Result<LiveSockets, LiveError> {
        config.validate().map_err(LiveError::Config)?;
        let (bind, group) = match config.receive {
            Receive::Unicast { listen } => (listen, None),
            Receive::Multicast { group, interface } => (group, Some((group, interface))),
        };
        let fail = |socket, addr| {
            move |source| LiveError::Socket {
                socket,
                addr,
                source,
            }
        };
        let feed = udp(bind)
            .and_then(|s| {
                // Several receivers on one host may listen to the same group. Never on
                // a unicast port: two listeners there would both bind, and the second
                // would re-request the whole session and trade it a second time.
                s.set_reuse_address(group.is_some())?;
                s.set_recv_buffer_size(config.recv_buffer_bytes)?;
                s.bind(&bind.into())?;
                Ok(s)
            })
            .map_err(fail("feed", bind))?;
        if let Some((group, interface)) = group {
            let SocketAddr::V4(v4) = group else {
                return Err(LiveError::Join {
                    group,
                    interface,
                    source: io::Error::new(io::ErrorKind::InvalidInput, "not an IPv4 group"),
                });
            };
            feed.join_multicast_v4(v4.ip(), &interface)
                .map_err(|source| LiveError::Join {
                    group,
                    interface,
                    source,
                })?;
        }
        let recv_buffer_bytes = feed.recv_buffer_size().map_err(fail("feed", bind))?;
        let listen = feed
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .unwrap_or(bind);
        let server = config.rerequest_server;
        let any: SocketAddr = if server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let requests = udp(server)
            .and_then(|s| {
                // Answers arrive in bursts of up to max_request_messages.
                s.set_recv_buffer_size(config.recv_buffer_bytes)?;
                s.bind(&any.into())?;
                s.connect(&server.into())?;
                Ok(s)
            })
            .map_err(fail("re-request", server))?;
        feed.set_nonblocking(true).map_err(fail("feed", bind))?;
        requests
            .set_nonblocking(true)
            .map_err(fail("re-request", server))?;
        Ok(LiveSockets {
            feed: feed.into(),
            requests: requests.into(),
            listen,
            recv_buffer_bytes,
        })
    }

    /// The address the feed socket is bound to (with the port chosen, for port 0).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }
}

fn udp(addr: SocketAddr) -> io::Result<Socket> {
    Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
}

impl Sink for ShardRouter {
    #[inline]
    fn message(&mut self, offset: u64, msg: &[u8], ts_recv: u64) {
        self.route(offset, msg, ts_recv);
    }

    fn stale(&mut self, ts_event: u64, ts_recv: u64) {
        self.mark_all_stale(ts_event, ts_recv);
    }
}

/// Where the sequencer's messages go in a live session: into the capture first, if there
/// is one, then to the router. After a capture failure nothing more is routed: a decision
/// must never rest on input the capture lacks.
struct Applied<'a> {
    router: &'a mut ShardRouter,
    capture: Option<&'a mut Capture>,
    failed: &'a mut Option<io::Error>,
}

impl Applied<'_> {
    /// Stores `msg` in the capture; false if it must not be routed.
    #[inline]
    fn captured(&mut self, msg: &[u8]) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let Some(capture) = self.capture.as_deref_mut() else {
            return true;
        };
        match capture.append(msg) {
            Ok(()) => true,
            Err(e) => {
                *self.failed = Some(e);
                false
            }
        }
    }
}

impl Sink for Applied<'_> {
    #[inline]
    fn message(&mut self, offset: u64, msg: &[u8], ts_recv: u64) {
        if self.captured(msg) {
            self.router.route(offset, msg, ts_recv);
        }
    }

    fn stale(&mut self, ts_event: u64, ts_recv: u64) {
        if self.captured(&stale_notice(ts_event)) {
            self.router.mark_all_stale(ts_event, ts_recv);
        }
    }
}

/// The live source: one per pipeline, on the source runner.
pub struct LiveSource {
    sockets: LiveSockets,
    sequencer: Sequencer,
    /// For the report: the feed and where it is bound.
    description: String,
    /// One datagram; MoldUDP64 packets never exceed a UDP payload.
    buf: Box<[u8]>,
    first_packet_timeout_ns: u64,
    silence_timeout_ns: u64,
    capture: Option<Capture>,
    /// Why the capture stopped taking messages, once it has.
    capture_failed: Option<io::Error>,
}

impl LiveSource {
    /// Validates `config` and opens its sockets ([`LiveSockets::open`]): a bad address
    /// fails here, before any thread starts.
    pub fn open(config: &LiveConfig) -> Result<LiveSource, LiveError> {
        let sockets = LiveSockets::open(config)?;
        let session: Session = config.session()?;
        let mut sequencer = Sequencer::new(
            session,
            Limits {
                max_gap: config.max_gap_messages,
                max_request: config.max_request_messages,
                request_interval_ns: config.request_interval_ms.saturating_mul(NS_PER_MS),
                recovery_timeout_ns: config.recovery_timeout_ms.saturating_mul(NS_PER_MS),
                reorder_slots: config.reorder_slots,
                reorder_slot_bytes: config.reorder_slot_bytes,
            },
        );
        let stats = sequencer.stats_mut();
        stats.session = session.to_string();
        stats.listen = sockets.listen.to_string();
        stats.rerequest_server = config.rerequest_server.to_string();
        stats.recv_buffer_bytes = sockets.recv_buffer_bytes;
        Ok(LiveSource {
            description: format!("{} (bound to {})", config.describe(), sockets.listen),
            sockets,
            sequencer,
            buf: vec![0; MAX_DATAGRAM + 1].into_boxed_slice(),
            first_packet_timeout_ns: config.first_packet_timeout_ms.saturating_mul(NS_PER_MS),
            silence_timeout_ns: config.silence_timeout_ms.saturating_mul(NS_PER_MS),
            capture: None,
            capture_failed: None,
        })
    }

    /// Captures every applied message to a new file at `path` (see [`Capture`]).
    pub fn capture_to(&mut self, path: &Path) -> Result<(), LiveError> {
        let capture = Capture::create(path).map_err(|source| LiveError::Capture {
            path: path.to_path_buf(),
            source,
        })?;
        self.sequencer.stats_mut().capture = Some(CaptureStats {
            path: path.display().to_string(),
            ..CaptureStats::default()
        });
        self.capture = Some(capture);
        Ok(())
    }

    /// The sequencer's output for this session: the capture, then the router.
    fn applied<'a>(
        capture: &'a mut Option<Capture>,
        failed: &'a mut Option<io::Error>,
        router: &'a mut ShardRouter,
    ) -> Applied<'a> {
        Applied {
            router,
            capture: capture.as_mut(),
            failed,
        }
    }

    /// Finishes the capture (cut to length, on stable storage) and reports how it ended:
    /// its first failure, if any, fails the run.
    fn finish_capture(&mut self) -> Result<(), LiveError> {
        let Some(capture) = self.capture.take() else {
            return Ok(());
        };
        let path = capture.path().to_path_buf();
        if let Some(stats) = self.sequencer.stats_mut().capture.as_mut() {
            stats.messages = capture.messages();
            stats.bytes = capture.bytes();
        }
        let failed = self.capture_failed.take();
        let finished = capture.finish();
        match failed.map_or(finished.map(|_| ()), Err) {
            Ok(()) => Ok(()),
            Err(source) => Err(LiveError::Capture { path, source }),
        }
    }

    /// Receives until end of session, a stop request, or a deadline; notes how it ended.
    fn receive_all(&mut self, ctx: &mut SourceContext) -> Result<(), LiveError> {
        let received = self.receive(ctx);
        let captured = self.finish_capture();
        let result = match (received, captured) {
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
            (Ok(end), Ok(())) => Ok(end),
        };
        self.sequencer.finish();
        self.sequencer.stats_mut().end = Some(match &result {
            Ok(end) => *end,
            Err(LiveError::NoFirstPacket { .. }) => FeedEnd::NoFirstPacket,
            Err(LiveError::Silent { .. }) => FeedEnd::Silent,
            Err(LiveError::Capture { .. }) => FeedEnd::CaptureFailed,
            Err(_) => FeedEnd::SocketError,
        });
        if matches!(result, Ok(FeedEnd::Stopped)) {
            ctx.router.stats_mut().stopped_early = true;
        }
        result.map(|_| ())
    }

    fn receive(&mut self, ctx: &mut SourceContext) -> Result<FeedEnd, LiveError> {
        let start = ctx.clock.now_ns();
        let mut last_datagram: Option<u64> = None;
        let mut reported = 0u64;
        loop {
            let got = self.drain(Origin::Feed, ctx)? + self.drain(Origin::Recovery, ctx)?;
            let now = ctx.clock.now_ns();
            if got > 0 {
                last_datagram = Some(now);
            }
            let mut applied =
                Self::applied(&mut self.capture, &mut self.capture_failed, &mut ctx.router);
            if let Some(request) = self.sequencer.poll(now, &mut applied)
                && self.sockets.requests.send(&request.to_bytes()).is_err()
            {
                self.sequencer.stats_mut().request_errors += 1;
            }
            if self.capture_failed.is_some() {
                // finish_capture reports the error.
                return Ok(FeedEnd::CaptureFailed);
            }
            let applied = self.sequencer.stats().messages;
            if applied > reported {
                ctx.progress.add(applied - reported);
                reported = applied;
            }
            if let Some(metrics) = &mut ctx.metrics {
                metrics.tick(now, &ctx.router, Some(self.sequencer.stats()));
            }
            if self.sequencer.is_done() {
                return Ok(FeedEnd::EndOfSession);
            }
            if ctx.stop.should_stop() {
                return Ok(FeedEnd::Stopped);
            }
            if got > 0 {
                ctx.idle.reset();
                continue;
            }
            match last_datagram {
                None if now - start > self.first_packet_timeout_ns => {
                    return Err(LiveError::NoFirstPacket {
                        listen: self.sockets.listen,
                        ms: self.first_packet_timeout_ns / NS_PER_MS,
                    });
                }
                Some(last) if now - last > self.silence_timeout_ns => {
                    let mut applied =
                        Self::applied(&mut self.capture, &mut self.capture_failed, &mut ctx.router);
                    self.sequencer.abandon(now, &mut applied);
                    return Err(LiveError::Silent {
                        ms: self.silence_timeout_ns / NS_PER_MS,
                        expected: self.sequencer.expected(),
                    });
                }
                _ => ctx.idle.idle(),
            }
        }
    }

    /// Reads up to [`RECV_BATCH`] datagrams from one socket; returns how many.
    fn drain(&mut self, origin: Origin, ctx: &mut SourceContext) -> Result<usize, LiveError> {
        let LiveSource {
            sockets,
            sequencer,
            buf,
            capture,
            capture_failed,
            ..
        } = self;
        let SourceContext { router, clock, .. } = ctx;
        let mut applied = Self::applied(capture, capture_failed, router);
        let socket = match origin {
            Origin::Feed => &sockets.feed,
            Origin::Recovery => &sockets.requests,
        };
        let mut got = 0;
        while got < RECV_BATCH {
            match socket.recv(buf) {
                Ok(len) => {
                    got += 1;
                    sequencer.on_datagram(&buf[..len], origin, clock.now_ns(), &mut applied);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A connected UDP socket reports an ICMP "port unreachable" for an
                // earlier request here; the gap's deadline handles a server that is gone.
                Err(_) if origin == Origin::Recovery => {
                    sequencer.stats_mut().request_errors += 1;
                    break;
                }
                Err(source) => {
                    return Err(LiveError::Receive {
                        socket: "feed",
                        source,
                    });
                }
            }
        }
        Ok(got)
    }

    pub fn stats(&self) -> &FeedStats {
        self.sequencer.stats()
    }
}

impl Source for LiveSource {
    fn describe(&self) -> String {
        self.description.clone()
    }

    /// Receives until end of session, a stop request, or a deadline.
    fn run(&mut self, ctx: &mut SourceContext) -> Result<(), SourceError> {
        Ok(self.receive_all(ctx)?)
    }

    fn feed_stats(&self) -> Option<FeedStats> {
        Some(self.stats().clone())
    }

    fn listen_addr(&self) -> Option<SocketAddr> {
        Some(self.sockets.listen_addr())
    }
}
