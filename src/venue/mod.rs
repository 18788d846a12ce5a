//! Venues: where routing sends orders and execution reports come from. A venue is a
//! [`Venue`]; the simulated exchange ([`SimVenue`]) serves replay and paper trading.
//!
//! Its synchronisation is part of its type ([`Venue::TIMING`]): an event-time venue
//! vouches for time with watermarks, so risk may wait on it and a replay is
//! deterministic; an asynchronous one (a live broker) reports whenever things happen,
//! and risk applies its reports in arrival order without ever waiting.
//!
//! A venue instance serves one shard's command stream and answers on that shard's report
//! ring. The simulated one runs in event time, never reading a clock, so a replay gives the
//! same reports whatever the topology or the host's speed. Its parts, one job each:
//!
//! - [`sim`]: the event-time protocol: latency, the order of arrivals against ticks,
//!   watermarks, the end of the session.
//! - `in_flight`: commands sent but not yet arrived.
//! - `exchange`: what happens at one venue instant: an arrival or a tick.
//! - `market`: one symbol's latest view and the displayed shares we have already taken.
//! - `book`: our resting orders in price-time priority, pre-allocated.
//! - `reporter`: stamps and counts every report.
//! - `stats`: the counters it reports.
//! - [`runner`]: the venue's thread, serving every shard's lane.
//! - [`ibkr`]: Interactive Brokers (TWS or IB Gateway), an asynchronous venue.

mod book;
mod exchange;
pub mod ibkr;
mod in_flight;
mod market;
mod reporter;
pub mod runner;
pub mod sim;
mod stats;

pub use sim::SimVenue;
pub use stats::{CancelCounts, CommandCounts, RejectCounts, VenueStats};

use serde::{Deserialize, Deserializer};

use crate::config::Problems;
use crate::msg::{ExecReport, InFlightOrder, SymbolId, VenueCommand, VenueTiming};
use crate::sys::edge::Emit;
use crate::universe::Universe;
use ibkr::config::IbkrConfig;

/// One shard's venue session: it takes the shard's commands and emits execution reports.
///
/// One instance per shard, called on one thread (the venue runner's, or the shard's
/// own when placed inline): it needs no locks. Calls are monomorphised, so a venue
/// costs no indirect call per command.
pub trait Venue: Send + 'static {
    /// The `[venue] kind` that selects this venue.
    const KIND: &'static str;
    /// How it keeps time, which decides how risk reads its reports.
    const TIMING: VenueTiming;
    /// The most messages (orders and cancels) a second the venue takes from the whole
    /// firm, if it limits them: risk then refuses orders beyond it with `THROTTLED`
    /// (`stages::risk::pacing`) rather than let them queue.
    const PACING: Option<u32> = None;

    /// Handles one command, emitting the reports it makes due.
    ///
    /// An event-time venue must emit reports in non-decreasing `ts_event`, answer
    /// `Watermark { W }` once every report before `W + L` is out, and answer
    /// `EndOfSession` last. An asynchronous venue may ignore `Tick` and never receives a
    /// `Watermark`; it answers `EndOfSession` once its session is closed.
    fn on_command<O: Emit<ExecReport>>(&mut self, command: VenueCommand, out: &mut O);

    /// Emits reports that happened on the venue's own account since the last call (a
    /// broker's fills); returns whether there were any. An event-time venue reports only
    /// in answer to commands, so it has none.
    fn poll<O: Emit<ExecReport>>(&mut self, out: &mut O) -> bool;

    /// Its counters so far.
    fn stats(&self) -> &VenueStats;

    /// A session resumes from its journal: `in_flight` are this shard's orders sent
    /// before the restart with no final report journaled, each with what the shard last
    /// saw of it (acknowledged, shares filled), and `positions` the net shares the
    /// journaled fills moved per symbol (a broker's positions include them). Called once,
    /// before the first
    /// command. A live venue must settle each with the broker (open, filled while we were
    /// down, or unknown) before any new order goes out, and fail if it cannot: they are
    /// never assumed rejected. There is no default, so no live venue skips it by accident.
    fn reconcile(
        &mut self,
        in_flight: &[InFlightOrder],
        positions: &[(SymbolId, i64)],
    ) -> Result<(), ReconcileError>;
}

