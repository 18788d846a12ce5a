//! Typed configuration (`config/tickpipe.toml`): symbols, features, model, risk limits,
//! venue. Unknown keys are errors; every key is required (no silent defaults); and
//! [`Config::load`] reports every invalid value at once, each with its key.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::stages::features::FeaturesConfig;
use crate::stages::inference::ModelConfig;
use crate::stages::risk::{ExecutionConfig, RiskConfig};
use crate::universe::Universe;
use crate::venue::VenueConfig;

/// One invalid value: its full key (`risk.max_position`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Collects [`Problem`]s under a key prefix.
pub struct Problems<'a> {
    prefix: String,
    out: &'a mut Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub fn new(prefix: &str, out: &'a mut Vec<Problem>) -> Problems<'a> {
        Problems {
            prefix: prefix.to_string(),
            out,
        }
    }

    /// Records a problem with `key` (relative to the prefix).
    pub fn add(&mut self, key: &str, message: impl Into<String>) {
        let key = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        };
        self.out.push(Problem {
            key,
            message: message.into(),
        });
    }

    /// Records a problem unless `ok`.
    pub fn check(&mut self, ok: bool, key: &str, message: impl Into<String>) {
        if !ok {
            self.add(key, message);
        }
    }

    /// A nested prefix, e.g. `risk` → `risk.symbols.AAPL`.
    pub fn nested(&mut self, key: &str) -> Problems<'_> {
        let prefix = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        };
        Problems {
            prefix,
            out: self.out,
        }
    }
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {} invalid value(s):\n  {}", problems.len(), join(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

/// Reads and parses a TOML file into `T`, with the path in every error.
pub fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The symbols tickpipe trades.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolsConfig {
    /// Tickers; `SymbolId(i)` is the i-th.
    pub tickers: Vec<String>,
}

/// Everything in `config/tickpipe.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub symbols: SymbolsConfig,
    pub features: FeaturesConfig,
    pub model: ModelConfig,
    pub risk: RiskConfig,
    pub execution: ExecutionConfig,
    pub venue: VenueConfig,
}

impl Config {
    /// Reads, parses and validates; on any invalid value, lists them all.
    pub fn load(path: &Path) -> Result<(Config, Universe), ConfigError> {
        let config: Config = read_toml(path)?;
        config
            .validate()
            .map_err(|problems| ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
            .map(|universe| (config, universe))
    }

    /// Checks every value; returns the universe it defines, or every problem found.
    pub fn validate(&self) -> Result<Universe, Vec<Problem>> {
        let mut problems = Vec::new();
        let universe = match Universe::new(&self.symbols.tickers) {
            Ok(u) => Some(u),
            Err(message) => {
                problems.push(Problem {
                    key: "symbols.tickers".into(),
                    message,
                });
                None
            }
        };
        self.features
            .validate(&mut Problems::new("features", &mut problems));
        self.model
            .validate(&mut Problems::new("model", &mut problems));
        self.execution
            .validate(&mut Problems::new("execution", &mut problems));
        self.venue
            .validate(&mut Problems::new("venue", &mut problems));
        if let Some(u) = &universe {
            self.risk
                .validate(u, &mut Problems::new("risk", &mut problems));
        }
        match universe {
            Some(u) if problems.is_empty() => Ok(u),
            _ => Err(problems),
        }
    }
}
