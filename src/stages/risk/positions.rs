//! Positions, P&L and marks, all in [`Price`] fixed point.
//!
//! Positions are marked to the book (mid of an uncrossed two-sided quote, else the last
//! trade), never to average cost: the predecessor valued net liquidation at cost and so never saw
//! a losing position. Realised P&L uses the average-cost method, but the cost basis is
//! kept as an exact sum rather than a rounded average, so `realised + unrealised` equals
//! the mark-to-market P&L (`cash flow + position × mark`) to the unit; the average price
//! is derived from it for display only.

use crate::msg::{MarketView, Price, Side};

/// A price to value a position at, and the event time it was observed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub price: Price,
    pub ts_event: u64,
}

/// Where a symbol's mark comes from: the mid of the latest view when it is two-sided,
/// else the last trade print with its own (ageing) time.
///
/// A crossed or locked book (best bid ≥ best ask) says the view is wrong, so its mid is
/// no price: it leaves the mark as it was, the last uncrossed mid keeping its own time.
/// The mark then ages while the book stays crossed, and `STALE_MARK` blocks trading once
/// it is older than the limit (risk also refuses the symbol with `BOOK_CROSSED`). Taken
/// at face value, one bogus bid per symbol moved unrealised P&L by −87 240 (NLV −8.7%).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct MarkSource {
    mid: Option<Mark>,
    last_trade: Option<Mark>,
}

impl MarkSource {
    #[inline]
    pub fn observe(&mut self, view: &MarketView) {
        let ts_event = view.stamp.ts_event;
        let crossed = view.is_two_sided() && view.bid_px >= view.ask_px;
        if !crossed {
            self.mid = view.mid().map(|price| Mark { price, ts_event });
        }
        if view.print_qty > 0 && view.cause.is_trade() {
            self.last_trade = Some(Mark {
                price: view.print_px,
                ts_event,
            });
        }
    }

    /// `None` until the book has been two-sided or a trade has printed: fail closed.
    #[inline]
    pub fn mark(&self) -> Option<Mark> {
        self.mid.or(self.last_trade)
    }
}

/// One symbol's position and P&L.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Shares; negative when short.
    qty: i64,
    /// Signed cost of the open position under average cost: what was paid for a long
    /// (positive), minus what a short was sold for (negative). Zero when flat.
    open_cost: Price,
    realised: Price,
    /// Cash received minus cash paid, over every fill.
    cash_flow: Price,
}

impl Position {
    #[inline]
    pub fn qty(&self) -> i64 {
        self.qty
    }

    #[inline]
    pub fn realised(&self) -> Price {
        self.realised
    }

    #[inline]
    pub fn cash_flow(&self) -> Price {
        self.cash_flow
    }

    /// Average entry price of the open position, truncated to whole units; zero when
    /// flat. Display only: P&L is computed from the exact cost basis.
    pub fn avg_price(&self) -> Price {
        if self.qty == 0 {
            Price::ZERO
        } else {
            Price(self.open_cost.0 / self.qty)
        }
    }

    /// `(mark − avg) × position`, from the exact cost basis.
    pub fn unrealised(&self, mark: Price) -> Price {
        Price(mark.times(self.qty).0 - self.open_cost.0)
    }

