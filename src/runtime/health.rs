//! Runner health: a watchdog on its own thread, in wall time, off the hot path.
//!
//! Every stage runner and the venue runner beat a [`Heartbeat`] as they enter and leave
//! each pass of their duty cycle (`sys::heartbeat`: odd inside a pass). Every
//! `period_ms` the watchdog reads each count. A count that is odd and has not moved for
//! `stall_after_ms` is a runner stuck on work it has taken (a stage that does not return,
//! a push into a ring nobody empties): the run degrades to reduce-only. Still stuck at
//! `halt_after_ms`, it halts. Both go through [`Escalate`], the control hub's
//! `escalate` (`runtime::control`), exactly what
//! `ctl reduce-only` and `ctl halt` do: the latch first, then `Control::TradingState`
//! down every control ring, so each shard's risk journals the change at its next
//! decision and a replay of the journal re-applies it there, and routing answers the
//! halt with a mass cancel. A runner whose count is even is idle (its input is empty):
//! never stalled, however long. A runner that moves again is reported as resumed; the
//! latch stays where it is, as after any escalation: only an operator lowers it.
//!
//! Why the count and not the ring's occupancy: a ring's consumer end is its runner's
//! own (move-only, not shareable), and "inside a pass" is the stronger fact: the runner
//! holds work it took, even when its ring has since emptied.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::Problems;
use crate::sys::sync::Mutex;
use crate::sys::{CloseFlag, Heartbeat, TradingState};

/// `[health]`: the watchdog's deadlines, in wall-clock milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// How often the watchdog reads the heartbeats.
    pub period_ms: u64,
    /// No progress for this long while holding work: the run degrades (reduce-only).
    pub stall_after_ms: u64,
    /// Still none at this long: the run halts.
    pub halt_after_ms: u64,
}

/// A day: a longer deadline is a typo, not a choice.
const MAX_MS: u64 = 86_400_000;

impl HealthConfig {
    /// Checks each key, naming it.
    pub fn validate(&self, p: &mut Problems<'_>) {
        p.check(
            (1..=MAX_MS).contains(&self.period_ms),
            "period_ms",
            format!("{} is not in 1..={MAX_MS}", self.period_ms),
        );
        // A stall shorter than a period may come and go between two reads.
        p.check(
            self.stall_after_ms >= self.period_ms && self.stall_after_ms <= MAX_MS,
            "stall_after_ms",
            format!(
                "{} must be at least period_ms ({}) and at most {MAX_MS}",
                self.stall_after_ms, self.period_ms
            ),
        );
        p.check(
            self.halt_after_ms > self.stall_after_ms && self.halt_after_ms <= MAX_MS,
            "halt_after_ms",
            format!(
                "{} must be above stall_after_ms ({}) and at most {MAX_MS}: a stall \
                 degrades before it halts",
                self.halt_after_ms, self.stall_after_ms
            ),
        );
    }

    fn period(&self) -> Duration {
        Duration::from_millis(self.period_ms)
    }

    fn stall_after(&self) -> Duration {
        Duration::from_millis(self.stall_after_ms)
    }

    fn halt_after(&self) -> Duration {
        Duration::from_millis(self.halt_after_ms)
    }
}

/// What the watchdog did about a runner.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HealthAction {
    /// Stalled past `stall_after_ms`: the latch was escalated to reduce-only.
    Degraded,
    /// Still stalled at `halt_after_ms`: the latch was escalated to halted.
    Halted,
    /// It moved again after being stalled; the latch stays (only an operator lowers it).
    Resumed,
}

impl HealthAction {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthAction::Degraded => "degraded",
            HealthAction::Halted => "halted",
            HealthAction::Resumed => "resumed",
        }
    }
}

/// One thing the watchdog did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthEvent {
    pub runner: String,
    /// Wall time since the run started.
    pub at: Duration,
    /// How long the runner had held work without progress.
    pub stalled_for: Duration,
    pub action: HealthAction,
    /// The trading state after the action (a halt an operator set stays a halt).
    pub state: TradingState,
}

/// One runner's health now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerHealth {
    pub runner: String,
    /// Heartbeats: passes of its duty cycle completed plus events handed on.
    pub beats: u64,
    /// How long it has held work without progress, once that reached `stall_after_ms`
    /// (`None`: progressing, idle, or no watchdog).
    pub stalled_for: Option<Duration>,
}

/// The report's `health` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthReport {
    /// `None`: the run had no `[health]`, nothing watched the heartbeats.
    pub watchdog: Option<HealthConfig>,
    pub runners: Vec<RunnerHealth>,
    pub events: Vec<HealthEvent>,
}

/// Every runner's heartbeat and what the watchdog found: shared by the wiring (which
/// registers runners), the watchdog, `ctl status`, the metrics and the final report.
/// Cold path only: a mutex, taken by nothing a runner does.
pub struct HealthBoard {
    inner: Mutex<BoardInner>,
    watchdog: Option<HealthConfig>,
}

