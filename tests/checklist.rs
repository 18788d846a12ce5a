//! The pre-trade checklist (README, "The pre-trade checklist"): one test per row, each
//! driving the risk stage with signals and execution reports and showing the row reject
//! or halt with its stable code and its count in the stage's report.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use tickpipe::msg::{
    ClOrdId, ExecKind, ExecReport, MarketView, Price, RejectReason, Side, Signal, Stamp, SymbolId,
    TradingStatus, VenueCommand, VenueTiming, ViewCause,
};
use tickpipe::stages::journal::{DecisionLog, Journal, JournalFault, Record, RecordSink};
use tickpipe::stages::reject::RejectCode;
use tickpipe::stages::risk::checks::{self, Proposal, Snapshot};
use tickpipe::stages::risk::firm::{FirmConfig, FirmPools};
use tickpipe::stages::risk::positions::Mark;
use tickpipe::stages::risk::{ExecutionConfig, Risk, RiskConfig, RiskStats};
use tickpipe::stages::{Control, Operator, ReportSource, ShardReport, Stage};
use tickpipe::sys::{TradingLatch, TradingState};
use tickpipe::universe::Universe;

const AAPL: SymbolId = SymbolId(0);
const TSLA: SymbolId = SymbolId(1);
const BID: Price = Price(1_000_000); // 100.00
const ASK: Price = Price(1_000_200); // 100.02

/// Every checklist bound loose; each test tightens the one it is about.
const RISK: &str = r#"
    trading_state = "active"
    starting_cash = "1000000.00"
    max_order_qty = 500
    max_notional = "100000.00"
    max_position = 1000
    collar_bps = 50
    max_mark_age_ns = 1000000000
    max_open_orders = 4
    max_quote_age_ns = 1000000000
    max_messages_per_sec = 1000
    halt_messages_per_sec = 2000
    max_repeat_fills = 1000
    repeat_fills_window_ns = 1000
    duplicate_window_ns = 1
    broken_trade_fills = 16
    restricted = []
    [symbols]
"#;

const EXECUTION: &str = r#"
    order_ttl_ns = 1000000000
    price = "join"
    time_in_force = "day"
"#;

/// Reports as a live venue sends them: applied in arrival order, never waited for.
#[derive(Clone, Default)]
struct Feed(Rc<RefCell<VecDeque<ExecReport>>>);

impl ReportSource for Feed {
    const TIMING: VenueTiming = VenueTiming::Asynchronous;
    fn drain_into(&mut self, sink: &mut VecDeque<ExecReport>) -> usize {
        let mut queued = self.0.borrow_mut();
        let n = queued.len();
        sink.extend(queued.drain(..));
        n
    }
    fn is_finished(&self) -> bool {
        false
    }
}

struct Harness {
    risk: Risk<Feed>,
    feed: Feed,
    latch: Arc<TradingLatch>,
}

fn harness(edit: impl FnOnce(&mut RiskConfig)) -> Harness {
    journaled(edit, None, EXECUTION)
}

/// The harness with risk journaling to `log`, if given, and `execution` as `[execution]`.
fn journaled(
    edit: impl FnOnce(&mut RiskConfig),
    log: Option<Box<dyn DecisionLog>>,
    execution: &str,
) -> Harness {
    let mut config: RiskConfig = toml::from_str(RISK).unwrap();
    edit(&mut config);
    let execution: ExecutionConfig = toml::from_str(execution).unwrap();
    let universe = Arc::new(Universe::new(&["AAPL", "TSLA"]).unwrap());
    let latch = Arc::new(TradingLatch::new(TradingState::Active));
    let feed = Feed::default();
    let mut risk = Risk::new(
        universe,
        &[AAPL, TSLA],
        &config,
        &execution,
        latch.clone(),
        feed.clone(),
    );
    if let Some(log) = log {
        risk = risk.with_journal(log);
    }
    Harness { risk, feed, latch }
}

