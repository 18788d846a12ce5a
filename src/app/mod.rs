//! The application layer: what the CLI shows and writes. Rendering the run report (text
//! and JSON) lives here, above the runtime that assembles the report's data.

pub mod check_config;
pub mod ctl;
pub mod export;
pub mod ibkr;
pub mod inspect;
pub mod journal;
pub mod latency_out;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod progress;
pub mod report;
pub mod verify;
