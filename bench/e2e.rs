//! End to end: the sample session replayed through the whole pipeline (source, five
//! stages, simulated venue), measuring tick-to-order — receipt of the market data
//! behind an order to the order leaving routing for the venue.
//!
//! Open loop: at an offered rate, message `i` is due at `start + i / rate` and stamped
//! with that intended time ([`Pacing::Rate`]), so a stall shows as latency on every
//! message it delays instead of slowing the sender (coordinated omission). The `max`
//! case replays unpaced: the source fills the feed ring and every message waits behind
//! it, so its latency is queueing by construction; only its achieved rate is a result.
//!
//! Each (topology, rate) runs `--runs` times (3 by default); the row holds the median of
//! each percentile and every run's own figures, so the spread is visible. A row also says
//! which threads shared which core, and is marked not representative if a busy-spinning
//! thread shared a core. Per case: `target/bench/e2e-<topology>-<rate>.hlog` (one
//! tagged interval per run) and `.svg` (every run's percentile distribution).
//!
//! ```text
//! cargo bench --bench e2e -- [--quick] [--runs N] [--settle SECS] [--pipeline FILE]... [--journal off|process|fsync]... [--lock-memory] [FILTER]
//! ```
//! `--journal` runs each case with the decision journal off (the default) or on under
//! that durability policy, in `target/bench/e2e-journal-<policy>/` (emptied before each
//! run); repeat it to measure several in the same sitting. A journaled case's topology
//! is named `<topology>+journal-<policy>`.
//! `--lock-memory` locks every page of the process in memory first (`mlockall`, every
//! later mapping too); its topologies are named `<topology>+mlock`.
//! `--quick` replays a 200 000-message session instead of the 2 M one; `--pipeline`
//! replaces the default topologies (fused-2core, staged-2core); FILTER keeps the cases
//! whose `topology/rate` contains it. `--settle` waits, before each run, up to SECS for
//! other processes to leave the host nearly idle (on a shared 2-core machine one
//! compiler takes half of it); every run reports how much CPU others used meanwhile.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};
use support::Row;
use tickpipe::latency::Percentiles;
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::config::Config;
use tickpipe::runtime::journal::{Policy, store};
use tickpipe::runtime::pipeline::{Pipeline, PipelineSpec};
use tickpipe::runtime::report::RunReport;
use tickpipe::runtime::topology::{self, Topology, VenueRunner};
use tickpipe::source::replay::{Input, Pacing};
use tickpipe::sys::idle::IdleStrategy;
use tickpipe::tools::sample::{SampleSpec, generate};
use tickpipe::universe::Universe;

// The binary's allocator, so the bench measures what `tickpipe run` runs.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The topologies measured by default: the placements chosen for this 2-core host (their
/// comments give the measurements behind them).
const DEFAULT_PIPELINES: [&str; 2] = ["pipelines/fused-2core.toml", "pipelines/staged-2core.toml"];

/// `--quick`: a tenth of the sample session — ~9 000 orders per run, enough for p99.9.
const QUICK_MESSAGES: u64 = 200_000;

/// One offered rate.
struct Rate {
    case: &'static str,
    /// `None`: unpaced.
    per_sec: Option<f64>,
}

const RATES: [Rate; 3] = [
    Rate {
        case: "100k",
        per_sec: Some(100_000.0),
    },
    Rate {
        case: "1M",
        per_sec: Some(1_000_000.0),
    },
    Rate {
        case: "max",
        per_sec: None,
    },
];

