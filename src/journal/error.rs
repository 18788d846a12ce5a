//! The journal's errors. `Clone`, so a poisoned writer can return its original failure
//! on every later call.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    /// A filesystem call failed: `what` says which, on which path.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// A record before the tail of a shard's log is damaged: its data cannot be trusted
    /// and nothing is repaired.
    #[error("corrupt journal: shard {shard}, segment {}, byte offset {offset}: {why}", segment.display())]
    Corrupt {
        shard: usize,
        segment: PathBuf,
        offset: u64,
        why: String,
    },
    /// Sequence numbers do not continue across segments (a segment is missing or renamed).
    #[error("journal sequence gap in shard {shard}: segment {} starts at {found}, expected {expected}", segment.display())]
    SequenceGap {
        shard: usize,
        segment: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{} is not a journal: no session.json", dir.display())]
    MissingHeader { dir: PathBuf },
    #[error("journal header {}: {why}", path.display())]
    BadHeader { path: PathBuf, why: String },
    #[error("journal format version {found} is not supported (this build reads {supported})")]
    UnknownFormat { found: u32, supported: u32 },
    /// Opening for resumption with a different configuration or input.
    #[error("journal was written for {field} = {journal}, this run has {requested}")]
    HeaderMismatch {
        field: &'static str,
        journal: String,
        requested: String,
    },
    /// A record kind this build does not know: it can be inspected but not resumed.
    #[error("shard {shard}, sequence {seq}: record kind {kind} is unknown to this build")]
    UnknownKind { shard: usize, seq: u64, kind: u8 },
    /// Another process has the journal open: two engines must never append to one.
    #[error("journal {} is in use by another process (its directory is locked)", dir.display())]
    Locked { dir: PathBuf },
    #[error("journal option {key}: {why}")]
    BadOption { key: &'static str, why: String },
}

impl JournalError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        JournalError::Io {
            what,
            path: path.into(),
            source: Arc::new(source),
        }
    }
}