fn view(symbol: SymbolId, ts_event: u64) -> MarketView {
    MarketView {
        stamp: Stamp {
            ts_recv: 0,
            ts_event,
        },
        bid_px: BID,
        ask_px: ASK,
        print_px: Price::ZERO,
        bid_qty: 300,
        ask_qty: 300,
        print_qty: 0,
        symbol,
        cause: ViewCause::Quote,
        status: TradingStatus::Trading,
        match_number: 0,
    }
}

fn report(
    kind: ExecKind,
    id: ClOrdId,
    side: Side,
    ts_event: u64,
    qty: u32,
    leaves: u32,
) -> ExecReport {
    ExecReport {
        stamp: Stamp {
            ts_recv: 0,
            ts_event,
        },
        cl_ord_id: id,
        price: if kind == ExecKind::Fill {
            BID
        } else {
            Price::ZERO
        },
        qty,
        leaves,
        symbol: id.symbol(),
        kind,
        side,
        reason: RejectReason::None,
        match_number: 0,
    }
}

impl Harness {
    fn signal_view(&mut self, view: MarketView, target: i32) -> Vec<VenueCommand> {
        let mut out = Vec::new();
        self.risk.on_event(
            Signal {
                view,
                score: 0.0,
                target,
            },
            &mut out,
        );
        out
    }

    fn signal(&mut self, symbol: SymbolId, ts_event: u64, target: i32) -> Vec<VenueCommand> {
        self.signal_view(view(symbol, ts_event), target)
    }

    fn reports(&self, reports: &[ExecReport]) {
        self.feed.0.borrow_mut().extend(reports.iter().copied());
    }

    fn control(&mut self, control: Control) -> Vec<VenueCommand> {
        let mut out = Vec::new();
        self.risk.on_control(control, &mut out);
        out
    }

    fn stats(&self) -> RiskStats {
        let mut report = ShardReport::default();
        self.risk.report(&mut report);
        report.risk
    }
}

fn news(out: &[VenueCommand]) -> Vec<(ClOrdId, Side, u32)> {
    out.iter()
        .filter_map(|c| match c {
            VenueCommand::New { order, .. } => Some((order.cl_ord_id, order.side, order.qty)),
            _ => None,
        })
        .collect()
}

fn cancels(out: &[VenueCommand]) -> usize {
    out.iter()
        .filter(|c| matches!(c, VenueCommand::Cancel { .. }))
        .count()
}

#[test]
fn quote_age_blocks_the_symbol() {
    let mut h = harness(|c| c.max_quote_age_ns = 1_000);
    // The top is set at 1 000; prints at 2 000 and 2 001 leave it as it was.
    assert!(news(&h.signal(AAPL, 1_000, 0)).is_empty());
    let print = |ts_event| MarketView {
        print_px: BID,
        print_qty: 100,
        cause: ViewCause::Hidden,
        ..view(AAPL, ts_event)
    };
    assert_eq!(
        news(&h.signal_view(print(2_000), 100)).len(),
        1,
        "1 000 ns old: allowed"
    );
    let id = ClOrdId::new(AAPL, 1);
    h.reports(&[report(ExecKind::Cancelled, id, Side::Buy, 2_000, 0, 0)]);
    assert!(news(&h.signal_view(print(2_001), 100)).is_empty());
    let s = h.stats();
    assert_eq!(s.rejected(RejectCode::QuoteStale), 1);
    let first = s.first_rejection[RejectCode::QuoteStale.index()].unwrap();
    assert_eq!((first.breach.value, first.breach.limit), (1_001, 1_000));
    let moved = MarketView {
        bid_qty: 400,
        ..view(AAPL, 2_002)
    };
    assert_eq!(
        news(&h.signal_view(moved, 100)).len(),
        1,
        "a changed top restarts the age"
    );
}

