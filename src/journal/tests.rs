//! The store end to end on real files: round trips, resumption, torn tails and mid-log
//! damage at every byte, header checks, poisoning, and the durability policies' syncs.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;

use super::*;
use crate::msg::{ClOrdId, OrderIntent, Price, Side, Stamp, SymbolId, TimeInForce, VenueCommand};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "tickpipe-journal-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn header(shards: u32) -> SessionHeader {
    SessionHeader {
        format_version: header::FORMAT_VERSION,
        config_hash: stable_hash(b"config"),
        input: InputIdentity {
            kind: "replay".into(),
            len: 1234,
            hash: stable_hash(b"input"),
        },
        shards,
        created_unix_ns: 5,
    }
}

fn options(durability: Durability) -> JournalOptions {
    JournalOptions {
        durability,
        segment_bytes: 4096,
    }
}

fn order(i: u64) -> Entry {
    Entry::Command {
        position: i * 10,
        command: VenueCommand::New {
            stamp: Stamp {
                ts_recv: i,
                ts_event: i + 1,
            },
            order: OrderIntent {
                cl_ord_id: ClOrdId::new(SymbolId(1), i),
                price: Price(1_000_000 + i as i64),
                qty: 100,
                symbol: SymbolId(1),
                side: Side::Buy,
                tif: TimeInForce::Day,
            },
        },
    }
}

/// Writes `n` orders to shard 0 of a new one-shard journal and returns the record
/// boundaries (offsets in the first segment) and the entries.
fn small_journal(dir: &Path, n: u64) -> (Vec<usize>, Vec<Entry>) {
    let mut opened = open(dir, &header(1), 1, &options(Durability::Process)).unwrap();
    let mut bounds = vec![0];
    let mut entries = Vec::new();
    for i in 1..=n {
        let e = if i == n {
            Entry::End {
                position: 99,
                digest: 0xabc,
            }
        } else {
            order(i)
        };
        opened.writers[0].append(&e).unwrap();
        bounds.push(opened.writers[0].stats().bytes as usize);
        entries.push(e);
    }
    opened.writers[0].sync().unwrap();
    (bounds, entries)
}

fn first_segment(dir: &Path) -> PathBuf {
    segment::segment_path(&segment::shard_dir(dir, 0), 1)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to.join("shard-0")).unwrap();
    fs::copy(from.join("session.json"), to.join("session.json")).unwrap();
    for e in fs::read_dir(from.join("shard-0")).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, to.join("shard-0").join(p.file_name().unwrap())).unwrap();
    }
}

fn entries(scan: &ShardScan) -> Vec<(u64, Entry)> {
    scan.records
        .iter()
        .map(|&(s, r)| match r {
            Record::Entry(e) => (s, e),
            Record::Unknown { kind, .. } => panic!("unknown kind {kind}"),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn appended_entries_scan_and_reopen_identically(
        list in proptest::collection::vec(entry::arb::entry(), 1..200)
    ) {
        let dir = TempDir::new("roundtrip");
        let mut opened = open(&dir.0, &header(2), 2, &options(Durability::Process)).unwrap();
        prop_assert!(!opened.resumed);
        prop_assert!(opened.past.iter().all(Vec::is_empty));
        for (i, e) in list.iter().enumerate() {
            let seq = opened.writers[i % 2].append(e).unwrap();
            prop_assert_eq!(seq, (i / 2) as u64 + 1);
        }
        drop(opened);
        let scan = scan(&dir.0).unwrap();
        for shard in 0..2 {
            let expect: Vec<(u64, Entry)> = list
                .iter()
                .skip(shard)
                .step_by(2)
                .enumerate()
                .map(|(i, e)| (i as u64 + 1, *e))
                .collect();
            prop_assert_eq!(entries(&scan.shards[shard]), expect.clone());
            let reopened = open(&dir.0, &header(2), 2, &options(Durability::Process)).unwrap();
            prop_assert!(reopened.resumed);
            prop_assert_eq!(&reopened.past[shard], &expect);
        }
    }
}

#[test]
fn reopening_continues_the_sequence_across_segments() {
    let dir = TempDir::new("reopen");
    let mut opened = open(&dir.0, &header(1), 1, &options(Durability::Fsync)).unwrap();
    // 66 bytes a record, 62 to a 4 KiB segment: 300 records need five.
    for i in 1..=150 {
        assert_eq!(opened.writers[0].append(&order(i)).unwrap(), i);
    }
    drop(opened);
    let mut opened = open(&dir.0, &header(1), 1, &options(Durability::Fsync)).unwrap();
    assert!(opened.resumed);
    assert!(opened.notes.is_empty());
    assert_eq!(opened.past[0].len(), 150);
    for i in 151..=300 {
        assert_eq!(opened.writers[0].append(&order(i)).unwrap(), i);
    }
    assert!(opened.writers[0].stats().segments >= 2);
    drop(opened);
    let scan = scan(&dir.0).unwrap();
    assert_eq!(
        scan.shards[0].segments.len(),
        5,
        "{:?}",
        scan.shards[0].segments
    );
    let got = entries(&scan.shards[0]);
    assert_eq!(got.len(), 300);
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, &(s, e))| s == i as u64 + 1 && e == order(s))
    );
    assert!(!scan.finished, "no End entry");
}

