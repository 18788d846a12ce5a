//! The runtime: rings between runners, runners and their idle strategies, topologies,
//! and the pipeline that wires them and runs the shutdown protocol.

pub mod edge;
pub mod idle;
pub mod inline_run;
pub mod pipeline;
pub mod runner;
pub mod topology;