struct BoardInner {
    runners: Vec<(String, Arc<Heartbeat>, Option<Duration>)>,
    events: Vec<HealthEvent>,
}

impl HealthBoard {
    pub fn new(watchdog: Option<HealthConfig>) -> HealthBoard {
        HealthBoard {
            inner: Mutex::new(BoardInner {
                runners: Vec::new(),
                events: Vec::new(),
            }),
            watchdog,
        }
    }

    /// A heartbeat for the runner `name`, watched from now on.
    pub fn register(&self, name: &str) -> Arc<Heartbeat> {
        let beat = Arc::new(Heartbeat::new());
        self.inner
            .with(|i| i.runners.push((name.to_string(), Arc::clone(&beat), None)));
        beat
    }

    /// Every runner's health now, in the order they were registered.
    pub fn runners(&self) -> Vec<RunnerHealth> {
        self.inner.with(|i| {
            i.runners
                .iter()
                .map(|(runner, beat, stalled_for)| RunnerHealth {
                    runner: runner.clone(),
                    beats: Heartbeat::beats(beat.get()),
                    stalled_for: *stalled_for,
                })
                .collect()
        })
    }

    /// The watchdog's deadlines, the runners and what it did.
    pub fn report(&self) -> HealthReport {
        HealthReport {
            watchdog: self.watchdog,
            runners: self.runners(),
            events: self.inner.with(|i| i.events.clone()),
        }
    }
}

/// What the watchdog knows of one runner: the count it last saw change, and when.
#[derive(Clone, Debug)]
struct Tracker {
    count: u64,
    since: Duration,
    step: Step,
}

/// How far a stall has gone.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Step {
    Healthy,
    Degraded,
    Halted,
}

impl Tracker {
    fn new(count: u64, now: Duration) -> Tracker {
        Tracker {
            count,
            since: now,
            step: Step::Healthy,
        }
    }

    /// Reads `count` at `now`; returns what to do, at most one step a read (a watchdog
    /// late past both deadlines degrades now and halts at its next read).
    fn observe(&mut self, count: u64, now: Duration, c: &HealthConfig) -> Option<HealthAction> {
        if count != self.count {
            let was = self.step;
            *self = Tracker::new(count, now);
            return (was != Step::Healthy).then_some(HealthAction::Resumed);
        }
        if !Heartbeat::is_inside(count) {
            return None; // idle: nothing taken, nothing owed
        }
        let stalled = now.saturating_sub(self.since);
        match self.step {
            Step::Healthy if stalled >= c.stall_after() => {
                self.step = Step::Degraded;
                Some(HealthAction::Degraded)
            }
            Step::Degraded if stalled >= c.halt_after() => {
                self.step = Step::Halted;
                Some(HealthAction::Halted)
            }
            _ => None,
        }
    }

    /// The stall's length, once it counts as one.
    fn stalled_for(&self, now: Duration) -> Option<Duration> {
        (self.step != Step::Healthy).then(|| now.saturating_sub(self.since))
    }
}

/// What the watchdog acts through: the control hub (`runtime::control::ControlHub`),
/// whose `escalate` is what `ctl reduce-only` and `ctl halt` call. A trait, so this
/// module does not import the control module, which imports it.
pub trait Escalate: Send + Sync {
    /// Escalates the latch to `state` (never lowers it) and tells every runner; returns
    /// the state now. `by` names who, as `ctl status` shows it.
    fn escalate(&self, state: TradingState, by: &str) -> TradingState;
    /// The trading state now.
    fn trading_state(&self) -> TradingState;
}

/// The watchdog thread; [`Watchdog::stop`] (or dropping it) ends it.
pub struct Watchdog {
    stop: Arc<CloseFlag>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Watches every runner `board` holds, every `config.period_ms`, acting through
    /// `hub`; `started` is the run's start, which events are timed from.
    pub fn start<E: Escalate + 'static>(
        config: HealthConfig,
        board: Arc<HealthBoard>,
        hub: Arc<E>,
        started: Instant,
    ) -> std::io::Result<Watchdog> {
        let stop = Arc::new(CloseFlag::new());
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || watch(config, &board, hub.as_ref(), &thread_stop, started))?;
        Ok(Watchdog {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.halt_thread();
    }

    fn halt_thread(&mut self) {
        self.stop.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.halt_thread();
    }
}

