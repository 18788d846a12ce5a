#![allow(dead_code)] // each test binary uses a subset of these helpers
//! Helpers shared by the ONNX tests (each includes this by `mod`).

use std::path::Path;

use tickpipe::runtime::config::Config;
use tickpipe::stages::inference::ModelConfig;
use tickpipe::universe::Universe;

pub const FIXTURES: &str = "tests/fixtures/onnx";

/// `[model]` running the discrete PPO fixture on every feature, unnormalised but for
/// the spread, with `engine`.
pub fn ppo_model(engine: &str) -> String {
    format!(
        r#"
kind = "onnx"
enter_threshold = 0.5
exit_threshold = 0.5
target_qty = 100

[onnx]
path = "{FIXTURES}/ppo_discrete.onnx"
engine = "{engine}"
input = "input"
features = [
    {{ feature = "microprice_bps", mean = 0.0, std = 1.0 }},
    {{ feature = "spread_bps", mean = 2.0, std = 1.5 }},
    {{ feature = "imbalance", mean = 0.0, std = 0.5 }},
    {{ feature = "volatility_bps", mean = 0.0, std = 1.0 }},
    {{ feature = "trade_flow", mean = 0.0, std = 0.5 }},
]
output = {{ name = "actions", kind = "discrete", actions = ["short", "flat", "long"] }}
"#
    )
}

/// The bundled config with `model` (a `[model]` table's body) in place of its model.
pub fn config_with_model(model: &str) -> (Config, Universe) {
    let (mut config, universe) =
        Config::load(Path::new("config/tickpipe.toml")).expect("bundled config is valid");
    config.model = toml::from_str::<ModelConfig>(model).expect("the model table parses");
    let universe_checked = config.validate().expect("the ONNX model config is valid");
    assert_eq!(universe_checked.len(), universe.len());
    (config, universe)
}

/// Little-endian f32 rows.
pub fn read_rows(path: &str, width: usize) -> Vec<Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .chunks_exact(4 * width)
        .map(|r| {
            r.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
        .collect()
}

/// One output as onnxruntime computed it.
pub struct OrtOutput {
    pub name: String,
    pub int64: bool,
    /// One value list per input row.
    pub rows: Vec<Vec<f64>>,
}

/// onnxruntime's answers: the input width, and every output.
pub fn ort_fixture(name: &str) -> (usize, Vec<OrtOutput>) {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}.ort.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let width = v["width"].as_u64().unwrap() as usize;
    let outputs = v["outputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, o)| {
            let rows = o["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap())
                        .collect()
                })
                .collect();
            OrtOutput {
                name: k.clone(),
                int64: o["dtype"] == "int64",
                rows,
            }
        })
        .collect();
    (width, outputs)
}

pub const MODELS: [&str; 4] = ["ppo_discrete", "ppo_continuous", "relu_mlp", "bench_mlp"];
