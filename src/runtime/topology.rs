//! Topologies (`pipelines/*.toml`): which stages run on which runner and core, ring
//! capacities and policies, idle strategies, and how symbols map to shards.
//!
//! Changing the topology never changes a decision (tests/determinism.rs): stages run in
//! event time, so only where rings sit and which threads spin differ.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{ConfigError, Problem, Problems, read_toml};
use crate::msg::{ExecReport, RawFrame, SymbolId, VenueCommand};
use crate::stages::Control;
use crate::stages::list::stage_list;
use crate::stages::risk::venue_sync::INBOX_CAPACITY;
use crate::sys::edge::{Backpressure, RingKind};
use crate::sys::idle::IdleStrategy;
use crate::universe::Universe;

/// Generates [`StageId`] and [`EdgeKind`] from the stage list: one id per stage, one
/// ring kind per stage boundary, and the rings that are not stage boundaries.
macro_rules! stage_kinds {
    (@after) => { None };
    (@after $edge:ident) => { Some(EdgeKind::$edge) };
    ($( ($id:ident, $field:ident, stage: $stage:ty, stats: $stats:ty $(, ring: $edge:ident $ring:ident: $msg:ty)?) ),* $(,)?) => {
        /// The stages, in pipeline order.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum StageId {
            $($id,)*
        }

        impl StageId {
            pub const ALL: [StageId; [$(StageId::$id),*].len()] = [$(StageId::$id),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(StageId::$id => stringify!($field),)*
                }
            }
        }

        /// The rings a pipeline can have. The ring after a stage exists only where the
        /// next stage runs on a different runner.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum EdgeKind {
            /// source → decode, one per shard.
            Feed,
            $($(
                #[doc = concat!("The ring after ", stringify!($field), ".")]
                $edge,
            )?)*
            /// routing → venue.
            Venue,
            /// venue → risk (execution reports). The venue never waits on it (its outbox
            /// takes what does not fit, `venue::runner`), so its `policy` is not applied
            /// and its `full` count is the passes that found it full.
            Reports,
            /// the pipeline's owner → every runner.
            Control,
        }

        impl EdgeKind {
            /// Bytes one slot of this ring takes on `ring`: the size of the message it
            /// carries, or on a `seq` ring the message and its sequence number, padded to
            /// whole cache lines.
            fn slot_bytes(self, ring: RingKind) -> usize {
                fn of<T>(ring: RingKind) -> usize {
                    match ring {
                        RingKind::Rtrb => size_of::<T>(),
                        RingKind::Seq => crate::sys::ring::slot_bytes::<T>(),
                    }
                }
                match self {
                    EdgeKind::Feed => of::<RawFrame>(ring),
                    $($(EdgeKind::$edge => of::<$msg>(ring),)?)*
                    EdgeKind::Venue => of::<VenueCommand>(ring),
                    EdgeKind::Reports => of::<ExecReport>(ring),
                    EdgeKind::Control => of::<Control>(ring),
                }
            }

            pub fn name(self) -> &'static str {
                match self {
                    EdgeKind::Feed => "feed",
                    $($(EdgeKind::$edge => stringify!($ring),)?)*
                    EdgeKind::Venue => "venue",
                    EdgeKind::Reports => "reports",
                    EdgeKind::Control => "control",
                }
            }

            /// The ring after `stage` when the next stage runs elsewhere.
            fn after(stage: StageId) -> Option<EdgeKind> {
                match stage {
                    $(StageId::$id => stage_kinds!(@after $($edge)?),)*
                }
            }
        }
    };
}

stage_list!(stage_kinds);

