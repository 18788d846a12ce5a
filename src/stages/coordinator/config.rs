//! `[coordinator]`: the scheduled tasks, the degradation levels and the regime's
//! classification. Optional as a whole (a run without it has no coordinator); inside
//! it every key is required.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::dca::DAY_NS;
use super::level::{Level, LevelRules, LevelSet};
use super::regime::RegimeConfig;
use super::tasks::{TaskId, TaskSpec};
use crate::config::Problems;

/// The built-in tasks, in the order the scheduler holds them.
pub const TASKS: [&str; 4] = ["health", "pnl_snapshot", "regime", "flatten_at"];

/// One task's timing.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Event time (ns since midnight) of the first period's start.
    pub first_at_ns: u64,
    pub period_ns: u64,
    /// After each start; at most the period.
    pub deadline_ns: u64,
    /// Tasks (by name) that must finish in a period before this one starts in it.
    pub after: Vec<String>,
    /// Levels it may run at; `[]` never runs it.
    pub levels: Vec<Level>,
}

/// `[coordinator.flatten]`: what `flatten_at` does once it starts.
#[derive(Copy, Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlattenConfig {
    /// Reduce-only for this long after the start, then every target is flat.
    pub flat_after_ns: u64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorConfig {
    pub levels: LevelRules,
    /// Keyed by the names in [`TASKS`]; each is required.
    pub tasks: BTreeMap<String, TaskConfig>,
    pub regime: RegimeConfig,
    pub flatten: FlattenConfig,
}

impl CoordinatorConfig {
    pub fn validate(&self, p: &mut Problems<'_>) {
        self.levels.validate(&mut p.nested("levels"));
        p.check(
            self.flatten.flat_after_ns <= DAY_NS,
            "flatten.flat_after_ns",
            format!("{} is more than one day", self.flatten.flat_after_ns),
        );
        self.regime.validate(&mut p.nested("regime"));
        let tasks = &mut p.nested("tasks");
        for name in TASKS {
            if !self.tasks.contains_key(name) {
                tasks.add(name, "missing: every built-in task needs its timing");
            }
        }
        for (name, task) in &self.tasks {
            if !TASKS.contains(&name.as_str()) {
                tasks.add(
                    name,
                    format!("not a task (the tasks are {})", TASKS.join(", ")),
                );
                continue;
            }
            let t = &mut tasks.nested(name);
            t.check(
                (1..=DAY_NS).contains(&task.period_ns),
                "period_ns",
                format!("{} is not 1 ns to one day", task.period_ns),
            );
            t.check(
                task.first_at_ns < DAY_NS,
                "first_at_ns",
                format!(
                    "{} is not a time of day (ns since midnight)",
                    task.first_at_ns
                ),
            );
            t.check(
                task.deadline_ns <= task.period_ns,
                "deadline_ns",
                format!(
                    "{} is past the period ({})",
                    task.deadline_ns, task.period_ns
                ),
            );
            for dep in &task.after {
                t.check(
                    TASKS.contains(&dep.as_str()) && dep != name,
                    "after",
                    format!("{dep} is not another task"),
                );
            }
        }
        if self.has_cycle() {
            tasks.add(
                "after",
                "the dependencies form a cycle: no task in it could ever run",
            );
        }
    }

    fn index(name: &str) -> Option<usize> {
        TASKS.iter().position(|&t| t == name)
    }

    fn has_cycle(&self) -> bool {
        // Depth-first over at most four tasks: a path longer than the task count loops.
        fn walk(c: &CoordinatorConfig, name: &str, depth: usize) -> bool {
            depth > TASKS.len()
                || c.tasks
                    .get(name)
                    .is_some_and(|t| t.after.iter().any(|d| walk(c, d, depth + 1)))
        }
        TASKS.iter().any(|t| walk(self, t, 0))
    }

    /// The scheduler's tasks, in [`TASKS`] order.
    ///
    /// # Panics
    /// If the config would not pass [`CoordinatorConfig::validate`].
    pub fn task_specs(&self) -> Vec<TaskSpec> {
        TASKS
            .iter()
            .map(|&name| {
                let t = &self.tasks[name];
                TaskSpec {
                    name,
                    first_at_ns: t.first_at_ns,
                    period_ns: t.period_ns,
                    deadline_ns: t.deadline_ns,
                    after: t
                        .after
                        .iter()
                        .map(|d| TaskId(Self::index(d).expect("validated")))
                        .collect(),
                    levels: LevelSet::of(&t.levels),
                }
            })
            .collect()
    }
}