#[test]
fn message_rate_rejects_and_a_hard_ceiling_halts() {
    // Refusal: one message per second; the cancel used the second's allowance.
    let mut h = harness(|c| {
        c.max_messages_per_sec = 2;
        c.halt_messages_per_sec = 3;
    });
    let id = ClOrdId::new(AAPL, 1);
    assert_eq!(news(&h.signal(AAPL, 1_000, 100)).len(), 1);
    assert_eq!(
        cancels(&h.signal(AAPL, 2_000, -100)),
        1,
        "wrong side: cancel"
    );
    h.reports(&[report(ExecKind::Cancelled, id, Side::Buy, 2_100, 0, 0)]);
    assert!(news(&h.signal(AAPL, 3_000, 100)).is_empty());
    assert_eq!(h.stats().rejected(RejectCode::MessageRate), 1);
    assert_eq!(
        news(&h.signal(AAPL, 1_000_000_000, 100)).len(),
        1,
        "the next second has its own allowance"
    );
    assert_eq!(h.latch.get(), TradingState::Active);

    // Ceiling: cancels are never refused, so a cancel storm reaches it and halts.
    let mut h = harness(|c| {
        c.max_messages_per_sec = 1;
        c.halt_messages_per_sec = 2;
    });
    assert_eq!(news(&h.signal(AAPL, 1_000, 100)).len(), 1);
    assert_eq!(cancels(&h.signal(AAPL, 2_000, -100)), 1);
    assert_eq!(h.latch.get(), TradingState::Halted);
    assert_eq!(h.stats().message_rate_halts, 1);
    let out = h.signal(TSLA, 3_000, 100);
    assert!(news(&out).is_empty());
    assert!(
        out.iter()
            .any(|c| matches!(c, VenueCommand::CancelAll { .. }))
    );
    assert_eq!(h.stats().rejected(RejectCode::TradingHalted), 1);
}

/// Two shards, one owning AAPL and the other TSLA, sharing the latch and the firm-wide
/// pools of `firm` (a `[firm]` table).
fn two_shards(firm: &str) -> (Harness, Harness) {
    let config: RiskConfig = toml::from_str(RISK).unwrap();
    let execution: ExecutionConfig = toml::from_str(EXECUTION).unwrap();
    let firm: FirmConfig = toml::from_str(firm).unwrap();
    let pools = Arc::new(FirmPools::new(&firm, 2));
    let universe = Arc::new(Universe::new(&["AAPL", "TSLA"]).unwrap());
    let latch = Arc::new(TradingLatch::new(TradingState::Active));
    let shard = |owned: SymbolId, index: usize| {
        let feed = Feed::default();
        let risk = Risk::new(
            universe.clone(),
            &[owned],
            &config,
            &execution,
            latch.clone(),
            feed.clone(),
        )
        .with_firm(pools.clone(), index);
        Harness {
            risk,
            feed,
            latch: latch.clone(),
        }
    };
    (shard(AAPL, 0), shard(TSLA, 1))
}

const FIRM: &str = r#"
    max_open_notional = "1000000.00"
    max_gross_notional = "1000000.00"
    chunk_notional = "1000.00"
    max_messages_per_sec = 1000
    halt_messages_per_sec = 2000
    reduce_only_loss = "1000000.00"
    halt_loss = "2000000.00"
    reduce_only_drawdown = "1000000.00"
    halt_drawdown = "2000000.00"
"#;

#[test]
fn firm_gross_notional_across_shards_is_refused() {
    // $25 000: 100 AAPL at the bid ($10 000) leave room for 100 TSLA, not for 200.
    let (mut a, mut t) = two_shards(&FIRM.replace(
        "max_gross_notional = \"1000000.00\"",
        "max_gross_notional = \"25000.00\"",
    ));
    assert_eq!(news(&a.signal(AAPL, 1_000, 100)).len(), 1);
    assert!(news(&t.signal(TSLA, 1_000, 200)).is_empty());
    let s = t.stats();
    assert_eq!(s.rejected(RejectCode::FirmGrossNotional), 1);
    let first = s.first_rejection[RejectCode::FirmGrossNotional.index()].unwrap();
    assert_eq!(
        (first.breach.value, first.breach.limit),
        (200 * BID.0, 25_000 * Price::SCALE)
    );
    // AAPL's order cancelled: its exposure is released at its next decision (but for
    // one chunk, $1 000, which the shard keeps as headroom).
    a.reports(&[report(
        ExecKind::Cancelled,
        ClOrdId::new(AAPL, 1),
        Side::Buy,
        1_100,
        0,
        0,
    )]);
    assert!(news(&a.signal(AAPL, 1_200, 0)).is_empty());
    assert_eq!(news(&t.signal(TSLA, 1_300, 200)).len(), 1);
}

