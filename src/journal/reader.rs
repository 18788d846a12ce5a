//! Reading a shard's log back: every record's CRC and sequence number checked, a torn
//! tail told apart from damage before it.
//!
//! A record that does not read (zero or impossible length, length past the segment, bad
//! CRC) ends the log there. It is a **torn tail** (a write cut short by a crash) when
//! nothing valid follows it: no CRC-valid record later in its segment and no later
//! segment holding any byte. Otherwise the damage is in the middle of the log and the
//! reader refuses ([`JournalError::Corrupt`]): the records after it were acknowledged and
//! cannot be silently dropped.

use std::path::{Path, PathBuf};

use super::entry::{DecodeError, Entry};
use super::error::JournalError;
use super::format::{self, At, HEADER};
use super::segment;

/// One record as read: a typed entry, or a kind this build does not know.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Record {
    Entry(Entry),
    Unknown { kind: u8, len: u32 },
}

/// A torn tail: where the shard's valid log ends, and how many bytes after it were
/// written (up to the last non-zero byte of the segment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub shard: usize,
    pub segment: PathBuf,
    pub offset: u64,
    pub bytes: u64,
}

/// What one segment's bytes hold.
#[derive(Debug, Default)]
pub struct SegmentRead {
    pub records: Vec<(u64, Record)>,
    /// Where the valid records end (the next record goes here).
    pub end: usize,
    /// `(offset, bytes)` of a torn tail after `end`, if any.
    pub torn: Option<(usize, usize)>,
}

/// Reads one segment's `bytes`, whose first record must be `first_seq`. `later` says
/// whether a later segment of the shard holds data (which makes any bad record here
/// mid-log damage).
pub fn read_segment(
    shard: usize,
    path: &Path,
    bytes: &[u8],
    first_seq: u64,
    later: bool,
) -> Result<SegmentRead, JournalError> {
    let corrupt = |offset: usize, why: String| JournalError::Corrupt {
        shard,
        segment: path.to_path_buf(),
        offset: offset as u64,
        why,
    };
    let mut out = SegmentRead::default();
    let mut at = 0;
    let mut seq = first_seq;
    loop {
        match format::read(&bytes[at..]) {
            At::Record(frame) => {
                if frame.seq != seq {
                    return Err(corrupt(
                        at,
                        format!("sequence {} where {seq} was expected", frame.seq),
                    ));
                }
                let record = match Entry::decode(frame.kind, frame.payload) {
                    Ok(entry) => Record::Entry(entry),
                    Err(DecodeError::UnknownKind(kind)) => Record::Unknown {
                        kind,
                        len: frame.len as u32,
                    },
                    Err(DecodeError::Malformed(why)) => {
                        return Err(corrupt(at, format!("kind {} payload: {why}", frame.kind)));
                    }
                };
                out.records.push((seq, record));
                seq += 1;
                at += frame.len;
            }
            At::Zero | At::Bad(_) => {
                out.end = at;
                let written = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                if written <= at {
                    return Ok(out); // the clean end of the written area
                }
                let why = match format::read(&bytes[at..]) {
                    At::Bad(why) => why,
                    _ => "zero length before written bytes",
                };
                if later {
                    return Err(corrupt(
                        at,
                        format!("{why}, and a later segment holds data"),
                    ));
                }
                if let Some(next) = next_valid(bytes, at + 1) {
                    return Err(corrupt(
                        at,
                        format!("{why}, and a valid record follows at offset {next}"),
                    ));
                }
                out.torn = Some((at, written - at));
                return Ok(out);
            }
        }
    }
}

/// The first offset at or after `from` where a CRC-valid record starts.
fn next_valid(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len().saturating_sub(HEADER - 1))
        .find(|&o| matches!(format::read(&bytes[o..]), At::Record(_)))
}

/// A shard's whole log, read-only.
#[derive(Debug, Default)]
pub struct ShardLog {
    pub records: Vec<(u64, Record)>,
    pub torn: Option<TornTail>,
    /// The segments, `(first sequence number, path)`, in order.
    pub segments: Vec<(u64, PathBuf)>,
    /// Where the next record goes in the last segment (0 if there is none).
    pub end: usize,
    /// The next sequence number.
    pub next_seq: u64,
}

pub fn read_shard(dir: &Path, shard: usize) -> Result<ShardLog, JournalError> {
    let segments = segment::list(dir, shard)?;
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| JournalError::io("reading", p, e));
    // Which segments hold any byte: one read each, kept no longer than the check, so a
    // long journal is never all in memory at once.
    let mut last_with_data = None;
    for (i, (_, path)) in segments.iter().enumerate() {
        if read(path)?.iter().any(|&b| b != 0) {
            last_with_data = Some(i);
        }
    }
    let mut log = ShardLog {
        next_seq: 1,
        ..ShardLog::default()
    };
    for (i, (first, path)) in segments.iter().enumerate() {
        if *first != log.next_seq {
            return Err(JournalError::SequenceGap {
                shard,
                segment: path.clone(),
                expected: log.next_seq,
                found: *first,
            });
        }
        let later = last_with_data.is_some_and(|last| last > i);
        let segment = read_segment(shard, path, &read(path)?, *first, later)?;
        log.next_seq = first + segment.records.len() as u64;
        log.records.extend(segment.records);
        log.end = segment.end;
        if let Some((offset, bytes)) = segment.torn {
            log.torn = Some(TornTail {
                shard,
                segment: path.clone(),
                offset: offset as u64,
                bytes: bytes as u64,
            });
        }
    }
    log.segments = segments;
    Ok(log)
}
