//! Runner health (`runtime::health`): a runner that holds work and makes no progress is
//! stalled; the watchdog degrades the run to reduce-only, then halts it, through the
//! same control path as `ctl reduce-only` and `ctl halt`, and the report names it. A
//! runner that is slow but progressing, or idle, is never stalled, and decides the same.
//!
//! The stall is real: a user's model, plugged in through the builder, blocks its thread
//! at its N-th score until the test releases it. The test releases it only once it has
//! seen the watchdog act, so nothing here depends on how fast the host is; the
//! deadlines are generous waits, never asserted timings.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tickpipe::app::ctl::{self, Request};
use tickpipe::msg::Features;
use tickpipe::msg::{ExecReport, VenueCommand, VenueTiming};
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::control::ControlServer;
use tickpipe::runtime::health::{HealthAction, HealthConfig};
use tickpipe::runtime::journal::{Cut, MemoryJournal};
use tickpipe::runtime::pipeline::Pipeline;
use tickpipe::runtime::report::RunReport;
use tickpipe::source::replay::Pacing;
use tickpipe::stages::inference::{LinearModel, Model};
use tickpipe::stages::journal::Record;
use tickpipe::stages::reject::RejectCode;
use tickpipe::sys::TradingState;
use tickpipe::sys::edge::Emit;
use tickpipe::venue::{ReconcileError, SimVenue, Venue, VenueStats};

/// Waits for the watchdog: long, because a debug build on a loaded host is slow, and a
/// wait that runs out is a failure with a message, never a hang.
const PATIENCE: Duration = Duration::from_secs(120);

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickpipe-health-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Where the stalling model stops, and how far the test has let it go.
struct Gate {
    /// The score calls (counted from 1) at which the model blocks, in order.
    stops: Vec<u64>,
    released: Mutex<usize>,
    moved: Condvar,
}

impl Gate {
    fn release(&self) {
        *self.released.lock().unwrap() += 1;
        self.moved.notify_all();
    }
}

/// The linear model, scoring exactly as the built-in one does, that blocks at its
/// gate's stops (a stall) or sleeps on every score (slow, but progressing).
struct Stalling {
    linear: LinearModel,
    scores: u64,
    gate: Option<Arc<Gate>>,
    sleep: Option<Duration>,
}

impl Model for Stalling {
    const KIND: &'static str = LinearModel::KIND;

    fn score(&mut self, features: &Features) -> Option<f32> {
        self.scores += 1;
        if let Some(gate) = &self.gate
            && let Some(k) = gate.stops.iter().position(|&n| n == self.scores)
        {
            let mut released = gate.released.lock().unwrap();
            while *released <= k {
                released = gate.moved.wait(released).unwrap();
            }
        }
        if let Some(pause) = self.sleep {
            std::thread::sleep(pause);
        }
        self.linear.score(features)
    }
}

/// What reached the venue, in arrival order.
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
        in_flight: &[tickpipe::msg::InFlightOrder],
        positions: &[(tickpipe::msg::SymbolId, i64)],
    ) -> Result<(), ReconcileError> {
        self.venue.reconcile(in_flight, positions)
    }
}

/// How a test run's model behaves.
#[derive(Clone)]
enum Behaviour {
    Plain,
    Stall(Arc<Gate>),
    Slow(Duration),
}

struct Run {
    health: HealthConfig,
    messages: u64,
    pacing: Pacing,
    behaviour: Behaviour,
    journal: Option<(MemoryJournal, bool)>,
}

