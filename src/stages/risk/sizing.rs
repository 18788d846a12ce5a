//! The execution policy (`[execution]`): how far to trade toward the target, at what
//! price, and which live orders to pull. It proposes; [`super::checks`] disposes.
//!
//! One order per symbol works toward the target at a time. A live order is cancelled
//! (once) when it no longer helps: it trades against the desired direction, it is off
//! the touch, it has outlived `order_ttl_ns`, or the latch forbids what it could do. A
//! new order is proposed only when none is live, so a cancel is always confirmed before
//! its replacement is sized, and the position can never be double-counted.
//!
//! Under reduce-only the target is clamped between flat and the current position: the
//! policy still trades toward flat (a target that flipped from long to short sells the
//! long down to zero) rather than proposing the full flip and having every proposal
//! refused. Under a halt it proposes as usual and the `TRADING_HALTED` check refuses,
//! so the report shows what the halt held back.

use super::config::Pricing;
use super::orders::Order;
use crate::msg::{MarketView, Price, Side, TimeInForce};
use crate::sys::TradingState;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub pricing: Pricing,
    pub tif: TimeInForce,
    pub order_ttl_ns: u64,
}

/// What the symbol holds and has working, as the policy sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Holdings {
    pub position: i64,
    pub open_buy: i64,
    pub open_sell: i64,
}

impl Holdings {
    /// The position if every live order filled.
    #[inline]
    pub fn exposure(&self) -> i64 {
        self.position + self.open_buy - self.open_sell
    }

    /// The largest |position| if every live order on one side filled, with `buy` and
    /// `sell` more shares working: what the firm-wide gross notional values.
    #[inline]
    pub fn worst_case(&self, buy: u32, sell: u32) -> u64 {
        let long = self.position + self.open_buy + i64::from(buy);
        let short = self.position - self.open_sell - i64::from(sell);
        long.unsigned_abs().max(short.unsigned_abs())
    }
}

impl Policy {
    /// Shares to trade: positive buys, negative sells.
    #[inline]
    pub fn desired(&self, latch: TradingState, target: i32, h: &Holdings) -> i64 {
        let target = i64::from(target);
        let target = match latch {
            TradingState::ReduceOnly => target.clamp(h.position.min(0), h.position.max(0)),
            TradingState::Active | TradingState::Halted => target,
        };
        target - h.exposure()
    }

    /// The price to quote `side` at, or `None` when the side it prices from is empty.
    #[inline]
    pub fn price(&self, view: &MarketView, side: Side) -> Option<Price> {
        let from_bid = matches!(
            (self.pricing, side),
            (Pricing::Join, Side::Buy) | (Pricing::Cross, Side::Sell)
        );
        if from_bid {
            (view.bid_qty > 0).then_some(view.bid_px)
        } else {
            (view.ask_qty > 0).then_some(view.ask_px)
        }
    }

    /// Whether a live order (with no cancel in flight) should be cancelled now.
    #[inline]
    pub fn should_cancel(
        &self,
        order: &Order,
        desired: i64,
        view: &MarketView,
        now: u64,
        latch: TradingState,
        h: &Holdings,
    ) -> bool {
        let forbidden = match latch {
            TradingState::Halted => true,
            // Could this side's open orders, all filled, grow or flip the position?
            TradingState::ReduceOnly => match order.side {
                Side::Buy => h.open_buy > -h.position,
                Side::Sell => h.open_sell > h.position,
            },
            TradingState::Active => false,
        };
        let wrong_side = desired != 0 && desired.signum() != order.side.sign();
        let off_touch = self.price(view, order.side) != Some(order.price);
        forbidden || wrong_side || off_touch || self.expired(order, now)
    }

    /// Whether a scheduled slice (`stages::coordinator::dca`) should be cancelled now:
    /// it is priced by its schedule, not the touch, and its quantity is already in the
    /// target, so only the latch or its TTL pulls it.
    #[inline]
    pub fn should_cancel_slice(
        &self,
        order: &Order,
        now: u64,
        latch: TradingState,
        h: &Holdings,
    ) -> bool {
        let forbidden = match latch {
            TradingState::Halted => true,
            TradingState::ReduceOnly => match order.side {
                Side::Buy => h.open_buy > -h.position,
                Side::Sell => h.open_sell > h.position,
            },
            TradingState::Active => false,
        };
        forbidden || self.expired(order, now)
    }

