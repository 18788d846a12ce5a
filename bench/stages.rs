//! Per-stage compute and the single-core fused replay (criterion, one thread).
//!
//! Each stage is fed the real outputs of the stages before it, captured once from the
//! sample session, so every bench sees the traffic the pipeline sees. A stage that keeps
//! state (books, orders) is rebuilt before each pass (`iter_batched`, construction not
//! timed) so every pass replays the same session from the same start.
//!
//! `fused_replay` is the whole shard on one core: framing, the five stages and the
//! simulated venue called inline, with no ring and no other thread. It answers "how many
//! messages per second can one core decide on" (issue #2's ≥ 2 M/s aim).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tickpipe::clock::MonoClock;
use tickpipe::codec::itch::{Framer, check_length};
use tickpipe::latency::{LatencyRecorder, StageTimer};
use tickpipe::msg::{ExecReport, Features, MarketEvent, RawFrame, Signal, SymbolId, VenueCommand};
use tickpipe::runtime::config::Config;
use tickpipe::runtime::inline::{InlineReports, InlineVenue, inline_venue};
use tickpipe::runtime::metrics::{PERIOD, Publisher, Publishing};
use tickpipe::runtime::runner::RunnerSnapshot;
use tickpipe::runtime::runner::{Chain, Link};
use tickpipe::stages::Stage;
use tickpipe::stages::decode::Decode;
use tickpipe::stages::features::FeatureStage;
use tickpipe::stages::inference::builtin::BuiltIn;
use tickpipe::stages::inference::{Inference, ModelConfig};
use tickpipe::stages::risk::Risk;
use tickpipe::stages::risk::firm::FirmPools;
use tickpipe::stages::routing::Routing;
use tickpipe::sys::Mailbox;
use tickpipe::sys::TradingLatch;
use tickpipe::sys::edge::{BATCH, Emit};
use tickpipe::tools::sample::{SampleSpec, generate};
use tickpipe::universe::Universe;
use tickpipe::venue::SimVenue;

/// Messages of the sample session the benches replay: a quarter of the default day,
/// about 16 MB, so one pass of the fused replay takes ~0.15 s.
const MESSAGES: u64 = 500_000;

/// Swallows a stage's output without the cost of storing it.
struct Sink(u64);

impl<T> Emit<T> for Sink {
    #[inline]
    fn emit(&mut self, item: T) {
        black_box(&item);
        self.0 += 1;
    }
}

/// The session, its configuration, and every stage's input captured in order.
struct Traffic {
    config: Config,
    universe: Arc<Universe>,
    owned: Vec<SymbolId>,
    bytes: Vec<u8>,
    /// One clock for every stamp and every recorder: each `MonoClock::new` has its own
    /// epoch, and mixing two would skew the latencies recorded.
    clock: MonoClock,
    events: Vec<MarketEvent>,
    features: Vec<Features>,
    signals: Vec<Signal>,
    commands: Vec<VenueCommand>,
}

impl Traffic {
    fn capture() -> Traffic {
        let (config, universe) =
            Config::load(Path::new("config/tickpipe.toml")).expect("bundled config");
        let universe = Arc::new(universe);
        let owned: Vec<SymbolId> = universe.ids().collect();
        let bytes = generate(&SampleSpec {
            messages: MESSAGES,
            ..SampleSpec::default_session()
        });
        let frames: Vec<RawFrame> = Framer::new(&bytes)
            .filter_map(Result::ok)
            .filter(|f| check_length(f.bytes).is_ok())
            .map(|f| RawFrame::new(0, f.bytes).expect("ITCH fits a frame"))
            .collect();
        let mut t = Traffic {
            config,
            universe,
            owned,
            bytes,
            clock: MonoClock::new(),
            events: Vec::new(),
            features: Vec::new(),
            signals: Vec::new(),
            commands: Vec::new(),
        };
        let mut decode = t.decode();
        frames
            .iter()
            .for_each(|f| decode.on_event(*f, &mut t.events));
        let mut features = t.features_stage();
        t.events
            .iter()
            .for_each(|e| features.on_event(*e, &mut t.features));
        let mut inference = t.inference();
        t.features
            .iter()
            .for_each(|f| inference.on_event(*f, &mut t.signals));
        // Risk's commands, answered by the inline venue as in the fused replay.
        let (venue, reports) = t.venue();
        let mut risk = t.risk(reports);
        let mut recorder = Recorder {
            venue,
            seen: Vec::new(),
        };
        t.signals
            .iter()
            .for_each(|s| risk.on_event(*s, &mut recorder));
        t.commands = recorder.seen;
        t
    }

