//! The IBKR venue over the real wire (`IbWire`, `ibapi`'s sync client) against the fake
//! TWS (feature `ibkr`): fills and partial fills, rejects and duplicate ids, IB's
//! messages in any order and repeated, a disconnect in the middle of an order with fills
//! during it, order ids after a rollback, and the start-up checks. Every report is
//! applied to risk's own order manager, so "legal" means risk accepts it; each scenario
//! ends with the fake's executions applied exactly once and both sides' positions equal.

mod fake_tws;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use fake_tws::{FakeOrder, FakeTws, OnPlace, Script};
use tickpipe::msg::{
    ClOrdId, ExecKind, ExecReport, OrderIntent, Price, RejectReason, Side, Stamp, SymbolId,
    SymbolName, TimeInForce, VenueCommand,
};
use tickpipe::stages::risk::orders::LiveOrders;
use tickpipe::venue::Venue;
use tickpipe::venue::ibkr::client::{IbWire, WireError};
use tickpipe::venue::ibkr::config::{ContractConfig, IbkrConfig};
use tickpipe::venue::ibkr::reconcile::{Contract, Contracts};
use tickpipe::venue::ibkr::{IbkrSetup, IbkrVenue};

const MS: u64 = 1_000_000;
const AAPL: SymbolId = SymbolId(0);
const MSFT: SymbolId = SymbolId(1);
const AAPL_CON: i32 = 1000;
const MSFT_CON: i32 = 1001;
const LIMIT: Price = Price(1_500_000);

fn config(tws: &FakeTws, account: &str) -> IbkrConfig {
    let contract = |con_id| ContractConfig {
        con_id,
        exchange: None,
        currency: None,
    };
    IbkrConfig {
        host: "127.0.0.1".into(),
        port: i64::from(tws.port()),
        client_id: 17,
        account: account.into(),
        backoff_min_ms: 100,
        backoff_max_ms: 30_000,
        backoff_seed: 17,
        unknown_order_deadline_ms: 5_000,
        contracts: BTreeMap::from([
            ("AAPL".to_string(), contract(i64::from(AAPL_CON))),
            ("MSFT".to_string(), contract(i64::from(MSFT_CON))),
        ]),
    }
}

fn setup(positions: Vec<(SymbolId, i64)>) -> IbkrSetup {
    let contract = |symbol, name, con_id| Contract {
        symbol,
        name: SymbolName::new(name).unwrap(),
        con_id,
    };
    IbkrSetup {
        contracts: Contracts(vec![
            contract(AAPL, "AAPL", AAPL_CON),
            contract(MSFT, "MSFT", MSFT_CON),
        ]),
        positions,
        id_floor: 1,
        journal: None,
        unknown_order_deadline_ns: 300 * MS,
        end_of_session_deadline_ns: 2_000 * MS,
        backoff_base_ns: 20 * MS,
        backoff_cap_ns: 200 * MS,
        backoff_seed: 3,
    }
}

/// The venue over the wire, risk's order manager per symbol, and every report so far.
struct Harness {
    tws: FakeTws,
    venue: IbkrVenue<IbWire>,
    risk: HashMap<SymbolId, LiveOrders>,
    reports: Vec<ExecReport>,
    session: Vec<(ExecKind, RejectReason)>,
    ts: u64,
}

impl Harness {
    fn connect(script: Script, positions: Vec<(SymbolId, i64)>) -> Harness {
        Harness::connect_with(script, setup(positions))
    }

    fn connect_with(script: Script, setup: IbkrSetup) -> Harness {
        let tws = FakeTws::start(script);
        let wire = IbWire::connect(&config(&tws, "DU1234567"), false).expect("connects");
        Harness {
            venue: IbkrVenue::new(wire, setup),
            tws,
            risk: [AAPL, MSFT]
                .into_iter()
                .map(|s| (s, LiveOrders::new(s, 16)))
                .collect(),
            reports: Vec::new(),
            session: Vec::new(),
            ts: 1_000,
        }
    }

    fn started(on_place: OnPlace) -> Harness {
        let mut script = Script::paper(&["AAPL", "MSFT"]);
        script.on_place = on_place;
        let mut h = Harness::connect(script, Vec::new());
        h.venue.reconcile(&[], &[]).expect("a clean account");
        h
    }

    fn take(&mut self, out: Vec<ExecReport>) {
        for r in out {
            match r.kind {
                ExecKind::VenueDown | ExecKind::VenueUp | ExecKind::EndOfSession => {
                    self.session.push((r.kind, r.reason));
                }
                _ => {
                    let risk = self.risk.get_mut(&r.symbol).expect("a symbol of the test");
                    risk.apply(&r)
                        .unwrap_or_else(|p| panic!("risk refused {r:?}: {p}"));
                    self.reports.push(r);
                }
            }
        }
    }

