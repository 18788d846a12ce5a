//! The pipeline: wires a topology into rings and runners, starts them, and runs the
//! shutdown protocol.
//!
//! Shutdown is a protocol, not a flag. The source stops (input ended, a stop was
//! requested, or a runner failed); every ring then drains in order — each runner reads
//! its input until the producer has closed and nothing is left, lets its stages emit
//! what they owe, and closes its own output — so nothing accepted is lost. Each runner
//! hands back its counters and histograms as it exits, and [`Pipeline::join`] joins
//! every thread and merges them into one report.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::config::Config;
use super::control::ControlHub;
use super::health::{HealthBoard, RunnerHealth, Watchdog};
use super::inline::inline_venue;
use super::journal::{JournalContext, JournalMeta, LogFactory};
use super::metrics::{Metrics, Publisher, Publishing};
use super::report::{RunMeta, RunReport};
use super::runner::{Chain, Link, Placement, RunnerOutput, drive, spawn};
use super::topology::{EdgeKind, RingSpec, ShardRunner, StageId, Topology, VenueRunner};
use crate::clock::MonoClock;
use crate::latency::{LatencyRecorder, StageTimer};
use crate::msg::{ExecReport, RawFrame, VenueCommand, VenueTiming};
use crate::source::replay::{Input, OpenError, Pacing};
use crate::source::router::ShardRouter;
use crate::source::{Source, SourceContext};
use crate::stages::coordinator::Coordinator;
use crate::stages::decode::Decode;
use crate::stages::features::FeatureStage;
use crate::stages::inference::{Inference, Model, ModelSetup};
use crate::stages::journal::DecisionLog;
use crate::stages::list::stage_list;
use crate::stages::risk::Risk;
use crate::stages::risk::firm::FirmPools;
use crate::stages::routing::Routing;
use crate::stages::status::StatusBoard;
use crate::stages::{Control, ReportSource};
use crate::sys::edge::{EdgeIn, EdgeOut, Emit, edge_on};
use crate::sys::idle::{IdleStrategy, Idler};
use crate::sys::{Failure, Progress, Pulse, StopSignal, TradingLatch, TradingState};
use crate::universe::Universe;
use crate::venue::runner::{self as venue_runner, Lane};
use crate::venue::{Venue, VenueSetup};

/// Everything a run of the built-in engine needs (the linear model, the simulated
/// exchange, the input the CLI names), validated; `Pipeline::start` (`runtime::builder`)
/// runs it. [`Engine`](super::builder::Engine) runs other models, venues and sources.
pub struct PipelineSpec {
    pub topology: Topology,
    pub config: Config,
    pub universe: Arc<Universe>,
    pub input: Input,
    pub pacing: Pacing,
}

/// Why a pipeline did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The config does not fit the model or venue plugged in (a `kind` naming another).
    #[error("the configuration does not fit this engine:{}", list(.0))]
    Config(Vec<crate::config::Problem>),
    /// A venue could not settle the orders in flight across a restart.
    #[error("shard {shard}: the venue could not reconcile the orders in flight: {source}")]
    Reconcile {
        shard: usize,
        source: crate::venue::ReconcileError,
    },
    #[error("could not start runner '{runner}': {source}")]
    Spawn {
        runner: String,
        source: std::io::Error,
    },
}

