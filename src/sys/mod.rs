//! Every atomic and every `unsafe` in tickpipe lives here, and nowhere else.
//!
//! The rest of the crate is `#![deny(unsafe_code)]` and holds no atomics of its own: the
//! concurrency we own is the small set of protocols below, each model-checked with loom
//! (`loom-tests/` includes this module by path and builds it with `--cfg loom`, where
//! [`sync`] swaps `std` atomics for loom's). Rings are `rtrb`'s; what we add on top of
//! them is the end-of-stream flag in [`close`].
//!
//! Nothing here may name anything outside this module: loom-tests compiles it alone.

pub mod close;
pub mod latch;
mod pad;
pub mod progress;
pub mod stop;
pub mod sync;

#[cfg(not(loom))]
pub mod abandon;
#[cfg(not(loom))]
pub mod alloc_count;

pub use close::CloseFlag;
pub use latch::{TradingLatch, TradingState};
pub use progress::Progress;
pub use stop::{Failure, StopSignal};