    fn command(&mut self, command: VenueCommand) {
        let mut out = Vec::new();
        self.venue.on_command(command, &mut out);
        self.take(out);
    }

    fn stamp(&mut self) -> Stamp {
        self.ts += 1_000;
        Stamp {
            ts_recv: self.ts,
            ts_event: self.ts,
        }
    }

    fn order(&mut self, symbol: SymbolId, side: Side, qty: u32) -> ClOrdId {
        let order =
            self.risk
                .get_mut(&symbol)
                .unwrap()
                .open(side, LIMIT, qty, TimeInForce::Day, self.ts);
        let stamp = self.stamp();
        self.command(VenueCommand::New {
            stamp,
            order: OrderIntent {
                cl_ord_id: order.id,
                price: LIMIT,
                qty,
                symbol,
                side,
                tif: TimeInForce::Day,
            },
        });
        order.id
    }

    fn cancel(&mut self, id: ClOrdId) {
        let risk = self.risk.get_mut(&id.symbol()).unwrap();
        if let Some(o) = risk.iter_mut().find(|o| o.id == id) {
            o.pending_cancel = true;
        }
        let stamp = self.stamp();
        self.command(VenueCommand::Cancel {
            stamp,
            cl_ord_id: id,
        });
    }

    /// Polls until `done` holds, up to 10 s (the wire is asynchronous: its reader
    /// thread hands messages over as they arrive).
    fn until(&mut self, what: &str, done: impl Fn(&Harness) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: reports {:?}, session {:?}, stats {:?}",
                self.kinds_all(),
                self.session,
                self.venue.ibkr_stats()
            );
            let mut out = Vec::new();
            self.venue.poll(&mut out);
            self.take(out);
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Polls for `ms` more milliseconds: whatever else was coming has come.
    fn settle(&mut self, ms: u64) {
        let end = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < end {
            let mut out = Vec::new();
            self.venue.poll(&mut out);
            self.take(out);
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn kinds(&self, id: ClOrdId) -> Vec<ExecKind> {
        self.reports
            .iter()
            .filter(|r| r.cl_ord_id == id)
            .map(|r| r.kind)
            .collect()
    }

    fn kinds_all(&self) -> Vec<(ExecKind, u32)> {
        self.reports.iter().map(|r| (r.kind, r.qty)).collect()
    }

    fn last(&self, id: ClOrdId) -> ExecReport {
        *self
            .reports
            .iter()
            .rev()
            .find(|r| r.cl_ord_id == id)
            .unwrap()
    }

    fn filled(&self, id: ClOrdId) -> u32 {
        self.reports
            .iter()
            .filter(|r| r.cl_ord_id == id && r.kind == ExecKind::Fill)
            .map(|r| r.qty)
            .sum()
    }

    fn live(&self) -> usize {
        self.risk.values().map(LiveOrders::len).sum()
    }

    fn done(&self, id: ClOrdId) -> bool {
        self.risk[&id.symbol()].iter().all(|o| o.id != id)
    }

    /// Nothing lost or duplicated: every execution the fake reported was applied once,
    /// and the venue's positions are the fake's.
    fn assert_reconciled(&self) {
        let fills = self.tws.fills();
        let ours: u64 = self
            .reports
            .iter()
            .filter(|r| r.kind == ExecKind::Fill)
            .count() as u64;
        assert_eq!(
            ours,
            fills.len() as u64,
            "fills: ours {ours}, IB's {fills:?}"
        );
        let positions = self.tws.with_script(|s| s.positions.clone());
        for (symbol, con) in [(AAPL, AAPL_CON), (MSFT, MSFT_CON)] {
            let theirs: f64 = positions
                .iter()
                .filter(|(_, c, _)| *c == con)
                .map(|(_, _, q)| q)
                .sum();
            assert_eq!(
                self.venue.position(symbol) as f64,
                theirs,
                "position of {symbol:?}"
            );
        }
    }
}

#[test]
fn an_order_carries_our_id_in_order_ref_and_fills_whole() {
    let mut h = Harness::started(OnPlace::Fill);
    let id = h.order(AAPL, Side::Buy, 100);
    h.until("the fill", |h| h.done(id));
    assert_eq!(h.kinds(id), [ExecKind::Ack, ExecKind::Fill]);
    assert_eq!(h.last(id).qty, 100);
    let placed = h.tws.placed();
    assert_eq!(placed.len(), 1);
    let p = &placed[0];
    assert_eq!(p.order_ref, id.0.to_string());
    assert_eq!(
        (
            p.con_id,
            p.action.as_str(),
            p.qty,
            p.limit,
            p.account.as_str()
        ),
        (AAPL_CON, "BUY", 100.0, 150.0, "DU1234567")
    );
    h.assert_reconciled();
    assert_eq!(h.venue.position(AAPL), 100);
}

#[test]
fn partial_fills_then_a_cancel_end_the_order_cancelled_with_what_filled() {
    let mut h = Harness::started(OnPlace::Partials {
        shares: vec![30.0, 20.0],
        fast: false,
    });
    let id = h.order(MSFT, Side::Sell, 100);
    h.until("two partial fills", |h| h.filled(id) == 50);
    h.cancel(id);
    h.until("the cancel", |h| h.done(id));
    assert_eq!(
        h.kinds(id),
        [
            ExecKind::Ack,
            ExecKind::Fill,
            ExecKind::Fill,
            ExecKind::Cancelled
        ]
    );
    assert_eq!(h.tws.cancels(), [h.tws.placed()[0].order_id]);
    h.assert_reconciled();
    assert_eq!(h.venue.position(MSFT), -50);
}

#[test]
fn a_fast_fill_with_no_submitted_first_is_applied() {
    let mut h = Harness::started(OnPlace::Partials {
        shares: vec![100.0],
        fast: true,
    });
    let id = h.order(AAPL, Side::Buy, 100);
    h.until("the fill", |h| h.done(id));
    assert_eq!(h.filled(id), 100);
    assert_eq!(*h.kinds(id).last().unwrap(), ExecKind::Fill);
    h.assert_reconciled();
}

#[test]
fn error_201_rejects_the_order_with_ibs_text_kept() {
    let mut h = Harness::started(OnPlace::Reject("insufficient margin".into()));
    let id = h.order(AAPL, Side::Buy, 100);
    h.until("the reject", |h| h.done(id));
    let r = h.last(id);
    assert_eq!(
        (r.kind, r.reason),
        (ExecKind::Rejected, RejectReason::Broker)
    );
    let stats = h.venue.ibkr_stats();
    assert_eq!(stats.broker_rejects, 1);
    assert!(
        stats
            .last_reject
            .as_deref()
            .unwrap()
            .contains("insufficient margin"),
        "{stats:?}"
    );
    h.settle(50);
    assert_eq!(
        h.kinds(id).last(),
        Some(&ExecKind::Rejected),
        "nothing after the end"
    );
    h.assert_reconciled();
}

#[test]
fn a_duplicate_id_is_resent_once_under_a_fresh_id() {
    let mut h = Harness::started(OnPlace::DuplicateIdOnce);
    let id = h.order(AAPL, Side::Buy, 100);
    h.until("the ack of the resend", |h| {
        assert!(!h.done(id), "{:?} {:?}", h.reports, h.tws.placed());
        h.kinds(id) == [ExecKind::Ack]
    });
    let placed = h.tws.placed();
    assert_eq!(placed.len(), 2, "{placed:?}");
    assert!(placed[1].order_id > placed[0].order_id);
    assert_eq!(placed[1].order_ref, placed[0].order_ref);
    assert_eq!(h.venue.ibkr_stats().duplicate_id_resends, 1);
    h.tws.fill(placed[1].order_id, 100.0, 150.0);
    h.until("the fill", |h| h.done(id));
    h.assert_reconciled();
}

/// One order's facts, pushed by the fake in `order`, each possibly twice: the venue
/// applies the one execution once and ends the order once, whatever the order.
#[test]
fn status_open_order_and_execution_in_any_order_and_repeated_apply_once() {
    let permutations: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let mut h = Harness::started(OnPlace::Ignore);
    for (n, perm) in permutations.iter().enumerate() {
        let symbol = if n % 2 == 0 { AAPL } else { MSFT };
        let id = h.order(symbol, Side::Buy, 10);
        h.tws.wait_for("the order", |t| t.placed().len() == n + 1);
        let placed = h.tws.placed()[n].clone();
        let fill = h.tws.with_script(|s| {
            let mut o: FakeOrder = placed.clone();
            o.status = "Filled".into();
            o.filled = 10.0;
            s.positions.push(("DU1234567".into(), o.con_id, 10.0));
            let f = fake_tws::FakeFill {
                // IB's form: a correction differs only after the last period.
                exec_id: format!("0000f00d.{n:08}.01.01"),
                client_id: o.client_id,
                order_id: o.order_id,
                con_id: o.con_id,
                action: "BUY".into(),
                shares: 10.0,
                price: 150.0,
                cum_qty: 10.0,
                order_ref: o.order_ref.clone(),
            };
            s.fills.push(f.clone());
            [
                fake_tws::open_order(s, &o),
                fake_tws::execution(s, &f, -1),
                fake_tws::order_status(o.client_id, o.order_id, "Filled", 10.0, 0.0, 150.0),
            ]
        });
        for &i in perm {
            h.tws.push(fill[i].clone());
        }
        // IB repeats itself.
        h.tws.push(fill[perm[0]].clone());
        h.tws.push(fill[1].clone());
        h.until("the order's end", |h| h.done(id));
        h.settle(20);
        assert_eq!(h.filled(id), 10, "permutation {perm:?}");
        assert_eq!(
            h.kinds(id).iter().filter(|k| **k == ExecKind::Fill).count(),
            1,
            "permutation {perm:?}: {:?}",
            h.kinds(id)
        );
    }
    h.assert_reconciled();
}

#[test]
fn a_fill_after_cancelled_and_pending_cancel_are_tolerated() {
    let mut h = Harness::started(OnPlace::Rest);
    let id = h.order(AAPL, Side::Buy, 100);
    h.until("the ack", |h| h.kinds(id) == [ExecKind::Ack]);
    let oid = h.tws.placed()[0].order_id;
    h.tws.push(fake_tws::order_status(
        17,
        oid,
        "PendingCancel",
        0.0,
        100.0,
        0.0,
    ));
    // IB cancels, then reports a fill that happened just before.
    let fill = h.tws.with_script(|s| {
        let o = s.open_orders.remove(0);
        s.positions.push(("DU1234567".into(), o.con_id, 40.0));
        let f = fake_tws::FakeFill {
            exec_id: "0000f00d.1a7e0001.01.01".into(),
            client_id: o.client_id,
            order_id: oid,
            con_id: o.con_id,
            action: "BUY".into(),
            shares: 40.0,
            price: 150.0,
            cum_qty: 40.0,
            order_ref: o.order_ref,
        };
        s.fills.push(f.clone());
        fake_tws::execution(s, &f, -1)
    });
    // Its status already counts the fill; the execution itself comes after.
    h.tws.push(fake_tws::order_status(
        17,
        oid,
        "Cancelled",
        40.0,
        60.0,
        150.0,
    ));
    h.tws.push(fill);
    h.until("the late fill", |h| h.filled(id) == 40);
    h.settle(50);
    assert!(h.done(id), "{:?}", h.kinds(id));
    assert_eq!(h.venue.position(AAPL), 40);
    h.assert_reconciled();
}

#[test]
fn a_disconnect_mid_order_with_fills_during_it_applies_each_fill_once() {
    let mut h = Harness::started(OnPlace::Rest);
    let id = h.order(AAPL, Side::Buy, 100);
    h.until("the ack", |h| h.kinds(id) == [ExecKind::Ack]);
    let oid = h.tws.placed()[0].order_id;
    h.tws.fill(oid, 30.0, 150.0);
    h.until("the first fill", |h| h.filled(id) == 30);

    h.tws.disconnect();
    // While the link is down, IB fills 50 more; the fake holds them until asked.
    h.tws.fill(oid, 50.0, 149.5);
    h.until("the venue to go down", |h| {
        h.session.first() == Some(&(ExecKind::VenueDown, RejectReason::Disconnected))
    });
    h.until("the venue to come back", |h| {
        h.session.last() == Some(&(ExecKind::VenueUp, RejectReason::None))
    });
    assert!(h.tws.connections() >= 2);
    assert_eq!(
        h.filled(id),
        80,
        "the missed fill, applied by reconciliation"
    );
    assert_eq!(h.venue.ibkr_stats().missed_fills, 1);

    // The rest fills live.
    h.tws.fill(oid, 20.0, 149.0);
    h.until("the order's end", |h| h.done(id));
    assert_eq!(
        h.kinds(id),
        [
            ExecKind::Ack,
            ExecKind::Fill,
            ExecKind::Fill,
            ExecKind::Fill
        ]
    );
    h.assert_reconciled();
    assert_eq!(h.live(), 0);
}

#[test]
fn order_ids_never_roll_back_after_a_reconnect() {
    let mut h = Harness::started(OnPlace::Fill);
    for _ in 0..3 {
        let id = h.order(AAPL, Side::Buy, 1);
        h.until("a fill", |h| h.done(id));
    }
    let used = h.tws.placed().iter().map(|o| o.order_id).max().unwrap();
    // The Gateway restarts and says its next valid id is 1 again.
    h.tws
        .with_script(|s| s.next_valid_id_after_reconnect = Some(1));
    h.tws.disconnect();
    h.until("the venue to come back", |h| {
        h.session.last() == Some(&(ExecKind::VenueUp, RejectReason::None))
    });
    let id = h.order(MSFT, Side::Sell, 1);
    h.until("a fill", |h| h.done(id));
    let next = h.tws.placed().last().unwrap().order_id;
    assert!(next > used, "order id {next} after {used}: rolled back");
    h.assert_reconciled();
}

#[test]
fn a_restart_with_a_journal_starts_above_its_ids_when_the_gateway_rolls_back() {
    let dir = std::env::temp_dir().join(format!("tickpipe-ibkr-wire-ids-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut script = Script::paper(&["AAPL", "MSFT"]);
    script.on_place = OnPlace::Fill;
    script.next_valid_id = 500;
    // The Gateway restarted with the process: its next valid id is back to 1.
    script.next_valid_id_after_reconnect = Some(1);
    let journaled = |positions| IbkrSetup {
        journal: Some(dir.clone()),
        ..setup(positions)
    };
    let mut h = Harness::connect_with(script, journaled(Vec::new()));
    h.venue.reconcile(&[], &[]).expect("a clean account");
    for side in [Side::Buy, Side::Sell, Side::Buy] {
        let id = h.order(AAPL, side, 1);
        h.until("a fill", |h| h.done(id));
    }
    let used = h.tws.placed().iter().map(|o| o.order_id).max().unwrap();
    assert_eq!(used, 502);

    // The restart: a new connection (the fake announces 1) and a new venue on the same
    // journal directory, holding the position the last run ended with.
    let held = vec![(AAPL, h.venue.position(AAPL))];
    let wire = IbWire::connect(&config(&h.tws, "DU1234567"), false).expect("connects");
    h.venue = IbkrVenue::new(wire, journaled(held));
    h.venue
        .reconcile(&[], &[])
        .expect("reconciled with the last run's position");
    let id = h.order(MSFT, Side::Sell, 1);
    h.until("a fill", |h| h.done(id));
    let next = h.tws.placed().last().unwrap().order_id;
    assert_eq!(next, used + 1, "the journal's highest + 1, not IB's 1");
    h.assert_reconciled();
}

#[test]
fn an_order_we_did_not_send_at_start_up_refuses_to_start() {
    let mut script = Script::paper(&["AAPL", "MSFT"]);
    script.open_orders.push(FakeOrder {
        order_id: 9,
        client_id: 0,
        con_id: MSFT_CON,
        action: "BUY".into(),
        qty: 1.0,
        limit: 10.0,
        order_ref: "manual".into(),
        account: "DU1234567".into(),
        status: "PreSubmitted".into(),
        filled: 0.0,
    });
    let mut h = Harness::connect(script, Vec::new());
    let err = h.venue.reconcile(&[], &[]).unwrap_err().to_string();
    assert!(
        err.contains("order 9") && err.contains("\"manual\""),
        "{err}"
    );
    assert!(h.tws.placed().is_empty());
}

#[test]
fn a_position_mismatch_at_start_up_refuses_naming_the_symbol_and_both() {
    let mut script = Script::paper(&["AAPL", "MSFT"]);
    script.positions.push(("DU1234567".into(), AAPL_CON, 200.0));
    let mut h = Harness::connect(script.clone(), Vec::new());
    let err = h.venue.reconcile(&[], &[]).unwrap_err().to_string();
    assert!(
        err.contains("AAPL") && err.contains("ours 0") && err.contains("IB's 200"),
        "{err}"
    );
    // Starting where IB is, the same account passes.
    let mut h = Harness::connect(script, vec![(AAPL, 200)]);
    h.venue
        .reconcile(&[], &[])
        .expect("the account is what we hold");
}

#[test]
fn a_live_account_without_the_flag_or_an_unmanaged_one_is_refused_at_connect() {
    let mut script = Script::paper(&["AAPL", "MSFT"]);
    script.managed_accounts = vec!["U1234567".into()];
    let tws = FakeTws::start(script);
    let err = IbWire::connect(&config(&tws, "U1234567"), false)
        .err()
        .unwrap();
    assert!(matches!(err, WireError::Account(_)), "{err}");
    assert!(err.to_string().contains("--live-account"), "{err}");
    assert!(IbWire::connect(&config(&tws, "U1234567"), true).is_ok());
    let err = IbWire::connect(&config(&tws, "U7654321"), true)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("not among the server's managed accounts (U1234567)"),
        "{err}"
    );
    assert!(tws.placed().is_empty());
}
