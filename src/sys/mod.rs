//! Every atomic and every `unsafe` in tickpipe lives here, and nowhere else; so does the
//! ring edge that joins runners.
//!
//! The rest of the crate is `#![deny(unsafe_code)]` and holds no atomics of its own: the
//! concurrency we own is the small set of protocols below, each model-checked with loom
//! (`loom-tests/` includes this module by path and builds it with `--cfg loom`, where
//! [`sync`] swaps `std` atomics for loom's). Rings are `rtrb`'s or [`ring`], wrapped in [`edge`]:
//! the end-of-stream flag in [`close`], a backpressure policy whose waits use the
//! strategies in [`idle`], and the [`Emit`](edge::Emit) trait every producer pushes
//! through. The edge sits here because stages, sources and venues all produce into it:
//! in the runtime, each of them would import from the layer above.
//!
//! [`heartbeat`] is each runner's pass counter, which the runtime's watchdog reads.
//! [`credit`] is the firm-wide credit pool that lets shards share a limit without a lock;
//! [`window`] is the firm-wide count per second of event time (the message rate);
//! [`board`] holds each shard's published P&L (the firm-wide loss and drawdown).
//!
//! [`mapped`] is the journal's shared file mapping (mmap through libc); [`memlock`]
//! locks the process's pages in memory (mlockall).
//! [`ring`] is our own SPSC ring (a sequence number in each slot's line), for the edges
//! where it measures faster than rtrb.
//! [`simd`] is the native inference kernel's arithmetic, SSE2 or AVX2 by runtime
//! detection (`std::arch`, `#[target_feature]`).
//!
//! Nothing here may name anything outside this module: loom-tests compiles it alone.
//! (The edge, left out of that build, names `msg::RawFrame` to mark it [`ring::Zeroable`].)
//! Modules that use other crates (rtrb, serde) are left out of the loom build.

pub mod board;
pub mod close;
pub mod credit;
pub mod latch;
pub mod mailbox;
mod pad;
pub mod progress;
pub mod ring;
pub mod stop;
pub mod sync;
pub mod window;

#[cfg(not(loom))]
pub mod abandon;
#[cfg(not(loom))]
pub mod alloc_count;
#[cfg(not(loom))]
pub mod edge;
// A Relaxed counter that orders nothing: no loom model to check, so out of that build.
#[cfg(not(loom))]
pub mod heartbeat;
#[cfg(not(loom))]
pub mod idle;
#[cfg(not(loom))]
pub mod mapped;
#[cfg(not(loom))]
pub mod memlock;
#[cfg(not(loom))]
pub mod simd;

pub use board::PnlBoard;
pub use close::CloseFlag;
pub use credit::{CreditPool, CreditShare};
#[cfg(not(loom))]
pub use heartbeat::{Heartbeat, Pulse};
pub use latch::{TradingLatch, TradingState};
pub use mailbox::Mailbox;
pub use progress::Progress;
pub use stop::{Failure, StopSignal};
pub use window::WindowCount;
