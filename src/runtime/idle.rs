//! Idle strategies: what a runner does when it has no work (Agrona's `IdleStrategy`).
//!
//! Busy-spin gives the shortest wake-up but owns a core; it is only right when each
//! runner has a core to itself. On a host with fewer cores than runners (this 2-core
//! machine), spinning threads steal each other's time slices, so topologies there use
//! spin-then-yield or backoff.

use std::time::Duration;

use serde::Deserialize;

/// How a runner waits, as written in a topology file.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "strategy", rename_all = "kebab-case", deny_unknown_fields)]
pub enum IdleStrategy {
    /// Spin forever: lowest latency, one core per runner. (A struct variant so that
    /// serde's `deny_unknown_fields` rejects stray keys; it ignores them on unit variants.)
    BusySpin {},
    /// Spin `spins` times, then yield the core on every further idle turn.
    SpinThenYield { spins: u32 },
    /// Spin `spins` times, yield `yields` times, then sleep from `min_park_ns`, doubling
    /// up to `max_park_ns`.
    Backoff {
        spins: u32,
        yields: u32,
        min_park_ns: u64,
        max_park_ns: u64,
    },
}

impl IdleStrategy {
    /// Problems with the parameters, if any.
    pub fn problem(&self) -> Option<String> {
        match *self {
            IdleStrategy::Backoff {
                min_park_ns,
                max_park_ns,
                ..
            } if min_park_ns == 0 || max_park_ns < min_park_ns => Some(format!(
                "backoff needs 0 < min_park_ns ≤ max_park_ns (got {min_park_ns}, {max_park_ns})"
            )),
            _ => None,
        }
    }
}

/// The state of one runner's idling: counts consecutive idle turns.
#[derive(Clone, Debug)]
pub struct Idler {
    strategy: IdleStrategy,
    turns: u64,
    park_ns: u64,
}

impl Idler {
    pub fn new(strategy: IdleStrategy) -> Idler {
        Idler {
            strategy,
            turns: 0,
            park_ns: 0,
        }
    }

    /// One idle turn.
    #[inline]
    pub fn idle(&mut self) {
        self.turns += 1;
        match self.strategy {
            IdleStrategy::BusySpin {} => std::hint::spin_loop(),
            IdleStrategy::SpinThenYield { spins } => {
                if self.turns <= u64::from(spins) {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            IdleStrategy::Backoff {
                spins,
                yields,
                min_park_ns,
                max_park_ns,
            } => {
                if self.turns <= u64::from(spins) {
                    std::hint::spin_loop();
                } else if self.turns <= u64::from(spins) + u64::from(yields) {
                    std::thread::yield_now();
                } else {
                    self.park_ns = if self.park_ns == 0 {
                        min_park_ns
                    } else {
                        (self.park_ns * 2).min(max_park_ns)
                    };
                    std::thread::sleep(Duration::from_nanos(self.park_ns));
                }
            }
        }
    }

    /// Work arrived: the next idle turn starts from the beginning.
    #[inline]
    pub fn reset(&mut self) {
        self.turns = 0;
        self.park_ns = 0;
    }

    pub fn strategy(&self) -> IdleStrategy {
        self.strategy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_strategy() {
        #[derive(Deserialize)]
        struct W {
            idle: IdleStrategy,
        }
        let w: W = toml::from_str(r#"idle = { strategy = "busy-spin" }"#).unwrap();
        assert_eq!(w.idle, IdleStrategy::BusySpin {});
        let w: W =
            toml::from_str(r#"idle = { strategy = "spin-then-yield", spins = 100 }"#).unwrap();
        assert_eq!(w.idle, IdleStrategy::SpinThenYield { spins: 100 });
        let w: W = toml::from_str(
            r#"idle = { strategy = "backoff", spins = 10, yields = 5, min_park_ns = 1000, max_park_ns = 64000 }"#,
        )
        .unwrap();
        assert!(w.idle.problem().is_none());
        assert!(toml::from_str::<W>(r#"idle = { strategy = "nap" }"#).is_err());
        assert!(toml::from_str::<W>(r#"idle = { strategy = "busy-spin", spins = 3 }"#).is_err());
    }

    #[test]
    fn backoff_parks_then_doubles_to_the_cap() {
        let mut i = Idler::new(IdleStrategy::Backoff {
            spins: 1,
            yields: 1,
            min_park_ns: 1,
            max_park_ns: 4,
        });
        for _ in 0..6 {
            i.idle();
        }
        assert_eq!(i.park_ns, 4);
        i.reset();
        assert_eq!((i.turns, i.park_ns), (0, 0));
        assert!(
            IdleStrategy::Backoff {
                spins: 0,
                yields: 0,
                min_park_ns: 5,
                max_park_ns: 4
            }
            .problem()
            .is_some()
        );
    }
}