struct Args {
    quick: bool,
    runs: usize,
    pipelines: Vec<PathBuf>,
    filter: Option<String>,
    settle: Duration,
    /// `None`: no journal.
    journals: Vec<Option<Policy>>,
    /// Lock every page in memory before the first case (`sys::memlock`).
    lock_memory: bool,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            quick: false,
            runs: 3,
            pipelines: Vec::new(),
            filter: None,
            settle: Duration::ZERO,
            journals: Vec::new(),
            lock_memory: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => args.quick = true,
                "--lock-memory" => args.lock_memory = true,
                // Added by `cargo bench` to every bench target.
                "--bench" => {}
                "--runs" => {
                    args.runs = it
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .unwrap_or_else(|| usage("--runs takes a positive count"));
                }
                "--settle" => {
                    args.settle = it
                        .next()
                        .and_then(|n| n.parse().ok())
                        .map(Duration::from_secs_f64)
                        .unwrap_or_else(|| usage("--settle takes seconds"));
                }
                "--pipeline" => args.pipelines.push(
                    it.next()
                        .map(PathBuf::from)
                        .unwrap_or_else(|| usage("--pipeline takes a topology file")),
                ),
                "--journal" => args.journals.push(match it.next().as_deref() {
                    Some("off") => None,
                    Some("process") => Some(Policy::Process),
                    Some("fsync") => Some(Policy::Fsync),
                    _ => usage("--journal takes off, process or fsync"),
                }),
                flag if flag.starts_with('-') => usage(&format!("unknown option {flag}")),
                filter => args.filter = Some(filter.to_string()),
            }
        }
        if args.pipelines.is_empty() {
            args.pipelines = DEFAULT_PIPELINES.iter().map(PathBuf::from).collect();
        }
        if args.journals.is_empty() {
            args.journals.push(None);
        }
        args
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "e2e: {problem}\nusage: cargo bench --bench e2e -- [--quick] [--runs N] [--settle SECS] [--pipeline FILE]... [--journal off|process|fsync]... [--lock-memory] [FILTER]"
    );
    std::process::exit(2)
}

fn main() {
    let args = Args::parse();
    // Paths in topologies, config and the defaults are relative to the working directory
    // (`cargo bench` runs a bench in the repository root), so a binary built elsewhere
    // runs from any checkout (scripts/pinned-bench.sh).
    if args.lock_memory
        && let Err(e) = tickpipe::sys::memlock::lock_all()
    {
        usage(&format!("--lock-memory: mlockall failed: {e}"));
    }
    let machine = support::machine();
    println!(
        "e2e: {}; {} runs per case; machine {machine:?}",
        if args.quick { "quick" } else { "full" },
        args.runs
    );
    let messages = if args.quick {
        QUICK_MESSAGES
    } else {
        SampleSpec::default_session().messages
    };
    let session = session_file(messages);
    let (config, universe) =
        Config::load(Path::new("config/tickpipe.toml")).expect("bundled config is valid");
    let universe = Arc::new(universe);
    let host_cores = topology::host_cores();

    for path in &args.pipelines {
        let topology = Topology::load(path, None, &universe, &host_cores)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("topology files have UTF-8 names")
            .to_string();
        let placement = Placement::of(&topology, host_cores.len());
        for (journal, rate) in args
            .journals
            .iter()
            .flat_map(|j| RATES.iter().map(move |r| (*j, r)))
        {
            let mut imp = match journal {
                None => stem.clone(),
                Some(policy) => format!("{stem}+journal-{}", policy.name()),
            };
            if args.lock_memory {
                imp.push_str("+mlock");
            }
            let id = format!("{imp}/{}", rate.case);
            if args.filter.as_deref().is_some_and(|f| !id.contains(f)) {
                continue;
            }
            println!("{id}: {}", placement.cores);
            let runs: Vec<Run> = (1..=args.runs)
                .map(|i| {
                    settle(args.settle);
                    let run = run_once(&topology, &config, &universe, &session, rate, journal);
                    println!("  run {i}: {}", run.summary());
                    run
                })
                .collect();
            print_breakdown(&runs);
            let row = summarise(&imp, rate, &runs, &placement, &topology, args.quick);
            support::record(&[row]);
            write_artifacts(&imp, rate, &runs, &placement);
        }
    }
}

/// The session as an ITCH file under `target/bench/`, written once per invocation (not
/// kept between them: the generator may have changed): every run then maps the same
/// bytes instead of regenerating them (~1 s for 2 M messages).
fn session_file(messages: u64) -> PathBuf {
    let spec = SampleSpec {
        messages,
        ..SampleSpec::default_session()
    };
    let path = support::out_dir().join(format!("e2e-session-{messages}.itch"));
    std::fs::write(&path, generate(&spec)).expect("write the session file");
    path
}

