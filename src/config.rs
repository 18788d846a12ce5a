//! Configuration problem reporting, shared by every configuration file: each module
//! validates its own keys into [`Problems`], so a file's every invalid value is reported
//! at once, each with its full key. The files themselves are serde structs with
//! `deny_unknown_fields` beside the code they configure; the aggregate
//! `config/tickpipe.toml` is assembled in the runtime (`runtime::config`).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::escape::escape;

/// One invalid value: its full key (`risk.max_position`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    /// The key is escaped: a table name in the file (`[risk.symbols."\u0007"]`) can hold
    /// any character, and it must not reach the terminal raw.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", escape(&self.key), self.message)
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
    // The parser quotes the offending line of the file: escape it line by line, so a
    // control byte in the file cannot reach the terminal while the caret layout stays.
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e
            .to_string()
            .lines()
            .map(escape)
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_of_the_file_quoted_in_a_parse_error_is_escaped() {
        let dir = std::env::temp_dir().join(format!("tickpipe-parse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "[symbols]\ntickers = [\"A\u{7}\" \n").unwrap();
        let err = read_toml::<toml::Value>(&path).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!err.contains('\u{7}'), "{err:?}");
        assert!(err.contains("\\x07"), "{err:?}");
        assert!(err.lines().count() > 1, "the caret layout stays: {err:?}");
    }
}
