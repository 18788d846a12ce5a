//! No heap allocation per event once the pipeline is warm (README, "What it guarantees"): every runner,
//! ring, book, order table and histogram is sized at start-up.

mod common;
mod coordinator_common;
mod onnx_common;

use std::sync::Arc;
use std::time::Duration;

use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::pipeline::Pipeline;
use tickpipe::stages::inference::builtin::BuiltIn;
use tickpipe::sys::alloc_count::{CountingAllocator, allocations};

#[global_allocator]
static COUNTING: CountingAllocator = CountingAllocator;

const MESSAGES: u64 = 1_000_000;

/// One program, not one test per case, and no test harness (`harness = false` in
/// Cargo.toml): the count is process-wide, so a second test would count the first one's
/// start-up, and libtest's own "running for over 60 seconds" notice, printed while a case
/// is mid-window, allocates.
///
/// With metrics on, every shard runner publishes its figures (counters, histograms,
/// rings) every millisecond, a hundred times as often as `run --metrics` does. Nothing scrapes
/// during the measured middle (a scrape allocates on its own thread, which this
/// allocator counts too); the publication count read on either side shows the runners
/// published in between.
///
/// The bundled config has `[health]`, so the runner watchdog reads every heartbeat every
/// 100 ms throughout; `measure` checks it ran.
fn main() {
    journal_append_allocates_nothing();
    for metrics in [None, Some(Duration::from_millis(1))] {
        for topology in [
            "pipelines/fused.toml",
            "pipelines/staged.toml",
            "pipelines/fused-inline.toml",
        ] {
            let spec = common::spec(topology, 2, MESSAGES);
            let source = spec.input.source(spec.pacing).expect("the sample opens");
            let mut engine = Engine::new(spec.topology, spec.config, spec.universe, source);
            if let Some(period) = metrics {
                engine = engine.metrics(period);
            }
            let pipeline = engine.start().expect("pipeline starts");
            measure(&format!("{topology}, metrics {metrics:?}"), pipeline);
        }
    }
    // The discrete PPO policy from an ONNX file, on the native engine.
    let mut spec = common::spec("pipelines/fused.toml", 2, MESSAGES);
    spec.config = onnx_common::config_with_model(&onnx_common::ppo_model("native")).0;
    let (model, _) = BuiltIn::load(&spec.config.model).expect("the fixture loads");
    let source = spec.input.source(spec.pacing).expect("the sample opens");
    let pipeline = Engine::new(
        spec.topology,
        spec.config,
        Arc::clone(&spec.universe),
        source,
    )
    .model(move |_| model.clone())
    .start()
    .expect("pipeline starts");
    measure("pipelines/fused.toml with the ONNX model", pipeline);
    steady_state_with_the_journal_on_allocates_nothing();
    steady_state_with_the_control_socket_open_allocates_nothing();
    coordinator_running();
    ib_source_ticks();
    println!(
        "no_alloc: the journal append, 7 pipeline cases (the runner watchdog on), the \
         journal on, the control socket open, the coordinator running and IB's ticks as \
         ITCH allocated nothing in steady state"
    );
}

/// Counts the allocations while the middle of the input flows; the run must trade, and
/// with metrics on, every runner must have published in that middle.
fn measure(case: &str, pipeline: Pipeline) {
    let published = || pipeline.metrics().map(|m| m.snapshot().publications);
    // The source runs at most a ring (16 Ki frames) ahead of the shards, so between
    // 30% and 70% of the input every runner is mid-stream.
    common::wait_for(&pipeline, MESSAGES * 3 / 10);
    let published_before = published();
    let before = allocations();
    common::wait_for(&pipeline, MESSAGES * 7 / 10);
    let during = allocations() - before;
    let published_after = published();
    let report = pipeline.join();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(
        report.shard.risk.orders_sent > 0,
        "the session must trade (orders are sent throughout it, so the measured middle too)"
    );
    assert!(
        report.health.watchdog.is_some(),
        "{case}: the watchdog watched the measured middle"
    );
    if published_before.is_some() {
        assert!(
            published_after > published_before,
            "{case}: every runner published in the measured middle ({published_before:?} → {published_after:?})"
        );
    }
    assert_eq!(
        during, 0,
        "{case}: {during} heap allocations while ~400k messages flowed"
    );
    println!("no_alloc: {case}: 0 allocations");
}

