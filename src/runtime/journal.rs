//! The decision journal in a run: `[journal]` in the config, what a shard's journal
//! needs from the pipeline (its stop signal, the start time), and what the report says.
//!
//! The seam the stages journal through is `stages::journal`; this module gives its
//! sinks the pipeline's side: a fault stops the run, naming the shard, and the replay's
//! wall time is measured from the pipeline's start. [`MemoryJournal`] is the in-memory
//! store used by tests; the file store plugs in the same way.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Deserialize;

use crate::config::Problems;
use crate::msg::VenueTiming;
use crate::stages::journal::{DecisionLog, Journal, JournalFault, Record, RecordSink};
use crate::sys::{Failure, StopSignal};

/// `[journal]` in the config: how durable a record is before its command is sent. Only
/// read when the run keeps a journal (`--journal DIR`); changing it never changes a
/// decision, so it is left out of the config's identity in the session header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// `"process"`, `"fsync"` or `"group"`.
    pub durability: String,
    /// Bytes per segment file, reserved when the segment is created.
    pub segment_bytes: u64,
    /// `durability = "group"` only: sync every `records` records or `interval_us`.
    pub group: Option<GroupConfig>,
}

/// `[journal.group]`: the group-commit policy's two bounds; both required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub records: u32,
    pub interval_us: u64,
}

/// The durability policy, checked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    Process,
    Fsync,
    Group { records: u32, interval_us: u64 },
}

impl Policy {
    /// The policy's name as the config writes it.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Process => "process",
            Policy::Fsync => "fsync",
            Policy::Group { .. } => "group",
        }
    }

    /// What the policy can lose, for the report.
    pub fn risks(self) -> String {
        match self {
            Policy::Process => "a record is in the shared file mapping before its command is \
                                sent: it survives kill -9, but a power loss or kernel crash \
                                may lose records the OS had not yet written back"
                .into(),
            Policy::Fsync => "a record is on stable storage before its command is sent: it \
                              survives power loss"
                .into(),
            Policy::Group {
                records,
                interval_us,
            } => format!(
                "survives kill -9; a power loss may lose up to {} records or {interval_us} µs \
                 of records not yet synced, whose commands may have been sent",
                records.saturating_sub(1)
            ),
        }
    }
}

/// Most bytes a segment may reserve: 1 GiB (a segment is mapped whole).
pub const MAX_SEGMENT_BYTES: u64 = 1 << 30;
/// Fewest: a page, which holds the largest record many times over.
pub const MIN_SEGMENT_BYTES: u64 = 4096;
/// The longest group-commit interval: one second. Longer is a unit mistake, and a
/// second of records is already more than a power loss should be allowed to take.
pub const MAX_GROUP_INTERVAL_US: u64 = 1_000_000;

impl JournalConfig {
    /// Every invalid value, each with its key; the policy when there is none.
    pub fn validate(&self, p: &mut Problems<'_>) -> Option<Policy> {
        let mut ok = true;
        let mut problem = |p: &mut Problems<'_>, key: &str, message: String| {
            ok = false;
            p.add(key, message);
        };
        if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&self.segment_bytes) {
            problem(
                p,
                "segment_bytes",
                format!(
                    "{} is outside {MIN_SEGMENT_BYTES}..={MAX_SEGMENT_BYTES} (a page to 1 GiB: \
                     a segment is mapped whole)",
                    self.segment_bytes
                ),
            );
        }
        let policy = match (self.durability.as_str(), self.group) {
            ("process", None) => Some(Policy::Process),
            ("fsync", None) => Some(Policy::Fsync),
            ("group", Some(g)) => {
                if g.records == 0 {
                    problem(p, "group.records", "must be at least 1".into());
                }
                if !(1..=MAX_GROUP_INTERVAL_US).contains(&g.interval_us) {
                    problem(
                        p,
                        "group.interval_us",
                        format!(
                            "{} is outside 1..={MAX_GROUP_INTERVAL_US} µs",
                            g.interval_us
                        ),
                    );
                }
                Some(Policy::Group {
                    records: g.records,
                    interval_us: g.interval_us,
                })
            }
            ("group", None) => {
                problem(
                    p,
                    "group",
                    "durability = \"group\" needs [journal.group] with records and interval_us"
                        .into(),
                );
                None
            }
            ("process" | "fsync", Some(_)) => {
                problem(
                    p,
                    "group",
                    format!(
                        "only read with durability = \"group\", not {:?}: remove it or change \
                         the policy",
                        self.durability
                    ),
                );
                None
            }
            (other, _) => {
                problem(
                    p,
                    "durability",
                    format!("unknown policy {other:?}; one of \"process\", \"fsync\", \"group\""),
                );
                None
            }
        };
        policy.filter(|_| ok)
    }
}

