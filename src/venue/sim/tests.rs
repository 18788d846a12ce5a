//! Scripted command streams, one rule each.

use super::*;
use crate::merge::Merge;
use crate::msg::{
    ClOrdId, ExecKind, MarketView, OrderIntent, Price, RejectReason, Side, SymbolId, TimeInForce,
    TradingStatus, ViewCause,
};

/// Latency of every scripted venue.
const L: u64 = 10;

fn venue() -> SimVenue {
    let config = SimConfig {
        kind: "sim".into(),
        latency_ns: L,
    };
    SimVenue::new(2, &config, 16)
}

fn cents(c: i64) -> Price {
    Price(c * 100)
}

fn id(seq: u64) -> ClOrdId {
    ClOrdId::new(SymbolId(0), seq)
}

/// A stamp whose `ts_recv` tells which command made it.
fn stamp(t: u64) -> Stamp {
    Stamp {
        ts_recv: 1_000_000 + t,
        ts_event: t,
    }
}

/// A two-sided trading quote for symbol 0.
fn quote(t: u64, bid: i64, bid_qty: u32, ask: i64, ask_qty: u32) -> MarketView {
    MarketView {
        stamp: stamp(t),
        bid_px: cents(bid),
        ask_px: cents(ask),
        print_px: Price::ZERO,
        bid_qty,
        ask_qty,
        print_qty: 0,
        symbol: SymbolId(0),
        cause: ViewCause::Quote,
        status: TradingStatus::Trading,
        match_number: 0,
    }
}

fn tick(view: MarketView) -> VenueCommand {
    VenueCommand::Tick { view }
}

/// `view` with a print.
fn printed(mut view: MarketView, cause: ViewCause, px: i64, qty: u32) -> MarketView {
    view.cause = cause;
    view.print_px = cents(px);
    view.print_qty = qty;
    view
}

fn order(t: u64, seq: u64, side: Side, px: i64, qty: u32, tif: TimeInForce) -> VenueCommand {
    VenueCommand::New {
        stamp: stamp(t),
        order: OrderIntent {
            cl_ord_id: id(seq),
            price: cents(px),
            qty,
            symbol: SymbolId(0),
            side,
            tif,
        },
    }
}

fn buy(t: u64, seq: u64, px: i64, qty: u32) -> VenueCommand {
    order(t, seq, Side::Buy, px, qty, TimeInForce::Day)
}

fn sell(t: u64, seq: u64, px: i64, qty: u32) -> VenueCommand {
    order(t, seq, Side::Sell, px, qty, TimeInForce::Day)
}

fn cancel(t: u64, seq: u64) -> VenueCommand {
    VenueCommand::Cancel {
        stamp: stamp(t),
        cl_ord_id: id(seq),
    }
}

fn watermark(t: u64) -> VenueCommand {
    VenueCommand::Watermark { stamp: stamp(t) }
}

fn end(t: u64) -> VenueCommand {
    VenueCommand::EndOfSession { stamp: stamp(t) }
}

fn run(venue: &mut SimVenue, cmds: impl IntoIterator<Item = VenueCommand>) -> Vec<ExecReport> {
    let mut out = Vec::new();
    for cmd in cmds {
        venue.on_command(cmd, &mut out);
    }
    out
}

/// What a test checks of a report: (ts_event, kind, order seq, price in cents, qty,
/// leaves, reason).
type Brief = (u64, ExecKind, u64, i64, u32, u32, RejectReason);

fn brief(reports: &[ExecReport]) -> Vec<Brief> {
    reports
        .iter()
        .map(|r| {
            (
                r.stamp.ts_event,
                r.kind,
                r.cl_ord_id.seq(),
                r.price.0 / 100,
                r.qty,
                r.leaves,
                r.reason,
            )
        })
        .collect()
}

use ExecKind::{Ack, Cancelled, EndOfSession, Fill, Rejected, Watermark};
use RejectReason::None as Ok_;

