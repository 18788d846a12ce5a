#![allow(dead_code)] // each test binary uses a subset of these helpers
//! Helpers shared by the integration tests (each test file includes this by `mod`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tickpipe::codec::mold::Session;
use tickpipe::runtime::config::Config;
use tickpipe::runtime::journal::JournalMeta;
use tickpipe::runtime::pipeline::{Pipeline, PipelineSpec};
use tickpipe::runtime::report::RunReport;
use tickpipe::runtime::topology::Topology;
use tickpipe::source::live::{LiveConfig, Receive};
use tickpipe::source::replay::{Input, Pacing};
use tickpipe::tools::sample::SampleSpec;
use tickpipe::tools::server::{DropPolicy, SendRate, ServerConfig};

/// The bundled config and the given topology, with `shards` shards, replaying the
/// default sample session cut to `messages`.
pub fn spec(topology: &str, shards: usize, messages: u64) -> PipelineSpec {
    let (config, universe) =
        Config::load(Path::new("config/tickpipe.toml")).expect("bundled config is valid");
    let cores: Vec<usize> = (0..64).collect();
    let topology = Topology::load(Path::new(topology), Some(shards), &universe, &cores)
        .expect("bundled topology");
    let input = Input::Sample(SampleSpec {
        messages,
        ..SampleSpec::default_session()
    });
    PipelineSpec {
        topology,
        config,
        universe: Arc::new(universe),
        pacing: Pacing::AsFastAsPossible,
        input,
    }
}

pub fn run(topology: &str, shards: usize, messages: u64) -> RunReport {
    let report = Pipeline::start(spec(topology, shards, messages))
        .expect("pipeline starts")
        .join();
    assert!(
        report.failures.is_empty(),
        "{topology} ×{shards} failed: {:?}",
        report.failures
    );
    report
}

/// A live-feed configuration for loopback tests: session `session`, re-requests to
/// `rerequest_server`, buffers and deadlines generous enough that a debug build on a
/// loaded 2-core host never gives up a gap the server would have filled.
pub fn live_config(session: &str, receive: Receive, rerequest_server: SocketAddr) -> LiveConfig {
    LiveConfig {
        session: session.to_string(),
        receive,
        rerequest_server,
        recv_buffer_bytes: 4 << 20,
        reorder_slots: 4096,
        reorder_slot_bytes: 1500,
        max_gap_messages: 1_000_000,
        max_request_messages: 1000,
        request_interval_ms: 10,
        recovery_timeout_ms: 5_000,
        first_packet_timeout_ms: 10_000,
        silence_timeout_ms: 10_000,
    }
}

/// A watchdog, not a timing: the deadlines under test are milliseconds, so a run that
/// took minutes waited on something it should not have. Generous enough for a debug
/// build on a loaded 2-core host.
pub fn not_hung(started: std::time::Instant) {
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(120),
        "took {took:?}: something waited forever"
    );
}

/// Waits until the source has framed `framed` messages; fails if the run ends first.
pub fn wait_for(pipeline: &Pipeline, framed: u64) {
    while pipeline.progress() < framed {
        assert!(
            !pipeline.is_finished(),
            "the pipeline ended before {framed} messages"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// A loopback feed server for session `session`: 100 k msgs/s (below what a debug
/// build's pipeline takes, so the kernel rarely drops), re-requests answered from the
/// last `retransmit_window` messages, packets dropped as `drops` says.
pub fn server_config(session: Session, drops: DropPolicy, retransmit_window: u64) -> ServerConfig {
    ServerConfig {
        session,
        request_listen: "127.0.0.1:0".parse().unwrap(),
        max_packet_bytes: 1400,
        rate: SendRate::MessagesPerSec(100_000.0),
        drops,
        retransmit_window,
        heartbeat_interval: std::time::Duration::from_millis(50),
        linger: std::time::Duration::from_secs(30),
        multicast_interface: None,
    }
}

/// A small tmpfs mounted for a full-disk test, unmounted (and its mount point removed) on
/// drop. Mounting needs root, as the test machine and CI run; without the permission the
/// test fails saying so, rather than pass without checking anything.
pub struct Tmpfs(pub std::path::PathBuf);

impl Tmpfs {
    pub fn mount(name: &str, size: &str) -> Tmpfs {
        let path = std::env::temp_dir().join(format!("tickpipe-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "this test needs root to mount a tmpfs (mount -t tmpfs): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(path)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The header of an in-memory journal (`MemoryJournal`) under the `process` policy:
/// what every journaled test run writes.
pub fn memory_journal_meta(resumed: bool) -> JournalMeta {
    JournalMeta {
        dir: "memory".into(),
        policy: "process".into(),
        risks: "test".into(),
        resumed,
        finished: false,
        notes: Vec::new(),
    }
}
