//! Recovery from the decision journal, against the in-memory store: a kill simulated
//! in-process (the journal keeps only its first N records, no `End`) and a resume give
//! exactly the uninterrupted run's orders, fills, positions and digest, for fused with
//! 1 and 2 shards and the inline venue; a journal that disagrees with the replay is
//! refused, naming the record; a finished session re-run verifies and sends nothing; a
//! full disk halts, pulls the orders and stops with the error.

mod common;

use std::collections::HashSet;

use serde_json::Value;
use tickpipe::app::report::json;
use tickpipe::msg::VenueCommand;
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::journal::{Cut, MemoryJournal};
use tickpipe::runtime::report::RunReport;
use tickpipe::stages::journal::Record;

/// Enough of the sample for hundreds of orders and fills, small enough for a debug build.
const MESSAGES: u64 = 150_000;

const TOPOLOGIES: [(&str, usize); 3] = [
    ("pipelines/fused.toml", 1),
    ("pipelines/fused.toml", 2),
    ("pipelines/fused-inline.toml", 1),
];

/// One run over `journal`, keeping records as `cut` says.
fn run(topology: &str, shards: usize, journal: &MemoryJournal, cut: Cut) -> RunReport {
    let spec = common::spec(topology, shards, MESSAGES);
    let source = spec.input.source(spec.pacing).unwrap();
    let resumed = journal.records().iter().any(|r| !r.is_empty());
    Engine::new(spec.topology, spec.config, spec.universe, source)
        .journal(
            common::memory_journal_meta(resumed),
            journal.factory(cut, 1 << 16),
        )
        .run()
        .expect("the pipeline starts")
}

/// What must not change across a restart: the decisions and their results.
fn outcome(report: &RunReport) -> Value {
    let v = json(report);
    serde_json::json!({
        "digest": v["digest"], "orders": v["orders"], "cancels": v["cancels"],
        "fills": v["fills"], "filled_shares": v["filled_shares"],
        "positions": v["positions"], "pnl": v["pnl"], "nlv": v["nlv"],
        "orders_open_at_end": v["orders_open_at_end"],
    })
}

/// Every shard's records cut to the first `fraction` of them (no `End`).
fn cut_to(records: &[Vec<Record>], fraction: f64) -> Vec<Vec<Record>> {
    records
        .iter()
        .map(|r| r[..(r.len() as f64 * fraction) as usize].to_vec())
        .collect()
}

fn same_records(a: &[Vec<Record>], b: &[Vec<Record>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(r, s)| r.same_decision(s)))
}

/// Client order ids of every `New` the journal holds.
fn new_order_ids(records: &[Vec<Record>]) -> Vec<u64> {
    records
        .iter()
        .flatten()
        .filter_map(|r| match r {
            Record::Command {
                command: VenueCommand::New { order, .. },
                ..
            } => Some(order.cl_ord_id.0),
            _ => None,
        })
        .collect()
}

fn uninterrupted(topology: &str, shards: usize) -> (RunReport, Vec<Vec<Record>>) {
    let journal = MemoryJournal::default();
    let report = run(topology, shards, &journal, Cut::None);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let records = journal.records();
    assert_eq!(records.len(), shards);
    for shard in &records {
        assert!(
            matches!(shard.last(), Some(Record::End { .. })),
            "a finished session ends with End"
        );
    }
    assert!(
        new_order_ids(&records).len() > 50,
        "the sample must make the strategy trade"
    );
    (report, records)
}

#[test]
fn a_resume_after_a_kill_decides_as_the_uninterrupted_run() {
    for (topology, shards) in TOPOLOGIES {
        let (base, full) = uninterrupted(topology, shards);
        for fraction in [0.3, 0.8] {
            let journal = MemoryJournal::new(cut_to(&full, fraction));
            let kept: usize = journal.records().iter().map(Vec::len).sum();
            let resumed = run(topology, shards, &journal, Cut::None);
            let at = format!("{topology} ×{shards}, killed at {fraction}");
            assert!(resumed.failures.is_empty(), "{at}: {:?}", resumed.failures);
            assert_eq!(outcome(&resumed), outcome(&base), "{at}");
            assert!(
                same_records(&journal.records(), &full),
                "{at}: the resumed journal holds the uninterrupted run's records"
            );
            let rows = &resumed.shard.risk.journal;
            assert_eq!(rows.len(), shards, "{at}");
            let verified: u64 = rows.iter().map(|j| j.counts.verified).sum();
            let recovered: u64 = rows.iter().map(|j| j.counts.recovered_commands).sum();
            assert_eq!(verified as usize, kept, "{at}");
            assert!(recovered > 0, "{at}");
            assert!(rows.iter().all(|j| j.replay_ns.is_some()), "{at}");
            assert_eq!(
                resumed.venue.stats.commands.new, base.venue.stats.commands.new,
                "{at}: the simulated venue is rebuilt with the recovered orders"
            );
        }
    }
}

