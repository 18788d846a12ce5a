//! Pre-trade checks: every proposed order passes all of them or is not sent.
//!
//! [`check`] is a pure function of the proposal and a snapshot of the symbol's state, so
//! each limit is unit-tested alone and the stage's property test can recompute it
//! independently. A failure is a [`Breach`]: a stable code plus the offending value and
//! the limit as integers; nothing is formatted until the report ([`Rejection`]'s
//! `Display`), so a rejection costs no allocation on the hot path.
//!
//! Cancels are never checked: reducing what rests at the venue is always allowed.

use std::fmt;

use super::config::Limits;
use super::controls::SentOrder;
use super::positions::Mark;
use crate::msg::{Price, Side, SymbolName, TradingStatus};
use crate::stages::reject::RejectCode;
use crate::sys::TradingState;

/// A proposed limit order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub side: Side,
    pub price: Price,
    pub qty: u32,
}

/// The symbol's state the checks read, as of the proposal's event time.
#[derive(Copy, Clone, Debug)]
pub struct Snapshot<'a> {
    pub latch: TradingState,
    pub status: TradingStatus,
    pub mark: Option<Mark>,
    /// Event time of the decision.
    pub now: u64,
    pub position: i64,
    /// Open shares of live buy and sell orders.
    pub open_buy: i64,
    pub open_sell: i64,
    pub live_orders: usize,
    pub limits: &'a Limits,
    /// On the restricted list.
    pub restricted: bool,
    /// Latched by repeated executions.
    pub symbol_halted: bool,
    /// Event time the top of book last changed; `None` before the first view.
    pub quote_ts: Option<u64>,
    /// Our highest live buy and lowest live sell on the symbol.
    pub own_bid: Option<Price>,
    pub own_ask: Option<Price>,
    /// The last order sent on the symbol.
    pub last_order: Option<SentOrder>,
    /// `New`s and `Cancel`s sent in the current one-second window.
    pub messages: u32,
    /// The Reg SHO price test is in effect.
    pub short_sale_restricted: bool,
    /// The best bid; `None` when the bid side is empty.
    pub best_bid: Option<Price>,
}

/// A failed check: its code, the offending value and the limit it broke. Units depend on
/// the code (see [`Rejection`]'s `Display`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    pub code: RejectCode,
    pub value: i64,
    pub limit: i64,
}

/// A rejection with its context, as kept for the report.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub symbol: SymbolName,
    pub ts_event: u64,
    pub breach: Breach,
}

impl fmt::Display for Rejection {
    /// `MAX_NOTIONAL symbol=AAPL value=60000.0000 limit=50000.0000 ts=…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Breach { code, value, limit } = self.breach;
        write!(f, "{code} symbol={}", self.symbol)?;
        match code {
            RejectCode::TradingHalted
            | RejectCode::NoMark
            | RejectCode::FeedStale
            | RejectCode::BookCrossed
            | RejectCode::Restricted
            | RejectCode::RepeatedExecutions
            | RejectCode::VenueDown => {}
            RejectCode::Throttled => write!(f, " tokens={value} rate_per_s={limit}")?,
            RejectCode::QuoteStale => write!(f, " age_ns={value} limit_ns={limit}")?,
            RejectCode::SelfMatch => {
                write!(f, " price={} own_price={}", Price(value), Price(limit))?;
            }
            RejectCode::DuplicateOrder => {
                write!(f, " since_ns={value} window_ns={limit}")?;
            }
            RejectCode::MessageRate | RejectCode::FirmMessageRate => {
                write!(f, " sent={value} limit={limit}")?;
            }
            RejectCode::ShortSaleRestricted => {
                write!(f, " price={} best_bid={}", Price(value), Price(limit))?;
            }
            RejectCode::ReduceOnly => {
                write!(f, " order_qty={value} reducible_qty={limit}")?;
            }
            RejectCode::VenueHalted => {
                let status = u8::try_from(value).map_or('?', char::from);
                write!(f, " status={status}")?;
            }
            RejectCode::StaleMark => write!(f, " age_ns={value} limit_ns={limit}")?,
            RejectCode::PriceCollar => {
                write!(f, " deviation_bps>={value} limit_bps={limit}")?;
            }
            RejectCode::MaxNotional
            | RejectCode::FirmOpenNotional
            | RejectCode::FirmGrossNotional => {
                write!(f, " notional={} limit={}", Price(value), Price(limit))?;
            }
            RejectCode::MaxOrderQty | RejectCode::MaxPosition | RejectCode::MaxOpenOrders => {
                write!(f, " value={value} limit={limit}")?;
            }
        }
        write!(f, " ts={}", self.ts_event)
    }
}

