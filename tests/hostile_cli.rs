//! The CLI against hostile surroundings: a port someone else already listens on, a
//! destination that refuses every datagram.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output};

use tickpipe::source::live::{LiveConfig, LiveSockets, Receive};

fn tickpipe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn live_config(listen: SocketAddr) -> LiveConfig {
    LiveConfig {
        session: "HOSTILE".into(),
        receive: Receive::Unicast { listen },
        rerequest_server: "127.0.0.1:9".parse().unwrap(),
        recv_buffer_bytes: 1 << 20,
        reorder_slots: 64,
        reorder_slot_bytes: 1500,
        max_gap_messages: 1000,
        max_request_messages: 100,
        request_interval_ms: 10,
        recovery_timeout_ms: 500,
        first_packet_timeout_ms: 1000,
        silence_timeout_ms: 1000,
    }
}

#[test]
fn a_second_live_run_on_the_same_unicast_port_fails_at_start_naming_it() {
    // The first listener is a live source, opened as `run --live` opens it.
    let first = LiveSockets::open(&live_config("127.0.0.1:0".parse().unwrap())).unwrap();
    let taken = first.listen_addr();
    let toml = format!(
        r#"session = "HOSTILE"
rerequest_server = "127.0.0.1:9"
recv_buffer_bytes = 1048576
reorder_slots = 64
reorder_slot_bytes = 1500
max_gap_messages = 1000
max_request_messages = 100
request_interval_ms = 10
recovery_timeout_ms = 500
first_packet_timeout_ms = 1000
silence_timeout_ms = 1000

[receive]
kind = "unicast"
listen = "{taken}"
"#
    );
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-second-listener.toml");
    std::fs::write(&path, toml).unwrap();
    let o = tickpipe(&["run", "--quiet", "--live", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains(&taken.to_string()), "{}", stderr(&o));
    drop(first);
}

#[test]
fn feed_server_fails_when_its_destination_refuses_everything() {
    // A port nothing listens on: the connected feed socket hears ECONNREFUSED.
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dest = closed.local_addr().unwrap();
    drop(closed);
    let o = tickpipe(&[
        "feed-server",
        "--dest",
        &dest.to_string(),
        "--request-listen",
        "127.0.0.1:0",
        "--messages",
        "5000",
        "--rate",
        "100000",
        "--linger-ms",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("could not be sent"), "{}", stderr(&o));
    let stats: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(stats["send_errors"].as_u64().unwrap() > 0, "{stats}");
}
