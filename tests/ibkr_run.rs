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
    assert!(
        !placed.is_empty() && !tws.fills().is_empty(),
        "the session traded: {stdout}"
    );
    let orders_sent = r["orders"].as_u64().unwrap();
    assert!(
        orders_sent >= placed.len() as u64,
        "{orders_sent} < {}",
        placed.len()
    );
    assert_reconciled(&tws, &r);
}

/// Checks a finished run's report against the fake: every execution IB reported applied
/// once, risk's positions IB's, no order placed twice, nothing left open.
fn assert_reconciled(tws: &FakeTws, r: &serde_json::Value) {
    let placed = tws.placed();
    let fills = tws.fills();
    let refs: HashSet<&str> = placed.iter().map(|o| o.order_ref.as_str()).collect();
    assert_eq!(refs.len(), placed.len(), "an order placed twice");
    assert_eq!(r["invalid_reports"].as_u64(), Some(0));
    assert_eq!(
        r["fills"].as_u64(),
        Some(fills.len() as u64),
        "{}",
        r["fills"]
    );
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
fn two_shards_trade_through_two_ib_clients_and_end_reconciled_across_a_disconnect() {
    let dir = dir().join("two-shards");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("session.itch");
    let o = tickpipe(&[
        "generate",
        "--out",
        input.to_str().unwrap(),
        "--messages",
        "60000",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Each order fills 1 share and rests, so orders are open when the link drops.
    let mut script = Script::paper(&SYMBOLS);
    script.on_place = OnPlace::Partials {
        shares: vec![1.0],
        fast: false,
    };
    let tws = FakeTws::start(script);
    let config = config_for(&tws, &dir);
    let report = dir.join("report.json");
    let journal = dir.join("journal");
    // Paced (20 000 messages a second: about 3 s) so the disconnect lands mid-session.
    let child = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args([
            "run",
            "--input",
            input.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--shards",
            "2",
            "--rate",
            "20000",
            "--journal",
            journal.to_str().unwrap(),
            "--quiet",
            "--report-json",
            report.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Shard k is client 17 + k; both have orders resting at IB.
    tws.wait_for("both clients' orders resting", |t| {
        t.with_script(|s| {
            let clients: HashSet<i32> = s.open_orders.iter().map(|o| o.client_id).collect();
            clients.contains(&17) && clients.contains(&18)
        })
    });
    assert_eq!(tws.clients(), [17, 18]);
    tws.disconnect();
    // Filled while the link is down: only reconciliation can report these.
    let missed = tws.fill_open_orders();
    assert!(missed >= 2, "{missed}");
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Both clients came back (a reconnect is a connection of its own) and looked again.
    assert!(tws.connections() >= 4, "{}", tws.connections());
    let looks = tws
        .received()
        .iter()
        .filter(|&&id| id == fake_tws::outgoing::REQUEST_EXECUTIONS)
        .count();
    assert!(looks >= 4, "{looks} execution requests");
    let placed = tws.placed();
    for client in [17, 18] {
        assert!(
            placed.iter().any(|o| o.client_id == client),
            "client {client} placed nothing"
        );
    }
    // Each shard kept, beside its journal, an IB order id at least the highest its
    // client placed (an id taken for an order sent into the outage counts too: it may
    // have reached IB).
    for (shard, client) in [(0, 17), (1, 18)] {
        let highest = placed
            .iter()
            .filter(|o| o.client_id == client)
            .map(|o| o.order_id)
            .max()
            .unwrap();
        let path = journal.join(format!("shard-{shard}/ibkr-order-ids"));
        let kept: i32 = std::fs::read_to_string(path)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(kept >= highest, "shard {shard}: kept {kept} < {highest}");
    }
    // Each shard's journal holds the link's going down and coming back, and reads back.
    let o = tickpipe(&[
        "journal",
        "inspect",
        journal.to_str().unwrap(),
        "--records",
        "0",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(text.matches("venue_down ").count(), 2, "{text}");
    assert!(
        !text.contains("venue_down 0,") && !text.contains("venue_up 0\n"),
        "{text}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_reconciled(&tws, &r);
}

#[test]
fn shards_past_the_last_client_id_are_refused_before_connecting() {
    let dir = dir().join("client-ids");
    std::fs::create_dir_all(&dir).unwrap();
    let tws = FakeTws::start(Script::paper(&SYMBOLS));
    let config = config_for(&tws, &dir);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("client_id = 17", "client_id = 2147483647");
    std::fs::write(&config, text).unwrap();
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
        err.contains("venue.client_id: 2147483647 with --shards 2"),
        "{err}"
    );
    assert_eq!(tws.connections(), 0, "refused before connecting");
}

#[test]
fn a_killed_run_resumes_from_its_journal_settling_its_orders_in_flight_with_ib() {
    let dir = dir().join("resume");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("session.itch");
    let o = tickpipe(&[
        "generate",
        "--out",
        input.to_str().unwrap(),
        "--messages",
        "60000",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Each order fills 1 share and rests; after the restart the Gateway's next valid id
    // is 1 again (it restarted too).
    let mut script = Script::paper(&SYMBOLS);
    script.on_place = OnPlace::Partials {
        shares: vec![1.0],
        fast: false,
    };
    script.next_valid_id_after_reconnect = Some(1);
    let tws = FakeTws::start(script);
    let config = config_for(&tws, &dir);
    let journal = dir.join("journal");
    let report = dir.join("report.json");
    let args = [
        "run",
        "--input",
        input.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--shards",
        "1",
        "--rate",
        "20000",
        "--journal",
        journal.to_str().unwrap(),
        "--quiet",
        "--report-json",
        report.to_str().unwrap(),
    ];
    let mut first = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tws.wait_for("orders resting at IB", |t| {
        t.with_script(|s| s.open_orders.len() >= 3)
    });
    first.kill().unwrap(); // SIGKILL: no drain, no end of session
    first.wait().unwrap();
    tws.disconnect();
    // While the process is down IB fills what rests: only the restart's settling can
    // report these.
    assert!(tws.fill_open_orders() >= 3);
    let placed_before = tws.placed().len();

    let o = tickpipe(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let placed = tws.placed();
    assert!(
        placed.len() > placed_before,
        "the resumed session traded on: {stdout} {r}"
    );
    let ids: HashSet<i32> = placed.iter().map(|o| o.order_id).collect();
    assert_eq!(
        ids.len(),
        placed.len(),
        "an IB order id reused after the rollback"
    );
    let refs: HashSet<&str> = placed.iter().map(|o| o.order_ref.as_str()).collect();
    assert_eq!(refs.len(), placed.len(), "an order placed twice");
    assert_eq!(r["invalid_reports"].as_u64(), Some(0));
    let ib: Vec<(String, i32, f64)> = tws.with_script(|s| s.positions.clone());
    for (i, symbol) in SYMBOLS.iter().enumerate() {
        let theirs: f64 = ib
            .iter()
            .filter(|p| p.1 == 1000 + i as i32)
            .map(|p| p.2)
            .sum();
        let ours = r["positions"][symbol]["position"].as_f64().unwrap();
        assert_eq!(ours, theirs, "{symbol}: {}", r["positions"]);
    }
    assert_eq!(r["orders_open_at_end"].as_u64(), Some(0));
}
