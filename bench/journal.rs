//! The journal's append cost per durability policy, on this machine's disk.
//!
//! - `journal/append/{process,fsync,group}`: criterion's time per `ShardWriter::append`
//!   of one 50-byte record (a cancel command). `group` syncs every 64 records or 1 ms.
//! - Then an HDR run per policy: each append timed alone (std `Instant` around the call,
//!   ~25 ns of the figure), printed as p50 / p99 / p99.9 / max in nanoseconds.
//!
//! Journals go under `$TMPDIR` if it is set, otherwise `./target/` of the working
//! directory (run from the repository root): a tmpfs would make `fsync` meaningless, so
//! say where it ran. Each journal is removed after its batch, and a batch stops at 200 000
//! records (10 MB) so a fast policy never fills the disk.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hdrhistogram::Histogram;
use tickpipe::journal::{
    self, Durability, Entry, InputIdentity, JournalOptions, SessionHeader, ShardWriter,
};
use tickpipe::msg::{ClOrdId, Stamp, VenueCommand};

const POLICIES: [(&str, Durability); 3] = [
    ("process", Durability::Process),
    ("fsync", Durability::Fsync),
    (
        "group",
        Durability::Group {
            records: 64,
            interval_us: 1_000,
        },
    ),
];

/// Records in one journal before it is replaced: 10 MB of 50-byte records.
const BATCH: u64 = 200_000;

fn root() -> PathBuf {
    std::env::var_os("TMPDIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

/// A fresh one-shard journal and the directory to remove afterwards.
fn fresh(policy: &str, durability: Durability) -> (ShardWriter, PathBuf) {
    let dir = root().join(format!(
        "tickpipe-journal-bench-{policy}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let header = SessionHeader {
        format_version: journal::header::FORMAT_VERSION,
        config_hash: 0,
        input: InputIdentity {
            kind: "replay".into(),
            len: 0,
            hash: 0,
        },
        shards: 1,
        created_unix_ns: 0,
    };
    let options = JournalOptions {
        durability,
        segment_bytes: 16 << 20,
    };
    let opened = journal::open(&dir, &header, 1, &options).expect("open the bench journal");
    (opened.writers.into_iter().next().unwrap(), dir)
}

fn entry(i: u64) -> Entry {
    Entry::Command {
        position: i,
        command: VenueCommand::Cancel {
            stamp: Stamp {
                ts_recv: i,
                ts_event: i,
            },
            cl_ord_id: ClOrdId(i),
        },
    }
}

fn criterion_appends(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal/append");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    for (name, durability) in POLICIES {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    let (mut w, dir) = fresh(name, durability);
                    let start = Instant::now();
                    for i in 0..n {
                        black_box(w.append(&entry(i)).unwrap());
                    }
                    total += start.elapsed();
                    drop(w);
                    let _ = std::fs::remove_dir_all(dir);
                    left -= n;
                }
                total
            })
        });
    }
    group.finish();
}

fn hdr_run() {
    println!(
        "journal append latency (ns), one 50-byte record per append, under {}:",
        root().display()
    );
    println!(
        "{:<8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>6}",
        "policy", "records", "p50", "p99", "p99.9", "max", "syncs"
    );
    for (name, durability) in POLICIES {
        // An fsync costs milliseconds on a virtual disk: fewer records keep the run short.
        let n = if durability == Durability::Fsync {
            5_000
        } else {
            BATCH
        };
        let (mut w, dir) = fresh(name, durability);
        // Fixed bounds, 1 ns to 60 s: with `Histogram::new(3)` (auto-resizing) the first
        // run read p50 = max = 2 ns for `fsync`, whose every append syncs for milliseconds.
        let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for i in 0..n {
            let start = Instant::now();
            black_box(w.append(&entry(i)).unwrap());
            hist.saturating_record(start.elapsed().as_nanos() as u64);
        }
        println!(
            "{:<8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>6}",
            name,
            n,
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            hist.value_at_quantile(0.999),
            hist.max(),
            w.stats().syncs
        );
        drop(w);
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    criterion_appends(&mut c);
    c.final_summary();
    hdr_run();
}