#[test]
fn firm_message_rate_rejects_and_a_hard_ceiling_halts() {
    let (mut a, mut t) = two_shards(
        &FIRM
            .replace("max_messages_per_sec = 1000", "max_messages_per_sec = 2")
            .replace("halt_messages_per_sec = 2000", "halt_messages_per_sec = 3"),
    );
    assert_eq!(news(&a.signal(AAPL, 1_000, 100)).len(), 1);
    assert_eq!(news(&t.signal(TSLA, 1_000, 100)).len(), 1);
    t.reports(&[report(
        ExecKind::Cancelled,
        ClOrdId::new(TSLA, 1),
        Side::Buy,
        1_100,
        0,
        0,
    )]);
    assert!(
        news(&t.signal(TSLA, 1_200, 100)).is_empty(),
        "two messages this second, firm-wide"
    );
    assert_eq!(t.stats().rejected(RejectCode::FirmMessageRate), 1);
    assert_eq!(a.latch.get(), TradingState::Active);
    // Cancels are never refused: AAPL's is the third message, the ceiling.
    assert_eq!(cancels(&a.signal(AAPL, 1_300, -100)), 1);
    assert_eq!(a.latch.get(), TradingState::Halted, "latched firm-wide");
    assert_eq!(a.stats().firm_message_rate_halts, 1);
    assert!(news(&t.signal(TSLA, 1_000_000_000, 100)).is_empty());
    assert_eq!(t.stats().rejected(RejectCode::TradingHalted), 1);
    t.control(Control::Operator(Operator::ResumeAll));
    assert_eq!(t.latch.get(), TradingState::Active);
    assert_eq!(news(&t.signal(TSLA, 1_000_000_001, 100)).len(), 1);
}

#[test]
fn firm_loss_goes_reduce_only_then_halts_until_resumed() {
    let (mut a, mut t) = two_shards(
        &FIRM
            .replace(
                "reduce_only_loss = \"1000000.00\"",
                "reduce_only_loss = \"50.00\"",
            )
            .replace("halt_loss = \"2000000.00\"", "halt_loss = \"100.00\""),
    );
    let quoted = |ts_event, bid: i64| MarketView {
        bid_px: Price(bid),
        ask_px: Price(bid + 200),
        ..view(AAPL, ts_event)
    };
    assert_eq!(news(&a.signal(AAPL, 1_000, 100)).len(), 1);
    fill_aapl(&a, 1, 1_010, 100, 1, 100);
    // Long 100 from 100.00, marked at 99.41: $59 lost firm-wide.
    a.signal_view(quoted(2_000, 994_000), 100);
    assert_eq!(a.latch.get(), TradingState::ReduceOnly);
    assert_eq!(a.stats().firm_loss_reduce_only, 1);
    assert!(
        news(&t.signal(TSLA, 2_100, 100)).is_empty(),
        "no shard opens a position"
    );
    // Marked at 98.91: $109.
    a.signal_view(quoted(3_000, 989_000), 100);
    assert_eq!(a.latch.get(), TradingState::Halted);
    assert_eq!(a.stats().firm_loss_halts, 1);
    // Latched: the mark recovering lifts nothing; an operator does.
    a.signal_view(quoted(4_000, 1_000_100), 100);
    assert_eq!(a.latch.get(), TradingState::Halted);
    t.control(Control::Operator(Operator::ResumeAll));
    assert_eq!(news(&t.signal(TSLA, 5_000, 100)).len(), 1);
}

