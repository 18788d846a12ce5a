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

/// At most once a period, judged by the caller's clock readings: when a runner publishes
/// its metrics (`run --metrics`).
#[derive(Clone, Debug)]
pub struct Cadence {
    period_ns: u64,
    last_ns: u64,
}

impl Cadence {
    /// A cadence of `period` whose first period starts at `now_ns`.
    pub fn new(period: std::time::Duration, now_ns: u64) -> Cadence {
        Cadence {
            period_ns: period.as_nanos().try_into().unwrap_or(u64::MAX),
            last_ns: now_ns,
        }
    }

    /// True, starting the next period, when a period has passed since the last true.
    #[inline]
    pub fn due(&mut self, now_ns: u64) -> bool {
        if now_ns.saturating_sub(self.last_ns) < self.period_ns {
            return false;
        }
        self.last_ns = now_ns;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_cadence_is_due_once_a_period_from_its_last_due() {
        let mut c = Cadence::new(Duration::from_nanos(10), 100);
        assert!(!c.due(100));
        assert!(!c.due(109));
        assert!(c.due(110));
        assert!(!c.due(119), "the period restarts at the last due");
        assert!(c.due(135));
        assert!(!c.due(140));
        // A clock reading before the last due (another thread's clone) is not due.
        assert!(!c.due(50));
    }
}