/// One replay's figures.
struct Run {
    tick_to_order: Histogram<u64>,
    /// Time since receipt at entry to routing, for every command (not only new orders).
    routing: Histogram<u64>,
    messages: u64,
    elapsed: Duration,
    watermark_waits: u64,
    /// Each stage's service time per event, in pipeline order.
    service: Vec<(&'static str, Histogram<u64>)>,
    /// How long each watermark wait took (inside risk's service time).
    waits: Histogram<u64>,
    digest: u64,
    /// What else ran on the host meanwhile.
    host: HostLoad,
}

impl Run {
    fn achieved_per_s(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }

    fn summary(&self) -> String {
        let p = Percentiles::of(&self.tick_to_order);
        format!(
            "{:.3} M msgs/s; tick-to-order ns p50 {} p99 {} p99.9 {} p99.99 {} max {} (n {}); \
             watermark waits {}; other processes {:.0}% of the host ({:.0} ms), steal {:.1}%",
            self.achieved_per_s() / 1e6,
            p.p50,
            p.p99,
            p.p999,
            p.p9999,
            p.max,
            p.count,
            self.watermark_waits,
            self.host.others_pct,
            self.host.others_ms,
            self.host.steal_pct
        )
    }
}

fn run_once(
    topology: &Topology,
    config: &Config,
    universe: &Arc<Universe>,
    session: &Path,
    rate: &Rate,
    journal: Option<Policy>,
) -> Run {
    let spec = PipelineSpec {
        topology: topology.clone(),
        config: config.clone(),
        universe: Arc::clone(universe),
        input: Input::File(session.to_path_buf()),
        pacing: rate
            .per_sec
            .map_or(Pacing::AsFastAsPossible, |messages_per_sec| Pacing::Rate {
                messages_per_sec,
            }),
    };
    let before = CpuTimes::now();
    let report: RunReport = match journal {
        None => Pipeline::start(spec).expect("pipeline starts").join(),
        Some(policy) => {
            let dir = support::out_dir().join(format!("e2e-journal-{}", policy.name()));
            let _ = std::fs::remove_dir_all(&dir);
            let identity = store::input_identity(&spec.input).expect("the session reads");
            let header = store::header(1, identity, spec.topology.shards);
            let (meta, logs) =
                store::open_for_run(&dir, &header, policy, 64 << 20).expect("the journal opens");
            let source = spec.input.source(spec.pacing).expect("the session opens");
            Engine::new(spec.topology, spec.config, spec.universe, source)
                .journal(meta, logs)
                .run()
                .expect("pipeline starts")
        }
    };
    let host = HostLoad::between(&before, &CpuTimes::now());
    assert!(
        report.failures.is_empty(),
        "{}: {:?}",
        topology.path.display(),
        report.failures
    );
    let routing = report
        .stage_latency
        .iter()
        .find(|(name, _)| *name == "routing")
        .map(|(_, h)| h.clone())
        .expect("the report has every stage");
    Run {
        tick_to_order: report.shard.routing.tick_to_order.clone(),
        routing,
        messages: report.source.messages,
        elapsed: report.elapsed,
        watermark_waits: report.shard.risk.watermark_waits,
        service: report.stage_service.clone(),
        waits: report.shard.risk.watermark_wait_ns.0.clone(),
        digest: report.digest(),
        host,
    }
}

/// Where each microsecond of tick-to-order goes, from the median run (by p50): each
/// stage's service time per event (p50 and mean), risk's watermark waits, the compute
/// an order's path costs (the five stages' p50s), and what is left of the p50 — hops,
/// queueing and the source's framing.
fn print_breakdown(runs: &[Run]) {
    let mut by_p50: Vec<&Run> = runs.iter().collect();
    by_p50.sort_by_key(|r| r.tick_to_order.value_at_quantile(0.5));
    let run = by_p50[by_p50.len() / 2];
    let mut parts = Vec::new();
    let mut path = 0;
    for (name, h) in &run.service {
        let p50 = h.value_at_quantile(0.5);
        path += p50;
        parts.push(format!("{name} {p50}/{:.0}", h.mean()));
    }
    let t2o = run.tick_to_order.value_at_quantile(0.5);
    println!(
        "  service ns per event (p50/mean): {}; watermark waits {} (p50 {} ns, p99 {} ns)",
        parts.join(", "),
        run.waits.len(),
        run.waits.value_at_quantile(0.5),
        run.waits.value_at_quantile(0.99)
    );
    println!(
        "  tick-to-order p50 {t2o} ns = {path} ns in the five stages (their p50s) + {} ns hops, \
         queueing and framing",
        t2o.saturating_sub(path)
    );
}

/// Waits, up to `limit`, until other processes have used under 5% of the host for
/// half a second.
fn settle(limit: Duration) {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        let before = CpuTimes::now();
        std::thread::sleep(Duration::from_millis(500));
        if HostLoad::between(&before, &CpuTimes::now()).others_pct < 5.0 {
            return;
        }
    }
    if !limit.is_zero() {
        println!("  host still busy after {limit:?}; measuring anyway");
    }
}

