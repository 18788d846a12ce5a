//! The task scheduler, in whatever time it is given (event time in replay). Each task
//! has a period (its runs start at `first_at + k × period`), a deadline after each
//! start, dependencies, and the levels it may run at.
//!
//! - A run that has not finished by its deadline is abandoned and counted; it holds
//!   nothing, so the other tasks go on, and the next period starts a fresh run.
//! - A task with dependencies starts in a period only once each of them has finished
//!   in it (finished at or after this period's start); past its deadline still waiting,
//!   the period is counted as blocked.
//! - At a level its set excludes, the period is skipped and counted.
//!
//! The scheduler never reads a clock: `advance(now)` is called with the time of each
//! event, so a replay starts, finishes and abandons the same runs at the same events.

use super::level::{Level, LevelSet};

/// A task's index in the scheduler (the order it was configured in).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TaskId(pub usize);

#[derive(Clone, Debug, PartialEq)]
pub struct TaskSpec {
    pub name: &'static str,
    pub first_at_ns: u64,
    pub period_ns: u64,
    /// After a run's start; at most the period.
    pub deadline_ns: u64,
    /// Tasks that must finish in a period before this one starts in it.
    pub after: Vec<TaskId>,
    pub levels: LevelSet,
}

/// Where a task's current period stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Before its first period.
    NotYet,
    /// Its dependencies have not all finished in this period.
    Waiting,
    Running,
    Finished,
    Abandoned,
    Blocked,
    Skipped,
}

crate::stats! {
    /// One task's runs, over the session.
    #[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
    pub struct TaskCounts {
        pub started: u64,
        pub finished: u64,
        /// Runs still running at their deadline.
        pub abandoned: u64,
        /// Periods whose dependencies had not finished by the deadline.
        pub blocked: u64,
        /// Periods at a level the task may not run at.
        pub skipped: u64,
    }
}

#[derive(Clone, Debug)]
struct Task {
    spec: TaskSpec,
    /// Start of the current period, once the first has begun.
    period_start: Option<u64>,
    state: RunState,
    /// When the latest run finished.
    finished_at: Option<u64>,
    counts: TaskCounts,
}

#[derive(Clone, Debug)]
pub struct Scheduler {
    tasks: Vec<Task>,
    /// Nothing can change before this time unless a run finishes: `advance` returns at
    /// once until then (one compare per event instead of a division per task).
    wake_at: u64,
}

impl Scheduler {
    /// # Panics
    /// If a period is 0, a deadline exceeds its period, or a dependency names a task
    /// that does not exist or itself (config validation rejects each first).
    pub fn new(specs: Vec<TaskSpec>) -> Scheduler {
        let n = specs.len();
        for (i, s) in specs.iter().enumerate() {
            assert!(s.period_ns > 0, "task {}: period 0", s.name);
            assert!(
                s.deadline_ns <= s.period_ns,
                "task {}: deadline past its period",
                s.name
            );
            assert!(
                s.after.iter().all(|d| d.0 < n && d.0 != i),
                "task {}: bad dependency",
                s.name
            );
        }
        Scheduler {
            tasks: specs
                .into_iter()
                .map(|spec| Task {
                    spec,
                    period_start: None,
                    state: RunState::NotYet,
                    finished_at: None,
                    counts: TaskCounts::default(),
                })
                .collect(),
            wake_at: 0,
        }
    }

