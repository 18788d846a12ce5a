//! A MoldUDP64 feed server to test the live source against (`tickpipe feed-server`, and
//! the integration tests on loopback).
//!
//! It frames an ITCH file (length-prefixed, as NASDAQ ships it) into downstream packets
//! of up to `max_packet_bytes`, numbers the messages from 1, and sends them to a unicast
//! address or a multicast group at a chosen rate, open loop: packet `i` is due at
//! `start + i / rate`, so a slow receiver never slows the sender, as on a real feed.
//! While it waits for the next packet's due time it answers re-requests on its own
//! socket from a retransmission window of the last `retransmit_window` messages sent (0
//! disables re-requests: the server then ignores them, as NASDAQ's does for messages it
//! no longer has). When the feed has been idle for `heartbeat_interval` it sends a
//! heartbeat; at the end it sends end of session, then repeats it every heartbeat
//! interval while it lingers to answer late re-requests.
//!
//! Drops on purpose apply to message packets only — every k-th, or each with a given
//! probability from a seeded PCG — so which packets are dropped depends on the seed
//! and the input alone, never on timing (heartbeats are sent only when idle). Re-request
//! answers are never dropped.
//!
//! The retransmission window is an index over the input, not a copy: the input is held
//! for the whole run anyway, and the window only decides what may be served.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use rand::RngCore;
use rand_pcg::Pcg64Mcg;
use socket2::{Domain, Protocol, Socket, Type};

use crate::codec::itch::{FrameError, Framer, PREFIX_LEN};
use crate::codec::mold::{MAX_DATAGRAM, PacketBuilder, PushError, Request, Session};
use crate::sys::StopSignal;

/// How fast the server sends message packets.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum SendRate {
    AsFastAsPossible,
    MessagesPerSec(f64),
    PacketsPerSec(f64),
}

/// Which message packets the server drops on purpose.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum DropPolicy {
    None,
    /// Packets number k, 2k, 3k, … (counting message packets from 1).
    EveryKth(u64),
    /// Each packet with this probability, drawn from a PCG seeded with `seed`.
    Random {
        probability: f64,
        seed: u64,
    },
}

/// Decides, packet by packet, which message packets to drop.
#[derive(Clone, Debug)]
pub struct Dropper {
    policy: DropPolicy,
    packets: u64,
    rng: Pcg64Mcg,
}

impl Dropper {
    pub fn new(policy: DropPolicy) -> Dropper {
        let seed = match policy {
            DropPolicy::Random { seed, .. } => seed,
            _ => 0,
        };
        Dropper {
            policy,
            packets: 0,
            rng: Pcg64Mcg::new(u128::from(seed)),
        }
    }

    /// Whether to drop the next message packet.
    pub fn drop_next(&mut self) -> bool {
        self.packets += 1;
        match self.policy {
            DropPolicy::None => false,
            DropPolicy::EveryKth(k) => k > 0 && self.packets.is_multiple_of(k),
            DropPolicy::Random { probability, .. } => {
                // 53 random bits as a uniform float in [0, 1).
                let draw = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                draw < probability
            }
        }
    }
}

/// Everything the server needs besides its input and destination.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub session: Session,
    /// Where re-requests are received and answered from (port 0 picks a free one).
    pub request_listen: SocketAddr,
    /// Largest datagram sent, MoldUDP64 header included.
    pub max_packet_bytes: usize,
    pub rate: SendRate,
    pub drops: DropPolicy,
    /// The last this many messages sent may be re-requested; 0 disables re-requests.
    pub retransmit_window: u64,
    pub heartbeat_interval: Duration,
    /// After end of session, how long to keep answering re-requests (a stop request
    /// ends it sooner).
    pub linger: Duration,
    /// The local interface to send a multicast feed from; required for a multicast
    /// destination, ignored otherwise.
    pub multicast_interface: Option<Ipv4Addr>,
}

