//! IB market data as a source, `tickpipe run --source ibkr`, against the fake TWS
//! (feature `ibkr`): tick-by-tick BidAsk and AllLast become decisions with the simulated
//! venue and with the IBKR venue; a farm-down error stales one symbol until its next
//! tick, a deadline without ticks stales the quiet ones; and the session's capture
//! replays to the same digest.

mod fake_tws;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fake_tws::{FakeTws, OnPlace, Script, error, tick_bid_ask, tick_last};
use tickpipe::codec::itch::FrameReader;
use tickpipe::source::live::Capture;

const SYMBOLS: [&str; 8] = [
    "AAPL", "MSFT", "AMZN", "NVDA", "GOOGL", "META", "TSLA", "AMD",
];
const REAL_IDS: [i64; 8] = [
    265598, 272093, 3691937, 4815747, 208813719, 107113386, 76792991, 4391,
];
/// The source's API client id in config/ibkr-paper.toml (the venue's is 17).
const SOURCE_CLIENT: i32 = 90;

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tickpipe-ibkr-source-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `[source.ibkr]` for the fake, with `stale_after_ms`.
fn source_section(tws: &FakeTws, stale_after_ms: u64) -> String {
    let mut s = format!(
        "\n[source.ibkr]\nhost = \"127.0.0.1\"\nport = {}\nclient_id = {SOURCE_CLIENT}\n\
         stale_after_ms = {stale_after_ms}\n",
        tws.port()
    );
    for (i, t) in SYMBOLS.iter().enumerate() {
        s.push_str(&format!(
            "[source.ibkr.contracts.{t}]\ncon_id = {}\n",
            1000 + i
        ));
    }
    s
}

