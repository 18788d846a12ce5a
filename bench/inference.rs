//! One inference of the bench graph (tests/fixtures/onnx/bench_mlp.onnx: 32 inputs,
//! 2×64 Tanh, 3 logits, as scripts/onnx_fixtures.py writes it) on the native engine and,
//! built with `--features tract`, on tract in the same sitting (criterion, one thread);
//! the native engine with the kernel it picks on this CPU and with the SSE2 baseline.
//! The inference stage's per-event cost with an ONNX model against the linear one is in
//! bench/stages.rs (`stage/inference*`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tickpipe::codec::onnx::{Limits, parse_model};
use tickpipe::stages::inference::onnx::NativeMlp;
use tickpipe::stages::inference::onnx::graph::chain;
use tickpipe::sys::simd::Kernel;

const MODEL: &str = "tests/fixtures/onnx/bench_mlp.onnx";
const WIDTH: usize = 32;

/// Rows to cycle through, so no branch predictor or cache learns one input.
fn rows() -> Vec<Vec<f32>> {
    (0..64)
        .map(|r| {
            (0..WIDTH)
                .map(|i| ((r * 31 + i * 7) % 17) as f32 / 8.0 - 1.0)
                .collect()
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let bytes = std::fs::read(MODEL).expect("run from the repository root");
    let graph = parse_model(&bytes, &Limits::DEFAULT)
        .expect("the fixture parses")
        .graph;
    let rows = rows();
    let mut g = c.benchmark_group("inference");
    let mlp = chain(&graph, "input", WIDTH, "logits").expect("an MLP");
    // The kernel the engine picks on this CPU (AVX2 where it has it), then the SSE2
    // baseline every x86-64 runs, which gives the same bits.
    for (name, kernel) in [
        ("native_2x64_tanh_32in_3out", Kernel::detect()),
        ("native_baseline_2x64_tanh_32in_3out", Kernel::BASELINE),
    ] {
        let mut native = NativeMlp::compile_for(&mlp, kernel);
        eprintln!("{name}: {} kernel", kernel.isa().name());
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % rows.len();
                black_box(native.run(black_box(&rows[i]))[0])
            })
        });
    }
    #[cfg(feature = "tract")]
    {
        use tickpipe::stages::inference::onnx::tract::TractEngine;
        let mut tract = TractEngine::new(&bytes, WIDTH, &["logits"], 0, 3).expect("tract runs it");
        let mut i = 0;
        g.bench_function("tract_2x64_tanh_32in_3out", |b| {
            b.iter(|| {
                i = (i + 1) % rows.len();
                black_box(tract.run(black_box(&rows[i])).expect("runs")[0])
            })
        });
    }
    g.finish();
}

criterion_group!(inference, benches);
criterion_main!(inference);
