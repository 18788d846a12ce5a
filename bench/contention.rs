//! Contention: tickpipe's per-symbol state owned by shard threads against the
//! predecessor's one global lock, with two writer threads on two cores.
//!
//! Every model applies the same update (a top-of-book or trade change to a 64-byte
//! per-symbol state) from the same pre-generated streams:
//!
//! - **sharded** (tickpipe's shards): symbol `s` belongs to shard `s % 2`,
//!   and each writer thread owns its shard's states in a plain array indexed by
//!   `SymbolId`, as tickpipe's stages do. No lock, nothing shared. A writer updates only
//!   its own symbols, so with one symbol the second writer has nothing to do and stays
//!   idle: the table says so (`active writers`).
//! - **std_mutex**: one `std::sync::Mutex<HashMap<SymbolId, State>>` for every symbol,
//!   the predecessor's `_state_lock`; both writers update any symbol.
//! - **parking_lot**: the same with `parking_lot::Mutex`, the best a single lock does.
//!
//! Two phases per model and symbol count, so that clock reads do not distort either:
//! throughput (each writer applies updates untimed for `--seconds`, reading the clock
//! once per 256 updates) and per-update latency (each update timed with two TSC reads,
//! `--samples` per writer, into an HDR histogram; both writers at once). The TSC here
//! advances in 10 ns steps, so an update faster than that records as 0 or 10 ns.
//!
//! The set runs `--runs` times, interleaved and short (about 3 s a run): the host moves
//! this VM's two vCPUs closer or further apart (BENCHMARKS.md, hop), which changes what
//! every transfer of the lock's cache line costs. Each row is the run with the median
//! throughput; the sharded-to-lock ratio is taken within each run, then the median.
//!
//! Output: rows in `target/bench/results.json` (`bench = "contention"`, `case` =
//! `symbols=N`), `target/bench/contention.hlog`, `target/bench/contention.svg`, and a
//! table with the throughput ratio of sharded to each lock.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::{Map, json};
use tickpipe::latency::{Percentiles, new_histogram};
use tickpipe::msg::{Price, SymbolId};

#[derive(Parser)]
#[command(about = "Sharded state vs one global lock, two writers (issue #4, item 3)")]
struct Args {
    /// Shorter phases and three runs: the whole bench in about 3 s.
    #[arg(long)]
    quick: bool,
    /// Throughput phase length per model and symbol count [default: 0.25; quick 0.1].
    #[arg(long)]
    seconds: Option<f64>,
    /// Timed updates per writer in the latency phase [default: 100000; quick 20000].
    #[arg(long)]
    samples: Option<u64>,
    /// Runs of the whole set; each row is the run with the median throughput
    /// [default: 9; quick 3].
    #[arg(long)]
    runs: Option<usize>,
    /// The two writers' cores [default: TICKPIPE_BENCH_CORES, else 0,1].
    #[arg(long, value_delimiter = ',')]
    cores: Option<Vec<usize>>,
    /// Symbol counts [default: 1,8,64].
    #[arg(long, value_delimiter = ',')]
    symbols: Vec<u16>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Model {
    Sharded,
    StdMutex,
    ParkingLot,
}

impl Model {
    const ALL: [Model; 3] = [Model::Sharded, Model::StdMutex, Model::ParkingLot];

    fn name(self) -> &'static str {
        match self {
            Model::Sharded => "sharded",
            Model::StdMutex => "std_mutex",
            Model::ParkingLot => "parking_lot",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Model::Sharded => "each symbol owned by one writer (shard = id % 2), no lock",
            Model::StdMutex => "one std::sync::Mutex<HashMap<SymbolId, State>>, both writers",
            Model::ParkingLot => "one parking_lot::Mutex<HashMap<SymbolId, State>>, both writers",
        }
    }

    /// Writers with work: a shard with no symbols has none.
    fn active_writers(self, symbols: u16) -> usize {
        match self {
            Model::Sharded => usize::from(symbols).min(2),
            Model::StdMutex | Model::ParkingLot => 2,
        }
    }
}

