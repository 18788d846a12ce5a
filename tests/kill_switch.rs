//! The kill switch an operator reaches: the control socket's mode, its requests, and a
//! halt overtaking queued market data, all through the socket as `tickpipe ctl` sends
//! them.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tickpipe::app::ctl::{self, Request};
use tickpipe::msg::{ExecReport, InFlightOrder, VenueCommand, VenueTiming};
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::control::{ControlError, ControlServer};
use tickpipe::runtime::pipeline::Pipeline;
use tickpipe::stages::reject::RejectCode;
use tickpipe::sys::edge::Emit;
use tickpipe::venue::{ReconcileError, SimVenue, Venue, VenueStats};

/// A fresh directory for one test's socket.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickpipe-ks-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What reached one shard's venue, in arrival order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Seen {
    New,
    CancelAll,
}

/// The simulated exchange, recording every `New` and `CancelAll` it is handed.
struct Recording {
    venue: SimVenue,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Venue for Recording {
    const KIND: &'static str = SimVenue::KIND;
    const TIMING: VenueTiming = SimVenue::TIMING;

    fn on_command<O: Emit<ExecReport>>(&mut self, command: VenueCommand, out: &mut O) {
        match command {
            VenueCommand::New { .. } => self.seen.lock().unwrap().push(Seen::New),
            VenueCommand::CancelAll { .. } => self.seen.lock().unwrap().push(Seen::CancelAll),
            _ => {}
        }
        self.venue.on_command(command, out);
    }

    fn poll<O: Emit<ExecReport>>(&mut self, out: &mut O) -> bool {
        self.venue.poll(out)
    }

    fn stats(&self) -> &VenueStats {
        self.venue.stats()
    }

    fn reconcile(
        &mut self,
        in_flight: &[InFlightOrder],
        positions: &[(tickpipe::msg::SymbolId, i64)],
    ) -> Result<(), ReconcileError> {
        self.venue.reconcile(in_flight, positions)
    }
}

type Logs = Arc<Mutex<Vec<Arc<Mutex<Vec<Seen>>>>>>;

/// A pipeline on `topology` whose venues record what they are handed.
fn recorded(topology: &str, shards: usize, messages: u64) -> (Pipeline, Logs) {
    let spec = common::spec(topology, shards, messages);
    let source = spec.input.source(spec.pacing).unwrap();
    let logs: Logs = Arc::new(Mutex::new(Vec::new()));
    let registry = Arc::clone(&logs);
    let pipeline = Engine::new(spec.topology, spec.config, spec.universe, source)
        .venue(move |setup| {
            let seen = Arc::new(Mutex::new(Vec::new()));
            registry.lock().unwrap().push(Arc::clone(&seen));
            Recording {
                venue: SimVenue::from_setup(setup),
                seen,
            }
        })
        .start()
        .expect("pipeline starts");
    (pipeline, logs)
}

#[test]
fn the_socket_is_owner_only_and_refuses_an_existing_path() {
    let dir = scratch("mode");
    let path = dir.join("ctl.sock");
    let pipeline = Pipeline::start(common::spec("pipelines/fused.toml", 1, 20_000)).unwrap();
    let server = ControlServer::start(&path, pipeline.control_hub()).expect("socket");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    match ControlServer::start(&path, pipeline.control_hub()) {
        Err(ControlError::Exists(p)) => assert_eq!(p, path),
        Err(other) => panic!("expected Exists, got {other}"),
        Ok(_) => panic!("a second server replaced a live socket"),
    }
    drop(server);
    assert!(
        !path.exists(),
        "the socket is removed when the server stops"
    );
    let _ = pipeline.join();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ctl_requests_set_the_latch_and_status_reports_every_shard() {
    let dir = scratch("requests");
    let path = dir.join("ctl.sock");
    let mut spec = common::spec("pipelines/staged.toml", 2, 200_000);
    spec.pacing = tickpipe::source::replay::Pacing::Rate {
        messages_per_sec: 100_000.0,
    };
    let pipeline = Pipeline::start(spec).unwrap();
    let server = ControlServer::start(&path, pipeline.control_hub()).unwrap();
    common::wait_for(&pipeline, 20_000);

    let status = ctl::send(&path, Request::Status { json: true }).unwrap();
    let v: serde_json::Value = serde_json::from_str(&status).expect("one JSON object");
    assert_eq!(v["trading_state"], "active");
    assert_eq!(v["shards"].as_array().unwrap().len(), 2);
    for shard in v["shards"].as_array().unwrap() {
        assert_eq!(shard["answered"], true, "{shard}");
    }
    assert_eq!(v["positions"].as_object().unwrap().len(), 8, "every symbol");
    assert!(v["nlv"].is_string(), "{}", v["nlv"]);
    assert!(v["breakers"]["MAX_NOTIONAL"].is_u64());

    assert_eq!(
        ctl::send(&path, Request::ReduceOnly).unwrap(),
        "ok reduce-only\n"
    );
    assert_eq!(ctl::send(&path, Request::Halt).unwrap(), "ok halted\n");
    assert_eq!(
        ctl::send(&path, Request::ReduceOnly).unwrap(),
        "ok halted\n",
        "reduce-only never lowers a latched halt"
    );
    let text = ctl::send(&path, Request::Status { json: false }).unwrap();
    assert!(
        text.starts_with("trading state: halted (set by an operator (control socket))"),
        "{text}"
    );
    // Resume only once risk has refused an order for the halt: on a loaded host a
    // shard may decide nothing in the few milliseconds between two requests, and the
    // refusal count below is what shows the halt reached the shards.
    let halted_refusals = || {
        let status = ctl::send(&path, Request::Status { json: true }).unwrap();
        let v: serde_json::Value = serde_json::from_str(&status).expect("one JSON object");
        v["breakers"]["TRADING_HALTED"].as_u64().expect("a count")
    };
    while halted_refusals() == 0 {
        assert!(
            !pipeline.is_finished(),
            "the session ended with no order refused for the halt"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(ctl::send(&path, Request::Resume).unwrap(), "ok active\n");
    drop(server);
    pipeline.request_stop();
    let report = pipeline.join();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.shard.risk.rejected(RejectCode::TradingHalted) > 0);
    assert_eq!(report.shard.risk.orders_open_at_end, 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unknown_request_is_refused() {
    let dir = scratch("unknown");
    let path = dir.join("ctl.sock");
    let pipeline = Pipeline::start(common::spec("pipelines/fused.toml", 1, 20_000)).unwrap();
    let server = ControlServer::start(&path, pipeline.control_hub()).unwrap();
    let mut stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
    use std::io::{Read, Write};
    stream.write_all(b"flatten\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("error unknown request 'flatten'"),
        "{answer}"
    );
    assert!(ctl::is_refusal(&answer));
    drop(server);
    let _ = pipeline.join();
    std::fs::remove_dir_all(dir).unwrap();
}

/// A halt issued through the socket mid-burst, unpaced (the feed rings full of market
/// data): once a shard's venue has the halt's mass cancel, no order of that shard
/// follows it. Orders already in the ring to the venue arrive before the mass cancel,
/// because the ring is FIFO and routing sends the cancel when it reads the control
/// event, before any further data.
///
/// Fused only: risk and routing share a runner there, so the only ring after risk is
/// the one to the venue. Staged, an order risk decided just before the halt can still
/// sit in the risk → routing ring when routing reads the halt, and would follow the
/// mass cancel (a narrow window, not closed yet).
#[test]
fn halt_overtakes_queued_market_data() {
    for (topology, shards) in [
        ("pipelines/fused.toml", 1),
        ("pipelines/fused.toml", 2),
        ("pipelines/fused.toml", 4),
    ] {
        let dir = scratch("overtake");
        let path = dir.join("ctl.sock");
        let (pipeline, logs) = recorded(topology, shards, 400_000);
        let server = ControlServer::start(&path, pipeline.control_hub()).unwrap();
        common::wait_for(&pipeline, 150_000);
        let at_halt = pipeline.progress();
        assert_eq!(ctl::send(&path, Request::Halt).unwrap(), "ok halted\n");
        drop(server);
        let report = pipeline.join();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert!(
            report.source.messages > at_halt,
            "{topology} x{shards}: market data still flowed after the halt"
        );
        let risk = &report.shard.risk;
        assert!(risk.rejected(RejectCode::TradingHalted) > 0, "{topology}");
        assert_eq!(risk.orders_open_at_end, 0);
        let logs = logs.lock().unwrap();
        assert_eq!(logs.len(), shards);
        for (shard, seen) in logs.iter().enumerate() {
            let seen = seen.lock().unwrap();
            assert!(
                seen.contains(&Seen::New),
                "shard {shard} traded before the halt"
            );
            let halt = seen
                .iter()
                .position(|s| *s == Seen::CancelAll)
                .unwrap_or_else(|| panic!("{topology} shard {shard}: the halt reached its venue"));
            let after = seen[halt..].iter().filter(|s| **s == Seen::New).count();
            assert_eq!(
                after, 0,
                "{topology} x{shards} shard {shard}: {after} order(s) left after the halt"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// A halt from `ctl`, then a resume, are journaled by every shard (at its first
/// decision after each), and a restart over the finished journal re-applies them where
/// each shard found them: every decision re-derives equal, so the same digest. With two
/// shards too: while replaying, a shard decides by its own copy of the latch
/// (`stages::risk::shard_latch`), so the first shard to re-apply the halt no longer halts
/// the other before its own journaled position.
#[test]
fn a_ctl_halt_is_journaled_and_a_restart_replays_it() {
    for shards in [1, 2] {
        halt_resume_and_replay(shards);
    }
}

fn halt_resume_and_replay(shards: usize) {
    use tickpipe::runtime::journal::{Cut, MemoryJournal};
    use tickpipe::stages::journal::Record;
    use tickpipe::sys::TradingState;

    let start = |journal: &MemoryJournal, resumed| {
        let spec = common::spec("pipelines/fused.toml", shards, 300_000);
        let source = spec.input.source(spec.pacing).unwrap();
        Engine::new(spec.topology, spec.config, spec.universe, source)
            .journal(
                common::memory_journal_meta(resumed),
                journal.factory(Cut::None, 1 << 16),
            )
            .start()
            .expect("pipeline starts")
    };
    let dir = scratch(&format!("journaled-{shards}"));
    let path = dir.join("ctl.sock");
    let journal = MemoryJournal::new(Vec::new());
    let pipeline = start(&journal, false);
    let server = ControlServer::start(&path, pipeline.control_hub()).unwrap();
    common::wait_for(&pipeline, 100_000);
    assert_eq!(ctl::send(&path, Request::Halt).unwrap(), "ok halted\n");
    common::wait_for(&pipeline, 150_000);
    assert_eq!(ctl::send(&path, Request::Resume).unwrap(), "ok active\n");
    drop(server);
    let first = pipeline.join();
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    for (shard, records) in journal.records().iter().enumerate() {
        assert!(
            records.iter().any(|r| matches!(
                r,
                Record::State {
                    state: TradingState::Halted,
                    ..
                }
            )),
            "shard {shard} journaled the halt"
        );
        assert!(
            records.iter().any(|r| matches!(
                r,
                Record::State {
                    state: TradingState::Active,
                    ..
                }
            )),
            "shard {shard} journaled the resume"
        );
    }
    assert_eq!(journal.records().len(), shards);
    let again = start(&journal, true).join();
    assert!(again.failures.is_empty(), "{:?}", again.failures);
    assert_eq!(
        again.digest(),
        first.digest(),
        "x{shards}: the replay re-applied the halt and the resume"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `ctl reenable SYMBOL` and `ctl resume-all` through the socket, with two shards: each
/// command reaches the shards' control rings, every shard it concerns journals it, and
/// the report counts it where applied (the re-enable by the one shard owning the
/// symbol, resume-all by both). An unknown symbol is refused.
#[test]
fn ctl_reenable_and_resume_all_are_journaled_by_the_shards_they_concern() {
    use tickpipe::runtime::journal::{Cut, MemoryJournal};
    use tickpipe::stages::Operator;
    use tickpipe::stages::journal::Record;
    use tickpipe::sys::TradingState;

    let dir = scratch("operator");
    let path = dir.join("ctl.sock");
    let mut spec = common::spec("pipelines/staged.toml", 2, 300_000);
    spec.pacing = tickpipe::source::replay::Pacing::Rate {
        messages_per_sec: 100_000.0,
    };
    let aapl = spec.universe.id_of("AAPL").unwrap();
    let source = spec.input.source(spec.pacing).unwrap();
    let journal = MemoryJournal::new(Vec::new());
    let meta = common::memory_journal_meta(false);
    let pipeline = Engine::new(spec.topology, spec.config, spec.universe, source)
        .journal(meta, journal.factory(Cut::None, 1 << 16))
        .start()
        .expect("pipeline starts");
    let server = ControlServer::start(&path, pipeline.control_hub()).unwrap();
    common::wait_for(&pipeline, 20_000);

    let aapl_name = tickpipe::msg::SymbolName::new("AAPL").unwrap();
    assert_eq!(
        ctl::send(&path, Request::Reenable { symbol: aapl_name }).unwrap(),
        "ok reenable AAPL\n"
    );
    let unknown = tickpipe::msg::SymbolName::new("IBM").unwrap();
    let refused = ctl::send(&path, Request::Reenable { symbol: unknown }).unwrap();
    assert!(ctl::is_refusal(&refused), "{refused}");
    assert_eq!(ctl::send(&path, Request::Halt).unwrap(), "ok halted\n");
    assert_eq!(ctl::send(&path, Request::ResumeAll).unwrap(), "ok active\n");
    assert_eq!(pipeline.control_hub().trading_state(), TradingState::Active);
    // Both commands reach every shard's ring before a status request sent after them.
    let status = ctl::send(&path, Request::Status { json: true }).unwrap();
    let v: serde_json::Value = serde_json::from_str(&status).expect("one JSON object");
    assert_eq!(v["trading_state"], "active");
    drop(server);
    pipeline.request_stop();
    let report = pipeline.join();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.shard.risk.operator_commands, 1 + 2);
    let records = journal.records();
    assert_eq!(records.len(), 2);
    let journaled = |shard: usize, command: Operator| {
        records[shard]
            .iter()
            .any(|r| matches!(r, Record::Operator { command: c, .. } if *c == command))
    };
    let reenable = Operator::Reenable { symbol: aapl };
    assert_eq!(
        (0..2).filter(|&s| journaled(s, reenable)).count(),
        1,
        "journaled by the shard that owns AAPL only"
    );
    for shard in 0..2 {
        assert!(journaled(shard, Operator::ResumeAll), "shard {shard}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