    fn decode(&self) -> Decode {
        Decode::new(Arc::clone(&self.universe))
    }

    fn features_stage(&self) -> FeatureStage {
        FeatureStage::new(
            Arc::clone(&self.universe),
            &self.owned,
            &self.config.features,
        )
    }

    fn inference(&self) -> Inference {
        Inference::new(&self.config.model, self.universe.len())
    }

    fn inference_with(&self, model: BuiltIn) -> Inference<BuiltIn> {
        Inference::with_model(model, self.config.model.policy(), self.universe.len())
    }

    fn risk<R: tickpipe::stages::ReportSource>(&self, reports: R) -> Risk<R> {
        let latch = Arc::new(TradingLatch::new(self.config.risk.trading_state));
        Risk::new(
            Arc::clone(&self.universe),
            &self.owned,
            &self.config.risk,
            &self.config.execution,
            latch,
            reports,
        )
    }

    fn venue(&self) -> (InlineVenue, InlineReports) {
        let capacity = self.config.risk.max_open_orders as usize * self.owned.len();
        inline_venue(
            SimVenue::new(
                self.universe.len(),
                self.config.venue.sim().unwrap(),
                capacity,
            ),
            4096,
        )
    }

    fn recorder(&self) -> LatencyRecorder {
        LatencyRecorder::new(self.clock.clone())
    }

    fn timer(&self) -> StageTimer {
        StageTimer::new(self.clock.clone())
    }
}

/// Keeps what risk sends while passing it to the venue.
struct Recorder {
    venue: InlineVenue,
    seen: Vec<VenueCommand>,
}

impl Emit<VenueCommand> for Recorder {
    fn emit(&mut self, c: VenueCommand) {
        self.seen.push(c);
        self.venue.emit(c);
    }
}