fn ack(ts: u64, seq: u64, qty: u32) -> Brief {
    (ts, Ack, seq, 0, 0, qty, Ok_)
}

fn fill(ts: u64, seq: u64, px: i64, qty: u32, leaves: u32) -> Brief {
    (ts, Fill, seq, px, qty, leaves, Ok_)
}

fn cancelled(ts: u64, seq: u64, reason: RejectReason) -> Brief {
    (ts, Cancelled, seq, 0, 0, 0, reason)
}

fn marker(ts: u64, kind: ExecKind) -> Brief {
    (ts, kind, 0, 0, 0, 0, Ok_)
}

#[test]
fn an_order_arrives_after_the_latency_and_is_answered_after_it_again() {
    let mut v = venue();
    let early = run(
        &mut v,
        [tick(quote(0, 99, 100, 101, 100)), buy(100, 1, 100, 10)],
    );
    assert!(early.is_empty());
    // The arrival at 110 is pending until an item after 110.
    assert_eq!(
        brief(&run(&mut v, [watermark(110)])),
        [marker(120, Watermark)]
    );
    assert_eq!(
        brief(&run(&mut v, [watermark(111)])),
        [ack(120, 1, 10), marker(121, Watermark)]
    );
}

#[test]
fn an_arrival_sees_ticks_up_to_and_including_its_time() {
    // Tie: the tick at 110 comes before the arrival at 110, which buys its ask.
    let mut v = venue();
    let out = run(
        &mut v,
        [
            tick(quote(0, 99, 100, 102, 100)),
            buy(100, 1, 101, 10),
            tick(quote(110, 99, 100, 101, 100)),
            watermark(111),
        ],
    );
    assert_eq!(
        brief(&out),
        [
            ack(120, 1, 10),
            fill(120, 1, 101, 10, 0),
            marker(121, Watermark)
        ]
    );

    // A tick after the arrival comes too late for it: the order rests, then the new ask
    // moves through it, at the order's price.
    let mut v = venue();
    let out = run(
        &mut v,
        [
            tick(quote(0, 99, 100, 102, 100)),
            buy(100, 1, 101, 10),
            tick(quote(111, 99, 100, 100, 100)),
            watermark(111),
        ],
    );
    assert_eq!(
        brief(&out),
        [
            ack(120, 1, 10),
            fill(121, 1, 101, 10, 0),
            marker(121, Watermark)
        ]
    );
}

#[test]
fn a_marketable_order_takes_the_displayed_shares_at_their_price_and_rests_the_rest() {
    let mut v = venue();
    let out = run(
        &mut v,
        [
            tick(quote(0, 99, 100, 101, 30)),
            buy(0, 1, 102, 50),
            sell(0, 2, 98, 20),
            sell(0, 3, 100, 5),
            watermark(11),
        ],
    );
    assert_eq!(
        brief(&out),
        [
            ack(20, 1, 50),
            fill(20, 1, 101, 30, 20),
            ack(20, 2, 20),
            fill(20, 2, 99, 20, 0),
            ack(20, 3, 5),
            marker(21, Watermark),
        ]
    );
    // Fills carry the ts_recv of the New behind them.
    assert_eq!(out[1].stamp.ts_recv, 1_000_000);
    assert_eq!(out[5].stamp.ts_recv, 1_000_011);
    // Both remainders rest: they end with the session.
    assert_eq!(
        brief(&run(&mut v, [end(30)])),
        [
            cancelled(40, 1, RejectReason::EndOfSession),
            cancelled(40, 3, RejectReason::EndOfSession),
            marker(40, EndOfSession),
        ]
    );
}

