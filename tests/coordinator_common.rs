#![allow(dead_code)] // each test binary uses a subset of these helpers
//! A `[coordinator]` section and a `[[schedule]]` for tests, appended to the bundled
//! config (which has neither: the default run's decisions stay as they are).

use tickpipe::runtime::config::Config;

/// Every task, from the sample session's open (09:30). The sample's messages are
/// 3.25 µs apart on average, so 150 000 of them span about half a second of event time:
/// the periods are milliseconds.
pub const COORDINATOR: &str = r#"
[coordinator.levels.normal]
target_scale = 1.0
reduce_only = false
schedules = true
[coordinator.levels.reduced]
target_scale = 0.5
reduce_only = false
schedules = true
[coordinator.levels.limited]
target_scale = 0.5
reduce_only = true
schedules = false
[coordinator.levels.emergency]
target_scale = 0.0
reduce_only = true
schedules = false

[coordinator.tasks.health]
first_at_ns = 34_200_000_000_000
period_ns = 20_000_000
deadline_ns = 1_000_000
after = []
levels = ["normal", "reduced", "limited", "emergency"]
[coordinator.tasks.pnl_snapshot]
first_at_ns = 34_200_000_000_000
period_ns = 20_000_000
deadline_ns = 10_000_000
after = []
levels = ["normal", "reduced", "limited", "emergency"]
[coordinator.tasks.regime]
first_at_ns = 34_200_000_000_000
period_ns = 50_000_000
deadline_ns = 20_000_000
after = ["pnl_snapshot"]
levels = ["normal", "reduced", "limited"]
[coordinator.tasks.flatten_at]
first_at_ns = 57_000_000_000_000
period_ns = 86_400_000_000_000
deadline_ns = 600_000_000_000
after = []
levels = ["normal", "reduced", "limited", "emergency"]

[coordinator.regime]
min_views = MIN_VIEWS
calm_below_bps = 2.0
volatile_above_bps = 20.0
calm_scale = 1.0
normal_scale = 1.0
volatile_scale = 0.5
[coordinator.regime.consensus]
method = "weighted_mean"
range_weight = 1.0
spread_weight = 1.0

[coordinator.flatten]
flat_after_ns = 60_000_000_000
"#;

/// A TWAP buy of AAPL: 6 slices of 10, one every 40 ms from 30 ms after the open.
pub const SCHEDULE: &str = r#"
[[schedule]]
symbol = "AAPL"
side = "buy"
quantity = 60
slices = 6
start_ns = 34_200_030_000_000
interval_ns = 40_000_000
limit_offset = "0.01"
"#;

/// The bundled config with `extra` appended, validated.
pub fn config(extra: &str) -> Config {
    let text = std::fs::read_to_string("config/tickpipe.toml").unwrap() + extra;
    let config: Config = toml::from_str(&text).expect("parses");
    config.validate().expect("valid");
    config
}