#[test]
fn firm_drawdown_from_the_days_peak_goes_reduce_only() {
    let (mut a, _t) = two_shards(&FIRM.replace(
        "reduce_only_drawdown = \"1000000.00\"",
        "reduce_only_drawdown = \"50.00\"",
    ));
    let quoted = |ts_event, bid: i64| MarketView {
        bid_px: Price(bid),
        ask_px: Price(bid + 200),
        ..view(AAPL, ts_event)
    };
    assert_eq!(news(&a.signal(AAPL, 1_000, 100)).len(), 1);
    fill_aapl(&a, 1, 1_010, 100, 1, 100);
    // Up $99 at 100.99, then 100.45: $54 below the peak, still $45 up on the day.
    a.signal_view(quoted(2_000, 1_009_800), 100);
    assert_eq!(a.latch.get(), TradingState::Active);
    a.signal_view(quoted(3_000, 1_004_400), 100);
    assert_eq!(a.latch.get(), TradingState::ReduceOnly);
    let s = a.stats();
    assert_eq!(
        (s.firm_drawdown_reduce_only, s.firm_loss_reduce_only),
        (1, 0)
    );
}

/// Acks AAPL's buy `seq` of `total` shares and fills it `fills` times `qty` shares, from
/// `ts_event` on, 1 ns apart.
fn fill_aapl(h: &Harness, seq: u64, ts_event: u64, total: u32, fills: u32, qty: u32) {
    let id = ClOrdId::new(AAPL, seq);
    h.reports(&[report(ExecKind::Ack, id, Side::Buy, ts_event, 0, total)]);
    for i in 1..=fills {
        h.reports(&[report(
            ExecKind::Fill,
            id,
            Side::Buy,
            ts_event + u64::from(i),
            qty,
            total - i * qty,
        )]);
    }
}

#[test]
fn repeated_executions_halt_the_symbol_until_an_operator_reenables_it() {
    let mut h = harness(|c| {
        c.max_repeat_fills = 3;
        c.repeat_fills_window_ns = 1_000;
    });
    assert_eq!(news(&h.signal(AAPL, 1_000, 300)).len(), 1);
    fill_aapl(&h, 1, 1_010, 300, 3, 50); // 150 of 300 filled: the order stays live
    let out = h.signal(AAPL, 2_000, 300);
    assert_eq!(h.stats().repeated_execution_halts, 1);
    assert_eq!(cancels(&out), 1, "the latched symbol's order is pulled");
    h.reports(&[report(
        ExecKind::Cancelled,
        ClOrdId::new(AAPL, 1),
        Side::Buy,
        2_010,
        0,
        0,
    )]);
    assert!(
        news(&h.signal(AAPL, 1_000_000_000, 300)).is_empty(),
        "latched: time does not lift it"
    );
    assert_eq!(h.stats().rejected(RejectCode::RepeatedExecutions), 1);
    assert_eq!(
        news(&h.signal(TSLA, 1_000_000_001, 100)).len(),
        1,
        "only the symbol"
    );
    assert_eq!(h.latch.get(), TradingState::Active);

    // Another shard's symbol is not this shard's to re-enable; a command for AAPL is.
    h.control(Control::Operator(Operator::Reenable {
        symbol: SymbolId(7),
    }));
    assert_eq!(h.stats().operator_commands, 0);
    h.control(Control::Operator(Operator::Reenable { symbol: AAPL }));
    assert_eq!(h.stats().operator_commands, 1);
    assert_eq!(news(&h.signal(AAPL, 1_000_000_002, 300)).len(), 1);
}

#[test]
fn duplicate_order_is_refused() {
    let mut h = harness(|c| c.duplicate_window_ns = 1_000);
    assert_eq!(news(&h.signal(AAPL, 1_000, 100)).len(), 1);
    // The venue drops it; the same order again 500 ns after the first is a duplicate.
    h.reports(&[report(
        ExecKind::Cancelled,
        ClOrdId::new(AAPL, 1),
        Side::Buy,
        1_200,
        0,
        0,
    )]);
    assert!(news(&h.signal(AAPL, 1_500, 100)).is_empty());
    let s = h.stats();
    assert_eq!(s.rejected(RejectCode::DuplicateOrder), 1);
    assert_eq!(
        news(&h.signal(AAPL, 1_600, 90)).len(),
        1,
        "another quantity is another order"
    );
    h.reports(&[report(
        ExecKind::Cancelled,
        ClOrdId::new(AAPL, 2),
        Side::Buy,
        1_700,
        0,
        0,
    )]);
    assert_eq!(news(&h.signal(AAPL, 2_601, 90)).len(), 1, "past the window");
}

