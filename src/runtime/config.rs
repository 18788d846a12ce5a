//! Typed configuration (`config/tickpipe.toml`): symbols, features, model, risk limits,
//! venue. Unknown keys are errors; every key is required (no silent defaults); and
//! [`Config::load`] reports every invalid value at once, each with its key. Each section
//! is its owner's struct (a stage's, the venue's); this module assembles them and checks
//! the keys that only make sense together.

use std::path::Path;

use serde::Deserialize;

use super::health::HealthConfig;
use super::journal::{JournalConfig, Policy};
use crate::config::{ConfigError, Problem, Problems, read_toml};
use crate::source::ibkr::config::SourceConfig;
use crate::stages::coordinator::{CoordinatorConfig, ParentOrder, ScheduleConfig};
use crate::stages::features::{FeaturesConfig, LEVEL_BYTES, MAX_LEVELS};
use crate::stages::inference::builtin::BuiltIn;
use crate::stages::inference::{Model, ModelConfig};
use crate::stages::risk::firm::FirmConfig;
use crate::stages::risk::{ExecutionConfig, RiskConfig};
use crate::universe::Universe;
use crate::venue::{SimVenue, Venue, VenueConfig};

/// The symbols tickpipe trades.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolsConfig {
    /// Tickers; `SymbolId(i)` is the i-th.
    pub tickers: Vec<String>,
}

/// The identity of a config file's decisions, for a journal's session header: FNV-1a
/// over the file parsed and written back canonically (keys sorted, comments and layout
/// gone) without `[journal]` and `[health]`. Changing the durability policy, the
/// watchdog's deadlines, a comment or the key order resumes the same session; changing
/// any other value refuses it. The watchdog reaches decisions only through the trading
/// state changes it causes, which risk journals where it applied them and a replay
/// re-applies there, so its deadlines decide nothing a replay re-derives.
pub fn decision_identity(text: &str) -> Result<u64, toml::de::Error> {
    use std::hash::Hasher;
    let mut table: toml::Table = toml::from_str(text)?;
    table.remove("journal");
    table.remove("health");
    let mut h = fnv::FnvHasher::default();
    h.write(table.to_string().as_bytes());
    Ok(h.finish())
}

/// Most bytes of book ladders all symbols together may pre-allocate: 1 GiB.
const MAX_LADDER_BYTES: usize = 1 << 30;

/// Everything in `config/tickpipe.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub symbols: SymbolsConfig,
    pub features: FeaturesConfig,
    pub model: ModelConfig,
    pub risk: RiskConfig,
    /// Limits that span every shard (`stages::risk::firm`).
    pub firm: FirmConfig,
    pub execution: ExecutionConfig,
    pub venue: VenueConfig,
    /// How the decision journal keeps records, for a run that keeps one (`--journal`).
    /// Optional: a run without a journal never reads it, and one with a journal and no
    /// `[journal]` is refused ([`Config::journal_policy`]).
    pub journal: Option<JournalConfig>,
    /// The coordinator (`stages::coordinator`): scheduled tasks, degradation levels,
    /// the regime. Optional: a run without it has none.
    pub coordinator: Option<CoordinatorConfig>,
    /// Scheduled parent orders (`[[schedule]]`), worked by the coordinator: absent, none.
    pub schedule: Option<Vec<ScheduleConfig>>,
    /// Sources' settings (`[source.ibkr]`, read by `run --source ibkr`). Optional: a
    /// run from a file, the sample or a MoldUDP64 feed never reads it.
    pub source: Option<SourceConfig>,
    /// The runner watchdog (`runtime::health`). Optional, and its absence is visible: the
    /// report's `health` section says the watchdog was off. The shipped configs have it.
    pub health: Option<HealthConfig>,
}

/// The `kind`s `[model]` and `[venue]` must name: those of the model and the venue that
/// will run (`[model]` may name any of the model's [`Model::KINDS`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Kinds {
    pub model: &'static [&'static str],
    pub venue: &'static str,
}