/// One ring's size, full-ring policy and implementation.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingSpec {
    pub capacity: usize,
    pub policy: Backpressure,
    /// `rtrb`, or `seq` (our own, a sequence number in each slot): chosen per ring, by
    /// what the hop measures for its message (BENCHMARKS.md).
    pub ring: RingKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShardsFile {
    count: usize,
    map: MapKind,
    assign: Option<BTreeMap<String, usize>>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum MapKind {
    /// `SymbolId(i)` on shard `i % count`.
    RoundRobin,
    /// Every ticker listed in `[shards.assign]`.
    Explicit,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SingleFile {
    idle: IdleStrategy,
    core: Option<usize>,
}

/// Where the venue runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VenuePlacement {
    /// On its own thread, serving every shard over rings.
    Thread,
    /// Called directly on the shard runner that drives risk and routing: no ring and no
    /// risk ↔ venue round trip across threads on the decision path.
    Inline,
}

/// `[venue]`: `idle` and `core` belong to a venue thread, so only `placement = "thread"`
/// has them (and needs `idle`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct VenueFile {
    placement: VenuePlacement,
    idle: Option<IdleStrategy>,
    core: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunnerFile {
    name: String,
    stages: Vec<StageId>,
    idle: IdleStrategy,
    /// One core per shard, indexed by shard.
    cores: Option<Vec<usize>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopologyFile {
    description: String,
    shards: ShardsFile,
    source: SingleFile,
    venue: VenueFile,
    runner: Vec<RunnerFile>,
    rings: BTreeMap<EdgeKind, RingSpec>,
}

/// A runner with no per-shard copies (source, venue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleRunner {
    pub idle: IdleStrategy,
    pub core: Option<usize>,
}

/// Where the venue runs, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VenueRunner {
    Thread(SingleRunner),
    Inline,
}

/// One per-shard runner: a contiguous run of stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRunner {
    pub name: String,
    pub first: StageId,
    pub last: StageId,
    pub idle: IdleStrategy,
    pub cores: Option<Vec<usize>>,
}

/// A validated topology, resolved against a universe and a shard count.
#[derive(Debug, Clone)]
pub struct Topology {
    pub path: PathBuf,
    pub description: String,
    pub shards: usize,
    /// Shard of each symbol, indexed by `SymbolId`.
    pub shard_of: Vec<usize>,
    pub source: SingleRunner,
    pub venue: VenueRunner,
    pub runners: Vec<ShardRunner>,
    pub rings: BTreeMap<EdgeKind, RingSpec>,
}

/// Largest ring accepted: 1 M slots, 64× the shipped feed ring (16384). A deeper ring
/// does not make a slow consumer faster, it only delays the backpressure that shows it.
const MAX_CAPACITY: usize = 1 << 20;
/// Every ring of every shard is allocated at start-up; all of them together may take at
/// most 256 MiB; the shipped staged topology with 8 shards takes about 33 MiB.
const MAX_RING_BYTES: usize = 256 << 20;
/// Shards are threads; more than this on one host is a typo.
const MAX_SHARDS: usize = 256;
/// Longest backoff park: a parked runner reads its control ring (halt, stop) only between
/// parks, so a longer park is a kill switch that answers late; the shipped files park at
/// most 100 µs.
const MAX_PARK_NS: u64 = 1_000_000_000;
/// Largest reports ring: half of risk's pre-sized inbox, which receives a whole ring's
/// worth at a time and keeps the reports not yet due beside them.
const MAX_REPORTS: usize = INBOX_CAPACITY / 2;

/// The ids of the cores this process may run on: what [`Topology::load`] checks a
/// topology's cores against. Empty where the host does not say.
pub fn host_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

