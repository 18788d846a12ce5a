//! What every latency benchmark shares: result rows in `target/bench/results.json`, HDR
//! interval logs, percentile-distribution plots, and a description of the machine.
//!
//! Included by path (`#[path = "support/mod.rs"] mod support;`) from each bench, so the
//! library carries none of it.
#![allow(dead_code)] // each bench uses a subset

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use tickpipe::app::latency_out;

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};
use tickpipe::latency::Percentiles;

/// Where every bench writes: `target/bench/` under the working directory
/// (`CARGO_TARGET_DIR` respected), so a bench binary built elsewhere writes beside
/// where it runs.
pub fn out_dir() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let dir = target.join("bench");
    fs::create_dir_all(&dir).expect("create target/bench");
    dir
}

/// One result: a row of `target/bench/results.json`.
pub struct Row {
    /// `hop`, `contention`, `e2e`, or a stage name.
    pub bench: String,
    /// The implementation measured (for `hop`: `floor`, `tickpipe`, `crossbeam`,
    /// `crossbeam_array_queue`, `std_mpsc`, `disruptor`, `mutex_vecdeque`).
    pub imp: String,
    /// What distinguishes this row from others of the same bench and impl (a rate, a
    /// symbol count, a topology); part of the row's identity.
    pub case: String,
    /// Latency percentiles in nanoseconds, when the bench measures latency.
    pub latency: Option<Percentiles>,
    /// Rates and anything else (`offered_per_s`, `achieved_per_s`, `updates_per_s`,
    /// `threads_sharing_a_core`, …).
    pub extra: Map<String, Value>,
}

impl Row {
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("bench".into(), json!(self.bench));
        o.insert("impl".into(), json!(self.imp));
        o.insert("case".into(), json!(self.case));
        if let Some(p) = &self.latency {
            o.extend(percentile_fields(p));
        }
        o.extend(self.extra.clone());
        Value::Object(o)
    }
}

/// A histogram's percentiles under the results.json keys (`p50_ns` … `max_ns`, `count`).
pub fn percentile_fields(p: &Percentiles) -> Map<String, Value> {
    [
        ("p50_ns", p.p50),
        ("p90_ns", p.p90),
        ("p99_ns", p.p99),
        ("p999_ns", p.p999),
        ("p9999_ns", p.p9999),
        ("max_ns", p.max),
        ("count", p.count),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), json!(v)))
    .collect()
}

/// The median of `items` under `cmp` (the lower middle for an even count): the run a
/// table reports, so its percentiles all come from one run.
pub fn median_by<T>(items: &[T], cmp: impl Fn(&T, &T) -> std::cmp::Ordering) -> &T {
    let mut order: Vec<&T> = items.iter().collect();
    order.sort_by(|a, b| cmp(a, b));
    order[(order.len() - 1) / 2]
}

/// Adds `rows` to `target/bench/results.json`, replacing earlier rows with the same
/// (bench, impl, case), so a partial re-run updates only what it measured.
pub fn record(rows: &[Row]) {
    let path = out_dir().join("results.json");
    let mut all: Vec<Value> = fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let key = |v: &Value| (v["bench"].clone(), v["impl"].clone(), v["case"].clone());
    for row in rows {
        let new = row.to_json();
        all.retain(|old| key(old) != key(&new));
        all.push(new);
    }
    let text = serde_json::to_string_pretty(&all).expect("rows serialise");
    fs::write(&path, text + "\n").unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Writes `histograms` (tag, histogram) as one HDR interval log (`.hlog`), readable by
/// HdrHistogram's HistogramLogAnalyzer and plotting tools; every interval spans `span`.
pub fn write_hlog(name: &str, span: Duration, histograms: &[(&str, &Histogram<u64>)]) -> PathBuf {
    let path = out_dir().join(format!("{name}.hlog"));
    let comment = format!("tickpipe bench {name}; values in nanoseconds");
    latency_out::write_hlog(&path, &comment, span, histograms).expect("write hlog");
    path
}

/// Plots latency against percentile for each series, as an SVG.
pub fn plot_percentiles(name: &str, title: &str, series: &[(&str, &Histogram<u64>)]) -> PathBuf {
    let path = out_dir().join(format!("{name}.svg"));
    latency_out::plot_percentiles(&path, title, series).expect("write svg");
    path
}

/// The machine a figure was measured on, as BENCHMARKS.md states it.
pub fn machine() -> BTreeMap<&'static str, String> {
    let read = |p: &str| {
        fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into())
    };
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let smt = read("/sys/devices/system/cpu/smt/active");
    let governor = read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
    let kernel = read("/proc/sys/kernel/osrelease");
    BTreeMap::from([
        ("cpu", cpu),
        ("cores", cores.to_string()),
        ("smt", smt),
        ("governor", governor),
        ("kernel", kernel),
    ])
}

/// The two cores a two-thread bench pins its threads to: `--cores A,B` if given, else
/// the `TICKPIPE_BENCH_CORES` environment variable (`A,B`), else 0 and 1.
///
/// Panics, naming the problem, if the two are equal or not both available: two
/// busy-spinning threads on one core make progress only when the scheduler preempts
/// one of them, so such a figure would measure the scheduler, not the hop.
pub fn two_cores(arg: Option<&[usize]>) -> (usize, usize) {
    let from_env = std::env::var("TICKPIPE_BENCH_CORES").ok().map(|s| {
        s.split(',')
            .map(|c| c.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("TICKPIPE_BENCH_CORES={s:?}: {e}"))
    });
    let cores = arg
        .map(<[usize]>::to_vec)
        .or(from_env)
        .unwrap_or(vec![0, 1]);
    let &[a, b] = cores.as_slice() else {
        panic!("give exactly two cores (A,B), got {cores:?}");
    };
    assert!(
        a != b,
        "the two threads need two different cores, got {a} twice"
    );
    let available = tickpipe::runtime::topology::host_cores();
    for c in [a, b] {
        assert!(
            available.contains(&c),
            "core {c} is not available (this process may run on {available:?})"
        );
    }
    (a, b)
}

/// Pins the calling thread to `core`; panics if the OS refuses.
pub fn pin(core: usize) {
    assert!(
        core_affinity::set_for_current(core_affinity::CoreId { id: core }),
        "could not pin this thread to core {core}"
    );
}

/// The 1, 5 and 15 minute load averages: how busy the host was around a run (on a shared
/// host, the noise to report beside a figure).
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            let v: Vec<&str> = s.split_whitespace().take(3).collect();
            (v.len() == 3).then(|| v.join(" "))
        })
        .unwrap_or_else(|| "unknown".into())
}
