//! `[model] kind = "onnx"`: a trained policy from an ONNX file, run by one of two
//! engines behind [`Engine`]:
//! - native ([`native`]): the graph behind the mapped output is an MLP ([`graph`]),
//!   compiled at load into an allocation-free kernel;
//! - tract (`tract.rs`, cargo feature `tract`): any graph tract-onnx runs.
//!
//! [`load`] reads the file with the codec's own protobuf reader, checks the mapping
//! against the graph (each problem with its key, the tensor, and the expected and found
//! shapes), picks the engine (`engine = "auto"` takes native whenever the graph
//! qualifies), says why, and times a few inferences so the run can state what the model
//! costs the decision thread ([`Selection`], [`Cost`]).

pub mod config;
pub mod graph;
pub mod native;
#[cfg(feature = "tract")]
pub mod tract;

use std::fmt;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::codec::onnx::{
    Dim, FLOAT, GraphProto, INT64, Limits, OnnxError, ValueInfo, parse_model,
};
use crate::config::{Problem, Problems};
use crate::msg::Features;
use crate::sys::simd::Isa;

use super::Model;
pub use config::{Action, EngineChoice, Feature, InputFeature, OnnxConfig, OutputMapping};
pub use native::NativeMlp;

/// Runs the graph on one normalised input row and returns the mapped output's values.
pub trait Engine: Send + 'static {
    /// `None`: the engine could not evaluate this row (tract reported an error).
    fn run(&mut self, row: &[f32]) -> Option<&[f32]>;
}

impl Engine for NativeMlp {
    #[inline]
    fn run(&mut self, row: &[f32]) -> Option<&[f32]> {
        Some(NativeMlp::run(self, row))
    }
}

#[cfg(feature = "tract")]
impl Engine for tract::TractEngine {
    fn run(&mut self, row: &[f32]) -> Option<&[f32]> {
        tract::TractEngine::run(self, row)
    }
}

/// Which engine runs a model.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Native,
    Tract,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Native => "native",
            EngineKind::Tract => "tract",
        }
    }
}

/// The engine that runs, why it was chosen, and what it costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub engine: EngineKind,
    pub why: String,
    pub cost: Cost,
}

/// What one inference costs the decision thread, measured when the model loaded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Cost {
    /// The native kernel's instruction set; `None` for tract.
    pub kernel: Option<Isa>,
    /// The median of [`BATCHES`] timed batches of [`BATCH`] inferences of one row, after
    /// one untimed batch: a load-time estimate on this host, not a benchmark.
    pub ns_per_inference: u64,
}

impl Cost {
    /// tract builds its tensors on every call; the native kernel never allocates
    /// (tests/onnx_alloc.rs counts both).
    pub fn allocates(&self) -> bool {
        self.kernel.is_none()
    }
}

/// 10 × 32 inferences at load: 0.2 s for tract even in a debug build (662 µs each,
/// measured), and batches long enough (32 × 244 ns native with AVX2) that reading the
/// clock (26 ns for `Instant`, BENCHMARKS.md, "Clock") does not count.
const BATCHES: usize = 9;
const BATCH: u32 = 32;

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.ns_per_inference;
        let time = if ns >= 10_000 {
            format!("{:.1} µs", ns as f64 / 1000.0)
        } else {
            format!("{ns} ns")
        };
        match self.kernel {
            Some(isa) => write!(
                f,
                "{time} per inference (measured at load), {} kernel, allocation-free",
                isa.name()
            ),
            None => write!(
                f,
                "{time} per inference (measured at load), on the decision thread, \
                 allocating on every call; a model slower than the feed backs market data \
                 up into the feed ring (its `full` count)"
            ),
        }
    }
}

/// Times `engine` on a row of zeros (see [`Cost::ns_per_inference`]).
fn time_inference<E: Engine>(engine: &mut E, n_in: usize) -> u64 {
    let row = vec![0.0f32; n_in];
    let mut batch = || {
        let start = Instant::now();
        for _ in 0..BATCH {
            black_box(engine.run(black_box(&row)));
        }
        start.elapsed()
    };
    batch();
    let mut times: [Duration; BATCHES] = std::array::from_fn(|_| batch());
    times.sort_unstable();
    (times[BATCHES / 2] / BATCH).as_nanos() as u64
}

