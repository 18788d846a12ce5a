//! tickpipe: a tick-to-trade engine.
//!
//! Market data arrives as exchange bytes and orders leave for a venue; in between, five
//! single-threaded stages decide, joined by bounded SPSC rings or fused on one thread.
//! The modules stack in layers, leaves first; each imports only from its own layer and
//! the ones before it (ARCHITECTURE.md has the table, `tests/layers.rs` enforces it):
//!
//! - [`msg`]: the hot-path message types.
//! - [`sys`]: the one module with atomics and `unsafe` (everything else denies both), and
//!   the ring edge every stage, source and venue produces into, with its idle strategies.
//! - base: [`clock`], [`config`] (problem reporting), [`escape`], [`universe`], [`latency`],
//!   [`merge`] (statistics merged across shards, declared once by [`stats!`]).
//! - [`codec`]: wire formats (ITCH 5.0, MoldUDP64, the stale-feed notice).
//! - [`tools`]: the sample session generator and the MoldUDP64 feed server.
//! - [`stages`]: decode → features → inference → risk → routing, and their statistics.
//! - io: [`source`] (the `Source` trait: file replay, live feed; the shard router) and
//!   [`venue`] (the `Venue` trait: the simulated exchange; the venue thread), and
//!   [`journal`] (the write-ahead journal's store: format, writers, reader).
//! - [`runtime`]: runners, topologies, the aggregate config, wiring a pipeline, the
//!   shutdown protocol, the run report's data, and the builder a user runs their own
//!   model, venue or source with (`runtime::builder::Engine`).
//! - [`app`]: report rendering and `inspect`; the binary (`main.rs`) is the CLI.

#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod app;
pub mod clock;
pub mod codec;
pub mod config;
pub mod escape;
pub mod journal;
pub mod latency;
pub mod merge;
pub mod msg;
pub mod runtime;
pub mod source;
pub mod stages;
pub mod tools;
pub mod universe;
pub mod venue;

#[allow(unsafe_code)]
pub mod sys;