#[test]
fn client_order_ids_are_never_reused_across_several_restarts() {
    let (topology, shards) = ("pipelines/fused.toml", 2);
    let (base, full) = uninterrupted(topology, shards);
    let total: usize = full.iter().map(Vec::len).sum();
    let journal = MemoryJournal::default();
    // Killed three times, each later than the last, then left to finish.
    for share in [0.2, 0.5, 0.7] {
        let after = (total as f64 * share / shards as f64) as usize;
        let report = run(topology, shards, &journal, Cut::Killed { after });
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert!(journal.records().iter().all(|r| r.len() <= after));
    }
    let last = run(topology, shards, &journal, Cut::None);
    assert!(last.failures.is_empty(), "{:?}", last.failures);
    assert_eq!(outcome(&last), outcome(&base));
    let ids = new_order_ids(&journal.records());
    let unique: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an order id was journaled twice");
    assert_eq!(ids.len(), new_order_ids(&full).len());
}

#[test]
fn a_finished_session_is_verified_sends_nothing_new_and_reports_the_same() {
    for (topology, shards) in [TOPOLOGIES[1], TOPOLOGIES[2]] {
        let (base, full) = uninterrupted(topology, shards);
        let journal = MemoryJournal::new(full.clone());
        for attempt in 0..2 {
            let again = run(topology, shards, &journal, Cut::None);
            let at = format!("{topology} ×{shards}, re-run {attempt}");
            assert!(again.failures.is_empty(), "{at}: {:?}", again.failures);
            assert_eq!(outcome(&again), outcome(&base), "{at}");
            assert_eq!(journal.records(), full, "{at}: nothing appended");
            let rows = &again.shard.risk.journal;
            assert!(rows.iter().all(|j| j.counts.appended == 0), "{at}");
            let verified: u64 = rows.iter().map(|j| j.counts.verified).sum();
            assert_eq!(
                verified as usize,
                full.iter().map(Vec::len).sum::<usize>(),
                "{at}"
            );
        }
    }
}

#[test]
fn a_journal_that_disagrees_with_the_replay_is_refused_naming_the_record() {
    let (topology, shards) = ("pipelines/fused.toml", 1);
    let (_, full) = uninterrupted(topology, shards);
    let mut tampered = cut_to(&full, 0.5);
    let (index, position) = tampered[0]
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, r)| match r {
            Record::Command {
                position,
                command: VenueCommand::New { .. },
            } => Some((i, *position)),
            _ => None,
        })
        .expect("a journaled order");
    if let Record::Command {
        command: VenueCommand::New { order, .. },
        ..
    } = &mut tampered[0][index]
    {
        order.qty += 1;
    }
    let journal = MemoryJournal::new(tampered.clone());
    let report = run(topology, shards, &journal, Cut::None);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let message = &report.failures[0].message;
    assert_eq!(report.failures[0].stage, "journal");
    for expected in [
        "shard 0".to_string(),
        format!("record {}", index + 1),
        format!("input position {position}"),
        "refusing to resume".into(),
    ] {
        assert!(message.contains(&expected), "{expected:?} in {message}");
    }
    assert_eq!(
        journal.records(),
        tampered,
        "nothing is appended to a journal that diverged"
    );
    assert_eq!(report.shard.risk.orders_open_at_end, 0);
}

#[test]
fn a_full_disk_halts_pulls_the_orders_and_stops_with_the_error() {
    let (topology, shards) = ("pipelines/fused.toml", 1);
    let (base, full) = uninterrupted(topology, shards);
    let after = full[0].len() / 2;
    let journal = MemoryJournal::default();
    let report = run(topology, shards, &journal, Cut::DiskFull { after });
    let failure = report
        .failures
        .iter()
        .find(|f| f.stage == "journal")
        .unwrap_or_else(|| panic!("the journal failure is reported: {:?}", report.failures));
    assert!(
        failure.message.contains("no space left"),
        "{}",
        failure.message
    );
    let risk = &report.shard.risk;
    assert!(risk.cancel_alls_sent >= 1, "open orders are pulled");
    assert_eq!(risk.orders_open_at_end, 0);
    assert!(
        report.source.messages < base.source.messages,
        "the run stopped early: {} of {}",
        report.source.messages,
        base.source.messages
    );
    // Nothing acknowledged is lost: every record the journal took is the uninterrupted
    // run's, in order, and every order sent was journaled first.
    let kept = &journal.records()[0];
    assert_eq!(kept.len(), after);
    assert!(same_records(
        std::slice::from_ref(kept),
        &[full[0][..after].to_vec()]
    ));
    assert_eq!(
        risk.orders_sent as usize,
        new_order_ids(std::slice::from_ref(kept)).len(),
        "no order went out unjournaled"
    );
}