/// The same with every decision journaled (the in-memory store, its record lists
/// reserved up front as the file store's segments are): journaling allocates nothing
/// per record.
fn steady_state_with_the_journal_on_allocates_nothing() {
    use tickpipe::runtime::builder::Engine;
    use tickpipe::runtime::journal::{Cut, MemoryJournal};
    for topology in ["pipelines/fused.toml", "pipelines/fused-inline.toml"] {
        let spec = common::spec(topology, 2, MESSAGES);
        let source = spec.input.source(spec.pacing).expect("the sample opens");
        let journal = MemoryJournal::default();
        let meta = common::memory_journal_meta(false);
        // Publishing metrics too, journal rows included, every millisecond.
        let pipeline = Engine::new(spec.topology, spec.config, spec.universe, source)
            .journal(meta, journal.factory(Cut::None, 1 << 20))
            .metrics(Duration::from_millis(1))
            .start()
            .expect("pipeline starts");
        common::wait_for(&pipeline, MESSAGES * 3 / 10);
        let records_before: usize = journal.records().iter().map(Vec::len).sum();
        let before = allocations();
        common::wait_for(&pipeline, MESSAGES * 7 / 10);
        let during = allocations() - before;
        let records_during: usize = journal.records().iter().map(Vec::len).sum();
        let report = pipeline.join();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert!(
            records_during > records_before,
            "{topology}: decisions were journaled in the measured middle"
        );
        assert_eq!(
            during, 0,
            "{topology}: {during} heap allocations while ~400k messages flowed with the journal on"
        );
    }
}

