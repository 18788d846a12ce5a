//! The live feed's configuration file (`tickpipe run --live FILE.toml`). Every key is
//! required, unknown keys are errors, and [`LiveConfig::load`] lists every invalid
//! value with its key.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use serde::Deserialize;

use crate::codec::mold::{BLOCK_PREFIX_LEN, HEADER_LEN, MAX_DATAGRAM, MAX_MESSAGES, Session};
use crate::config::{ConfigError, Problem, Problems, read_toml};

/// Where the feed's packets arrive.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Receive {
    /// Packets sent to one address: bind `listen` (port 0 picks a free one).
    Unicast { listen: SocketAddr },
    /// An IPv4 multicast group: bind the group's address and port, join it on the
    /// local `interface` address.
    Multicast {
        group: SocketAddr,
        interface: Ipv4Addr,
    },
}

/// Everything in a live feed file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveConfig {
    /// The MoldUDP64 session name (1 to 10 characters); packets of any other session
    /// are counted as malformed and ignored.
    pub session: String,
    pub receive: Receive,
    /// The re-request server: where requests for missing messages go, and the only
    /// sender the answers are accepted from.
    pub rerequest_server: SocketAddr,
    /// SO_RCVBUF asked for on both sockets; the kernel may grant less (Linux caps it
    /// at `net.core.rmem_max`), and the report shows what was granted.
    pub recv_buffer_bytes: usize,
    /// Packets the reorder buffer holds while a gap is recovered; a packet arriving
    /// when it is full is dropped (counted) and re-requested in its turn.
    pub reorder_slots: usize,
    /// Largest datagram the reorder buffer holds, in bytes.
    pub reorder_slot_bytes: usize,
    /// The widest gap that is re-requested. A packet further ahead than this is not
    /// believed on its own (it may carry a corrupted sequence number); a second one
    /// that agrees with it makes the source give up the messages in between.
    pub max_gap_messages: u64,
    /// Most messages asked for in one request.
    pub max_request_messages: u16,
    /// Least time between two requests while a gap stays open.
    pub request_interval_ms: u64,
    /// How long a gap may stay unfilled (measured from when it was seen, or from the
    /// last progress filling it) before its messages are given up and every symbol is
    /// marked stale.
    pub recovery_timeout_ms: u64,
    /// How long to wait for the first packet before the run fails.
    pub first_packet_timeout_ms: u64,
    /// How long the feed may send nothing at all — not even a heartbeat — before the
    /// run fails with the books marked stale.
    pub silence_timeout_ms: u64,
}

/// The reorder buffer is allocated at start-up; more than this is a typo, not a plan.
const MAX_REORDER_BYTES: usize = 1 << 30;
/// Largest SO_RCVBUF asked for: the kernel takes an `int` and doubles it, so 1 GiB is
/// the most that cannot overflow; Linux's default `rmem_max` is a few hundred KiB.
const MAX_RECV_BUFFER: usize = 1 << 30;
/// Widest gap believed: 2^32 messages, more than a whole NASDAQ day's sequence numbers.
const MAX_GAP: u64 = 1 << 32;
/// Bounds on the timers, in ms, each with why a longer one is a mistake.
const MAX_REQUEST_INTERVAL_MS: u64 = 60_000; // a minute between re-requests is no recovery
const MAX_RECOVERY_MS: u64 = 600_000; // 10 min of every later packet held behind a gap
const MAX_FIRST_PACKET_MS: u64 = 86_400_000; // a day: starting before the open is fine
const MAX_SILENCE_MS: u64 = 3_600_000; // MoldUDP64 heartbeats every second; an hour is a dead feed