/// What the report says about the journal besides each shard's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalMeta {
    pub dir: String,
    pub policy: String,
    /// What the policy can lose.
    pub risks: String,
    /// The journal held a session already: this run re-derived and checked it.
    pub resumed: bool,
    /// The session was already finished: this run verified it and sent nothing.
    pub finished: bool,
    /// What opening the journal repaired (a torn tail truncated), one line each.
    pub notes: Vec<String>,
}

/// What a journal factory gets from the pipeline it journals.
pub struct JournalContext {
    pub shards: usize,
    /// How the venue plugged in keeps time: only an asynchronous venue's reports are
    /// journaled.
    pub timing: VenueTiming,
    pub stop: Arc<StopSignal>,
    pub started: Instant,
}

/// Builds one [`DecisionLog`] per shard, in shard order, when the pipeline starts.
pub type LogFactory = Box<dyn FnOnce(&JournalContext) -> Vec<Box<dyn DecisionLog>>>;

/// The pipeline's side of a shard's sink: a fault fails the run (so the source stops,
/// everything drains and the report names it), and the replay's wall time is measured.
pub struct RunHooks {
    shard: usize,
    stop: Arc<StopSignal>,
    started: Instant,
    replay_ns: Option<u64>,
    resumed: bool,
}

impl RunHooks {
    pub fn new(shard: usize, ctx: &JournalContext, resumed: bool) -> RunHooks {
        RunHooks {
            shard,
            stop: Arc::clone(&ctx.stop),
            started: ctx.started,
            replay_ns: None,
            resumed,
        }
    }

    pub fn fault(&mut self, fault: &JournalFault) {
        self.stop.fail(Failure {
            runner: format!("shard{}", self.shard),
            stage: "journal".into(),
            message: fault.to_string(),
        });
    }

    pub fn caught_up(&mut self) {
        if self.resumed {
            self.replay_ns = Some(self.started.elapsed().as_nanos() as u64);
        }
    }

    pub fn replay_ns(&self) -> Option<u64> {
        self.replay_ns
    }
}

/// A journal kept in memory, one record list per shard: the store's test double. A
/// test reads it back after the run, cuts it short as a crash would, tampers with it,
/// and resumes from it.
#[derive(Clone, Default)]
pub struct MemoryJournal {
    shards: Arc<Mutex<Vec<Vec<Record>>>>,
}

impl MemoryJournal {
    /// A journal holding `shards` (empty lists for a new session).
    pub fn new(shards: Vec<Vec<Record>>) -> MemoryJournal {
        MemoryJournal {
            shards: Arc::new(Mutex::new(shards)),
        }
    }

    /// Every shard's records so far.
    pub fn records(&self) -> Vec<Vec<Record>> {
        self.shards.lock().expect("journal lock").clone()
    }