    #[inline]
    fn expired(&self, order: &Order, now: u64) -> bool {
        now.saturating_sub(order.sent_at) > self.order_ttl_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{ClOrdId, Stamp, SymbolId, TradingStatus, ViewCause};
    use crate::stages::risk::orders::OrdState;

    const POLICY: Policy = Policy {
        pricing: Pricing::Join,
        tif: TimeInForce::Day,
        order_ttl_ns: 100,
    };

    fn view(bid_qty: u32, ask_qty: u32) -> MarketView {
        MarketView {
            stamp: Stamp::default(),
            bid_px: Price(1_000_000),
            ask_px: Price(1_000_100),
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

    fn buy_at_bid(sent_at: u64) -> Order {
        Order {
            id: ClOrdId::new(SymbolId(0), 1),
            side: Side::Buy,
            price: Price(1_000_000),
            qty: 10,
            leaves: 10,
            tif: TimeInForce::Day,
            sent_at,
            state: OrdState::Acked,
            pending_cancel: false,
        }
    }

    const FLAT_WORKING_BUY: Holdings = Holdings {
        position: 0,
        open_buy: 10,
        open_sell: 0,
    };

    #[test]
    fn join_and_cross_price_from_the_right_side() {
        let v = view(1, 1);
        assert_eq!(POLICY.price(&v, Side::Buy), Some(Price(1_000_000)));
        assert_eq!(POLICY.price(&v, Side::Sell), Some(Price(1_000_100)));
        let cross = Policy {
            pricing: Pricing::Cross,
            ..POLICY
        };
        assert_eq!(cross.price(&v, Side::Buy), Some(Price(1_000_100)));
        assert_eq!(cross.price(&v, Side::Sell), Some(Price(1_000_000)));
        assert_eq!(POLICY.price(&view(0, 1), Side::Buy), None);
        assert_eq!(cross.price(&view(0, 1), Side::Buy), Some(Price(1_000_100)));
    }

    #[test]
    fn desired_counts_open_orders_and_clamps_under_reduce_only() {
        let h = Holdings {
            position: 100,
            open_buy: 20,
            open_sell: 50,
        };
        assert_eq!(POLICY.desired(TradingState::Active, 200, &h), 130);
        assert_eq!(POLICY.desired(TradingState::Halted, 200, &h), 130);
        assert_eq!(POLICY.desired(TradingState::ReduceOnly, 200, &h), 30);
        assert_eq!(POLICY.desired(TradingState::ReduceOnly, -200, &h), -70);
        assert_eq!(POLICY.desired(TradingState::ReduceOnly, 40, &h), -30);
    }

    #[test]
    fn an_order_that_still_helps_is_kept() {
        let keep = POLICY.should_cancel(
            &buy_at_bid(0),
            0,
            &view(1, 1),
            100,
            TradingState::Active,
            &FLAT_WORKING_BUY,
        );
        assert!(!keep);
        let more = POLICY.should_cancel(
            &buy_at_bid(0),
            5,
            &view(1, 1),
            100,
            TradingState::Active,
            &FLAT_WORKING_BUY,
        );
        assert!(!more);
    }

    #[test]
    fn each_reason_cancels() {
        let cancel = |desired, v: MarketView, now, latch, h: Holdings| {
            POLICY.should_cancel(&buy_at_bid(0), desired, &v, now, latch, &h)
        };
        let active = TradingState::Active;
        assert!(
            cancel(-1, view(1, 1), 0, active, FLAT_WORKING_BUY),
            "wrong side"
        );
        let mut moved = view(1, 1);
        moved.bid_px = Price(1_000_050);
        assert!(
            cancel(0, moved, 0, active, FLAT_WORKING_BUY),
            "off the touch"
        );
        assert!(
            cancel(0, view(0, 1), 0, active, FLAT_WORKING_BUY),
            "side empty"
        );
        assert!(
            cancel(0, view(1, 1), 101, active, FLAT_WORKING_BUY),
            "expired"
        );
        let halted = TradingState::Halted;
        assert!(cancel(0, view(1, 1), 0, halted, FLAT_WORKING_BUY));
        let reduce = TradingState::ReduceOnly;
        assert!(
            cancel(0, view(1, 1), 0, reduce, FLAT_WORKING_BUY),
            "would open"
        );
        let short = Holdings {
            position: -10,
            ..FLAT_WORKING_BUY
        };
        assert!(!cancel(0, view(1, 1), 0, reduce, short), "covers the short");
        let shorter = Holdings {
            position: -9,
            ..FLAT_WORKING_BUY
        };
        assert!(cancel(0, view(1, 1), 0, reduce, shorter), "would flip long");
    }
}