fn stage<S: Stage>(c: &mut Criterion, name: &str, inputs: &[S::In], build: impl Fn() -> S) {
    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Elements(inputs.len() as u64));
    g.sample_size(20);
    g.bench_function(name, |b| {
        b.iter_batched(
            || (build(), Sink(0)),
            |(mut stage, mut sink)| {
                for input in inputs {
                    stage.on_event(*input, &mut sink);
                }
                (stage, sink)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// The cost of one "now": what every stage pays per event to record latency, and why
/// the pipeline's clock reads the TSC (quanta) rather than `std::time::Instant`.
fn clock(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    let mono = MonoClock::new();
    g.bench_function("monoclock_now_ns", |b| b.iter(|| black_box(mono.now_ns())));
    let epoch = std::time::Instant::now();
    g.bench_function("std_instant_elapsed", |b| {
        b.iter(|| black_box(epoch.elapsed().as_nanos() as u64))
    });
    g.finish();
}

/// The discrete PPO fixture (5 features → 2×64 Tanh → 3 actions) as `[model]` loads it,
/// on `engine`.
fn onnx_model(t: &Traffic, engine: &str) -> BuiltIn {
    let mut model: ModelConfig = toml::from_str(&format!(
        r#"
        kind = "onnx"
        enter_threshold = 0.5
        exit_threshold = 0.5
        target_qty = 100
        [onnx]
        path = "tests/fixtures/onnx/ppo_discrete.onnx"
        engine = "{engine}"
        input = "input"
        features = [
            {{ feature = "microprice_bps", mean = 0.0, std = 1.0 }},
            {{ feature = "spread_bps", mean = 2.0, std = 1.5 }},
            {{ feature = "imbalance", mean = 0.0, std = 0.5 }},
            {{ feature = "volatility_bps", mean = 0.0, std = 1.0 }},
            {{ feature = "trade_flow", mean = 0.0, std = 0.5 }},
        ]
        output = {{ name = "actions", kind = "discrete", actions = ["short", "flat", "long"] }}
        "#
    ))
    .expect("the bench model parses");
    model.target_qty = t.config.model.target_qty;
    BuiltIn::load(&model).expect("the fixture loads").0
}

fn benches(c: &mut Criterion) {
    clock(c);
    let t = Traffic::capture();
    stage(c, "features", &t.events, || t.features_stage());
    stage(c, "inference", &t.features, || t.inference());
    // The binary's model: the built-in enum around the same linear model (against the
    // line above: what choosing the kind at start-up costs), and the discrete PPO
    // policy from tests/fixtures/onnx on the native engine and, built with `--features
    // tract`, on tract.
    stage(c, "inference_builtin_linear", &t.features, || {
        t.inference_with(BuiltIn::Linear(t.config.model.linear()))
    });
    let ppo = onnx_model(&t, "native");
    stage(c, "inference_onnx_native", &t.features, || {
        t.inference_with(ppo.clone())
    });
    #[cfg(feature = "tract")]
    {
        let ppo = onnx_model(&t, "tract");
        stage(c, "inference_onnx_tract", &t.features, || {
            t.inference_with(ppo.clone())
        });
    }
    routing_and_venue(c, &t);
    risk(c, &t);
    fused_replay(c, &t);
}

/// Risk per signal, with the venue answering inline: checks, the order manager,
/// positions, and its share of the event-time protocol.
fn risk(c: &mut Criterion, t: &Traffic) {
    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Elements(t.signals.len() as u64));
    g.sample_size(20);
    g.bench_function("risk", |b| {
        b.iter_batched(
            || {
                let (venue, reports) = t.venue();
                (t.risk(reports), venue)
            },
            |(mut risk, mut venue)| {
                for s in &t.signals {
                    risk.on_event(*s, &mut venue);
                }
                (risk, venue)
            },
            BatchSize::PerIteration,
        )
    });
    // The same with the firm-wide checks (`[firm]`): every order commits its notional
    // to the credit pool, every closing report releases it. The A/B of their cost.
    g.bench_function("risk_firm", |b| {
        b.iter_batched(
            || {
                let (venue, reports) = t.venue();
                let pools = Arc::new(FirmPools::new(&t.config.firm, 1));
                (t.risk(reports).with_firm(pools, 0), venue)
            },
            |(mut risk, mut venue)| {
                for s in &t.signals {
                    risk.on_event(*s, &mut venue);
                }
                (risk, venue)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// Routing plus the simulated venue per command risk sends.
fn routing_and_venue(c: &mut Criterion, t: &Traffic) {
    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Elements(t.commands.len() as u64));
    g.sample_size(20);
    g.bench_function("routing+venue", |b| {
        b.iter_batched(
            || {
                let (venue, reports) = t.venue();
                (Routing::new(t.recorder()), venue, reports)
            },
            |(mut routing, mut venue, reports)| {
                for cmd in &t.commands {
                    routing.on_event(*cmd, &mut venue);
                }
                let mut drained = std::collections::VecDeque::<ExecReport>::new();
                let mut reports = reports;
                tickpipe::stages::ReportSource::drain_into(&mut reports, &mut drained);
                (routing, venue, drained)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// The whole shard on one core: frame, stamp, decode, features, inference, risk,
/// routing and the venue inline — what the fused topology runs per message, minus the
/// rings.
fn fused_replay(c: &mut Criterion, t: &Traffic) {
    let messages = Framer::new(&t.bytes).count() as u64;
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(messages));
    g.sample_size(10);
    g.bench_function("fused_one_core", |b| {
        b.iter_batched(
            || {
                let (venue, reports) = t.venue();
                let routing = Link::new(Routing::new(t.recorder()), venue, t.timer());
                let risk = Link::new(t.risk(reports), routing, t.timer());
                let inference = Link::new(t.inference(), risk, t.timer());
                let features = Link::new(t.features_stage(), inference, t.timer());
                (Link::new(t.decode(), features, t.timer()), t.clock.clone())
            },
            |(mut chain, clock)| {
                for frame in Framer::new(&t.bytes).flatten() {
                    if check_length(frame.bytes).is_ok() {
                        chain.emit(RawFrame::new(clock.now_ns(), frame.bytes).expect("fits"));
                    }
                }
                chain
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    metrics_on_off(c, "replay", t);
    publication(c, t);
}

/// The fused shard driven as a runner drives it (a batch end every `BATCH` events)
/// through its metrics publisher: off, publishing every `PERIOD` as `run --metrics`
/// does, and every 10 ms (the period before it). They differ by the publications alone.
/// In group `group`, measured by `M`.
fn metrics_on_off<M: Measurement>(c: &mut Criterion<M>, group: &str, t: &Traffic) {
    let messages = Framer::new(&t.bytes).count() as u64;
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(messages));
    g.sample_size(10);
    for (name, period) in [
        ("fused_one_core_metrics_off", None),
        ("fused_one_core_metrics_on", Some(PERIOD)),
        (
            "fused_one_core_metrics_on_10ms",
            Some(Duration::from_millis(10)),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let (venue, reports) = t.venue();
                    let routing = Link::new(Routing::new(t.recorder()), venue, t.timer());
                    let risk = Link::new(t.risk(reports), routing, t.timer());
                    let inference = Link::new(t.inference(), risk, t.timer());
                    let features = Link::new(t.features_stage(), inference, t.timer());
                    let chain = Link::new(t.decode(), features, t.timer());
                    let publisher = period.map(|p| {
                        let mailbox = Arc::new(Mailbox::new(RunnerSnapshot::empty("bench")));
                        Publisher::new(mailbox, p, t.clock.clone())
                    });
                    (Publishing::new(chain, publisher), t.clock.clone())
                },
                |(mut chain, clock)| {
                    let mut in_batch = 0;
                    for frame in Framer::new(&t.bytes).flatten() {
                        if check_length(frame.bytes).is_ok() {
                            chain.emit(RawFrame::new(clock.now_ns(), frame.bytes).expect("fits"));
                            in_batch += 1;
                            if in_batch == BATCH {
                                chain.batch_end();
                                in_batch = 0;
                            }
                        }
                    }
                    chain
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// On-CPU time of the bench's thread: the first field of `/proc/thread-self/schedstat`,
/// in nanoseconds. Unlike wall time it leaves out the time the thread waited for a core,
/// which on a shared host is most of the noise (wall-time medians of the same bench
/// ranged 407 to 961 ms in one sitting at load average 26 on 2 cores).
struct ThreadCpu(WallTime);

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("/proc/thread-self/schedstat: nanoseconds on CPU (Linux)")
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, ns: &u64) -> f64 {
        *ns as f64
    }
    /// Nanoseconds, as wall time's.
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

/// `replay_cpu/fused_one_core_metrics_*`: the on/off comparison again, in thread CPU
/// time. Not one publication: schedstat moves in steps of scheduler ticks, too coarse
/// for a sub-millisecond routine (criterion reads zero).
fn cpu_benches(c: &mut Criterion<ThreadCpu>) {
    metrics_on_off(c, "replay_cpu", &Traffic::capture());
}

/// One metrics publication of the fused shard after a whole session: what a runner
/// pays every period (`PERIOD` in `run --metrics`) besides its add per event. The
/// replay's share is this time divided by the period; a publication copies only the
/// histograms that gained counts since the last (`latency::publish_histogram`).
fn publication(c: &mut Criterion, t: &Traffic) {
    let (venue, reports) = t.venue();
    let routing = Link::new(Routing::new(t.recorder()), venue, t.timer());
    let risk = Link::new(t.risk(reports), routing, t.timer());
    let inference = Link::new(t.inference(), risk, t.timer());
    let features = Link::new(t.features_stage(), inference, t.timer());
    let mut chain = Link::new(t.decode(), features, t.timer());
    for frame in Framer::new(&t.bytes).flatten() {
        if check_length(frame.bytes).is_ok() {
            chain.emit(RawFrame::new(t.clock.now_ns(), frame.bytes).expect("fits"));
        }
    }
    let mut slot = RunnerSnapshot::empty("bench");
    chain.shape(&mut slot);
    let mut g = c.benchmark_group("metrics");
    // Under load: every histogram gained counts since the last publication (here: the
    // slot's copies are emptied before each), so each is reset and copied.
    g.bench_function("publish_fused_shard", |b| {
        b.iter_batched_ref(
            || {
                let mut stale = RunnerSnapshot::empty("bench");
                chain.shape(&mut stale);
                let out = &mut stale.output;
                for (_, h) in out.latency.iter_mut().chain(out.service.iter_mut()) {
                    h.reset();
                }
                out.report.routing.tick_to_order.reset();
                stale
            },
            |stale| chain.publish(black_box(stale), 0),
            BatchSize::LargeInput,
        )
    });
    // Nothing recorded since the last publication: the histograms' copies are skipped.
    g.bench_function("publish_fused_shard_unchanged", |b| {
        b.iter(|| chain.publish(black_box(&mut slot), 0))
    });
    g.finish();
}

criterion_group!(stages, benches);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpu(WallTime));
    targets = cpu_benches
}
criterion_main!(stages, cpu);