    /// Logs for a run over this journal: each shard re-derives what it holds, then
    /// appends, until `cut` says otherwise. Each shard's list reserves `capacity`
    /// records, so a run within it appends without allocating.
    pub fn factory(&self, cut: Cut, capacity: usize) -> LogFactory {
        let journal = self.clone();
        Box::new(move |ctx: &JournalContext| {
            let mut shards = journal.shards.lock().expect("journal lock");
            let len = ctx.shards.max(shards.len());
            shards.resize(len, Vec::new());
            (0..ctx.shards)
                .map(|shard| {
                    let list = &mut shards[shard];
                    list.reserve(capacity);
                    let past: Vec<(u64, Record)> = (1..).zip(list.iter().copied()).collect();
                    let sink = Hooked {
                        appender: MemoryShard {
                            journal: journal.clone(),
                            shard,
                            cut,
                        },
                        hooks: RunHooks::new(shard, ctx, !past.is_empty()),
                    };
                    Box::new(Journal::new(shard, past, ctx.timing, sink)) as Box<dyn DecisionLog>
                })
                .collect()
        })
    }
}

/// Where a [`MemoryJournal`] stops keeping a shard's records.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Never.
    None,
    /// Appends fail once the shard holds this many records, as on a full disk.
    DiskFull { after: usize },
    /// Appends succeed but are lost once the shard holds this many: what a process
    /// killed at that moment leaves (no `End`); the run itself goes on, as if unobserved.
    Killed { after: usize },
}

/// Where a run's records for one shard go: memory, the store, or nowhere. [`Hooked`]
/// adds what every run's sink does besides (faults and the end of the replay).
trait Appender: Send {
    /// Appends one record; on error the journal takes nothing more.
    fn append(&mut self, record: &Record) -> Result<(), String>;
    /// Bytes appended so far, framing included.
    fn bytes(&self) -> u64;
    /// Records appended but not yet on stable storage.
    fn unsynced(&self) -> u64;
}

/// A run's [`RecordSink`]: records into `appender`; faults stop the run and the end of
/// the replay is timed through the run's hooks.
struct Hooked<A> {
    appender: A,
    hooks: RunHooks,
}

impl<A: Appender> RecordSink for Hooked<A> {
    fn append(&mut self, record: &Record) -> Result<(), String> {
        self.appender.append(record)
    }

    fn fault(&mut self, fault: &JournalFault) {
        self.hooks.fault(fault);
    }

    fn caught_up(&mut self) {
        self.hooks.caught_up();
    }

    fn bytes(&self) -> u64 {
        self.appender.bytes()
    }

    fn unsynced(&self) -> u64 {
        self.appender.unsynced()
    }

    fn replay_ns(&self) -> Option<u64> {
        self.hooks.replay_ns()
    }
}

/// One shard's sink into a [`MemoryJournal`].
struct MemoryShard {
    journal: MemoryJournal,
    shard: usize,
    cut: Cut,
}

impl Appender for MemoryShard {
    fn append(&mut self, record: &Record) -> Result<(), String> {
        let mut shards = self.journal.shards.lock().expect("journal lock");
        let list = &mut shards[self.shard];
        match self.cut {
            Cut::DiskFull { after } if list.len() >= after => {
                Err("no space left on device (simulated)".into())
            }
            Cut::Killed { after } if list.len() >= after => Ok(()),
            _ => {
                list.push(*record);
                Ok(())
            }
        }
    }

    fn bytes(&self) -> u64 {
        0
    }