/// `/proc/stat`'s unit (USER_HZ), 100 on every Linux architecture tickpipe runs on.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// Host-wide CPU time counters (`/proc/stat`, in clock ticks) and this process's own.
struct CpuTimes {
    busy: u64,
    total: u64,
    steal: u64,
    own: u64,
}

impl CpuTimes {
    fn now() -> CpuTimes {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let get = |i: usize| fields.get(i).copied().unwrap_or(0);
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let total: u64 = (0..8).map(get).sum();
        let own_stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the parenthesised command name: utime is the 12th, stime the 13th.
        let own: u64 = own_stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|f| f.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        CpuTimes {
            busy: total - get(3) - get(4) - get(7),
            total,
            steal: get(7),
            own,
        }
    }
}

/// Other processes' share of the host's CPU time during a run, and the hypervisor's.
/// `/proc/stat` counts in 10 ms ticks, so a short run's figures are coarse.
struct HostLoad {
    others_pct: f64,
    /// Other processes' CPU time: each millisecond of it was taken from a core our
    /// threads were using, since they occupy both.
    others_ms: f64,
    steal_pct: f64,
}

impl HostLoad {
    fn between(a: &CpuTimes, b: &CpuTimes) -> HostLoad {
        let total = (b.total - a.total).max(1) as f64;
        let others = (b.busy - a.busy).saturating_sub(b.own - a.own) as f64;
        HostLoad {
            others_pct: 100.0 * others / total,
            others_ms: others * 1000.0 / CLOCK_TICKS_PER_SEC,
            steal_pct: 100.0 * (b.steal - a.steal) as f64 / total,
        }
    }
}

/// Which threads run where, and whether that placement's latency can stand for the
/// engine's: a busy-spinning thread that shares a core steals its neighbour's time and
/// measures the scheduler, not the pipeline.
struct Placement {
    /// E.g. `core 0: source; core 1: shard0, venue`.
    cores: String,
    threads: usize,
    host_cores: usize,
    representative: bool,
    note: String,
}

