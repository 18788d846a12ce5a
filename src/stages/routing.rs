//! Stage 5, routing: the shard's gateway to its venue.
//! STUB: implemented with the runtime.

use crate::msg::VenueCommand;
use crate::report::ShardReport;
use crate::stages::{Emit, Stage};

#[derive(Default)]
pub struct RoutingStats {}

impl RoutingStats {
    pub fn merge(&mut self, _other: &RoutingStats) {}
}

pub struct Routing {}

impl Stage for Routing {
    type In = VenueCommand;
    type Out = VenueCommand;
    const NAME: &'static str = "routing";

    fn on_event<O: Emit<VenueCommand>>(&mut self, event: VenueCommand, out: &mut O) {
        out.emit(event)
    }

    fn report(&self, _report: &mut ShardReport) {}
}