    /// Memory is never durable, nor meant to be: the test store has no lag to report.
    fn unsynced(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Problem;

    fn check(text: &str) -> (Option<Policy>, Vec<Problem>) {
        let config: JournalConfig = toml::from_str(text).unwrap();
        let mut found = Vec::new();
        let policy = config.validate(&mut Problems::new("journal", &mut found));
        (policy, found)
    }

    fn keys(found: &[Problem]) -> Vec<&str> {
        found.iter().map(|p| p.key.as_str()).collect()
    }

    #[test]
    fn each_policy_parses() {
        let seg = "segment_bytes = 65536\n";
        assert_eq!(
            check(&format!("durability = \"process\"\n{seg}")).0,
            Some(Policy::Process)
        );
        assert_eq!(
            check(&format!("durability = \"fsync\"\n{seg}")).0,
            Some(Policy::Fsync)
        );
        assert_eq!(
            check(&format!(
                "durability = \"group\"\n{seg}[group]\nrecords = 64\ninterval_us = 500\n"
            ))
            .0,
            Some(Policy::Group {
                records: 64,
                interval_us: 500
            })
        );
    }

    #[test]
    fn every_bad_value_is_named() {
        let (policy, found) = check("durability = \"sometimes\"\nsegment_bytes = 1\n");
        assert_eq!(policy, None);
        assert_eq!(
            keys(&found),
            ["journal.segment_bytes", "journal.durability"]
        );
        let (_, found) = check("durability = \"group\"\nsegment_bytes = 65536\n");
        assert_eq!(keys(&found), ["journal.group"]);
        let (_, found) = check(
            "durability = \"fsync\"\nsegment_bytes = 65536\n[group]\nrecords = 1\ninterval_us = 1\n",
        );
        assert_eq!(keys(&found), ["journal.group"]);
        let (_, found) = check(
            "durability = \"group\"\nsegment_bytes = 65536\n[group]\nrecords = 0\ninterval_us = 0\n",
        );
        assert_eq!(
            keys(&found),
            ["journal.group.records", "journal.group.interval_us"]
        );
    }

    #[test]
    fn unknown_and_missing_keys_are_refused() {
        let unknown = toml::from_str::<JournalConfig>(
            "durability = \"process\"\nsegment_bytes = 65536\nretries = 3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(unknown.contains("retries"), "{unknown}");
        let missing = toml::from_str::<JournalConfig>("durability = \"process\"\n")
            .unwrap_err()
            .to_string();
        assert!(missing.contains("segment_bytes"), "{missing}");
    }
}

/// The file store (`crate::journal`) behind the seam: records ↔ its entries, one
/// [`ShardWriter`] per shard as the sink, the session header's identities.
pub mod store {
    use std::hash::Hasher;
    use std::io::Read;
    use std::path::Path;
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::{Appender, Hooked, JournalContext, JournalMeta, LogFactory, Policy, RunHooks};
    use crate::journal::entry;
    use crate::journal::{
        self, Durability, Entry, InputIdentity, JournalError, JournalOptions, SessionHeader,
        ShardWriter,
    };
    use crate::msg::{ClOrdId, SymbolId};
    use crate::source::replay::Input;
    use crate::stages::Operator;
    use crate::stages::coordinator::{self, Level, LevelCause, ParentOrder, SliceFate};
    use crate::stages::journal::{DecisionLog, Journal, Record, StateCause};
    use crate::stages::reject::RejectCode;

    /// Why a journal could not be opened for a run or a verification.
    #[derive(Debug, thiserror::Error)]
    pub enum OpenError {
        #[error("journal {dir}: {source}")]
        Store {
            dir: String,
            #[source]
            source: JournalError,
        },
        #[error(
            "journal {dir}: shard {shard}, record {seq}: {what}; this build cannot re-derive it"
        )]
        Unreadable {
            dir: String,
            shard: usize,
            seq: u64,
            what: String,
        },
        #[error("input {input}: {why}")]
        Input { input: String, why: String },
    }

    /// The store's options for `policy`.
    pub fn options(policy: Policy, segment_bytes: u64) -> JournalOptions {
        JournalOptions {
            durability: match policy {
                Policy::Process => Durability::Process,
                Policy::Fsync => Durability::Fsync,
                Policy::Group {
                    records,
                    interval_us,
                } => Durability::Group {
                    records,
                    interval_us,
                },
            },
            segment_bytes,
        }
    }