/// The stage proposes an order only while none is live, so it cannot cross its own;
/// the check guards that invariant and is shown on the checks' own input.
#[test]
fn self_match_is_refused() {
    let config: RiskConfig = toml::from_str(RISK).unwrap();
    let limits = config.limits_for("AAPL");
    let snapshot = Snapshot {
        latch: TradingState::Active,
        status: TradingStatus::Trading,
        mark: Some(Mark {
            price: Price::mid(BID, ASK),
            ts_event: 1_000,
        }),
        now: 1_000,
        position: 0,
        open_buy: 0,
        open_sell: 100,
        live_orders: 1,
        limits: &limits,
        restricted: false,
        symbol_halted: false,
        quote_ts: Some(1_000),
        own_bid: None,
        own_ask: Some(ASK),
        last_order: None,
        messages: 0,
        short_sale_restricted: false,
        best_bid: Some(BID),
    };
    let buy = |price| Proposal {
        side: Side::Buy,
        price,
        qty: 100,
    };
    assert_eq!(
        checks::check(&buy(ASK), &snapshot).map_err(|b| b.code),
        Err(RejectCode::SelfMatch)
    );
    assert_eq!(checks::check(&buy(BID), &snapshot), Ok(()));
}

#[test]
fn restricted_list_is_refused() {
    let mut h = harness(|c| c.restricted = vec!["AAPL".into()]);
    assert!(news(&h.signal(AAPL, 1_000, 100)).is_empty());
    assert_eq!(news(&h.signal(TSLA, 1_000, 100)).len(), 1);
    assert_eq!(h.stats().rejected(RejectCode::Restricted), 1);
}

#[test]
fn trading_action_states_beyond_t_block_the_symbol() {
    let mut h = harness(|_| {});
    for (i, status) in [
        TradingStatus::Halted,
        TradingStatus::Paused,
        TradingStatus::QuotationOnly,
    ]
    .into_iter()
    .enumerate()
    {
        let v = MarketView {
            status,
            cause: ViewCause::Status,
            ..view(AAPL, 1_000 + i as u64)
        };
        assert!(news(&h.signal_view(v, 100)).is_empty(), "{status:?}");
    }
    assert_eq!(h.stats().rejected(RejectCode::VenueHalted), 3);
    assert_eq!(news(&h.signal(AAPL, 2_000, 100)).len(), 1, "T trades again");
}

#[test]
fn reg_sho_short_sale_must_be_priced_above_the_best_bid() {
    // "cross" sells at the bid: a short sale there is what Rule 201 forbids.
    let crossing = EXECUTION.replace("\"join\"", "\"cross\"");
    let mut h = journaled(|_| {}, None, &crossing);
    let restricted = |ts_event, cause| MarketView {
        cause,
        ..view(AAPL, ts_event)
    };
    assert!(
        news(&h.signal_view(restricted(1_000, ViewCause::ShortSaleRestricted), -100)).is_empty()
    );
    let s = h.stats();
    assert_eq!(s.rejected(RejectCode::ShortSaleRestricted), 1);
    let first = s.first_rejection[RejectCode::ShortSaleRestricted.index()].unwrap();
    assert_eq!((first.breach.value, first.breach.limit), (BID.0, BID.0));
    assert_eq!(
        news(&h.signal(AAPL, 1_100, 100)).len(),
        1,
        "a buy is no short sale"
    );
    // Lifted: the same sell goes.
    let mut h = journaled(|_| {}, None, &crossing);
    h.signal_view(restricted(1_000, ViewCause::ShortSaleRestricted), 0);
    h.signal_view(restricted(1_001, ViewCause::ShortSaleLifted), 0);
    assert_eq!(news(&h.signal(AAPL, 1_002, -100)).len(), 1);
    // Joining sells at the ask, above the bid: allowed while restricted.
    let mut h = harness(|_| {});
    h.signal_view(restricted(1_000, ViewCause::ShortSaleRestricted), 0);
    assert_eq!(news(&h.signal(AAPL, 1_001, -100)).len(), 1);
}