fn list(problems: &[crate::config::Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

/// The execution reports a risk stage reads: the venue's ring, waited on with the risk
/// runner's idle strategy. `V` is the venue behind it, whose timing risk follows.
pub struct VenueReports<V: Venue> {
    ring: EdgeIn<ExecReport>,
    idle: Idler,
    venue: PhantomData<fn() -> V>,
}

impl<V: Venue> ReportSource for VenueReports<V> {
    const TIMING: VenueTiming = V::TIMING;
    const PACING: Option<u32> = V::PACING;

    #[inline]
    fn drain_into(&mut self, sink: &mut std::collections::VecDeque<ExecReport>) -> usize {
        let n = self.ring.read_batch(usize::MAX, |r| sink.push_back(r));
        if n > 0 {
            self.idle.reset();
        }
        n
    }

    fn is_finished(&self) -> bool {
        self.ring.is_finished()
    }

    fn idle(&mut self) {
        self.idle.idle();
    }
}

/// A running pipeline.
pub struct Pipeline {
    handles: Vec<JoinHandle<RunnerOutput>>,
    metrics: Option<Metrics>,
    /// Every runner's control ring, the latch and the status board: shared with a
    /// control socket's server.
    hub: Arc<ControlHub>,
    stop: Arc<StopSignal>,
    progress: Arc<Progress>,
    /// Every runner's heartbeat and what the watchdog found.
    health: Arc<HealthBoard>,
    /// `None`: the config has no `[health]`.
    watchdog: Option<Watchdog>,
    started: Instant,
    meta: RunMeta,
    /// Where a live feed's socket is bound; `None` for a replay.
    feed_addr: Option<SocketAddr>,
}

/// The parts of a run, as [`Engine`](super::builder::Engine) hands them over.
pub(super) struct Parts<M, V> {
    pub topology: Topology,
    pub config: Config,
    pub universe: Arc<Universe>,
    pub source: Box<dyn Source>,
    pub model: Box<dyn Fn(&ModelSetup<'_>) -> M>,
    pub venue: Box<dyn Fn(&VenueSetup<'_>) -> V>,
    /// How often shard runners publish metrics; `None`: they do not.
    pub metrics: Option<Duration>,
    pub journal: Option<(JournalMeta, LogFactory)>,
}

impl Pipeline {
    /// Builds every ring and stage, and starts the runners (each shard's downstream
    /// first, then the venue, the source last).
    pub(super) fn launch<M: Model, V: Venue>(parts: Parts<M, V>) -> Result<Pipeline, StartError> {
        let Parts {
            topology,
            config,
            universe,
            source,
            model,
            venue: new_venue,
            metrics: metrics_period,
            journal,
        } = parts;
        let feed_addr = source.listen_addr();
        let stop = Arc::new(StopSignal::new());
        let latch = Arc::new(TradingLatch::new(config.risk.trading_state));
        let progress = Arc::new(Progress::new());
        let health = Arc::new(HealthBoard::new(config.health));
        let board = Arc::new(StatusBoard::new(topology.shards));
        let firm = Arc::new(FirmPools::new(&config.firm, topology.shards));
        let clock = MonoClock::new();
        let meta = RunMeta {
            input: source.describe(),
            topology: topology.path.display().to_string(),
            topology_description: topology.description.clone(),
            shards: topology.shards,
            universe: Arc::clone(&universe),
            starting_cash: config.risk.starting_cash,
            pacing: source.pacing(),
            journal: journal.as_ref().map(|(meta, _)| meta.clone()),
        };
        let mut metrics = metrics_period.map(|period| {
            Metrics::new(
                meta.clone(),
                Arc::clone(&latch),
                Arc::clone(&progress),
                Arc::clone(&stop),
                Arc::clone(&health),
                period,
                clock.clone(),
            )
        });
        let journal_dir = journal
            .as_ref()
            .map(|(meta, _)| std::path::PathBuf::from(&meta.dir));
        // One log per shard, each moved to the thread that runs the shard's risk.
        let logs: Vec<Option<Box<dyn DecisionLog>>> = match journal {
            Some((_, factory)) => {
                let ctx = JournalContext {
                    shards: topology.shards,
                    timing: V::TIMING,
                    stop: Arc::clone(&stop),
                    started: Instant::now(),
                };
                let logs = factory(&ctx);
                assert_eq!(logs.len(), topology.shards, "a journal log per shard");
                logs.into_iter().map(Some).collect()
            }
            None => (0..topology.shards).map(|_| None).collect(),
        };
        let mut logs = logs.into_iter();
        let mut wiring = Wiring {
            topology: &topology,
            stop: &stop,
            health: &health,
            handles: Vec::new(),
            controls: Vec::new(),
            metrics: metrics.as_mut(),
        };

        let mut feeds = Vec::new();
        let mut lanes = Vec::new();
        for shard in 0..topology.shards {
            let feed_spec = topology.ring(EdgeKind::Feed);
            let (feed_out, feed_in) = edge_on(
                feed_spec.ring,
                format!("shard{shard}/feed"),
                feed_spec.capacity,
                feed_spec.policy,
                Idler::new(topology.source.idle),
            );
            feeds.push(feed_out);
            let owned = topology.owned(shard);
            // The venue holds at most what risk lets the shard have open at once.
            let capacity = config.risk.open_orders_limit(&universe, &owned);
            let shard_dir = journal_dir
                .as_deref()
                .map(|dir| crate::journal::segment::shard_dir(dir, shard));
            let mut venue = new_venue(&VenueSetup {
                shard,
                owned: &owned,
                universe_len: universe.len(),
                capacity,
                config: &config.venue,
                journal: shard_dir.as_deref(),
            });
            let log = logs.next().flatten();
            if let Some(log) = &log {
                // Before any command: what the last session left in flight is settled
                // with the venue first.
                if let Err(source) = venue.reconcile(log.in_flight(), log.positions()) {
                    drop((feeds, lanes));
                    return Err(wiring.abort(StartError::Reconcile { shard, source }));
                }
            }
            let model = model(&ModelSetup {
                universe_len: universe.len(),
                owned: &owned,
                config: &config.model,
            });
            let shard_parts = ShardParts {
                config: &config,
                universe: &universe,
                owned: &owned,
                latch: &latch,
                clock: &clock,
                board: &board,
                firm: &firm,
                shard,
            };
            let spawned = match &topology.venue {
                VenueRunner::Thread(venue_runner) => {
                    let venue_spec = topology.ring(EdgeKind::Venue);
                    let routing_idle = runner_of(&topology, StageId::Routing).idle;
                    let (venue_out, venue_in) = edge_on(
                        venue_spec.ring,
                        format!("shard{shard}/venue"),
                        venue_spec.capacity,
                        venue_spec.policy,
                        Idler::new(routing_idle),
                    );
                    let reports_spec = topology.ring(EdgeKind::Reports);
                    let (reports_out, reports_in) = edge_on(
                        reports_spec.ring,
                        format!("shard{shard}/reports"),
                        reports_spec.capacity,
                        reports_spec.policy,
                        Idler::new(venue_runner.idle),
                    );
                    lanes.push(Lane::new(venue, venue_in, reports_out));
                    let reports = VenueReports {
                        ring: reports_in,
                        idle: Idler::new(runner_of(&topology, StageId::Risk).idle),
                        venue: PhantomData::<fn() -> V>,
                    };
                    let stages = shard_parts.stages(model, reports, log);
                    wiring.spawn_shard(
                        shard,
                        stages,
                        feed_in,
                        VenueEnd::<V>::Ring(venue_out),
                        &clock,
                    )
                }
                VenueRunner::Inline => {
                    let stages = shard_parts.stages(model, Unwired(PhantomData::<fn() -> V>), log);
                    wiring.spawn_shard(shard, stages, feed_in, VenueEnd::Inline(venue), &clock)
                }
            };
            if let Err(e) = spawned {
                // Close the rings the started runners read, or joining them waits forever.
                drop((feeds, lanes));
                return Err(wiring.abort(e));
            }
        }

        if let VenueRunner::Thread(venue_runner) = &topology.venue {
            let venue_placement = Placement {
                name: "venue".into(),
                core: venue_runner.core.map(core),
            };
            let venue_idle = Idler::new(venue_runner.idle);
            let publisher = wiring.metrics.as_mut().map(|m| m.venue_publisher(&lanes));
            let pulse = Pulse::new(health.register(&venue_placement.name));
            let handle = spawn(
                venue_placement,
                Arc::clone(&stop),
                (lanes, venue_idle, publisher, pulse),
                |(lanes, idle, publisher, pulse)| {
                    venue_runner::serve(lanes, idle, publisher, pulse);
                },
                |(lanes, _, publisher, _), out| {
                    if let Some(p) = &publisher {
                        p.finish(&lanes);
                    }
                    out.venue = Some(venue_runner::report(lanes));
                },
            );
            match handle {
                Ok(h) => wiring.handles.push(h),
                Err(source) => {
                    drop(feeds);
                    return Err(wiring.abort(StartError::Spawn {
                        runner: "venue".into(),
                        source,
                    }));
                }
            }
        }

        let router = ShardRouter::new(Arc::clone(&universe), topology.shard_of.clone(), feeds);
        let ctx = SourceContext {
            metrics: wiring.metrics.as_mut().map(|m| m.source_publisher(&router)),
            router,
            idle: Idler::new(topology.source.idle),
            clock: clock.clone(),
            progress: Arc::clone(&progress),
            stop: Arc::clone(&stop),
        };
        let source_stop = Arc::clone(&stop);
        let handle = spawn(
            Placement {
                name: "source".into(),
                core: topology.source.core.map(core),
            },
            Arc::clone(&stop),
            (source, ctx),
            move |(source, ctx)| {
                if let Err(e) = source.run(ctx) {
                    source_stop.fail(Failure {
                        runner: "source".into(),
                        stage: "source".into(),
                        message: e.to_string(),
                    });
                }
            },
            |(source, ctx), out| {
                out.edges = ctx.router.edge_stats();
                out.source = Some(ctx.router.stats().clone());
                out.feed = source.feed_stats();
                if let Some(p) = &ctx.metrics {
                    p.finish(&ctx.router, out.feed.as_ref());
                }
            },
        );
        match handle {
            Ok(h) => wiring.handles.push(h),
            Err(source) => {
                return Err(wiring.abort(StartError::Spawn {
                    runner: "source".into(),
                    source,
                }));
            }
        }

        let Wiring {
            handles, controls, ..
        } = wiring;
        let hub = Arc::new(ControlHub::new(
            controls,
            latch,
            board,
            Arc::clone(&progress),
            Arc::clone(&health),
            meta.clone(),
        ));
        if config.coordinator.is_some() {
            let u = &meta.universe;
            hub.has_coordinator(
                u.ids()
                    .map(|id| config.risk.limits_for(u.name(id).as_str()).max_order_qty)
                    .collect(),
            );
        }
        let started = Instant::now();
        let watchdog = config.health.and_then(|c| {
            match Watchdog::start(c, Arc::clone(&health), Arc::clone(&hub), started) {
                Ok(w) => Some(w),
                Err(e) => {
                    // The runners already run: the run fails and drains, and its report
                    // names why; it never trades unwatched when [health] asks for a watch.
                    stop.fail(Failure {
                        runner: "watchdog".into(),
                        stage: "start".into(),
                        message: format!("could not start the watchdog thread: {e}"),
                    });
                    None
                }
            }
        });
        Ok(Pipeline {
            handles,
            hub,
            metrics,
            stop,
            progress,
            health,
            watchdog,
            started,
            meta,
            feed_addr,
        })
    }

    /// Where a live feed's socket is bound (with the port chosen, for port 0); `None`
    /// for a replay.
    pub fn feed_addr(&self) -> Option<SocketAddr> {
        self.feed_addr
    }

    /// Sets the firm-wide trading state (an operator's decision: it may also lower it),
    /// then tells every runner, so routing cancels open orders on `Halted`.
    pub fn set_trading_state(&mut self, state: TradingState) {
        self.hub
            .set_trading_state(state, "an operator (through the library)");
    }

    /// What a control socket's server ([`super::control::ControlServer`]) acts on.
    pub fn control_hub(&self) -> Arc<ControlHub> {
        Arc::clone(&self.hub)
    }

    /// Asks the source to stop; the pipeline then drains and its runners exit.
    pub fn request_stop(&self) {
        self.stop.request_stop();
    }

    /// The stop signal, for a signal handler to share.
    pub fn stop_signal(&self) -> Arc<StopSignal> {
        Arc::clone(&self.stop)
    }

    /// The runners' published metrics, when
    /// [`Engine::metrics`](super::builder::Engine::metrics) asked for them.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    /// The firm-wide trading state now (risk may have escalated it).
    pub fn trading_state(&self) -> TradingState {
        self.hub.trading_state()
    }

    /// Every runner's heartbeat now, and how long each has been stalled.
    pub fn health(&self) -> Vec<RunnerHealth> {
        self.health.runners()
    }

    /// Messages the source has framed so far.
    pub fn progress(&self) -> u64 {
        self.progress.get()
    }

    /// True once every runner has exited.
    pub fn is_finished(&self) -> bool {
        self.handles.iter().all(JoinHandle::is_finished)
    }

    /// Waits for every runner, then merges what they report.
    pub fn join(self) -> RunReport {
        let mut outputs = Vec::with_capacity(self.handles.len());
        for handle in self.handles {
            let name = handle.thread().name().unwrap_or("runner").to_string();
            match handle.join() {
                Ok(out) => outputs.push(out),
                Err(payload) => self.stop.fail(Failure {
                    runner: name.clone(),
                    stage: name,
                    message: super::runner::panic_message(payload.as_ref()),
                }),
            }
        }
        if let Some(watchdog) = self.watchdog {
            watchdog.stop();
        }
        let elapsed = self.started.elapsed();
        let mut report = RunReport::build(self.meta, outputs, self.stop.failures(), elapsed);
        report.health = self.health.report();
        report
    }

    /// Waits until every runner has exited, calling `tick` about every `period`.
    pub fn wait(&self, period: Duration, mut tick: impl FnMut(&Pipeline)) {
        while !self.is_finished() {
            std::thread::sleep(period);
            tick(self);
        }
    }
}

/// What builds one shard's stages.
struct ShardParts<'a> {
    config: &'a Config,
    universe: &'a Arc<Universe>,
    owned: &'a [crate::msg::SymbolId],
    latch: &'a Arc<TradingLatch>,
    clock: &'a MonoClock,
    board: &'a Arc<StatusBoard>,
    firm: &'a Arc<FirmPools>,
    shard: usize,
}

impl ShardParts<'_> {
    /// The shard's five stages, running `model`, with risk reading `reports` and
    /// journaling to `log`.
    fn stages<R: ReportSource, M: Model>(
        &self,
        model: M,
        reports: R,
        log: Option<Box<dyn DecisionLog>>,
    ) -> ShardStages<R, M> {
        let (config, universe) = (self.config, self.universe);
        let risk = Risk::new(
            Arc::clone(universe),
            self.owned,
            &config.risk,
            &config.execution,
            Arc::clone(self.latch),
            reports,
        )
        .with_status(Arc::clone(self.board), self.shard)
        .with_firm(Arc::clone(self.firm), self.shard);
        let risk = match &config.coordinator {
            Some(c) => risk.with_coordinator(Coordinator::new(
                c,
                universe.len(),
                self.owned,
                &config.parents(universe),
            )),
            None => risk,
        };
        ShardStages {
            decode: Some(Decode::new(Arc::clone(universe))),
            features: Some(FeatureStage::new(
                Arc::clone(universe),
                self.owned,
                &config.features,
            )),
            inference: Some(Inference::with_model(
                model,
                config.model.policy(),
                universe.len(),
            )),
            risk: Some(match log {
                Some(log) => risk.with_journal(log),
                None => risk,
            }),
            routing: Some(Routing::new(LatencyRecorder::new(self.clock.clone()))),
        }
    }
}

/// Risk's report source while the venue is inline, until the runner's own thread wires
/// the venue in ([`Risk::with_reports`]): the inline pair shares an `Rc`, so it is built
/// there. Never read.
struct Unwired<V>(PhantomData<fn() -> V>);

impl<V: Venue> ReportSource for Unwired<V> {
    const TIMING: VenueTiming = V::TIMING;
    const PACING: Option<u32> = V::PACING;

    fn drain_into(&mut self, _sink: &mut std::collections::VecDeque<ExecReport>) -> usize {
        unreachable!("the inline venue is wired in before the runner reads anything")
    }

    fn is_finished(&self) -> bool {
        unreachable!("the inline venue is wired in before the runner reads anything")
    }
}

/// Where a shard's routing sends its commands.
enum VenueEnd<V> {
    /// The ring to the venue thread.
    Ring(EdgeOut<VenueCommand>),
    /// The venue itself, called on the runner that drives risk and routing.
    Inline(V),
}

fn core(id: usize) -> core_affinity::CoreId {
    core_affinity::CoreId { id }
}

fn runner_of(topology: &Topology, stage: StageId) -> &ShardRunner {
    topology
        .runners
        .iter()
        .find(|r| r.first <= stage && stage <= r.last)
        .expect("validated: every stage has a runner")
}

/// Generates a shard's stage and ring slots from the stage list.
macro_rules! shard_slots {
    ($( ($id:ident, $field:ident, stage: $stage:ty, stats: $stats:ty $(, ring: $edge:ident $ring:ident: $msg:ty)?) ),* $(,)?) => {
        /// One shard's stage objects before they are handed to runners; `R` is risk's
        /// report source, `M` the model.
        struct ShardStages<R: ReportSource, M: Model> {
            $($field: Option<$stage>,)*
        }

        /// One shard's rings before they are handed to runners: the input of each stage
        /// that starts a runner, and the output of each stage that ends one.
        #[derive(Default)]
        struct ShardRings {
            frames_in: Option<EdgeIn<RawFrame>>,
            $($($ring: (Option<EdgeOut<$msg>>, Option<EdgeIn<$msg>>),)?)*
            venue_out: Option<EdgeOut<VenueCommand>>,
        }

        impl ShardRings {
            /// Creates the stage-boundary ring `kind`.
            fn open(&mut self, kind: EdgeKind, name: String, spec: RingSpec, idle: Idler) {
                match kind {
                    $($(EdgeKind::$edge => {
                        let (out, inp) = edge_on(spec.ring, name, spec.capacity, spec.policy, idle);
                        self.$ring = (Some(out), Some(inp));
                    })?)*
                    _ => unreachable!("edge_after gives only stage-to-stage rings"),
                }
            }
        }
    };
}

stage_list!(shard_slots);

struct Wiring<'a> {
    topology: &'a Topology,
    stop: &'a Arc<StopSignal>,
    health: &'a Arc<HealthBoard>,
    handles: Vec<JoinHandle<RunnerOutput>>,
    controls: Vec<EdgeOut<Control>>,
    metrics: Option<&'a mut Metrics>,
}

impl Wiring<'_> {
    fn spawn_shard<R: ReportSource + Send + 'static, V: Venue, M: Model>(
        &mut self,
        shard: usize,
        mut stages: ShardStages<R, M>,
        frames_in: EdgeIn<RawFrame>,
        venue: VenueEnd<V>,
        clock: &MonoClock,
    ) -> Result<(), StartError> {
        let t = self.topology;
        let (venue_out, mut inline) = match venue {
            VenueEnd::Ring(ring) => (Some(ring), None),
            VenueEnd::Inline(venue) => (None, Some(venue)),
        };
        let mut rings = ShardRings {
            frames_in: Some(frames_in),
            venue_out,
            ..ShardRings::default()
        };
        for runner in &t.runners {
            if let Some(kind) = t.edge_after(runner.last) {
                let name = format!("shard{shard}/{}", kind.name());
                rings.open(kind, name, t.ring(kind), Idler::new(runner.idle));
            }
        }
        // Downstream runners first within a shard. The venue starts after every shard,
        // the source last: until the source runs nothing flows, so no producer has
        // anything to send before its consumer is up.
        for runner in t.runners.iter().rev() {
            let placement = Placement {
                name: format!("shard{shard}/{}", runner.name),
                core: runner.cores.as_ref().map(|cores| core(cores[shard])),
            };
            let control_spec = t.ring(EdgeKind::Control);
            let (control_out, control_in) = edge_on(
                control_spec.ring,
                format!("{}/control", placement.name),
                control_spec.capacity,
                control_spec.policy,
                Idler::new(IdleStrategy::SpinThenYield { spins: 0 }),
            );
            self.controls.push(control_out);
            let publisher = self.metrics.as_mut().map(|m| m.publisher(&placement.name));
            let pulse = Pulse::new(self.health.register(&placement.name));
            let launch = Launch {
                placement,
                stop: self.stop,
                pulse,
                idle: Idler::new(runner.idle),
                control: control_in,
                publisher,
            };
            let handle =
                launch_runner(runner, launch, &mut stages, &mut rings, &mut inline, clock)?;
            self.handles.push(handle);
        }
        Ok(())
    }

    /// A start failed: stop and join what already runs, then report the failure. The
    /// caller has dropped every ring end it still held, so each started runner's input
    /// closes and it drains and exits.
    fn abort(self, error: StartError) -> StartError {
        self.stop.fail(Failure {
            runner: "pipeline".into(),
            stage: "start".into(),
            message: error.to_string(),
        });
        drop(self.controls);
        for handle in self.handles {
            let _ = handle.join();
        }
        error
    }
}

