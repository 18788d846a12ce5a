//! The coordinator: scheduled tasks, degradation levels, scheduled orders (DCA/TWAP) and
//! the per-symbol regime, for one shard.
//!
//! It is a state machine in event time, driven by the shard's risk stage at each
//! decision (`stages::risk::coordinated`): the time it runs on is the input's, so a replay
//! starts, finishes and abandons the same task runs, changes level and sends the same
//! slices at the same decisions, whatever the thread timing or the shard count
//! (ARCHITECTURE.md, "The coordinator", gives the choice and its cost). Operators reach
//! it over the shards' control rings ([`Directive`], in [`crate::stages::Control`]).
//! Every state change is an [`Event`] risk journals: derived ones are re-derived and
//! checked on a restart, an operator's are re-applied at their input position.
//!
//! - [`tasks`]: the scheduler (period, deadline, dependencies, levels).
//! - [`level`]: normal / reduced / limited / emergency and what each allows.
//! - [`regime`], [`consensus`]: each symbol's volatility class, from its own measures.
//! - [`dca`]: parent orders sliced in time.
//!
//! The built-in tasks: `health` (the level: one step up after a period with a missed
//! deadline, one down after a clean one, never below the operator's floor),
//! `pnl_snapshot` (the shard's P&L, once every symbol is marked: journaled and shown by
//! `ctl status`), `regime` and `flatten_at` (from its start reduce-only, then after
//! `flatten.flat_after_ns` every target flat, for the rest of the day; it finishes once
//! the shard is flat with nothing working).

pub mod config;
pub mod consensus;
pub mod dca;
pub mod level;
pub mod regime;
pub mod tasks;

pub use self::config::CoordinatorConfig;
pub use self::dca::{DueSlice, ParentOrder, ScheduleConfig, SliceFate};
pub use self::level::{Level, LevelCause};

use self::config::FlattenConfig;
use self::dca::Schedules;
use self::level::LevelRules;
use self::regime::{Regime, RegimeCounts};
use self::tasks::{Scheduler, TaskCounts, TaskId};
use crate::merge::Merge;
use crate::msg::{MarketView, Price, SymbolId};

const HEALTH: TaskId = TaskId(0);
const PNL_SNAPSHOT: TaskId = TaskId(1);
const REGIME: TaskId = TaskId(2);
const FLATTEN_AT: TaskId = TaskId(3);

/// An operator's instruction to the coordinators, over the control rings.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Directive {
    /// Sets the level and makes it the floor the health task cannot go below.
    SetLevel(Level),
    /// Adds a parent order (`ctl schedule add`); the shard owning its symbol takes it.
    AddSchedule(ParentOrder),
}

/// A journaled state change of the coordinator.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Event {
    Level {
        level: Level,
        cause: LevelCause,
    },
    /// A parent order an operator added.
    Schedule {
        parent: ParentOrder,
    },
    Slice {
        parent: u16,
        slice: u16,
        fate: SliceFate,
    },
    /// The shard's P&L at event time `at`.
    Snapshot {
        at: u64,
        realised: Price,
        unrealised: Price,
    },
}

impl Event {
    /// The operator's directive this event records, if it records one.
    pub fn directive(&self) -> Option<Directive> {
        match *self {
            Event::Level {
                level,
                cause: LevelCause::Operator,
            } => Some(Directive::SetLevel(level)),
            Event::Schedule { parent } => Some(Directive::AddSchedule(parent)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Event::Level { level, cause } => {
                write!(f, "level {} ({cause:?})", level.as_str())
            }
            Event::Schedule { parent: p } => write!(
                f,
                "schedule symbol {} {:?} {} in {} slices from {} every {} ns, offset {}",
                p.symbol.0, p.side, p.quantity, p.slices, p.start_ns, p.interval_ns, p.limit_offset
            ),
            Event::Slice {
                parent,
                slice,
                fate,
            } => match fate {
                SliceFate::Sent(id) => write!(f, "schedule {parent} slice {slice} sent as {id}"),
                SliceFate::Refused(code) => {
                    write!(
                        f,
                        "schedule {parent} slice {slice} refused ({})",
                        code.as_str()
                    )
                }
            },
            Event::Snapshot {
                at,
                realised,
                unrealised,
            } => write!(
                f,
                "pnl at {at}: realised {realised}, unrealised {unrealised}"
            ),
        }
    }
}

/// The shard's P&L at a snapshot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub at: u64,
    pub realised: Price,
    pub unrealised: Price,
}