#[test]
fn a_cut_at_every_byte_is_a_torn_tail_truncated_on_open() {
    let base = TempDir::new("cut-base");
    let (bounds, written) = small_journal(&base.0, 4);
    let end = *bounds.last().unwrap();
    let original = fs::read(first_segment(&base.0)).unwrap();
    for cut in 0..=end {
        for truncate_file in [false, true] {
            let dir = TempDir::new("cut");
            copy_dir(&base.0, &dir.0);
            let seg = first_segment(&dir.0);
            let mut bytes = fs::read(&seg).unwrap();
            if truncate_file {
                bytes.truncate(cut);
            } else {
                bytes[cut..end].fill(0);
            }
            fs::write(&seg, &bytes).unwrap();
            // Zeroing: a record whose cut-off bytes were zeros anyway is whole. A shorter
            // file: a record running past its end is not.
            let whole = bounds[1..]
                .iter()
                .take_while(|&&b| {
                    b <= cut || (!truncate_file && original[cut..b].iter().all(|&x| x == 0))
                })
                .count();
            let at = bounds[whole];
            let torn = cut > at && original[at..cut].iter().any(|&x| x != 0);
            let found = scan(&dir.0).unwrap();
            assert_eq!(found.shards[0].records.len(), whole, "cut {cut}");
            assert_eq!(found.shards[0].torn.is_some(), torn, "cut {cut}");
            let mut opened = open(&dir.0, &header(1), 1, &options(Durability::Process)).unwrap();
            let expect: Vec<_> = (1..).zip(written[..whole].iter().copied()).collect();
            assert_eq!(opened.past[0], expect, "cut {cut}");
            if torn {
                // What was written of the torn record: up to its last non-zero byte.
                let written = original[at..cut].iter().rposition(|&b| b != 0).unwrap() + 1;
                assert_eq!(
                    opened.notes,
                    vec![OpenNote::TornTailTruncated(TornTail {
                        shard: 0,
                        segment: seg.clone(),
                        offset: at as u64,
                        bytes: written as u64,
                    })],
                    "cut {cut}"
                );
            } else {
                assert!(opened.notes.is_empty(), "cut {cut}");
            }
            let seq = opened.writers[0].append(&order(77)).unwrap();
            assert_eq!(seq, whole as u64 + 1, "cut {cut}");
            drop(opened);
            let again = scan(&dir.0).unwrap();
            assert!(again.shards[0].torn.is_none(), "cut {cut}: repaired");
            assert_eq!(again.shards[0].records.len(), whole + 1);
        }
    }
}

