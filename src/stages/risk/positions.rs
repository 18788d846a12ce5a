//! Positions, P&L and marks, all in [`Price`] units (running sums in `i128`).
//!
//! Positions are marked to the book (mid of an uncrossed two-sided quote, else the last
//! trade), never to average cost: the predecessor valued net liquidation at cost and so never saw
//! a losing position. Realised P&L uses the average-cost method, but the cost basis is
//! kept as an exact sum rather than a rounded average, so `realised + unrealised` equals
//! the mark-to-market P&L (`cash flow + position × mark`) to the unit; the average price
//! is derived from it for display only.

use crate::msg::{MarketView, MoneyOverflow, Price, Side};

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
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// Shares; negative when short. Bounded by `max_position` (≤ 100 000 000): every
    /// fill is of an order that passed it.
    qty: i64,
    /// The money, exact; `None` once a sum would pass even `i128`, after which it is
    /// unknown for good (never wrapped).
    money: Option<Ledger>,
}

/// A position's running money sums in units, in `i128`: one fill at the config and ITCH
/// bounds moves up to 4.3 × 10^15 units, so about 2 100 of them pass `i64`. Any fill moves
/// less than 2^95 (an `i64` price × u32 shares), so `i128` takes more than 4 billion
/// fills at prices no feed carries (only a hostile venue names one) before the checked
/// adds fail.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Ledger {
    /// Signed cost of the open position under average cost: what was paid for a long
    /// (positive), minus what a short was sold for (negative). Zero when flat.
    open_cost: i128,
    realised: i128,
    /// Cash received minus cash paid, over every fill.
    cash_flow: i128,
}

/// A position's money as the report shows it, in 64-bit fixed point like every report
/// field.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Valuation {
    /// Average entry price of the open position, truncated to whole units; zero when
    /// flat. Display only: P&L is computed from the exact cost basis.
    pub avg_price: Price,
    pub realised: Price,
    /// `(mark − avg) × position`, from the exact cost basis; `None` without a mark.
    pub unrealised: Option<Price>,
    pub cash_flow: Price,
}

impl Default for Position {
    fn default() -> Position {
        Position {
            qty: 0,
            money: Some(Ledger::default()),
        }
    }
}

impl Position {
    #[inline]
    pub fn qty(&self) -> i64 {
        self.qty
    }

    /// The money valued at `mark`; [`MoneyOverflow`] when a figure is beyond what a
    /// [`Price`] holds (±922 trillion) or the exact sums were lost: a wrong number is
    /// never reported. No risk check reads these: they are for the report alone.
    pub fn valuation(&self, mark: Option<Price>) -> Result<Valuation, MoneyOverflow> {
        let m = self.money.ok_or(MoneyOverflow)?;
        let avg_price = if self.qty == 0 {
            0
        } else {
            m.open_cost / i128::from(self.qty)
        };
        let unrealised = match mark {
            Some(mark) => {
                let value = mark.times(self.qty).checked_sub(m.open_cost);
                Some(Price::from_units(value.ok_or(MoneyOverflow)?)?)
            }
            None => None,
        };
        Ok(Valuation {
            avg_price: Price::from_units(avg_price)?,
            realised: Price::from_units(m.realised)?,
            unrealised,
            cash_flow: Price::from_units(m.cash_flow)?,
        })
    }

    /// Mark-to-market P&L at `mark`: cash flow plus position × mark, exact (realised
    /// plus unrealised); `None` once the money is unknown. Flat, it needs no mark.
    #[inline]
    pub fn value(&self, mark: Option<Price>) -> Option<i128> {
        let cash_flow = self.money?.cash_flow;
        match (self.qty, mark) {
            (0, _) => Some(cash_flow),
            (qty, Some(mark)) => cash_flow.checked_add(mark.times(qty)),
            (_, None) => None,
        }
    }

    /// Books a fill: a reduction releases its share of the cost basis into realised P&L;
    /// what goes past flat opens a new position at the fill price.
    #[inline]
    pub fn fill(&mut self, side: Side, price: Price, qty: u32) {
        let q = i64::from(qty);
        let sign = side.sign();
        let held = self.qty.abs();
        let closing = if self.qty.signum() == -sign {
            q.min(held)
        } else {
            0
        };
        self.money = self
            .money
            .and_then(|m| m.fill(sign, price, q, closing, held));
        self.qty += sign * q;
    }
}