/// What every stage runner needs besides its stages.
struct Launch<'a> {
    placement: Placement,
    stop: &'a Arc<StopSignal>,
    /// The runner's heartbeat, which the watchdog reads.
    pulse: Pulse,
    idle: Idler,
    control: EdgeIn<Control>,
    publisher: Option<Publisher>,
}

fn go<In: Copy + Send + 'static, C: Emit<In> + Chain + Send + 'static>(
    launch: Launch<'_>,
    input: EdgeIn<In>,
    chain: C,
) -> Result<JoinHandle<RunnerOutput>, StartError> {
    let Launch {
        placement,
        stop,
        pulse,
        idle,
        control,
        publisher,
    } = launch;
    let name = placement.name.clone();
    spawn(
        placement,
        Arc::clone(stop),
        (input, control, Some(chain), publisher, None, idle, pulse),
        |(input, control, chain, publisher, publishing, idle, pulse)| {
            // Shaped on the runner's thread, as the inline runner's must be.
            let chain = chain.take().expect("the runner wraps its chain once");
            let chain = publishing.insert(Publishing::new(chain, publisher.take()));
            drive(input, control, chain, idle, pulse);
        },
        |(_, _, chain, _, publishing, _, _), out| match (publishing, chain) {
            (Some(publishing), _) => publishing.finish(out),
            // Failed before it began: its rings still close and its counters report.
            (None, Some(chain)) => chain.finish(out),
            (None, None) => {}
        },
    )
    .map_err(|source| StartError::Spawn {
        runner: name,
        source,
    })
}

