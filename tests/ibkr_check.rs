//! `tickpipe ibkr check` against the fake TWS (feature `ibkr`): the handshake end to
//! end, the account checks, and that it places nothing.

mod fake_tws;

use std::path::PathBuf;
use std::process::{Command, Output};

use fake_tws::{FakeOrder, FakeTws, Script, outgoing};

const SYMBOLS: [&str; 8] = [
    "AAPL", "MSFT", "AMZN", "NVDA", "GOOGL", "META", "TSLA", "AMD",
];

/// config/ibkr-paper.toml pointed at the fake: its port, `account`, and the fake's
/// contract ids (1000 + i, in `SYMBOLS` order).
fn config_for(tws: &FakeTws, account: &str, name: &str) -> PathBuf {
    let shipped = std::fs::read_to_string("config/ibkr-paper.toml").unwrap();
    let real_ids = [
        265598, 272093, 3691937, 4815747, 208813719, 107113386, 76792991, 4391,
    ];
    let mut text = shipped
        .replace("port = 4002", &format!("port = {}", tws.port()))
        .replace(
            "account = \"DU1234567\"",
            &format!("account = \"{account}\""),
        );
    for (i, id) in real_ids.iter().enumerate() {
        text = text.replace(
            &format!("con_id = {id}\n"),
            &format!("con_id = {}\n", 1000 + i),
        );
    }
    let dir = std::env::temp_dir().join(format!("tickpipe-ibkr-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn check(config: &PathBuf, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickpipe"))
        .args(["ibkr", "check", "--config"])
        .arg(config)
        .args(extra)
        .output()
        .unwrap()
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

#[test]
fn check_prints_the_server_accounts_contracts_positions_and_orders_and_places_nothing() {
    let mut script = Script::paper(&SYMBOLS);
    script.managed_accounts = vec!["DU1234567".into(), "DU7654321".into()];
    script.positions = vec![
        ("DU1234567".into(), 1000, 100.0),
        ("DU1234567".into(), 1006, -30.0),
        ("DU7654321".into(), 1001, 5.0),
    ];
    script.open_orders = vec![FakeOrder {
        order_id: 42,
        client_id: 0,
        con_id: 1001,
        action: "SELL".into(),
        qty: 10.0,
        limit: 410.5,
        order_ref: "7:3".into(),
        account: "DU1234567".into(),
        status: "Submitted".into(),
        filled: 0.0,
    }];
    let tws = FakeTws::start(script);
    let config = config_for(&tws, "DU1234567", "paper");

    let o = check(&config, &[]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    assert!(
        out.starts_with(&format!(
            "connected to 127.0.0.1:{} as client 17: server version 213\n",
            tws.port()
        )),
        "{out}"
    );
    assert!(
        out.contains("managed accounts: DU1234567, DU7654321\n"),
        "{out}"
    );
    assert!(
        out.contains("trading account: DU1234567 (paper)\n"),
        "{out}"
    );
    for (i, s) in SYMBOLS.iter().enumerate() {
        let line = format!(
            "  {s}: con_id {}: {s} \"{s} INC\" on SMART (primary NASDAQ), USD, min tick 0.01\n",
            1000 + i
        );
        assert!(out.contains(&line), "{line:?} in\n{out}");
    }
    // The account's positions only, by ticker.
    assert!(
        out.contains("positions (DU1234567): 2\n  AAPL: 100\n  TSLA: -30\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "open orders: 1\n  order 42: SELL 10 MSFT @ 410.5000, Submitted, orderRef \"7:3\"\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("executions since the session start: 0\n"),
        "{out}"
    );

    let received = tws.received();
    assert_eq!(received.first(), Some(&outgoing::START_API), "{received:?}");
    assert_eq!(
        received
            .iter()
            .filter(|&&id| id == outgoing::REQUEST_CONTRACT_DATA)
            .count(),
        SYMBOLS.len()
    );
    assert!(
        received.contains(&outgoing::REQUEST_POSITIONS),
        "{received:?}"
    );
    assert!(
        received.contains(&outgoing::REQUEST_ALL_OPEN_ORDERS),
        "{received:?}"
    );
    assert!(
        received.contains(&outgoing::REQUEST_EXECUTIONS),
        "{received:?}"
    );
    assert!(
        !received.contains(&outgoing::PLACE_ORDER) && !received.contains(&outgoing::CANCEL_ORDER),
        "check placed or cancelled something: {received:?}"
    );
    assert!(tws.placed().is_empty() && tws.cancels().is_empty());
}

#[test]
fn a_contract_ib_does_not_know_is_shown_and_fails_the_check() {
    let tws = FakeTws::start(Script::paper(&SYMBOLS[..7]));
    let config = config_for(&tws, "DU1234567", "unknown-contract");
    let o = check(&config, &[]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", text(&o.stderr));
    assert!(
        out.contains("  AMD: con_id 1007: error: ") && out.contains("No security definition"),
        "{out}"
    );
    assert!(out.contains("  AAPL: con_id 1000: AAPL"), "{out}");
}

#[test]
fn a_live_account_without_the_flag_is_refused_before_anything_is_read() {
    let mut script = Script::paper(&SYMBOLS);
    script.managed_accounts = vec!["U1234567".into()];
    let tws = FakeTws::start(script);
    let config = config_for(&tws, "U1234567", "live");

    let o = check(&config, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("venue.account: U1234567 is not a paper account")
            && err.contains("--live-account"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    assert_eq!(tws.received(), [outgoing::START_API], "it read nothing");

    let o = check(&config, &["--live-account"]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    assert!(out.contains("trading account: U1234567 (live)\n"), "{out}");
}

#[test]
fn an_account_the_server_does_not_manage_is_refused_naming_both() {
    let tws = FakeTws::start(Script::paper(&SYMBOLS));
    let config = config_for(&tws, "DU9999999", "mismatch");
    let o = check(&config, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains(
            "venue.account: DU9999999 is not among the server's managed accounts (DU1234567)"
        ),
        "{err}"
    );
    assert!(tws.placed().is_empty());
}

#[test]
fn nothing_listening_is_an_error_naming_the_address() {
    let tws = FakeTws::start(Script::paper(&SYMBOLS));
    let config = config_for(&tws, "DU1234567", "nothing-listening");
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text_ = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&format!("port = {}", tws.port()), &format!("port = {port}"));
    std::fs::write(&config, text_).unwrap();
    let o = check(&config, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!(
            "cannot connect to TWS/IB Gateway at 127.0.0.1:{port} as client 17"
        )),
        "{err}"
    );
}

#[test]
fn a_config_for_another_venue_or_with_a_bad_port_is_refused_with_its_key() {
    let tws = FakeTws::start(Script::paper(&SYMBOLS));
    let config = config_for(&tws, "DU1234567", "bad-port");
    let bad = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&format!("port = {}", tws.port()), "port = 70000");
    std::fs::write(&config, bad).unwrap();
    let o = check(&config, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("venue.port: 70000 is not a TCP port"), "{err}");

    let o = check(&PathBuf::from("config/tickpipe.toml"), &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("venue.kind"), "{err}");
    assert_eq!(tws.connections(), 0);
}