impl Ledger {
    /// The sums after a fill of `qty` shares (`sign` +1 buys, −1 sells), of which
    /// `closing` reduce the `held` shares; `None` if a sum would pass `i128`.
    #[inline]
    fn fill(
        mut self,
        sign: i64,
        price: Price,
        qty: i64,
        closing: i64,
        held: i64,
    ) -> Option<Ledger> {
        self.cash_flow = self.cash_flow.checked_sub(price.times(sign * qty))?;
        if closing > 0 {
            let released = if closing == held {
                self.open_cost
            } else {
                self.open_cost.checked_mul(i128::from(closing))? / i128::from(held)
            };
            // |released| ≤ |open_cost|, of the same sign: this cannot overflow.
            self.open_cost -= released;
            self.realised = self
                .realised
                .checked_add(price.times(-sign * closing))?
                .checked_sub(released)?;
        }
        self.open_cost = self
            .open_cost
            .checked_add(price.times(sign * (qty - closing)))?;
        Some(self)
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

    fn valued(p: &Position, mark: &str) -> Valuation {
        p.valuation(Some(px(mark))).unwrap()
    }

    #[test]
    fn average_cost_realises_against_the_average() {
        let mut p = Position::default();
        p.fill(Side::Buy, px("10"), 100);
        p.fill(Side::Buy, px("12"), 100);
        assert_eq!(valued(&p, "11").avg_price, px("11"));
        p.fill(Side::Sell, px("13"), 150);
        assert_eq!(p.qty(), 50);
        assert_eq!(
            valued(&p, "9"),
            Valuation {
                avg_price: px("11"),
                realised: px("300"),
                unrealised: Some(px("-100")),
                cash_flow: px("-250"),
            }
        );
        assert_eq!(p.valuation(None).unwrap().unrealised, None, "no mark");
    }

    #[test]
    fn a_fill_through_flat_opens_the_other_side_at_the_fill_price() {
        let mut p = Position::default();
        p.fill(Side::Sell, px("20"), 10);
        assert_eq!(valued(&p, "19").avg_price, px("20"));
        assert_eq!(valued(&p, "19").unrealised, Some(px("10")));
        p.fill(Side::Buy, px("18"), 25);
        assert_eq!(p.qty(), 15);
        assert_eq!(valued(&p, "18").realised, px("20"));
        assert_eq!(valued(&p, "18").avg_price, px("18"));
        p.fill(Side::Sell, px("18"), 15);
        assert_eq!(
            p,
            Position {
                qty: 0,
                money: Some(Ledger {
                    open_cost: 0,
                    realised: px("20").0.into(),
                    cash_flow: px("20").0.into(),
                }),
            }
        );
    }

    /// 1 000 000 shares at the ITCH maximum, the most one fill moves under the config
    /// bounds: 2 148 losing round trips pass `i64::MIN`, which in `i64` panicked here
    /// (debug) or wrapped (release).
    #[test]
    fn money_beyond_i64_stays_exact_and_is_refused_to_the_report_not_wrapped() {
        let top = Price::from_itch4(u32::MAX);
        let bottom = Price(1);
        let loss_per_trip = i128::from(top.0 - bottom.0) * 1_000_000;
        let trips = 2_200;
        assert!(loss_per_trip * trips > i128::from(i64::MAX));
        let mut p = Position::default();
        for _ in 0..trips {
            p.fill(Side::Buy, top, 1_000_000);
            p.fill(Side::Sell, bottom, 1_000_000);
        }
        assert_eq!(p.qty(), 0);
        assert_eq!(p.money.unwrap().realised, -loss_per_trip * trips);
        assert_eq!(p.money.unwrap().cash_flow, -loss_per_trip * trips);
        assert_eq!(p.valuation(Some(top)), Err(MoneyOverflow));
        // Exact all the way: winning it back lands on zero to the unit.
        for _ in 0..trips {
            p.fill(Side::Buy, bottom, 1_000_000);
            p.fill(Side::Sell, top, 1_000_000);
        }
        assert_eq!(
            valued(&p, "1"),
            Valuation {
                avg_price: Price::ZERO,
                realised: Price::ZERO,
                unrealised: Some(Price::ZERO),
                cash_flow: Price::ZERO,
            }
        );
    }

    #[test]
    fn an_open_position_beyond_i64_is_refused_to_the_report() {
        let top = Price::from_itch4(u32::MAX);
        let mut p = Position::default();
        // 2 148 × 4.3e15 units of cost: past i64, though the average price is not.
        for _ in 0..2_148 {
            p.fill(Side::Buy, top, 1_000_000);
        }
        assert_eq!(p.qty(), 2_148_000_000);
        assert_eq!(p.valuation(None), Err(MoneyOverflow));
        p.fill(Side::Sell, top, 1_000_000);
        assert_eq!(
            p.money.unwrap().realised,
            0,
            "a partial close releases its exact share of the cost"
        );
    }

    #[test]
    fn a_sum_past_i128_leaves_the_money_unknown_for_good() {
        let mut p = Position {
            qty: 0,
            money: Some(Ledger {
                cash_flow: i128::MIN + 1,
                ..Ledger::default()
            }),
        };
        p.fill(Side::Buy, Price(i64::MAX), u32::MAX);
        assert_eq!(p.money, None);
        assert_eq!(p.qty(), i64::from(u32::MAX), "shares are still counted");
        p.fill(Side::Sell, Price(1), u32::MAX);
        assert_eq!(p.qty(), 0);
        assert_eq!(p.valuation(Some(Price(1))), Err(MoneyOverflow));
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
            match_number: 0,
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
            match_number: 0,
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
            let v = p.valuation(Some(Price(mark))).unwrap();
            let total = i128::from(v.realised.0) + i128::from(v.unrealised.unwrap().0) - fees;
            prop_assert_eq!(total, mtm);
            prop_assert_eq!(i128::from(v.cash_flow.0), cash);
            if signed_shares == 0 {
                prop_assert_eq!(v.avg_price, Price::ZERO);
            }
        }
    }
}
