//! ONNX model files: the protobuf reader on arbitrary bytes, then, for every graph it
//! accepts, the native engine's graph check on every output and, where it compiles, one
//! inference. None of it may panic; a compiled chain must return as many values as it
//! declares, and the same values, to the bit, from the baseline (SSE2) kernel as from
//! the one this CPU runs (AVX2 where it has it): a replay must decide the same on any
//! host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickpipe::codec::onnx::{Limits, parse_model};
use tickpipe::stages::inference::onnx::graph::{chain, row_width};
use tickpipe::stages::inference::onnx::{NativeMlp, real_inputs};
use tickpipe::sys::simd::Kernel;

/// Tighter than the loader's defaults, so one input stays well under a millisecond.
const LIMITS: Limits = Limits {
    bytes: 1 << 20,
    list: 1024,
    elements: 1 << 16,
    rank: 8,
};

fuzz_target!(|data: &[u8]| {
    let Ok(model) = parse_model(data, &LIMITS) else {
        return;
    };
    let g = &model.graph;
    let Some(input) = real_inputs(g).first().copied() else {
        return;
    };
    let Some(width) = input.shape.as_deref().and_then(row_width) else {
        return;
    };
    if width > 4096 {
        return;
    }
    let row = vec![0.5f32; width];
    for output in &g.outputs {
        if let Ok(c) = chain(g, &input.name, width, &output.name) {
            let mut mlp = NativeMlp::compile(&c);
            let isa = mlp.kernel().isa();
            let out = mlp.run(&row);
            assert_eq!(out.len(), c.n_out());
            let mut baseline = NativeMlp::compile_for(&c, Kernel::BASELINE);
            // NaN payloads may differ (Rust leaves them unspecified); no decision reads one.
            for (i, (a, b)) in out.iter().zip(baseline.run(&row)).enumerate() {
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "output {i}: {a:?} with {isa:?}, {b:?} with the baseline kernel"
                );
            }
        }
    }
});
