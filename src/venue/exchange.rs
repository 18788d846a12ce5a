//! What happens at one venue instant: a command arrives, or a tick shows the market.
//!
//! Matching has no market impact: the replayed book is the market, and our fills do not
//! change it. So an order trades only against what the replay shows: the displayed
//! opposite side when it arrives (once per displayed share, see `market`), then, while
//! it rests, prints that traded through its price and quotes that moved through it.

use super::book::{Book, Order, crosses};
use super::in_flight::{Action, InFlight};
use super::market::Market;
use super::reporter::{CancelCause, Refusal, Reporter};
use crate::msg::{
    ClOrdId, ExecReport, MarketView, OrderIntent, Side, TimeInForce, TradingStatus, ViewCause,
};
use crate::sys::edge::Emit;

/// Every symbol's market and our resting orders.
pub(super) struct Exchange {
    markets: Vec<Market>,
    book: Book,
}

impl Exchange {
    pub fn new(universe_len: usize, capacity: usize) -> Exchange {
        Exchange {
            markets: vec![Market::default(); universe_len],
            book: Book::new(universe_len, capacity),
        }
    }

    /// Handles `cmd` at its arrival time.
    pub fn arrive<O: Emit<ExecReport>>(&mut self, cmd: InFlight, rep: &mut Reporter<'_, O>) {
        match cmd.action {
            Action::New(order) => self.new_order(order, cmd.ts_recv, rep),
            Action::Cancel(id) => self.cancel(id, cmd.ts_recv, rep),
            Action::CancelAll => self.cancel_all(CancelCause::Requested, rep),
        }
    }

    /// Cancels every resting order, in `ClOrdId` order.
    pub fn cancel_all<O: Emit<ExecReport>>(
        &mut self,
        cause: CancelCause,
        rep: &mut Reporter<'_, O>,
    ) {
        self.book.drain(|order| rep.cancelled(order, cause));
    }

    /// Takes `view` as its symbol's market and fills resting orders it trades through.
    pub fn tick<O: Emit<ExecReport>>(&mut self, view: &MarketView, rep: &mut Reporter<'_, O>) {
        let market = &mut self.markets[view.symbol.index()];
        market.update(view);
        if view.status != TradingStatus::Trading {
            return;
        }
        let book = &mut self.book;
        let symbol = view.symbol;

        // Prints first: they happened in this event, before the quote it leaves behind.
        // Whoever traded at the print would have traded with our better-priced orders
        // first, at our price; a cross fills everyone at the cross price.
        // Each fill names the print's match number, so a broken trade can find it.
        if view.print_qty > 0 {
            let (px, qty, m) = (view.print_px, view.print_qty, view.match_number);
            if let Some(side) = view.cause.resting_side() {
                book.sweep(symbol, side, px, qty, |o, q| {
                    rep.print_fill(o, o.price, q, m)
                });
            } else if view.cause == ViewCause::Cross {
                // The cross matched `qty` shares on each side, so each side of ours may
                // take that many.
                for side in [Side::Buy, Side::Sell] {
                    book.sweep(symbol, side, px, qty, |o, q| rep.print_fill(o, px, q, m));
                }
            } else if view.cause == ViewCause::Hidden {
                // A hidden order traded and ITCH does not say which side it rested on:
                // either side of ours priced through the print may have been the better
                // counterparty, at its own price, for `qty` shares in all.
                let taken = book.sweep(symbol, Side::Buy, px, qty, |o, q| {
                    rep.print_fill(o, o.price, q, m)
                });
                book.sweep(symbol, Side::Sell, px, qty - taken, |o, q| {
                    rep.print_fill(o, o.price, q, m)
                });
            }
        }

        // A quote through a resting order: the shares displayed there would have traded
        // with it, at its price.
        for side in [Side::Buy, Side::Sell] {
            let level = market.opposite(side);
            if let Some(px) = level.price() {
                let taken = book.sweep(symbol, side, px, level.available(), |o, q| {
                    rep.fill(o, o.price, q)
                });
                level.take(taken);
            }
        }
    }

    fn new_order<O: Emit<ExecReport>>(
        &mut self,
        new: OrderIntent,
        ts_recv: u64,
        rep: &mut Reporter<'_, O>,
    ) {
        let mut order = Order {
            id: new.cl_ord_id,
            price: new.price,
            leaves: new.qty,
            symbol: new.symbol,
            side: new.side,
            ts_recv,
        };
        let market = &mut self.markets[new.symbol.index()];
        let refusal = if !market.claim_id(new.cl_ord_id) {
            Some(Refusal::DuplicateId)
        } else {
            match market.status() {
                None => Some(Refusal::NoMarket),
                Some(TradingStatus::Trading) => None,
                Some(_) => Some(Refusal::Halted),
            }
        };
        if let Some(refusal) = refusal {
            return rep.rejected(&order, refusal);
        }
        rep.ack(&order);

        let level = market.opposite(new.side);
        if let Some(px) = level.price().filter(|&px| crosses(new.side, new.price, px)) {
            let qty = order.leaves.min(level.available());
            if qty > 0 {
                level.take(qty);
                order.leaves -= qty;
                rep.fill(&order, px, qty);
            }
        }

        match (order.leaves, new.tif) {
            // Its last fill, with leaves 0, ended it.
            (0, _) if new.qty > 0 => {}
            (1.., TimeInForce::Day) => self.book.insert(order),
            // The rest of an IOC, or a zero-share order, which could neither rest nor
            // complete by a fill and must still end exactly once.
            _ => rep.cancelled(&order, CancelCause::ImmediateOrCancel),
        }
    }

    fn cancel<O: Emit<ExecReport>>(
        &mut self,
        id: ClOrdId,
        ts_recv: u64,
        rep: &mut Reporter<'_, O>,
    ) {
        match self.book.remove(id) {
            Some(order) => rep.cancelled(&order, CancelCause::Requested),
            None => rep.cancel_rejected(id, ts_recv),
        }
    }
}