impl Kinds {
    /// The built-in models (linear or ONNX) and the simulated exchange: what the
    /// `tickpipe` binary runs.
    pub const BUILT_IN: Kinds = Kinds {
        model: BuiltIn::KINDS,
        venue: SimVenue::KIND,
    };

    /// The kinds of model `M` and venue `V`.
    pub fn of<M: Model, V: Venue>() -> Kinds {
        Kinds {
            model: M::KINDS,
            venue: V::KIND,
        }
    }
}

impl Config {
    /// Reads, parses and validates for the built-in model and venue; on any invalid
    /// value, lists them all.
    pub fn load(path: &Path) -> Result<(Config, Universe), ConfigError> {
        Config::load_for(path, Kinds::BUILT_IN)
    }

    /// Reads, parses and validates for the model and venue `kinds` name.
    pub fn load_for(path: &Path, kinds: Kinds) -> Result<(Config, Universe), ConfigError> {
        let config: Config = read_toml(path)?;
        config
            .validate_for(kinds)
            .map_err(|problems| ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
            .map(|universe| (config, universe))
    }

    /// Every symbol's two ladders are allocated up front, so the product of two bounded
    /// keys needs a bound of its own.
    fn check_ladders(&self, universe: &Universe, p: &mut Problems<'_>) {
        let levels = self.features.max_levels;
        if levels > MAX_LEVELS {
            return; // already reported on its own
        }
        let bytes = universe.len() * levels * LEVEL_BYTES;
        p.check(
            bytes <= MAX_LADDER_BYTES,
            "max_levels",
            format!(
                "{levels} levels for {} symbols pre-allocate {} MiB of ladders \
                 ({LEVEL_BYTES} bytes a level); at most {} MiB",
                universe.len(),
                bytes >> 20,
                MAX_LADDER_BYTES >> 20
            ),
        );
    }

    /// A limit below the model's target refuses every order that opens a position
    /// toward it, all session: that is a configuration error, not a day of rejections.
    fn check_target(&self, p: &mut Problems<'_>) {
        let Ok(target) = u32::try_from(self.model.target_qty) else {
            return; // reported by the model
        };
        let check = |p: &mut Problems<'_>, key: &str, limit: Option<u32>, code: &str| {
            if let Some(limit) = limit.filter(|&l| l < target) {
                p.add(
                    key,
                    format!(
                        "{limit} is below model.target_qty ({target}): every order from flat \
                         to the target would be refused ({code})"
                    ),
                );
            }
        };
        let risk = &self.risk;
        check(
            p,
            "max_order_qty",
            Some(risk.max_order_qty),
            "MAX_ORDER_QTY",
        );
        check(p, "max_position", Some(risk.max_position), "MAX_POSITION");
        for (ticker, o) in &risk.symbols {
            let p = &mut p.nested("symbols");
            let p = &mut p.nested(ticker);
            check(p, "max_order_qty", o.max_order_qty, "MAX_ORDER_QTY");
            check(p, "max_position", o.max_position, "MAX_POSITION");
        }
    }

    /// Every `[[schedule]]` entry, under `schedule[i]`; they need `[coordinator]`. `p`
    /// has no prefix.
    fn check_schedules(&self, universe: Option<&Universe>, p: &mut Problems<'_>) {
        let Some(schedules) = &self.schedule else {
            return;
        };
        if self.coordinator.is_none() && !schedules.is_empty() {
            p.add(
                "schedule",
                "scheduled orders need [coordinator], which works them",
            );
        }
        for (i, s) in schedules.iter().enumerate() {
            let p = &mut p.nested(&format!("schedule[{i}]"));
            s.validate(universe, p);
            // Every slice would be refused when due (MAX_ORDER_QTY): a configuration
            // error, not a schedule that silently never trades.
            let limit = self.risk.limits_for(&s.symbol).max_order_qty;
            if let Some(largest) = s.largest_slice().filter(|&q| q > limit) {
                p.add(
                    "quantity",
                    format!(
                        "slices of up to {largest} shares exceed max_order_qty ({limit}) for \
                         {}: every such slice would be refused (MAX_ORDER_QTY)",
                        s.symbol
                    ),
                );
            }
        }
    }

