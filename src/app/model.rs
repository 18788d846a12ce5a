//! `tickpipe model eval`: runs an ONNX model on raw observations and prints every
//! output, so a user can check an exported policy before trading it.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::codec::onnx::INT64;
use crate::stages::inference::onnx::graph::{self, row_width};
use crate::stages::inference::onnx::{EngineKind, LoadError, NativeMlp, read, real_inputs};

/// Every output of every row.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub engine: EngineKind,
    /// Why this engine.
    pub why: String,
    /// Per output: name, whether it is int64, and one value list per row.
    pub outputs: Vec<(String, bool, Vec<Vec<f32>>)>,
    /// Outputs the engine could not compute, with why (native: not an MLP chain).
    pub skipped: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{path}: cannot read")]
    Input {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {len} bytes is not a whole number of rows of {width} f32 ({} bytes each)", width * 4)]
    Ragged {
        path: PathBuf,
        len: usize,
        width: usize,
    },
    #[error("{0}")]
    Graph(String),
    #[error(
        "--engine tract: this build has no `tract` feature (cargo build --release --features tract)"
    )]
    NoTract,
}

/// Evaluates `model` on the rows of `input` (little-endian f32, one row per model input
/// width) with `engine`, or without one: native when every output is an MLP chain,
/// else tract when built in, else native on the outputs it can compute.
pub fn eval(
    model: &Path,
    input: &Path,
    engine: Option<EngineKind>,
) -> Result<Evaluation, EvalError> {
    let file = read(model)?;
    let g = &file.graph;
    let inputs = real_inputs(g);
    let [only] = inputs.as_slice() else {
        return Err(EvalError::Graph(format!(
            "the graph has {} inputs; eval feeds one row",
            inputs.len()
        )));
    };
    let width = only.shape.as_deref().and_then(row_width).ok_or_else(|| {
        EvalError::Graph(format!(
            "input {:?} has shape {}; expected [1, N]",
            only.name,
            crate::stages::inference::onnx::shape_text(only.shape.as_deref())
        ))
    })?;
    let bytes = std::fs::read(input).map_err(|source| EvalError::Input {
        path: input.to_path_buf(),
        source,
    })?;
    if width == 0 || bytes.len() % (4 * width) != 0 {
        return Err(EvalError::Ragged {
            path: input.to_path_buf(),
            len: bytes.len(),
            width,
        });
    }
    let rows: Vec<Vec<f32>> = bytes
        .chunks_exact(4 * width)
        .map(|r| {
            r.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
        .collect();
    let chains: Vec<(String, bool, Result<graph::Chain, graph::NotMlp>)> = g
        .outputs
        .iter()
        .map(|o| {
            (
                o.name.clone(),
                o.elem_type == Some(INT64),
                graph::chain(g, &only.name, width, &o.name),
            )
        })
        .collect();
    let all_mlp = chains.iter().all(|(_, _, c)| c.is_ok());
    let (engine, why) = match engine {
        Some(e) => (e, format!("--engine {}", e.name())),
        None if all_mlp => (
            EngineKind::Native,
            "every output is an MLP chain".to_string(),
        ),
        None if cfg!(feature = "tract") => (
            EngineKind::Tract,
            "not every output is an MLP chain".to_string(),
        ),
        None => (
            EngineKind::Native,
            "not every output is an MLP chain, and this build has no `tract` feature".to_string(),
        ),
    };
    match engine {
        EngineKind::Native => {
            let mut outputs = Vec::new();
            let mut skipped = Vec::new();
            for (name, int, chain) in chains {
                match chain {
                    Ok(chain) => {
                        let mut mlp = NativeMlp::compile(&chain);
                        let values = rows.iter().map(|r| mlp.run(r).to_vec()).collect();
                        outputs.push((name, int, values));
                    }
                    Err(e) => skipped.push((name, e.why)),
                }
            }
            Ok(Evaluation {
                engine,
                why,
                outputs,
                skipped,
            })
        }
        EngineKind::Tract => tract_eval(&file.bytes, width, &chains, &rows, why),
    }
}

#[cfg(feature = "tract")]
fn tract_eval(
    bytes: &[u8],
    width: usize,
    chains: &[(String, bool, Result<graph::Chain, graph::NotMlp>)],
    rows: &[Vec<f32>],
    why: String,
) -> Result<Evaluation, EvalError> {
    use crate::stages::inference::onnx::tract::TractEngine;
    let names: Vec<&str> = chains.iter().map(|(n, _, _)| n.as_str()).collect();
    let engine = TractEngine::new(bytes, width, &names, 0, 0).map_err(EvalError::Graph)?;
    let mut outputs: Vec<(String, bool, Vec<Vec<f32>>)> = chains
        .iter()
        .map(|(n, int, _)| (n.clone(), *int, Vec::new()))
        .collect();
    for row in rows {
        let values = engine.run_all(row).map_err(EvalError::Graph)?;
        for (o, v) in outputs.iter_mut().zip(values) {
            o.2.push(v);
        }
    }
    Ok(Evaluation {
        engine: EngineKind::Tract,
        why,
        outputs,
        skipped: Vec::new(),
    })
}

#[cfg(not(feature = "tract"))]
fn tract_eval(
    _: &[u8],
    _: usize,
    _: &[(String, bool, Result<graph::Chain, graph::NotMlp>)],
    _: &[Vec<f32>],
    _: String,
) -> Result<Evaluation, EvalError> {
    Err(EvalError::NoTract)
}

fn number(v: f32, int: bool) -> Value {
    if int { json!(v as i64) } else { json!(v) }
}

impl Evaluation {
    /// `{"engine": …, "why": …, "outputs": {name: [[…], …]}, "skipped": {name: why}}`.
    pub fn to_json(&self) -> Value {
        let outputs: Map<String, Value> = self
            .outputs
            .iter()
            .map(|(name, int, rows)| {
                let rows = rows
                    .iter()
                    .map(|r| Value::Array(r.iter().map(|&v| number(v, *int)).collect()))
                    .collect();
                (name.clone(), Value::Array(rows))
            })
            .collect();
        let skipped: Map<String, Value> = self
            .skipped
            .iter()
            .map(|(n, why)| (n.clone(), json!(why)))
            .collect();
        json!({
            "engine": self.engine.name(),
            "why": self.why,
            "outputs": outputs,
            "skipped": skipped,
        })
    }

    pub fn to_text(&self) -> String {
        let mut s = format!("engine: {} ({})\n", self.engine.name(), self.why);
        let rows = self.outputs.first().map_or(0, |o| o.2.len());
        for r in 0..rows {
            s.push_str(&format!("row {r}\n"));
            for (name, int, values) in &self.outputs {
                let v: Vec<String> = values[r]
                    .iter()
                    .map(|&v| {
                        if *int {
                            (v as i64).to_string()
                        } else {
                            v.to_string()
                        }
                    })
                    .collect();
                s.push_str(&format!("  {name}: [{}]\n", v.join(", ")));
            }
        }
        for (name, why) in &self.skipped {
            s.push_str(&format!(
                "not computed by the native engine: {name}: {why}\n"
            ));
        }
        s
    }
}