#[test]
fn ioc_cancels_what_does_not_fill_on_arrival() {
    let mut v = venue();
    let ioc = |seq, px, qty| order(0, seq, Side::Buy, px, qty, TimeInForce::Ioc);
    let out = run(
        &mut v,
        [
            tick(quote(0, 99, 100, 101, 30)),
            ioc(1, 101, 50),
            ioc(2, 100, 10),
            ioc(3, 101, 10),
            end(1),
        ],
    );
    assert_eq!(
        brief(&out),
        [
            ack(20, 1, 50),
            fill(20, 1, 101, 30, 20),
            cancelled(20, 1, RejectReason::ImmediateOrCancel),
            ack(20, 2, 10),
            cancelled(20, 2, RejectReason::ImmediateOrCancel),
            // The 30 shares displayed are taken.
            ack(20, 3, 10),
            cancelled(20, 3, RejectReason::ImmediateOrCancel),
            marker(20, EndOfSession),
        ]
    );
}

/// A venue with resting buys 1 @ 100.02, 2 @ 100.00, 3 @ 100.02 (10 shares each) and
/// sells 4 @ 100.05, 5 @ 100.08, and the quote 100.00 × 100.10.
fn resting() -> SimVenue {
    let mut v = venue();
    let base = quote(0, 10_000, 100, 10_010, 100);
    let acks = run(
        &mut v,
        [
            tick(base),
            buy(0, 1, 10_002, 10),
            buy(0, 2, 10_000, 10),
            buy(0, 3, 10_002, 10),
            sell(0, 4, 10_005, 10),
            sell(0, 5, 10_008, 10),
            watermark(20),
        ],
    );
    assert_eq!(acks.len(), 6, "{acks:?}");
    v
}

#[test]
fn a_bid_hit_fills_our_buys_at_or_above_the_print_best_first_at_our_price() {
    let mut v = resting();
    let base = quote(30, 10_000, 100, 10_010, 100);
    let out = run(
        &mut v,
        [
            tick(printed(base, ViewCause::BidHit, 10_002, 15)),
            tick(printed(base, ViewCause::BidHit, 10_003, 100)),
            tick(printed(base, ViewCause::BidHit, 10_000, 100)),
        ],
    );
    assert_eq!(
        brief(&out),
        [
            fill(40, 1, 10_002, 10, 0),
            fill(40, 3, 10_002, 5, 5),
            // A print above our price does not reach us; at our price it does.
            fill(40, 3, 10_002, 5, 0),
            fill(40, 2, 10_000, 10, 0),
        ]
    );
}

#[test]
fn a_fill_against_a_print_names_its_match_number_and_a_quote_fill_none() {
    let mut v = resting();
    let base = quote(30, 10_000, 100, 10_010, 100);
    let print = MarketView {
        match_number: 256_461,
        ..printed(base, ViewCause::BidHit, 10_002, 10)
    };
    // The print fills buy 1; the quote moving down through buy 3 fills it against the
    // displayed ask, which no broken trade can undo.
    let through = quote(31, 9_990, 100, 10_001, 100);
    let out = run(&mut v, [tick(print), tick(through)]);
    let fills: Vec<(u64, u64)> = out
        .iter()
        .filter(|r| r.kind == Fill)
        .map(|r| (r.cl_ord_id.seq(), r.match_number))
        .collect();
    assert_eq!(fills, [(1, 256_461), (3, 0)]);
}

#[test]
fn an_ask_lifted_fills_our_sells_at_or_below_the_print_and_never_our_buys() {
    let mut v = resting();
    let base = quote(30, 10_000, 100, 10_010, 100);
    let out = run(
        &mut v,
        [
            tick(printed(base, ViewCause::AskLifted, 10_006, 100)),
            tick(printed(base, ViewCause::AskLifted, 10_000, 100)),
        ],
    );
    assert_eq!(brief(&out), [fill(40, 4, 10_005, 10, 0)]);
}

