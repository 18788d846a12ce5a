//! Broken trades (ITCH `B`) through the whole pipeline: the sample session's one `B`
//! breaks a print the simulated venue filled one of our orders against, and risk
//! reverses that fill; the same `B` naming a print we did not fill against changes
//! nothing; a journaled session cut before the `B` and resumed reverses it again.

mod common;

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tickpipe::app::report::json;
use tickpipe::codec::itch::{self, Message};
use tickpipe::msg::Price;
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::config::Config;
use tickpipe::runtime::inline_run::run_inline;
use tickpipe::runtime::journal::{Cut, MemoryJournal};
use tickpipe::source::replay::Input;
use tickpipe::stages::journal::Record;
use tickpipe::tools::sample::{SampleSpec, generate};

/// The default session (2 000 000 messages) cut just after its one `B` (message
/// 1 000 031, TSLA, match number 256 461), which breaks the print the simulated venue
/// filled our sell `ClOrdId(1688849860270728)` (100 @ 249.56) against. Ending there
/// keeps what follows the reversal (risk re-deciding on the new position) from
/// blurring the comparison with a run that reverses nothing.
fn session() -> Vec<u8> {
    let mut bytes = generate(&SampleSpec::default_session());
    let (at, _) = broken_trade(&bytes);
    bytes.truncate(at + 8);
    bytes
}

/// Byte offset of each frame's message (after its 2-byte length) and its length.
fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at + 2 <= bytes.len() {
        let len = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
        out.push((at + 2, len));
        at += 2 + len;
    }
    out
}

/// The offset of the one `B`'s match number (after type, locate, tracking and
/// timestamp), and the number.
fn broken_trade(bytes: &[u8]) -> (usize, u64) {
    let found: Vec<(usize, u64)> = frames(bytes)
        .into_iter()
        .filter_map(|(at, len)| match itch::decode(&bytes[at..at + len]) {
            Ok(Message::BrokenTrade { match_number, .. }) => Some((at + 11, match_number)),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "the sample session has one broken trade");
    found[0]
}

fn run(bytes: &[u8]) -> Value {
    let (config, universe) =
        Config::load(Path::new("config/tickpipe.toml")).expect("bundled config is valid");
    let report = run_inline(bytes, &config, Arc::new(universe));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    json(&report)
}

fn tsla(v: &Value) -> &Value {
    &v["positions"]["TSLA"]
}

fn units(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("a price: {v}"));
    text.parse::<Price>().expect("a report price").0
}

#[test]
fn the_sessions_broken_trade_reverses_our_tsla_sell() {
    let ours = session();
    let (at, match_number) = broken_trade(&ours);
    assert_eq!(match_number, 256_461);
    // The same `B` naming a print nobody traded: nothing of ours to reverse.
    let mut not_ours = ours.clone();
    not_ours[at..at + 8].copy_from_slice(&u64::MAX.to_be_bytes());

    let (a, b) = (run(&ours), run(&not_ours));
    assert_eq!(
        a["broken_trades"],
        serde_json::json!({"BROKEN_TRADE": 1, "shares": 100, "not_ours": 0, "forgotten": 0})
    );
    assert_eq!(
        b["broken_trades"],
        serde_json::json!({"BROKEN_TRADE": 0, "shares": 0, "not_ours": 1, "forgotten": 0})
    );
    assert_ne!(a["digest"], b["digest"]);
    // No other fill came of it: the difference is the reversed sell alone.
    assert_eq!(a["fills"], b["fills"]);
    let (ta, tb) = (tsla(&a), tsla(&b));
    assert_eq!(
        ta["position"].as_i64().unwrap(),
        tb["position"].as_i64().unwrap() + 100
    );
    let sell = 100 * 2_495_600;
    assert_eq!(units(&ta["cash_flow"]), units(&tb["cash_flow"]) - sell);
    // Mark-to-market P&L moves by the fill's value against the mark.
    let mark = units(&ta["mark"]);
    assert_eq!(mark, units(&tb["mark"]));
    let pnl = |t: &Value| units(&t["realised"]) + units(&t["unrealised"]);
    assert_eq!(pnl(ta) - pnl(tb), 100 * mark - sell);
}

/// One journaled run over the file at `path`, inline venue, resuming what `journal`
/// holds.
fn journaled(path: &Path, journal: &MemoryJournal) -> Value {
    let mut spec = common::spec("pipelines/fused-inline.toml", 1, 0);
    spec.input = Input::File(path.to_path_buf());
    let source = spec.input.source(spec.pacing).expect("the file opens");
    let resumed = journal.records().iter().any(|r| !r.is_empty());
    let report = Engine::new(spec.topology, spec.config, spec.universe, source)
        .journal(
            common::memory_journal_meta(resumed),
            journal.factory(Cut::None, 1 << 18),
        )
        .run()
        .expect("the pipeline starts");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    json(&report)
}

#[test]
fn a_session_killed_before_the_broken_trade_reverses_it_on_resuming() {
    let bytes = session();
    let (at, _) = broken_trade(&bytes);
    let mut ts = [0u8; 8];
    ts[2..].copy_from_slice(&bytes[at - 6..at]);
    let broken_at = u64::from_be_bytes(ts);
    let path =
        std::env::temp_dir().join(format!("tickpipe-broken-trade-{}.itch", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();

    let full = MemoryJournal::default();
    let base = journaled(&path, &full);
    assert_eq!(base["broken_trades"]["BROKEN_TRADE"], 1);
    // What a kill just before the `B` leaves: the records of the decisions before it.
    let records = full.records();
    let kept: Vec<Vec<Record>> = records
        .iter()
        .map(|shard| {
            shard
                .iter()
                .take_while(|r| match r {
                    Record::Command { command, .. } => command.stamp().ts_event < broken_at,
                    Record::End { .. } => false,
                    _ => true,
                })
                .copied()
                .collect()
        })
        .collect();
    assert!(kept[0].len() > 1_000 && kept[0].len() < records[0].len());

    let resumed = journaled(&path, &MemoryJournal::new(kept));
    std::fs::remove_file(&path).unwrap();
    for key in [
        "broken_trades",
        "digest",
        "fills",
        "positions",
        "pnl",
        "nlv",
    ] {
        assert_eq!(resumed[key], base[key], "{key}");
    }
}
