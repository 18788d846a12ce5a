//! Properties over random valid command streams: two symbols, prices within a few cents
//! so orders, quotes and prints cross often, time steps of zero included so ties happen.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::msg::{
    ClOrdId, ExecKind, MarketView, OrderIntent, Price, Side, SymbolId, TimeInForce, TradingStatus,
    ViewCause,
};

/// One step of a stream, before times and ids are assigned.
#[derive(Clone, Debug)]
enum Step {
    Tick {
        symbol: u16,
        bid: i64,
        bid_qty: u32,
        spread: i64,
        ask_qty: u32,
        cause: ViewCause,
        print: i64,
        print_qty: u32,
        trading: bool,
    },
    New {
        symbol: u16,
        side: Side,
        price: i64,
        qty: u32,
        ioc: bool,
        reuse_id: bool,
    },
    /// Cancel the `pick`-th id sent so far (modulo), or an id never sent.
    Cancel {
        pick: usize,
        unknown: bool,
    },
    CancelAll,
    Watermark,
}

fn step() -> impl Strategy<Value = Step> {
    let cause = prop_oneof![
        Just(ViewCause::Quote),
        Just(ViewCause::Status),
        Just(ViewCause::BidHit),
        Just(ViewCause::AskLifted),
        Just(ViewCause::Cross),
        Just(ViewCause::Hidden),
    ];
    let tick = (
        0..2u16,
        95..105i64,
        0..300u32,
        -1..4i64,
        0..300u32,
        cause,
        94..106i64,
        1..300u32,
        prop::bool::weighted(0.9),
    )
        .prop_map(
            |(symbol, bid, bid_qty, spread, ask_qty, cause, print, print_qty, trading)| {
                Step::Tick {
                    symbol,
                    bid,
                    bid_qty,
                    spread,
                    ask_qty,
                    cause,
                    print,
                    print_qty: if cause.is_trade() { print_qty } else { 0 },
                    trading,
                }
            },
        );
    let new = (
        0..2u16,
        prop_oneof![Just(Side::Buy), Just(Side::Sell)],
        94..106i64,
        0..250u32,
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(symbol, side, price, qty, ioc, reuse_id)| Step::New {
            symbol,
            side,
            price,
            qty,
            ioc,
            reuse_id,
        });
    prop_oneof![
        6 => tick,
        5 => new,
        2 => (any::<usize>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, unknown)| Step::Cancel { pick, unknown }),
        1 => Just(Step::CancelAll),
        2 => Just(Step::Watermark),
    ]
}

/// A stream: latency, then (time step, step) pairs; `EndOfSession` is appended.
fn stream() -> impl Strategy<Value = (u64, Vec<(u64, Step)>)> {
    (
        1..40u64,
        prop::collection::vec(
            (prop_oneof![2 => Just(0u64), 3 => 1..25u64], step()),
            0..150,
        ),
    )
}

/// Most orders a generated stream can have open.
const CAPACITY: usize = 160;

/// Turns steps into commands with non-decreasing times and per-symbol rising ids.
fn commands(steps: &[(u64, Step)]) -> Vec<VenueCommand> {
    let mut t = 0;
    let mut next_seq = [1u64; 2];
    let mut sent: Vec<ClOrdId> = Vec::new();
    let mut out = Vec::new();
    for (dt, step) in steps {
        t += dt;
        let stamp = Stamp {
            ts_recv: 7 * t + 3,
            ts_event: t,
        };
        out.push(match *step {
            Step::Tick {
                symbol,
                bid,
                bid_qty,
                spread,
                ask_qty,
                cause,
                print,
                print_qty,
                trading,
            } => VenueCommand::Tick {
                view: MarketView {
                    stamp,
                    bid_px: Price(bid * 100),
                    ask_px: Price((bid + spread) * 100),
                    print_px: Price(print * 100),
                    bid_qty,
                    ask_qty,
                    print_qty,
                    symbol: SymbolId(symbol),
                    cause,
                    status: if trading {
                        TradingStatus::Trading
                    } else {
                        TradingStatus::Halted
                    },
                    match_number: 0,
                },
            },
            Step::New {
                symbol,
                side,
                price,
                qty,
                ioc,
                reuse_id,
            } => {
                let seq = &mut next_seq[symbol as usize];
                let cl_ord_id = if reuse_id && *seq > 1 {
                    ClOrdId::new(SymbolId(symbol), *seq - 1)
                } else {
                    *seq += 1;
                    ClOrdId::new(SymbolId(symbol), *seq - 1)
                };
                sent.push(cl_ord_id);
                VenueCommand::New {
                    stamp,
                    order: OrderIntent {
                        cl_ord_id,
                        price: Price(price * 100),
                        qty,
                        symbol: SymbolId(symbol),
                        side,
                        tif: if ioc {
                            TimeInForce::Ioc
                        } else {
                            TimeInForce::Day
                        },
                    },
                }
            }
            Step::Cancel { pick, unknown } => VenueCommand::Cancel {
                stamp,
                cl_ord_id: match sent.len() {
                    0 => ClOrdId::new(SymbolId(0), 999),
                    _ if unknown => ClOrdId::new(SymbolId(1), 999),
                    n => sent[pick % n],
                },
            },
            Step::CancelAll => VenueCommand::CancelAll { stamp },
            Step::Watermark => VenueCommand::Watermark { stamp },
        });
    }
    out.push(VenueCommand::EndOfSession {
        stamp: Stamp {
            ts_recv: 7 * t + 3,
            ts_event: t,
        },
    });
    out
}