impl Placement {
    fn of(t: &Topology, host_cores: usize) -> Placement {
        let mut threads: Vec<(String, Option<usize>, IdleStrategy)> =
            vec![("source".into(), t.source.core, t.source.idle)];
        if let VenueRunner::Thread(venue) = &t.venue {
            threads.push(("venue".into(), venue.core, venue.idle));
        }
        for shard in 0..t.shards {
            for r in &t.runners {
                let name = if t.runners.len() == 1 {
                    format!("shard{shard}")
                } else {
                    format!("shard{shard}/{}", r.name)
                };
                threads.push((name, r.cores.as_ref().map(|c| c[shard]), r.idle));
            }
        }
        let mut by_core: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
        let mut floating = Vec::new();
        for (name, core, _) in &threads {
            match core {
                Some(c) => by_core.entry(*c).or_default().push(name),
                None => floating.push(name.as_str()),
            }
        }
        let mut parts: Vec<String> = by_core
            .iter()
            .map(|(c, names)| format!("core {c}: {}", names.join(", ")))
            .collect();
        if !floating.is_empty() {
            parts.push(format!("unpinned: {}", floating.join(", ")));
        }
        let oversubscribed = threads.len() > host_cores;
        let shared_spinners: Vec<&str> = threads
            .iter()
            .filter(|(_, _, idle)| matches!(idle, IdleStrategy::BusySpin {}))
            .filter(|(_, core, _)| {
                oversubscribed && core.is_none_or(|c| by_core[&c].len() > 1 || !floating.is_empty())
            })
            .map(|(name, _, _)| name.as_str())
            .collect();
        let note = if shared_spinners.is_empty() {
            String::new()
        } else {
            format!(
                "NOT REPRESENTATIVE: busy-spinning {} share(s) a core",
                shared_spinners.join(", ")
            )
        };
        Placement {
            cores: parts.join("; "),
            threads: threads.len(),
            host_cores,
            representative: shared_spinners.is_empty(),
            note,
        }
    }
}

/// The median of each run's value (the lower middle for an even count).
fn median<T: Copy + PartialOrd>(v: Vec<T>) -> T {
    *support::median_by(&v, |a, b| a.partial_cmp(b).expect("no NaN"))
}

fn median_percentiles(hs: &[&Histogram<u64>]) -> Percentiles {
    let ps: Vec<Percentiles> = hs.iter().map(|h| Percentiles::of(h)).collect();
    let m = |f: fn(&Percentiles) -> u64| median(ps.iter().map(f).collect());
    Percentiles {
        p50: m(|p| p.p50),
        p90: m(|p| p.p90),
        p99: m(|p| p.p99),
        p999: m(|p| p.p999),
        p9999: m(|p| p.p9999),
        max: m(|p| p.max),
        count: m(|p| p.count),
    }
}