/// Why the server could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("feed server: {0}")]
    Config(String),
    #[error("feed server: cannot open the {socket} socket on {addr}: {source}")]
    Socket {
        socket: &'static str,
        addr: SocketAddr,
        source: io::Error,
    },
    #[error(
        "feed server: the message at byte {offset} of the input is {len} bytes; a {max} byte packet cannot carry it (raise the packet size)"
    )]
    MessageTooLong { offset: u64, len: usize, max: usize },
}

/// What the server did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerStats {
    /// Messages in the input (each numbered, sent or dropped).
    pub messages: u64,
    /// Message packets built, dropped ones included.
    pub packets: u64,
    pub dropped_packets: u64,
    pub dropped_messages: u64,
    pub heartbeats: u64,
    pub end_of_session: u64,
    pub requests: u64,
    pub requests_served: u64,
    /// Requests for messages outside the retransmission window (or with it disabled).
    pub requests_refused: u64,
    /// Datagrams on the request socket that were not requests of this session.
    pub bad_requests: u64,
    pub retransmitted_packets: u64,
    pub retransmitted_messages: u64,
    /// Datagrams the kernel refused to send (feed, heartbeats, end of session and
    /// re-request answers): any is a failure of the run.
    pub send_errors: u64,
    /// Bytes of input passed over to resynchronise the framing after a length prefix
    /// that did not match its message; nothing in them was sent.
    pub skipped_input_bytes: u64,
    /// The input ended inside a message: what came before it was served.
    pub truncated_input: Option<String>,
    /// A stop request ended the run before end of session was sent.
    pub stopped_early: bool,
}

/// A bound server: sockets open, ready to [`FeedServer::run`].
pub struct FeedServer {
    config: ServerConfig,
    requests: UdpSocket,
    request_addr: SocketAddr,
}

impl FeedServer {
    /// Checks the config and binds the request socket.
    pub fn bind(config: ServerConfig) -> Result<FeedServer, ServerError> {
        check(&config)?;
        let addr = config.request_listen;
        let requests = udp(addr)
            .and_then(|s| {
                s.bind(&addr.into())?;
                s.set_nonblocking(true)?;
                Ok(s)
            })
            .map_err(|source| ServerError::Socket {
                socket: "request",
                addr,
                source,
            })?;
        let request_addr = requests
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .unwrap_or(addr);
        Ok(FeedServer {
            config,
            requests: requests.into(),
            request_addr,
        })
    }

    /// Where re-requests go (with the port chosen, for port 0).
    pub fn request_addr(&self) -> SocketAddr {
        self.request_addr
    }

    /// Plays `input` (length-prefixed ITCH messages) to `destination`, then lingers.
    pub fn run(
        &mut self,
        input: &[u8],
        destination: SocketAddr,
        stop: &StopSignal,
    ) -> Result<ServerStats, ServerError> {
        let feed = feed_socket(destination, self.config.multicast_interface)?;
        let mut stats = ServerStats::default();
        let index = index(input, &mut stats);
        stats.messages = index.len() as u64;
        let mut play = Play {
            config: &self.config,
            input,
            index: &index,
            feed: &feed,
            requests: &self.requests,
            builder: PacketBuilder::new(self.config.session, self.config.max_packet_bytes),
            answer: PacketBuilder::new(self.config.session, self.config.max_packet_bytes),
            request_buf: [0; 64],
            stats,
            last_send: Instant::now(),
        };
        play.send_all(stop)?;
        if !play.stats.stopped_early {
            play.linger(stop);
        }
        Ok(play.stats)
    }
}

