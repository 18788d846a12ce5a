//! What an ONNX inference allocates, counted: the native kernel nothing, tract (feature
//! `tract`) something on every call. The run report states the same (`model.cost`), so
//! a tract run is never taken for allocation-free. One test: the counter is
//! process-wide, and a second test running beside it would count into it.

mod onnx_common;

use onnx_common::{FIXTURES, read_rows};
use tickpipe::codec::onnx::{Limits, parse_model};
use tickpipe::stages::inference::onnx::NativeMlp;
use tickpipe::stages::inference::onnx::graph::chain;
use tickpipe::sys::alloc_count::{CountingAllocator, allocations};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn native_inference_allocates_nothing_and_tract_allocates_on_every_call() {
    let bytes = std::fs::read(format!("{FIXTURES}/bench_mlp.onnx")).unwrap();
    let graph = parse_model(&bytes, &Limits::DEFAULT).unwrap().graph;
    let rows = read_rows(&format!("{FIXTURES}/bench_mlp.inputs.f32"), 32);
    assert!(rows.len() >= 8, "{} rows", rows.len());
    let mut native = NativeMlp::compile(&chain(&graph, "input", 32, "logits").unwrap());
    native.run(&rows[0]);
    let before = allocations();
    for row in &rows {
        std::hint::black_box(native.run(row));
    }
    assert_eq!(allocations() - before, 0, "native, {} rows", rows.len());

    #[cfg(feature = "tract")]
    {
        use tickpipe::stages::inference::onnx::tract::TractEngine;
        let mut tract = TractEngine::new(&bytes, 32, &["logits"], 0, 3).unwrap();
        tract.run(&rows[0]).unwrap();
        for row in &rows {
            let before = allocations();
            std::hint::black_box(tract.run(row).unwrap());
            let per_call = allocations() - before;
            assert!(per_call > 0, "tract allocated nothing on a call");
            eprintln!("tract: {per_call} allocations in one inference");
        }
    }
}