#[test]
fn a_cross_fills_both_sides_through_its_price_at_its_price() {
    let mut v = resting();
    let base = quote(30, 10_000, 100, 10_010, 100);
    let out = run(&mut v, [tick(printed(base, ViewCause::Cross, 10_005, 25))]);
    assert_eq!(
        brief(&out),
        [fill(40, 4, 10_005, 10, 0)],
        "no buy is at or above 100.05"
    );
    let out = run(&mut v, [tick(printed(base, ViewCause::Cross, 10_001, 25))]);
    assert_eq!(
        brief(&out),
        [fill(40, 1, 10_001, 10, 0), fill(40, 3, 10_001, 10, 0)]
    );
}

#[test]
fn a_hidden_print_may_fill_either_side_at_our_price_for_its_shares_in_all() {
    let mut v = resting();
    let base = quote(30, 10_000, 100, 10_010, 100);
    let out = run(&mut v, [tick(printed(base, ViewCause::Hidden, 10_005, 25))]);
    assert_eq!(
        brief(&out),
        [fill(40, 4, 10_005, 10, 0)],
        "ITCH gives no side: our sell at the print may have been the counterparty"
    );
    let out = run(&mut v, [tick(printed(base, ViewCause::Hidden, 10_001, 15))]);
    assert_eq!(
        brief(&out),
        [fill(40, 1, 10_002, 10, 0), fill(40, 3, 10_002, 5, 5)],
        "buys through the print, at their price, 15 shares in all"
    );
}

#[test]
fn a_quote_through_a_resting_order_fills_it_at_its_price_up_to_the_displayed_shares() {
    let mut v = resting();
    let out = run(
        &mut v,
        [
            tick(quote(30, 10_000, 100, 10_002, 15)),
            tick(quote(31, 10_006, 12, 10_010, 100)),
        ],
    );
    assert_eq!(
        brief(&out),
        [
            fill(40, 1, 10_002, 10, 0),
            fill(40, 3, 10_002, 5, 5),
            fill(41, 4, 10_005, 10, 0),
        ]
    );
}

#[test]
fn displayed_shares_are_taken_once_until_the_price_changes() {
    let mut v = venue();
    let out = run(
        &mut v,
        [
            tick(quote(0, 99, 100, 101, 100)),
            buy(0, 1, 101, 60),
            buy(0, 2, 101, 60),
            // Same price, same size: nothing new to take.
            tick(quote(30, 99, 100, 101, 100)),
            // Same price, more shares: only the increase is new.
            tick(quote(31, 99, 100, 101, 110)),
            // A new price: new shares.
            tick(quote(32, 99, 100, 100, 5)),
        ],
    );
    assert_eq!(
        brief(&out),
        [
            ack(20, 1, 60),
            fill(20, 1, 101, 60, 0),
            ack(20, 2, 60),
            fill(20, 2, 101, 40, 20),
            fill(41, 2, 101, 10, 10),
            fill(42, 2, 101, 5, 5),
        ]
    );
}

#[test]
fn no_order_is_accepted_without_a_trading_market() {
    let mut v = venue();
    let mut halted = quote(20, 99, 100, 101, 100);
    halted.status = TradingStatus::Halted;
    let out = run(
        &mut v,
        [
            buy(0, 1, 101, 10),
            tick(halted),
            buy(20, 2, 101, 10),
            watermark(31),
        ],
    );
    assert_eq!(
        brief(&out),
        [
            (20, Rejected, 1, 0, 0, 0, RejectReason::NoMarket),
            (40, Rejected, 2, 0, 0, 0, RejectReason::Halted),
            marker(41, Watermark),
        ]
    );
    assert_eq!(v.stats().rejects.no_market, 1);
    assert_eq!(v.stats().rejects.halted, 1);
}

#[test]
fn resting_orders_do_not_fill_while_halted() {
    let mut v = resting();
    let mut halted = printed(
        quote(30, 10_010, 100, 9_990, 100),
        ViewCause::Cross,
        10_000,
        100,
    );
    halted.status = TradingStatus::Paused;
    assert!(run(&mut v, [tick(halted)]).is_empty());
    // Trading again, the quote still through both sides fills them.
    let out = run(&mut v, [tick(quote(31, 10_006, 10, 10_000, 25))]);
    assert_eq!(
        brief(&out),
        [
            fill(41, 1, 10_002, 10, 0),
            fill(41, 3, 10_002, 10, 0),
            fill(41, 2, 10_000, 5, 5),
            fill(41, 4, 10_005, 10, 0),
        ]
    );
}

