//! `tickpipe journal inspect` on journals written through the library's API: the summary
//! in text and JSON, and the exit status on a valid, a damaged and a missing journal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tickpipe::journal::{
    self, Durability, Entry, InputIdentity, JournalOptions, SessionHeader, stable_hash,
};
use tickpipe::msg::{
    ClOrdId, ExecKind, ExecReport, OrderIntent, Price, RejectReason, Side, Stamp, SymbolId,
    TimeInForce, VenueCommand,
};
use tickpipe::sys::TradingState;

fn dir(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&path);
    path
}

fn inspect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(["journal", "inspect"])
        .args(args)
        .output()
        .unwrap()
}

const STAMP: Stamp = Stamp {
    ts_recv: 1,
    ts_event: 2,
};

fn new_order(seq: u64) -> Entry {
    Entry::Command {
        position: seq,
        command: VenueCommand::New {
            stamp: STAMP,
            order: OrderIntent {
                cl_ord_id: ClOrdId::new(SymbolId(3), seq),
                price: Price(1_012_500),
                qty: 100,
                symbol: SymbolId(3),
                side: Side::Buy,
                tif: TimeInForce::Day,
            },
        },
    }
}

fn fill(seq: u64) -> Entry {
    Entry::Report {
        position: 10 + seq,
        report: ExecReport {
            stamp: STAMP,
            cl_ord_id: ClOrdId::new(SymbolId(3), seq),
            price: Price(1_012_500),
            qty: 100,
            leaves: 0,
            symbol: SymbolId(3),
            kind: ExecKind::Fill,
            side: Side::Buy,
            reason: RejectReason::None,
            match_number: 0,
        },
    }
}

/// Shard 0: three orders, a fill, a cancel, a mass cancel, a halt, the end. Shard 1:
/// one order, no end.
fn write_journal(path: &Path) {
    let header = SessionHeader {
        format_version: journal::header::FORMAT_VERSION,
        config_hash: stable_hash(b"config"),
        input: InputIdentity {
            kind: "replay".into(),
            len: 42,
            hash: stable_hash(b"input"),
        },
        shards: 2,
        created_unix_ns: 1,
    };
    let options = JournalOptions {
        durability: Durability::Fsync,
        segment_bytes: 4096,
    };
    let mut opened = journal::open(path, &header, 2, &options).unwrap();
    let w = &mut opened.writers[0];
    for e in [
        new_order(1),
        new_order(7),
        new_order(2),
        fill(7),
        Entry::Command {
            position: 20,
            command: VenueCommand::Cancel {
                stamp: STAMP,
                cl_ord_id: ClOrdId::new(SymbolId(3), 1),
            },
        },
        Entry::Command {
            position: 21,
            command: VenueCommand::CancelAll { stamp: STAMP },
        },
        Entry::State {
            position: 21,
            state: TradingState::Halted,
            cause: 3,
        },
        Entry::End {
            position: 30,
            digest: 0x29a8_254f_e4c3_cd52,
        },
    ] {
        w.append(&e).unwrap();
    }
    opened.writers[1].append(&new_order(5)).unwrap();
}

#[test]
fn json_summarises_every_shard() {
    let path = dir("journal-cli-json");
    write_journal(&path);
    let out = inspect(&["--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["finished"], false, "shard 1 has no end");
    assert_eq!(json["header"]["input"]["kind"], "replay");
    assert_eq!(json["header"]["shards"], 2);
    let s0 = &json["shards"][0];
    assert_eq!(s0["records"], 8);
    assert_eq!(s0["last_seq"], 8);
    assert_eq!(s0["orders"], 3);
    assert_eq!(s0["cancels"], 1);
    assert_eq!(s0["mass_cancels"], 1);
    assert_eq!(s0["reports"]["fill"], 1);
    assert_eq!(s0["reports"]["ack"], 0);
    assert_eq!(s0["state_changes"], 1);
    assert_eq!(s0["max_cl_ord_id"], "3-7");
    assert_eq!(s0["finished"], true);
    assert_eq!(s0["end"]["digest"], "29a8254fe4c3cd52");
    assert_eq!(s0["torn_tail"], serde_json::Value::Null);
    let s1 = &json["shards"][1];
    assert_eq!(
        (s1["orders"].as_u64(), s1["finished"].as_bool()),
        (Some(1), Some(false))
    );
}

#[test]
fn text_lists_the_last_records_and_a_torn_tail() {
    let path = dir("journal-cli-text");
    write_journal(&path);
    // A torn tail: half of a record after shard 1's last one.
    let seg = path.join("shard-1/00000000000000000001.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    let end = 66; // one order record
    bytes[end..end + 10].copy_from_slice(&[60, 0, 0, 0, 9, 9, 9, 9, 9, 9]);
    std::fs::write(&seg, &bytes).unwrap();

    let out = inspect(&["--records", "2", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("2 shard(s), not finished"), "{text}");
    assert!(
        text.contains("orders 3, cancels 1, mass cancels 1"),
        "{text}"
    );
    assert!(text.contains("highest client order id 3-7"), "{text}");
    assert!(
        text.contains("end at position 30, digest 29a8254fe4c3cd52"),
        "{text}"
    );
    assert!(text.contains("state halted cause 3"), "{text}");
    assert!(
        !text.contains("cancel all"),
        "only the last two records:\n{text}"
    );
    assert!(
        text.contains(&format!(
            "torn tail in {} at offset {end} (10 bytes",
            seg.display()
        )),
        "{text}"
    );
    let all = inspect(&["--records", "all", path.to_str().unwrap()]);
    assert!(
        String::from_utf8(all.stdout)
            .unwrap()
            .contains("cancel all")
    );
}

#[test]
fn a_damaged_journal_exits_1_naming_segment_and_offset() {
    let path = dir("journal-cli-corrupt");
    write_journal(&path);
    let seg = path.join("shard-0/00000000000000000001.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[70] ^= 0x55; // inside the second record (the first is 66 bytes)
    std::fs::write(&seg, &bytes).unwrap();
    let out = inspect(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("00000000000000000001.seg"), "{err}");
    assert!(err.contains("byte offset 66"), "{err}");
}

#[test]
fn bad_arguments_and_a_missing_journal_exit_2() {
    let missing = dir("journal-cli-missing");
    let out = inspect(&[missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a journal"));
    assert_eq!(inspect(&[]).status.code(), Some(2));
    let out = inspect(&["--records", "many", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}
