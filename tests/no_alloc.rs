//! No heap allocation per event once the pipeline is warm (README, "What it guarantees"): every runner,
//! ring, book, order table and histogram is sized at start-up.

mod common;

use tickpipe::runtime::pipeline::Pipeline;
use tickpipe::sys::alloc_count::{CountingAllocator, allocations};

#[global_allocator]
static COUNTING: CountingAllocator = CountingAllocator;

const MESSAGES: u64 = 1_000_000;

/// The count is process-wide: the tests here take turns, or each counts the other's
/// start-up.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn steady_state_allocates_nothing_in_any_thread() {
    let _turn = one_at_a_time();
    for topology in [
        "pipelines/fused.toml",
        "pipelines/staged.toml",
        "pipelines/fused-inline.toml",
    ] {
        let pipeline =
            Pipeline::start(common::spec(topology, 2, MESSAGES)).expect("pipeline starts");
        // The source runs at most a ring (16 Ki frames) ahead of the shards, so between
        // 30% and 70% of the input every runner is mid-stream.
        common::wait_for(&pipeline, MESSAGES * 3 / 10);
        let before = allocations();
        common::wait_for(&pipeline, MESSAGES * 7 / 10);
        let during = allocations() - before;
        let report = pipeline.join();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert!(
            report.shard.risk.orders_sent > 0,
            "the session must trade (orders are sent throughout it, so the measured middle too)"
        );
        assert_eq!(
            during, 0,
            "{topology}: {during} heap allocations while ~400k messages flowed"
        );
    }
}

/// With metrics on, every shard runner publishes its figures (counters, histograms,
/// rings) every millisecond, ten times faster than `run --metrics` does: still no
/// allocation. Nothing scrapes during the measured middle (a scrape allocates on its own
/// thread, which this allocator would count too); the publication count read on either
/// side shows the runners published in between.
#[test]
fn steady_state_with_metrics_publication_allocates_nothing() {
    use std::time::Duration;
    use tickpipe::runtime::builder::Engine;

    let _turn = one_at_a_time();

    for topology in [
        "pipelines/fused.toml",
        "pipelines/staged.toml",
        "pipelines/fused-inline.toml",
    ] {
        let spec = common::spec(topology, 2, MESSAGES);
        let source = spec.input.source(spec.pacing).expect("the sample opens");
        let pipeline = Engine::new(spec.topology, spec.config, spec.universe, source)
            .metrics(Duration::from_millis(1))
            .start()
            .expect("pipeline starts");
        let metrics = pipeline.metrics().expect("metrics were asked for").clone();
        common::wait_for(&pipeline, MESSAGES * 3 / 10);
        let published_before = metrics.snapshot().publications;
        let before = allocations();
        common::wait_for(&pipeline, MESSAGES * 7 / 10);
        let during = allocations() - before;
        let published_after = metrics.snapshot().publications;
        let report = pipeline.join();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert!(
            published_after > published_before,
            "{topology}: every runner published in the measured middle ({published_before} → {published_after})"
        );
        assert_eq!(
            during, 0,
            "{topology}: {during} heap allocations while ~400k messages flowed with publication on"
        );
    }
}