    /// Moves every task to `now` at `level`: closes runs past their deadline, opens
    /// periods that began, and starts what may start. `started` is called once per run
    /// started, in task order; a dependency finished earlier at `now` counts.
    pub fn advance(&mut self, now: u64, level: Level, mut started: impl FnMut(TaskId)) {
        if now < self.wake_at {
            return;
        }
        for i in 0..self.tasks.len() {
            self.close_and_open(i, now, level);
        }
        // A start never finishes anything, so one pass in task order settles every
        // dependency that has finished by now.
        for i in 0..self.tasks.len() {
            if self.tasks[i].state == RunState::Waiting && self.dependencies_done(i) {
                self.start(i, level);
                if self.tasks[i].state == RunState::Running {
                    started(TaskId(i));
                }
            }
        }
        self.wake_at = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let next = self.next_start(TaskId(i), now);
                match (t.state, t.period_start) {
                    (RunState::Running | RunState::Waiting, Some(start)) => {
                        next.min(start + t.spec.deadline_ns + 1)
                    }
                    _ => next,
                }
            })
            .min()
            .unwrap_or(u64::MAX);
    }

    fn close_and_open(&mut self, i: usize, now: u64, level: Level) {
        let task = &mut self.tasks[i];
        let spec = &task.spec;
        if now < spec.first_at_ns {
            return;
        }
        let start = now - (now - spec.first_at_ns) % spec.period_ns;
        if let Some(current) = task.period_start
            && current < start
        {
            Self::close(task);
        }
        if task.period_start != Some(start) {
            task.period_start = Some(start);
            task.state = RunState::Waiting;
            if !task.spec.levels.contains(level) {
                task.state = RunState::Skipped;
                task.counts.skipped += 1;
            }
        }
        let task = &mut self.tasks[i];
        if now > start + task.spec.deadline_ns {
            Self::close(task);
        }
    }

    /// The period's deadline passed: what is still open is abandoned or blocked.
    fn close(task: &mut Task) {
        match task.state {
            RunState::Running => {
                task.state = RunState::Abandoned;
                task.counts.abandoned += 1;
            }
            // No event reached the period before its deadline: it could not run.
            RunState::Waiting if task.spec.after.is_empty() => {
                task.state = RunState::Abandoned;
                task.counts.abandoned += 1;
            }
            RunState::Waiting => {
                task.state = RunState::Blocked;
                task.counts.blocked += 1;
            }
            _ => {}
        }
    }

    fn dependencies_done(&self, i: usize) -> bool {
        let start = self.tasks[i].period_start;
        self.tasks[i].spec.after.iter().all(|d| {
            let dep = &self.tasks[d.0];
            matches!((dep.finished_at, start), (Some(f), Some(s)) if f >= s)
        })
    }

    fn start(&mut self, i: usize, level: Level) {
        let task = &mut self.tasks[i];
        if task.spec.levels.contains(level) {
            task.state = RunState::Running;
            task.counts.started += 1;
        } else {
            task.state = RunState::Skipped;
            task.counts.skipped += 1;
        }
    }

    /// `task`'s run finished its work at `now`. A run already abandoned stays so.
    pub fn finish(&mut self, task: TaskId, now: u64) {
        let task = &mut self.tasks[task.0];
        if task.state == RunState::Running {
            task.state = RunState::Finished;
            task.finished_at = Some(now);
            task.counts.finished += 1;
            // A dependant may start now.
            self.wake_at = 0;
        }
    }

    pub fn state(&self, task: TaskId) -> RunState {
        self.tasks[task.0].state
    }

    pub fn counts(&self, task: TaskId) -> TaskCounts {
        self.tasks[task.0].counts
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Abandoned and blocked periods so far, over every task: what the health task
    /// watches.
    pub fn missed(&self) -> u64 {
        self.tasks
            .iter()
            .map(|t| t.counts.abandoned + t.counts.blocked)
            .sum()
    }

    /// When `task`'s next period starts, seen from `now`.
    pub fn next_start(&self, task: TaskId, now: u64) -> u64 {
        let spec = &self.tasks[task.0].spec;
        if now < spec.first_at_ns {
            return spec.first_at_ns;
        }
        now - (now - spec.first_at_ns) % spec.period_ns + spec.period_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Level; 4] = Level::ALL;

    fn spec(name: &'static str, period: u64, deadline: u64, after: &[usize]) -> TaskSpec {
        TaskSpec {
            name,
            first_at_ns: 0,
            period_ns: period,
            deadline_ns: deadline,
            after: after.iter().map(|&i| TaskId(i)).collect(),
            levels: LevelSet::of(&ALL),
        }
    }

    fn advance(s: &mut Scheduler, now: u64) -> Vec<usize> {
        let mut started = Vec::new();
        s.advance(now, Level::Normal, |t| started.push(t.0));
        started
    }

    #[test]
    fn task_past_deadline_does_not_block_others() {
        let (stuck, other) = (TaskId(0), TaskId(1));
        let mut s = Scheduler::new(vec![
            spec("stuck", 100, 10, &[]),
            spec("other", 100, 50, &[]),
        ]);
        assert_eq!(advance(&mut s, 0), [0, 1], "both start with the period");
        // The stuck task never finishes; past its deadline it is abandoned, alone.
        assert_eq!(advance(&mut s, 20), Vec::<usize>::new());
        assert_eq!(s.state(stuck), RunState::Abandoned);
        assert_eq!(s.state(other), RunState::Running);
        s.finish(other, 30);
        assert_eq!(s.state(other), RunState::Finished);
        // Finishing after abandonment changes nothing.
        s.finish(stuck, 40);
        assert_eq!(s.state(stuck), RunState::Abandoned);
        // Next period: both start again; the abandoned run held nothing.
        assert_eq!(advance(&mut s, 105), [0, 1]);
        s.finish(other, 106);
        assert_eq!(
            advance(&mut s, 205),
            [0, 1],
            "the period after starts fresh"
        );
        assert_eq!(s.counts(stuck).abandoned, 2, "periods 0 and 100");
        // A period no event reached before its deadline could not run: abandoned too.
        assert_eq!(advance(&mut s, 340), [1]);
        assert_eq!(s.counts(stuck).abandoned, 4, "periods 200 and 300");
        assert_eq!(s.counts(stuck).finished, 0);
        assert_eq!(s.counts(other).finished, 2);
        assert_eq!(
            s.counts(other).abandoned,
            1,
            "period 200's run, never finished"
        );
        assert_eq!(s.missed(), 5);
    }

    #[test]
    fn task_dependency_is_enforced() {
        let (a, b) = (TaskId(0), TaskId(1));
        let mut s = Scheduler::new(vec![spec("a", 100, 50, &[]), spec("b", 100, 80, &[0])]);
        assert_eq!(advance(&mut s, 0), [0], "b waits for a");
        assert_eq!(s.state(b), RunState::Waiting);
        assert_eq!(advance(&mut s, 5), Vec::<usize>::new());
        s.finish(a, 7);
        assert_eq!(
            advance(&mut s, 7),
            [1],
            "b starts once a finished in the period"
        );
        s.finish(b, 9);
        // Period 100: a's finish from period 0 does not count.
        assert_eq!(advance(&mut s, 100), [0]);
        assert_eq!(s.state(b), RunState::Waiting);
        // a misses its deadline: b never starts this period and is counted blocked.
        assert_eq!(advance(&mut s, 160), Vec::<usize>::new());
        assert_eq!(s.state(a), RunState::Abandoned);
        assert_eq!(s.state(b), RunState::Waiting);
        assert_eq!(advance(&mut s, 181), Vec::<usize>::new());
        assert_eq!(s.state(b), RunState::Blocked);
        assert_eq!(s.counts(b).started, 1);
        assert_eq!(s.counts(b).blocked, 1);
        assert_eq!(s.counts(a).abandoned, 1);
    }

    #[test]
    fn a_task_skips_levels_outside_its_set() {
        let mut only_normal = spec("n", 100, 50, &[]);
        only_normal.levels = LevelSet::of(&[Level::Normal]);
        let mut s = Scheduler::new(vec![only_normal]);
        let mut started = 0;
        s.advance(0, Level::Limited, |_| started += 1);
        assert_eq!(started, 0);
        assert_eq!(s.state(TaskId(0)), RunState::Skipped);
        s.advance(100, Level::Normal, |_| started += 1);
        assert_eq!(started, 1);
        assert_eq!(s.counts(TaskId(0)).skipped, 1);
        assert_eq!(s.next_start(TaskId(0), 150), 200);
    }

    #[test]
    fn a_task_waits_for_its_first_time() {
        let mut later = spec("later", 100, 50, &[]);
        later.first_at_ns = 1_000;
        let mut s = Scheduler::new(vec![later]);
        assert_eq!(advance(&mut s, 999), Vec::<usize>::new());
        assert_eq!(s.state(TaskId(0)), RunState::NotYet);
        assert_eq!(s.next_start(TaskId(0), 5), 1_000);
        assert_eq!(advance(&mut s, 1_000), [0]);
    }
}