#[test]
fn damage_at_every_byte_before_the_tail_is_refused_with_its_offset() {
    let base = TempDir::new("flip-base");
    let (bounds, _) = small_journal(&base.0, 4);
    let end = *bounds.last().unwrap();
    let last = bounds[bounds.len() - 2];
    for at in 0..end {
        let dir = TempDir::new("flip");
        copy_dir(&base.0, &dir.0);
        let seg = first_segment(&dir.0);
        let mut bytes = fs::read(&seg).unwrap();
        bytes[at] ^= 0xff;
        fs::write(&seg, &bytes).unwrap();
        let record_start = *bounds.iter().rfind(|&&b| b <= at).unwrap();
        if at >= last {
            // The last record: nothing valid follows, so it is a torn tail.
            let opened = open(&dir.0, &header(1), 1, &options(Durability::Process)).unwrap();
            assert_eq!(opened.past[0].len(), bounds.len() - 2, "byte {at}");
            assert_eq!(opened.notes.len(), 1, "byte {at}");
            continue;
        }
        for err in [
            scan(&dir.0).unwrap_err(),
            open(&dir.0, &header(1), 1, &options(Durability::Process))
                .err()
                .unwrap(),
        ] {
            match &err {
                JournalError::Corrupt {
                    shard: 0,
                    segment,
                    offset,
                    ..
                } => {
                    assert_eq!(*offset, record_start as u64, "byte {at}: {err}");
                    assert_eq!(segment, &seg);
                    let msg = err.to_string();
                    assert!(msg.contains("00000000000000000001.seg"), "{msg}");
                    assert!(
                        msg.contains(&format!("byte offset {record_start}")),
                        "{msg}"
                    );
                }
                other => panic!("byte {at}: {other}"),
            }
        }
    }
}

#[test]
fn a_bad_record_at_the_end_of_a_segment_with_a_later_one_is_corruption() {
    let dir = TempDir::new("later");
    let mut opened = open(&dir.0, &header(1), 1, &options(Durability::Process)).unwrap();
    for i in 1..=100 {
        opened.writers[0].append(&order(i)).unwrap();
    }
    drop(opened);
    let seg = first_segment(&dir.0);
    let mut bytes = fs::read(&seg).unwrap();
    let written = bytes.iter().rposition(|&b| b != 0).unwrap();
    bytes[written] ^= 0xff; // the first segment's last record
    fs::write(&seg, &bytes).unwrap();
    let err = scan(&dir.0).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { why, .. } if why.contains("later segment")),
        "{err}"
    );
}

#[test]
fn a_missing_segment_is_a_sequence_gap() {
    let dir = TempDir::new("gap");
    let mut opened = open(&dir.0, &header(1), 1, &options(Durability::Process)).unwrap();
    for i in 1..=200 {
        opened.writers[0].append(&order(i)).unwrap();
    }
    drop(opened);
    let segments = segment::list(&dir.0, 0).unwrap();
    assert!(segments.len() >= 3);
    fs::remove_file(&segments[1].1).unwrap();
    let err = scan(&dir.0).unwrap_err();
    assert!(
        matches!(err, JournalError::SequenceGap { expected, found, .. }
            if expected == segments[1].0 && found == segments[2].0),
        "{err}"
    );
}

#[test]
fn a_journal_in_use_is_refused_until_its_writers_are_gone() {
    let dir = TempDir::new("locked");
    let first = open(&dir.0, &header(2), 2, &options(Durability::Process)).unwrap();
    let err = open(&dir.0, &header(2), 2, &options(Durability::Process))
        .err()
        .unwrap();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
    // One writer alone keeps the lock: it is the writers that append.
    let Opened { mut writers, .. } = first;
    let last = writers.pop().unwrap();
    drop(writers);
    assert!(open(&dir.0, &header(2), 2, &options(Durability::Process)).is_err());
    drop(last);
    open(&dir.0, &header(2), 2, &options(Durability::Process)).expect("free again");
}

#[test]
fn a_different_header_is_refused_naming_the_field() {
    let dir = TempDir::new("header");
    drop(open(&dir.0, &header(2), 2, &options(Durability::Process)).unwrap());
    let mut other = header(2);
    other.config_hash = 1;
    let err = open(&dir.0, &other, 2, &options(Durability::Process))
        .err()
        .unwrap();
    assert!(matches!(
        err,
        JournalError::HeaderMismatch {
            field: "config_hash",
            ..
        }
    ));
    assert!(err.to_string().contains("0000000000000001"), "{err}");
    let mut other = header(2);
    other.input.kind = "live".into();
    let err = open(&dir.0, &other, 2, &options(Durability::Process))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "journal was written for input.kind = replay, this run has live"
    );
    let err = open(&dir.0, &header(3), 3, &options(Durability::Process))
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            JournalError::HeaderMismatch {
                field: "shards",
                ..
            }
        ),
        "{err}"
    );
    let err = open(&dir.0, &header(2), 3, &options(Durability::Process))
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            JournalError::HeaderMismatch {
                field: "shards",
                ..
            }
        ),
        "{err}"
    );
    // The same header resumes, whatever its creation time.
    let mut same = header(2);
    same.created_unix_ns = 999;
    assert!(
        open(&dir.0, &same, 2, &options(Durability::Process))
            .unwrap()
            .resumed
    );
}

