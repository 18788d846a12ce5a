//! No heap allocation per event once the pipeline is warm (README, "What it guarantees"): every runner,
//! ring, book, order table and histogram is sized at start-up.

mod common;

use std::time::Duration;

use tickpipe::runtime::builder::Engine;
use tickpipe::sys::alloc_count::{CountingAllocator, allocations};

#[global_allocator]
static COUNTING: CountingAllocator = CountingAllocator;

const MESSAGES: u64 = 1_000_000;

/// One test, not one per case: the count is process-wide, so a second test would count
/// the first one's start-up, or, left waiting for it, the test harness's own "running for
/// over 60 seconds" notice.
///
/// With metrics on, every shard runner publishes its figures (counters, histograms,
/// rings) every millisecond, ten times faster than `run --metrics` does. Nothing scrapes
/// during the measured middle (a scrape allocates on its own thread, which this
/// allocator counts too); the publication count read on either side shows the runners
/// published in between.
#[test]
fn steady_state_allocates_nothing_in_any_thread() {
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
            if metrics.is_some() {
                assert!(
                    published_after > published_before,
                    "{topology}: every runner published in the measured middle ({published_before:?} → {published_after:?})"
                );
            }
            assert_eq!(
                during, 0,
                "{topology}, metrics {metrics:?}: {during} heap allocations while ~400k messages flowed"
            );
        }
    }
}