    /// The parent orders of `[[schedule]]`, in file order.
    ///
    /// # Panics
    /// If the config would not pass [`Config::validate`].
    pub fn parents(&self, universe: &Universe) -> Vec<ParentOrder> {
        let mut ignored = Vec::new();
        self.schedule
            .iter()
            .flatten()
            .map(|s| {
                s.validate(Some(universe), &mut Problems::new("schedule", &mut ignored))
                    .expect("validated")
            })
            .collect()
    }

    /// The journal's durability policy, for a run that keeps a journal: an error naming
    /// `journal` when the config has no `[journal]` (there is no default policy).
    pub fn journal_policy(&self) -> Result<Policy, Vec<Problem>> {
        let mut problems = Vec::new();
        let policy = match &self.journal {
            Some(journal) => journal.validate(&mut Problems::new("journal", &mut problems)),
            None => {
                problems.push(Problem {
                    key: "journal".into(),
                    message: "a run with --journal needs [journal] (durability, segment_bytes): \
                              no policy is assumed"
                        .into(),
                });
                None
            }
        };
        policy.ok_or(problems)
    }

    /// [`Config::validate_for`] the built-in model and venue.
    pub fn validate(&self) -> Result<Universe, Vec<Problem>> {
        self.validate_for(Kinds::BUILT_IN)
    }