/// Allocates nothing per period (the steady state of `tests/no_alloc.rs` runs it): the
/// counts go into a buffer sized once, since every runner is registered before the
/// watchdog starts; only an action formats text and records an event.
fn watch(
    config: HealthConfig,
    board: &HealthBoard,
    hub: &dyn Escalate,
    stop: &CloseFlag,
    started: Instant,
) {
    let read = |counts: &mut Vec<u64>| {
        board.inner.with(|i| {
            counts.clear();
            counts.extend(i.runners.iter().map(|(_, beat, _)| beat.get()));
        });
    };
    let mut counts = Vec::with_capacity(board.inner.with(|i| i.runners.len()));
    read(&mut counts);
    let now = started.elapsed();
    let mut trackers: Vec<Tracker> = counts.iter().map(|&c| Tracker::new(c, now)).collect();
    while !stop.is_closed() {
        std::thread::sleep(config.period());
        let now = started.elapsed();
        read(&mut counts);
        for (i, (tracker, &count)) in trackers.iter_mut().zip(&counts).enumerate() {
            let action = tracker.observe(count, now, &config);
            let stalled_for = tracker.stalled_for(now);
            board.inner.with(|inner| inner.runners[i].2 = stalled_for);
            if let Some(action) = action {
                let runner = board.inner.with(|inner| inner.runners[i].0.clone());
                act(
                    hub,
                    board,
                    runner,
                    action,
                    now,
                    now.saturating_sub(tracker.since),
                );
            }
        }
    }
}

/// Applies `action` through the control hub, as an operator's command is, and records it.
fn act(
    hub: &dyn Escalate,
    board: &HealthBoard,
    runner: String,
    action: HealthAction,
    now: Duration,
    stalled_for: Duration,
) {
    let by = format!(
        "the watchdog (runner {runner} held work {} ms without progress)",
        stalled_for.as_millis()
    );
    let state = match action {
        HealthAction::Degraded => hub.escalate(TradingState::ReduceOnly, &by),
        HealthAction::Halted => hub.escalate(TradingState::Halted, &by),
        HealthAction::Resumed => hub.trading_state(),
    };
    let event = HealthEvent {
        runner,
        at: now,
        stalled_for,
        action,
        state,
    };
    board.inner.with(|inner| inner.events.push(event));
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: HealthConfig = HealthConfig {
        period_ms: 10,
        stall_after_ms: 100,
        halt_after_ms: 500,
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_runner_holding_work_degrades_then_halts_then_resumes() {
        let mut t = Tracker::new(7, ms(0));
        assert_eq!(t.observe(7, ms(99), &CONFIG), None);
        assert_eq!(t.stalled_for(ms(99)), None);
        assert_eq!(t.observe(7, ms(100), &CONFIG), Some(HealthAction::Degraded));
        assert_eq!(t.stalled_for(ms(150)), Some(ms(150)));
        assert_eq!(t.observe(7, ms(499), &CONFIG), None);
        assert_eq!(t.observe(7, ms(500), &CONFIG), Some(HealthAction::Halted));
        assert_eq!(t.observe(7, ms(9_000), &CONFIG), None, "halted once");
        assert_eq!(
            t.observe(8, ms(9_010), &CONFIG),
            Some(HealthAction::Resumed)
        );
        assert_eq!(t.stalled_for(ms(9_010)), None);
    }

    #[test]
    fn an_idle_runner_is_never_stalled() {
        let mut t = Tracker::new(8, ms(0));
        for at in [100, 500, 1_000_000] {
            assert_eq!(t.observe(8, ms(at), &CONFIG), None);
            assert_eq!(t.stalled_for(ms(at)), None);
        }
    }

    #[test]
    fn progress_restarts_the_clock() {
        let mut t = Tracker::new(1, ms(0));
        for (i, at) in (0..50).map(|i| (i, i * 90)) {
            // A new pass every 90 ms: never 100 ms on one.
            assert_eq!(t.observe(1 + 2 * i, ms(at), &CONFIG), None, "at {at}");
        }
    }

    #[test]
    fn a_late_read_past_both_deadlines_degrades_before_it_halts() {
        let mut t = Tracker::new(3, ms(0));
        assert_eq!(t.observe(3, ms(800), &CONFIG), Some(HealthAction::Degraded));
        assert_eq!(t.observe(3, ms(810), &CONFIG), Some(HealthAction::Halted));
    }

    #[test]
    fn deadlines_are_checked_by_name() {
        let check = |c: HealthConfig| {
            let mut found = Vec::new();
            c.validate(&mut Problems::new("health", &mut found));
            found.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        assert_eq!(check(CONFIG), Vec::<String>::new());
        let bad = HealthConfig {
            period_ms: 0,
            stall_after_ms: 200,
            halt_after_ms: 200,
        };
        let found = check(bad);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("health.period_ms: 0 is not in"),
            "{found:?}"
        );
        assert!(
            found[1].starts_with("health.halt_after_ms: 200 must be above stall_after_ms (200)"),
            "{found:?}"
        );
        let short = HealthConfig {
            period_ms: 50,
            stall_after_ms: 20,
            halt_after_ms: 100,
        };
        let found = check(short);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("health.stall_after_ms: 20 must be at least period_ms (50)"));
    }
}
