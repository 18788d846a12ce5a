//! tickpipe: a tick-to-trade engine.
//!
//! Market data arrives as exchange bytes and orders leave for a venue; in between, five
//! single-threaded stages decide, joined by bounded SPSC rings or fused on one thread.
//! Read the tree in pipeline order:
//!
//! - [`feed`]: where bytes come from (ITCH 5.0 codec, file replay, sample generator).
//! - [`stages`]: decode → features → inference → risk → routing.
//! - [`venue`]: where orders go (the simulated exchange) and reports come from.
//! - [`runtime`]: runners, topologies, wiring a pipeline, the shutdown protocol.
//! - [`sys`]: the one module with atomics and `unsafe` (everything else denies both), and
//!   the ring edge every stage, source and venue produces into, with its idle strategies.
//!
//! [`msg`] holds the hot-path message types; [`config`] and [`universe`] the start-up
//! inputs; [`app`] (rendering) and [`latency`] what a run reports; [`inspect`] what a file holds.

#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod app;
pub mod clock;
pub mod config;
pub mod escape;
pub mod feed;
pub mod inspect;
pub mod latency;
pub mod msg;
pub mod runtime;
pub mod stages;
pub mod universe;
pub mod venue;

#[allow(unsafe_code)]
pub mod sys;