crate::stats! {
    /// What the coordinator did, for the report (summed over shards).
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct CoordinatorStats {
        /// Per task, in [`config::TASKS`] order.
        pub tasks: Vec<TaskCounts> => |m: &mut Vec<TaskCounts>, t: &Vec<TaskCounts>| {
            m.resize(t.len().max(m.len()), TaskCounts::default());
            m.iter_mut().zip(t).for_each(|(m, t)| m.merge(t));
        },
        pub level_changes: u64,
        /// The most severe level any shard ended at.
        pub level: Option<Level> => |m: &mut Option<Level>, t: &Option<Level>| *m = (*m).max(*t),
        pub regime: RegimeCounts,
        pub slices_sent: u64,
        pub slices_refused: u64,
        pub slices_remaining: u64,
        pub snapshots: u64,
        /// Per task, when its next period starts (the earliest over shards).
        pub next_ns: Vec<u64> => |m: &mut Vec<u64>, t: &Vec<u64>| {
            m.resize(t.len().max(m.len()), u64::MAX);
            m.iter_mut().zip(t).for_each(|(m, t)| *m = (*m).min(*t));
        },
        /// When the next slice of a scheduled order is due.
        pub next_slice_ns: Option<u64> => |m: &mut Option<u64>, t: &Option<u64>| {
            *m = match (*m, *t) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        },
        /// The latest P&L snapshot, summed over shards, at the oldest shard's time.
        pub snapshot: Option<Snapshot> => |m: &mut Option<Snapshot>, t: &Option<Snapshot>| {
            *m = match (*m, *t) {
                // Beyond what a price holds the sum is dropped, never wrapped.
                (Some(a), Some(b)) => a
                    .realised
                    .0
                    .checked_add(b.realised.0)
                    .zip(a.unrealised.0.checked_add(b.unrealised.0))
                    .map(|(r, u)| Snapshot {
                        at: a.at.min(b.at),
                        realised: Price(r),
                        unrealised: Price(u),
                    }),
                (a, b) => a.or(b),
            };
        },
    }
}

impl CoordinatorStats {
    /// Shards' stats summed; a shard without a coordinator adds nothing.
    pub fn merge_option(mine: &mut Option<CoordinatorStats>, theirs: &Option<CoordinatorStats>) {
        match (mine.as_mut(), theirs) {
            (Some(m), Some(t)) => m.merge(t),
            (None, Some(t)) => *mine = Some(t.clone()),
            (_, None) => {}
        }
    }
}

/// One shard's coordinator.
#[derive(Clone, Debug)]
pub struct Coordinator {
    rules: LevelRules,
    flatten_config: FlattenConfig,
    scheduler: Scheduler,
    owned: Vec<SymbolId>,
    level: Level,
    /// The operator's level: health never goes below it.
    floor: Level,
    /// Missed periods the health task has already answered.
    missed_seen: u64,
    regime: Regime,
    schedules: Schedules,
    /// When `flatten_at` started, if it has.
    flatten_since: Option<u64>,
    last_snapshot: Option<Snapshot>,
    level_changes: u64,
    snapshots: u64,
    /// Event time of the latest step.
    now: u64,
}

impl Coordinator {
    /// The coordinator of the shard owning `owned`, with `parents` from `[[schedule]]`
    /// (those of other shards' symbols are left to them).
    ///
    /// # Panics
    /// If `config` would not pass [`CoordinatorConfig::validate`].
    pub fn new(
        config: &CoordinatorConfig,
        symbols: usize,
        owned: &[SymbolId],
        parents: &[ParentOrder],
    ) -> Coordinator {
        let mut schedules = Schedules::new(symbols);
        for p in parents.iter().filter(|p| owned.contains(&p.symbol)) {
            schedules.add(*p);
        }
        Coordinator {
            rules: config.levels,
            flatten_config: config.flatten,
            scheduler: Scheduler::new(config.task_specs()),
            owned: owned.to_vec(),
            level: Level::Normal,
            floor: Level::Normal,
            missed_seen: 0,
            regime: Regime::new(config.regime, symbols),
            schedules,
            flatten_since: None,
            last_snapshot: None,
            level_changes: 0,
            snapshots: 0,
            now: 0,
        }
    }

    /// Takes the decision's view and time: feeds the regime, moves the scheduler, and
    /// runs what needs no more than the coordinator's own state. Returns the level
    /// change the health task made, if any, for risk to journal.
    pub fn step(&mut self, view: &MarketView, now: u64) -> Option<Event> {
        self.now = now;
        self.regime.observe(view);
        let mut change = None;
        // A task that finishes at once (health, an already-complete regime) lets its
        // dependants start at the same event: at most one pass per task.
        for _ in 0..self.scheduler.len() {
            let mut started = [false; config::TASKS.len()];
            self.scheduler
                .advance(now, self.level, |t| started[t.0] = true);
            if !started.contains(&true) {
                break;
            }
            if started[HEALTH.0] {
                change = change.or(self.health());
            }
            if started[REGIME.0] {
                self.regime.begin(&self.owned);
            }
            if started[FLATTEN_AT.0] {
                self.flatten_since = Some(now);
            }
        }
        match self.scheduler.state(REGIME) {
            tasks::RunState::Abandoned => self.regime.abandon(&self.owned),
            tasks::RunState::Running if self.regime.done() => self.scheduler.finish(REGIME, now),
            _ => {}
        }
        change
    }

    /// The health run: answers the periods missed since the last one.
    fn health(&mut self) -> Option<Event> {
        let missed = self.scheduler.missed();
        let next = if missed > self.missed_seen {
            self.level.raised()
        } else {
            self.level.lowered().max(self.floor)
        };
        self.missed_seen = missed;
        self.scheduler.finish(HEALTH, self.now);
        self.set_level(next, LevelCause::Health)
    }

