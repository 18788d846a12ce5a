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
use super::positions::Mark;
use crate::msg::{Price, Side, SymbolName, TradingStatus};
use crate::sys::TradingState;

/// Why an order was not sent. The codes are stable: dashboards and tests match on them.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// The latch is `Halted`.
    TradingHalted,
    /// The latch is `ReduceOnly` and the order could increase |position|.
    ReduceOnly,
    /// The feed lost data that may concern the symbol: its book is not to be trusted.
    FeedStale,
    /// The symbol's book is crossed or locked: our view of it is wrong.
    BookCrossed,
    /// The symbol is not trading at the exchange.
    VenueHalted,
    /// No mark: the book has never been two-sided and nothing has printed.
    NoMark,
    /// The mark (a last trade) is older than `max_mark_age_ns`.
    StaleMark,
    /// The price is further than `collar_bps` from the mark.
    PriceCollar,
    MaxOrderQty,
    MaxNotional,
    MaxPosition,
    MaxOpenOrders,
    /// The firm-wide open notional (every live order of every shard) would exceed
    /// `[firm] max_open_notional` (`risk::firm`).
    FirmOpenNotional,
}

impl RejectCode {
    pub const COUNT: usize = 13;
    pub const ALL: [RejectCode; RejectCode::COUNT] = [
        RejectCode::TradingHalted,
        RejectCode::ReduceOnly,
        RejectCode::FeedStale,
        RejectCode::BookCrossed,
        RejectCode::VenueHalted,
        RejectCode::NoMark,
        RejectCode::StaleMark,
        RejectCode::PriceCollar,
        RejectCode::MaxOrderQty,
        RejectCode::MaxNotional,
        RejectCode::MaxPosition,
        RejectCode::MaxOpenOrders,
        RejectCode::FirmOpenNotional,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            RejectCode::TradingHalted => "TRADING_HALTED",
            RejectCode::ReduceOnly => "REDUCE_ONLY",
            RejectCode::FeedStale => "FEED_STALE",
            RejectCode::BookCrossed => "BOOK_CROSSED",
            RejectCode::VenueHalted => "VENUE_HALTED",
            RejectCode::NoMark => "NO_MARK",
            RejectCode::StaleMark => "STALE_MARK",
            RejectCode::PriceCollar => "PRICE_COLLAR",
            RejectCode::MaxOrderQty => "MAX_ORDER_QTY",
            RejectCode::MaxNotional => "MAX_NOTIONAL",
            RejectCode::MaxPosition => "MAX_POSITION",
            RejectCode::MaxOpenOrders => "MAX_OPEN_ORDERS",
            RejectCode::FirmOpenNotional => "FIRM_OPEN_NOTIONAL",
        }
    }

    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
            | RejectCode::BookCrossed => {}
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
            RejectCode::MaxNotional | RejectCode::FirmOpenNotional => {
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
                "FIRM_OPEN_NOTIONAL"
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
