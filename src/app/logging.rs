//! Structured logs: lifecycle events (start, topology, state changes, the drain,
//! failures) as text or JSON lines on stderr, so they never mix into a report on
//! stdout. Only the control side logs; runners count, and their counts reach the
//! report and the metrics.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("--log-level {0:?}: {1}")]
    Level(String, String),
    #[error("RUST_LOG {0:?}: {1}")]
    RustLog(String, String),
    #[error("a logger is already installed")]
    Installed,
}

/// Installs the process's logger. The filter is `level` if given (`--log-level`, in
/// RUST_LOG's syntax), else RUST_LOG if set, else `default`.
pub fn init(format: LogFormat, level: Option<&str>, default: &str) -> Result<(), LoggingError> {
    let filter = match (level, std::env::var("RUST_LOG")) {
        (Some(level), _) => EnvFilter::try_new(level)
            .map_err(|e| LoggingError::Level(level.to_string(), e.to_string()))?,
        (None, Ok(env)) if !env.is_empty() => EnvFilter::try_new(&env)
            .map_err(|e| LoggingError::RustLog(env.clone(), e.to_string()))?,
        (None, _) => EnvFilter::new(default),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        // A failed write would be reported with `eprintln!`, which panics when stderr
        // itself is what failed (`2> /dev/full`); a log line with nowhere to go is
        // dropped, as the binary's other diagnostics are.
        .log_internal_errors(false);
    match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    }
    .map_err(|_| LoggingError::Installed)
}