#[test]
fn a_missing_header_or_unknown_version_is_a_clear_error() {
    let dir = TempDir::new("noheader");
    assert!(matches!(
        scan(&dir.0),
        Err(JournalError::MissingHeader { .. })
    ));
    fs::create_dir_all(&dir.0).unwrap();
    fs::write(dir.0.join("stray.txt"), "x").unwrap();
    let err = open(&dir.0, &header(1), 1, &options(Durability::Process))
        .err()
        .unwrap();
    assert!(matches!(err, JournalError::MissingHeader { .. }), "{err}");
    fs::remove_file(dir.0.join("stray.txt")).unwrap();
    // A header write cut short by a crash left only its temporary file: that is no stray.
    fs::write(dir.0.join(header::HEADER_TMP), "{").unwrap();
    drop(open(&dir.0, &header(1), 1, &options(Durability::Process)).unwrap());
    let text = fs::read_to_string(dir.0.join("session.json")).unwrap();
    fs::write(
        dir.0.join("session.json"),
        text.replace("\"format_version\": 1", "\"format_version\": 7"),
    )
    .unwrap();
    assert!(matches!(
        scan(&dir.0),
        Err(JournalError::UnknownFormat {
            found: 7,
            supported: 1
        })
    ));
}

#[test]
fn an_unknown_kind_scans_but_does_not_resume() {
    let dir = TempDir::new("unknown");
    drop(open(&dir.0, &header(1), 1, &options(Durability::Process)).unwrap());
    let seg = first_segment(&dir.0);
    let mut bytes = fs::read(&seg).unwrap();
    bytes[format::HEADER..format::HEADER + 2].copy_from_slice(b"hi");
    format::frame(&mut bytes, 1, 200, 2);
    fs::write(&seg, &bytes).unwrap();
    let scan = scan(&dir.0).unwrap();
    assert_eq!(
        scan.shards[0].records,
        vec![(1, Record::Unknown { kind: 200, len: 19 })]
    );
    let err = open(&dir.0, &header(1), 1, &options(Durability::Process))
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            JournalError::UnknownKind {
                shard: 0,
                seq: 1,
                kind: 200
            }
        ),
        "{err}"
    );
}