#[test]
fn market_wide_circuit_breaker_halts_all_until_resumed() {
    let mut h = harness(|_| {});
    assert_eq!(news(&h.signal(TSLA, 1_000, 100)).len(), 1);
    let breach = MarketView {
        cause: ViewCause::CircuitBreaker,
        ..view(AAPL, 2_000)
    };
    let out = h.signal_view(breach, 100);
    assert_eq!(h.latch.get(), TradingState::Halted);
    assert!(
        out.iter()
            .any(|c| matches!(c, VenueCommand::CancelAll { .. })),
        "{out:?}"
    );
    assert!(news(&out).is_empty());
    // The breach reaches every symbol: counted once. The market trading again lifts
    // nothing: the latch holds until an operator resumes.
    h.signal_view(
        MarketView {
            symbol: TSLA,
            ..breach
        },
        0,
    );
    assert_eq!(h.stats().circuit_breaker_halts, 1);
    h.reports(&[report(
        ExecKind::Cancelled,
        ClOrdId::new(TSLA, 1),
        Side::Buy,
        2_010,
        0,
        0,
    )]);
    assert!(news(&h.signal(AAPL, 1_000_000_000, 100)).is_empty());
    assert_eq!(h.stats().rejected(RejectCode::TradingHalted), 2);
    h.control(Control::Operator(Operator::ResumeAll));
    assert_eq!(h.latch.get(), TradingState::Active);
    assert_eq!(news(&h.signal(AAPL, 1_000_000_001, 100)).len(), 1);
}

/// A sell filled against a print, then the print broken (ITCH `B`): the fill is reversed.
fn sold_against_print(h: &mut Harness, match_number: u64) {
    let id = ClOrdId::new(TSLA, 1);
    assert_eq!(news(&h.signal(TSLA, 1_000, -100)), [(id, Side::Sell, 100)]);
    h.reports(&[
        report(ExecKind::Ack, id, Side::Sell, 1_010, 0, 100),
        ExecReport {
            match_number,
            price: ASK,
            ..report(ExecKind::Fill, id, Side::Sell, 1_020, 100, 0)
        },
    ]);
    assert!(news(&h.signal(TSLA, 2_000, -100)).is_empty());
}

fn broken(match_number: u64, ts_event: u64) -> MarketView {
    MarketView {
        cause: ViewCause::BrokenTrade,
        match_number,
        ..view(TSLA, ts_event)
    }
}

#[test]
fn broken_trade_reverses_our_fill() {
    let mut h = harness(|_| {});
    sold_against_print(&mut h, 256);
    let tsla = |h: &Harness| h.stats().symbols[TSLA.index()].unwrap();
    let before = tsla(&h);
    let money = before.money.unwrap();
    // Sold 100 at the ask, 100.02, marked at the mid, 100.01: +1.00.
    assert_eq!(before.position, -100);
    assert_eq!(money.cash_flow, Price(100_020_000));
    assert_eq!(money.unrealised, Some(Price(10_000)));

    // The reversal is a decision: flat again, risk sells toward its target anew.
    let out = h.signal_view(broken(256, 3_000), -100);
    assert_eq!(news(&out), [(ClOrdId::new(TSLA, 2), Side::Sell, 100)]);
    let after = tsla(&h);
    let money = after.money.unwrap();
    assert_eq!(after.position, 0, "+100: the sell is undone");
    assert_eq!(money.cash_flow, Price::ZERO);
    assert_eq!(
        (money.realised, money.unrealised),
        (Price::ZERO, Some(Price::ZERO))
    );
    assert_ne!(after.digest, before.digest);
    let s = h.stats();
    assert_eq!(
        (
            s.broken_trade_reversals,
            s.broken_trade_shares,
            s.broken_trades_not_ours
        ),
        (1, 100, 0)
    );

    // The same print broken again finds nothing left to reverse.
    h.signal_view(broken(256, 4_000), -100);
    assert_eq!(tsla(&h).position, 0);
    assert_eq!(h.stats().broken_trade_reversals, 1);
    assert_eq!(h.stats().broken_trades_not_ours, 1);
}