/// A loaded ONNX model: features → normalised row → engine → score.
#[derive(Clone)]
pub struct OnnxModel<E> {
    engine: E,
    /// Per input column: the feature, its mean and its std.
    columns: Box<[(Feature, f32, f32)]>,
    row: Box<[f32]>,
    decide: Decide,
}

#[derive(Clone, Debug, PartialEq)]
enum Decide {
    /// The output is an action index; the table holds each action's score.
    Index(Box<[f32]>),
    /// The output has one value per action: the argmax's score.
    Argmax(Box<[f32]>),
    Continuous {
        scale: f32,
        clip: f32,
    },
    Score,
}

impl<E: Engine> Model for OnnxModel<E> {
    const KIND: &'static str = "onnx";

    /// Scores two-sided books only, like the linear model: a one-sided book's features
    /// are zeros, not observations the policy was trained on.
    #[inline]
    fn score(&mut self, features: &Features) -> Option<f32> {
        if !features.view.is_two_sided() {
            return None;
        }
        for (slot, &(feature, mean, std)) in self.row.iter_mut().zip(self.columns.iter()) {
            *slot = (feature.read(&features.values) - mean) / std;
        }
        let out = self.engine.run(&self.row)?;
        match &self.decide {
            Decide::Index(scores) => {
                let i = out[0];
                // An index the mapping does not cover (a tract graph's ArgMax over more
                // classes) is no opinion.
                (i >= 0.0 && (i as usize) < scores.len()).then(|| scores[i as usize])
            }
            Decide::Argmax(scores) => {
                let mut best = 0;
                for (i, &v) in out.iter().enumerate().skip(1) {
                    if v > out[best] {
                        best = i;
                    }
                }
                Some(scores[best])
            }
            Decide::Continuous { scale, clip } => Some((out[0] * scale).clamp(-clip, *clip)),
            Decide::Score => Some(out[0]),
        }
    }
}

impl<E> OnnxModel<E> {
    pub fn engine(&self) -> &E {
        &self.engine
    }
}

/// A model ready to run: native, or tract in a build with the feature.
#[derive(Clone)]
pub enum Loaded {
    Native(OnnxModel<NativeMlp>),
    #[cfg(feature = "tract")]
    Tract(OnnxModel<tract::TractEngine>),
}

/// Why `[model.onnx]` could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("model.onnx.path: {path}: cannot read")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("model.onnx.path: {path}: not a readable ONNX file")]
    Parse {
        path: PathBuf,
        #[source]
        source: OnnxError,
    },
    #[error("{path}: the model does not fit [model.onnx]:\n{}", list(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A graph read from a file, with its single input's width.
pub struct Graph {
    pub bytes: Vec<u8>,
    pub graph: GraphProto,
}

/// Reads and parses `path`.
pub fn read(path: &std::path::Path) -> Result<Graph, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let model = parse_model(&bytes, &Limits::DEFAULT).map_err(|source| LoadError::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Graph {
        bytes,
        graph: model.graph,
    })
}

/// The graph's inputs that are not initializers (IR version 3 lists those as inputs
/// too).
pub fn real_inputs(graph: &GraphProto) -> Vec<&ValueInfo> {
    graph
        .inputs
        .iter()
        .filter(|i| !graph.initializers.iter().any(|t| t.name == i.name))
        .collect()
}

