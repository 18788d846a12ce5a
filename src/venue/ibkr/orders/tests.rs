//! The state machine against every message order IB may use (issue #11, item 4): each
//! scripted case, then a property test that permutes and repeats an order's messages.
//! Every report is checked by risk's own order manager, so "legal" means what risk
//! will accept.

use proptest::prelude::*;

use super::*;
use crate::stages::risk::orders::LiveOrders;

const QTY: u32 = 100;
const IB_ID: IbOrderId = 7;
const LIMIT: Price = Price(1_000_000);

fn placed() -> (Book, LiveOrders) {
    let mut risk = LiveOrders::new(SymbolId(0), 4);
    let order = risk.open(Side::Buy, LIMIT, QTY, TimeInForce::Day, 0);
    let intent = OrderIntent {
        cl_ord_id: order.id,
        price: LIMIT,
        qty: QTY,
        symbol: SymbolId(0),
        side: Side::Buy,
        tif: TimeInForce::Day,
    };
    let mut book = Book::new(&[]);
    book.open(&intent, Stamp::default(), IB_ID, 265_598, 0);
    (book, risk)
}

#[derive(Clone, Debug)]
enum Msg {
    Status(IbStatus, u32),
    Open(IbStatus),
    Exec(u32, u32), // execId number, shares
}

fn feed(book: &mut Book, msg: &Msg, out: &mut Vec<ExecReport>) {
    match *msg {
        Msg::Status(status, filled) => book.on_status(
            &IbOrderStatus {
                order_id: IB_ID,
                status,
                filled,
                remaining: QTY - filled,
                avg_price: None,
            },
            out,
        ),
        Msg::Open(status) => {
            book.on_open_order(
                &IbOpenOrder {
                    order_id: IB_ID,
                    order_ref: ClOrdId::new(SymbolId(0), 1).0.to_string(),
                    con_id: 265_598,
                    side: Side::Buy,
                    qty: QTY,
                    limit: Some(LIMIT),
                    status,
                },
                out,
            );
        }
        Msg::Exec(n, shares) => {
            book.on_execution(
                &IbExecution {
                    exec_id: format!("0001f4e8.{n}.01"),
                    order_id: IB_ID,
                    order_ref: ClOrdId::new(SymbolId(0), 1).0.to_string(),
                    con_id: 265_598,
                    side: Side::Buy,
                    shares,
                    price: LIMIT,
                    cum_qty: 0,
                    time: String::new(),
                },
                out,
            );
        }
    }
}

/// Runs `msgs`; returns every report, each applied to risk's order manager (a refusal
/// fails the test), and whether risk's order has ended.
fn run(msgs: &[Msg]) -> (Vec<ExecReport>, bool) {
    let (mut book, mut risk) = placed();
    let mut out = Vec::new();
    for m in msgs {
        feed(&mut book, m, &mut out);
    }
    for r in &out {
        risk.apply(r)
            .unwrap_or_else(|p| panic!("risk refused {r:?}: {p} after {out:?}"));
    }
    (out, risk.is_empty())
}

fn finals(out: &[ExecReport]) -> Vec<ExecKind> {
    out.iter()
        .filter(|r| {
            matches!(r.kind, ExecKind::Cancelled | ExecKind::Rejected)
                || (r.kind == ExecKind::Fill && r.leaves == 0)
        })
        .map(|r| r.kind)
        .collect()
}

fn filled(out: &[ExecReport]) -> u32 {
    out.iter()
        .filter(|r| r.kind == ExecKind::Fill)
        .map(|r| r.qty)
        .sum()
}

use IbStatus::*;

#[test]
fn status_open_order_and_execution_in_any_order_fill_once() {
    let msgs = [
        Msg::Status(Submitted, 0),
        Msg::Open(Submitted),
        Msg::Exec(1, QTY),
    ];
    for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]] {
        let script: Vec<Msg> = order.iter().map(|&i| msgs[i].clone()).collect();
        let (out, ended) = run(&script);
        assert!(ended, "{script:?}");
        assert_eq!(filled(&out), QTY);
        assert_eq!(finals(&out), [ExecKind::Fill]);
    }
}

#[test]
fn duplicates_change_nothing() {
    let (out, ended) = run(&[
        Msg::Status(Submitted, 0),
        Msg::Status(Submitted, 0),
        Msg::Exec(1, 40),
        Msg::Exec(1, 40),
        Msg::Status(Submitted, 40),
        Msg::Exec(2, 60),
        Msg::Status(Filled, 100),
        Msg::Exec(2, 60),
        Msg::Status(Filled, 100),
    ]);
    assert!(ended);
    assert_eq!(filled(&out), QTY);
    assert_eq!(out.iter().filter(|r| r.kind == ExecKind::Ack).count(), 1);
}

