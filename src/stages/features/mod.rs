//! Stage 2, features: per-symbol order books and the model's inputs.
//! STUB: implemented in the book/features work package.

pub mod book;

use std::sync::Arc;

use serde::Deserialize;

use crate::config::Problems;
use crate::msg::{Features, MarketEvent, SymbolId};
use crate::report::ShardReport;
use crate::stages::{Emit, Stage};
use crate::universe::Universe;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {}

impl FeaturesConfig {
    pub fn validate(&self, _p: &mut Problems<'_>) {}
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureStats {}

impl FeatureStats {
    pub fn merge(&mut self, _other: &FeatureStats) {}
}

pub struct FeatureStage {}

impl FeatureStage {
    pub fn new(
        _universe: Arc<Universe>,
        _owned: &[SymbolId],
        _config: &FeaturesConfig,
    ) -> FeatureStage {
        FeatureStage {}
    }
}

impl Stage for FeatureStage {
    type In = MarketEvent;
    type Out = Features;
    const NAME: &'static str = "features";

    fn on_event<O: Emit<Features>>(&mut self, _event: MarketEvent, _out: &mut O) {
        todo!("features")
    }

    fn report(&self, _report: &mut ShardReport) {}
}
