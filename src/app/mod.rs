//! The application layer: what the CLI shows and writes. Rendering the run report (text
//! and JSON) lives here, above the runtime that assembles the report's data.

pub mod ctl;
pub mod inspect;
pub mod journal;
pub mod report;
pub mod verify;