#[test]
fn a_correction_is_not_a_second_fill() {
    let (mut book, _) = placed();
    let mut out = Vec::new();
    feed(&mut book, &Msg::Exec(1, 30), &mut out);
    let mut corrected = IbExecution {
        exec_id: "0001f4e8.1.02".into(),
        order_id: IB_ID,
        order_ref: String::new(),
        con_id: 265_598,
        side: Side::Buy,
        shares: 30,
        price: LIMIT,
        cum_qty: 30,
        time: String::new(),
    };
    assert_eq!(
        book.on_execution(&corrected, &mut out),
        ExecOutcome::Duplicate
    );
    corrected.exec_id = "0001f4e8.2.01".into();
    assert_eq!(
        book.on_execution(&corrected, &mut out),
        ExecOutcome::Applied
    );
    assert_eq!(book.counts.corrections, 1);
    assert_eq!(book.position(SymbolId(0)), 60);
}

#[test]
fn a_fast_fill_without_submitted_fills_directly() {
    let (out, ended) = run(&[
        Msg::Status(PendingSubmit, 0),
        Msg::Exec(1, QTY),
        Msg::Status(Filled, 100),
    ]);
    assert!(ended);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].kind, out[0].leaves), (ExecKind::Fill, 0));
}

#[test]
fn a_fast_partial_fill_is_acknowledged_first() {
    let (out, ended) = run(&[Msg::Exec(1, 30)]);
    assert!(!ended);
    assert_eq!(
        out.iter().map(|r| r.kind).collect::<Vec<_>>(),
        [ExecKind::Ack, ExecKind::Fill]
    );
}

#[test]
fn a_fill_after_cancelled_is_booked_before_the_cancel() {
    let (out, ended) = run(&[
        Msg::Status(Submitted, 0),
        Msg::Status(Cancelled, 30),
        Msg::Exec(1, 30),
    ]);
    assert!(ended);
    let kinds: Vec<ExecKind> = out.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [ExecKind::Ack, ExecKind::Fill, ExecKind::Cancelled]);
    assert_eq!(out[2].reason, RejectReason::Broker);
}

#[test]
fn pending_cancel_then_cancelled_and_api_cancelled_and_inactive_end_once() {
    let (out, ended) = run(&[
        Msg::Status(Submitted, 0),
        Msg::Status(PendingCancel, 0),
        Msg::Status(Cancelled, 0),
        Msg::Status(Cancelled, 0),
    ]);
    assert!(ended);
    assert_eq!(finals(&out), [ExecKind::Cancelled]);

    let (out, ended) = run(&[Msg::Status(ApiCancelled, 0), Msg::Status(Submitted, 0)]);
    assert!(ended);
    assert_eq!(
        out.iter().map(|r| r.kind).collect::<Vec<_>>(),
        [ExecKind::Cancelled]
    );

    // Inactive before any ack: a reject; after one: a cancel (risk takes no reject then).
    let (out, ended) = run(&[Msg::Status(Inactive, 0)]);
    assert!(ended);
    assert_eq!(
        (out[0].kind, out[0].reason),
        (ExecKind::Rejected, RejectReason::Broker)
    );
    let (out, ended) = run(&[Msg::Status(PreSubmitted, 0), Msg::Status(Inactive, 0)]);
    assert!(ended);
    assert_eq!(finals(&out), [ExecKind::Cancelled]);
}

#[test]
fn a_partial_fill_then_a_cancel() {
    let (out, ended) = run(&[
        Msg::Status(Submitted, 0),
        Msg::Exec(1, 25),
        Msg::Status(Submitted, 25),
        Msg::Status(PendingCancel, 25),
        Msg::Status(Cancelled, 25),
    ]);
    assert!(ended);
    assert_eq!(filled(&out), 25);
    assert_eq!(finals(&out), [ExecKind::Cancelled]);
}

#[test]
fn positions_follow_executions_not_status_counts() {
    let (mut book, _) = placed();
    let mut out = Vec::new();
    feed(&mut book, &Msg::Status(Submitted, 80), &mut out);
    assert_eq!(book.position(SymbolId(0)), 0);
    feed(&mut book, &Msg::Exec(1, 30), &mut out);
    feed(&mut book, &Msg::Exec(1, 30), &mut out);
    assert_eq!(book.position(SymbolId(0)), 30);
}