/// Runs every check in a fixed order; the first that fails names the rejection.
#[inline]
pub fn check(p: &Proposal, s: &Snapshot<'_>) -> Result<(), Breach> {
    let limits = s.limits;
    let qty = i64::from(p.qty);
    let breach = |code, value: i64, limit: i64| Err(Breach { code, value, limit });
    match s.latch {
        TradingState::Halted => return breach(RejectCode::TradingHalted, 0, 0),
        TradingState::ReduceOnly => {
            // Reducible: what the position can shrink by once the same-side orders that
            // already reduce it have filled. Anything beyond would flip or grow it.
            let reducible = match p.side {
                Side::Sell => s.position - s.open_sell,
                Side::Buy => -s.position - s.open_buy,
            };
            if qty > reducible {
                return breach(RejectCode::ReduceOnly, qty, reducible.max(0));
            }
        }
        TradingState::Active => {}
    }
    if s.restricted {
        return breach(RejectCode::Restricted, 0, 0);
    }
    if s.symbol_halted {
        return breach(RejectCode::RepeatedExecutions, 0, 0);
    }
    match s.status {
        TradingStatus::Trading => {}
        TradingStatus::FeedStale => return breach(RejectCode::FeedStale, 0, 0),
        TradingStatus::BookCrossed => return breach(RejectCode::BookCrossed, 0, 0),
        other => return breach(RejectCode::VenueHalted, i64::from(other as u8), 0),
    }
    let Some(mark) = s.mark.filter(|m| m.price > Price::ZERO) else {
        return breach(RejectCode::NoMark, 0, 0);
    };
    let age = s.now.saturating_sub(mark.ts_event);
    if age > limits.max_mark_age_ns {
        return breach(
            RejectCode::StaleMark,
            clamp_i64(age),
            clamp_i64(limits.max_mark_age_ns),
        );
    }
    // Never quoted (a mark from a print alone) counts as infinitely old.
    let quote_age = s.quote_ts.map_or(u64::MAX, |t| s.now.saturating_sub(t));
    if quote_age > limits.max_quote_age_ns {
        return breach(
            RejectCode::QuoteStale,
            clamp_i64(quote_age),
            clamp_i64(limits.max_quote_age_ns),
        );
    }
    let distance = i128::from((p.price.0 - mark.price.0).abs()) * 10_000;
    let allowed = i128::from(limits.collar_bps) * i128::from(mark.price.0);
    if distance > allowed {
        let m = i128::from(mark.price.0);
        let bps = (distance + m - 1) / m;
        return breach(
            RejectCode::PriceCollar,
            i64::try_from(bps).unwrap_or(i64::MAX),
            i64::from(limits.collar_bps),
        );
    }
    if p.qty > limits.max_order_qty {
        return breach(
            RejectCode::MaxOrderQty,
            qty,
            i64::from(limits.max_order_qty),
        );
    }
    let notional = p.price.times(qty);
    if notional > i128::from(limits.max_notional.0) {
        // The decision is exact in `i128`. The value shown fits `i64`: qty ≤ max_order_qty
        // ≤ 1 000 000 here and the price is the book's, an ITCH `Price(4)`, so at most
        // 4.3 × 10^15 units.
        let shown = i64::try_from(notional).unwrap_or(i64::MAX);
        return breach(RejectCode::MaxNotional, shown, limits.max_notional.0);
    }
    let after = match p.side {
        Side::Buy => s.position + s.open_buy + qty,
        Side::Sell => s.position - s.open_sell - qty,
    };
    if after.abs() > i64::from(limits.max_position) {
        return breach(
            RejectCode::MaxPosition,
            after,
            i64::from(limits.max_position),
        );
    }
    if s.live_orders >= limits.max_open_orders as usize {
        return breach(
            RejectCode::MaxOpenOrders,
            s.live_orders as i64,
            i64::from(limits.max_open_orders),
        );
    }
    let crossed_own = match p.side {
        Side::Buy => s.own_ask.filter(|&ask| p.price >= ask),
        Side::Sell => s.own_bid.filter(|&bid| p.price <= bid),
    };
    if let Some(own) = crossed_own {
        return breach(RejectCode::SelfMatch, p.price.0, own.0);
    }
    if let Some(last) = s.last_order {
        let since = s.now.saturating_sub(last.ts_event);
        let same = last.side == p.side && last.price == p.price && last.qty == p.qty;
        if same && since <= limits.duplicate_window_ns {
            return breach(
                RejectCode::DuplicateOrder,
                clamp_i64(since),
                clamp_i64(limits.duplicate_window_ns),
            );
        }
    }
    if s.short_sale_restricted && p.side == Side::Sell && s.position - s.open_sell - qty < 0 {
        // No bid: "above the best bid" cannot be shown, so it is refused (fail closed).
        let bid = s.best_bid.unwrap_or(Price(i64::MAX));
        if p.price <= bid {
            return breach(RejectCode::ShortSaleRestricted, p.price.0, bid.0);
        }
    }
    if s.messages >= limits.max_messages_per_sec {
        return breach(
            RejectCode::MessageRate,
            i64::from(s.messages),
            i64::from(limits.max_messages_per_sec),
        );
    }
    Ok(())
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_order_qty: 100,
        max_notional: Price(100_000_000), // 10 000.00
        max_position: 300,
        collar_bps: 50,
        max_mark_age_ns: 1_000,
        max_open_orders: 2,
        max_quote_age_ns: 2_000,
        max_messages_per_sec: 10,
        halt_messages_per_sec: 20,
        max_repeat_fills: 3,
        repeat_fills_window_ns: 1_000,
        duplicate_window_ns: 500,
        broken_trade_fills: 4,
    };

    fn snapshot() -> Snapshot<'static> {
        Snapshot {
            latch: TradingState::Active,
            status: TradingStatus::Trading,
            mark: Some(Mark {
                price: Price(1_000_000), // 100.00
                ts_event: 5_000,
            }),
            now: 5_000,
            position: 0,
            open_buy: 0,
            open_sell: 0,
            live_orders: 0,
            limits: &LIMITS,
            restricted: false,
            symbol_halted: false,
            quote_ts: Some(5_000),
            own_bid: None,
            own_ask: None,
            last_order: None,
            messages: 0,
            short_sale_restricted: false,
            best_bid: Some(Price(999_900)),
        }
    }

    fn buy(qty: u32) -> Proposal {
        Proposal {
            side: Side::Buy,
            price: Price(1_000_000),
            qty,
        }
    }

    fn code(p: Proposal, s: Snapshot<'_>) -> Option<RejectCode> {
        check(&p, &s).err().map(|b| b.code)
    }

    #[test]
    fn a_proposal_within_every_limit_passes() {
        assert_eq!(check(&buy(100), &snapshot()), Ok(()));
    }

    #[test]
    fn trading_halted() {
        let s = Snapshot {
            latch: TradingState::Halted,
            ..snapshot()
        };
        assert_eq!(code(buy(1), s), Some(RejectCode::TradingHalted));
    }

    #[test]
    fn reduce_only_counts_open_orders_and_never_flips() {
        let reduce_only = |position, open_buy, open_sell| Snapshot {
            latch: TradingState::ReduceOnly,
            position,
            open_buy,
            open_sell,
            ..snapshot()
        };
        let sell = |qty| Proposal {
            side: Side::Sell,
            ..buy(qty)
        };
        assert_eq!(
            code(buy(1), reduce_only(0, 0, 0)),
            Some(RejectCode::ReduceOnly)
        );
        assert_eq!(
            code(sell(1), reduce_only(0, 0, 0)),
            Some(RejectCode::ReduceOnly)
        );
        assert_eq!(code(sell(50), reduce_only(50, 0, 0)), None);
        assert_eq!(
            check(&sell(51), &reduce_only(50, 0, 0)),
            Err(Breach {
                code: RejectCode::ReduceOnly,
                value: 51,
                limit: 50
            }),
            "past flat would open a short"
        );
        assert_eq!(
            code(sell(30), reduce_only(50, 0, 30)),
            Some(RejectCode::ReduceOnly),
            "an open sell already reduces it"
        );
        assert_eq!(code(sell(20), reduce_only(50, 0, 30)), None);
        assert_eq!(
            code(buy(1), reduce_only(50, 0, 0)),
            Some(RejectCode::ReduceOnly)
        );
        assert_eq!(code(buy(40), reduce_only(-40, 0, 0)), None);
    }

    #[test]
    fn venue_halted() {
        for status in [
            TradingStatus::Halted,
            TradingStatus::Paused,
            TradingStatus::QuotationOnly,
            TradingStatus::Unknown,
        ] {
            let s = Snapshot {
                status,
                ..snapshot()
            };
            assert_eq!(code(buy(1), s), Some(RejectCode::VenueHalted));
        }
    }

    #[test]
    fn a_stale_feed_or_crossed_book_blocks_with_its_own_code() {
        for (status, want) in [
            (TradingStatus::FeedStale, RejectCode::FeedStale),
            (TradingStatus::BookCrossed, RejectCode::BookCrossed),
        ] {
            let s = Snapshot {
                status,
                ..snapshot()
            };
            assert_eq!(code(buy(1), s), Some(want));
            let sell = Proposal {
                side: Side::Sell,
                ..buy(1)
            };
            let long = Snapshot { position: 100, ..s };
            assert_eq!(
                code(sell, long),
                Some(want),
                "reducing orders are blocked too: the book is wrong"
            );
        }
    }

    #[test]
    fn no_mark_and_stale_mark() {
        let none = Snapshot {
            mark: None,
            ..snapshot()
        };
        assert_eq!(code(buy(1), none), Some(RejectCode::NoMark));
        let zero = Snapshot {
            mark: Some(Mark {
                price: Price::ZERO,
                ts_event: 5_000,
            }),
            ..snapshot()
        };
        assert_eq!(code(buy(1), zero), Some(RejectCode::NoMark));
        let at_limit = Snapshot {
            now: 6_000,
            ..snapshot()
        };
        assert_eq!(code(buy(1), at_limit), None);
        let stale = Snapshot {
            now: 6_001,
            ..snapshot()
        };
        assert_eq!(
            check(&buy(1), &stale),
            Err(Breach {
                code: RejectCode::StaleMark,
                value: 1_001,
                limit: 1_000
            })
        );
    }

    #[test]
    fn price_collar() {
        let at = |price| Proposal {
            price: Price(price),
            ..buy(1)
        };
        assert_eq!(code(at(1_005_000), snapshot()), None, "exactly 50 bps");
        assert_eq!(code(at(995_000), snapshot()), None);
        assert_eq!(
            check(&at(1_005_001), &snapshot()),
            Err(Breach {
                code: RejectCode::PriceCollar,
                value: 51,
                limit: 50
            })
        );
        assert_eq!(code(at(994_999), snapshot()), Some(RejectCode::PriceCollar));
    }

    #[test]
    fn max_order_qty_and_notional() {
        assert_eq!(code(buy(101), snapshot()), Some(RejectCode::MaxOrderQty));
        let pricey = Proposal {
            price: Price(1_000_100),
            ..buy(100)
        };
        assert_eq!(
            check(&pricey, &snapshot()),
            Err(Breach {
                code: RejectCode::MaxNotional,
                value: 100_010_000,
                limit: 100_000_000
            })
        );
    }

    #[test]
    fn max_position_counts_same_side_open_orders() {
        let s = |position, open_buy, open_sell| Snapshot {
            position,
            open_buy,
            open_sell,
            ..snapshot()
        };
        assert_eq!(code(buy(100), s(200, 0, 0)), None);
        assert_eq!(code(buy(100), s(200, 1, 0)), Some(RejectCode::MaxPosition));
        assert_eq!(
            code(buy(100), s(200, 0, 500)),
            None,
            "sells cannot add to a long"
        );
        let sell = Proposal {
            side: Side::Sell,
            ..buy(100)
        };
        assert_eq!(code(sell, s(-200, 0, 0)), None);
        assert_eq!(
            check(&sell, &s(-200, 0, 1)),
            Err(Breach {
                code: RejectCode::MaxPosition,
                value: -301,
                limit: 300
            })
        );
    }

    #[test]
    fn max_open_orders() {
        let s = Snapshot {
            live_orders: 2,
            ..snapshot()
        };
        assert_eq!(code(buy(1), s), Some(RejectCode::MaxOpenOrders));
    }

    #[test]
    fn restricted_list() {
        let s = Snapshot {
            restricted: true,
            ..snapshot()
        };
        assert_eq!(code(buy(1), s), Some(RejectCode::Restricted));
    }

    #[test]
    fn repeated_executions_latch_refuses_every_order() {
        let s = Snapshot {
            symbol_halted: true,
            position: 100,
            ..snapshot()
        };
        let sell = Proposal {
            side: Side::Sell,
            ..buy(1)
        };
        assert_eq!(code(buy(1), s), Some(RejectCode::RepeatedExecutions));
        assert_eq!(code(sell, s), Some(RejectCode::RepeatedExecutions));
    }

    #[test]
    fn quote_age() {
        let at = |now, quote_ts| Snapshot {
            now,
            quote_ts,
            ..snapshot()
        };
        // The mark is a last trade at 5 000 (1 000 ns of mark age allowed): the quote
        // age alone is under test, so the mark is as fresh as the decision.
        let fresh = |s: Snapshot<'static>| Snapshot {
            mark: Some(Mark {
                price: Price(1_000_000),
                ts_event: s.now,
            }),
            ..s
        };
        assert_eq!(code(buy(1), fresh(at(7_000, Some(5_000)))), None);
        assert_eq!(
            check(&buy(1), &fresh(at(7_001, Some(5_000)))),
            Err(Breach {
                code: RejectCode::QuoteStale,
                value: 2_001,
                limit: 2_000
            })
        );
        assert_eq!(
            code(buy(1), fresh(at(5_000, None))),
            Some(RejectCode::QuoteStale),
            "never quoted"
        );
    }

    #[test]
    fn self_match() {
        let own = |own_bid: Option<i64>, own_ask: Option<i64>| Snapshot {
            own_bid: own_bid.map(Price),
            own_ask: own_ask.map(Price),
            ..snapshot()
        };
        let sell = Proposal {
            side: Side::Sell,
            ..buy(1)
        };
        assert_eq!(code(buy(1), own(None, Some(1_000_100))), None);
        assert_eq!(
            check(&buy(1), &own(None, Some(1_000_000))),
            Err(Breach {
                code: RejectCode::SelfMatch,
                value: 1_000_000,
                limit: 1_000_000
            })
        );
        assert_eq!(
            code(buy(1), own(Some(1_000_000), None)),
            None,
            "a buy never crosses our own buy"
        );
        assert_eq!(
            code(sell, own(Some(1_000_000), None)),
            Some(RejectCode::SelfMatch)
        );
        assert_eq!(code(sell, own(Some(999_900), None)), None);
    }

    #[test]
    fn duplicate_order() {
        let last = |side, qty, ts_event| Snapshot {
            now: 5_000,
            last_order: Some(SentOrder {
                side,
                price: Price(1_000_000),
                qty,
                ts_event,
            }),
            ..snapshot()
        };
        assert_eq!(
            check(&buy(10), &last(Side::Buy, 10, 4_500)),
            Err(Breach {
                code: RejectCode::DuplicateOrder,
                value: 500,
                limit: 500
            })
        );
        assert_eq!(code(buy(10), last(Side::Buy, 10, 4_499)), None, "past T");
        assert_eq!(code(buy(10), last(Side::Buy, 11, 5_000)), None);
        assert_eq!(code(buy(10), last(Side::Sell, 10, 5_000)), None);
    }

    #[test]
    fn message_rate() {
        let sent = |messages| Snapshot {
            messages,
            ..snapshot()
        };
        assert_eq!(code(buy(1), sent(9)), None);
        assert_eq!(
            check(&buy(1), &sent(10)),
            Err(Breach {
                code: RejectCode::MessageRate,
                value: 10,
                limit: 10
            })
        );
    }

    #[test]
    fn short_sale_restriction() {
        let ssr = |position, open_sell| Snapshot {
            short_sale_restricted: true,
            position,
            open_sell,
            ..snapshot()
        };
        let sell = |price, qty| Proposal {
            side: Side::Sell,
            price: Price(price),
            qty,
        };
        assert_eq!(code(sell(1_000_000, 10), ssr(0, 0)), None, "above the bid");
        assert_eq!(
            check(&sell(999_900, 10), &ssr(0, 0)),
            Err(Breach {
                code: RejectCode::ShortSaleRestricted,
                value: 999_900,
                limit: 999_900
            })
        );
        assert_eq!(code(sell(999_900, 10), ssr(10, 0)), None, "flat, not short");
        assert_eq!(
            code(sell(999_900, 10), ssr(10, 5)),
            Some(RejectCode::ShortSaleRestricted),
            "a working sell already takes 5"
        );
        let no_bid = Snapshot {
            best_bid: None,
            ..ssr(0, 0)
        };
        assert_eq!(
            code(sell(1_000_000, 10), no_bid),
            Some(RejectCode::ShortSaleRestricted)
        );
        let lifted = Snapshot {
            short_sale_restricted: false,
            ..ssr(0, 0)
        };
        assert_eq!(code(sell(999_900, 10), lifted), None);
    }

    #[test]
    fn codes_are_stable_and_context_formats_at_report_time() {
        let names: Vec<&str> = RejectCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "TRADING_HALTED",
                "REDUCE_ONLY",
                "FEED_STALE",
                "BOOK_CROSSED",
                "VENUE_HALTED",
                "NO_MARK",
                "STALE_MARK",
                "PRICE_COLLAR",
                "MAX_ORDER_QTY",
                "MAX_NOTIONAL",
                "MAX_POSITION",
                "MAX_OPEN_ORDERS",
                "RESTRICTED",
                "REPEATED_EXECUTIONS",
                "QUOTE_STALE",
                "SELF_MATCH",
                "DUPLICATE_ORDER",
                "MESSAGE_RATE",
                "SHORT_SALE_RESTRICTED",
                "FIRM_OPEN_NOTIONAL",
                "FIRM_GROSS_NOTIONAL",
                "FIRM_MESSAGE_RATE",
                "VENUE_DOWN",
                "THROTTLED"
            ]
        );
        for (i, c) in RejectCode::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
        let r = Rejection {
            symbol: SymbolName::new("AAPL").unwrap(),
            ts_event: 7,
            breach: Breach {
                code: RejectCode::MaxNotional,
                value: 600_000_000,
                limit: 500_000_000,
            },
        };
        assert_eq!(
            r.to_string(),
            "MAX_NOTIONAL symbol=AAPL notional=60000.0000 limit=50000.0000 ts=7"
        );
        let halted = Rejection {
            breach: Breach {
                code: RejectCode::VenueHalted,
                value: i64::from(b'H'),
                limit: 0,
            },
            ..r
        };
        assert_eq!(halted.to_string(), "VENUE_HALTED symbol=AAPL status=H ts=7");
    }
}
