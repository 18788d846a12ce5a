//! The venue against the scripted IB: each error of item 5, disconnects and
//! reconciliation (item 6), order-id rollback, and the start-up checks. Every order
//! report is applied to risk's own order manager, so "legal" means risk accepts it.

use std::collections::HashMap;

use super::*;
use crate::msg::{InFlightOrder, Price, Side, SymbolName, TimeInForce};
use crate::stages::risk::orders::LiveOrders;
use crate::venue::ibkr::events::{IbExecution, IbOpenOrder, IbStatus};
use crate::venue::ibkr::reconcile::Contract;
use crate::venue::ibkr::scripted::ScriptedIb;

const MS: u64 = 1_000_000;
const AAPL: SymbolId = SymbolId(0);
const MSFT: SymbolId = SymbolId(1);
const AAPL_CON: i32 = 265_598;
const MSFT_CON: i32 = 272_093;
const LIMIT: Price = Price(1_500_000);

fn setup() -> IbkrSetup {
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
        positions: Vec::new(),
        id_floor: 1,
        journal: None,
        unknown_order_deadline_ns: 50 * MS,
        end_of_session_deadline_ns: 1_000 * MS,
        backoff_base_ns: 10 * MS,
        backoff_cap_ns: 1_000 * MS,
        backoff_seed: 11,
    }
}

/// The venue, risk's order manager per symbol, and every report so far.
struct Harness {
    venue: IbkrVenue<ScriptedIb>,
    risk: HashMap<SymbolId, LiveOrders>,
    /// Order reports, in order.
    reports: Vec<ExecReport>,
    /// `VenueDown` / `VenueUp` / `EndOfSession`, in order.
    session: Vec<(ExecKind, RejectReason)>,
    ts: u64,
}

impl Harness {
    fn new(ib: ScriptedIb) -> Harness {
        Harness {
            venue: IbkrVenue::new(ib, setup()),
            risk: [AAPL, MSFT]
                .into_iter()
                .map(|s| (s, LiveOrders::new(s, 16)))
                .collect(),
            reports: Vec::new(),
            session: Vec::new(),
            ts: 1_000,
        }
    }

    fn started() -> Harness {
        let mut h = Harness::new(ScriptedIb::default());
        h.venue.reconcile(&[], &[]).expect("a clean account");
        h
    }