    /// The input's identity for the session header: its length and FNV-1a hash; for a
    /// live feed, which has no bytes yet, the hash of its description (`kind` "live").
    pub fn input_identity(input: &Input) -> Result<InputIdentity, OpenError> {
        let fail = |why: String| OpenError::Input {
            input: input.describe(),
            why,
        };
        let mut h = fnv::FnvHasher::default();
        let len = match input {
            // The feed's bytes do not exist yet: the session captures them into the
            // journal (`source::live::Capture`). The header names the feed instead.
            Input::Live(config) => {
                return Ok(InputIdentity {
                    kind: "live".into(),
                    len: 0,
                    hash: journal::stable_hash(config.describe().as_bytes()),
                });
            }
            Input::Sample(_) => {
                let bytes = input.load().map_err(|e| fail(e.to_string()))?;
                h.write(&bytes);
                bytes.len() as u64
            }
            Input::File(path) => {
                let mut file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
                // 1 MiB reads: the replay's own block size.
                let mut buf = vec![0u8; 1 << 20];
                let mut len = 0u64;
                loop {
                    let n = file.read(&mut buf).map_err(|e| fail(e.to_string()))?;
                    if n == 0 {
                        break;
                    }
                    h.write(&buf[..n]);
                    len += n as u64;
                }
                len
            }
        };
        Ok(InputIdentity {
            kind: "replay".into(),
            len,
            hash: h.finish(),
        })
    }

    /// The header of a session of `config_hash` over `input` with `shards` shards.
    pub fn header(config_hash: u64, input: InputIdentity, shards: usize) -> SessionHeader {
        SessionHeader {
            format_version: journal::header::FORMAT_VERSION,
            config_hash,
            input,
            shards: shards as u32,
            created_unix_ns: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        }
    }

    /// The store's entry for a record.
    pub fn entry(record: &Record) -> Entry {
        match *record {
            Record::Command { position, command } => Entry::Command { position, command },
            Record::Report { position, report } => Entry::Report { position, report },
            Record::State {
                position,
                state,
                cause,
            } => Entry::State {
                position,
                state,
                cause: cause as u16,
            },
            Record::End { position, digest } => Entry::End { position, digest },
            Record::Operator { position, command } => {
                let (command, symbol) = match command {
                    Operator::Reenable { symbol } => (entry::OPERATOR_REENABLE, symbol.0),
                    Operator::ResumeAll => (entry::OPERATOR_RESUME_ALL, 0),
                };
                Entry::Operator {
                    position,
                    command,
                    symbol,
                }
            }
            Record::Coordinator { position, event } => coordinator_entry(position, event),
        }
    }

    /// A shard's stored entries as records; an entry this build cannot re-derive (a
    /// state cause it does not know, a kind it cannot read) is an error naming it.
    fn records(
        dir: &Path,
        shard: usize,
        stored: impl IntoIterator<Item = (u64, Option<Entry>)>,
    ) -> Result<Vec<(u64, Record)>, OpenError> {
        let unreadable = |seq: u64, what: String| OpenError::Unreadable {
            dir: dir.display().to_string(),
            shard,
            seq,
            what,
        };
        stored
            .into_iter()
            .map(|(seq, entry)| {
                let record = match entry {
                    None => return Err(unreadable(seq, "a record kind it does not know".into())),
                    Some(Entry::Command { position, command }) => {
                        Record::Command { position, command }
                    }
                    Some(Entry::Report { position, report }) => Record::Report { position, report },
                    Some(Entry::State {
                        position,
                        state,
                        cause,
                    }) => Record::State {
                        position,
                        state,
                        cause: StateCause::from_code(cause).ok_or_else(|| {
                            unreadable(seq, format!("state-change cause {cause} it does not know"))
                        })?,
                    },
                    Some(Entry::End { position, digest }) => Record::End { position, digest },
                    Some(
                        e @ (Entry::Level { position, .. }
                        | Entry::Schedule { position, .. }
                        | Entry::Slice { position, .. }
                        | Entry::Snapshot { position, .. }),
                    ) => Record::Coordinator {
                        position,
                        event: coordinator_event(&e).ok_or_else(|| {
                            unreadable(seq, format!("a coordinator record it cannot read: {e:?}"))
                        })?,
                    },
                    Some(Entry::Operator {
                        position,
                        command,
                        symbol,
                    }) => Record::Operator {
                        position,
                        command: if command == entry::OPERATOR_REENABLE {
                            Operator::Reenable {
                                symbol: SymbolId(symbol),
                            }
                        } else {
                            Operator::ResumeAll
                        },
                    },
                };
                Ok((seq, record))
            })
            .collect()
    }