impl Topology {
    /// Reads and validates `path`; `shards` overrides `[shards] count`. `cores` are the
    /// host's usable core ids (checked here so a missing core is a start-up error).
    pub fn load(
        path: &Path,
        shards: Option<usize>,
        universe: &Universe,
        cores: &[usize],
    ) -> Result<Topology, ConfigError> {
        let file: TopologyFile = read_toml(path)?;
        let mut problems = Vec::new();
        let topology = resolve(
            path,
            file,
            shards,
            universe,
            cores,
            &mut Problems::new("", &mut problems),
        );
        if problems.is_empty() {
            Ok(topology)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    /// The symbols shard `s` owns, in `SymbolId` order.
    pub fn owned(&self, shard: usize) -> Vec<SymbolId> {
        (0..self.shard_of.len())
            .filter(|&i| self.shard_of[i] == shard)
            .map(|i| SymbolId(i as u16))
            .collect()
    }

    /// The ring settings for `kind`; present by validation for every ring the topology has.
    pub fn ring(&self, kind: EdgeKind) -> RingSpec {
        self.rings[&kind]
    }

    /// The ring after `stage` on its runner, if the next stage runs on another runner.
    pub fn edge_after(&self, stage: StageId) -> Option<EdgeKind> {
        self.runners
            .iter()
            .find(|r| r.last == stage)
            .and_then(|_| EdgeKind::after(stage))
    }
}

fn resolve(
    path: &Path,
    file: TopologyFile,
    shards_override: Option<usize>,
    universe: &Universe,
    cores: &[usize],
    p: &mut Problems<'_>,
) -> Topology {
    let shards = shards_override.unwrap_or(file.shards.count);
    let key = if shards_override.is_some() {
        "--shards"
    } else {
        "shards.count"
    };
    // One problem for a bad count: the per-shard checks below would otherwise add a
    // line for every shard it leaves empty.
    let most = MAX_SHARDS.min(universe.len());
    let shards_ok = (1..=most).contains(&shards);
    p.check(
        shards_ok,
        key,
        format!(
            "{shards} shards; use 1 to {most} (each shard needs a symbol to trade, and \
             {} are configured; a shard is a thread, at most {MAX_SHARDS})",
            universe.len()
        ),
    );
    let shard_of = shard_map(&file.shards, shards, universe, &mut p.nested("shards"));
    if shards_ok && shard_of.len() == universe.len() {
        for empty in (0..shards).filter(|s| !shard_of.contains(s)) {
            p.add(
                "shards",
                format!("shard {empty} owns no symbol: every shard must have something to trade"),
            );
        }
    }

    let check_core = |p: &mut Problems<'_>, key: &str, core: usize| {
        p.check(
            cores.contains(&core),
            key,
            format!("core {core} does not exist on this host (usable cores: {cores:?})"),
        );
    };
    check_idle(p, "source.idle", &file.source.idle);
    if let Some(core) = file.source.core {
        check_core(p, "source.core", core);
    }
    let venue = &file.venue;
    let venue_thread = venue.placement == VenuePlacement::Thread;
    match (&venue.idle, venue_thread) {
        (Some(idle), true) => check_idle(p, "venue.idle", idle),
        (None, true) => p.add("venue.idle", "required for placement = \"thread\""),
        (Some(_), false) => p.add(
            "venue.idle",
            "an inline venue runs on its shard's runner, with that runner's idle strategy",
        ),
        (None, false) => {}
    }
    match (venue.core, venue_thread) {
        (Some(core), true) => check_core(p, "venue.core", core),
        (Some(_), false) => p.add(
            "venue.core",
            "an inline venue runs on its shard's runner, on that runner's core",
        ),
        (None, _) => {}
    }

    let mut runners = Vec::new();
    let mut next_stage = 0usize;
    for (i, r) in file.runner.iter().enumerate() {
        let key = format!("runner[{i}]");
        let valid_name = !r.name.is_empty()
            && r.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        p.check(
            valid_name,
            &format!("{key}.name"),
            format!("{:?}: use letters, digits, '-' and '_'", r.name),
        );
        if file.runner[..i].iter().any(|o| o.name == r.name) {
            p.add(
                &format!("{key}.name"),
                format!("{:?} is used by an earlier runner", r.name),
            );
        }
        check_idle(p, &format!("{key}.idle"), &r.idle);
        let contiguous = r
            .stages
            .iter()
            .enumerate()
            .all(|(k, s)| *s as usize == next_stage + k);
        if r.stages.is_empty() || !contiguous {
            let want = StageId::ALL
                .get(next_stage)
                .map_or("none (all five are placed)", |s| s.name());
            p.add(
                &format!("{key}.stages"),
                format!(
                    "{:?}: each runner takes the next stages in pipeline order (decode, features, inference, risk, routing); the next is {want}",
                    r.stages.iter().map(|s| s.name()).collect::<Vec<_>>()
                ),
            );
            continue;
        }
        next_stage += r.stages.len();
        if let Some(list) = &r.cores {
            p.check(
                list.len() >= shards,
                &format!("{key}.cores"),
                format!(
                    "{} core(s) listed for {shards} shard(s): list one per shard",
                    list.len()
                ),
            );
            for &core in list {
                check_core(p, &format!("{key}.cores"), core);
            }
        }
        runners.push(ShardRunner {
            name: r.name.clone(),
            first: r.stages[0],
            last: r.stages[r.stages.len() - 1],
            idle: r.idle,
            cores: r.cores.clone(),
        });
    }
    if next_stage < StageId::ALL.len() && runners.len() == file.runner.len() {
        p.add(
            "runner",
            format!(
                "stages from {} on are on no runner",
                StageId::ALL[next_stage].name()
            ),
        );
    }

    if !venue_thread
        && let Some(risk) = runners
            .iter()
            .find(|r| r.first <= StageId::Risk && StageId::Risk <= r.last)
        && risk.last != StageId::Routing
    {
        p.add(
            "venue.placement",
            format!(
                "\"inline\" calls the venue from the runner that drives risk, so risk and \
                 routing must be on one runner; runner {:?} ends at {}",
                risk.name,
                risk.last.name()
            ),
        );
    }
    let mut needed = vec![EdgeKind::Feed, EdgeKind::Control];
    if venue_thread {
        needed.extend([EdgeKind::Venue, EdgeKind::Reports]);
    }
    needed.extend(runners.iter().filter_map(|r| EdgeKind::after(r.last)));
    for kind in &needed {
        match file.rings.get(kind) {
            None => p.add(
                &format!("rings.{}", kind.name()),
                "missing: this topology has that ring",
            ),
            Some(spec) if !(1..=MAX_CAPACITY).contains(&spec.capacity) => p.add(
                &format!("rings.{}.capacity", kind.name()),
                format!("{} slots; use 1 to {MAX_CAPACITY}", spec.capacity),
            ),
            Some(spec) => {
                if let Some(problem) = spec.ring.capacity_problem(spec.capacity) {
                    p.add(&format!("rings.{}.capacity", kind.name()), problem);
                }
            }
        }
    }
    if let Some(reports) = file.rings.get(&EdgeKind::Reports) {
        p.check(
            reports.capacity <= MAX_REPORTS,
            "rings.reports.capacity",
            format!(
                "{} slots; at most {MAX_REPORTS}: risk drains the whole ring into an inbox of {INBOX_CAPACITY} \
                 reports that also holds the ones not yet due, and a larger ring would make it grow mid-stream",
                reports.capacity
            ),
        );
    }
    let ring_bytes = ring_bytes(&file, &needed, &runners, shards);
    p.check(
        !shards_ok || ring_bytes <= MAX_RING_BYTES as u128,
        "rings",
        format!(
            "{} MiB of rings for {shards} shard(s); at most {} MiB: every ring of every shard \
             is allocated at start-up (capacity × message size, per shard and per runner \
             for the control rings)",
            ring_bytes >> 20,
            MAX_RING_BYTES >> 20
        ),
    );
    for kind in file.rings.keys().filter(|k| !needed.contains(k)) {
        let why = match kind {
            EdgeKind::Venue | EdgeKind::Reports => "the venue is inline",
            _ => "the stages on either side of it run on the same runner",
        };
        p.add(
            &format!("rings.{}", kind.name()),
            format!("not a ring in this topology: {why}"),
        );
    }

    Topology {
        path: path.to_path_buf(),
        description: file.description,
        shards,
        shard_of,
        source: SingleRunner {
            idle: file.source.idle,
            core: file.source.core,
        },
        venue: match (file.venue.placement, file.venue.idle) {
            (VenuePlacement::Thread, Some(idle)) => VenueRunner::Thread(SingleRunner {
                idle,
                core: file.venue.core,
            }),
            // Without an idle strategy the problem is reported; the topology is not used.
            _ => VenueRunner::Inline,
        },
        runners,
        rings: file.rings,
    }
}

/// Bytes all the rings `needed` take, in `u128` so absurd capacities cannot wrap.
fn ring_bytes(
    file: &TopologyFile,
    needed: &[EdgeKind],
    runners: &[ShardRunner],
    shards: usize,
) -> u128 {
    needed
        .iter()
        .filter_map(|kind| file.rings.get(kind).map(|spec| (kind, spec)))
        .map(|(kind, spec)| {
            // One control ring per runner per shard.
            let copies = match kind {
                EdgeKind::Control => runners.len() * shards,
                _ => shards,
            };
            spec.capacity as u128 * kind.slot_bytes(spec.ring) as u128 * copies as u128
        })
        .sum()
}

fn check_idle(p: &mut Problems<'_>, key: &str, idle: &IdleStrategy) {
    if let Some(problem) = idle.problem() {
        p.add(key, problem);
    }
    if let IdleStrategy::Backoff { max_park_ns, .. } = *idle {
        p.check(
            max_park_ns <= MAX_PARK_NS,
            &format!("{key}.max_park_ns"),
            format!(
                "{max_park_ns} ns; at most {MAX_PARK_NS} (1 s): a parked runner reads halts \
                 and stops only between parks"
            ),
        );
    }
}

fn shard_map(
    file: &ShardsFile,
    shards: usize,
    universe: &Universe,
    p: &mut Problems<'_>,
) -> Vec<usize> {
    match (file.map, &file.assign) {
        (MapKind::RoundRobin, None) => universe
            .ids()
            .map(|id| id.index() % shards.max(1))
            .collect(),
        (MapKind::RoundRobin, Some(_)) => {
            p.add("assign", "only with map = \"explicit\"");
            Vec::new()
        }
        (MapKind::Explicit, None) => {
            p.add(
                "assign",
                "map = \"explicit\" needs a [shards.assign] table: ticker = shard",
            );
            Vec::new()
        }
        (MapKind::Explicit, Some(assign)) => {
            let mut out = vec![usize::MAX; universe.len()];
            for (ticker, &shard) in assign {
                let key = format!("assign.{ticker}");
                match universe.id_of(ticker) {
                    None => p.add(&key, "not a ticker of the configured universe"),
                    Some(id) => {
                        p.check(shard < shards, &key, format!("shard {shard} of {shards}"));
                        out[id.index()] = shard;
                    }
                }
            }
            for id in universe.ids().filter(|id| out[id.index()] == usize::MAX) {
                p.add("assign", format!("{} is on no shard", universe.name(id)));
            }
            out
        }
    }
}

/// Every problem with `path` joined for display (for callers that only print).
pub fn describe(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn universe() -> Universe {
        Universe::new(&["AAPL", "MSFT", "AMZN"]).unwrap()
    }

    const FUSED: &str = r#"
description = "test"
[shards]
count = 1
map = "round-robin"
[source]
idle = { strategy = "busy-spin" }
[venue]
placement = "thread"
idle = { strategy = "spin-then-yield", spins = 10 }
[[runner]]
name = "shard"
stages = ["decode", "features", "inference", "risk", "routing"]
idle = { strategy = "busy-spin" }
[rings]
feed = { capacity = 1024, policy = "spin", ring = "rtrb" }
venue = { capacity = 64, policy = "spin", ring = "rtrb" }
reports = { capacity = 64, policy = "spin", ring = "rtrb" }
control = { capacity = 8, policy = "halt", ring = "rtrb" }
"#;

    fn load(text: &str, shards: Option<usize>) -> Result<Topology, ConfigError> {
        let dir = std::env::temp_dir().join(format!(
            "tickpipe-topo-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.toml");
        std::fs::write(&path, text).unwrap();
        Topology::load(&path, shards, &universe(), &[0, 1])
    }

    fn problems(text: &str, shards: Option<usize>) -> String {
        match load(text, shards) {
            Err(ConfigError::Invalid { problems, .. }) => describe(&problems),
            Err(e) => e.to_string(),
            Ok(_) => "ok".into(),
        }
    }

    #[test]
    fn fused_loads_and_round_robin_maps_symbols() {
        let t = load(FUSED, Some(2)).unwrap();
        assert_eq!(t.shards, 2);
        assert_eq!(t.shard_of, [0, 1, 0]);
        assert_eq!(t.owned(0), [SymbolId(0), SymbolId(2)]);
        assert_eq!(
            (t.runners[0].first, t.runners[0].last),
            (StageId::Decode, StageId::Routing)
        );
        assert_eq!(t.edge_after(StageId::Risk), None);
    }

    #[test]
    fn staged_needs_a_ring_at_every_runner_boundary() {
        let staged = FUSED.replace(
            "stages = [\"decode\", \"features\", \"inference\", \"risk\", \"routing\"]",
            "stages = [\"decode\", \"features\"]\nidle = { strategy = \"busy-spin\" }\n[[runner]]\nname = \"rest\"\nstages = [\"inference\", \"risk\", \"routing\"]",
        );
        let msg = problems(&staged, None);
        assert!(msg.contains("rings.features: missing"), "{msg}");
        let with_ring = staged.replace(
            "[rings]",
            "[rings]\nfeatures = { capacity = 64, policy = \"spin\", ring = \"rtrb\" }",
        );
        let t = load(&with_ring, None).unwrap();
        assert_eq!(t.edge_after(StageId::Features), Some(EdgeKind::Features));
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let bad = FUSED
            .replace("count = 1", "count = 0")
            .replace(
                "[[runner]]\nname = \"shard\"",
                "[[runner]]\nname = \"shard\"\ncores = [7]",
            )
            .replace(
                "[rings]",
                "[rings]\nmarket = { capacity = 8, policy = \"spin\", ring = \"rtrb\" }",
            )
            .replace("venue = { capacity = 64", "venue = { capacity = 0");
        let msg = problems(&bad, None);
        for want in [
            "shards.count: 0 shards",
            "runner[0].cores: core 7 does not exist",
            "rings.market: not a ring in this topology",
            "rings.venue.capacity: 0 slots",
        ] {
            assert!(msg.contains(want), "missing {want:?} in {msg}");
        }
    }

    #[test]
    fn stages_must_be_contiguous_and_complete() {
        let gap = FUSED.replace(
            "\"decode\", \"features\", \"inference\"",
            "\"decode\", \"inference\"",
        );
        assert!(problems(&gap, None).contains("runner[0].stages"));
        let short = FUSED.replace(", \"routing\"]", "]");
        assert!(problems(&short, None).contains("stages from routing on are on no runner"));
    }

    #[test]
    fn explicit_map_must_cover_the_universe_with_known_tickers() {
        let explicit = FUSED.replace(
            "map = \"round-robin\"",
            "map = \"explicit\"\nassign = { AAPL = 0, MSFT = 3, ZZZZ = 0 }",
        );
        let msg = problems(&explicit, None);
        for want in [
            "shards.assign.MSFT: shard 3 of 1",
            "shards.assign.ZZZZ: not a ticker",
            "AMZN is on no shard",
        ] {
            assert!(msg.contains(want), "missing {want:?} in {msg}");
        }
    }

    #[test]
    fn an_explicit_map_may_not_leave_a_shard_empty() {
        let explicit = FUSED.replace(
            "map = \"round-robin\"",
            "map = \"explicit\"\nassign = { AAPL = 0, MSFT = 0, AMZN = 0 }",
        );
        let msg = problems(&explicit, Some(2));
        assert!(msg.contains("shard 1 owns no symbol"), "{msg}");
    }

    #[test]
    fn a_reports_ring_larger_than_risk_can_absorb_is_refused() {
        let big = FUSED.replace("reports = { capacity = 64", "reports = { capacity = 4096");
        let msg = problems(&big, None);
        assert!(
            msg.contains("rings.reports.capacity: 4096 slots; at most 2048"),
            "{msg}"
        );
    }

    #[test]
    fn too_many_shards_is_one_problem_naming_the_flag() {
        let Err(ConfigError::Invalid { problems, .. }) = load(FUSED, Some(1000)) else {
            panic!("1000 shards for 3 symbols must be refused");
        };
        assert_eq!(problems.len(), 1, "{}", describe(&problems));
        assert_eq!(problems[0].key, "--shards");
        assert!(
            problems[0].message.contains("use 1 to 3"),
            "{}",
            problems[0]
        );
        let Err(ConfigError::Invalid { problems, .. }) =
            load(&FUSED.replace("count = 1", "count = 0"), None)
        else {
            panic!("0 shards must be refused");
        };
        assert_eq!(problems.len(), 1, "{}", describe(&problems));
        assert_eq!(problems[0].key, "shards.count");
    }

    /// The fused topology with the venue inline: no venue thread, no venue rings.
    fn inline() -> String {
        FUSED
            .replace(
                "placement = \"thread\"\nidle = { strategy = \"spin-then-yield\", spins = 10 }",
                "placement = \"inline\"",
            )
            .replace(
                "venue = { capacity = 64, policy = \"spin\", ring = \"rtrb\" }\n",
                "",
            )
            .replace(
                "reports = { capacity = 64, policy = \"spin\", ring = \"rtrb\" }\n",
                "",
            )
    }

    #[test]
    fn an_inline_venue_has_no_thread_and_no_rings() {
        let t = load(&inline(), None).unwrap();
        assert_eq!(t.venue, VenueRunner::Inline);
        assert!(!t.rings.contains_key(&EdgeKind::Venue));
        assert!(!t.rings.contains_key(&EdgeKind::Reports));

        let with_rings = inline().replace(
            "[rings]",
            "[rings]\nvenue = { capacity = 64, policy = \"spin\", ring = \"rtrb\" }",
        );
        let msg = problems(&with_rings, None);
        assert!(
            msg.contains("rings.venue: not a ring in this topology: the venue is inline"),
            "{msg}"
        );
        let threaded = load(FUSED, None).unwrap();
        assert!(matches!(threaded.venue, VenueRunner::Thread(_)));
    }

    #[test]
    fn an_inline_venue_needs_risk_and_routing_on_one_runner() {
        let split = inline().replace(
            "stages = [\"decode\", \"features\", \"inference\", \"risk\", \"routing\"]\nidle = { strategy = \"busy-spin\" }",
            "stages = [\"decode\", \"features\", \"inference\", \"risk\"]\nidle = { strategy = \"busy-spin\" }\n\
             [[runner]]\nname = \"out\"\nstages = [\"routing\"]\nidle = { strategy = \"busy-spin\" }",
        );
        let split = split.replace(
            "[rings]",
            "[rings]\norders = { capacity = 64, policy = \"spin\", ring = \"rtrb\" }",
        );
        let Err(ConfigError::Invalid { problems, .. }) = load(&split, None) else {
            panic!("risk and routing apart must be refused with an inline venue");
        };
        assert_eq!(problems.len(), 1, "{}", describe(&problems));
        assert_eq!(problems[0].key, "venue.placement");
        assert!(
            problems[0]
                .message
                .contains("runner \"shard\" ends at risk")
        );
    }

    #[test]
    fn idle_and_core_belong_to_a_venue_thread_alone() {
        let inline_idle = inline().replace(
            "placement = \"inline\"",
            "placement = \"inline\"\nidle = { strategy = \"busy-spin\" }\ncore = 0",
        );
        let msg = problems(&inline_idle, None);
        assert!(
            msg.contains("venue.idle: an inline venue runs on its shard's runner"),
            "{msg}"
        );
        assert!(
            msg.contains("venue.core: an inline venue runs on its shard's runner"),
            "{msg}"
        );
        let thread_without_idle = FUSED.replace(
            "idle = { strategy = \"spin-then-yield\", spins = 10 }\n",
            "",
        );
        let msg = problems(&thread_without_idle, None);
        assert!(
            msg.contains("venue.idle: required for placement = \"thread\""),
            "{msg}"
        );
        let unknown = FUSED.replace("placement = \"thread\"", "placement = \"remote\"");
        assert!(load(&unknown, None).is_err());
    }

    #[test]
    fn ring_sizes_are_bounded_one_by_one_and_together() {
        let huge = FUSED.replace("feed = { capacity = 1024", "feed = { capacity = 16777216");
        let msg = problems(&huge, None);
        assert!(
            msg.contains("rings.feed.capacity: 16777216 slots; use 1 to 1048576"),
            "{msg}"
        );
        // Each ring within its bound, but three shards of 1 M-slot feed, venue and
        // reports rings exceed the total.
        let big = FUSED
            .replace("feed = { capacity = 1024", "feed = { capacity = 1048576")
            .replace("venue = { capacity = 64", "venue = { capacity = 1048576");
        let msg = problems(&big, Some(3));
        assert!(
            msg.contains("rings: ") && msg.contains("at most 256 MiB"),
            "{msg}"
        );
        assert!(load(&big, Some(1)).is_ok());
    }

    #[test]
    fn the_shipped_staged_topology_fits_the_ring_budget_with_a_shard_per_symbol() {
        let tickers = ["A", "B", "C", "D", "E", "F", "G", "H"];
        let u = Universe::new(&tickers).unwrap();
        let path = Path::new("pipelines/staged.toml");
        let t = Topology::load(path, Some(8), &u, &[0, 1]).unwrap();
        let file: TopologyFile = read_toml(path).unwrap();
        let needed: Vec<EdgeKind> = t.rings.keys().copied().collect();
        let bytes = ring_bytes(&file, &needed, &t.runners, 8);
        // 33 MiB (the seq feed ring's 2 MiB per shard included): the budget leaves room
        // for rings 7× deeper.
        assert!(bytes <= MAX_RING_BYTES as u128 / 7, "{} MiB", bytes >> 20);
    }

    #[test]
    fn a_park_longer_than_a_second_is_refused() {
        let slow = FUSED.replace(
            "[venue]\nplacement = \"thread\"\nidle = { strategy = \"spin-then-yield\", spins = 10 }",
            "[venue]\nplacement = \"thread\"\nidle = { strategy = \"backoff\", spins = 1, yields = 1, min_park_ns = 1000, max_park_ns = 9223372036854775807 }",
        );
        let msg = problems(&slow, None);
        assert!(
            msg.contains("venue.idle.max_park_ns: 9223372036854775807 ns; at most 1000000000"),
            "{msg}"
        );
    }

    /// Each ring names its implementation; a `seq` ring takes a power of two of at
    /// least 2 slots, and its slots count at their padded size in the budget.
    #[test]
    fn every_ring_names_its_implementation_and_seq_needs_a_power_of_two() {
        let unnamed = FUSED.replace(
            "feed = { capacity = 1024, policy = \"spin\", ring = \"rtrb\" }",
            "feed = { capacity = 1024, policy = \"spin\" }",
        );
        assert!(problems(&unnamed, None).contains("missing field `ring`"));
        let odd = FUSED
            .replace(
                "feed = { capacity = 1024, policy = \"spin\", ring = \"rtrb\" }",
                "feed = { capacity = 1000, policy = \"spin\", ring = \"seq\" }",
            )
            .replace(
                "control = { capacity = 8, policy = \"halt\", ring = \"rtrb\" }",
                "control = { capacity = 1, policy = \"halt\", ring = \"seq\" }",
            );
        let msg = problems(&odd, None);
        for want in [
            "rings.feed.capacity: 1000 slots; a \"seq\" ring takes a power of two",
            "rings.control.capacity: 1 slots; a \"seq\" ring takes a power of two",
        ] {
            assert!(msg.contains(want), "missing {want:?} in {msg}");
        }
        let seq = FUSED.replace("ring = \"rtrb\"", "ring = \"seq\"");
        let t = load(&seq, None).unwrap();
        assert!(t.rings.values().all(|r| r.ring == RingKind::Seq));
        // A 64-byte frame and its sequence number take two cache lines.
        assert_eq!(EdgeKind::Feed.slot_bytes(RingKind::Seq), 128);
        assert_eq!(EdgeKind::Feed.slot_bytes(RingKind::Rtrb), 64);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let msg = problems(&FUSED.replace("[source]", "[source]\nspeed = 3"), None);
        assert!(msg.contains("unknown field `speed`"), "{msg}");
    }
}
