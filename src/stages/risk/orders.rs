//! The order manager: one symbol's live orders and the state machine that execution
//! reports drive.
//!
//! | state \ report  | Ack     | Fill, leaves > 0 | Fill, leaves = 0 | Cancelled | Rejected | CancelRejected        |
//! |-----------------|---------|------------------|------------------|-----------|----------|-----------------------|
//! | PendingNew      | Acked   | illegal          | Filled           | Cancelled | Rejected | clears pending-cancel |
//! | Acked           | illegal | PartiallyFilled  | Filled           | Cancelled | illegal  | clears pending-cancel |
//! | PartiallyFilled | illegal | PartiallyFilled  | Filled           | Cancelled | illegal  | clears pending-cancel |
//! | ended           | illegal | illegal          | illegal          | illegal   | illegal  | no effect             |
//!
//! A `CancelRejected` for a live order with no cancel in flight is illegal too. A cancel
//! request only sets the order's pending-cancel flag; the order stays live until the
//! venue says it has ended.
//!
//! Terminal orders leave the storage at once, so it holds only live orders and its
//! capacity, fixed at construction from `max_open_orders`, is never exceeded: the
//! `MAX_OPEN_ORDERS` check runs before every insert. (Today's execution policy proposes
//! an order only for a symbol with none live, so that check cannot fire from the stage;
//! it guards a policy that works several orders at once.) An order's id is never reused (the
//! per-symbol sequence only grows), so a report for an id below the sequence that is not
//! live is a report after the order's end.
//!
//! A report that is not a legal transition is refused with a [`ReportProblem`]; the stage
//! counts it and halts trading (fail closed). A `CancelRejected` for an order that has
//! already ended is legal: it is the venue's answer to a cancel that crossed the order's
//! last fill, and it changes nothing.

use std::fmt;

use crate::msg::{ClOrdId, ExecKind, ExecReport, Price, Side, SymbolId, TimeInForce};

/// A live order's state; terminal states are not stored.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OrdState {
    PendingNew,
    Acked,
    PartiallyFilled,
}

/// One live order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: ClOrdId,
    pub side: Side,
    pub price: Price,
    pub qty: u32,
    /// Shares still open: `qty` minus fills so far.
    pub leaves: u32,
    pub tif: TimeInForce,
    /// Event time the `New` was sent; the TTL counts from here.
    pub sent_at: u64,
    pub state: OrdState,
    /// A `Cancel` is in flight: send no other.
    pub pending_cancel: bool,
}

/// What a legal report did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    Acked,
    Filled {
        side: Side,
        price: Price,
        qty: u32,
    },
    /// `requested`: the order had a cancel in flight.
    Cancelled {
        requested: bool,
    },
    Rejected,
    /// The venue refused a cancel: the order, if still live, may be cancelled again;
    /// otherwise the cancel crossed the order's end.
    CancelRejected,
}

/// Why a report is not a legal transition.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReportProblem {
    /// No order with this id was ever sent by this shard.
    UnknownOrder,
    /// The order has already been filled, cancelled or rejected.
    AfterTerminal,
    /// The report's kind cannot follow the order's state.
    IllegalTransition { from: OrdState },
    /// A fill for more than the order's leaves.
    Overfill { leaves: u32 },
    /// The report's `leaves` disagrees with ours after applying it.
    LeavesMismatch { expected: u32 },
    /// A fill of zero shares.
    EmptyFill,
    /// The report's side is not the order's.
    SideMismatch { expected: Side },
    /// The report's symbol is not the one in its order id.
    SymbolMismatch { expected: SymbolId },
    /// A fill at a price worse than the order's limit.
    PriceThroughLimit { limit: Price },
    /// A `CancelRejected` for a live order with no cancel in flight.
    CancelNotRequested,
    /// Event time earlier than a report (or watermark) already received: the venue
    /// broke its ordering promise, so a decision may have been made without this report.
    OutOfOrder { previous: u64 },
    /// `EndOfSession` before risk asked for it, or any report after it.
    OutsideSession,
}

