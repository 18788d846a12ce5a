//! tickpipe's `sys` module, compiled alone against loom's atomics.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release`
//! (`scripts/test.sh` does). Without `--cfg loom` this crate is empty.

#![cfg(loom)]
#![allow(dead_code)] // sys exports what the engine uses; each test uses a part.

#[path = "../../src/sys/mod.rs"]
pub mod sys;

pub mod credit;
pub mod spsc;
