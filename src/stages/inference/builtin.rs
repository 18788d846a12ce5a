//! The models the `tickpipe` binary chooses among at start-up by `[model] kind`: an
//! enum, not a trait object, so the linear model's per-event cost stays a predicted
//! branch and an inlined multiply-add (measured: BENCHMARKS.md, "Inference").

use super::onnx::{self, LoadError, Loaded, NativeMlp, OnnxModel, Selection};
use super::{LinearModel, Model, ModelConfig};
use crate::msg::Features;

#[derive(Clone)]
pub enum BuiltIn {
    Linear(LinearModel),
    Native(OnnxModel<NativeMlp>),
    #[cfg(feature = "tract")]
    Tract(OnnxModel<onnx::tract::TractEngine>),
}

impl Model for BuiltIn {
    const KIND: &'static str = LinearModel::KIND;
    const KINDS: &'static [&'static str] = &[LinearModel::KIND, "onnx"];

    #[inline]
    fn score(&mut self, features: &Features) -> Option<f32> {
        match self {
            BuiltIn::Linear(m) => m.score(features),
            BuiltIn::Native(m) => m.score(features),
            #[cfg(feature = "tract")]
            BuiltIn::Tract(m) => m.score(features),
        }
    }
}

impl BuiltIn {
    /// The model `[model]` describes (validated beforehand), loading its ONNX file if
    /// it names one; with the engine chosen and why (`None` for the linear model).
    pub fn load(config: &ModelConfig) -> Result<(BuiltIn, Option<Selection>), LoadError> {
        let Some(onnx_config) = config.onnx.as_ref().filter(|_| config.kind == "onnx") else {
            return Ok((BuiltIn::Linear(config.linear()), None));
        };
        let (loaded, selection) = onnx::load(onnx_config)?;
        let model = match loaded {
            Loaded::Native(m) => BuiltIn::Native(m),
            #[cfg(feature = "tract")]
            Loaded::Tract(m) => BuiltIn::Tract(m),
        };
        Ok((model, Some(selection)))
    }
}
