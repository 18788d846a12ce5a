//! The order state machine: our orders at IB, and the translation of what IB says about
//! them into execution reports that are legal for risk's order manager
//! (`stages::risk::orders`), whatever order IB says it in.
//!
//! IB promises no order between `orderStatus`, `openOrder` and `execDetails`, repeats
//! itself, and may report a fill after it reported the order cancelled (the fill
//! happened first). So:
//! - fills come from executions alone, each applied once, keyed by `execId`; positions
//!   follow them, never `orderStatus` fill counts;
//! - `Ack` goes out once, on the first sign IB is working the order (`PreSubmitted`,
//!   `Submitted`) or before the first fill that leaves shares open (risk takes a partial
//!   fill only on an acknowledged order);
//! - an end IB announces (`Cancelled`, `ApiCancelled`, `Inactive`, errors 201 and 202) is
//!   held until the executions reach the filled count IB gave with it, then reported
//!   once: a fill after `Cancelled` is booked before the cancel, never after it;
//! - a `Rejected` is sent only for an order risk has not seen acknowledged, else the end
//!   is a `Cancelled` (risk refuses a reject after an ack);
//! - a `CancelRejected` only answers a cancel risk asked for (not one of a mass cancel).
//!
//! Orders stay in the book after they end, so a late or repeated message about one is
//! recognised and dropped.

use std::collections::{HashMap, HashSet};

use super::events::{ConId, IbExecution, IbOpenOrder, IbOrderId, IbOrderStatus, IbStatus};
use crate::msg::{
    ClOrdId, ExecKind, ExecReport, InFlightOrder, OrderIntent, Price, RejectReason, Side, Stamp,
    SymbolId, TimeInForce,
};

/// How IB said an order ended, waiting for its executions.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    Cancelled(RejectReason),
    Rejected(RejectReason),
}

/// Who asked to cancel an order: risk (answer a refusal) or a mass cancel (risk did not
/// mark the order, so a refusal is not reported).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CancelBy {
    Risk,
    Mass,
}

/// One order of ours at IB.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub cl_ord_id: ClOrdId,
    pub ib_id: IbOrderId,
    pub con_id: ConId,
    pub side: Side,
    pub qty: u32,
    pub limit: Price,
    pub tif: TimeInForce,
    /// The `New`'s stamp: its `ts_recv` goes on every report, so tick-to-fill shows.
    pub stamp: Stamp,
    /// Host time it was placed (the connection's clock): unknown-order deadlines.
    pub placed_ns: u64,
    /// `Ack` reported.
    pub acked: bool,
    /// Shares in executions applied.
    pub filled: u32,
    /// The most `orderStatus` said was filled: executions still owed before an end.
    pub ib_filled: u32,
    pub ending: Option<Ending>,
    pub cancel: Option<CancelBy>,
    /// Resent once after error 103.
    pub resent: bool,
    /// The final report went out.
    pub done: bool,
}

impl Tracked {
    fn leaves(&self) -> u32 {
        self.qty.saturating_sub(self.filled)
    }
}

/// What became of an execution.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ExecOutcome {
    Applied,
    Duplicate,
    /// Not an order of ours (or one of a past session): someone else's fill.
    NotOurs,
}

/// Counters of the translation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookCounts {
    pub duplicate_executions: u64,
    /// Of those, corrections (same `execId` up to its last period, another after it):
    /// the shares are not applied twice; a corrected price is not re-booked.
    pub corrections: u64,
    /// Executions for more shares than the order had open: reported (the fill happened)
    /// and refused by risk, which halts.
    pub overfills: u64,
    /// Executions for an order already reported ended (IB's filled count at its end was
    /// short): reported, and refused by risk, which halts.
    pub fills_after_end: u64,
    /// Messages about an order id we never placed.
    pub unknown_order_messages: u64,
}

