//! The pipeline's monotonic clock, for latency measurement only.
//!
//! Reads the TSC through `quanta`: 9.6 ns per read with scaling on this host against
//! 27 ns for `std::time::Instant` (BENCHMARKS.md, "clock"). Decisions never read it:
//! they run on event time, which is what makes a replay deterministic.

/// Nanoseconds since the clock was created. Cheap to clone; every runner gets a copy.
#[derive(Clone)]
pub struct MonoClock {
    clock: quanta::Clock,
    epoch: u64,
}

impl Default for MonoClock {
    fn default() -> MonoClock {
        MonoClock::new()
    }
}

impl MonoClock {
    /// Calibrates against the OS clock (quanta does this once per process).
    pub fn new() -> MonoClock {
        let clock = quanta::Clock::new();
        let epoch = clock.raw();
        MonoClock { clock, epoch }
    }

    /// Nanoseconds since this clock (or the one it was cloned from) was created.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.clock.delta_as_nanos(self.epoch, self.clock.raw())
    }
}