/// config/tickpipe.toml (the simulated exchange) with `[source.ibkr]` for the fake.
fn sim_config(tws: &FakeTws, dir: &Path, stale_after_ms: u64) -> PathBuf {
    let text = std::fs::read_to_string("config/tickpipe.toml").unwrap()
        + &source_section(tws, stale_after_ms);
    let path = dir.join("sim.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// config/ibkr-paper.toml (venue and source) pointed at the fake.
fn ibkr_config(tws: &FakeTws, dir: &Path) -> PathBuf {
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

fn start(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// SIGTERM, as an operator ends a live session: the source stops, the rings drain.
fn stop(child: Child) -> Output {
    // SAFETY: a plain kill(2) of the child this test started.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    child.wait_with_output().unwrap()
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// (type byte, stock locate) of every message captured so far.
fn captured(path: &Path) -> Vec<(u8, u16)> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let bytes = &bytes[..Capture::captured_len(&bytes)];
    let mut out = Vec::new();
    let _ = FrameReader::new(bytes).for_each(|f| {
        if let Ok(f) = f {
            out.push((f.bytes[0], u16::from_be_bytes([f.bytes[1], f.bytes[2]])));
        }
        std::ops::ControlFlow::Continue(())
    });
    out
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The BidAsk subscription's request id of each symbol, once all 16 are in.
fn bid_ask_requests(tws: &FakeTws) -> Vec<i32> {
    tws.wait_for("16 tick-by-tick subscriptions", |t| {
        t.tick_requests().len() == 16
    });
    let requests = tws.tick_requests();
    (0..SYMBOLS.len())
        .map(|i| {
            requests
                .iter()
                .find(|(_, con, kind)| *con == 1000 + i as i32 && kind == "BidAsk")
                .unwrap_or_else(|| panic!("no BidAsk subscription of {}: {requests:?}", SYMBOLS[i]))
                .0
        })
        .collect()
}

fn all_last_request(tws: &FakeTws, symbol: usize) -> i32 {
    tws.tick_requests()
        .iter()
        .find(|(_, con, kind)| *con == 1000 + symbol as i32 && kind == "AllLast")
        .unwrap()
        .0
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A book leaning to the bid (900 against 100), which the shipped linear model buys,
/// then a print.
fn buy_signal(tws: &FakeTws, req: i32, trades: i32, price: f64) {
    let t = now_s();
    tws.push_to(
        SOURCE_CLIENT,
        tick_bid_ask(req, t, price, price + 0.02, 100.0, 100.0),
    );
    tws.push_to(
        SOURCE_CLIENT,
        tick_bid_ask(req, t, price, price + 0.02, 900.0, 100.0),
    );
    tws.push_to(SOURCE_CLIENT, tick_last(trades, t, price + 0.01, 50.0));
}

#[test]
fn ticks_become_decisions_on_the_sim_venue_a_farm_down_stales_one_symbol_and_the_capture_replays() {
    let dir = dir("sim");
    let tws = FakeTws::start(Script::paper(&SYMBOLS));
    let config = sim_config(&tws, &dir, 600_000);
    let journal = dir.join("journal");
    let live_json = dir.join("live.json");
    let child = start(&[
        "run",
        "--source",
        "ibkr",
        "--config",
        config.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--quiet",
        "--report-json",
        live_json.to_str().unwrap(),
    ]);
    let bid_ask = bid_ask_requests(&tws);
    let capture = journal.join("input.itch");
    buy_signal(&tws, bid_ask[0], all_last_request(&tws, 0), 100.0);
    wait_until("AAPL's print captured", || {
        captured(&capture).contains(&(b'P', 1))
    });
    // AAPL's market-data farm goes down on its subscription: AAPL alone goes stale.
    tws.push_to(
        SOURCE_CLIENT,
        error(
            bid_ask[0],
            2103,
            "Market data farm connection is broken:usfarm",
        ),
    );
    wait_until("AAPL's stale notice", || {
        captured(&capture).contains(&(b'!', 1))
    });
    // MSFT ticks meanwhile, and AAPL's next tick lifts it.
    buy_signal(&tws, bid_ask[1], all_last_request(&tws, 1), 50.0);
    let t = now_s();
    tws.push_to(
        SOURCE_CLIENT,
        tick_bid_ask(bid_ask[0], t, 100.01, 100.03, 900.0, 100.0),
    );
    wait_until("AAPL lifted and MSFT's print", || {
        let c = captured(&capture);
        c.contains(&(b'+', 1)) && c.contains(&(b'P', 2))
    });
    let o = stop(child);
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let c = captured(&capture);
    let notices: Vec<&(u8, u16)> = c.iter().filter(|(k, _)| *k == b'!' || *k == b'+').collect();
    assert_eq!(notices, [&(b'!', 1), &(b'+', 1)], "only AAPL: {c:?}");
    let live = report(&live_json);
    assert!(
        live["orders"].as_u64().unwrap() > 0,
        "the ticks became orders: {live}"
    );
    assert_eq!(live["stale_notices"].as_u64(), Some(1), "{live}");

    // The capture replays to the same decisions, on one shard and on two.
    for shards in ["1", "2"] {
        let replay_json = dir.join(format!("replay-{shards}.json"));
        let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
            .args([
                "run",
                "--input",
                capture.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
                "--shards",
                shards,
                "--quiet",
                "--report-json",
                replay_json.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let replay = report(&replay_json);
        assert_eq!(replay["digest"], live["digest"], "{shards} shard(s)");
        assert_eq!(replay["orders"], live["orders"]);
    }
    // And the journal checks out against it, decision by decision.
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args([
            "journal",
            "verify",
            journal.to_str().unwrap(),
            "--input",
            capture.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn symbols_without_ticks_go_stale_at_the_deadline_and_a_tick_lifts_one() {
    let dir = dir("deadline");
    let tws = FakeTws::start(Script::paper(&SYMBOLS));
    let config = sim_config(&tws, &dir, 50);
    let journal = dir.join("journal");
    let child = start(&[
        "run",
        "--source",
        "ibkr",
        "--config",
        config.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--quiet",
    ]);
    let bid_ask = bid_ask_requests(&tws);
    let capture = journal.join("input.itch");
    wait_until("every symbol stale", || {
        let c = captured(&capture);
        (1..=8).all(|locate| c.contains(&(b'!', locate)))
    });
    tws.push_to(
        SOURCE_CLIENT,
        tick_bid_ask(bid_ask[2], now_s(), 200.0, 200.05, 100.0, 100.0),
    );
    wait_until("AMZN lifted", || captured(&capture).contains(&(b'+', 3)));
    let o = stop(child);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let c = captured(&capture);
    // Each symbol went stale once from the deadline; AMZN's tick lifted it and was
    // applied behind the notice.
    for locate in 1..=8 {
        assert!(c.contains(&(b'!', locate)), "{locate}: {c:?}");
    }
    let lifted = c.iter().position(|m| *m == (b'+', 3)).unwrap();
    assert_eq!(c[lifted + 1], (b'A', 3), "{c:?}");
    assert!(
        !c.iter().any(|&(k, l)| k == b'+' && l != 3),
        "only AMZN ticked: {c:?}"
    );
}

#[test]
fn ticks_become_orders_at_the_ibkr_venue() {
    let dir = dir("venue");
    let mut script = Script::paper(&SYMBOLS);
    script.on_place = OnPlace::Rest;
    let tws = FakeTws::start(script);
    let config = ibkr_config(&tws, &dir);
    let json = dir.join("report.json");
    let child = start(&[
        "run",
        "--source",
        "ibkr",
        "--config",
        config.to_str().unwrap(),
        "--shards",
        "1",
        "--quiet",
        "--report-json",
        json.to_str().unwrap(),
    ]);
    let bid_ask = bid_ask_requests(&tws);
    buy_signal(&tws, bid_ask[0], all_last_request(&tws, 0), 100.0);
    tws.wait_for("an order from the ticks", |t| !t.placed().is_empty());
    let o = stop(child);
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let placed = tws.placed();
    assert_eq!(placed[0].con_id, 1000, "AAPL: {placed:?}");
    assert_eq!(placed[0].action, "BUY");
    assert_eq!(
        placed[0].client_id, 17,
        "the venue's connection, not the source's"
    );
    let r = report(&json);
    assert!(r["orders"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(r["orders_open_at_end"].as_u64(), Some(0), "{r}");
}

#[test]
fn source_ibkr_without_its_section_is_refused_naming_it() {
    let dir = dir("missing");
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args([
            "run",
            "--source",
            "ibkr",
            "--config",
            "config/tickpipe.toml",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--source ibkr needs [source.ibkr]"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_source_client_id_among_the_venue_shards_ids_is_refused_before_connecting() {
    // The venue's two shards take client ids 17 and 18; the market data asks for 18.
    let dir = dir("client-ids");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string("config/ibkr-paper.toml")
        .unwrap()
        .replace(&format!("client_id = {SOURCE_CLIENT}"), "client_id = 18");
    let config = dir.join("ibkr.toml");
    std::fs::write(&config, text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args([
            "run", "--source", "ibkr", "--shards", "2", "--quiet", "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "source.ibkr.client_id 18 is one of the venue's client ids with --shards 2 (17 to 18)"
        ),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
