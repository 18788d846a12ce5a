//! The whole pipeline on arbitrary bytes, read as a NASDAQ ITCH 5.0 file: the replay
//! source (framing, `ShardRouter`), decode, features, inference, risk, routing and the
//! simulated venue, on one thread.
//!
//! Never panics, never hangs, and the drain protocol accounts for everything (see
//! `whole_run.rs`): every framed message routed, untracked or skipped; every order
//! answered; nothing open after the venue's end of session; no failure but the source's
//! on input cut inside a message.
#![no_main]

mod whole_run;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| whole_run::check(data));
