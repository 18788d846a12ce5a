//! What a shard's stages report when the pipeline stops: one statistics field per stage,
//! merged field by field across shards.

use super::decode::DecodeStats;
use super::features::FeatureStats;
use super::inference::InferenceStats;
use super::risk::RiskStats;
use super::routing::RoutingStats;

/// Everything one shard's stages report when the pipeline stops. Each stage fills its
/// own field ([`crate::stages::Stage::report`]); shards merge field by field.
#[derive(Default)]
pub struct ShardReport {
    pub decode: DecodeStats,
    pub features: FeatureStats,
    pub inference: InferenceStats,
    pub risk: RiskStats,
    pub routing: RoutingStats,
}

impl ShardReport {
    pub fn merge(&mut self, other: &ShardReport) {
        self.decode.merge(&other.decode);
        self.features.merge(&other.features);
        self.inference.merge(&other.inference);
        self.risk.merge(&other.risk);
        self.routing.merge(&other.routing);
    }
}