    /// Checks every value, for the model and venue `kinds` name; returns the universe it
    /// defines, or every problem found.
    pub fn validate_for(&self, kinds: Kinds) -> Result<Universe, Vec<Problem>> {
        let mut problems = Vec::new();
        let universe = match Universe::new(&self.symbols.tickers) {
            Ok(u) => Some(u),
            Err(e) => {
                problems.push(Problem {
                    key: "symbols.tickers".into(),
                    message: e.to_string(),
                });
                None
            }
        };
        self.features
            .validate(&mut Problems::new("features", &mut problems));
        self.model
            .validate(kinds.model, &mut Problems::new("model", &mut problems));
        self.execution
            .validate(&mut Problems::new("execution", &mut problems));
        self.venue.validate(
            kinds.venue,
            universe.as_ref(),
            &mut Problems::new("venue", &mut problems),
        );
        self.risk
            .validate(universe.as_ref(), &mut Problems::new("risk", &mut problems));
        self.firm
            .validate(&mut Problems::new("firm", &mut problems));
        if let Some(u) = &universe {
            self.check_ladders(u, &mut Problems::new("features", &mut problems));
        }
        self.check_target(&mut Problems::new("risk", &mut problems));
        if let Some(journal) = &self.journal {
            journal.validate(&mut Problems::new("journal", &mut problems));
        }
        if let Some(coordinator) = &self.coordinator {
            coordinator.validate(&mut Problems::new("coordinator", &mut problems));
        }
        if let Some(health) = &self.health {
            health.validate(&mut Problems::new("health", &mut problems));
        }
        self.check_schedules(universe.as_ref(), &mut Problems::new("", &mut problems));
        if let Some(ib) = self.source.as_ref().and_then(|s| s.ibkr.as_ref()) {
            let p = &mut Problems::new("source.ibkr", &mut problems);
            ib.validate(universe.as_ref(), p);
            if let Some(venue) = self.venue.ibkr() {
                p.check(
                    (ib.address(), ib.client_id) != (venue.address(), venue.client_id),
                    "client_id",
                    format!(
                        "{} is also venue.client_id at {}: the Gateway takes one connection \
                         per client id, so the market data needs another",
                        ib.client_id,
                        ib.address()
                    ),
                );
            }
        }
        match universe {
            Some(u) if problems.is_empty() => Ok(u),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../config/tickpipe.toml");

    fn problems(text: &str) -> Vec<String> {
        let config: Config = toml::from_str(text).unwrap();
        match config.validate() {
            Ok(_) => Vec::new(),
            Err(found) => found.iter().map(Problem::to_string).collect(),
        }
    }

    #[test]
    fn a_key_from_the_file_is_escaped_when_shown() {
        let text = format!("{SHIPPED}\n[risk.symbols.\"A\\u001b[2J\"]\nmax_position = 500\n");
        let found = problems(&text);
        assert_eq!(
            found,
            ["risk.symbols.A\\x1b[2J: not a ticker in symbols.tickers"]
        );
    }

    #[test]
    fn the_shipped_config_is_valid() {
        assert_eq!(problems(SHIPPED), Vec::<String>::new());
    }

    #[test]
    fn the_shipped_ibkr_paper_config_is_valid_for_the_ibkr_venue() {
        let config: Config = toml::from_str(include_str!("../../config/ibkr-paper.toml")).unwrap();
        let kinds = Kinds {
            model: BuiltIn::KINDS,
            venue: crate::venue::ibkr::config::KIND,
        };
        assert_eq!(config.validate_for(kinds).err(), None);
        let ibkr = config.venue.ibkr().unwrap();
        assert_eq!(
            (ibkr.address(), ibkr.is_paper()),
            ("127.0.0.1:4002".to_string(), true)
        );
        assert_eq!(ibkr.contracts.len(), config.symbols.tickers.len());
    }

    #[test]
    fn a_target_the_limits_never_allow_is_an_error_naming_both_keys() {
        let text = SHIPPED
            .replace("target_qty = 100", "target_qty = 600")
            .replace(
                "max_position = 200",
                "max_position = 200\nmax_order_qty = 700",
            );
        let found = problems(&text);
        assert_eq!(
            found,
            [
                "risk.max_order_qty: 500 is below model.target_qty (600): every order from \
                 flat to the target would be refused (MAX_ORDER_QTY)",
                "risk.symbols.TSLA.max_position: 200 is below model.target_qty (600): every \
                 order from flat to the target would be refused (MAX_POSITION)",
            ]
        );
        let text = SHIPPED.replace("max_position = 1000", "max_position = 99");
        assert_eq!(problems(&text).len(), 1, "{:?}", problems(&text));
        assert!(problems(&text)[0].starts_with("risk.max_position: 99 is below"));
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_key() {
        let text = SHIPPED
            .replace("\"AMD\"]", "\"amd\"]")
            .replace("max_orders = 16384", "max_orders = 1000000000000000")
            .replace("target_qty = 100", "target_qty = 2000000")
            .replace(
                "starting_cash = \"1000000.00\"",
                "starting_cash = \"900000000000000\"",
            )
            .replace("order_ttl_ns = 5000000", "order_ttl_ns = 100000000000000");
        let keys: Vec<String> = problems(&text)
            .iter()
            .map(|p| p.split(':').next().unwrap().to_string())
            .collect();
        assert_eq!(
            keys,
            [
                "symbols.tickers",
                "features.max_orders",
                "model.target_qty",
                "execution.order_ttl_ns",
                "risk.starting_cash",
                "risk.max_order_qty",
                "risk.max_position",
                "risk.symbols.TSLA.max_position",
            ],
        );
    }

    #[test]
    fn ladders_for_the_whole_universe_are_bounded_together() {
        let tickers: Vec<String> = (0..16_384).map(|i| format!("\"S{i}\"")).collect();
        let text = SHIPPED
            .replace(
                "tickers = [\"AAPL\", \"MSFT\", \"AMZN\", \"NVDA\", \"GOOGL\", \"META\", \"TSLA\", \"AMD\"]",
                &format!("tickers = [\"TSLA\", {}]", tickers[..16_383].join(", ")),
            )
            .replace("max_levels = 1024", "max_levels = 16384");
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "features.max_levels: 16384 levels for 16384 symbols pre-allocate 12288 MiB"
            ),
            "{}",
            found[0]
        );
    }
}