/// A venue could not settle the orders in flight across a restart; the run does not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReconcileError(pub String);

/// What a venue factory is given to build one shard's venue.
#[derive(Clone, Debug)]
pub struct VenueSetup<'a> {
    /// The shard this venue serves, from 0.
    pub shard: usize,
    /// The symbols the shard owns: a broker venue reconciles these and no others (the
    /// other shards' orders and positions are theirs).
    pub owned: &'a [SymbolId],
    /// Symbols are `SymbolId(0..universe_len)`.
    pub universe_len: usize,
    /// The most orders risk lets the shard have open at once: the venue's storage bound.
    pub capacity: usize,
    pub config: &'a VenueConfig,
    /// The shard's journal directory (`shard-<k>`), when the run keeps a journal: a
    /// broker venue may keep there what the shard's journal cannot hold (IB's order ids).
    pub journal: Option<&'a std::path::Path>,
}

/// `[venue]` in the config: its `kind` decides which keys the rest of the table has.
/// Every key of each shape is required, and unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VenueConfig {
    /// Any kind but `"ibkr"`: the simulated exchange (`"sim"`), or a venue a library user
    /// plugs in through `Engine::venue`, which shares its shape.
    Sim(SimConfig),
    /// `kind = "ibkr"`: Interactive Brokers ([`ibkr::config`]).
    Ibkr(IbkrConfig),
}

impl<'de> Deserialize<'de> for VenueConfig {
    /// Reads the table, then parses it as the shape its `kind` names, so each shape keeps
    /// `deny_unknown_fields` (serde's own tagged enums cannot combine the two with an open
    /// set of kinds).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<VenueConfig, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        if table.get("kind").and_then(toml::Value::as_str) == Some(ibkr::config::KIND) {
            table.remove("kind");
            toml::Value::Table(table)
                .try_into()
                .map(VenueConfig::Ibkr)
                .map_err(D::Error::custom)
        } else {
            toml::Value::Table(table)
                .try_into()
                .map(VenueConfig::Sim)
                .map_err(D::Error::custom)
        }
    }
}

impl VenueConfig {
    /// The `kind` key.
    pub fn kind(&self) -> &str {
        match self {
            VenueConfig::Sim(sim) => &sim.kind,
            VenueConfig::Ibkr(_) => ibkr::config::KIND,
        }
    }

    /// The simulated exchange's shape, or `None` for `kind = "ibkr"`.
    pub fn sim(&self) -> Option<&SimConfig> {
        match self {
            VenueConfig::Sim(sim) => Some(sim),
            VenueConfig::Ibkr(_) => None,
        }
    }

    /// The Interactive Brokers shape, or `None` for any other kind.
    pub fn ibkr(&self) -> Option<&IbkrConfig> {
        match self {
            VenueConfig::Sim(_) => None,
            VenueConfig::Ibkr(ibkr) => Some(ibkr),
        }
    }

    /// Reports every invalid value with its key; `kind` must be `expected_kind`, the
    /// kind of the venue that will run. `universe` (absent when `[symbols]` is invalid)
    /// is what a broker's per-symbol keys are checked against.
    pub fn validate(&self, expected_kind: &str, universe: Option<&Universe>, p: &mut Problems<'_>) {
        p.check(
            self.kind() == expected_kind,
            "kind",
            format!(
                "unknown venue kind {:?}; the venue plugged in is {expected_kind:?}",
                self.kind()
            ),
        );
        match self {
            VenueConfig::Sim(sim) => sim.validate(p),
            VenueConfig::Ibkr(ibkr) => ibkr.validate(universe, p),
        }
    }
}

/// `[venue]` for the simulated exchange (and venues of the same shape). Every key is
/// required.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Which venue serves the shards: the name the venue plugged into the engine
    /// answers to ([`SimVenue::KIND`] for the simulated exchange).
    pub kind: String,
    /// One-way latency between a shard and the venue, in event-time nanoseconds: a
    /// command sent at `t` arrives at `t + latency_ns`, and a report of a venue event at
    /// `v` reaches the shard at `v + latency_ns`. At least 1 (see [`SimConfig::validate`]).
    pub latency_ns: u64,
}