/// Starts a one-shard fused pipeline on the bundled config with `run.health`.
fn start(run: &Run, seen: &Arc<Mutex<Vec<Seen>>>) -> Pipeline {
    let mut spec = common::spec("pipelines/fused.toml", 1, run.messages);
    spec.config.health = Some(run.health);
    spec.pacing = run.pacing;
    let source = spec.input.source(spec.pacing).unwrap();
    let behaviour = run.behaviour.clone();
    let seen = Arc::clone(seen);
    let engine = Engine::new(spec.topology, spec.config, spec.universe, source)
        .model(move |setup| Stalling {
            linear: setup.config.linear(),
            scores: 0,
            gate: match &behaviour {
                Behaviour::Stall(gate) => Some(Arc::clone(gate)),
                _ => None,
            },
            sleep: match behaviour {
                Behaviour::Slow(pause) => Some(pause),
                _ => None,
            },
        })
        .venue(move |setup| Recording {
            venue: SimVenue::from_setup(setup),
            seen: Arc::clone(&seen),
        });
    let engine = match &run.journal {
        Some((journal, resumed)) => engine.journal(
            common::memory_journal_meta(*resumed),
            journal.factory(Cut::None, 1 << 16),
        ),
        None => engine,
    };
    engine.start().expect("pipeline starts")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The test, not the clock, decides how long each stall lasts. The first must end
/// before it halts: between the degrade and the release the test asks `ctl status`,
/// which waits 500 ms for the stalled shard, so 5 s leaves room for a loaded host.
const STALL_TEST: HealthConfig = HealthConfig {
    period_ms: 10,
    stall_after_ms: 200,
    halt_after_ms: 5_000,
};

/// The model blocks at its 20 000th score until the run is reduce-only, and again at
/// its 40 000th until it is halted. The report names the runner and both actions; the
/// journal holds both state changes where risk applied them; no order reaches the venue
/// after the halt's mass cancel; a restart over the journal (the model no longer
/// stalling) re-applies them at the same positions and decides the same.
#[test]
fn stalled_runner_degrades_then_halts() {
    let dir = scratch("stall");
    let path = dir.join("ctl.sock");
    let gate = Arc::new(Gate {
        stops: vec![20_000, 40_000],
        released: Mutex::new(0),
        moved: Condvar::new(),
    });
    let journal = MemoryJournal::new(Vec::new());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let run = Run {
        health: STALL_TEST,
        messages: 200_000,
        pacing: Pacing::AsFastAsPossible,
        behaviour: Behaviour::Stall(Arc::clone(&gate)),
        journal: Some((journal.clone(), false)),
    };
    let pipeline = start(&run, &seen);
    let server = ControlServer::start(&path, pipeline.control_hub()).unwrap();

    wait_until("the watchdog to degrade the run", || {
        pipeline.trading_state() == TradingState::ReduceOnly
    });
    let stalled: Vec<_> = pipeline
        .health()
        .into_iter()
        .filter(|r| r.stalled_for.is_some())
        .collect();
    assert!(
        stalled.iter().any(|r| r.runner == "shard0/shard"),
        "the blocked runner is stalled now: {stalled:?}"
    );
    // An operator asking meanwhile sees which runner is stalled (the stalled shard
    // itself cannot answer: it does not read its control ring).
    let status = ctl::send(&path, Request::Status { json: true }).unwrap();
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    let runner = v["runners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["runner"] == "shard0/shard")
        .unwrap_or_else(|| panic!("status lists the runner: {v}"));
    assert!(runner["stalled_ms"].as_u64().unwrap() >= 200, "{runner}");
    assert_eq!(v["trading_state"], "reduce-only");
    assert!(
        v["why"].as_str().unwrap().contains("watchdog"),
        "status says who degraded the run: {}",
        v["why"]
    );
    gate.release();

    wait_until("the watchdog to halt the run", || {
        pipeline.trading_state() == TradingState::Halted
    });
    gate.release();
    drop(server);
    let first = pipeline.join();
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!(first.health.watchdog, Some(STALL_TEST));

    // The report names the runner: degraded, then halted, in the second stall (after it
    // resumed from the first).
    let actions: Vec<HealthAction> = first
        .health
        .events
        .iter()
        .filter(|e| e.runner == "shard0/shard")
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            HealthAction::Degraded,
            HealthAction::Resumed,
            HealthAction::Degraded,
            HealthAction::Halted,
            HealthAction::Resumed,
        ],
        "{:?}",
        first.health.events
    );
    let halt = first
        .health
        .events
        .iter()
        .find(|e| e.action == HealthAction::Halted)
        .unwrap();
    assert_eq!(halt.state, TradingState::Halted);
    assert!(halt.stalled_for >= Duration::from_millis(5_000), "{halt:?}");
    let text = tickpipe::app::report::text(&first);
    assert!(
        text.contains("STALL          shard0/shard at "),
        "the text report names the runner:\n{text}"
    );
    let json = tickpipe::app::report::json(&first);
    assert_eq!(json["health"]["stalls"][0]["runner"], "shard0/shard");
    assert_eq!(json["health"]["stalls"][0]["action"], "degraded");

    // Risk refused after the halt, and nothing was left open.
    let risk = &first.shard.risk;
    assert!(risk.rejected(RejectCode::TradingHalted) > 0);
    assert_eq!(risk.orders_open_at_end, 0);
    // No order reached the venue after the halt's mass cancel.
    let seen = seen.lock().unwrap().clone();
    let cancel = seen
        .iter()
        .position(|s| *s == Seen::CancelAll)
        .expect("the halt's mass cancel reached the venue");
    assert!(seen[..cancel].contains(&Seen::New), "it traded before");
    let after = seen[cancel..].iter().filter(|s| **s == Seen::New).count();
    assert_eq!(
        after, 0,
        "{after} order(s) reached the venue after the halt"
    );

    // The journal has both changes, reduce-only first, each where risk applied it.
    let records = journal.records();
    let states: Vec<(TradingState, u64)> = records[0]
        .iter()
        .filter_map(|r| match r {
            Record::State {
                state, position, ..
            } => Some((*state, *position)),
            _ => None,
        })
        .collect();
    assert_eq!(
        states.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [TradingState::ReduceOnly, TradingState::Halted],
        "{states:?}"
    );

    // A restart over the finished journal, with a model that no longer stalls: every
    // decision re-derives equal, the states are re-applied at their positions.
    let again = start(
        &Run {
            behaviour: Behaviour::Plain,
            journal: Some((journal.clone(), true)),
            ..run
        },
        &Arc::new(Mutex::new(Vec::new())),
    )
    .join();
    assert!(again.failures.is_empty(), "{:?}", again.failures);
    assert!(again.health.events.is_empty(), "{:?}", again.health.events);
    assert_eq!(again.digest(), first.digest());
    std::fs::remove_dir_all(dir).unwrap();
}