/// A `Process` journal writer's append, once its segment exists: no allocation (and no
/// syscall, which this cannot see) on the hot path it would sit on. Part of the one test
/// above, for the reason given there.
fn journal_append_allocates_nothing() {
    use tickpipe::journal::{
        self, Durability, Entry, InputIdentity, JournalOptions, SessionHeader,
    };
    use tickpipe::msg::{ClOrdId, Stamp, VenueCommand};

    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-alloc-journal");
    let _ = std::fs::remove_dir_all(&dir);
    let header = SessionHeader {
        format_version: journal::header::FORMAT_VERSION,
        config_hash: 1,
        input: InputIdentity {
            kind: "replay".into(),
            len: 0,
            hash: 0,
        },
        shards: 1,
        created_unix_ns: 0,
    };
    let options = JournalOptions {
        durability: Durability::Process,
        segment_bytes: 4 << 20,
    };
    let mut opened = journal::open(&dir, &header, 1, &options).unwrap();
    let w = &mut opened.writers[0];
    let entry = |i: u64| Entry::Command {
        position: i,
        command: VenueCommand::Cancel {
            stamp: Stamp::default(),
            cl_ord_id: ClOrdId(i),
        },
    };
    w.append(&entry(0)).unwrap();
    let before = allocations();
    // 50 k records of 50 bytes: 2.5 MB, inside the first 4 MiB segment.
    for i in 1..=50_000 {
        w.append(&entry(i)).unwrap();
    }
    let during = allocations() - before;
    assert_eq!(w.stats().segments, 0, "no roll inside the measured window");
    assert_eq!(w.stats().records, 50_001);
    assert_eq!(during, 0, "{during} heap allocations in 50 000 appends");
    drop(opened);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same with the control socket served (`run --control`): its thread polls for
/// operators off the hot path and allocates nothing while none connects; the firm-wide
/// credit pool is drawn on by every order in every run.
fn steady_state_with_the_control_socket_open_allocates_nothing() {
    let dir = std::env::temp_dir().join(format!("tickpipe-noalloc-ctl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pipeline = Pipeline::start(common::spec("pipelines/fused.toml", 2, MESSAGES))
        .expect("pipeline starts");
    let server = tickpipe::runtime::control::ControlServer::start(
        &dir.join("ctl.sock"),
        pipeline.control_hub(),
    )
    .expect("control socket");
    common::wait_for(&pipeline, MESSAGES * 3 / 10);
    let before = allocations();
    common::wait_for(&pipeline, MESSAGES * 7 / 10);
    let during = allocations() - before;
    drop(server);
    let report = pipeline.join();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.shard.risk.orders_sent > 0);
    assert_eq!(
        during, 0,
        "{during} heap allocations while ~400k messages flowed with the socket open"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The same with the coordinator running: every task due many times in the measured
/// middle (health and P&L snapshots every 20 ms of event time, the regime every 50 ms,
/// ~1.3 s of it), a schedule's slices sent in it, every state change journaled, and
/// metrics published.
fn coordinator_running() {
    use tickpipe::runtime::journal::{Cut, MemoryJournal};
    // 10 slices of 10 AAPL, every 50 ms from 1.2 s after the open: inside 30-70 % of the
    // 1 M messages (about 3.25 s of event time).
    let schedule = coordinator_common::SCHEDULE
        .replace("quantity = 60", "quantity = 100")
        .replace("slices = 6", "slices = 10")
        .replace("34_200_030_000_000", "34_201_200_000_000")
        .replace("40_000_000", "50_000_000");
    let config = coordinator_common::config(
        &(coordinator_common::COORDINATOR.replace("MIN_VIEWS", "50") + &schedule),
    );
    let mut spec = common::spec("pipelines/fused.toml", 2, MESSAGES);
    spec.config = config;
    let source = spec.input.source(spec.pacing).expect("the sample opens");
    let journal = MemoryJournal::default();
    let meta = common::memory_journal_meta(false);
    let pipeline = Engine::new(spec.topology, spec.config, spec.universe, source)
        .journal(meta, journal.factory(Cut::None, 1 << 20))
        .metrics(Duration::from_millis(1))
        .start()
        .expect("pipeline starts");
    let coordinator_records = || {
        journal
            .records()
            .iter()
            .flatten()
            .filter(|r| matches!(r, tickpipe::stages::journal::Record::Coordinator { .. }))
            .count()
    };
    common::wait_for(&pipeline, MESSAGES * 3 / 10);
    let records_before = coordinator_records();
    let before = allocations();
    common::wait_for(&pipeline, MESSAGES * 7 / 10);
    let during = allocations() - before;
    let records_during = coordinator_records();
    let report = pipeline.join();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let stats = report
        .shard
        .risk
        .coordinator
        .as_ref()
        .expect("a coordinator ran");
    assert!(stats.slices_sent > 0, "the schedule traded: {stats:?}");
    assert!(
        records_during > records_before,
        "the coordinator journaled in the measured middle ({records_before} → {records_during})"
    );
    assert_eq!(
        during, 0,
        "coordinator running: {during} heap allocations while ~400k messages flowed"
    );
    println!("no_alloc: coordinator running: 0 allocations");
}

/// IB's ticks through the IB source (`source::ibkr`, a scripted feed in place of the
/// wire, which `ibapi` allocates in): turning a quote or a trade into ITCH, the stale
/// bookkeeping and routing allocate nothing per tick.
fn ib_source_ticks() {
    use tickpipe::source::ibkr::IbSource;
    use tickpipe::source::ibkr::feed::{FeedEvent, ScriptedFeed};
    const OPEN_S: i64 = 1_796_394_600;
    let spec = common::spec("pipelines/fused-inline.toml", 2, MESSAGES);
    let tickers: Vec<_> = spec
        .universe
        .ids()
        .map(|id| spec.universe.name(id))
        .collect();
    // 1000 ticks a second of IB time, each symbol's book leaning one way then the
    // other (900 against 100), so the model trades throughout; a trade every 4th.
    // Every quote moves at least one side: more than MESSAGES messages in all.
    let script: Vec<(u64, FeedEvent)> = (0..MESSAGES as usize)
        .map(|i| {
            let symbol = i % tickers.len();
            let round = i / tickers.len();
            let time_s = OPEN_S + (i / 1000) as i64;
            let recv_unix_ns = time_s as u64 * 1_000_000_000 + (i % 1000) as u64 * 1_000_000;
            let bid = 100.0 + (round % 7) as f64 * 0.01;
            let event = if i % 4 == 3 {
                FeedEvent::Trade {
                    symbol,
                    time_s,
                    recv_unix_ns,
                    price: bid,
                    size: 100.0,
                }
            } else {
                let lean = round % 2 == 0;
                FeedEvent::Quote {
                    symbol,
                    time_s,
                    recv_unix_ns,
                    bid,
                    ask: bid + 0.02,
                    bid_size: if lean { 900.0 } else { 100.0 },
                    ask_size: if lean { 100.0 } else { 900.0 },
                }
            };
            (0, event)
        })
        .collect();
    let mut feed = ScriptedFeed::new(script);
    feed.wall = OPEN_S as u64 * 1_000_000_000;
    let source = IbSource::new(feed, &tickers, 60_000, "scripted IB ticks".into());
    let pipeline = Engine::new(spec.topology, spec.config, spec.universe, Box::new(source))
        .start()
        .expect("pipeline starts");
    common::wait_for(&pipeline, MESSAGES * 3 / 10);
    let before = allocations();
    common::wait_for(&pipeline, MESSAGES * 7 / 10);
    let during = allocations() - before;
    // The script would end with the connection lost; stop before, as an operator does.
    pipeline.request_stop();
    let report = pipeline.join();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.shard.risk.orders_sent > 0, "the ticks must trade");
    assert_eq!(
        during, 0,
        "IB source: {during} heap allocations while ~400k messages flowed"
    );
    println!("no_alloc: IB source (scripted ticks): 0 allocations");
}
