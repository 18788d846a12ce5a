//! No heap allocation per event once the pipeline is warm (README, "What it guarantees"): every runner,
//! ring, book, order table and histogram is sized at start-up.

mod common;

use tickpipe::runtime::pipeline::Pipeline;
use tickpipe::sys::alloc_count::{CountingAllocator, allocations};

#[global_allocator]
static COUNTING: CountingAllocator = CountingAllocator;

const MESSAGES: u64 = 1_000_000;

#[test]
fn steady_state_allocates_nothing_in_any_thread() {
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