#[test]
fn a_failed_write_poisons_the_writer_for_good() {
    let dir = TempDir::new("poison");
    let mut opened = open(&dir.0, &header(1), 1, &options(Durability::Process)).unwrap();
    let w = &mut opened.writers[0];
    // The next segment cannot be created once its directory is gone.
    fs::remove_dir_all(segment::shard_dir(&dir.0, 0)).unwrap();
    let mut appended = 0;
    let first = loop {
        match w.append(&order(appended + 1)) {
            Ok(_) => appended += 1,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(
            first,
            JournalError::Io {
                what: "creating segment",
                ..
            }
        ),
        "{first}"
    );
    // Even with the directory back, every later call returns the original error.
    fs::create_dir_all(segment::shard_dir(&dir.0, 0)).unwrap();
    for _ in 0..3 {
        assert_eq!(
            w.append(&order(1)).unwrap_err().to_string(),
            first.to_string()
        );
        assert_eq!(w.sync().unwrap_err().to_string(), first.to_string());
    }
    assert!(w.poisoned().is_some());
    assert_eq!(w.stats().records, appended);
}

#[test]
fn each_policy_syncs_as_promised() {
    let run = |durability: Durability, n: u64| {
        let dir = TempDir::new("policy");
        let mut opened = open(&dir.0, &header(1), 1, &options(durability)).unwrap();
        let w = &mut opened.writers[0];
        for i in 1..=n {
            w.append(&order(i)).unwrap();
        }
        let before = w.stats();
        w.sync().unwrap();
        (before, w.stats())
    };
    // 40 records fit one 4 KiB segment, so no roll adds a sync.
    let (s, after) = run(Durability::Process, 40);
    assert_eq!(
        (s.syncs, s.unsynced_records, s.max_unsynced_records),
        (0, 40, 40)
    );
    assert_eq!((after.syncs, after.unsynced_records), (1, 0));
    let (s, _) = run(Durability::Fsync, 40);
    assert_eq!(
        (s.syncs, s.unsynced_records, s.max_unsynced_records),
        (40, 0, 1)
    );
    let group = Durability::Group {
        records: 8,
        interval_us: 3_600_000_000,
    };
    let (s, after) = run(group, 40 + 3);
    assert_eq!(
        (s.syncs, s.unsynced_records, s.max_unsynced_records),
        (5, 3, 8)
    );
    assert_eq!((after.syncs, after.unsynced_records), (6, 0));

    // The interval: an append later than `interval_us` after the oldest unsynced one syncs.
    let dir = TempDir::new("interval");
    let group = Durability::Group {
        records: 1_000,
        interval_us: 1_000,
    };
    let mut opened = open(&dir.0, &header(1), 1, &options(group)).unwrap();
    let w = &mut opened.writers[0];
    w.append(&order(1)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    w.append(&order(2)).unwrap();
    assert_eq!(w.stats().syncs, 1);
    assert_eq!(w.stats().unsynced_records, 0);
}

#[test]
fn options_are_checked_by_key() {
    let bad = |o: JournalOptions| match o.validate() {
        Err(JournalError::BadOption { key, .. }) => key,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        bad(JournalOptions {
            segment_bytes: 100,
            ..JournalOptions::default()
        }),
        "journal.segment_bytes"
    );
    assert_eq!(
        bad(JournalOptions {
            segment_bytes: 1 << 31,
            ..JournalOptions::default()
        }),
        "journal.segment_bytes"
    );
    let group = |records, interval_us| JournalOptions {
        durability: Durability::Group {
            records,
            interval_us,
        },
        segment_bytes: DEFAULT_SEGMENT_BYTES,
    };
    assert_eq!(bad(group(0, 1)), "journal.group.records");
    assert_eq!(bad(group(1, 0)), "journal.group.interval_us");
    assert!(JournalOptions::default().validate().is_ok());
}

#[test]
fn a_torn_tail_before_an_empty_segment_is_truncated_where_it_is() {
    // A crash just after the next segment's file was created (still empty), while the
    // last record of the one before was being written.
    let dir = TempDir::new("torn-before-empty");
    let mut opened = open(&dir.0, &header(1), 1, &options(Durability::Process)).unwrap();
    for i in 1..=70 {
        opened.writers[0].append(&order(i)).unwrap();
    }
    drop(opened);
    let segments = segment::list(&dir.0, 0).unwrap();
    let (_, last) = segments.last().unwrap();
    let mut bytes = fs::read(last).unwrap();
    let end = 8 * 66; // 62 records in the first segment, 8 in this one
    bytes[end..end + 5].copy_from_slice(&[66, 0, 0, 0, 1]);
    fs::write(last, &bytes).unwrap();
    let empty = segment::segment_path(&segment::shard_dir(&dir.0, 0), 71);
    fs::write(&empty, b"").unwrap();

    let mut opened = open(&dir.0, &header(1), 1, &options(Durability::Process)).unwrap();
    assert_eq!(opened.past[0].len(), 70);
    assert_eq!(
        opened.notes,
        vec![OpenNote::TornTailTruncated(TornTail {
            shard: 0,
            segment: last.clone(),
            offset: end as u64,
            bytes: 5,
        })]
    );
    assert_eq!(opened.writers[0].append(&order(71)).unwrap(), 71);
    drop(opened);
    assert_eq!(
        fs::metadata(&empty).unwrap().len(),
        4096,
        "grown back to full size"
    );
    let found = scan(&dir.0).unwrap();
    assert!(found.shards[0].torn.is_none());
    assert_eq!(entries(&found.shards[0]).last(), Some(&(71, order(71))));
}
