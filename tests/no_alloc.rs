//! No heap allocation per event once the pipeline is warm (README, "What it guarantees"): every runner,
//! ring, book, order table and histogram is sized at start-up.

mod common;
mod onnx_common;

use std::sync::Arc;

use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::pipeline::Pipeline;
use tickpipe::stages::inference::builtin::BuiltIn;
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
        measure(topology, pipeline);
    }
    // The discrete PPO policy from an ONNX file, on the native engine; in this test, not
    // a second one, because the allocation counter counts every thread of the process.
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
}

/// Counts the allocations while the middle of the input flows; the run must trade.
fn measure(topology: &str, pipeline: Pipeline) {
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