    /// Opens (or creates) the journal `dir` for a run: the report's meta and the logs,
    /// one per shard, each re-deriving what its shard already holds, then appending.
    pub fn open_for_run(
        dir: &Path,
        header: &SessionHeader,
        policy: Policy,
        segment_bytes: u64,
    ) -> Result<(JournalMeta, LogFactory), OpenError> {
        let store = |source| OpenError::Store {
            dir: dir.display().to_string(),
            source,
        };
        let opened = journal::open(
            dir,
            header,
            header.shards as usize,
            &options(policy, segment_bytes),
        )
        .map_err(store)?;
        let mut past = Vec::with_capacity(opened.past.len());
        for (shard, entries) in opened.past.into_iter().enumerate() {
            past.push(records(
                dir,
                shard,
                entries.into_iter().map(|(seq, e)| (seq, Some(e))),
            )?);
        }
        let finished = past
            .iter()
            .all(|p| matches!(p.last(), Some((_, Record::End { .. }))));
        let meta = JournalMeta {
            dir: dir.display().to_string(),
            policy: policy.name().into(),
            risks: policy.risks(),
            resumed: opened.resumed,
            finished: opened.resumed && finished,
            notes: opened.notes.iter().map(ToString::to_string).collect(),
        };
        let writers = opened.writers;
        let resumed = opened.resumed;
        let factory: LogFactory = Box::new(move |ctx: &JournalContext| {
            past.into_iter()
                .zip(writers)
                .enumerate()
                .map(|(shard, (past, writer))| {
                    let sink = Hooked {
                        appender: StoreShard { writer },
                        hooks: RunHooks::new(shard, ctx, resumed),
                    };
                    Box::new(Journal::new(shard, past, ctx.timing, sink)) as Box<dyn DecisionLog>
                })
                .collect()
        });
        Ok((meta, factory))
    }

    /// What `journal verify` replays against: the journal read without change, every
    /// shard's records, and whether it finished.
    pub struct ReadOnly {
        pub header: SessionHeader,
        pub past: Vec<Vec<(u64, Record)>>,
        pub finished: bool,
    }

    /// Reads `dir` without changing it (a torn tail is left as it is, and ignored).
    pub fn read(dir: &Path) -> Result<ReadOnly, OpenError> {
        let scan = journal::scan(dir).map_err(|source| OpenError::Store {
            dir: dir.display().to_string(),
            source,
        })?;
        let mut past = Vec::with_capacity(scan.shards.len());
        for (shard, s) in scan.shards.into_iter().enumerate() {
            past.push(records(
                dir,
                shard,
                s.records.into_iter().map(|(seq, r)| match r {
                    journal::Record::Entry(e) => (seq, Some(e)),
                    journal::Record::Unknown { .. } => (seq, None),
                }),
            )?);
        }
        Ok(ReadOnly {
            header: scan.header,
            past,
            finished: scan.finished,
        })
    }

    /// Logs that re-derive `past` and write nothing: decisions past a journal's end are
    /// dropped (the verifying run's venue is the in-process simulated one).
    pub fn verify_logs(past: Vec<Vec<(u64, Record)>>) -> LogFactory {
        Box::new(move |ctx: &JournalContext| {
            past.into_iter()
                .enumerate()
                .map(|(shard, past)| {
                    let sink = Hooked {
                        appender: Discard,
                        hooks: RunHooks::new(shard, ctx, true),
                    };
                    Box::new(Journal::new(shard, past, ctx.timing, sink)) as Box<dyn DecisionLog>
                })
                .collect()
        })
    }

