//! Idle strategies: what a runner does when it has no work (Agrona's `IdleStrategy`).
//!
//! Busy-spin gives the shortest wake-up but owns a core; it is only right when each
//! runner has a core to itself. On a host with fewer cores than runners (this 2-core
//! machine), spinning threads steal each other's time slices, so topologies there use
//! spin-then-yield or backoff.
//!
//! A backoff park is a `nanosleep`, and Linux may end a sleep up to the thread's timer
//! slack late — 50 µs by default. Measured on the 2-core dev host, `sleep(1 µs)` took
//! 66 µs on average, so `min_park_ns = 1000` parked for 66 µs and `max_park_ns` bounded
//! nothing below ~100 µs. An [`Idler`] therefore sets its thread's slack to its
//! `min_park_ns` before the first park: a park then ends at most one minimum park late
//! (plus the scheduler's wake-up), which is what the topology file asked for. There a
//! 1 µs sleep took 15 µs (the VM's timer wake-up), and `staged.toml` replayed at
//! 100 k msgs/s had a tick-to-order p99 of 0.30–0.52 ms instead of 1.4–11 ms (3 runs
//! each, BENCHMARKS.md).

use std::io::{Read, Write};
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
    /// The thread's timer slack has been set (on the first park, so on the runner's own
    /// thread, not the one that built the idler).
    slack_set: bool,
}

impl Idler {
    pub fn new(strategy: IdleStrategy) -> Idler {
        Idler {
            strategy,
            turns: 0,
            park_ns: 0,
            slack_set: false,
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
                    if !self.slack_set {
                        set_timer_slack(min_park_ns);
                        self.slack_set = true;
                    }
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
}

/// Sets the calling thread's timer slack to `ns` (Linux; elsewhere nothing happens).
///
/// Through procfs, so no `unsafe` outside `sys`: `/proc/<tid>/timerslack_ns` is the
/// thread's own entry, which it may write without privilege (`/proc/thread-self` has no
/// such file). Stack buffers only: the first park can come mid-stream, where the
/// pipeline must not allocate (tests/no_alloc.rs). A failure leaves the default slack.
fn set_timer_slack(ns: u64) {
    let mut stat = [0u8; 32];
    let Ok(n) = std::fs::File::open("/proc/thread-self/stat").and_then(|mut f| f.read(&mut stat))
    else {
        return;
    };
    // The stat line starts with the thread id.
    let tid = stat[..n].split(|&b| b == b' ').next().unwrap_or_default();
    let mut path = [0u8; 48];
    let mut value = [0u8; 20];
    let (Ok(path_len), Ok(value_len)) = (
        fill(&mut path, |w| {
            w.write_all(b"/proc/")?;
            w.write_all(tid)?;
            w.write_all(b"/timerslack_ns")
        }),
        fill(&mut value, |w| write!(w, "{ns}")),
    ) else {
        return;
    };
    let Ok(path) = std::str::from_utf8(&path[..path_len]) else {
        return;
    };
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(&value[..value_len]));
}

/// Writes into `buf` through `f`; the length written.
fn fill(
    buf: &mut [u8],
    f: impl FnOnce(&mut &mut [u8]) -> std::io::Result<()>,
) -> std::io::Result<usize> {
    let capacity = buf.len();
    let mut w = buf;
    f(&mut w)?;
    Ok(capacity - w.len())
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

    #[cfg(target_os = "linux")]
    #[test]
    fn the_first_park_sets_the_threads_timer_slack_to_the_minimum_park() {
        let read_slack = || {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            let tid = stat.split(' ').next().unwrap().to_string();
            std::fs::read_to_string(format!("/proc/{tid}/timerslack_ns"))
                .unwrap()
                .trim()
                .parse::<u64>()
                .unwrap()
        };
        // A thread of its own, so no other test's thread is changed.
        std::thread::spawn(move || {
            let default = read_slack();
            let mut i = Idler::new(IdleStrategy::Backoff {
                spins: 1,
                yields: 0,
                min_park_ns: 2_000,
                max_park_ns: 4_000,
            });
            i.idle();
            assert_eq!(read_slack(), default, "spinning leaves the slack alone");
            i.idle();
            assert_eq!(read_slack(), 2_000);
        })
        .join()
        .unwrap();
    }
}
