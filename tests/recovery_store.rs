//! Recovery through the file store (`tickpipe::journal`), engine-level: a session whose
//! journal fills its disk (a 192 KiB tmpfs) halts, pulls its orders and stops with the
//! error, and every record it acknowledged reads back; a journal cut short as a crash
//! leaves it (no `End`) resumes to the uninterrupted run's decisions; a journal of
//! another config is refused naming the field.
//!
//! Mounting a tmpfs needs root (the test machine and CI run as root); without the
//! permission the test fails saying so, rather than pass without checking anything.

mod common;

use std::path::{Path, PathBuf};

use tickpipe::msg::VenueCommand;
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::journal::Policy;
use tickpipe::runtime::journal::store::{self, OpenError};
use tickpipe::runtime::report::RunReport;
use tickpipe::stages::journal::Record;

const MESSAGES: u64 = 150_000;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("recovery-store-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// One journaled run of the sample on `dir` (fused, `shards` shards), config hash 1.
fn run(
    dir: &Path,
    shards: usize,
    config_hash: u64,
    segment_bytes: u64,
) -> Result<RunReport, OpenError> {
    let spec = common::spec("pipelines/fused.toml", shards, MESSAGES);
    let identity = store::input_identity(&spec.input)?;
    let header = store::header(config_hash, identity, shards);
    let (meta, logs) = store::open_for_run(dir, &header, Policy::Process, segment_bytes)?;
    let source = spec.input.source(spec.pacing).unwrap();
    Ok(
        Engine::new(spec.topology, spec.config, spec.universe, source)
            .journal(meta, logs)
            .run()
            .expect("the pipeline starts"),
    )
}

fn orders_in(records: &[Vec<(u64, Record)>]) -> usize {
    records
        .iter()
        .flatten()
        .filter(|(_, r)| {
            matches!(
                r,
                Record::Command {
                    command: VenueCommand::New { .. },
                    ..
                }
            )
        })
        .count()
}

#[test]
fn a_full_disk_halts_pulls_the_orders_and_loses_nothing_acknowledged() {
    let disk = common::Tmpfs::mount("recovery-diskfull", "192k");
    let dir = disk.0.join("journal");
    let report = run(&dir, 1, 1, 64 << 10).expect("the journal opens");
    let failure = report
        .failures
        .iter()
        .find(|f| f.stage == "journal")
        .unwrap_or_else(|| panic!("the journal's failure is reported: {:?}", report.failures));
    assert!(
        failure.message.contains("could not be written"),
        "{}",
        failure.message
    );
    let risk = &report.shard.risk;
    assert!(risk.cancel_alls_sent >= 1, "the open orders are pulled");
    assert_eq!(risk.orders_open_at_end, 0);
    assert!(
        report.source.messages < MESSAGES,
        "the run stopped early ({} messages)",
        report.source.messages
    );
    // Every record the run counted as written reads back, and every order it sent is
    // among them: nothing acknowledged was lost, nothing went out unjournaled.
    let read = store::read(&dir).expect("the journal reads back");
    let written: u64 = risk.journal.iter().map(|j| j.counts.appended).sum();
    assert!(written > 0);
    assert_eq!(read.past[0].len() as u64, written);
    assert_eq!(orders_in(&read.past), risk.orders_sent as usize);
    assert!(!read.finished);
}

#[test]
fn a_cut_journal_resumes_to_the_uninterrupted_decisions_and_another_config_is_refused() {
    let whole = scratch("whole");
    let base = run(&whole, 2, 1, 1 << 20).unwrap();
    assert!(base.failures.is_empty(), "{:?}", base.failures);
    let full = store::read(&whole).unwrap();
    assert!(full.finished);

    // The same session cut short: the first 40% of every shard's records, no End, as a
    // killed process leaves it (the store itself is tested on torn tails).
    let cut = scratch("cut");
    let keep: Vec<usize> = full.past.iter().map(|p| p.len() * 2 / 5).collect();
    {
        let identity =
            store::input_identity(&common::spec("pipelines/fused.toml", 2, MESSAGES).input)
                .unwrap();
        let header = store::header(1, identity, 2);
        let opened =
            tickpipe::journal::open(&cut, &header, 2, &store::options(Policy::Process, 1 << 20))
                .unwrap();
        for ((mut writer, past), n) in opened.writers.into_iter().zip(&full.past).zip(&keep) {
            for (_, record) in &past[..*n] {
                writer.append(&store::entry(record)).unwrap();
            }
        }
    }
    let resumed = run(&cut, 2, 1, 1 << 20).unwrap();
    assert!(resumed.failures.is_empty(), "{:?}", resumed.failures);
    assert_eq!(resumed.digest(), base.digest());
    assert_eq!(
        (resumed.shard.risk.orders_sent, resumed.shard.risk.fills),
        (base.shard.risk.orders_sent, base.shard.risk.fills)
    );
    let verified: u64 = resumed
        .shard
        .risk
        .journal
        .iter()
        .map(|j| j.counts.verified)
        .sum();
    assert_eq!(verified as usize, keep.iter().sum::<usize>());
    let after = store::read(&cut).unwrap();
    assert!(after.finished);
    assert_eq!(orders_in(&after.past), orders_in(&full.past));

    let refused = run(&cut, 2, 2, 1 << 20)
        .err()
        .expect("another config is refused");
    let text = refused.to_string();
    assert!(text.contains("config_hash"), "{text}");
}
