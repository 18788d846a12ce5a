//! When to try reconnecting: exponential backoff with jitter from a seeded generator, so
//! a test's schedule is the same every run and many clients do not retry in step.

/// Delays double from `base_ns` up to `cap_ns`; each is drawn uniformly from its upper
/// half ("equal jitter"), so it never falls below half the backoff and never exceeds it.
#[derive(Debug, Clone)]
pub struct Backoff {
    base_ns: u64,
    cap_ns: u64,
    attempts: u32,
    rng: SplitMix64,
}

impl Backoff {
    pub fn new(base_ns: u64, cap_ns: u64, seed: u64) -> Backoff {
        Backoff {
            base_ns: base_ns.max(1),
            cap_ns: cap_ns.max(base_ns.max(1)),
            attempts: 0,
            rng: SplitMix64(seed),
        }
    }

    /// The wait before the next attempt.
    pub fn next_delay(&mut self) -> u64 {
        let full = self
            .base_ns
            .checked_shl(self.attempts.min(40))
            .unwrap_or(u64::MAX)
            .min(self.cap_ns);
        self.attempts = self.attempts.saturating_add(1);
        let half = full / 2;
        half + self.rng.next() % (full - half + 1)
    }

    /// Connected: the next outage starts from `base_ns` again.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a full-period 64-bit generator in three lines,
/// enough for jitter.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_the_cap_with_jitter_inside_the_upper_half() {
        let mut b = Backoff::new(100, 1_000, 7);
        let delays: Vec<u64> = (0..6).map(|_| b.next_delay()).collect();
        for (d, full) in delays.iter().zip([100, 200, 400, 800, 1_000, 1_000]) {
            assert!((full / 2..=full).contains(d), "{d} of {full}");
        }
        b.reset();
        assert!(b.next_delay() <= 100);
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
        let schedule = |seed| {
            let mut b = Backoff::new(1_000_000, 1_000_000_000, seed);
            (0..8).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(schedule(3), schedule(3));
        assert_ne!(schedule(3), schedule(4));
    }
}
