//! A full disk through the journal writer: a clean error, never SIGBUS or a panic; every
//! append that returned Ok reads back; the writer stays poisoned.
//!
//! Mounts a 256 KiB tmpfs, so it needs root (as the test machine and CI run); without the
//! permission it fails saying so, rather than pass without checking anything.

mod common;

use std::path::Path;

use tickpipe::journal::{
    self, Durability, Entry, InputIdentity, JournalError, JournalOptions, Record, SessionHeader,
};

fn header() -> SessionHeader {
    SessionHeader {
        format_version: journal::header::FORMAT_VERSION,
        config_hash: 1,
        input: InputIdentity {
            kind: "replay".into(),
            len: 0,
            hash: 2,
        },
        shards: 1,
        created_unix_ns: 0,
    }
}

fn entry(i: u64) -> Entry {
    Entry::End {
        position: i,
        digest: i * 3,
    }
}

fn fill(dir: &Path, durability: Durability) {
    let options = JournalOptions {
        durability,
        segment_bytes: 64 << 10,
    };
    let mut opened = journal::open(dir, &header(), 1, &options).unwrap();
    let w = &mut opened.writers[0];
    let mut ok = 0u64;
    let first = loop {
        match w.append(&entry(ok + 1)) {
            Ok(seq) => {
                ok += 1;
                assert_eq!(seq, ok);
            }
            Err(e) => break e,
        }
        assert!(ok < 1_000_000, "256 KiB never filled");
    };
    match &first {
        JournalError::Io { source, what, .. } => {
            assert_eq!(*what, "creating segment");
            assert_eq!(source.raw_os_error(), Some(libc::ENOSPC), "{first}");
        }
        other => panic!("expected an I/O error, got {other}"),
    }
    // Three 64 KiB segments fit in 256 KiB beside the header: 2 full, the third partly.
    assert!(
        ok > 2 * (64 << 10) / 33,
        "{ok} appends before the disk filled"
    );
    for _ in 0..3 {
        assert_eq!(
            w.append(&entry(0)).unwrap_err().to_string(),
            first.to_string()
        );
        assert_eq!(w.sync().unwrap_err().to_string(), first.to_string());
    }
    drop(opened);
    let scan = journal::scan(dir).unwrap();
    let got: Vec<(u64, Record)> = scan.shards[0].records.clone();
    assert_eq!(got.len() as u64, ok, "every Ok append reads back");
    for (i, (seq, record)) in got.into_iter().enumerate() {
        let i = i as u64 + 1;
        assert_eq!((seq, record), (i, Record::Entry(entry(i))));
    }
}

#[test]
fn a_full_disk_is_a_clean_error_and_poisons_the_writer() {
    let fs = common::Tmpfs::mount("diskfull", "256k");
    fill(&fs.0.join("process"), Durability::Process);
    let _ = std::fs::remove_dir_all(fs.0.join("process"));
    fill(
        &fs.0.join("group"),
        Durability::Group {
            records: 16,
            interval_us: 1_000,
        },
    );
}
