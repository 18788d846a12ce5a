//! ONNX models: the native engine against onnxruntime's recorded answers
//! (`scripts/onnx_fixtures.py`), its AVX2 and SSE2 kernels giving the same bits, tract
//! against both (feature `tract`), loading errors that name the key, the tensor and the
//! shapes, and a policy trading through the pipeline with the same decisions in every
//! topology.

mod onnx_common;

use std::path::Path;
use std::sync::Arc;

use onnx_common::{FIXTURES, MODELS, config_with_model, ort_fixture, ppo_model, read_rows};
use tickpipe::codec::onnx::{Limits, parse_model};
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::topology::Topology;
use tickpipe::source::replay::{Input, Pacing};
use tickpipe::stages::inference::builtin::BuiltIn;
use tickpipe::stages::inference::onnx::graph::chain;
use tickpipe::stages::inference::onnx::{EngineKind, LoadError, NativeMlp, load};
use tickpipe::sys::simd::Kernel;
use tickpipe::tools::sample::SampleSpec;

/// The bound: the same answer as the reference runtime, to 1e-5 per output.
const TOLERANCE: f64 = 1e-5;

fn graph(name: &str) -> tickpipe::codec::onnx::GraphProto {
    let bytes = std::fs::read(format!("{FIXTURES}/{name}.onnx")).unwrap();
    parse_model(&bytes, &Limits::DEFAULT).unwrap().graph
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn max_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn native_matches_onnxruntime_on_every_mlp_output() {
    let mut compared = Vec::new();
    for name in MODELS {
        let g = graph(name);
        let (width, outputs) = ort_fixture(name);
        let rows = read_rows(&format!("{FIXTURES}/{name}.inputs.f32"), width);
        for onnx_common::OrtOutput {
            name: output,
            int64: int,
            rows: expected,
        } in outputs
        {
            let Ok(c) = chain(&g, "input", width, &output) else {
                assert_eq!(
                    output, "log_prob",
                    "{name}: only log_prob is not an MLP chain"
                );
                continue;
            };
            let mut wide = NativeMlp::compile(&c);
            let mut baseline = NativeMlp::compile_for(&c, Kernel::BASELINE);
            for (row, want) in rows.iter().zip(&expected) {
                let got = wide.run(row);
                if int {
                    assert_eq!(f64::from(got[0]), want[0], "{name}/{output}: action index");
                } else {
                    let d = max_diff(got, want);
                    assert!(d <= TOLERANCE, "{name}/{output}: max abs diff {d:e}");
                }
                // The SSE2 kernel gives the same bits, so it matches onnxruntime too.
                assert_eq!(
                    bits(got),
                    bits(baseline.run(row)),
                    "{name}/{output}: {:?} against the baseline kernel",
                    wide.kernel().isa()
                );
            }
            compared.push(format!("{name}/{output}"));
        }
    }
    assert_eq!(
        compared,
        [
            "ppo_discrete/actions",
            "ppo_discrete/values",
            "ppo_continuous/actions",
            "ppo_continuous/values",
            "relu_mlp/log_probs",
            "relu_mlp/probs",
            "bench_mlp/logits"
        ]
    );
}

#[cfg(feature = "tract")]
#[test]
fn tract_matches_onnxruntime_on_every_output_and_native_on_random_rows() {
    use rand::{Rng, SeedableRng};
    use tickpipe::stages::inference::onnx::tract::TractEngine;

    for name in MODELS {
        let bytes = std::fs::read(format!("{FIXTURES}/{name}.onnx")).unwrap();
        let g = parse_model(&bytes, &Limits::DEFAULT).unwrap().graph;
        let (width, outputs) = ort_fixture(name);
        let names: Vec<&str> = g.outputs.iter().map(|o| o.name.as_str()).collect();
        let tract = TractEngine::new(&bytes, width, &names, 0, 0).unwrap();
        let rows = read_rows(&format!("{FIXTURES}/{name}.inputs.f32"), width);
        for (r, row) in rows.iter().enumerate() {
            let got = tract.run_all(row).unwrap();
            for o in &outputs {
                let output = &o.name;
                let i = names.iter().position(|n| n == output).unwrap();
                let d = max_diff(&got[i], &o.rows[r]);
                assert!(
                    d <= TOLERANCE,
                    "{name}/{output} row {r}: tract vs onnxruntime {d:e}"
                );
            }
        }
        // Native against tract on random rows, every output native computes.
        let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
        let random: Vec<Vec<f32>> = (0..500)
            .map(|_| (0..width).map(|_| rng.gen_range(-4.0f32..4.0)).collect())
            .collect();
        for (i, output) in names.iter().enumerate() {
            let Ok(c) = chain(&g, "input", width, output) else {
                continue;
            };
            for kernel in [Kernel::BASELINE, Kernel::detect()] {
                let mut mlp = NativeMlp::compile_for(&c, kernel);
                for row in &random {
                    let want: Vec<f64> = tract.run_all(row).unwrap()[i]
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect();
                    let d = max_diff(mlp.run(row), &want);
                    assert!(
                        d <= TOLERANCE,
                        "{name}/{output}: native ({:?}) vs tract {d:e}",
                        kernel.isa()
                    );
                }
            }
        }
    }
}

fn load_error(model: &str) -> String {
    let config: tickpipe::stages::inference::ModelConfig = toml::from_str(model).unwrap();
    match load(config.onnx.as_ref().unwrap()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("loaded"),
    }
}

#[test]
fn loading_names_the_key_the_tensor_and_both_shapes() {
    let three = ppo_model("auto").replace(
        "    { feature = \"volatility_bps\", mean = 0.0, std = 1.0 },\n    { feature = \"trade_flow\", mean = 0.0, std = 0.5 },\n",
        "",
    );
    assert_eq!(
        load_error(&three),
        "tests/fixtures/onnx/ppo_discrete.onnx: the model does not fit [model.onnx]:\n  \
         model.onnx.features: tensor \"input\" has shape [1, 5], expected [1, 3] (3 features mapped)"
    );
    let wrong_names = ppo_model("auto")
        .replace("input = \"input\"", "input = \"obs\"")
        .replace("name = \"actions\"", "name = \"action\"");
    assert_eq!(
        load_error(&wrong_names),
        "tests/fixtures/onnx/ppo_discrete.onnx: the model does not fit [model.onnx]:\n  \
         model.onnx.input: \"obs\" is not the graph's input; it is \"input\"\n  \
         model.onnx.output.name: \"action\" is not a graph output; they are [\"actions\", \"values\", \"log_prob\"]"
    );
    let continuous_on_an_index = ppo_model("auto").replace(
        "kind = \"discrete\", actions = [\"short\", \"flat\", \"long\"]",
        "kind = \"continuous\", scale = 1.0, clip = 1.0",
    );
    assert!(
        load_error(&continuous_on_an_index)
            .ends_with("model.onnx.output.name: tensor \"actions\" is int64, expected float32")
    );
    let two_actions =
        ppo_model("auto").replace("\"short\", \"flat\", \"long\"", "\"short\", \"long\"");
    assert!(load_error(&two_actions).ends_with(
        "model.onnx.output.actions: 2 actions mapped; tensor \"actions\" is the ArgMax of 3 values"
    ));
    let log_prob_native = ppo_model("native").replace(
        "name = \"actions\", kind = \"discrete\", actions = [\"short\", \"flat\", \"long\"]",
        "name = \"log_prob\", kind = \"score\"",
    );
    let e = load_error(&log_prob_native);
    assert!(
        e.contains(
            "model.onnx.engine: \"native\" cannot run this graph: output \"log_prob\": node"
        ),
        "{e}"
    );
    let missing = ppo_model("auto").replace("ppo_discrete.onnx", "nothing.onnx");
    assert_eq!(
        load_error(&missing),
        "model.onnx.path: tests/fixtures/onnx/nothing.onnx: cannot read"
    );
}

#[cfg(not(feature = "tract"))]
#[test]
fn tract_without_the_feature_is_an_error_naming_it_not_a_fallback() {
    let e = load_error(&ppo_model("tract"));
    assert!(
        e.contains(
            "model.onnx.engine: the tract engine is needed (engine = \"tract\"), and this \
             build has no `tract` feature"
        ),
        "{e}"
    );
    let auto_on_log_prob = ppo_model("auto").replace(
        "name = \"actions\", kind = \"discrete\", actions = [\"short\", \"flat\", \"long\"]",
        "name = \"log_prob\", kind = \"score\"",
    );
    let e = load_error(&auto_on_log_prob);
    assert!(e.contains("(engine = \"auto\": not an MLP"), "{e}");
    assert!(e.contains("`tract` feature"), "{e}");
}

#[test]
fn auto_picks_native_for_an_mlp_and_says_why() {
    let config: tickpipe::stages::inference::ModelConfig =
        toml::from_str(&ppo_model("auto")).unwrap();
    let (_, selection) = BuiltIn::load(&config).unwrap();
    let selection = selection.unwrap();
    assert_eq!(selection.engine, EngineKind::Native);
    assert_eq!(
        selection.why,
        "engine = \"auto\": the graph behind \"actions\" is an MLP"
    );
    // A file that is not protobuf (Cargo.toml) is a parse error naming the key.
    let text: tickpipe::stages::inference::onnx::OnnxConfig = toml::from_str(
        "path = \"Cargo.toml\"\nengine = \"auto\"\ninput = \"x\"\nfeatures = []\n\
         output = { name = \"y\", kind = \"score\" }",
    )
    .unwrap();
    let e = load(&text).err().unwrap();
    assert!(matches!(e, LoadError::Parse { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("model.onnx.path: Cargo.toml: not a readable ONNX file")
    );
}

fn run(topology: &str, shards: usize) -> tickpipe::runtime::report::RunReport {
    let (config, universe) = config_with_model(&ppo_model("auto"));
    let (model, _) = BuiltIn::load(&config.model).unwrap();
    let cores: Vec<usize> = (0..64).collect();
    let topology = Topology::load(Path::new(topology), Some(shards), &universe, &cores).unwrap();
    let source = Input::Sample(SampleSpec {
        messages: 150_000,
        ..SampleSpec::default_session()
    })
    .source(Pacing::AsFastAsPossible)
    .unwrap();
    let report = Engine::new(topology, config, Arc::new(universe), source)
        .model(move |_| model.clone())
        .run()
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    report
}

#[test]
fn an_onnx_policy_trades_and_decides_the_same_in_every_topology() {
    let base = run("pipelines/fused.toml", 1);
    assert!(base.shard.risk.orders_sent > 0, "the policy must trade");
    for (topology, shards) in [
        ("pipelines/staged.toml", 2),
        ("pipelines/fused-inline.toml", 2),
    ] {
        assert_eq!(
            run(topology, shards).digest(),
            base.digest(),
            "{topology} x{shards}"
        );
    }
}

/// A model slower than the feed backs market data up into the feed ring, and the report
/// says so in the ring's `full` count (the README's "Models" section says what to watch;
/// the latency it adds is not asserted: timings are not tested).
#[test]
fn a_slow_model_shows_in_the_report() {
    struct Slow;
    impl tickpipe::stages::inference::Model for Slow {
        const KIND: &'static str = "linear";
        fn score(&mut self, _: &tickpipe::msg::Features) -> Option<f32> {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_micros(50) {}
            None
        }
    }
    let (config, universe) =
        tickpipe::runtime::config::Config::load(Path::new("config/tickpipe.toml")).unwrap();
    let cores: Vec<usize> = (0..64).collect();
    let topology = Topology::load(
        Path::new("pipelines/fused.toml"),
        Some(1),
        &universe,
        &cores,
    )
    .unwrap();
    let source = Input::Sample(SampleSpec {
        messages: 60_000,
        ..SampleSpec::default_session()
    })
    .source(Pacing::AsFastAsPossible)
    .unwrap();
    let report = Engine::new(topology, config, Arc::new(universe), source)
        .model(|_| Slow)
        .run()
        .unwrap();
    let feed = report
        .edges
        .iter()
        .find(|e| e.name.ends_with("/feed"))
        .expect("a feed ring");
    assert!(feed.full > 0, "the feed ring filled: {feed:?}");
}