impl fmt::Display for ReportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ReportProblem::UnknownOrder => f.write_str("UNKNOWN_ORDER"),
            ReportProblem::AfterTerminal => f.write_str("AFTER_TERMINAL"),
            ReportProblem::IllegalTransition { from } => {
                write!(f, "ILLEGAL_TRANSITION from={from:?}")
            }
            ReportProblem::Overfill { leaves } => write!(f, "OVERFILL leaves={leaves}"),
            ReportProblem::LeavesMismatch { expected } => {
                write!(f, "LEAVES_MISMATCH expected={expected}")
            }
            ReportProblem::EmptyFill => f.write_str("EMPTY_FILL"),
            ReportProblem::SideMismatch { expected } => {
                write!(f, "SIDE_MISMATCH expected={expected:?}")
            }
            ReportProblem::SymbolMismatch { expected } => {
                write!(f, "SYMBOL_MISMATCH expected={}", expected.0)
            }
            ReportProblem::PriceThroughLimit { limit } => {
                write!(f, "PRICE_THROUGH_LIMIT limit={limit}")
            }
            ReportProblem::CancelNotRequested => f.write_str("CANCEL_NOT_REQUESTED"),
            ReportProblem::OutOfOrder { previous } => {
                write!(f, "OUT_OF_ORDER previous_ts={previous}")
            }
            ReportProblem::OutsideSession => f.write_str("OUTSIDE_SESSION"),
        }
    }
}

/// One symbol's live orders, in the order they were sent, in storage allocated once.
#[derive(Debug)]
pub struct LiveOrders {
    symbol: SymbolId,
    /// Invariant: `orders.len() ≤ orders.capacity()`, never reallocated.
    orders: Vec<Order>,
    /// Sequence of the next order id; ids start at 1.
    next_seq: u64,
    open_buy: i64,
    open_sell: i64,
}