#[test]
fn cancels_take_resting_orders_and_reject_the_rest() {
    let mut v = venue();
    let out = run(
        &mut v,
        [
            tick(quote(0, 99, 100, 101, 100)),
            buy(0, 1, 100, 10),
            buy(0, 2, 101, 10),
            // Sent before the New arrives, it still arrives after it.
            cancel(5, 1),
            cancel(5, 2),
            cancel(5, 9),
            watermark(16),
        ],
    );
    let reject = |ts, seq| {
        (
            ts,
            ExecKind::CancelRejected,
            seq,
            0,
            0,
            0,
            RejectReason::UnknownOrder,
        )
    };
    assert_eq!(
        brief(&out),
        [
            ack(20, 1, 10),
            ack(20, 2, 10),
            fill(20, 2, 101, 10, 0),
            cancelled(25, 1, RejectReason::Requested),
            reject(25, 2),
            reject(25, 9),
            marker(26, Watermark),
        ]
    );
    // A cancel-reject carries the cancel's ts_recv.
    assert_eq!(out[4].stamp.ts_recv, 1_000_005);
    // A cancelled order's reports carry its New's.
    assert_eq!(out[3].stamp.ts_recv, 1_000_000);
}

#[test]
fn cancel_all_cancels_every_resting_order_in_id_order() {
    let mut v = venue();
    let mut other = quote(0, 99, 100, 101, 100);
    other.symbol = SymbolId(1);
    let other_buy = VenueCommand::New {
        stamp: stamp(0),
        order: OrderIntent {
            cl_ord_id: ClOrdId::new(SymbolId(1), 1),
            price: cents(98),
            qty: 10,
            symbol: SymbolId(1),
            side: Side::Buy,
            tif: TimeInForce::Day,
        },
    };
    let out = run(
        &mut v,
        [
            tick(quote(0, 99, 100, 101, 100)),
            tick(other),
            other_buy,
            sell(0, 3, 105, 10),
            buy(0, 7, 98, 10),
            VenueCommand::CancelAll { stamp: stamp(5) },
            VenueCommand::CancelAll { stamp: stamp(6) },
            watermark(20),
        ],
    );
    let cancels: Vec<(u64, ClOrdId)> = out
        .iter()
        .filter(|r| r.kind == Cancelled)
        .map(|r| (r.stamp.ts_event, r.cl_ord_id))
        .collect();
    assert_eq!(
        cancels,
        [(25, id(3)), (25, id(7)), (25, ClOrdId::new(SymbolId(1), 1))]
    );
    assert_eq!(v.stats().cancels.requested, 3);
    assert_eq!(v.stats().commands.cancel_all, 2);
    assert!(
        run(&mut v, [end(30)])
            .iter()
            .all(|r| r.kind == EndOfSession)
    );
}

#[test]
fn a_reused_id_is_rejected_as_a_duplicate() {
    let mut v = venue();
    let out = run(
        &mut v,
        [
            tick(quote(0, 99, 100, 101, 100)),
            buy(0, 2, 101, 10),
            buy(0, 2, 101, 10),
            buy(0, 1, 100, 10),
            watermark(20),
        ],
    );
    let dup = |seq| (20, Rejected, seq, 0, 0, 0, RejectReason::DuplicateId);
    assert_eq!(
        brief(&out),
        [
            ack(20, 2, 10),
            fill(20, 2, 101, 10, 0),
            dup(2),
            dup(1),
            marker(30, Watermark)
        ]
    );
}