/// A symbol's state: top of book and last trade, one cache line.
#[repr(C, align(64))]
#[derive(Copy, Clone, Default)]
struct State {
    bid_px: Price,
    ask_px: Price,
    last_px: Price,
    bid_qty: u32,
    ask_qty: u32,
    volume: u64,
    updates: u64,
    ts: u64,
}

#[derive(Copy, Clone)]
enum Kind {
    Bid,
    Ask,
    Trade,
}

#[derive(Copy, Clone)]
struct Update {
    symbol: SymbolId,
    kind: Kind,
    qty: u32,
    px: Price,
    ts: u64,
}

impl State {
    #[inline]
    fn apply(&mut self, u: &Update) {
        match u.kind {
            Kind::Bid => (self.bid_px, self.bid_qty) = (u.px, u.qty),
            Kind::Ask => (self.ask_px, self.ask_qty) = (u.px, u.qty),
            Kind::Trade => {
                self.last_px = u.px;
                self.volume += u64::from(u.qty);
            }
        }
        self.updates += 1;
        self.ts = u.ts;
    }

    /// Folds the state into a number the optimiser must compute.
    fn digest(&self) -> u64 {
        (self.bid_px.0 ^ self.ask_px.0 ^ self.last_px.0) as u64
            ^ u64::from(self.bid_qty ^ self.ask_qty)
            ^ self.volume
            ^ self.updates
            ^ self.ts
    }
}

/// Updates a writer cycles through: generated up front so the loop measures the update
/// and the locking, not a random-number generator. 4096 × 32 bytes stays in L1/L2.
const STREAM: usize = 4096;

/// Writer `w`'s stream: its own shard's symbols for the sharded model, any symbol for
/// the global lock.
fn stream(model: Model, symbols: u16, writer: usize) -> Vec<Update> {
    let own: Vec<u16> = match model {
        Model::Sharded => (0..symbols)
            .filter(|s| usize::from(*s) % 2 == writer)
            .collect(),
        Model::StdMutex | Model::ParkingLot => (0..symbols).collect(),
    };
    // splitmix64: deterministic, and different for each writer.
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ writer as u64;
    let mut next = move || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    if own.is_empty() {
        return Vec::new();
    }
    (0..STREAM)
        .map(|i| {
            let r = next();
            Update {
                symbol: SymbolId(own[(r % own.len() as u64) as usize]),
                kind: [Kind::Bid, Kind::Ask, Kind::Trade][(r >> 16) as usize % 3],
                qty: 1 + (r >> 24) as u32 % 1000,
                px: Price(1_000_000 + (r >> 40) as i64 % 10_000),
                ts: i as u64,
            }
        })
        .collect()
}

/// One model's state as a writer thread sees it.
trait Writer: Send {
    fn apply(&mut self, u: &Update);
    fn digest(&self) -> u64;
}

/// A shard's own states, indexed by `SymbolId` like tickpipe's per-symbol arrays.
struct Shard(Vec<State>);

impl Writer for Shard {
    #[inline]
    fn apply(&mut self, u: &Update) {
        self.0[u.symbol.index()].apply(u);
    }

    fn digest(&self) -> u64 {
        self.0.iter().fold(0, |d, s| d ^ s.digest())
    }
}

impl Writer for &Mutex<HashMap<SymbolId, State>> {
    #[inline]
    fn apply(&mut self, u: &Update) {
        let mut map = self.lock().expect("no writer panics holding the lock");
        map.get_mut(&u.symbol)
            .expect("every symbol has a state")
            .apply(u);
    }

    fn digest(&self) -> u64 {
        let map = self.lock().expect("no writer panics holding the lock");
        map.values().fold(0, |d, s| d ^ s.digest())
    }
}

impl Writer for &parking_lot::Mutex<HashMap<SymbolId, State>> {
    #[inline]
    fn apply(&mut self, u: &Update) {
        self.lock()
            .get_mut(&u.symbol)
            .expect("every symbol has a state")
            .apply(u);
    }