fn summarise(
    imp: &str,
    rate: &Rate,
    runs: &[Run],
    placement: &Placement,
    topology: &Topology,
    quick: bool,
) -> Row {
    let digests: Vec<u64> = runs.iter().map(|r| r.digest).collect();
    assert!(
        digests.windows(2).all(|w| w[0] == w[1]),
        "{imp}/{}: decisions differ between runs ({digests:x?}); a topology or timing \
         must never change a decision",
        rate.case
    );
    let per_run: Vec<Value> = runs
        .iter()
        .map(|r| {
            let mut o = support::percentile_fields(&Percentiles::of(&r.tick_to_order));
            o.insert("watermark_waits".into(), json!(r.watermark_waits));
            o.insert("achieved_per_s".into(), json!(r.achieved_per_s().round()));
            o.insert("others_cpu_pct".into(), json!(round1(r.host.others_pct)));
            o.insert("others_cpu_ms".into(), json!(r.host.others_ms.round()));
            o.insert("steal_pct".into(), json!(round1(r.host.steal_pct)));
            Value::Object(o)
        })
        .collect();
    let routing = median_percentiles(&runs.iter().map(|r| &r.routing).collect::<Vec<_>>());
    let note = match rate.per_sec {
        None => join_notes(
            "unpaced: the source fills the feed ring, so latency is queueing by construction; \
             only the achieved rate is a result",
            &placement.note,
        ),
        Some(_) => placement.note.clone(),
    };
    let mut extra = Map::new();
    extra.insert(
        "topology".into(),
        json!(topology.path.display().to_string()),
    );
    extra.insert(
        "pacing".into(),
        json!(if rate.per_sec.is_some() {
            "open-loop"
        } else {
            "unpaced"
        }),
    );
    extra.insert("offered_per_s".into(), json!(rate.per_sec));
    extra.insert(
        "achieved_per_s".into(),
        json!(median(runs.iter().map(Run::achieved_per_s).collect()).round()),
    );
    extra.insert("messages".into(), json!(runs[0].messages));
    extra.insert("runs".into(), json!(runs.len()));
    extra.insert("mode".into(), json!(if quick { "quick" } else { "full" }));
    extra.insert("cores".into(), json!(placement.cores));
    extra.insert("threads".into(), json!(placement.threads));
    extra.insert("host_cores".into(), json!(placement.host_cores));
    extra.insert("representative".into(), json!(placement.representative));
    extra.insert("note".into(), json!(note));
    extra.insert(
        "routing_since_receipt".into(),
        json!({
            "p50_ns": routing.p50, "p99_ns": routing.p99, "p999_ns": routing.p999,
            "max_ns": routing.max, "count": routing.count,
        }),
    );
    extra.insert(
        "watermark_waits".into(),
        json!(median(runs.iter().map(|r| r.watermark_waits).collect())),
    );
    let service: Map<String, Value> = runs[0]
        .service
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let p = median_percentiles(&runs.iter().map(|r| &r.service[i].1).collect::<Vec<_>>());
            let mean = median(runs.iter().map(|r| r.service[i].1.mean()).collect());
            (
                name.to_string(),
                json!({ "p50_ns": p.p50, "p99_ns": p.p99, "p999_ns": p.p999, "mean_ns": mean.round() }),
            )
        })
        .collect();
    extra.insert("service".into(), Value::Object(service));
    let waits = median_percentiles(&runs.iter().map(|r| &r.waits).collect::<Vec<_>>());
    extra.insert(
        "watermark_wait".into(),
        json!({ "p50_ns": waits.p50, "p99_ns": waits.p99, "count": waits.count }),
    );
    extra.insert("digest".into(), json!(format!("{:016x}", digests[0])));
    extra.insert("per_run".into(), Value::Array(per_run));
    Row {
        bench: "e2e".into(),
        imp: imp.into(),
        case: rate.case.into(),
        latency: Some(median_percentiles(
            &runs.iter().map(|r| &r.tick_to_order).collect::<Vec<_>>(),
        )),
        extra,
    }
}

fn join_notes(a: &str, b: &str) -> String {
    if b.is_empty() {
        a.to_string()
    } else {
        format!("{b}; {a}")
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn write_artifacts(imp: &str, rate: &Rate, runs: &[Run], placement: &Placement) {
    let name = format!("e2e-{imp}-{}", rate.case);
    let tags: Vec<(String, String)> = (1..=runs.len())
        .map(|i| (format!("tick-to-order/run{i}"), format!("routing/run{i}")))
        .collect();
    let mut logged: Vec<(&str, &Histogram<u64>)> = Vec::new();
    for (run, (t2o, routing)) in runs.iter().zip(&tags) {
        logged.push((t2o, &run.tick_to_order));
        logged.push((routing, &run.routing));
    }
    let span = runs.iter().map(|r| r.elapsed).max().unwrap_or_default();
    let hlog = support::write_hlog(&name, span, &logged);
    let labels: Vec<String> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let p = Percentiles::of(&r.tick_to_order);
            format!(
                "run {}: p99.9 {:.1} µs, {:.2} M msgs/s",
                i + 1,
                p.p999 as f64 / 1e3,
                r.achieved_per_s() / 1e6
            )
        })
        .collect();
    let series: Vec<(&str, &Histogram<u64>)> = labels
        .iter()
        .zip(runs)
        .map(|(l, r)| (l.as_str(), &r.tick_to_order))
        .collect();
    let offered = rate
        .per_sec
        .map_or("unpaced (queueing by construction)".to_string(), |r| {
            format!("{} msgs/s offered, open loop", rate_label(r))
        });
    let svg = support::plot_percentiles(
        &name,
        &format!("tick-to-order, {imp}, {offered}; {}", placement.cores),
        &series,
    );
    println!("  wrote {} and {}", hlog.display(), svg.display());
}

fn rate_label(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{} M", per_sec / 1e6)
    } else {
        format!("{} k", per_sec / 1e3)
    }
}