/// `[1, 5]`, with symbolic dimensions by name.
pub fn shape_text(shape: Option<&[Dim]>) -> String {
    let Some(shape) = shape else {
        return "undeclared".into();
    };
    let dims: Vec<String> = shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Param(p) => p.clone(),
            Dim::Unknown => "?".into(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

fn type_name(t: Option<i32>) -> String {
    match t {
        Some(FLOAT) => "float32".into(),
        Some(INT64) => "int64".into(),
        Some(other) => format!("data type {other}"),
        None => "undeclared".into(),
    }
}

/// Loads `[model.onnx]`, validated against `[model]`'s thresholds beforehand
/// ([`OnnxConfig::validate`]).
pub fn load(config: &OnnxConfig) -> Result<(Loaded, Selection), LoadError> {
    let file = read(&config.path)?;
    let mut problems = Vec::new();
    let mut p = Problems::new("model.onnx", &mut problems);
    let plan = check(config, &file.graph, &mut p);
    let invalid = |problems| LoadError::Invalid {
        path: config.path.clone(),
        problems,
    };
    let Some((n_in, width)) = plan else {
        return Err(invalid(problems));
    };
    let native = graph::chain(&file.graph, &config.input, n_in, config.output.name());
    let (engine, why) = match (config.engine, &native) {
        (EngineChoice::Native | EngineChoice::Auto, Ok(_)) => (
            EngineKind::Native,
            format!(
                "engine = {:?}: the graph behind {:?} is an MLP",
                engine_name(config.engine),
                config.output.name()
            ),
        ),
        (EngineChoice::Tract, _) => (EngineKind::Tract, "engine = \"tract\"".into()),
        (EngineChoice::Auto, Err(e)) => (
            EngineKind::Tract,
            format!("engine = \"auto\": not an MLP for the native engine: {e}"),
        ),
        (EngineChoice::Native, Err(e)) => {
            p.add("engine", format!("\"native\" cannot run this graph: {e}"));
            return Err(invalid(problems));
        }
    };
    let columns: Box<[(Feature, f32, f32)]> = config
        .features
        .iter()
        .map(|f| (f.feature, f.mean, f.std))
        .collect();
    let decide = match &config.output {
        OutputMapping::Discrete { actions, .. } => {
            let scores = actions.iter().map(|a| a.score()).collect();
            if width == 1 && actions.len() > 1 {
                Decide::Index(scores)
            } else {
                Decide::Argmax(scores)
            }
        }
        OutputMapping::Continuous { scale, clip, .. } => Decide::Continuous {
            scale: *scale,
            clip: *clip,
        },
        OutputMapping::Score { .. } => Decide::Score,
    };
    if let Ok(chain) = &native {
        check_chain(config, chain, width, &mut p);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
    }
    let mut p = Problems::new("model.onnx", &mut problems);
    let row = vec![0.0; n_in].into();
    let (loaded, cost) = match (engine, native) {
        (EngineKind::Native, Ok(chain)) => {
            let mut engine = NativeMlp::compile(&chain);
            let cost = Cost {
                kernel: Some(engine.kernel().isa()),
                ns_per_inference: time_inference(&mut engine, n_in),
            };
            let model = OnnxModel {
                engine,
                columns,
                row,
                decide,
            };
            (Loaded::Native(model), cost)
        }
        (EngineKind::Native, Err(_)) => unreachable!("native is selected only for an MLP"),
        (EngineKind::Tract, _) => {
            #[cfg(feature = "tract")]
            {
                let name = config.output.name();
                let engine =
                    tract::TractEngine::new(&file.bytes, n_in, &[name], 0, width).map_err(|e| {
                        p.add("path", format!("tract cannot run the graph: {e}"));
                    });
                let Ok(mut engine) = engine else {
                    return Err(invalid(problems));
                };
                let cost = Cost {
                    kernel: None,
                    ns_per_inference: time_inference(&mut engine, n_in),
                };
                let model = OnnxModel {
                    engine,
                    columns,
                    row,
                    decide,
                };
                (Loaded::Tract(model), cost)
            }
            #[cfg(not(feature = "tract"))]
            {
                p.add(
                    "engine",
                    format!(
                        "the tract engine is needed ({why}), and this build has no `tract` \
                         feature: rebuild with `cargo build --release --features tract`"
                    ),
                );
                return Err(invalid(problems));
            }
        }
    };
    Ok((loaded, Selection { engine, why, cost }))
}

fn engine_name(e: EngineChoice) -> &'static str {
    match e {
        EngineChoice::Auto => "auto",
        EngineChoice::Native => "native",
        EngineChoice::Tract => "tract",
    }
}

/// What the declared shapes cannot show: the chain's real output width, and how many
/// actions its ArgMax chooses among.
fn check_chain(config: &OnnxConfig, chain: &graph::Chain, width: usize, p: &mut Problems<'_>) {
    let name = config.output.name();
    if chain.n_out() != width {
        p.add(
            "output.name",
            format!(
                "tensor {name:?} is declared with {width} elements, the graph computes {}",
                chain.n_out()
            ),
        );
    }
    let classes = chain.layers.last().map_or(chain.n_in, |l| l.n_out);
    if let OutputMapping::Discrete { actions, .. } = &config.output
        && chain.tail == graph::Tail::ArgMax
        && classes != actions.len()
    {
        p.add(
            "output.actions",
            format!(
                "{} actions mapped; tensor {name:?} is the ArgMax of {classes} values",
                actions.len()
            ),
        );
    }
}

/// Checks the mapping against the graph's declared input and output; returns the
/// input width and the mapped output's element count when both fit.
fn check(config: &OnnxConfig, graph: &GraphProto, p: &mut Problems<'_>) -> Option<(usize, usize)> {
    let inputs = real_inputs(graph);
    let names = |v: &[&ValueInfo]| v.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    let mut width = None;
    match inputs.iter().find(|i| i.name == config.input) {
        _ if inputs.len() != 1 => p.add(
            "input",
            format!(
                "the graph has {} inputs ({:?}); a policy takes one row of features",
                inputs.len(),
                names(&inputs)
            ),
        ),
        None => p.add(
            "input",
            format!(
                "{:?} is not the graph's input; it is {:?}",
                config.input, inputs[0].name
            ),
        ),
        Some(input) => {
            let n = config.features.len();
            if input.elem_type != Some(FLOAT) {
                p.add(
                    "input",
                    format!(
                        "tensor {:?} is {}, expected float32",
                        input.name,
                        type_name(input.elem_type)
                    ),
                );
            } else if input.shape.as_deref().and_then(graph::row_width) != Some(n) {
                p.add(
                    "features",
                    format!(
                        "tensor {:?} has shape {}, expected [1, {n}] ({n} features mapped)",
                        input.name,
                        shape_text(input.shape.as_deref())
                    ),
                );
            } else {
                width = Some(n);
            }
        }
    }
    let outputs: Vec<&ValueInfo> = graph.outputs.iter().collect();
    let name = config.output.name();
    let mut elements = None;
    let mut p = p.nested("output");
    match outputs.iter().find(|o| o.name == name) {
        None => p.add(
            "name",
            format!(
                "{name:?} is not a graph output; they are {:?}",
                names(&outputs)
            ),
        ),
        Some(out) => {
            let (expected, allowed): (Vec<usize>, &[i32]) = match &config.output {
                OutputMapping::Discrete { actions, .. } => {
                    (vec![1, actions.len()], &[FLOAT, INT64][..])
                }
                _ => (vec![1], &[FLOAT][..]),
            };
            let found = out.shape.as_deref().and_then(graph::elements);
            if !out.elem_type.is_some_and(|t| allowed.contains(&t)) {
                p.add(
                    "name",
                    format!(
                        "tensor {name:?} is {}, expected {}",
                        type_name(out.elem_type),
                        allowed
                            .iter()
                            .map(|&t| type_name(Some(t)))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                );
            } else if out.elem_type == Some(INT64) && found != Some(1) {
                p.add(
                    "name",
                    format!(
                        "tensor {name:?} has shape {}, expected one action index ([1])",
                        shape_text(out.shape.as_deref())
                    ),
                );
            } else if !found.is_some_and(|f| expected.contains(&f)) {
                let what = match &config.output {
                    OutputMapping::Discrete { actions, .. } => format!(
                        "1 element (an action index) or {} (one per action in output.actions)",
                        actions.len()
                    ),
                    _ => "1 element".into(),
                };
                p.add(
                    "name",
                    format!(
                        "tensor {name:?} has shape {}, expected {what}",
                        shape_text(out.shape.as_deref())
                    ),
                );
            } else {
                elements = found;
            }
        }
    }
    width.zip(elements)
}
