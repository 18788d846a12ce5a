//! Venues: where routing sends orders and execution reports come from. The simulated
//! exchange serves replay and paper trading.

pub mod sim;

use serde::Deserialize;

use crate::config::Problems;

/// `[venue]` in the config. STUB: completed in the venue work package.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {}

impl VenueConfig {
    pub fn validate(&self, _p: &mut Problems<'_>) {}
}