impl SimConfig {
    /// Upper bound on `latency_ns`: one day. Event times are nanoseconds since midnight,
    /// so a longer latency is a unit mistake, and the bound keeps `t + latency` far from
    /// overflowing.
    pub const MAX_LATENCY_NS: u64 = 86_400_000_000_000;

    /// Reports every invalid value with its key (the kind is checked by
    /// [`VenueConfig::validate`]).
    pub fn validate(&self, p: &mut Problems<'_>) {
        if self.latency_ns == 0 {
            p.add(
                "latency_ns",
                "must be at least 1: with zero latency an order would arrive at the instant \
                 of the tick that caused it and trade against it, and a watermark at W could \
                 only vouch for reports before W, never at W, so risk would wait forever for \
                 reports the venue holds back until risk's next command (the event-time \
                 protocol deadlocks)",
            );
        }
        p.check(
            self.latency_ns <= Self::MAX_LATENCY_NS,
            "latency_ns",
            format!(
                "{} ns is more than a day ({} ns); event times are nanoseconds since midnight",
                self.latency_ns,
                Self::MAX_LATENCY_NS
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Problem;

    fn parse(text: &str) -> Result<VenueConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    fn problems(config: &VenueConfig) -> Vec<Problem> {
        let mut out = Vec::new();
        config.validate(SimVenue::KIND, None, &mut Problems::new("venue", &mut out));
        out
    }

    fn sim(kind: &str, latency_ns: u64) -> VenueConfig {
        VenueConfig::Sim(SimConfig {
            kind: kind.into(),
            latency_ns,
        })
    }

    #[test]
    fn venue_config_parses_and_validates() {
        let config = parse("kind = \"sim\"\nlatency_ns = 50000\n").unwrap();
        assert_eq!(config, sim("sim", 50_000));
        assert!(problems(&config).is_empty());
    }

    #[test]
    fn venue_config_requires_every_key_and_knows_no_other() {
        assert!(
            parse("kind = \"sim\"\n")
                .unwrap_err()
                .contains("latency_ns")
        );
        assert!(parse("latency_ns = 5\n").unwrap_err().contains("kind"));
        let unknown = parse("kind = \"sim\"\nlatency_ns = 5\nfill_ratio = 1\n").unwrap_err();
        assert!(unknown.contains("fill_ratio"), "{unknown}");
    }

    #[test]
    fn venue_config_reports_every_bad_value_with_its_key() {
        let found = problems(&sim("ib", 0));
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["venue.kind", "venue.latency_ns"]);
        assert!(found[0].message.contains("\"ib\""));
        assert!(found[1].message.contains("deadlock"));

        let found = problems(&sim("sim", SimConfig::MAX_LATENCY_NS + 1));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "venue.latency_ns");
    }

    #[test]
    fn kind_ibkr_takes_the_broker_shape_and_only_it() {
        let text = "kind = \"ibkr\"\nhost = \"127.0.0.1\"\nport = 4002\nclient_id = 1\n\
                    account = \"DU1\"\nbackoff_min_ms = 100\nbackoff_max_ms = 30000\n\
                    backoff_seed = 1\nunknown_order_deadline_ms = 5000\n\
                    [contracts.AAPL]\ncon_id = 265598\n";
        let config = parse(text).unwrap();
        assert_eq!(config.kind(), "ibkr");
        assert_eq!(config.ibkr().unwrap().port, 4002);
        assert!(config.sim().is_none());
        let with_latency = parse(&format!("{text}latency_ns = 5\n")).unwrap_err();
        assert!(with_latency.contains("latency_ns"), "{with_latency}");
        let sim_with_port = parse("kind = \"sim\"\nlatency_ns = 5\nport = 4002\n").unwrap_err();
        assert!(sim_with_port.contains("port"), "{sim_with_port}");

        let mut found = Vec::new();
        config.validate(
            SimVenue::KIND,
            None,
            &mut Problems::new("venue", &mut found),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "venue.kind");
        assert!(found[0].message.contains("\"ibkr\""), "{}", found[0]);
    }
}