/// Starts a runner whose chain ends in the venue itself. `build` runs on the runner's
/// thread — the chain holds the inline venue's `Rc` pair, so it cannot be built
/// elsewhere — and the chain's counters are collected there when the input ends. A
/// runner that panics leaves them out; the failure is reported.
fn go_inline<In, C, F>(
    launch: Launch<'_>,
    input: EdgeIn<In>,
    build: F,
) -> Result<JoinHandle<RunnerOutput>, StartError>
where
    In: Copy + Send + 'static,
    C: Emit<In> + Chain,
    F: FnOnce() -> C + Send + 'static,
{
    let Launch {
        placement,
        stop,
        pulse,
        idle,
        control,
        publisher,
    } = launch;
    let name = placement.name.clone();
    spawn(
        placement,
        Arc::clone(stop),
        (input, control, idle, Some(build), None, pulse),
        move |(input, control, idle, build, done, pulse)| {
            let build = build.take().expect("the runner builds its chain once");
            let mut chain = Publishing::new(build(), publisher);
            drive(input, control, &mut chain, idle, pulse);
            let mut out = RunnerOutput::new("");
            chain.finish(&mut out);
            *done = Some(out);
        },
        |(.., done, _), out| {
            if let Some(done) = done {
                out.report = done.report;
                out.latency = done.latency;
                out.service = done.service;
                out.edges = done.edges;
                out.venue = done.venue;
            }
        },
    )
    .map_err(|source| StartError::Spawn {
        runner: name,
        source,
    })
}