/// The socket the feed is sent from: any local port, on the multicast interface for a
/// multicast destination.
fn feed_socket(
    destination: SocketAddr,
    multicast_interface: Option<Ipv4Addr>,
) -> Result<UdpSocket, ServerError> {
    let local: SocketAddr = match (destination.ip().is_multicast(), multicast_interface) {
        (true, Some(interface)) => (interface, 0).into(),
        (true, None) => {
            return Err(ServerError::Config(format!(
                "{destination} is a multicast group: name the interface to send it from"
            )));
        }
        (false, _) if destination.is_ipv4() => (Ipv4Addr::UNSPECIFIED, 0).into(),
        (false, _) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    udp(destination)
        .and_then(|s| {
            if let (true, Some(interface)) = (destination.ip().is_multicast(), multicast_interface)
            {
                s.set_multicast_if_v4(&interface)?;
                // Receivers on this host (the tests, a co-located engine) hear it too.
                s.set_multicast_loop_v4(true)?;
                // One hop: a test feed must not leave the local network.
                s.set_multicast_ttl_v4(1)?;
            }
            s.bind(&local.into())?;
            // Connected, so a unicast destination with nothing listening fails the next
            // send with ECONNREFUSED (an unconnected socket never hears of it) and the
            // failure is counted instead of the feed looking delivered.
            s.connect(&destination.into())?;
            Ok(UdpSocket::from(s))
        })
        .map_err(|source| ServerError::Socket {
            socket: "feed",
            addr: destination,
            source,
        })
}

fn udp(addr: SocketAddr) -> io::Result<Socket> {
    Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
}

fn check(config: &ServerConfig) -> Result<(), ServerError> {
    let min = crate::codec::mold::HEADER_LEN + 2 + 50;
    if !(min..=MAX_DATAGRAM).contains(&config.max_packet_bytes) {
        return Err(ServerError::Config(format!(
            "packet size {} must be {min} to {MAX_DATAGRAM} bytes (room for the longest ITCH message)",
            config.max_packet_bytes
        )));
    }
    let positive = |r: f64| r.is_finite() && r > 0.0;
    match config.rate {
        SendRate::MessagesPerSec(r) | SendRate::PacketsPerSec(r) if !positive(r) => {
            return Err(ServerError::Config(format!(
                "rate {r} must be a positive number"
            )));
        }
        _ => {}
    }
    match config.drops {
        DropPolicy::EveryKth(0) => {
            return Err(ServerError::Config(
                "drop every k-th packet needs k ≥ 1".into(),
            ));
        }
        DropPolicy::Random { probability, .. } if !(0.0..=1.0).contains(&probability) => {
            return Err(ServerError::Config(format!(
                "drop probability {probability} must be in [0, 1]"
            )));
        }
        _ => {}
    }
    if config.heartbeat_interval.is_zero() {
        return Err(ServerError::Config(
            "heartbeat interval must be positive".into(),
        ));
    }
    Ok(())
}

/// Byte offsets of every message's length prefix: message `i` has sequence number
/// `i + 1`. Zero-length frames are kept (they are numbered like any message), so the
/// receiver's stream offsets equal the input's.
fn index(input: &[u8], stats: &mut ServerStats) -> Vec<u64> {
    let mut offsets = Vec::new();
    for item in Framer::new(input) {
        match item {
            Ok(frame) => offsets.push(frame.offset),
            Err(FrameError::ZeroLength { offset }) => offsets.push(offset),
            Err(FrameError::Desync { skipped, .. }) => stats.skipped_input_bytes += skipped,
            Err(e) => {
                stats.truncated_input = Some(e.to_string());
                break;
            }
        }
    }
    offsets
}

/// One run of the server.
struct Play<'a> {
    config: &'a ServerConfig,
    input: &'a [u8],
    index: &'a [u64],
    feed: &'a UdpSocket,
    requests: &'a UdpSocket,
    /// The feed's packets.
    builder: PacketBuilder,
    /// Re-request answers, built while a feed packet waits for its due time.
    answer: PacketBuilder,
    request_buf: [u8; 64],
    stats: ServerStats,
    /// When the feed last sent anything: heartbeats fill silences.
    last_send: Instant,
}