    fn ib(&mut self) -> &mut ScriptedIb {
        self.venue.connection_mut()
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

    fn buy(&mut self, symbol: SymbolId, qty: u32) -> ClOrdId {
        let order = self.risk.get_mut(&symbol).unwrap().open(
            Side::Buy,
            LIMIT,
            qty,
            TimeInForce::Day,
            self.ts,
        );
        let stamp = self.stamp();
        self.command(VenueCommand::New {
            stamp,
            order: OrderIntent {
                cl_ord_id: order.id,
                price: LIMIT,
                qty,
                symbol,
                side: Side::Buy,
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

    /// Polls `n` times (each advances the script's clock by its tick).
    fn poll(&mut self, n: usize) {
        for _ in 0..n {
            let mut out = Vec::new();
            self.venue.poll(&mut out);
            self.take(out);
        }
    }

    fn kinds(&self, id: ClOrdId) -> Vec<ExecKind> {
        self.reports
            .iter()
            .filter(|r| r.cl_ord_id == id)
            .map(|r| r.kind)
            .collect()
    }

    fn last(&self, id: ClOrdId) -> ExecReport {
        *self
            .reports
            .iter()
            .rev()
            .find(|r| r.cl_ord_id == id)
            .unwrap()
    }

    fn live(&self) -> usize {
        self.risk.values().map(LiveOrders::len).sum()
    }

    fn ib_id(&self, nth: usize) -> IbOrderId {
        self.venue.connection().placed[nth].order_id
    }
}

#[test]
fn an_order_is_placed_with_our_id_in_order_ref_and_filled_in_parts() {
    let mut h = Harness::started();
    let id = h.buy(AAPL, 100);
    let placed = h.venue.connection().placed[0].clone();
    assert_eq!(placed.order_ref, id.0.to_string());
    assert_eq!(
        (placed.con_id, placed.qty, placed.limit),
        (AAPL_CON, 100, LIMIT)
    );
    h.poll(1);
    h.ib().fill(placed.order_id, 40);
    h.ib().fill(placed.order_id, 60);
    h.poll(5);
    assert_eq!(h.kinds(id), [ExecKind::Ack, ExecKind::Fill, ExecKind::Fill]);
    assert_eq!(h.live(), 0);
    assert_eq!(h.venue.position(AAPL), 100);
    assert_eq!(h.venue.stats().fills, 2);
}

#[test]
fn error_201_rejects_with_ibs_text_kept_and_counted() {
    let mut h = Harness::started();
    let id = h.buy(AAPL, 100);
    h.ib().events.clear(); // IB rejects before it ever works the order
    let ib_id = h.ib_id(0);
    h.ib().say(IbEvent::Error(IbError {
        id: ib_id,
        code: 201,
        text: "Order rejected - reason: insufficient margin".into(),
    }));
    h.poll(2);
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
            .contains("insufficient margin")
    );
    assert_eq!(h.live(), 0);
}

#[test]
fn error_202_cancels() {
    let mut h = Harness::started();
    let id = h.buy(AAPL, 100);
    h.poll(2);
    let ib_id = h.ib_id(0);
    h.ib().say(IbEvent::Error(IbError {
        id: ib_id,
        code: 202,
        text: "Order Canceled - reason:".into(),
    }));
    h.poll(2);
    assert_eq!(h.kinds(id), [ExecKind::Ack, ExecKind::Cancelled]);
    assert_eq!(h.last(id).reason, RejectReason::Broker);
}

#[test]
fn error_103_resends_once_under_a_fresh_id_and_never_twice() {
    let mut h = Harness::started();
    h.ib().duplicate_ids = 1;
    let id = h.buy(AAPL, 100);
    h.poll(3);
    let placed = h.venue.connection().placed.clone();
    assert_eq!(placed.len(), 2, "one resend");
    assert!(placed[1].order_id > placed[0].order_id);
    assert_eq!(placed[1].order_ref, placed[0].order_ref);
    assert_eq!(h.kinds(id), [ExecKind::Ack]);
    assert_eq!(h.venue.ibkr_stats().duplicate_id_resends, 1);

    // Twice in a row: rejected after the one resend.
    h.ib().duplicate_ids = 2;
    let id = h.buy(MSFT, 10);
    h.poll(4);
    assert_eq!(h.venue.connection().placed.len(), 4);
    let r = h.last(id);
    assert_eq!(
        (r.kind, r.reason),
        (ExecKind::Rejected, RejectReason::DuplicateId)
    );
    assert_eq!(h.venue.stats().rejects.duplicate_id, 1);
}

#[test]
fn errors_10147_and_10148_refuse_a_cancel_risk_asked_for() {
    for code in [10147, 10148] {
        let mut h = Harness::started();
        let id = h.buy(AAPL, 100);
        h.poll(2);
        h.ib().connected = false; // the cancel does not get there...
        h.cancel(id);
        h.ib().connected = true;
        let ib_id = h.ib_id(0);
        h.ib().say(IbEvent::Error(IbError {
            id: ib_id,
            code,
            text: "cannot be cancelled".into(),
        }));
        h.poll(2);
        assert_eq!(
            h.kinds(id),
            [ExecKind::Ack, ExecKind::CancelRejected],
            "{code}"
        );
        assert_eq!(h.live(), 1, "the order is still live");
    }
}

#[test]
fn a_cancel_confirmed_by_ib_ends_the_order_as_requested() {
    let mut h = Harness::started();
    let id = h.buy(AAPL, 100);
    h.poll(2);
    let ib_id = h.ib_id(0);
    h.ib().fill(ib_id, 30);
    h.poll(2);
    h.cancel(id);
    h.poll(3);
    assert_eq!(
        h.kinds(id),
        [ExecKind::Ack, ExecKind::Fill, ExecKind::Cancelled]
    );
    assert_eq!(h.last(id).reason, RejectReason::Requested);
    assert_eq!(h.venue.connection().cancels, [ib_id]);
}

#[test]
fn connectivity_codes_take_the_venue_down_and_back_through_reconciliation() {
    let mut h = Harness::started();
    for (lost, restored) in [(1100, 1102), (2110, 1101)] {
        h.ib().say(IbEvent::Error(IbError {
            id: -1,
            code: lost,
            text: "Connectivity between IB and TWS has been lost".into(),
        }));
        h.poll(1);
        assert_eq!(
            h.session.last(),
            Some(&(ExecKind::VenueDown, RejectReason::Disconnected))
        );
        assert!(!h.venue.is_up());
        // A New risk sent before it heard: refused here, never sent to IB.
        let id = h.buy(MSFT, 5);
        assert_eq!(h.last(id).reason, RejectReason::Disconnected);
        let before = h.venue.ibkr_stats().reconciliations;
        h.ib().say(IbEvent::Error(IbError {
            id: -1,
            code: restored,
            text: "Connectivity between IB and TWS has been restored".into(),
        }));
        h.poll(1);
        assert_eq!(
            h.session.last(),
            Some(&(ExecKind::VenueUp, RejectReason::None))
        );
        assert_eq!(h.venue.ibkr_stats().reconciliations, before + 1);
        assert!(h.venue.is_up());
    }
}

#[test]
fn data_farm_codes_are_counted_and_informational_ones_ignored() {
    let mut h = Harness::started();
    for code in [2103, 2105, 2157, 2104, 2106, 2158] {
        h.ib().say(IbEvent::Error(IbError {
            id: -1,
            code,
            text: "farm".into(),
        }));
    }
    h.poll(6);
    let stats = h.venue.ibkr_stats();
    assert_eq!((stats.data_farm_down, stats.informational), (3, 3));
    assert!(h.session.is_empty() && h.venue.is_up());
}

#[test]
fn a_disconnect_mid_order_with_fills_during_it_applies_each_fill_once() {
    let mut h = Harness::started();
    let id = h.buy(AAPL, 100);
    h.poll(2);
    let ib_id = h.ib_id(0);
    h.ib().fill(ib_id, 30);
    h.poll(2);
    h.ib().drop_link();
    h.ib().reachable = false;
    // While down: two more fills IB records but cannot tell us.
    let missed = [h.ib().fill(ib_id, 50), h.ib().fill(ib_id, 20)];
    h.poll(3);
    assert_eq!(
        h.session,
        [(ExecKind::VenueDown, RejectReason::Disconnected)]
    );
    // Backoff: a few failed attempts, then IB is reachable again.
    h.poll(100);
    let attempts = h.venue.ibkr_stats().reconnect_attempts;
    assert!(attempts >= 2, "{attempts}");
    h.ib().reachable = true;
    h.poll(1_000);
    assert_eq!(
        h.session.last(),
        Some(&(ExecKind::VenueUp, RejectReason::None))
    );
    assert_eq!(
        h.kinds(id),
        [
            ExecKind::Ack,
            ExecKind::Fill,
            ExecKind::Fill,
            ExecKind::Fill
        ]
    );
    assert_eq!(h.venue.ibkr_stats().missed_fills, 2);
    // IB repeats them on the stream after all: nothing changes.
    for e in missed {
        h.ib().say(IbEvent::Execution(e));
    }
    h.poll(3);
    assert_eq!(h.kinds(id).len(), 4);
    assert_eq!(h.venue.position(AAPL), 100);
    assert_eq!(h.live(), 0);
}

#[test]
fn reconnect_backoff_has_deterministic_jitter() {
    let schedule = || {
        let mut h = Harness::started();
        h.ib().drop_link();
        h.ib().reachable = false;
        let mut at = Vec::new();
        let mut seen = 0;
        for _ in 0..3_000 {
            h.poll(1);
            let n = h.venue.connection().reconnects;
            if n != seen {
                seen = n;
                at.push(h.venue.connection().now);
            }
        }
        at
    };
    let a = schedule();
    assert!(a.len() >= 5, "{a:?}");
    assert_eq!(a, schedule());
    // Growing gaps: exponential backoff.
    assert!(a[4] - a[3] > a[1] - a[0], "{a:?}");
}

#[test]
fn order_ids_never_roll_back_after_a_reconnect() {
    let mut h = Harness::started();
    h.ib().next_valid = 1_000;
    h.ib().say(IbEvent::NextValidId(1_000));
    h.poll(1);
    h.buy(AAPL, 1);
    h.buy(AAPL, 1);
    assert_eq!((h.ib_id(0), h.ib_id(1)), (1_000, 1_001));
    // A Gateway restart: the server's next id goes back to 1.
    h.ib().drop_link();
    h.ib().next_valid = 1;
    h.poll(200);
    assert!(h.venue.is_up());
    h.buy(MSFT, 1);
    assert_eq!(h.ib_id(2), 1_002);
}

#[test]
fn our_order_ib_does_not_know_stays_in_flight_until_the_deadline_then_is_resolved() {
    let mut h = Harness::started();
    h.ib().connected = false; // the New never gets there
    let id = h.buy(AAPL, 100);
    assert_eq!(
        h.session,
        [(ExecKind::VenueDown, RejectReason::Disconnected)]
    );
    h.poll(30); // reconnects (first backoff ≤ 10 ms) and finds it unknown
    assert!(h.venue.connection().snapshots >= 1);
    assert_eq!(h.live(), 1, "still in flight before the deadline");
    assert!(!h.venue.is_up());
    h.poll(60);
    let r = h.last(id);
    assert_eq!(
        (r.kind, r.reason),
        (ExecKind::Rejected, RejectReason::UnknownOrder)
    );
    assert_eq!(h.venue.ibkr_stats().unknown_resolved, 1);
    assert_eq!(
        h.session.last(),
        Some(&(ExecKind::VenueUp, RejectReason::None))
    );
}

#[test]
fn an_order_we_did_not_send_halts_on_reconnect() {
    let mut h = Harness::started();
    h.ib().foreign.push(IbOpenOrder {
        order_id: 77,
        order_ref: String::new(),
        con_id: AAPL_CON,
        side: Side::Sell,
        qty: 500,
        limit: Some(LIMIT),
        status: IbStatus::Submitted,
    });
    h.ib().drop_link();
    h.poll(100);
    assert_eq!(
        h.session.last(),
        Some(&(ExecKind::VenueDown, RejectReason::Reconciliation))
    );
    assert!(!h.venue.is_up());
    let halt = h.venue.ibkr_stats().halt.clone().unwrap();
    assert!(
        halt.contains("order 77") && halt.contains("someone else"),
        "{halt}"
    );
}

#[test]
fn a_position_mismatch_on_reconnect_halts_naming_the_symbol_and_both() {
    let mut h = Harness::started();
    h.ib().positions.insert(MSFT_CON, -300);
    h.ib().drop_link();
    h.poll(100);
    assert_eq!(
        h.session.last(),
        Some(&(ExecKind::VenueDown, RejectReason::Reconciliation))
    );
    let halt = h.venue.ibkr_stats().halt.clone().unwrap();
    assert!(
        halt.contains("MSFT") && halt.contains("ours 0") && halt.contains("IB's -300"),
        "{halt}"
    );
}

#[test]
fn start_up_refuses_an_unknown_order_or_a_position_mismatch() {
    let mut ib = ScriptedIb::default();
    ib.foreign.push(IbOpenOrder {
        order_id: 9,
        order_ref: "manual".into(),
        con_id: MSFT_CON,
        side: Side::Buy,
        qty: 1,
        limit: None,
        status: IbStatus::PreSubmitted,
    });
    let err = Harness::new(ib)
        .venue
        .reconcile(&[], &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("order 9") && err.contains("\"manual\""),
        "{err}"
    );

    let mut ib = ScriptedIb::default();
    ib.positions.insert(AAPL_CON, 200);
    let err = Harness::new(ib)
        .venue
        .reconcile(&[], &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("AAPL") && err.contains("ours 0") && err.contains("IB's 200"),
        "{err}"
    );

    // Where we start is what the setup says: then the same account passes.
    let mut ib = ScriptedIb::default();
    ib.positions.insert(AAPL_CON, 200);
    let mut venue = IbkrVenue::new(
        ib,
        IbkrSetup {
            positions: vec![(AAPL, 200)],
            ..setup()
        },
    );
    venue
        .reconcile(&[], &[])
        .expect("the account is what we hold");
}

#[test]
fn without_a_journal_start_up_runs_before_the_first_order_and_halts_instead() {
    let mut ib = ScriptedIb::default();
    ib.positions.insert(AAPL_CON, 5);
    let mut h = Harness::new(ib);
    let id = h.buy(AAPL, 10);
    assert_eq!(h.venue.connection().snapshots, 1);
    assert!(h.venue.connection().placed.is_empty(), "nothing goes out");
    assert_eq!(h.last(id).reason, RejectReason::Disconnected);
    assert_eq!(
        h.session,
        [(ExecKind::VenueDown, RejectReason::Reconciliation)]
    );
}

/// A past session's order of 100 AAPL, as its journal last saw it.
fn in_flight(seq: u64, acked: bool, filled: u32) -> InFlightOrder {
    InFlightOrder {
        order: OrderIntent {
            cl_ord_id: ClOrdId::new(AAPL, seq),
            price: LIMIT,
            qty: 100,
            symbol: AAPL,
            side: Side::Buy,
            tif: TimeInForce::Day,
        },
        stamp: Stamp {
            ts_recv: 5,
            ts_event: 5,
        },
        acked,
        filled,
    }
}

fn execution(id: ClOrdId, ib_id: IbOrderId, exec: &str, shares: u32, cum_qty: u32) -> IbExecution {
    IbExecution {
        exec_id: exec.into(),
        order_id: ib_id,
        order_ref: id.0.to_string(),
        con_id: AAPL_CON,
        side: Side::Buy,
        shares,
        price: LIMIT,
        cum_qty,
        time: String::new(),
    }
}

/// The venue resumed with `in_flight` and the journal's fills holding `held` AAPL,
/// and the reports it owes at once.
fn resumed(
    ib: ScriptedIb,
    held: i64,
    in_flight: &[InFlightOrder],
) -> (IbkrVenue<ScriptedIb>, Result<Vec<ExecReport>, String>) {
    let mut venue = IbkrVenue::new(ib, setup());
    let settled = venue
        .reconcile(in_flight, &[(AAPL, held)])
        .map_err(|e| e.to_string());
    let mut out = Vec::new();
    venue.poll(&mut out);
    (venue, settled.map(|()| out))
}

#[test]
fn an_order_in_flight_across_a_restart_gets_only_the_fills_the_journal_lacks() {
    // The journal applied the first 10 shares; IB filled 15 more while we were down,
    // and the rest of the order still works at IB.
    let ours = ClOrdId::new(AAPL, 3);
    let mut ib = ScriptedIb::default();
    ib.executions = vec![
        execution(ours, 4, "0001.01.01", 10, 10),
        execution(ours, 4, "0001.02.01", 15, 25),
    ];
    ib.foreign.push(IbOpenOrder {
        order_id: 4,
        order_ref: ours.0.to_string(),
        con_id: AAPL_CON,
        side: Side::Buy,
        qty: 100,
        limit: Some(LIMIT),
        status: IbStatus::Submitted,
    });
    ib.positions.insert(AAPL_CON, 25);
    let (venue, out) = resumed(ib, 10, &[in_flight(3, true, 10)]);
    let out = out.expect("settled");
    let fills: Vec<(ExecKind, u32, u32)> = out
        .iter()
        .filter(|r| r.cl_ord_id == ours)
        .map(|r| (r.kind, r.qty, r.leaves))
        .collect();
    assert_eq!(
        fills,
        [(ExecKind::Fill, 15, 75)],
        "no second Ack, no refill"
    );
    assert_eq!(venue.position(AAPL), 25);
    assert_eq!(venue.ibkr_stats().missed_fills, 1);
    assert!(venue.is_up());
}

#[test]
fn an_order_in_flight_that_ib_does_not_show_ends_rejected_as_unknown() {
    let ours = ClOrdId::new(AAPL, 3);
    let (venue, out) = resumed(ScriptedIb::default(), 0, &[in_flight(3, false, 0)]);
    let out = out.expect("settled");
    let ends: Vec<(ExecKind, RejectReason)> = out
        .iter()
        .filter(|r| r.cl_ord_id == ours)
        .map(|r| (r.kind, r.reason))
        .collect();
    assert_eq!(ends, [(ExecKind::Rejected, RejectReason::UnknownOrder)]);
    assert_eq!(venue.ibkr_stats().unknown_resolved, 1);
}

#[test]
fn an_order_in_flight_whose_journaled_fills_ib_cannot_make_up_refuses_the_start() {
    let ours = ClOrdId::new(AAPL, 3);
    let mut ib = ScriptedIb::default();
    ib.executions = vec![execution(ours, 4, "0001.01.01", 10, 10)];
    ib.positions.insert(AAPL_CON, 10);
    let (_, out) = resumed(ib, 30, &[in_flight(3, true, 30)]);
    let err = out.unwrap_err();
    assert!(
        err.contains("0-3") && err.contains("applied 30 shares") && err.contains("make 10"),
        "{err}"
    );
}

#[test]
fn the_end_of_session_cancels_what_rests_and_waits_for_ib() {
    let mut h = Harness::started();
    let id = h.buy(AAPL, 100);
    h.poll(2);
    let stamp = h.stamp();
    h.command(VenueCommand::EndOfSession { stamp });
    assert!(h.session.is_empty(), "not before IB confirms");
    h.poll(3);
    assert_eq!(h.kinds(id), [ExecKind::Ack, ExecKind::Cancelled]);
    assert_eq!(h.session, [(ExecKind::EndOfSession, RejectReason::None)]);
    assert_eq!(h.live(), 0);
}

#[test]
fn an_execution_we_did_not_send_on_our_contract_halts() {
    let mut h = Harness::started();
    h.ib().say(IbEvent::Execution(IbExecution {
        exec_id: "manual.1".into(),
        order_id: 0,
        order_ref: String::new(),
        con_id: MSFT_CON,
        side: Side::Sell,
        shares: 25,
        price: LIMIT,
        cum_qty: 25,
        time: String::new(),
    }));
    h.poll(1);
    assert_eq!(
        h.session,
        [(ExecKind::VenueDown, RejectReason::Reconciliation)]
    );
    let halt = h.venue.ibkr_stats().halt.clone().unwrap();
    assert!(
        halt.contains("MSFT") && halt.contains("25 shares"),
        "{halt}"
    );
}

fn journal_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tickpipe-venue-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_restart_with_a_journal_starts_above_the_ids_the_last_run_used() {
    let dir = journal_dir("restart");
    let journaled = || IbkrSetup {
        journal: Some(dir.clone()),
        ..setup()
    };
    let mut ib = ScriptedIb::default();
    ib.next_valid = 1_000;
    let mut h = Harness::new(ScriptedIb::default());
    h.venue = IbkrVenue::new(ib, journaled());
    h.venue.reconcile(&[], &[]).expect("a clean account");
    h.buy(AAPL, 1);
    h.buy(AAPL, 1);
    assert_eq!((h.ib_id(0), h.ib_id(1)), (1_000, 1_001));
    let kept = std::fs::read_to_string(dir.join(crate::venue::ibkr::id_log::FILE)).unwrap();
    assert_eq!(kept.trim(), "1001");

    // The process restarts, and so did the Gateway: its next valid id is 1 again.
    let mut h = Harness::new(ScriptedIb::default());
    h.venue = IbkrVenue::new(ScriptedIb::default(), journaled());
    h.venue.reconcile(&[], &[]).expect("a clean account");
    h.buy(MSFT, 1);
    assert_eq!(h.ib_id(0), 1_002);
    // Without a journal the same restart takes the server's word.
    let mut h = Harness::started();
    h.buy(MSFT, 1);
    assert_eq!(h.ib_id(0), 1);
}

#[test]
fn an_id_log_that_cannot_be_read_refuses_the_start() {
    let dir = journal_dir("torn");
    std::fs::write(dir.join(crate::venue::ibkr::id_log::FILE), "garbage").unwrap();
    let mut venue = IbkrVenue::new(
        ScriptedIb::default(),
        IbkrSetup {
            journal: Some(dir.clone()),
            ..setup()
        },
    );
    let err = venue.reconcile(&[], &[]).unwrap_err().to_string();
    assert!(
        err.contains("ibkr-order-ids") && err.contains("garbage"),
        "{err}"
    );
}
