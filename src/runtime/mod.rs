//! The runtime: runners, topologies, and the pipeline that wires them with rings and
//! runs the shutdown protocol. The ring edge, `Emit` and the idle strategies are in
//! [`crate::sys`], below the stages, sources and venues that produce into them.

pub mod builder;
pub mod config;
pub mod control;
pub mod health;
pub mod inline;
pub mod inline_run;
pub mod journal;
pub mod metrics;
pub mod pipeline;
pub mod report;
pub mod runner;
pub mod topology;