#[test]
fn a_watermark_comes_after_every_report_stamped_before_it() {
    let mut v = venue();
    let out = run(
        &mut v,
        [
            tick(quote(0, 99, 100, 101, 100)),
            buy(0, 1, 100, 10),
            buy(5, 2, 100, 10),
            buy(7, 3, 100, 10),
            watermark(16),
        ],
    );
    // Arrivals at 10 and 15 are before 16: answered. The one at 17 reports at 27, after
    // the watermark's 26, so it may wait.
    assert_eq!(
        brief(&out),
        [ack(20, 1, 10), ack(25, 2, 10), marker(26, Watermark)]
    );
    assert_eq!(out[2].stamp.ts_recv, 1_000_016);
    assert_eq!(
        brief(&run(&mut v, [watermark(18)])),
        [ack(27, 3, 10), marker(28, Watermark)]
    );
    assert_eq!(v.stats().watermarks, 2);
}

#[test]
fn end_of_session_handles_what_is_in_flight_then_cancels_what_rests() {
    let mut v = venue();
    let out = run(
        &mut v,
        [
            tick(quote(0, 99, 100, 101, 100)),
            buy(0, 2, 100, 10),
            buy(5, 3, 101, 150),
            end(6),
        ],
    );
    assert_eq!(
        brief(&out),
        [
            ack(20, 2, 10),
            ack(25, 3, 150),
            fill(25, 3, 101, 100, 50),
            // The last arrival, at 15, is after the end command at 6.
            cancelled(25, 2, RejectReason::EndOfSession),
            cancelled(25, 3, RejectReason::EndOfSession),
            marker(25, EndOfSession),
        ]
    );
    assert_eq!(out[5].stamp.ts_recv, 1_000_006);
    assert!(v.is_finished());

    let mut v = venue();
    assert!(!v.is_finished());
    assert_eq!(
        brief(&run(&mut v, [buy(0, 1, 100, 1), end(50)])),
        [
            (20, Rejected, 1, 0, 0, 0, RejectReason::NoMarket),
            marker(60, EndOfSession)
        ]
    );
}

#[test]
fn stats_count_what_was_sent_and_merge() {
    let mut v = resting();
    let out = run(&mut v, [cancel(30, 9), end(40)]);
    let stats = v.stats().clone();
    assert_eq!(stats.commands.tick, 1);
    assert_eq!(stats.commands.new, 5);
    assert_eq!(stats.commands.cancel, 1);
    assert_eq!(stats.commands.watermark, 1);
    assert_eq!(stats.commands.end_of_session, 1);
    assert_eq!(stats.acks, 5);
    assert_eq!(stats.cancel_rejects, 1);
    assert_eq!(stats.cancels.end_of_session, 5);
    assert_eq!(stats.reports, 6 + out.len() as u64);

    let mut merged = stats.clone();
    merged.merge(&stats);
    assert_eq!(merged.reports, 2 * stats.reports);
    assert_eq!(merged.commands.new, 10);
    assert_eq!(merged.cancels.end_of_session, 10);
}

#[test]
fn a_command_from_the_past_is_handled_at_the_current_time_and_counted() {
    let mut v = venue();
    let out = run(
        &mut v,
        [
            tick(quote(0, 99, 100, 101, 100)),
            watermark(50),
            buy(20, 1, 101, 10),
            watermark(70),
        ],
    );
    // The order sent "at 20" is taken as sent at 50: it arrives at 60, is answered at 70
    // and its reports never run before the watermark already answered at 60.
    assert_eq!(
        brief(&out),
        [
            marker(60, Watermark),
            ack(70, 1, 10),
            fill(70, 1, 101, 10, 0),
            marker(80, Watermark),
        ]
    );
    assert_eq!(v.stats().time_regressions, 1);
    let mut merged = v.stats().clone();
    merged.merge(v.stats());
    assert_eq!(merged.time_regressions, 2);
}

#[test]
#[should_panic(expected = "after EndOfSession")]
fn nothing_follows_the_end_of_the_session() {
    let mut v = venue();
    run(&mut v, [end(10), watermark(10)]);
}
