//! Any source drives any venue: `tickpipe run --input FILE --config <ibkr>` replays a
//! recorded ITCH file into the IBKR venue, here against the fake TWS (feature `ibkr`).
//! The run ends reconciled: every execution IB reported applied once, risk's positions
//! equal to IB's, no order placed twice.

mod fake_tws;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use fake_tws::{FakeTws, OnPlace, Script};

const SYMBOLS: [&str; 8] = [
    "AAPL", "MSFT", "AMZN", "NVDA", "GOOGL", "META", "TSLA", "AMD",
];
const REAL_IDS: [i64; 8] = [
    265598, 272093, 3691937, 4815747, 208813719, 107113386, 76792991, 4391,
];

fn dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickpipe-ibkr-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tickpipe(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(args)
        .output()
        .unwrap()
}

fn config_for(tws: &FakeTws, dir: &Path) -> PathBuf {
    let mut text = std::fs::read_to_string("config/ibkr-paper.toml")
        .unwrap()
        .replace("port = 4002", &format!("port = {}", tws.port()));
    for (i, id) in REAL_IDS.iter().enumerate() {
        text = text.replace(
            &format!("con_id = {id}\n"),
            &format!("con_id = {}\n", 1000 + i),
        );
    }
    let path = dir.join("ibkr.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_recorded_session_replays_into_the_ibkr_venue_and_ends_reconciled() {
    let dir = dir();
    let input = dir.join("session.itch");
    let o = tickpipe(&[
        "generate",
        "--out",
        input.to_str().unwrap(),
        "--messages",
        "60000",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let mut script = Script::paper(&SYMBOLS);
    script.on_place = OnPlace::Fill;
    let tws = FakeTws::start(script);
    let config = config_for(&tws, &dir);
    let report = dir.join("report.json");
    let o = tickpipe(&[
        "run",
        "--input",
        input.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--shards",
        "1",
        "--quiet",
        "--report-json",
        report.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();

    let placed = tws.placed();
    let fills = tws.fills();
    assert!(
        !placed.is_empty() && !fills.is_empty(),
        "the session traded: {stdout}"
    );
    let refs: HashSet<&str> = placed.iter().map(|o| o.order_ref.as_str()).collect();
    assert_eq!(refs.len(), placed.len(), "an order placed twice");
    let orders_sent = r["orders"].as_u64().unwrap();
    assert!(
        orders_sent >= placed.len() as u64,
        "{orders_sent} < {}",
        placed.len()
    );
    assert_eq!(r["invalid_reports"].as_u64(), Some(0));
    // Every execution IB reported was applied once.
    assert_eq!(
        r["fills"].as_u64(),
        Some(fills.len() as u64),
        "{}",
        r["fills"]
    );
    // Risk's positions are IB's.
    let ib: Vec<(String, i32, f64)> = tws.with_script(|s| s.positions.clone());
    for (i, symbol) in SYMBOLS.iter().enumerate() {
        let theirs: f64 = ib
            .iter()
            .filter(|p| p.1 == 1000 + i as i32)
            .map(|p| p.2)
            .sum();
        let ours = r["positions"][symbol]["position"]
            .as_f64()
            .unwrap_or_else(|| panic!("{symbol}: {}", r["positions"]));
        assert_eq!(ours, theirs, "{symbol}: {}", r["positions"]);
    }
    assert_eq!(r["orders_open_at_end"].as_u64(), Some(0));
}

#[test]
fn the_ibkr_venue_runs_with_one_shard_and_says_so() {
    let dir = dir();
    let tws = FakeTws::start(Script::paper(&SYMBOLS));
    let config = config_for(&tws, &dir);
    let o = tickpipe(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--shards",
        "2",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--shards 2: the IBKR venue runs with one shard"),
        "{err}"
    );
    assert_eq!(tws.connections(), 0, "refused before connecting");
}