/// Every order of one venue, by our id and by IB's.
#[derive(Debug, Default)]
pub struct Book {
    orders: HashMap<ClOrdId, Tracked>,
    by_ib: HashMap<IbOrderId, ClOrdId>,
    /// Executions applied, by `execId` up to its last period (a correction's id differs
    /// only after it), and by whole id.
    exec_ids: HashSet<String>,
    exec_full_ids: HashSet<String>,
    /// Keys of executions IB showed at start-up for orders a past session finished:
    /// history the journal's positions already hold, not someone else's trading.
    history: HashSet<String>,
    /// Net shares per symbol from the fills reported, plus where we started.
    positions: HashMap<SymbolId, i64>,
    /// Event time stamped on reports: the latest command's (an asynchronous venue has no
    /// other; risk does not order its reports by it).
    pub ts_event: u64,
    pub counts: BookCounts,
}

impl Book {
    /// A book whose positions start at `positions` (symbol, signed shares).
    pub fn new(positions: &[(SymbolId, i64)]) -> Book {
        Book {
            positions: positions.iter().copied().collect(),
            ..Book::default()
        }
    }

    /// Records an order placed at IB under `ib_id`.
    pub fn open(
        &mut self,
        order: &OrderIntent,
        stamp: Stamp,
        ib_id: IbOrderId,
        con_id: ConId,
        now_ns: u64,
    ) {
        self.by_ib.insert(ib_id, order.cl_ord_id);
        self.orders.insert(
            order.cl_ord_id,
            Tracked {
                cl_ord_id: order.cl_ord_id,
                ib_id,
                con_id,
                side: order.side,
                qty: order.qty,
                limit: order.price,
                tif: order.tif,
                stamp,
                placed_ns: now_ns,
                acked: false,
                filled: 0,
                ib_filled: 0,
                ending: None,
                cancel: None,
                resent: false,
                done: false,
            },
        );
    }

    /// The order now travels under `ib_id` (the resend after error 103).
    /// An execution IB showed at start-up for an order a past session finished: seen
    /// again (IB repeats executions on request), it is history, not news.
    pub fn before_start(&mut self, e: &IbExecution) {
        self.history.insert(exec_key(&e.exec_id).to_string());
    }

    /// Takes back an order a past session sent (`o`, as its journal last saw it): IB
    /// knows it as `ib_id` if it shows it open or executed. `executions` are IB's for
    /// it; those the journal already applied (the first, by `cumQty`, adding up to
    /// `o.filled`) are marked seen, so reconciliation reports only the rest. Fails,
    /// saying why, when IB's executions cannot make up what the journal applied.
    pub fn adopt(
        &mut self,
        o: &InFlightOrder,
        ib_id: Option<IbOrderId>,
        con_id: ConId,
        executions: &[&IbExecution],
        now_ns: u64,
    ) -> Result<(), String> {
        let id = o.order.cl_ord_id;
        let mut sorted = executions.to_vec();
        sorted.sort_by_key(|e| e.cum_qty);
        let mut seen = 0u32;
        for e in sorted {
            if seen >= o.filled {
                break;
            }
            seen = seen.saturating_add(e.shares);
            self.exec_ids.insert(exec_key(&e.exec_id).to_string());
            self.exec_full_ids.insert(e.exec_id.clone());
        }
        if seen != o.filled {
            return Err(format!(
                "order {id}: the journal applied {} shares filled, IB's executions make {seen}",
                o.filled
            ));
        }
        self.open(&o.order, o.stamp, ib_id.unwrap_or(0), con_id, now_ns);
        if ib_id.is_none() {
            self.by_ib.remove(&0);
        }
        let t = self.orders.get_mut(&id).expect("just opened");
        t.acked = o.acked;
        t.filled = o.filled;
        t.ib_filled = o.filled;
        // Positions are not touched: the setup's starting positions already hold every
        // fill the past session applied.
        Ok(())
    }

    pub fn renumber(&mut self, id: ClOrdId, ib_id: IbOrderId) {
        if let Some(o) = self.orders.get_mut(&id) {
            o.ib_id = ib_id;
            o.resent = true;
            self.by_ib.insert(ib_id, id);
        }
    }

    pub fn get(&self, id: ClOrdId) -> Option<&Tracked> {
        self.orders.get(&id)
    }

    pub fn get_mut(&mut self, id: ClOrdId) -> Option<&mut Tracked> {
        self.orders.get_mut(&id)
    }