impl LiveConfig {
    /// Reads, parses and validates; on any invalid value, lists them all.
    pub fn load(path: &Path) -> Result<LiveConfig, ConfigError> {
        let config: LiveConfig = read_toml(path)?;
        config.validate().map_err(|problems| ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        })?;
        Ok(config)
    }

    /// The session as it appears on the wire; the name was checked by `validate`.
    pub fn session(&self) -> Result<Session, crate::codec::mold::SessionError> {
        Session::new(&self.session)
    }

    /// Checks every value; returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        let p = &mut Problems::new("", &mut problems);
        if let Err(e) = self.session() {
            p.add("session", e.to_string());
        }
        match self.receive {
            Receive::Unicast { .. } => {}
            Receive::Multicast { group, .. } => {
                let ok = matches!(group.ip(), IpAddr::V4(ip) if ip.is_multicast());
                p.check(
                    ok,
                    "receive.group",
                    format!("{group} is not an IPv4 multicast address (224.0.0.0/4)"),
                );
                p.check(group.port() != 0, "receive.group", "must name a port");
            }
        }
        let server = self.rerequest_server;
        p.check(
            server.port() != 0 && !server.ip().is_unspecified(),
            "rerequest_server",
            format!("{server} must name a host and a port"),
        );
        p.check(
            (MAX_DATAGRAM..=MAX_RECV_BUFFER).contains(&self.recv_buffer_bytes),
            "recv_buffer_bytes",
            format!(
                "{}: use {MAX_DATAGRAM} (one datagram) to {MAX_RECV_BUFFER} (the kernel \
                 doubles it into an int)",
                self.recv_buffer_bytes
            ),
        );
        p.check(
            (1..=1 << 20).contains(&self.reorder_slots),
            "reorder_slots",
            "must be 1 to 1048576",
        );
        let min_slot = HEADER_LEN + BLOCK_PREFIX_LEN;
        p.check(
            (min_slot..=MAX_DATAGRAM).contains(&self.reorder_slot_bytes),
            "reorder_slot_bytes",
            format!("must be {min_slot} to {MAX_DATAGRAM}"),
        );
        p.check(
            self.reorder_slots
                .checked_mul(self.reorder_slot_bytes)
                .is_some_and(|b| b <= MAX_REORDER_BYTES),
            "reorder_slots",
            format!("reorder_slots × reorder_slot_bytes must be at most {MAX_REORDER_BYTES} bytes"),
        );
        p.check(
            (1..=MAX_GAP).contains(&self.max_gap_messages),
            "max_gap_messages",
            format!(
                "{}: use 1 to {MAX_GAP} (more than a NASDAQ day's messages)",
                self.max_gap_messages
            ),
        );
        p.check(
            (1..=MAX_MESSAGES).contains(&self.max_request_messages),
            "max_request_messages",
            format!("must be 1 to {MAX_MESSAGES}"),
        );
        for (key, ms, most, why) in [
            (
                "request_interval_ms",
                self.request_interval_ms,
                MAX_REQUEST_INTERVAL_MS,
                "a gap is asked for again within a minute",
            ),
            (
                "recovery_timeout_ms",
                self.recovery_timeout_ms,
                MAX_RECOVERY_MS,
                "every later packet waits behind an open gap",
            ),
            (
                "first_packet_timeout_ms",
                self.first_packet_timeout_ms,
                MAX_FIRST_PACKET_MS,
                "one day",
            ),
            (
                "silence_timeout_ms",
                self.silence_timeout_ms,
                MAX_SILENCE_MS,
                "MoldUDP64 sends a heartbeat every second",
            ),
        ] {
            p.check(
                (1..=most).contains(&ms),
                key,
                format!("{ms} ms: use 1 to {most} ({why})"),
            );
        }
        p.check(
            self.recovery_timeout_ms > self.request_interval_ms,
            "recovery_timeout_ms",
            "must exceed request_interval_ms, so that a gap is asked for at least twice",
        );
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// For reports: where packets arrive and where requests go.
    pub fn describe(&self) -> String {
        let from = match self.receive {
            Receive::Unicast { listen } => format!("unicast on {listen}"),
            Receive::Multicast { group, interface } => {
                format!("multicast group {group} on {interface}")
            }
        };
        format!(
            "live MoldUDP64 session {}, {from}, re-requests to {}",
            self.session, self.rerequest_server
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        session = "TICKPIPE01"
        rerequest_server = "127.0.0.1:26401"
        recv_buffer_bytes = 4194304
        reorder_slots = 4096
        reorder_slot_bytes = 1500
        max_gap_messages = 1000000
        max_request_messages = 1000
        request_interval_ms = 10
        recovery_timeout_ms = 500
        first_packet_timeout_ms = 30000
        silence_timeout_ms = 5000
        [receive]
        kind = "unicast"
        listen = "127.0.0.1:26400"
    "#;

    fn parse(text: &str) -> Result<LiveConfig, toml::de::Error> {
        toml::from_str(text)
    }

    fn keys(config: &LiveConfig) -> Vec<String> {
        config
            .validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.key)
            .collect()
    }

    #[test]
    fn the_example_is_valid_and_every_key_is_required() {
        let config = parse(GOOD).unwrap();
        assert_eq!(keys(&config), Vec::<String>::new());
        assert_eq!(config.session().unwrap().to_string(), "TICKPIPE01");
        let example = LiveConfig::load(Path::new("config/live-loopback.toml"));
        assert!(example.is_ok(), "{example:?}");
        for line in GOOD
            .lines()
            .filter(|l| l.contains(" = ") && !l.contains("kind"))
        {
            let key = line.trim().split(' ').next().unwrap();
            let text = GOOD.replace(line, "");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(&format!("missing field `{key}`")), "{key}: {e}");
        }
        let e = parse(&format!("{GOOD}\nextra = 1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `extra`"), "{e}");
    }

    #[test]
    fn every_bad_value_is_named_by_its_key() {
        let mut c = parse(GOOD).unwrap();
        c.session = "far too long a name".into();
        c.receive = Receive::Multicast {
            group: "10.0.0.1:0".parse().unwrap(),
            interface: Ipv4Addr::LOCALHOST,
        };
        c.rerequest_server = "0.0.0.0:0".parse().unwrap();
        c.recv_buffer_bytes = 1000;
        c.reorder_slots = 0;
        c.reorder_slot_bytes = 10;
        c.max_gap_messages = 0;
        c.max_request_messages = 0;
        c.request_interval_ms = 0;
        c.recovery_timeout_ms = 0;
        c.first_packet_timeout_ms = 0;
        c.silence_timeout_ms = 0;
        assert_eq!(
            keys(&c),
            [
                "session",
                "receive.group",
                "receive.group",
                "rerequest_server",
                "recv_buffer_bytes",
                "reorder_slots",
                "reorder_slot_bytes",
                "max_gap_messages",
                "max_request_messages",
                "request_interval_ms",
                "recovery_timeout_ms",
                "first_packet_timeout_ms",
                "silence_timeout_ms",
                "recovery_timeout_ms",
            ]
        );
        let mut c = parse(GOOD).unwrap();
        c.recv_buffer_bytes = usize::MAX;
        c.max_gap_messages = u64::MAX;
        c.request_interval_ms = u64::MAX - 1;
        c.recovery_timeout_ms = u64::MAX;
        c.first_packet_timeout_ms = u64::MAX;
        c.silence_timeout_ms = MAX_SILENCE_MS + 1;
        assert_eq!(
            keys(&c),
            [
                "recv_buffer_bytes",
                "max_gap_messages",
                "request_interval_ms",
                "recovery_timeout_ms",
                "first_packet_timeout_ms",
                "silence_timeout_ms",
            ]
        );
        let mut c = parse(GOOD).unwrap();
        c.reorder_slots = 1 << 20;
        c.reorder_slot_bytes = MAX_DATAGRAM;
        assert_eq!(keys(&c), ["reorder_slots"]);
        let multicast = GOOD.replace(
            "kind = \"unicast\"\n        listen = \"127.0.0.1:26400\"",
            "kind = \"multicast\"\n        group = \"239.1.2.3:26400\"\n        interface = \"127.0.0.1\"",
        );
        assert_eq!(keys(&parse(&multicast).unwrap()), Vec::<String>::new());
    }
}
