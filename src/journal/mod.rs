//! The write-ahead journal: what a shard decided (orders, cancels, mass cancels), the
//! execution reports it applied from an asynchronous venue, its trading-state changes and
//! its end, so a crash loses no order and a restart resumes exactly. Recovery replays the
//! deterministic stages over the same input and checks each re-derived decision against
//! the journal.
//!
//! # On disk
//!
//! A journal is a directory:
//!
//! ```text
//! DIR/session.json                   the SessionHeader, written once, atomically
//! DIR/shard-<k>/<first-seq:020>.seg  append-only segments of a fixed size, preallocated
//! ```
//!
//! Each segment is a run of records (framing and CRC in [`format`], payloads in
//! [`entry`]); sequence numbers are per shard, from 1, contiguous across segments, and a
//! segment's name is its first record's number. The rest of a segment is zeros.
//!
//! # API
//!
//! - [`open`]: creates a journal, or reopens one for resumption (same header required);
//!   returns every shard's past entries, what it repaired ([`OpenNote`]), and one
//!   [`ShardWriter`] per shard.
//! - [`ShardWriter::append`] / [`ShardWriter::sync`] / [`ShardWriter::stats`]: durability
//!   per [`Durability`]. A failed write or sync poisons the writer: every later call
//!   returns the original error, and a failed sync is never retried.
//! - [`scan`]: read-only; every record, torn tails found but not repaired.
//! - [`stable_hash`]: FNV-1a 64, for the header's config and input identities.
//!
//! # Integrity
//!
//! A torn tail (the end of a shard's last written segment cut short by a crash) is
//! truncated by [`open`] and reported; damage with valid data after it is refused
//! ([`JournalError::Corrupt`], naming the segment and byte offset). See [`reader`].

pub mod entry;
pub mod error;
pub mod format;
pub mod header;
pub mod reader;
pub mod segment;
pub mod writer;

#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use entry::Entry;
pub use error::JournalError;
pub use header::{InputIdentity, SessionHeader, stable_hash};
pub use reader::{Record, TornTail};
pub use writer::{DEFAULT_SEGMENT_BYTES, Durability, JournalOptions, JournalStats, ShardWriter};

use crate::sys::mapped::{MappedFile, try_lock_exclusive};

/// What [`open`] repaired or found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenNote {
    /// A torn tail was zeroed out to the end of its segment.
    TornTailTruncated(TornTail),
}

impl std::fmt::Display for OpenNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenNote::TornTailTruncated(t) => write!(
                f,
                "shard {}: torn tail truncated in {} at offset {} ({} bytes dropped)",
                t.shard,
                t.segment.display(),
                t.offset,
                t.bytes
            ),
        }
    }
}

pub struct Opened {
    /// Per shard: the entries already in the journal (empty for a new one), in sequence
    /// order.
    pub past: Vec<Vec<(u64, Entry)>>,
    /// What opening repaired or found.
    pub notes: Vec<OpenNote>,
    /// One writer per shard, positioned after the last valid record.
    pub writers: Vec<ShardWriter>,
    pub resumed: bool,
}

/// Creates the journal `dir` for `header` with `shards` shards, or reopens it for
/// resumption if it already holds one with the same header.
pub fn open(
    dir: &Path,
    header: &SessionHeader,
    shards: usize,
    options: &JournalOptions,
) -> Result<Opened, JournalError> {
    options.validate()?;
    if header.shards as usize != shards {
        return Err(JournalError::HeaderMismatch {
            field: "shards",
            journal: header.shards.to_string(),
            requested: shards.to_string(),
        });
    }
    fs::create_dir_all(dir).map_err(|e| JournalError::io("creating", dir, e))?;
    let lock = lock_dir(dir)?;
    let resumed = dir.join(header::HEADER_FILE).exists();
    if resumed {
        let found = SessionHeader::read(dir)?;
        if let Some(mismatch) = found.mismatch(header) {
            return Err(mismatch);
        }
    } else {
        if header.format_version != header::FORMAT_VERSION {
            return Err(JournalError::UnknownFormat {
                found: header.format_version,
                supported: header::FORMAT_VERSION,
            });
        }
        fs::create_dir_all(dir).map_err(|e| JournalError::io("creating", dir, e))?;
        // A crash while the header was being written leaves only its temporary file.
        let tmp = dir.join(header::HEADER_TMP);
        if tmp.exists() {
            fs::remove_file(&tmp).map_err(|e| JournalError::io("removing", &tmp, e))?;
        }
        let stray = fs::read_dir(dir)
            .map_err(|e| JournalError::io("listing", dir, e))?
            .next()
            .is_some();
        if stray {
            // Not ours: refuse rather than mix a journal into someone else's files.
            return Err(JournalError::MissingHeader {
                dir: dir.to_path_buf(),
            });
        }
        header.write(dir)?;
    }
    let mut opened = Opened {
        past: Vec::with_capacity(shards),
        notes: Vec::new(),
        writers: Vec::with_capacity(shards),
        resumed,
    };
    for shard in 0..shards {
        let one = open_shard(dir, shard, options, &lock)?;
        opened.past.push(one.past);
        opened.writers.push(one.writer);
        opened.notes.extend(one.note);
    }
    Ok(opened)
}