    /// Books a fill: a reduction releases its share of the cost basis into realised P&L;
    /// what goes past flat opens a new position at the fill price.
    #[inline]
    pub fn fill(&mut self, side: Side, price: Price, qty: u32) {
        let q = i64::from(qty);
        let sign = side.sign();
        self.cash_flow.0 -= price.times(sign * q).0;
        let held = self.qty.abs();
        let closing = if self.qty.signum() == -sign {
            q.min(held)
        } else {
            0
        };
        if closing > 0 {
            let released = if closing == held {
                self.open_cost.0
            } else {
                (i128::from(self.open_cost.0) * i128::from(closing) / i128::from(held)) as i64
            };
            self.open_cost.0 -= released;
            self.realised.0 += price.times(-sign * closing).0 - released;
            self.qty += sign * closing;
        }
        let opening = q - closing;
        self.open_cost.0 += price.times(sign * opening).0;
        self.qty += sign * opening;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{Stamp, SymbolId, TradingStatus, ViewCause};
    use proptest::prelude::*;

    fn px(s: &str) -> Price {
        s.parse().unwrap()
    }

    #[test]
    fn average_cost_realises_against_the_average() {
        let mut p = Position::default();
        p.fill(Side::Buy, px("10"), 100);
        p.fill(Side::Buy, px("12"), 100);
        assert_eq!(p.avg_price(), px("11"));
        p.fill(Side::Sell, px("13"), 150);
        assert_eq!(p.qty(), 50);
        assert_eq!(p.realised(), px("300"));
        assert_eq!(p.avg_price(), px("11"));
        assert_eq!(p.unrealised(px("9")), px("-100"));
        assert_eq!(p.cash_flow(), px("-250"));
    }

    #[test]
    fn a_fill_through_flat_opens_the_other_side_at_the_fill_price() {
        let mut p = Position::default();
        p.fill(Side::Sell, px("20"), 10);
        assert_eq!(p.avg_price(), px("20"));
        assert_eq!(p.unrealised(px("19")), px("10"));
        p.fill(Side::Buy, px("18"), 25);
        assert_eq!(p.qty(), 15);
        assert_eq!(p.realised(), px("20"));
        assert_eq!(p.avg_price(), px("18"));
        p.fill(Side::Sell, px("18"), 15);
        assert_eq!(
            p,
            Position {
                qty: 0,
                open_cost: Price::ZERO,
                realised: px("20"),
                cash_flow: px("20"),
            }
        );
    }

    #[test]
    fn mark_is_mid_then_last_trade_with_its_time() {
        let view = |ts_event, bid_qty, ask_qty, print_qty, cause| MarketView {
            stamp: Stamp {
                ts_recv: 0,
                ts_event,
            },
            bid_px: px("10"),
            ask_px: px("10.02"),
            print_px: px("10.05"),
            bid_qty,
            ask_qty,
            print_qty,
            symbol: SymbolId(0),
            cause,
            status: TradingStatus::Trading,
        };
        let mut m = MarkSource::default();
        m.observe(&view(1, 100, 0, 0, ViewCause::Quote));
        assert_eq!(m.mark(), None, "one-sided, no trade: no mark");
        m.observe(&view(2, 100, 100, 0, ViewCause::Quote));
        assert_eq!(
            m.mark(),
            Some(Mark {
                price: px("10.01"),
                ts_event: 2
            })
        );
        m.observe(&view(3, 100, 100, 7, ViewCause::AskLifted));
        assert_eq!(
            m.mark(),
            Some(Mark {
                price: px("10.01"),
                ts_event: 3
            })
        );
        m.observe(&view(4, 0, 100, 0, ViewCause::Quote));
        assert_eq!(
            m.mark(),
            Some(Mark {
                price: px("10.05"),
                ts_event: 3
            })
        );
    }

    #[test]
    fn a_crossed_or_locked_book_leaves_the_last_uncrossed_mid_to_age() {
        let view = |ts_event, bid: &str, ask: &str| MarketView {
            stamp: Stamp {
                ts_recv: 0,
                ts_event,
            },
            bid_px: px(bid),
            ask_px: px(ask),
            print_px: Price::ZERO,
            bid_qty: 100,
            ask_qty: 100,
            print_qty: 0,
            symbol: SymbolId(0),
            cause: ViewCause::Quote,
            status: TradingStatus::Trading,
        };
        let last_good = Some(Mark {
            price: px("10.01"),
            ts_event: 1,
        });
        let mut m = MarkSource::default();
        m.observe(&view(1, "10", "10.02"));
        assert_eq!(m.mark(), last_good);
        m.observe(&view(2, "19", "10.02"));
        assert_eq!(m.mark(), last_good, "crossed");
        m.observe(&view(3, "10.02", "10.02"));
        assert_eq!(m.mark(), last_good, "locked");
        m.observe(&view(4, "10.01", "10.02"));
        assert_eq!(m.mark().map(|m| m.ts_event), Some(4), "uncrossed again");
    }

    proptest! {
        /// Position is the sum of signed fills, and realised + unrealised (+ zero fees)
        /// equals mark-to-market P&L computed independently from the fills.
        #[test]
        fn pnl_identity_holds_exactly(
            fills in prop::collection::vec((any::<bool>(), 1i64..2_000_000, 1u32..5_000), 0..60),
            mark in 1i64..2_000_000,
        ) {
            let mut p = Position::default();
            let mut signed_shares = 0i64;
            let mut cash = 0i128;
            for &(buy, price, qty) in &fills {
                let side = if buy { Side::Buy } else { Side::Sell };
                p.fill(side, Price(price), qty);
                signed_shares += side.sign() * i64::from(qty);
                cash -= i128::from(side.sign()) * i128::from(price) * i128::from(qty);
            }
            prop_assert_eq!(p.qty(), signed_shares);
            let mtm = cash + i128::from(signed_shares) * i128::from(mark);
            let fees = 0i128;
            let total = i128::from(p.realised().0) + i128::from(p.unrealised(Price(mark)).0) - fees;
            prop_assert_eq!(total, mtm);
            prop_assert_eq!(i128::from(p.cash_flow().0), cash);
            if signed_shares == 0 {
                prop_assert_eq!(p.avg_price(), Price::ZERO);
            }
        }
    }
}