#[test]
fn a_broken_trade_of_a_print_we_did_not_fill_against_changes_nothing() {
    let mut h = harness(|_| {});
    sold_against_print(&mut h, 256);
    let before = h.stats().symbols[TSLA.index()].unwrap();
    // Another print's match number, and a quote fill's 0, which names no print.
    for match_number in [257, 0] {
        let out = h.signal_view(broken(match_number, 3_000), -100);
        assert!(out.is_empty(), "{out:?}");
    }
    assert_eq!(h.stats().symbols[TSLA.index()].unwrap(), before);
    let s = h.stats();
    assert_eq!((s.broken_trade_reversals, s.broken_trades_not_ours), (0, 2));
}

/// What a journal appends, shared with the test.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<Record>>>);

impl RecordSink for Sink {
    fn append(&mut self, record: &Record) -> Result<(), String> {
        self.0.lock().unwrap().push(*record);
        Ok(())
    }
    fn fault(&mut self, fault: &JournalFault) {
        panic!("journal fault: {fault}");
    }
    fn caught_up(&mut self) {}
    fn bytes(&self) -> u64 {
        0
    }
    fn unsynced(&self) -> u64 {
        0
    }
    fn replay_ns(&self) -> Option<u64> {
        None
    }
}

/// A session that latches AAPL, has an operator re-enable it between two signals, and
/// trades it again. With `operator` false (a restart) the venue's reports and the
/// operator's command are the journal's to supply.
fn latched_session(h: &mut Harness, operator: bool) -> Vec<VenueCommand> {
    let mut sent = h.signal(AAPL, 1_000, 300);
    if operator {
        fill_aapl(h, 1, 1_010, 300, 3, 100);
    }
    sent.extend(h.signal(AAPL, 2_000, 300));
    sent.extend(h.signal(AAPL, 3_000, 600));
    if operator {
        sent.extend(h.control(Control::Operator(Operator::Reenable { symbol: AAPL })));
    }
    sent.extend(h.signal(AAPL, 4_000, 600));
    sent
}

#[test]
fn an_operator_reenable_is_journaled_and_a_restart_applies_it() {
    let latched = |c: &mut RiskConfig| {
        c.max_repeat_fills = 3;
        c.repeat_fills_window_ns = 1_000;
    };
    let sink = Sink::default();
    let journal = Journal::new(0, Vec::new(), VenueTiming::Asynchronous, sink.clone());
    let mut first = journaled(latched, Some(Box::new(journal)), EXECUTION);
    let sent = latched_session(&mut first, true);
    assert_eq!(first.stats().rejected(RejectCode::RepeatedExecutions), 1);
    assert_eq!(
        news(&sent).len(),
        2,
        "the first order and the one after the re-enable"
    );
    let records = sink.0.lock().unwrap().clone();
    assert!(
        records.contains(&Record::Operator {
            position: 3,
            command: Operator::Reenable { symbol: AAPL },
        }),
        "{records:?}"
    );

    // The restart replays the same signals; the fills and the operator's command come
    // from the journal, so it re-derives both orders (the second only because the
    // re-enable is applied where it was) and appends nothing.
    let past: Vec<(u64, Record)> = records
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i as u64, r))
        .collect();
    let journal = Journal::new(0, past.clone(), VenueTiming::Asynchronous, Sink::default());
    assert!(journal.replaying());
    let mut second = journaled(latched, Some(Box::new(journal)), EXECUTION);
    let resent = latched_session(&mut second, false);
    assert!(
        news(&resent).is_empty(),
        "a live venue never gets an order twice"
    );
    let s = second.stats();
    assert_eq!(s.operator_commands, 1);
    assert_eq!(s.repeated_execution_halts, 1);
    assert_eq!(s.rejected(RejectCode::RepeatedExecutions), 1);
    assert_eq!(
        s.journal[0].counts.recovered_commands, 2,
        "both orders re-derived"
    );
    assert_eq!(s.journal[0].counts.verified, past.len() as u64);
    assert_eq!(s.journal[0].counts.appended, 0);
    assert_eq!(s.journal[0].fault, None);
}
