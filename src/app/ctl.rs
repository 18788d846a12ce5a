//! `tickpipe ctl`: the operator's client for a running engine's control socket
//! (`tickpipe run --control PATH`). The protocol is `runtime::control`'s: one request
//! line per connection, the answer read to the end.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::msg::SymbolName;

/// An answer takes at most the server's status deadline (500 ms) plus a request line's
/// round trip; 5 s leaves room for a loaded host before we call the engine unreachable.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What the operator asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Halt,
    ReduceOnly,
    Resume,
    Status {
        json: bool,
    },
    /// Every coordinator to this degradation level (`normal` … `emergency`).
    Level(String),
    /// A parent order: `SYMBOL buy|sell QTY SLICES START_NS INTERVAL_NS OFFSET`, checked
    /// by the engine.
    ScheduleAdd(Vec<String>),
    /// Clear one symbol's repeated-execution latch (`Operator::Reenable`).
    Reenable {
        symbol: SymbolName,
    },
    /// Clear every symbol's latch and set the firm-wide latch active
    /// (`Operator::ResumeAll`).
    ResumeAll,
}

impl Request {
    /// The request line.
    pub fn line(&self) -> String {
        match self {
            Request::Halt => "halt".into(),
            Request::ReduceOnly => "reduce-only".into(),
            Request::Resume => "resume".into(),
            Request::Status { json: false } => "status".into(),
            Request::Status { json: true } => "status json".into(),
            Request::Level(name) => format!("level {name}"),
            Request::ScheduleAdd(words) => format!("schedule add {}", words.join(" ")),
            Request::Reenable { symbol } => format!("reenable {symbol}"),
            Request::ResumeAll => "resume-all".into(),
        }
    }
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
#[error("control socket {path}: {error}")]
pub struct CtlError {
    path: String,
    error: std::io::Error,
}

/// Sends `request` to the engine serving `socket`; returns its answer.
pub fn send(socket: &Path, request: Request) -> Result<String, CtlError> {
    let fail = |error| CtlError {
        path: socket.display().to_string(),
        error,
    };
    let mut stream = UnixStream::connect(socket).map_err(fail)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(fail)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(fail)?;
    stream
        .write_all(format!("{}\n", request.line()).as_bytes())
        .map_err(fail)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(fail)?;
    Ok(answer)
}

/// An answer the engine refused (`error ...`), or an empty one (it went away).
pub fn is_refusal(answer: &str) -> bool {
    answer.is_empty() || answer.starts_with("error")
}