    /// A coordinator event's entry.
    fn coordinator_entry(position: u64, event: coordinator::Event) -> Entry {
        match event {
            coordinator::Event::Level { level, cause } => Entry::Level {
                position,
                level: level as u8,
                cause: cause as u8,
            },
            coordinator::Event::Schedule { parent: p } => Entry::Schedule {
                position,
                symbol: p.symbol.0,
                side: p.side,
                quantity: p.quantity,
                slices: p.slices,
                start_ns: p.start_ns,
                interval_ns: p.interval_ns,
                limit_offset: p.limit_offset,
            },
            coordinator::Event::Slice {
                parent,
                slice,
                fate,
            } => {
                let (fate, cl_ord_id, code) = match fate {
                    SliceFate::Sent(id) => (entry::SLICE_SENT, id.0, 0),
                    SliceFate::Refused(code) => (entry::SLICE_REFUSED, 0, code.index() as u8),
                };
                Entry::Slice {
                    position,
                    parent,
                    slice,
                    fate,
                    cl_ord_id,
                    code,
                }
            }
            coordinator::Event::Snapshot {
                at,
                realised,
                unrealised,
            } => Entry::Snapshot {
                position,
                at,
                realised,
                unrealised,
            },
        }
    }

    /// A coordinator entry's event; `None` for a value this build does not know (a
    /// reject code, an invalid parent order).
    fn coordinator_event(e: &Entry) -> Option<coordinator::Event> {
        Some(match *e {
            Entry::Level { level, cause, .. } => coordinator::Event::Level {
                level: Level::from_code(level)?,
                cause: LevelCause::from_code(cause)?,
            },
            Entry::Schedule {
                symbol,
                side,
                quantity,
                slices,
                start_ns,
                interval_ns,
                limit_offset,
                ..
            } => {
                let parent = ParentOrder {
                    symbol: SymbolId(symbol),
                    side,
                    quantity,
                    slices,
                    start_ns,
                    interval_ns,
                    limit_offset,
                };
                parent.is_valid().then_some(())?;
                coordinator::Event::Schedule { parent }
            }
            Entry::Slice {
                parent,
                slice,
                fate,
                cl_ord_id,
                code,
                ..
            } => coordinator::Event::Slice {
                parent,
                slice,
                fate: if fate == entry::SLICE_SENT {
                    SliceFate::Sent(ClOrdId(cl_ord_id))
                } else {
                    SliceFate::Refused(*RejectCode::ALL.get(usize::from(code))?)
                },
            },
            Entry::Snapshot {
                at,
                realised,
                unrealised,
                ..
            } => coordinator::Event::Snapshot {
                at,
                realised,
                unrealised,
            },
            _ => return None,
        })
    }

    /// A shard's sink into the store.
    struct StoreShard {
        writer: ShardWriter,
    }

    impl Appender for StoreShard {
        fn append(&mut self, record: &Record) -> Result<(), String> {
            self.writer
                .append(&entry(record))
                .map_err(|e| e.to_string())?;
            if let Record::End { .. } = record {
                // The session's last record: on stable storage whatever the policy, so
                // a finished session reads as finished after any crash.
                self.writer.sync().map_err(|e| e.to_string())?;
            }
            Ok(())
        }

        fn bytes(&self) -> u64 {
            self.writer.stats().bytes
        }

        fn unsynced(&self) -> u64 {
            self.writer.stats().unsynced_records
        }
    }

    /// A verifying run's sink: it takes every record past the journal's end and keeps
    /// none.
    struct Discard;

    impl Appender for Discard {
        fn append(&mut self, _record: &Record) -> Result<(), String> {
            Ok(())
        }

        fn bytes(&self) -> u64 {
            0
        }

        fn unsynced(&self) -> u64 {
            0
        }
    }
}