/// Locks `dir` (an exclusive `flock` on the directory itself, so it adds no file) for
/// as long as the returned handle, which every writer holds, lives.
fn lock_dir(dir: &Path) -> Result<Arc<fs::File>, JournalError> {
    let handle = fs::File::open(dir).map_err(|e| JournalError::io("opening", dir, e))?;
    match try_lock_exclusive(&handle) {
        Ok(true) => Ok(Arc::new(handle)),
        Ok(false) => Err(JournalError::Locked {
            dir: dir.to_path_buf(),
        }),
        Err(e) => Err(JournalError::io("locking", dir, e)),
    }
}

/// One shard's part of [`Opened`].
struct OpenedShard {
    past: Vec<(u64, Entry)>,
    writer: ShardWriter,
    note: Option<OpenNote>,
}

fn open_shard(
    dir: &Path,
    shard: usize,
    options: &JournalOptions,
    lock: &Arc<fs::File>,
) -> Result<OpenedShard, JournalError> {
    let log = reader::read_shard(dir, shard)?;
    let mut past = Vec::with_capacity(log.records.len());
    for (seq, record) in log.records {
        match record {
            Record::Entry(e) => past.push((seq, e)),
            Record::Unknown { kind, .. } => {
                return Err(JournalError::UnknownKind { shard, seq, kind });
            }
        }
    }
    let sd = segment::shard_dir(dir, shard);
    let mut note = None;
    if let Some(torn) = log.torn {
        // In the last segment holding data: the last one, or the one before an empty
        // segment created just before the crash.
        let offset = torn.offset as usize;
        let mut map = MappedFile::open(&torn.segment, 0)
            .map_err(|e| JournalError::io("mapping", &torn.segment, e))?;
        map.zero_from(offset);
        map.sync(offset, map.len() - offset)
            .map_err(|e| JournalError::io("syncing segment", &torn.segment, e))?;
        note = Some(OpenNote::TornTailTruncated(torn));
    }
    let (map, path, at) = match log.segments.last() {
        Some((_, path)) => {
            // Segments are created at full size; a shorter last one was cut (by hand, a
            // crash while it was being created) and grows back, zero-filled.
            let map = MappedFile::open(path, options.segment_bytes as usize)
                .map_err(|e| JournalError::io("mapping", path, e))?;
            (map, path.clone(), log.end)
        }
        None => {
            fs::create_dir_all(&sd).map_err(|e| JournalError::io("creating", &sd, e))?;
            header::sync_dir(dir)?;
            let (map, path) =
                ShardWriter::create_segment(&sd, log.next_seq, options.segment_bytes)?;
            (map, path, 0)
        }
    };
    let tail = writer::Tail { map, path, at };
    let writer = ShardWriter::new(shard, &sd, *options, tail, log.next_seq, Arc::clone(lock));
    Ok(OpenedShard { past, writer, note })
}

/// A journal read without changing it.
#[derive(Debug)]
pub struct Scan {
    pub header: SessionHeader,
    pub shards: Vec<ShardScan>,
    /// Every shard's log holds an `End` entry.
    pub finished: bool,
}

#[derive(Debug)]
pub struct ShardScan {
    pub records: Vec<(u64, Record)>,
    pub torn: Option<TornTail>,
    pub segments: Vec<PathBuf>,
}

/// Reads every shard's log, checking every CRC and sequence number; repairs nothing.
pub fn scan(dir: &Path) -> Result<Scan, JournalError> {
    let header = SessionHeader::read(dir)?;
    let mut shards = Vec::with_capacity(header.shards as usize);
    for shard in 0..header.shards as usize {
        let log = reader::read_shard(dir, shard)?;
        shards.push(ShardScan {
            records: log.records,
            torn: log.torn,
            segments: log.segments.into_iter().map(|(_, p)| p).collect(),
        });
    }
    let finished = shards.iter().all(|s| {
        s.records
            .iter()
            .any(|(_, r)| matches!(r, Record::Entry(Entry::End { .. })))
    });
    Ok(Scan {
        header,
        shards,
        finished,
    })
}