/// One order's messages as IB could send them: some executions, the statuses around
/// them, and its end (filled, or cancelled with what was filled).
fn script() -> impl Strategy<Value = (Vec<Msg>, u32, bool)> {
    (
        prop::collection::vec(1u32..=33, 0..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mut fills, fill_all, open)| {
            let mut sum: u32 = fills.iter().sum();
            if fill_all && sum < QTY {
                fills.push(QTY - sum);
                sum = QTY;
            }
            let mut msgs = vec![Msg::Status(PendingSubmit, 0), Msg::Status(Submitted, 0)];
            if open {
                msgs.push(Msg::Open(Submitted));
            }
            let mut cum = 0;
            for (n, &shares) in fills.iter().enumerate() {
                cum += shares;
                msgs.push(Msg::Exec(n as u32, shares));
                msgs.push(Msg::Status(
                    if cum == QTY { Filled } else { Submitted },
                    cum,
                ));
            }
            if sum < QTY {
                msgs.push(Msg::Status(PendingCancel, sum));
                msgs.push(Msg::Status(Cancelled, sum));
            }
            (msgs, sum, sum == QTY)
        })
}

proptest! {
    #[test]
    fn any_permutation_with_duplicates_fills_exactly_once_and_ends_once(
        (msgs, sum, all) in script(),
        order in any::<prop::sample::Index>(),
        repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        seed in any::<u64>(),
    ) {
        let mut msgs = msgs;
        for r in &repeats {
            let m = msgs[r.index(msgs.len())].clone();
            msgs.push(m);
        }
        // A deterministic shuffle from the seed (Fisher-Yates over SplitMix-style steps).
        let mut state = seed ^ order.index(usize::MAX) as u64;
        for i in (1..msgs.len()).rev() {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let j = (state >> 33) as usize % (i + 1);
            msgs.swap(i, j);
        }
        let (out, ended) = run(&msgs);
        prop_assert!(ended, "{msgs:?} → {out:?}");
        prop_assert_eq!(filled(&out), sum);
        let expected = if all { ExecKind::Fill } else { ExecKind::Cancelled };
        prop_assert_eq!(finals(&out), vec![expected]);
        prop_assert!(out.iter().filter(|r| r.kind == ExecKind::Ack).count() <= 1);
    }
}

#[test]
fn another_clients_order_with_our_ib_id_is_not_ours() {
    // Each shard is an IB client of its own, so another shard's order can carry our IB
    // id: its orderRef (another shard's ClOrdId) decides.
    let (mut book, _) = placed();
    let mut out = Vec::new();
    let theirs = IbExecution {
        exec_id: "0001f4e8.9.01".into(),
        order_id: IB_ID,
        order_ref: ClOrdId::new(SymbolId(3), 1).0.to_string(),
        con_id: 4391,
        side: Side::Sell,
        shares: 10,
        price: LIMIT,
        cum_qty: 10,
        time: String::new(),
    };
    assert_eq!(book.on_execution(&theirs, &mut out), ExecOutcome::NotOurs);
    assert_eq!(book.find(IB_ID, "manual order"), None);
    assert_eq!((out.len(), book.position(SymbolId(0))), (0, 0));
    // Ours by reference whatever the id (renumbered after 103), by id with no reference.
    let ours = ClOrdId::new(SymbolId(0), 1);
    assert_eq!(book.find(IB_ID + 1, &ours.0.to_string()), Some(ours));
    assert_eq!(book.find(IB_ID, ""), Some(ours));
}

#[test]
fn an_execution_of_a_past_sessions_finished_order_is_history_not_someone_elses() {
    let (mut book, _) = placed();
    let past = IbExecution {
        exec_id: "0001f4e8.77.01".into(),
        order_id: 3,
        order_ref: ClOrdId::new(SymbolId(0), 99).0.to_string(),
        con_id: 265_598,
        side: Side::Buy,
        shares: 10,
        price: LIMIT,
        cum_qty: 10,
        time: String::new(),
    };
    let mut out = Vec::new();
    assert_eq!(book.on_execution(&past, &mut out), ExecOutcome::NotOurs);
    book.before_start(&past);
    assert_eq!(book.on_execution(&past, &mut out), ExecOutcome::Duplicate);
    assert_eq!((out.len(), book.position(SymbolId(0))), (0, 0));
}