/// Sleeping wakes late by tens of microseconds; closer to a due time than this, yield.
const SLEEP_SLACK: Duration = Duration::from_micros(100);
/// Longest sleep while waiting: requests are answered at least this often.
const MAX_NAP: Duration = Duration::from_millis(1);

/// The message whose length prefix is at `offset` (an offset [`index`] found).
fn message_at(input: &[u8], offset: u64) -> &[u8] {
    let at = offset as usize;
    let len = usize::from(u16::from_be_bytes([input[at], input[at + 1]]));
    &input[at + PREFIX_LEN..at + PREFIX_LEN + len]
}

impl Play<'_> {
    fn send_all(&mut self, stop: &StopSignal) -> Result<(), ServerError> {
        let total = self.index.len() as u64;
        let start = Instant::now();
        let mut dropper = Dropper::new(self.config.drops);
        let mut next = 1u64;
        while next <= total {
            let first = next;
            self.builder.start(first);
            while next <= total {
                let offset = self.index[(next - 1) as usize];
                match self.builder.push(message_at(self.input, offset)) {
                    Ok(()) => next += 1,
                    Err(PushError::Full) => break,
                    Err(PushError::TooLong { len, max_len }) => {
                        return Err(ServerError::MessageTooLong {
                            offset,
                            len,
                            max: max_len,
                        });
                    }
                }
            }
            let packet_no = self.stats.packets + 1;
            let due = match self.config.rate {
                SendRate::AsFastAsPossible => None,
                SendRate::MessagesPerSec(r) => Some(secs((first - 1) as f64 / r)),
                SendRate::PacketsPerSec(r) => Some(secs((packet_no - 1) as f64 / r)),
            };
            if let Some(due) = due {
                self.wait_until(start + due, first, stop);
            }
            if stop.should_stop() {
                self.stats.stopped_early = true;
                return Ok(());
            }
            self.stats.packets = packet_no;
            let count = u64::from(self.builder.count());
            if dropper.drop_next() {
                self.stats.dropped_packets += 1;
                self.stats.dropped_messages += count;
            } else {
                let bytes = self.builder.bytes();
                if self.feed.send(bytes).is_err() {
                    self.stats.send_errors += 1;
                }
                self.last_send = Instant::now();
            }
            self.serve(next - 1);
        }
        Ok(())
    }

    /// Waits for `due`, answering re-requests and sending heartbeats meanwhile.
    fn wait_until(&mut self, due: Instant, next_seq: u64, stop: &StopSignal) {
        loop {
            self.serve(next_seq - 1);
            let now = Instant::now();
            if now >= due || stop.should_stop() {
                return;
            }
            if now - self.last_send >= self.config.heartbeat_interval {
                let hb = self.builder.heartbeat(next_seq);
                self.send_control(&hb);
                self.stats.heartbeats += 1;
            }
            nap(due - now);
        }
    }

    /// After the last message: end of session, repeated every heartbeat interval while
    /// re-requests are answered, until `linger` passes or a stop is requested.
    fn linger(&mut self, stop: &StopSignal) {
        let sent = self.index.len() as u64;
        let end = self.builder.end_of_session(sent + 1);
        let until = Instant::now() + self.config.linger;
        let mut next_end = Instant::now();
        loop {
            let now = Instant::now();
            if now >= next_end {
                self.send_control(&end);
                self.stats.end_of_session += 1;
                next_end = now + self.config.heartbeat_interval;
            }
            self.serve(sent);
            if now >= until || stop.should_stop() {
                return;
            }
            nap(next_end.min(until).saturating_duration_since(now));
        }
    }

    fn send_control(&mut self, bytes: &[u8]) {
        if self.feed.send(bytes).is_err() {
            self.stats.send_errors += 1;
        }
        self.last_send = Instant::now();
    }

    /// Answers every waiting re-request; `sent` messages have gone out so far.
    fn serve(&mut self, sent: u64) {
        loop {
            let (len, from) = match self.requests.recv_from(&mut self.request_buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock: nothing waiting. Anything else (an ICMP error from an
                // earlier answer) is the requester's problem, not the feed's.
                Err(_) => return,
            };
            let request = match Request::parse(&self.request_buf[..len]) {
                Ok(r) if r.session == self.config.session => r,
                _ => {
                    self.stats.bad_requests += 1;
                    continue;
                }
            };
            self.stats.requests += 1;
            let window = self.config.retransmit_window;
            let oldest = sent.saturating_sub(window) + 1;
            if window == 0 || request.sequence < oldest || request.sequence > sent {
                self.stats.requests_refused += 1;
                continue;
            }
            self.stats.requests_served += 1;
            let end = (request.sequence + u64::from(request.count)).min(sent + 1);
            self.answer(request.sequence, end, from);
        }
    }

    /// Sends messages `from_seq..end` to `to`, as many packets as they take.
    fn answer(&mut self, from_seq: u64, end: u64, to: SocketAddr) {
        let mut seq = from_seq;
        while seq < end {
            self.answer.start(seq);
            while seq < end {
                let msg = message_at(self.input, self.index[(seq - 1) as usize]);
                if self.answer.push(msg).is_err() {
                    break;
                }
                seq += 1;
            }
            // Every message fitted a feed packet of this size when it was sent, so an
            // empty answer cannot happen; stopping beats looping if it did.
            if self.answer.is_empty() {
                return;
            }
            self.stats.retransmitted_packets += 1;
            self.stats.retransmitted_messages += u64::from(self.answer.count());
            if self.requests.send_to(self.answer.bytes(), to).is_err() {
                self.stats.send_errors += 1;
            }
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// Sleeps most of `left`, or yields when it is too short to sleep accurately.
fn nap(left: Duration) {
    if left > SLEEP_SLACK {
        std::thread::sleep((left - SLEEP_SLACK).min(MAX_NAP));
    } else {
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::codec::mold::{Packet, PacketKind};

    fn session() -> Session {
        Session::new("SRVTEST").unwrap()
    }

    /// `n` length-prefixed 8-byte messages, message `i` holding sequence number `i`.
    /// `n` ITCH order deletes, each carrying its sequence number as its order reference.
    fn input(n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for seq in 1..=n {
            let msg = crate::codec::itch::Message::OrderDelete {
                header: crate::codec::itch::Header::default(),
                order_ref: seq,
            };
            crate::codec::itch::encode_framed(&msg, &mut out).unwrap();
        }
        out
    }

    fn config() -> ServerConfig {
        ServerConfig {
            session: session(),
            request_listen: "127.0.0.1:0".parse().unwrap(),
            // Header plus seven 21-byte blocks (an order delete and its length): 7
            // messages a packet.
            max_packet_bytes: 20 + 7 * 21 + 5,
            rate: SendRate::AsFastAsPossible,
            drops: DropPolicy::EveryKth(3),
            retransmit_window: 1000,
            heartbeat_interval: Duration::from_millis(20),
            linger: Duration::from_secs(5),
            multicast_interface: None,
        }
    }

    fn receiver() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn sequences(bytes: &[u8]) -> Vec<u64> {
        let p = Packet::parse(bytes).unwrap();
        p.messages()
            .map(|m| u64::from_be_bytes(m[11..].try_into().unwrap()))
            .collect()
    }

    #[test]
    fn drops_are_decided_by_the_policy_and_seed_alone() {
        let mut every = Dropper::new(DropPolicy::EveryKth(3));
        let got: Vec<bool> = (0..6).map(|_| every.drop_next()).collect();
        assert_eq!(got, [false, false, true, false, false, true]);
        let draws = |seed| {
            let mut d = Dropper::new(DropPolicy::Random {
                probability: 0.1,
                seed,
            });
            (0..10_000).map(|_| d.drop_next()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        let dropped = draws(7).iter().filter(|d| **d).count();
        assert!(
            (900..1100).contains(&dropped),
            "{dropped} of 10 000 at p = 0.1"
        );
        assert!(!Dropper::new(DropPolicy::None).drop_next());
    }

    #[test]
    fn bad_settings_are_refused_before_any_socket_opens() {
        let bad = [
            ServerConfig {
                max_packet_bytes: 71,
                ..config()
            },
            ServerConfig {
                rate: SendRate::MessagesPerSec(0.0),
                ..config()
            },
            ServerConfig {
                rate: SendRate::PacketsPerSec(f64::NAN),
                ..config()
            },
            ServerConfig {
                drops: DropPolicy::EveryKth(0),
                ..config()
            },
            ServerConfig {
                drops: DropPolicy::Random {
                    probability: 1.5,
                    seed: 1,
                },
                ..config()
            },
            ServerConfig {
                heartbeat_interval: Duration::ZERO,
                ..config()
            },
        ];
        for c in bad {
            assert!(
                matches!(FeedServer::bind(c.clone()), Err(ServerError::Config(_))),
                "{c:?}"
            );
        }
    }

    #[test]
    fn plays_in_order_drops_on_purpose_answers_requests_and_ends_the_session() {
        let feed = receiver();
        let dest = feed.local_addr().unwrap();
        let mut server = FeedServer::bind(config()).unwrap();
        let request_addr = server.request_addr();
        let stop = Arc::new(StopSignal::new());
        let server_stop = Arc::clone(&stop);
        let thread = std::thread::spawn(move || server.run(&input(50), dest, &server_stop));

        let mut buf = [0u8; 2048];
        let mut got = Vec::new();
        loop {
            let len = feed.recv(&mut buf).expect("the feed arrives");
            let p = Packet::parse(&buf[..len]).unwrap();
            match p.kind {
                PacketKind::Messages { .. } => got.extend(sequences(&buf[..len])),
                PacketKind::Heartbeat => {}
                PacketKind::EndOfSession => {
                    assert_eq!(p.sequence, 51);
                    break;
                }
            }
        }
        // Packets of 7: packets 3 and 6 (messages 15..=21 and 36..=42) were dropped.
        let expected: Vec<u64> = (1..=50)
            .filter(|s| !(15..=21).contains(s) && !(36..=42).contains(s))
            .collect();
        assert_eq!(got, expected);

        let client = receiver();
        client.connect(request_addr).unwrap();
        let ask = |sequence, count| Request {
            session: session(),
            sequence,
            count,
        };
        client.send(&ask(15, 7).to_bytes()).unwrap();
        let len = client.recv(&mut buf).unwrap();
        assert_eq!(sequences(&buf[..len]), (15..=21).collect::<Vec<_>>());
        // Past the end: only what was sent; then a wrong session and garbage.
        client.send(&ask(49, 100).to_bytes()).unwrap();
        let len = client.recv(&mut buf).unwrap();
        assert_eq!(sequences(&buf[..len]), [49, 50]);
        let other = Request {
            session: Session::new("OTHER").unwrap(),
            ..ask(1, 1)
        };
        client.send(&other.to_bytes()).unwrap();
        client.send(b"garbage").unwrap();
        client.send(&ask(51, 1).to_bytes()).unwrap();
        // A request after the junk is still answered.
        client.send(&ask(1, 1).to_bytes()).unwrap();
        let len = client.recv(&mut buf).unwrap();
        assert_eq!(sequences(&buf[..len]), [1]);

        stop.request_stop();
        let stats = thread.join().unwrap().unwrap();
        assert_eq!(
            (
                stats.messages,
                stats.packets,
                stats.dropped_packets,
                stats.dropped_messages
            ),
            (50, 8, 2, 14)
        );
        assert_eq!(
            (
                stats.requests,
                stats.requests_served,
                stats.requests_refused,
                stats.bad_requests
            ),
            (4, 3, 1, 2)
        );
        assert_eq!(stats.retransmitted_messages, 10);
        assert!(stats.end_of_session >= 1);
    }

    #[test]
    fn requests_outside_the_window_are_refused() {
        let feed = receiver();
        let dest = feed.local_addr().unwrap();
        let mut server = FeedServer::bind(ServerConfig {
            retransmit_window: 5,
            drops: DropPolicy::None,
            ..config()
        })
        .unwrap();
        let client = receiver();
        client.connect(server.request_addr()).unwrap();
        let stop = Arc::new(StopSignal::new());
        let server_stop = Arc::clone(&stop);
        let thread = std::thread::spawn(move || server.run(&input(10), dest, &server_stop));
        let mut buf = [0u8; 2048];
        loop {
            let len = feed.recv(&mut buf).unwrap();
            if Packet::parse(&buf[..len]).unwrap().kind == PacketKind::EndOfSession {
                break;
            }
        }
        let ask = |sequence| Request {
            session: session(),
            sequence,
            count: 2,
        };
        // Messages 6..=10 are the last five sent: 5 has left the window.
        client.send(&ask(5).to_bytes()).unwrap();
        client.send(&ask(6).to_bytes()).unwrap();
        let len = client.recv(&mut buf).unwrap();
        assert_eq!(sequences(&buf[..len]), [6, 7]);
        stop.request_stop();
        let stats = thread.join().unwrap().unwrap();
        assert_eq!((stats.requests_served, stats.requests_refused), (1, 1));
    }

    #[test]
    fn a_disabled_window_refuses_every_request() {
        let feed = receiver();
        let mut server = FeedServer::bind(ServerConfig {
            retransmit_window: 0,
            linger: Duration::from_millis(300),
            drops: DropPolicy::None,
            ..config()
        })
        .unwrap();
        let client = receiver();
        client.connect(server.request_addr()).unwrap();
        let request = Request {
            session: session(),
            sequence: 1,
            count: 1,
        };
        client.send(&request.to_bytes()).unwrap();
        let stats = server
            .run(&input(10), feed.local_addr().unwrap(), &StopSignal::new())
            .unwrap();
        assert_eq!((stats.requests, stats.requests_refused), (1, 1));
        assert_eq!(stats.retransmitted_messages, 0);
    }

    #[test]
    fn paced_sending_fills_silences_with_heartbeats() {
        let feed = receiver();
        let mut server = FeedServer::bind(ServerConfig {
            // 7 messages a packet, 3 packets, 10 packets/s: two 100 ms silences.
            rate: SendRate::PacketsPerSec(10.0),
            drops: DropPolicy::None,
            heartbeat_interval: Duration::from_millis(20),
            linger: Duration::ZERO,
            ..config()
        })
        .unwrap();
        let started = Instant::now();
        let stats = server
            .run(&input(21), feed.local_addr().unwrap(), &StopSignal::new())
            .unwrap();
        // Pacing: three packets at 10 a second cannot take less than 200 ms, however
        // busy the host. Each 100 ms silence holds at least one heartbeat (the rest of
        // the count depends on scheduling, so it is not asserted).
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
        assert!(stats.heartbeats >= 2, "{stats:?}");
        let mut buf = [0u8; 2048];
        let mut kinds = Vec::new();
        loop {
            let len = feed.recv(&mut buf).unwrap();
            let p = Packet::parse(&buf[..len]).unwrap();
            kinds.push(p.kind);
            if p.kind == PacketKind::EndOfSession {
                break;
            }
            if p.kind == PacketKind::Heartbeat {
                // A heartbeat names the next message to come.
                assert!(p.sequence == 8 || p.sequence == 15, "{p:?}");
            }
        }
        let data = kinds
            .iter()
            .filter(|k| matches!(k, PacketKind::Messages { .. }))
            .count();
        assert_eq!(data, 3);
    }
}