/// The same session three ways, each with a watchdog that would act after 1 s without
/// progress: plain; every score 200 µs slow (a pass of 256 events takes ~50 ms or more,
/// yet always ends); and paced at 2 000 messages a second, so every runner is idle for
/// most of 2 s, many times `stall_after_ms`. None is ever called stalled, and all three
/// decide the same.
#[test]
fn a_slow_or_idle_runner_is_never_stalled() {
    let health = HealthConfig {
        period_ms: 10,
        stall_after_ms: 1_000,
        halt_after_ms: 5_000,
    };
    let runs = [
        (Behaviour::Plain, Pacing::AsFastAsPossible),
        (
            Behaviour::Slow(Duration::from_micros(200)),
            Pacing::AsFastAsPossible,
        ),
        (
            Behaviour::Plain,
            Pacing::Rate {
                messages_per_sec: 2_000.0,
            },
        ),
    ];
    let mut digests = Vec::new();
    for (behaviour, pacing) in runs {
        let run = Run {
            health,
            messages: 4_000,
            pacing,
            behaviour,
            journal: None,
        };
        let report: RunReport = start(&run, &Arc::new(Mutex::new(Vec::new()))).join();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert!(
            report.health.events.is_empty(),
            "{pacing:?}: {:?}",
            report.health.events
        );
        assert!(
            report
                .health
                .runners
                .iter()
                .all(|r| r.stalled_for.is_none())
        );
        let runners: Vec<&str> = report
            .health
            .runners
            .iter()
            .map(|r| r.runner.as_str())
            .collect();
        assert_eq!(runners, ["shard0/shard", "venue"]);
        assert!(
            report.health.runners.iter().all(|r| r.beats > 0),
            "every runner beat: {:?}",
            report.health.runners
        );
        digests.push(report.digest());
    }
    assert!(digests.iter().all(|d| *d == digests[0]), "{digests:x?}");
}