    /// Our order that IB's `order_ref` or `order_id` names. The reference first: it is
    /// our `ClOrdId`, unique across shards, while IB's order id is unique only per API
    /// client and each shard is a client of its own, so another shard's order can carry
    /// one of our ids. A reference that is not ours is someone else's order whatever its
    /// id; the id alone decides only a message with no reference (`orderStatus`, errors,
    /// which arrive on this client's connection only).
    pub fn find(&self, order_id: IbOrderId, order_ref: &str) -> Option<ClOrdId> {
        if order_ref.is_empty() {
            return self.by_ib.get(&order_id).copied();
        }
        let id = ClOrdId(order_ref.parse().ok()?);
        self.orders.contains_key(&id).then_some(id)
    }

    /// Orders whose final report has not gone out.
    pub fn live(&self) -> impl Iterator<Item = &Tracked> {
        self.orders.values().filter(|o| !o.done)
    }

    pub fn live_count(&self) -> usize {
        self.live().count()
    }

    /// Moves our position in `symbol` by `shares`: fills a past session applied.
    pub fn add_position(&mut self, symbol: SymbolId, shares: i64) {
        *self.positions.entry(symbol).or_default() += shares;
    }

    /// Our net position in `symbol`: the starting one plus every fill reported.
    pub fn position(&self, symbol: SymbolId) -> i64 {
        self.positions.get(&symbol).copied().unwrap_or(0)
    }

    fn report(&self, o: &Tracked, kind: ExecKind, reason: RejectReason) -> ExecReport {
        ExecReport {
            stamp: Stamp {
                ts_recv: o.stamp.ts_recv,
                ts_event: self.ts_event.max(o.stamp.ts_event),
            },
            cl_ord_id: o.cl_ord_id,
            price: Price::ZERO,
            qty: 0,
            leaves: if kind == ExecKind::Ack { o.leaves() } else { 0 },
            symbol: o.cl_ord_id.symbol(),
            kind,
            side: o.side,
            reason,
            match_number: 0,
        }
    }

    fn ack(&mut self, id: ClOrdId, out: &mut Vec<ExecReport>) {
        let o = &self.orders[&id];
        if o.acked || o.done {
            return;
        }
        out.push(self.report(o, ExecKind::Ack, RejectReason::None));
        self.orders.get_mut(&id).expect("present").acked = true;
    }

    /// Reports the end IB announced once the executions have caught up with it.
    fn try_finish(&mut self, id: ClOrdId, out: &mut Vec<ExecReport>) {
        let o = &self.orders[&id];
        let Some(ending) = o.ending else { return };
        if o.done || o.filled < o.ib_filled {
            return;
        }
        let r = match ending {
            Ending::Rejected(reason) if !o.acked => self.report(o, ExecKind::Rejected, reason),
            Ending::Rejected(reason) | Ending::Cancelled(reason) => {
                self.report(o, ExecKind::Cancelled, reason)
            }
        };
        out.push(r);
        self.orders.get_mut(&id).expect("present").done = true;
    }

    /// IB says the order ended (status or error), with `ib_filled` shares filled by then.
    /// The first end announced stands; a later, different one changes nothing.
    pub fn end(&mut self, id: ClOrdId, ending: Ending, ib_filled: u32, out: &mut Vec<ExecReport>) {
        let Some(o) = self.orders.get_mut(&id) else {
            return;
        };
        o.ib_filled = o.ib_filled.max(ib_filled);
        o.ending.get_or_insert(ending);
        self.try_finish(id, out);
    }

    /// The reason a cancel of this order carries: ours, IOC's, or IB's own.
    pub fn cancel_reason(o: &Tracked) -> RejectReason {
        match (o.cancel, o.tif) {
            (Some(_), _) => RejectReason::Requested,
            (None, TimeInForce::Ioc) => RejectReason::ImmediateOrCancel,
            (None, TimeInForce::Day) => RejectReason::Broker,
        }
    }

