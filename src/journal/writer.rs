//! One shard's writer: appends framed entries into a mapped segment, rolls to the next
//! segment when a record does not fit, and syncs per the durability policy.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::sys::mapped::MappedFile;

use super::entry::{Entry, MAX_PAYLOAD};
use super::error::JournalError;
use super::format::{self, HEADER};
use super::header::sync_dir;
use super::segment;

/// When an appended record is durable.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Durability {
    /// In the shared file mapping before `append` returns: survives kill -9, not power
    /// loss. No syscall on the append path.
    Process,
    /// On stable storage before `append` returns (msync of the record's pages).
    Fsync,
    /// Synced every `records` appends or once `interval_us` has passed since the oldest
    /// unsynced append, whichever comes first. The interval is checked at each append:
    /// a writer with nothing more to append keeps its unsynced records until `sync`.
    Group { records: u32, interval_us: u64 },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct JournalOptions {
    pub durability: Durability,
    /// Bytes per segment file, reserved on disk when the segment is created.
    pub segment_bytes: u64,
}

/// 64 MiB: at ~60 bytes a record, about a million records a segment, so a busy session
/// rolls rarely while a segment stays small enough to map and scan quickly.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
/// A segment must hold at least a page and the largest record.
pub const MIN_SEGMENT_BYTES: u64 = 4096;
/// 1 GiB: offsets in a segment stay far below `u32`, and one mapping stays a small part
/// of a 64-bit address space even with 256 shards.
pub const MAX_SEGMENT_BYTES: u64 = 1 << 30;

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            durability: Durability::Process,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
        }
    }
}

impl JournalOptions {
    /// Checks every bound, naming the key (`journal.<field>`) that breaks it.
    pub fn validate(&self) -> Result<(), JournalError> {
        if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&self.segment_bytes) {
            return Err(JournalError::BadOption {
                key: "journal.segment_bytes",
                why: format!(
                    "{} is outside {MIN_SEGMENT_BYTES}..={MAX_SEGMENT_BYTES}",
                    self.segment_bytes
                ),
            });
        }
        if let Durability::Group {
            records,
            interval_us,
        } = self.durability
        {
            if records == 0 {
                return Err(JournalError::BadOption {
                    key: "journal.group.records",
                    why: "must be at least 1".into(),
                });
            }
            if interval_us == 0 {
                return Err(JournalError::BadOption {
                    key: "journal.group.interval_us",
                    why: "must be at least 1".into(),
                });
            }
        }
        Ok(())
    }
}

/// A writer's counters. `unsynced_records` is what a power loss could take right now;
/// under `Group` it never exceeds `records - 1` after an append returns.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Records appended by this writer (not those found on opening).
    pub records: u64,
    /// Their bytes, headers included.
    pub bytes: u64,
    /// msync calls that put something on stable storage.
    pub syncs: u64,
    /// Segments this writer rolled to (the one it was opened on not counted).
    pub segments: u64,
    /// The slowest sync and all of them together, in nanoseconds.
    pub max_sync_ns: u64,
    pub total_sync_ns: u64,
    /// Records appended since the last sync.
    pub unsynced_records: u64,
    /// The most records that were ever appended but not yet synced at once (0 under
    /// `Fsync`; under `Process` every record is unsynced until `sync`).
    pub max_unsynced_records: u64,
}

/// The segment a writer appends to: mapped, its path, and where the next record goes.
pub(crate) struct Tail {
    pub map: MappedFile,
    pub path: PathBuf,
    pub at: usize,
}

pub struct ShardWriter {
    shard: usize,
    shard_dir: PathBuf,
    options: JournalOptions,
    segment: MappedFile,
    segment_path: PathBuf,
    /// Where the next record goes in `segment`.
    at: usize,
    /// Bytes of `segment` before this offset are synced.
    synced_to: usize,
    next_seq: u64,
    /// When the oldest unsynced record was appended (under `Group`).
    oldest_unsynced: Option<Instant>,
    stats: JournalStats,
    poisoned: Option<JournalError>,
    /// The journal directory, locked (`flock`) while any of its writers lives.
    _lock: Arc<File>,
}

