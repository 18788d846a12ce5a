//! `tickpipe model eval` against onnxruntime's recorded answers, and `tickpipe
//! export-features` against the run it exports.

mod onnx_common;

use std::path::PathBuf;
use std::process::{Command, Output};

use onnx_common::{FIXTURES, ort_fixture};

fn tickpipe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickpipe-onnx-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn model_eval_prints_every_output_as_onnxruntime_does() {
    let model = format!("{FIXTURES}/ppo_discrete.onnx");
    let input = format!("{FIXTURES}/ppo_discrete.inputs.f32");
    let o = tickpipe(&[
        "model", "eval", &model, "--input", &input, "--engine", "native", "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["engine"], "native");
    assert_eq!(v["why"], "--engine native");
    assert!(
        v["skipped"]["log_prob"]
            .as_str()
            .unwrap()
            .contains("computed inputs"),
        "log_prob is not an MLP chain: {}",
        v["skipped"]
    );
    let (_, outputs) = ort_fixture("ppo_discrete");
    for o in outputs.iter().filter(|o| o.name != "log_prob") {
        let (name, int, rows) = (&o.name, &o.int64, &o.rows);
        let got = v["outputs"][name].as_array().unwrap();
        assert_eq!(got.len(), rows.len(), "{name}: one list per row");
        for (g, want) in got.iter().zip(rows) {
            let g: Vec<f64> = g
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            if *int {
                assert_eq!(&g, want, "{name}: indices print as integers");
            }
            for (a, b) in g.iter().zip(want) {
                assert!((a - b).abs() <= 1e-5, "{name}: {a} vs {b}");
            }
        }
    }
    let text = tickpipe(&[
        "model", "eval", &model, "--input", &input, "--engine", "native",
    ]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with(
            "engine: native (--engine native)\nrow 0\n  actions: [0]\n  values: [-0.43443"
        ),
        "{text}"
    );
}

#[test]
fn model_eval_refuses_a_ragged_input_and_names_it() {
    let dir = temp_dir("ragged");
    let input = dir.join("rows.f32");
    std::fs::write(&input, [0u8; 24]).unwrap();
    let model = format!("{FIXTURES}/ppo_discrete.onnx");
    let o = tickpipe(&["model", "eval", &model, "--input", input.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("24 bytes is not a whole number of rows of 5 f32 (20 bytes each)"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(not(feature = "tract"))]
#[test]
fn model_eval_with_tract_needs_the_feature() {
    let model = format!("{FIXTURES}/relu_mlp.onnx");
    let input = format!("{FIXTURES}/relu_mlp.inputs.f32");
    let o = tickpipe(&[
        "model", "eval", &model, "--input", &input, "--engine", "tract",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8(o.stderr)
            .unwrap()
            .contains("no `tract` feature")
    );
}

#[test]
fn export_features_labels_every_view_and_carries_the_runs_digest() {
    let dir = temp_dir("export");
    let itch = dir.join("day.itch");
    let csv = dir.join("features.csv");
    let report = dir.join("report.json");
    let itch_s = itch.to_str().unwrap();
    assert!(
        tickpipe(&["generate", "--messages", "40000", "--out", itch_s])
            .status
            .success()
    );
    let o = tickpipe(&[
        "export-features",
        "--input",
        itch_s,
        "--out",
        csv.to_str().unwrap(),
        "--horizon-ms",
        "100",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ran = tickpipe(&[
        "run",
        "--quiet",
        "--input",
        itch_s,
        "--report-json",
        report.to_str().unwrap(),
    ]);
    assert!(ran.status.success());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();

    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "symbol,ts_event_ns,microprice_bps,spread_bps,imbalance,volatility_bps,trade_flow,mid,mid_later"
    );
    assert_eq!(
        *lines.last().unwrap(),
        format!("# digest {}", report["digest"].as_str().unwrap())
    );
    let rows = &lines[1..lines.len() - 1];
    assert!(rows.len() > 1000, "{} rows", rows.len());
    let labelled = rows
        .iter()
        .filter(|r| {
            let cols: Vec<&str> = r.split(',').collect();
            assert_eq!(cols.len(), 9, "{r}");
            !cols[8].is_empty()
        })
        .count();
    assert!(
        labelled * 10 > rows.len() * 9,
        "most rows have a label: {labelled}/{}",
        rows.len()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `run` with an ONNX model states what one inference costs the decision thread, in the
/// text report and the JSON one: the native kernel allocation-free, tract (in a build
/// with the feature) allocating on every call.
#[test]
fn run_states_the_models_cost_per_inference_and_whether_it_allocates() {
    let dir = temp_dir("cost");
    let itch = dir.join("day.itch");
    let itch_s = itch.to_str().unwrap();
    assert!(
        tickpipe(&["generate", "--messages", "20000", "--out", itch_s])
            .status
            .success()
    );
    let bundled = std::fs::read_to_string("config/tickpipe.toml").unwrap();
    let (before, rest) = bundled.split_once("[model]\n").unwrap();
    let after = &rest[rest.find("\n[risk]\n").unwrap()..];
    let mut engines = vec![("native", false)];
    if cfg!(feature = "tract") {
        engines.push(("tract", true));
    }
    for (engine, allocates) in engines {
        let model = onnx_common::ppo_model(engine).replace("[onnx]", "[model.onnx]");
        let config = dir.join(format!("{engine}.toml"));
        std::fs::write(&config, format!("{before}[model]{model}{after}")).unwrap();
        let json = dir.join(format!("{engine}.json"));
        let o = tickpipe(&[
            "run",
            "--quiet",
            "--input",
            itch_s,
            "--config",
            config.to_str().unwrap(),
            "--report-json",
            json.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8(o.stdout).unwrap();
        assert!(o.status.success(), "{engine}: {stdout}");
        let line = stdout
            .lines()
            .find(|l| l.starts_with("model cost   "))
            .unwrap_or_else(|| panic!("{engine}: no cost line in\n{stdout}"));
        let said = if allocates {
            "per inference (measured at load), on the decision thread, allocating on every call"
        } else {
            "per inference (measured at load), "
        };
        assert!(line.contains(said), "{engine}: {line}");
        assert_eq!(
            line.ends_with(" kernel, allocation-free"),
            !allocates,
            "{line}"
        );
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let cost = &report["model"]["cost"];
        assert_eq!(report["model"]["engine"], engine);
        assert_eq!(cost["allocates"], allocates, "{cost}");
        assert!(cost["ns_per_inference"].is_u64(), "{cost}");
        if allocates {
            assert!(cost["kernel"].is_null(), "{cost}");
        } else {
            let kernel = cost["kernel"].as_str().unwrap();
            assert!(["avx2", "baseline"].contains(&kernel), "{cost}");
            assert!(line.contains(&format!(", {kernel} kernel")), "{line}");
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}