    pub fn on_status(&mut self, s: &IbOrderStatus, out: &mut Vec<ExecReport>) {
        let Some(id) = self.by_ib.get(&s.order_id).copied() else {
            self.counts.unknown_order_messages += 1;
            return;
        };
        let o = self.orders.get_mut(&id).expect("indexed");
        o.ib_filled = o.ib_filled.max(s.filled);
        match s.status {
            IbStatus::PreSubmitted | IbStatus::Submitted => self.ack(id, out),
            IbStatus::Cancelled | IbStatus::ApiCancelled => {
                let reason = Self::cancel_reason(o);
                self.end(id, Ending::Cancelled(reason), s.filled, out);
            }
            IbStatus::Inactive => {
                self.end(id, Ending::Rejected(RejectReason::Broker), s.filled, out);
            }
            // Fills come from executions; the rest says nothing final.
            IbStatus::Filled
            | IbStatus::PendingSubmit
            | IbStatus::PendingCancel
            | IbStatus::ApiPending
            | IbStatus::Unknown => self.try_finish(id, out),
        }
    }

    /// Whether the open order is ours; acknowledges it if IB is working it.
    pub fn on_open_order(&mut self, o: &IbOpenOrder, out: &mut Vec<ExecReport>) -> bool {
        let Some(id) = self.find(o.order_id, &o.order_ref) else {
            return false;
        };
        if matches!(o.status, IbStatus::PreSubmitted | IbStatus::Submitted) {
            self.ack(id, out);
        }
        true
    }

    pub fn on_execution(&mut self, e: &IbExecution, out: &mut Vec<ExecReport>) -> ExecOutcome {
        // IB corrects an execution under an id that differs only after its last
        // period: the shares were already applied under the first one.
        let key = exec_key(&e.exec_id);
        if self.history.contains(key) {
            self.counts.duplicate_executions += 1;
            return ExecOutcome::Duplicate;
        }
        let Some(id) = self.find(e.order_id, &e.order_ref) else {
            return ExecOutcome::NotOurs;
        };
        if !self.exec_ids.insert(key.to_string()) {
            if !self.exec_full_ids.contains(&e.exec_id) {
                self.counts.corrections += 1;
            }
            self.counts.duplicate_executions += 1;
            return ExecOutcome::Duplicate;
        }
        self.exec_full_ids.insert(e.exec_id.clone());
        let o = &self.orders[&id];
        if o.done {
            self.counts.fills_after_end += 1;
        }
        if e.shares > o.leaves() {
            self.counts.overfills += 1;
        }
        let leaves = o.leaves().saturating_sub(e.shares);
        if leaves > 0 {
            self.ack(id, out);
        }
        let o = self.orders.get_mut(&id).expect("present");
        o.filled = o.filled.saturating_add(e.shares);
        if leaves == 0 {
            o.done = true;
        }
        let o = &self.orders[&id];
        let mut r = self.report(o, ExecKind::Fill, RejectReason::None);
        r.price = e.price;
        r.qty = e.shares;
        r.leaves = leaves;
        out.push(r);
        *self.positions.entry(id.symbol()).or_insert(0) += o.side.sign() * i64::from(e.shares);
        self.try_finish(id, out);
        ExecOutcome::Applied
    }

    /// Risk's cancel for an order with nothing left to cancel (ended, or never ours): the
    /// refusal risk expects for a cancel that crossed the end.
    pub fn refuse_cancel(&self, id: ClOrdId, out: &mut Vec<ExecReport>) {
        let side = self.orders.get(&id).map_or(Side::Buy, |o| o.side);
        out.push(ExecReport {
            stamp: Stamp {
                ts_recv: 0,
                ts_event: self.ts_event,
            },
            cl_ord_id: id,
            symbol: id.symbol(),
            side,
            ..ExecReport::session(ExecKind::CancelRejected, Stamp::default())
        });
    }

    /// IB refused to cancel (10147 / 10148): answered to risk if risk asked.
    pub fn cancel_refused(&mut self, id: ClOrdId, out: &mut Vec<ExecReport>) {
        let Some(o) = self.orders.get_mut(&id) else {
            return;
        };
        if o.cancel.take() == Some(CancelBy::Risk) {
            let r = self.report(
                &self.orders[&id],
                ExecKind::CancelRejected,
                RejectReason::None,
            );
            out.push(r);
        }
    }
}

/// An execution's id up to its last period: a correction changes only what follows.
fn exec_key(exec_id: &str) -> &str {
    exec_id.rsplit_once('.').map_or(exec_id, |(k, _)| k)
}

#[cfg(test)]
mod tests;
