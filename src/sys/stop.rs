//! The pipeline's stop signal and its failure record.
//!
//! Sources poll [`StopSignal::should_stop`] between batches; once it is set they stop
//! reading and the drain protocol runs (each ring is emptied in order, each runner
//! reports, every thread is joined). A failure — a stage panicking, a ring whose
//! policy is to halt — is recorded *before* the state moves to `Failed`, so whoever
//! sees `Failed` finds at least one failure to report.

use super::sync::{AtomicU8, Mutex, Ordering};

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const FAILED: u8 = 2;

/// Why the pipeline failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The runner (thread) it happened on, e.g. `shard0/risk`.
    pub runner: String,
    /// The stage that was running, or the runner's own role (`source`, `venue`).
    pub stage: String,
    /// What went wrong: the panic message or the policy that stopped it.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stage '{}' on runner '{}' failed: {}",
            self.stage, self.runner, self.message
        )
    }
}

/// Shared by every runner and the thread that owns the pipeline.
pub struct StopSignal {
    state: AtomicU8,
    failures: Mutex<Vec<Failure>>,
}

impl Default for StopSignal {
    fn default() -> StopSignal {
        StopSignal::new()
    }
}

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal {
            state: AtomicU8::new(RUNNING),
            failures: Mutex::new(Vec::new()),
        }
    }

    /// Asks for an orderly stop (end of input, SIGINT). Never downgrades `Failed`.
    /// Release: pairs with the Acquire in `should_stop`.
    pub fn request_stop(&self) {
        self.state.fetch_max(STOPPING, Ordering::Release);
    }

    /// Records `failure` and moves to `Failed`. The record is written under the mutex
    /// first; the Release store then pairs with the Acquire in `is_failed`, so a thread
    /// that sees `Failed` and reads `failures` finds this one.
    pub fn fail(&self, failure: Failure) {
        self.failures.with(|f| f.push(failure));
        self.state.fetch_max(FAILED, Ordering::Release);
    }

    /// True once a stop was requested or a failure recorded. Acquire: pairs with the
    /// Release in `request_stop` and `fail`.
    #[inline]
    pub fn should_stop(&self) -> bool {
        self.state.load(Ordering::Acquire) != RUNNING
    }

    /// True once any failure was recorded. Acquire: pairs with the Release in `fail`.
    #[inline]
    pub fn is_failed(&self) -> bool {
        self.state.load(Ordering::Acquire) == FAILED
    }

    /// Every failure recorded so far, first first.
    pub fn failures(&self) -> Vec<Failure> {
        self.failures.with(|f| f.clone())
    }
}