/// Builds a runner's chain from its stages — nested [`Link`]s ending in its output ring —
/// and starts it. One arm per contiguous run of stages, so every chain is a concrete,
/// monomorphised type: no `dyn` on the hot path. The arms are generated from the stage
/// list (`launch_arms!`, below): with `n` stages there are `n(n+1)/2` of them.
fn launch_runner<R: ReportSource + Send + 'static, V: Venue, M: Model>(
    runner: &ShardRunner,
    launch: Launch<'_>,
    s: &mut ShardStages<R, M>,
    r: &mut ShardRings,
    inline: &mut Option<V>,
    clock: &MonoClock,
) -> Result<JoinHandle<RunnerOutput>, StartError> {
    let rec = || StageTimer::new(clock.clone());
    macro_rules! take {
        ($slot:expr) => {
            $slot
                .take()
                .expect("validated topology: each stage and ring is placed once")
        };
    }
    macro_rules! chain {
        ($out:expr; $last:ident) => { Link::new(take!(s.$last), $out, rec()) };
        ($out:expr; $first:ident, $($rest:ident),+) => { Link::new(take!(s.$first), chain!($out; $($rest),+), rec()) };
    }
    // The same chain from stages already taken into locals named after them, for a
    // chain built on its runner's thread; `$rec` makes each stage's latency recorder.
    macro_rules! chain_of {
        ($rec:ident, $out:expr; $last:ident) => { Link::new($last, $out, $rec()) };
        ($rec:ident, $out:expr; $first:ident, $($rest:ident),+) => { Link::new($first, chain_of!($rec, $out; $($rest),+), $rec()) };
    }
    // Risk reads the inline venue's reports; every other stage is used as it is.
    macro_rules! wire {
        (risk, $stage:ident, $reports:ident) => {
            $stage.with_reports($reports)
        };
        ($other:ident, $stage:ident, $reports:ident) => {
            $stage
        };
    }
    // Room for the reports the inline venue makes between two of risk's reads: as many
    // as risk's inbox holds without growing.
    let inline_reports = crate::stages::risk::venue_sync::INBOX_CAPACITY;
    // A tt-muncher over the stage list, two loops deep. The outer loop (`@first`) takes
    // each stage in turn as a runner's first, with the ring it reads (`r.frames_in` for
    // the first stage, else the ring after the stage before). The inner loop (`@last`)
    // walks from there to the end of the list, adding one arm per possible last stage:
    // its chain is the stages walked so far, ending in the ring after the last one (the
    // venue ring after the final stage). Arms accumulate in `{ … }` until the outer loop
    // runs out, then become the match.
    macro_rules! launch_arms {
        ($( ($id:ident, $field:ident, stage: $stage:ty, stats: $stats:ty $(, ring: $edge:ident $ring:ident: $msg:ty)?) ),* $(,)?) => {
            launch_arms!(@first (r.frames_in) {} [$([$id $field ($($ring)?)])*])
        };
        (@first $input:tt { $($arms:tt)* } []) => {
            match (runner.first, runner.last) {
                $($arms)*
                (first, last) => {
                    unreachable!("validated topology: {first:?}..{last:?} is not a forward run")
                }
            }
        };
        (@first $input:tt $arms:tt [[$id:ident $field:ident ($($ring:ident)?)] $($rest:tt)*]) => {
            launch_arms!(@last $input $id [] $arms [[$id $field ($($ring)?)] $($rest)*] ($(r.$ring.1)?) [$($rest)*])
        };
        (@last $input:tt $first:ident [$($chain:ident)*] { $($arms:tt)* } [[$id:ident $field:ident ($ring:ident)] $($rows:tt)*] $next:tt $outer:tt) => {
            launch_arms!(@last $input $first [$($chain)* $field] {
                $($arms)*
                (StageId::$first, StageId::$id) => go(launch, take!($input), chain!(take!(r.$ring.0); $($chain,)* $field)),
            } [$($rows)*] $next $outer)
        };
        (@last $input:tt $first:ident [$($chain:ident)*] { $($arms:tt)* } [[$id:ident $field:ident ()]] $next:tt $outer:tt) => {
            launch_arms!(@first $next {
                $($arms)*
                (StageId::$first, StageId::$id) => match inline.take() {
                    None => go(launch, take!($input), chain!(take!(r.venue_out); $($chain,)* $field)),
                    Some(venue) => {
                        $(let $chain = take!(s.$chain);)*
                        let $field = take!(s.$field);
                        let clock = clock.clone();
                        go_inline(launch, take!($input), move || {
                            let rec = || StageTimer::new(clock.clone());
                            // Unused in the arms of runners without risk: generated
                            // too, never taken (an inline venue's runner drives risk).
                            #[allow(unused_variables)]
                            let (venue, reports) = inline_venue(venue, inline_reports);
                            $(let $chain = wire!($chain, $chain, reports);)*
                            chain_of!(rec, venue; $($chain,)* $field)
                        })
                    }
                },
            } $outer)
        };
    }
    stage_list!(launch_arms)
}