    fn set_level(&mut self, level: Level, cause: LevelCause) -> Option<Event> {
        if level == self.level {
            return None;
        }
        self.level = level;
        self.level_changes += 1;
        Some(Event::Level { level, cause })
    }

    /// Whether `directive` concerns this shard (a schedule of a symbol it owns).
    pub fn concerns(&self, directive: Directive) -> bool {
        match directive {
            Directive::SetLevel(_) => true,
            Directive::AddSchedule(p) => self.owned.contains(&p.symbol),
        }
    }

    /// Applies an operator's directive; returns the event to journal.
    pub fn apply(&mut self, directive: Directive) -> Event {
        match directive {
            Directive::SetLevel(level) => {
                self.floor = level;
                if level != self.level {
                    self.level_changes += 1;
                }
                self.level = level;
                Event::Level {
                    level,
                    cause: LevelCause::Operator,
                }
            }
            Directive::AddSchedule(parent) => {
                self.schedules.add(parent);
                Event::Schedule { parent }
            }
        }
    }

    /// True while `pnl_snapshot` waits for its figures.
    pub fn wants_snapshot(&self) -> bool {
        self.scheduler.state(PNL_SNAPSHOT) == tasks::RunState::Running
    }

    /// The snapshot's figures (every symbol marked); returns the event to journal.
    pub fn snapshot(&mut self, realised: Price, unrealised: Price) -> Event {
        let at = self.now;
        self.last_snapshot = Some(Snapshot {
            at,
            realised,
            unrealised,
        });
        self.snapshots += 1;
        self.scheduler.finish(PNL_SNAPSHOT, at);
        Event::Snapshot {
            at,
            realised,
            unrealised,
        }
    }

    /// True while `flatten_at`'s run waits for the shard to be flat.
    pub fn wants_flat(&self) -> bool {
        self.scheduler.state(FLATTEN_AT) == tasks::RunState::Running
    }

    /// The shard is flat with nothing working.
    pub fn flat(&mut self) {
        self.scheduler.finish(FLATTEN_AT, self.now);
    }

    /// Only orders that reduce a position: the level's rule, or `flatten_at` started.
    pub fn reduce_only(&self) -> bool {
        self.rules.rule(self.level).reduce_only || self.flatten_since.is_some()
    }

    /// The target risk trades `symbol` toward, from the model's `target`: flat once
    /// `flatten_at` is past its reduce-only phase; otherwise scaled by the regime and
    /// the level, plus the slices sent.
    pub fn target(&self, symbol: SymbolId, target: i32) -> i32 {
        if let Some(since) = self.flatten_since
            && self.now.saturating_sub(since) >= self.flatten_config.flat_after_ns
        {
            return 0;
        }
        let scale = self.regime.scale(symbol) * self.rules.rule(self.level).target_scale;
        let scaled = (f64::from(target) * scale).round() as i64;
        let total = scaled.saturating_add(self.schedules.offset(symbol));
        total.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }

    /// A slice of `symbol` to send now, if one is due and the level allows schedules
    /// (none once `flatten_at` has started).
    pub fn due_slice(&self, symbol: SymbolId, view: &MarketView) -> Option<DueSlice> {
        if !self.rules.rule(self.level).schedules || self.flatten_since.is_some() {
            return None;
        }
        self.schedules.due(symbol, self.now, view)
    }

    /// Records a slice's fate; returns the event to journal.
    pub fn settle(&mut self, slice: &DueSlice, symbol: SymbolId, fate: SliceFate) -> Event {
        self.schedules.settle(slice, symbol, fate);
        Event::Slice {
            parent: slice.parent,
            slice: slice.slice,
            fate,
        }
    }

    /// Sizing leaves a live slice to its own fate (TTL, halt).
    pub fn is_slice(&self, id: crate::msg::ClOrdId) -> bool {
        self.schedules.is_slice(id)
    }

    pub fn order_closed(&mut self, id: crate::msg::ClOrdId) {
        self.schedules.closed(id);
    }

    pub fn stats(&self) -> CoordinatorStats {
        let mut stats = CoordinatorStats::default();
        self.publish(&mut stats);
        stats
    }

    /// Writes [`Coordinator::stats`] into `into` in place: no allocation once `into` has
    /// held them (runners publish from the hot path).
    pub fn publish(&self, into: &mut CoordinatorStats) {
        into.tasks.clear();
        into.tasks
            .extend((0..self.scheduler.len()).map(|i| self.scheduler.counts(TaskId(i))));
        into.level_changes = self.level_changes;
        into.level = Some(self.level);
        into.regime = self.regime.counts;
        into.slices_sent = self.schedules.sent;
        into.slices_refused = self.schedules.refused;
        into.slices_remaining = self.schedules.remaining();
        into.snapshots = self.snapshots;
        into.next_ns.clear();
        into.next_ns.extend(
            (0..self.scheduler.len()).map(|i| self.scheduler.next_start(TaskId(i), self.now)),
        );
        into.next_slice_ns = self.schedules.next_due();
        into.snapshot = self.last_snapshot;
    }
}
