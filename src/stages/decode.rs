//! Stage 1, decode: ITCH bytes → [`MarketEvent`]s for configured symbols.
//! STUB: implemented in the feed work package.

use std::sync::Arc;

use crate::msg::{MarketEvent, RawFrame};
use crate::report::ShardReport;
use crate::stages::{Emit, Stage};
use crate::universe::Universe;

/// Decode counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {}

impl DecodeStats {
    pub fn merge(&mut self, _other: &DecodeStats) {}
}

pub struct Decode {}

impl Decode {
    pub fn new(_universe: Arc<Universe>) -> Decode {
        Decode {}
    }
}

impl Stage for Decode {
    type In = RawFrame;
    type Out = MarketEvent;
    const NAME: &'static str = "decode";

    fn on_event<O: Emit<MarketEvent>>(&mut self, _event: RawFrame, _out: &mut O) {
        todo!("decode")
    }

    fn report(&self, report: &mut ShardReport) {
        report.decode.merge(&DecodeStats::default());
    }
}