fn run(latency_ns: u64, cmds: &[VenueCommand]) -> (Vec<ExecReport>, SimVenue) {
    let config = SimConfig {
        kind: "sim".into(),
        latency_ns,
    };
    let mut venue = SimVenue::new(2, &config, CAPACITY);
    let mut out = Vec::new();
    for &cmd in cmds {
        venue.on_command(cmd, &mut out);
    }
    (out, venue)
}

/// What the checker knows of one order id.
#[derive(Default)]
struct Seen {
    /// Quantity, side and limit of each `New` with this id, in order.
    news: Vec<(u32, Side, Price)>,
    /// Ack or Rejected reports so far.
    answers: usize,
    /// Open shares, once acked.
    leaves: Option<u32>,
    acked: bool,
    ended: bool,
}

/// Checks every property of one run; panics with the first one broken.
fn check(latency_ns: u64, cmds: &[VenueCommand], reports: &[ExecReport], venue: &SimVenue) {
    let mut orders: HashMap<ClOrdId, Seen> = HashMap::new();
    let mut watermarks = Vec::new();
    for cmd in cmds {
        match *cmd {
            VenueCommand::New { order, .. } => orders
                .entry(order.cl_ord_id)
                .or_default()
                .news
                .push((order.qty, order.side, order.price)),
            VenueCommand::Watermark { stamp } => watermarks.push(stamp.ts_event + latency_ns),
            _ => {}
        }
    }

    let mut last_ts = 0;
    let mut floor = 0;
    let mut answered_watermarks = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let ts = r.stamp.ts_event;
        assert!(ts >= last_ts, "report {i} at {ts} after one at {last_ts}");
        assert!(
            ts >= floor,
            "report {i} at {ts} after a watermark at {floor}"
        );
        last_ts = ts;
        let seen = orders.get_mut(&r.cl_ord_id);
        match r.kind {
            ExecKind::Watermark => {
                floor = ts;
                answered_watermarks.push(ts);
            }
            ExecKind::EndOfSession => assert_eq!(i, reports.len() - 1, "EndOfSession is last"),
            ExecKind::CancelRejected => {}
            ExecKind::VenueDown | ExecKind::VenueUp => {
                panic!("the simulated venue never goes down")
            }
            ExecKind::Ack | ExecKind::Rejected => {
                let seen = seen.expect("answer to a New that was sent");
                let (qty, _, _) = seen.news[seen.answers];
                seen.answers += 1;
                if r.kind == ExecKind::Ack {
                    assert!(!seen.acked, "{:?} acked twice", r.cl_ord_id);
                    assert_eq!(r.leaves, qty);
                    seen.acked = true;
                    seen.leaves = Some(qty);
                }
            }
            ExecKind::Fill | ExecKind::Cancelled => {
                let seen = seen.expect("report about a New that was sent");
                let (_, side, limit) = seen.news[0];
                assert!(seen.acked && !seen.ended, "{r:?} outside the order's life");
                let leaves = seen.leaves.unwrap();
                if r.kind == ExecKind::Fill {
                    assert!(r.qty > 0 && r.qty <= leaves, "{r:?} with {leaves} open");
                    assert_eq!(r.leaves, leaves - r.qty);
                    let fair = match side {
                        Side::Buy => r.price <= limit,
                        Side::Sell => r.price >= limit,
                    };
                    assert!(fair, "{r:?} is worse than the limit {limit}");
                } else {
                    assert_eq!(r.leaves, 0);
                }
                seen.leaves = Some(r.leaves);
                seen.ended = r.leaves == 0;
            }
        }
    }

    assert_eq!(
        answered_watermarks, watermarks,
        "each watermark answered at W + L"
    );
    for (id, seen) in &orders {
        assert_eq!(seen.answers, seen.news.len(), "{id:?}: one answer per New");
        assert_eq!(
            seen.acked, seen.ended,
            "{id:?}: an acked order ends exactly once"
        );
    }
    assert!(venue.is_finished());
    assert_eq!(venue.stats().reports, reports.len() as u64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_streams_keep_every_promise((latency_ns, steps) in stream()) {
        let cmds = commands(&steps);
        let (reports, venue) = run(latency_ns, &cmds);
        check(latency_ns, &cmds, &reports, &venue);
    }

    #[test]
    fn the_same_stream_gives_the_same_reports((latency_ns, steps) in stream()) {
        let cmds = commands(&steps);
        let (first, a) = run(latency_ns, &cmds);
        let (second, b) = run(latency_ns, &cmds);
        prop_assert_eq!(first, second);
        prop_assert_eq!(a.stats(), b.stats());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Watermarks only decide how early reports leave, never what they say: the stream
    /// without them gives the same reports, less the watermark answers.
    #[test]
    fn watermarks_change_no_other_report((latency_ns, steps) in stream()) {
        let cmds = commands(&steps);
        let without: Vec<VenueCommand> = cmds
            .iter()
            .copied()
            .filter(|c| !matches!(c, VenueCommand::Watermark { .. }))
            .collect();
        let (with_marks, _) = run(latency_ns, &cmds);
        let (plain, _) = run(latency_ns, &without);
        let stripped: Vec<ExecReport> = with_marks
            .into_iter()
            .filter(|r| r.kind != ExecKind::Watermark)
            .collect();
        prop_assert_eq!(stripped, plain);
    }
}
