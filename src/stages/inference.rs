//! Stage 3, inference: features → a score and a target position per symbol.
//! STUB: implemented in the risk/inference work package.

use serde::Deserialize;

use crate::config::Problems;
use crate::msg::{Features, Signal};
use crate::report::ShardReport;
use crate::stages::{Emit, Stage};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {}

impl ModelConfig {
    pub fn validate(&self, _p: &mut Problems<'_>) {}
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InferenceStats {}

impl InferenceStats {
    pub fn merge(&mut self, _other: &InferenceStats) {}
}

pub struct Inference {}

impl Inference {
    pub fn new(_config: &ModelConfig, _universe_len: usize) -> Inference {
        Inference {}
    }
}

impl Stage for Inference {
    type In = Features;
    type Out = Signal;
    const NAME: &'static str = "inference";

    fn on_event<O: Emit<Signal>>(&mut self, _event: Features, _out: &mut O) {
        todo!("inference")
    }

    fn report(&self, _report: &mut ShardReport) {}
}