impl LiveOrders {
    pub fn new(symbol: SymbolId, capacity: usize) -> LiveOrders {
        LiveOrders {
            symbol,
            orders: Vec::with_capacity(capacity),
            next_seq: 1,
            open_buy: 0,
            open_sell: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Open shares of live buy orders.
    #[inline]
    pub fn open_buy(&self) -> i64 {
        self.open_buy
    }

    #[inline]
    pub fn open_sell(&self) -> i64 {
        self.open_sell
    }

    #[inline]
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Order> {
        self.orders.iter_mut()
    }

    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, Order> {
        self.orders.iter()
    }

    /// Our best live price on `side` (highest buy, lowest sell), pending cancels
    /// included: they rest until the venue confirms.
    #[inline]
    pub fn own_best(&self, side: Side) -> Option<Price> {
        let prices = self
            .orders
            .iter()
            .filter(|o| o.side == side)
            .map(|o| o.price);
        match side {
            Side::Buy => prices.max(),
            Side::Sell => prices.min(),
        }
    }

    /// The id the next [`LiveOrders::open`] gives: a decision is journaled under it before
    /// the order is opened.
    #[inline]
    pub fn next_id(&self) -> ClOrdId {
        ClOrdId::new(self.symbol, self.next_seq)
    }

    /// Records a new order and returns it with its id.
    ///
    /// # Panics
    /// If the storage is full: the `MAX_OPEN_ORDERS` check must have run first, and
    /// growing the storage would allocate on the hot path.
    #[inline]
    pub fn open(
        &mut self,
        side: Side,
        price: Price,
        qty: u32,
        tif: TimeInForce,
        now: u64,
    ) -> Order {
        assert!(
            self.orders.len() < self.orders.capacity(),
            "risk: order storage for symbol {} is full; MAX_OPEN_ORDERS must run before open",
            self.symbol.0
        );
        let order = Order {
            id: ClOrdId::new(self.symbol, self.next_seq),
            side,
            price,
            qty,
            leaves: qty,
            tif,
            sent_at: now,
            state: OrdState::PendingNew,
            pending_cancel: false,
        };
        self.next_seq += 1;
        *self.open_mut(side) += i64::from(qty);
        self.orders.push(order);
        order
    }

    /// Applies one order report (`Ack`, `Fill`, `Cancelled`, `Rejected`,
    /// `CancelRejected`) addressed to this symbol; an illegal one changes nothing.
    pub fn apply(&mut self, r: &ExecReport) -> Result<Applied, ReportProblem> {
        if r.symbol != self.symbol {
            return Err(ReportProblem::SymbolMismatch {
                expected: self.symbol,
            });
        }
        let seq = r.cl_ord_id.seq();
        let Some(i) = self.orders.iter().position(|o| o.id == r.cl_ord_id) else {
            return match (seq >= 1 && seq < self.next_seq, r.kind) {
                (true, ExecKind::CancelRejected) => Ok(Applied::CancelRejected),
                (true, _) => Err(ReportProblem::AfterTerminal),
                (false, _) => Err(ReportProblem::UnknownOrder),
            };
        };
        let o = self.orders[i];
        // A cancel-reject is about our request, not the order, and carries no side
        // (`ExecReport::session`); every other report must match the order's.
        if r.kind != ExecKind::CancelRejected && r.side != o.side {
            return Err(ReportProblem::SideMismatch { expected: o.side });
        }
        let illegal = Err(ReportProblem::IllegalTransition { from: o.state });
        match r.kind {
            ExecKind::Ack => {
                if o.state != OrdState::PendingNew {
                    return illegal;
                }
                expect_leaves(r, o.leaves)?;
                self.orders[i].state = OrdState::Acked;
                Ok(Applied::Acked)
            }
            ExecKind::Fill => {
                if r.qty == 0 {
                    return Err(ReportProblem::EmptyFill);
                }
                if r.qty > o.leaves {
                    return Err(ReportProblem::Overfill { leaves: o.leaves });
                }
                let leaves = o.leaves - r.qty;
                expect_leaves(r, leaves)?;
                if o.state == OrdState::PendingNew && leaves > 0 {
                    return illegal;
                }
                let through = match o.side {
                    Side::Buy => r.price > o.price,
                    Side::Sell => r.price < o.price,
                };
                if through || r.price <= Price::ZERO {
                    return Err(ReportProblem::PriceThroughLimit { limit: o.price });
                }
                *self.open_mut(o.side) -= i64::from(r.qty);
                if leaves == 0 {
                    self.orders.remove(i);
                } else {
                    let live = &mut self.orders[i];
                    live.leaves = leaves;
                    live.state = OrdState::PartiallyFilled;
                }
                Ok(Applied::Filled {
                    side: o.side,
                    price: r.price,
                    qty: r.qty,
                })
            }
            ExecKind::Cancelled | ExecKind::Rejected => {
                let rejected = r.kind == ExecKind::Rejected;
                if rejected && o.state != OrdState::PendingNew {
                    return illegal;
                }
                expect_leaves(r, 0)?;
                *self.open_mut(o.side) -= i64::from(o.leaves);
                self.orders.remove(i);
                Ok(if rejected {
                    Applied::Rejected
                } else {
                    Applied::Cancelled {
                        requested: o.pending_cancel,
                    }
                })
            }
            ExecKind::CancelRejected => {
                if !o.pending_cancel {
                    return Err(ReportProblem::CancelNotRequested);
                }
                self.orders[i].pending_cancel = false;
                Ok(Applied::CancelRejected)
            }
            ExecKind::Watermark
            | ExecKind::EndOfSession
            | ExecKind::VenueDown
            | ExecKind::VenueUp => {
                unreachable!("session reports are handled by the stage, not an order")
            }
        }
    }

    #[inline]
    fn open_mut(&mut self, side: Side) -> &mut i64 {
        match side {
            Side::Buy => &mut self.open_buy,
            Side::Sell => &mut self.open_sell,
        }
    }
}

#[inline]
fn expect_leaves(r: &ExecReport, expected: u32) -> Result<(), ReportProblem> {
    if r.leaves == expected {
        Ok(())
    } else {
        Err(ReportProblem::LeavesMismatch { expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{RejectReason, Stamp};

    const SYM: SymbolId = SymbolId(3);

    fn book() -> LiveOrders {
        LiveOrders::new(SYM, 2)
    }

    fn report(id: ClOrdId, kind: ExecKind, qty: u32, leaves: u32) -> ExecReport {
        ExecReport {
            stamp: Stamp::default(),
            cl_ord_id: id,
            price: Price(1_000_000),
            qty,
            leaves,
            symbol: SYM,
            kind,
            side: Side::Buy,
            reason: RejectReason::None,
            match_number: 0,
        }
    }

    fn buy(b: &mut LiveOrders, qty: u32) -> ClOrdId {
        b.open(Side::Buy, Price(1_000_000), qty, TimeInForce::Day, 0)
            .id
    }

    #[test]
    fn a_cancel_reject_for_a_live_sell_carries_no_side_and_is_legal() {
        let mut b = book();
        let id = b
            .open(Side::Sell, Price(1_000_000), 10, TimeInForce::Day, 0)
            .id;
        let ack = ExecReport {
            side: Side::Sell,
            ..report(id, ExecKind::Ack, 0, 10)
        };
        assert_eq!(b.apply(&ack), Ok(Applied::Acked));
        b.iter_mut().next().unwrap().pending_cancel = true;
        // The venue's cancel-reject is a session report: side Buy, meaning nothing.
        let reject = report(id, ExecKind::CancelRejected, 0, 10);
        assert_eq!(b.apply(&reject), Ok(Applied::CancelRejected));
        let wrong_side_fill = report(id, ExecKind::Fill, 5, 5);
        assert_eq!(
            b.apply(&wrong_side_fill),
            Err(ReportProblem::SideMismatch {
                expected: Side::Sell
            })
        );
    }

    #[test]
    fn ids_are_per_symbol_sequences_from_one() {
        let mut b = book();
        assert_eq!(buy(&mut b, 1), ClOrdId::new(SYM, 1));
        assert_eq!(buy(&mut b, 1), ClOrdId::new(SYM, 2));
    }

    #[test]
    fn ack_partial_fill_fill() {
        let mut b = book();
        let id = buy(&mut b, 100);
        assert_eq!(b.open_buy(), 100);
        assert_eq!(
            b.apply(&report(id, ExecKind::Ack, 0, 100)),
            Ok(Applied::Acked)
        );
        assert_eq!(b.iter().next().unwrap().state, OrdState::Acked);
        let filled = b.apply(&report(id, ExecKind::Fill, 40, 60)).unwrap();
        assert_eq!(
            filled,
            Applied::Filled {
                side: Side::Buy,
                price: Price(1_000_000),
                qty: 40
            }
        );
        assert_eq!(b.iter().next().unwrap().state, OrdState::PartiallyFilled);
        assert_eq!(b.open_buy(), 60);
        assert!(b.apply(&report(id, ExecKind::Fill, 60, 0)).is_ok());
        assert!(b.is_empty());
        assert_eq!(b.open_buy(), 0);
        assert_eq!(
            b.apply(&report(id, ExecKind::Fill, 1, 0)),
            Err(ReportProblem::AfterTerminal)
        );
    }

    #[test]
    fn pending_new_may_end_at_once() {
        let mut b = book();
        let filled = buy(&mut b, 10);
        let rejected = buy(&mut b, 10);
        assert!(b.apply(&report(filled, ExecKind::Fill, 10, 0)).is_ok());
        assert_eq!(
            b.apply(&report(rejected, ExecKind::Rejected, 0, 0)),
            Ok(Applied::Rejected)
        );
        let cancelled = buy(&mut b, 10);
        assert_eq!(
            b.apply(&report(cancelled, ExecKind::Cancelled, 0, 0)),
            Ok(Applied::Cancelled { requested: false })
        );
        assert!(b.is_empty());
        assert_eq!(b.open_buy(), 0);
    }

    #[test]
    fn cancel_flag_and_its_answers() {
        let mut b = book();
        let id = buy(&mut b, 10);
        b.apply(&report(id, ExecKind::Ack, 0, 10)).unwrap();
        assert_eq!(
            b.apply(&report(id, ExecKind::CancelRejected, 0, 10)),
            Err(ReportProblem::CancelNotRequested)
        );
        b.iter_mut().next().unwrap().pending_cancel = true;
        assert_eq!(
            b.apply(&report(id, ExecKind::CancelRejected, 0, 10)),
            Ok(Applied::CancelRejected)
        );
        assert!(!b.iter().next().unwrap().pending_cancel);
        b.iter_mut().next().unwrap().pending_cancel = true;
        assert_eq!(
            b.apply(&report(id, ExecKind::Cancelled, 0, 0)),
            Ok(Applied::Cancelled { requested: true })
        );
        assert_eq!(
            b.apply(&report(id, ExecKind::CancelRejected, 0, 0)),
            Ok(Applied::CancelRejected),
            "a cancel that crossed the order's end"
        );
    }

    #[test]
    fn illegal_reports_change_nothing() {
        let mut b = book();
        let id = buy(&mut b, 10);
        let before: Vec<Order> = b.iter().copied().collect();
        let cases = [
            (
                report(ClOrdId::new(SYM, 9), ExecKind::Ack, 0, 10),
                ReportProblem::UnknownOrder,
            ),
            (
                report(ClOrdId::new(SYM, 0), ExecKind::Ack, 0, 10),
                ReportProblem::UnknownOrder,
            ),
            (
                report(id, ExecKind::Fill, 4, 6),
                ReportProblem::IllegalTransition {
                    from: OrdState::PendingNew,
                },
            ),
            (
                report(id, ExecKind::Fill, 11, 0),
                ReportProblem::Overfill { leaves: 10 },
            ),
            (report(id, ExecKind::Fill, 0, 10), ReportProblem::EmptyFill),
            (
                report(id, ExecKind::Ack, 0, 9),
                ReportProblem::LeavesMismatch { expected: 10 },
            ),
            (
                report(id, ExecKind::Cancelled, 0, 3),
                ReportProblem::LeavesMismatch { expected: 0 },
            ),
            (
                ExecReport {
                    side: Side::Sell,
                    ..report(id, ExecKind::Ack, 0, 10)
                },
                ReportProblem::SideMismatch {
                    expected: Side::Buy,
                },
            ),
            (
                ExecReport {
                    symbol: SymbolId(4),
                    ..report(id, ExecKind::Ack, 0, 10)
                },
                ReportProblem::SymbolMismatch { expected: SYM },
            ),
            (
                ExecReport {
                    price: Price(1_000_001),
                    ..report(id, ExecKind::Fill, 10, 0)
                },
                ReportProblem::PriceThroughLimit {
                    limit: Price(1_000_000),
                },
            ),
        ];
        for (r, problem) in cases {
            assert_eq!(b.apply(&r), Err(problem), "{r:?}");
        }
        b.apply(&report(id, ExecKind::Ack, 0, 10)).unwrap();
        assert_eq!(
            b.apply(&report(id, ExecKind::Ack, 0, 10)),
            Err(ReportProblem::IllegalTransition {
                from: OrdState::Acked
            })
        );
        assert_eq!(
            b.apply(&report(id, ExecKind::Rejected, 0, 0)),
            Err(ReportProblem::IllegalTransition {
                from: OrdState::Acked
            })
        );
        assert_eq!(b.iter().next().unwrap().leaves, before[0].leaves);
        assert_eq!(b.open_buy(), 10);
    }

    #[test]
    #[should_panic(expected = "order storage")]
    fn storage_never_grows() {
        let mut b = book();
        buy(&mut b, 1);
        buy(&mut b, 1);
        buy(&mut b, 1);
    }
}
