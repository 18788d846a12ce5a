//! Stage 4, risk: pre-trade checks, and the one owner of this shard's orders and
//! positions. STUB: implemented in the risk/inference work package.

use std::sync::Arc;

use serde::Deserialize;

use crate::config::Problems;
use crate::msg::{Signal, SymbolId, VenueCommand};
use crate::report::ShardReport;
use crate::stages::{Emit, ReportSource, Stage};
use crate::sys::TradingLatch;
use crate::universe::Universe;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskConfig {}

impl RiskConfig {
    pub fn validate(&self, _universe: &Universe, _p: &mut Problems<'_>) {}
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionConfig {}

impl ExecutionConfig {
    pub fn validate(&self, _p: &mut Problems<'_>) {}
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskStats {}

impl RiskStats {
    pub fn merge(&mut self, _other: &RiskStats) {}
}

pub struct Risk<R: ReportSource> {
    _reports: R,
}

impl<R: ReportSource> Risk<R> {
    pub fn new(
        _universe: Arc<Universe>,
        _owned: &[SymbolId],
        _config: &RiskConfig,
        _latch: Arc<TradingLatch>,
        reports: R,
    ) -> Risk<R> {
        Risk { _reports: reports }
    }
}

impl<R: ReportSource> Stage for Risk<R> {
    type In = Signal;
    type Out = VenueCommand;
    const NAME: &'static str = "risk";

    fn on_event<O: Emit<VenueCommand>>(&mut self, _event: Signal, _out: &mut O) {
        todo!("risk")
    }

    fn report(&self, _report: &mut ShardReport) {}
}