    fn digest(&self) -> u64 {
        self.lock().values().fold(0, |d, s| d ^ s.digest())
    }
}

struct Settings {
    clock: quanta::Clock,
    cores: [usize; 2],
    seconds: f64,
    samples: u64,
}

/// What one writer did in the throughput phase.
struct Throughput {
    updates: u64,
    ns: u64,
}

/// Runs `work` on each writer that has a stream, each pinned to its core, started
/// together; returns their results in writer order.
fn on_writers<W: Writer, R: Send>(
    s: &Settings,
    writers: Vec<(W, Vec<Update>)>,
    work: impl Fn(&mut W, &[Update]) -> R + Sync,
) -> Vec<R> {
    let start = Barrier::new(writers.len());
    thread::scope(|scope| {
        let handles: Vec<_> = writers
            .into_iter()
            .zip(s.cores)
            .map(|((mut w, updates), core)| {
                let (start, work) = (&start, &work);
                scope.spawn(move || {
                    support::pin(core);
                    start.wait();
                    let r = work(&mut w, &updates);
                    black_box(w.digest());
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect()
    })
}

fn throughput<W: Writer>(s: &Settings, writers: Vec<(W, Vec<Update>)>) -> Vec<Throughput> {
    let budget_ns = (s.seconds * 1e9) as u64;
    on_writers(s, writers, |w, updates| {
        let clock = &s.clock;
        let t0 = clock.raw();
        let mut done = 0u64;
        loop {
            for chunk in updates.chunks(256) {
                for u in chunk {
                    w.apply(black_box(u));
                }
                done += chunk.len() as u64;
                let ns = clock.delta_as_nanos(t0, clock.raw());
                if ns >= budget_ns {
                    return Throughput { updates: done, ns };
                }
            }
        }
    })
}

fn latency<W: Writer>(s: &Settings, writers: Vec<(W, Vec<Update>)>) -> Histogram<u64> {
    let hists = on_writers(s, writers, |w, updates| {
        let clock = &s.clock;
        let mut hist = new_histogram();
        for u in updates.iter().cycle().take(s.samples as usize) {
            let t0 = clock.raw();
            w.apply(black_box(u));
            hist.saturating_record(clock.delta_as_nanos(t0, clock.raw()));
        }
        hist
    });
    let mut all = new_histogram();
    for h in &hists {
        all.add(h).expect("same bounds");
    }
    all
}

/// One measurement of one model at one symbol count.
struct Measured {
    updates_per_s: f64,
    hist: Histogram<u64>,
}

fn measure(s: &Settings, model: Model, symbols: u16) -> Measured {
    let streams = || -> Vec<Vec<Update>> {
        (0..2)
            .map(|w| stream(model, symbols, w))
            .filter(|st| !st.is_empty())
            .collect()
    };
    let states = || {
        (0..symbols)
            .map(|i| (SymbolId(i), State::default()))
            .collect::<HashMap<_, _>>()
    };
    let (runs, hist) = match model {
        Model::Sharded => {
            // Each shard allocates a full-width array, as a stage indexes by SymbolId,
            // but touches only its own entries.
            let shards = |sts: Vec<Vec<Update>>| {
                sts.into_iter()
                    .map(|st| (Shard(vec![State::default(); usize::from(symbols)]), st))
                    .collect::<Vec<_>>()
            };
            (
                throughput(s, shards(streams())),
                latency(s, shards(streams())),
            )
        }
        Model::StdMutex => {
            let (a, b) = (Mutex::new(states()), Mutex::new(states()));
            let with =
                |m, sts: Vec<Vec<Update>>| sts.into_iter().map(|st| (m, st)).collect::<Vec<_>>();
            (
                throughput(s, with(&a, streams())),
                latency(s, with(&b, streams())),
            )
        }
        Model::ParkingLot => {
            let (a, b) = (
                parking_lot::Mutex::new(states()),
                parking_lot::Mutex::new(states()),
            );
            let with =
                |m, sts: Vec<Vec<Update>>| sts.into_iter().map(|st| (m, st)).collect::<Vec<_>>();
            (
                throughput(s, with(&a, streams())),
                latency(s, with(&b, streams())),
            )
        }
    };
    let updates: u64 = runs.iter().map(|r| r.updates).sum();
    let ns = runs.iter().map(|r| r.ns).max().unwrap_or(1);
    Measured {
        updates_per_s: updates as f64 * 1e9 / ns as f64,
        hist,
    }
}

struct Series {
    model: Model,
    symbols: u16,
    runs: Vec<Measured>,
}

impl Series {
    /// The run with the median throughput (the lower middle for an even count).
    fn median(&self) -> &Measured {
        support::median_by(&self.runs, |a, b| {
            a.updates_per_s.total_cmp(&b.updates_per_s)
        })
    }

    fn case(&self) -> String {
        format!("symbols={}", self.symbols)
    }
}

fn main() {
    let args = Args::parse();
    let (a, b) = support::two_cores(args.cores.as_deref());
    let settings = Settings {
        clock: quanta::Clock::new(),
        cores: [a, b],
        seconds: args.seconds.unwrap_or(if args.quick { 0.1 } else { 0.25 }),
        samples: args
            .samples
            .unwrap_or(if args.quick { 20_000 } else { 100_000 }),
    };
    let runs = args.runs.unwrap_or(if args.quick { 3 } else { 9 }).max(1);
    let symbol_counts = if args.symbols.is_empty() {
        vec![1, 8, 64]
    } else {
        args.symbols.clone()
    };
    let placement = format!(
        "writer 0 pinned to core {a}, writer 1 to core {b}: no core shared between them; \
         both shared with the OS and whatever else runs on this host"
    );
    let load_before = support::load_average();
    println!("contention: {:?}", support::machine());
    println!("{placement}");
    println!(
        "{runs} run(s); throughput phase {} s, latency phase {} timed updates per writer; \
         load average {load_before}",
        settings.seconds, settings.samples
    );

    let began = Instant::now();
    let mut series: Vec<Series> = symbol_counts
        .iter()
        .flat_map(|&symbols| {
            Model::ALL.map(|model| Series {
                model,
                symbols,
                runs: Vec::new(),
            })
        })
        .collect();
    for run in 1..=runs {
        for s in &mut series {
            s.runs.push(measure(&settings, s.model, s.symbols));
        }
        println!("  run {run}/{runs} done");
    }
    let span = began.elapsed();
    let load_after = support::load_average();

    // Sharded throughput over this model's, run by run (measured seconds apart, under one
    // placement of the vCPUs, which the host changes between runs), then the median.
    let ratio_runs = |s: &Series| -> Option<Vec<f64>> {
        let sharded = series
            .iter()
            .find(|x| x.model == Model::Sharded && x.symbols == s.symbols)?;
        Some(
            sharded
                .runs
                .iter()
                .zip(&s.runs)
                .map(|(a, b)| a.updates_per_s / b.updates_per_s)
                .collect(),
        )
    };
    let median_f64 = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[(v.len() - 1) / 2]
    };
    println!(
        "\n{:<12} {:>7} {:>6} {:>12} {:>15} {:>9} {:>5} {:>5} {:>6} {:>7} {:>8} {:>9} {:>9}",
        "impl",
        "symbols",
        "active",
        "updates/s",
        "all runs (M/s)",
        "sharded×",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "p99.99",
        "max",
        "count"
    );
    let mut rows = Vec::new();
    for s in &series {
        let m = s.median();
        let p = Percentiles::of(&m.hist);
        let all: Vec<f64> = s.runs.iter().map(|r| r.updates_per_s).collect();
        let ratios = ratio_runs(s);
        let ratio = ratios.as_deref().map(median_f64);
        println!(
            "{:<12} {:>7} {:>6} {:>12.3e} {:>15} {:>9} {:>5} {:>5} {:>6} {:>7} {:>8} {:>9} {:>9}",
            s.model.name(),
            s.symbols,
            s.model.active_writers(s.symbols),
            m.updates_per_s,
            format!(
                "{:.1}–{:.1}",
                all.iter().copied().fold(f64::INFINITY, f64::min) / 1e6,
                all.iter().copied().fold(0.0, f64::max) / 1e6
            ),
            ratio.map_or_else(|| "-".into(), |r| format!("{r:.1}")),
            p.p50,
            p.p90,
            p.p99,
            p.p999,
            p.p9999,
            p.max,
            p.count,
        );
        let mut extra = Map::new();
        extra.insert("what".into(), json!(s.model.what()));
        extra.insert("symbols".into(), json!(s.symbols));
        extra.insert("writers".into(), json!(2));
        extra.insert(
            "active_writers".into(),
            json!(s.model.active_writers(s.symbols)),
        );
        extra.insert("updates_per_s".into(), json!(m.updates_per_s.round()));
        extra.insert(
            "updates_per_s_runs".into(),
            json!(all.iter().map(|u| u.round()).collect::<Vec<_>>()),
        );
        if let (Some(r), Some(runs)) = (ratio, &ratios) {
            let round2 = |x: f64| (x * 100.0).round() / 100.0;
            extra.insert("sharded_throughput_ratio".into(), json!(round2(r)));
            extra.insert(
                "sharded_throughput_ratio_runs".into(),
                json!(runs.iter().map(|&x| round2(x)).collect::<Vec<_>>()),
            );
        }
        extra.insert(
            "p99_ns_runs".into(),
            json!(
                s.runs
                    .iter()
                    .map(|r| r.hist.value_at_quantile(0.99))
                    .collect::<Vec<_>>()
            ),
        );
        extra.insert("cores".into(), json!(settings.cores));
        extra.insert("threads_sharing_a_core".into(), json!(0));
        extra.insert("placement".into(), json!(placement));
        extra.insert("throughput_seconds".into(), json!(settings.seconds));
        extra.insert("runs".into(), json!(runs));
        extra.insert("load_average_before".into(), json!(load_before));
        extra.insert("load_average_after".into(), json!(load_after));
        rows.push(support::Row {
            bench: "contention".into(),
            imp: s.model.name().into(),
            case: s.case(),
            latency: Some(p),
            extra,
        });
    }
    support::record(&rows);
    println!("load average before {load_before}, after {load_after}");
    if symbol_counts.contains(&1) {
        println!(
            "note: with 1 symbol the sharded model has one writer idle (no symbol in shard 1)"
        );
    }

    println!("\ntarget: sharded ≥ 10 × one global lock at 8 symbols × 2 writers (per run, median)");
    for s in series
        .iter()
        .filter(|s| s.symbols == 8 && s.model != Model::Sharded)
    {
        if let Some(runs) = ratio_runs(s) {
            let r = median_f64(&runs);
            println!(
                "  vs {:<12} {r:.1}×  {:<8} runs {:?}",
                s.model.name(),
                if r >= 10.0 { "met" } else { "NOT met" },
                runs.iter()
                    .map(|x| (x * 10.0).round() / 10.0)
                    .collect::<Vec<_>>()
            );
        }
    }

    let tags: Vec<(String, &Histogram<u64>)> = series
        .iter()
        .map(|s| (format!("{}/{}", s.model.name(), s.case()), &s.median().hist))
        .collect();
    let tagged: Vec<(&str, &Histogram<u64>)> = tags.iter().map(|(t, h)| (t.as_str(), *h)).collect();
    let hlog = support::write_hlog("contention", span, &tagged);
    let title = format!("Per-update latency, 2 writers on cores {a} and {b} (no core shared)");
    let svg = support::plot_percentiles("contention", &title, &tagged);
    println!("\nwrote {} and {}", hlog.display(), svg.display());
}