impl ShardWriter {
    /// A writer appending at `tail.at` in the mapped `tail.map`, next sequence `next_seq`.
    pub(crate) fn new(
        shard: usize,
        shard_dir: &Path,
        options: JournalOptions,
        tail: Tail,
        next_seq: u64,
        lock: Arc<File>,
    ) -> ShardWriter {
        let Tail { map, path, at } = tail;
        ShardWriter {
            shard,
            shard_dir: shard_dir.to_path_buf(),
            options,
            segment: map,
            segment_path: path,
            at,
            synced_to: at,
            next_seq,
            oldest_unsynced: None,
            stats: JournalStats::default(),
            poisoned: None,
            _lock: lock,
        }
    }

    /// Creates segment `first_seq` of a shard and maps it.
    pub(crate) fn create_segment(
        shard_dir: &Path,
        first_seq: u64,
        bytes: u64,
    ) -> Result<(MappedFile, PathBuf), JournalError> {
        let path = segment::segment_path(shard_dir, first_seq);
        let map = MappedFile::create(&path, bytes as usize)
            .map_err(|e| JournalError::io("creating segment", &path, e))?;
        sync_dir(shard_dir)?;
        Ok((map, path))
    }

    pub fn shard(&self) -> usize {
        self.shard
    }

    /// The sequence number the next append gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends one entry; returns its sequence number. On the `Process` policy no
    /// allocation and no syscall unless the segment is full.
    #[inline]
    pub fn append(&mut self, entry: &Entry) -> Result<u64, JournalError> {
        if let Some(e) = &self.poisoned {
            return Err(e.clone());
        }
        let result = self.append_inner(entry);
        if let Err(e) = &result {
            self.poisoned = Some(e.clone());
        }
        result
    }

    fn append_inner(&mut self, entry: &Entry) -> Result<u64, JournalError> {
        let mut buf = [0u8; HEADER + MAX_PAYLOAD];
        let payload = entry.encode(&mut buf[HEADER..]);
        let seq = self.next_seq;
        let len = format::frame(&mut buf, seq, entry.kind(), payload);
        if self.at + len > self.segment.len() {
            self.roll()?;
        }
        self.segment.write(self.at, &buf[..len]);
        self.at += len;
        self.next_seq += 1;
        self.stats.records += 1;
        self.stats.bytes += len as u64;
        self.stats.unsynced_records += 1;
        self.stats.max_unsynced_records = self
            .stats
            .max_unsynced_records
            .max(self.stats.unsynced_records);
        match self.options.durability {
            Durability::Process => {}
            Durability::Fsync => self.sync_now()?,
            Durability::Group {
                records,
                interval_us,
            } => {
                let oldest = *self.oldest_unsynced.get_or_insert_with(Instant::now);
                if self.stats.unsynced_records >= u64::from(records)
                    || oldest.elapsed().as_micros() >= u128::from(interval_us)
                {
                    self.sync_now()?;
                }
            }
        }
        Ok(seq)
    }

    /// Makes everything appended durable on stable storage, whatever the policy (called at
    /// a clean stop).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        if let Some(e) = &self.poisoned {
            return Err(e.clone());
        }
        let result = self.sync_now();
        if let Err(e) = &result {
            self.poisoned = Some(e.clone());
        }
        result
    }

    fn sync_now(&mut self) -> Result<(), JournalError> {
        if self.at == self.synced_to {
            self.stats.unsynced_records = 0;
            return Ok(());
        }
        let start = Instant::now();
        self.segment
            .sync(self.synced_to, self.at - self.synced_to)
            .map_err(|e| JournalError::io("syncing segment", &self.segment_path, e))?;
        let ns = start.elapsed().as_nanos() as u64;
        self.synced_to = self.at;
        self.oldest_unsynced = None;
        self.stats.unsynced_records = 0;
        self.stats.syncs += 1;
        self.stats.total_sync_ns += ns;
        self.stats.max_sync_ns = self.stats.max_sync_ns.max(ns);
        Ok(())
    }

    /// Moves to a new segment. The current one is synced first, whatever the policy:
    /// `sync` reaches only the current segment, so a clean stop's promise needs the
    /// earlier ones on disk already (one msync per segment, ~1 M records).
    fn roll(&mut self) -> Result<(), JournalError> {
        self.sync_now()?;
        let (map, path) =
            Self::create_segment(&self.shard_dir, self.next_seq, self.options.segment_bytes)?;
        self.segment = map;
        self.segment_path = path;
        self.at = 0;
        self.synced_to = 0;
        self.stats.segments += 1;
        Ok(())
    }

    pub fn stats(&self) -> JournalStats {
        self.stats
    }

    /// The error that poisoned this writer, if one did.
    pub fn poisoned(&self) -> Option<&JournalError> {
        self.poisoned.as_ref()
    }
}
