//! Builds, stamps and counts every report one venue event produces.
//!
//! All reports of one event share its time (`v + latency`), so the stamp is fixed when
//! the reporter is made; counting here, where each report is sent, keeps the statistics
//! equal to what risk receives.

use super::book::Order;
use super::stats::VenueStats;
use crate::msg::{ClOrdId, ExecKind, ExecReport, Price, RejectReason, Stamp};
use crate::sys::edge::Emit;

/// Why the venue refuses a new order: the part of [`RejectReason`] it uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    DuplicateId,
    NoMarket,
    Halted,
}

/// Why the venue cancels what is left of an order: the part of [`RejectReason`] it uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum CancelCause {
    Requested,
    ImmediateOrCancel,
    EndOfSession,
}

/// Sends the reports of one venue event at `ts_event`.
pub(super) struct Reporter<'a, O> {
    out: &'a mut O,
    stats: &'a mut VenueStats,
    ts_event: u64,
}

impl<'a, O: Emit<ExecReport>> Reporter<'a, O> {
    pub fn new(out: &'a mut O, stats: &'a mut VenueStats, ts_event: u64) -> Self {
        Reporter {
            out,
            stats,
            ts_event,
        }
    }

    pub fn ack(&mut self, order: &Order) {
        self.stats.acks += 1;
        self.send(about(
            order,
            ExecKind::Ack,
            RejectReason::None,
            self.ts_event,
        ));
    }

    /// A fill against the displayed quote, which no broken trade can undo. `order`
    /// carries its leaves after this fill.
    pub fn fill(&mut self, order: &Order, price: Price, qty: u32) {
        self.print_fill(order, price, qty, 0);
    }

    /// A fill against the print with `match_number`: the report carries it, so risk can
    /// reverse the fill if the exchange breaks that print (ITCH `B`).
    pub fn print_fill(&mut self, order: &Order, price: Price, qty: u32, match_number: u64) {
        self.stats.fills += 1;
        self.stats.filled_shares += u64::from(qty);
        self.send(ExecReport {
            price,
            qty,
            match_number,
            ..about(order, ExecKind::Fill, RejectReason::None, self.ts_event)
        });
    }

    pub fn cancelled(&mut self, order: &Order, cause: CancelCause) {
        let (counter, reason) = match cause {
            CancelCause::Requested => (&mut self.stats.cancels.requested, RejectReason::Requested),
            CancelCause::ImmediateOrCancel => (
                &mut self.stats.cancels.immediate_or_cancel,
                RejectReason::ImmediateOrCancel,
            ),
            CancelCause::EndOfSession => (
                &mut self.stats.cancels.end_of_session,
                RejectReason::EndOfSession,
            ),
        };
        *counter += 1;
        self.send(ExecReport {
            leaves: 0,
            ..about(order, ExecKind::Cancelled, reason, self.ts_event)
        });
    }

    pub fn rejected(&mut self, order: &Order, refusal: Refusal) {
        let (counter, reason) = match refusal {
            Refusal::DuplicateId => (
                &mut self.stats.rejects.duplicate_id,
                RejectReason::DuplicateId,
            ),
            Refusal::NoMarket => (&mut self.stats.rejects.no_market, RejectReason::NoMarket),
            Refusal::Halted => (&mut self.stats.rejects.halted, RejectReason::Halted),
        };
        *counter += 1;
        self.send(ExecReport {
            leaves: 0,
            ..about(order, ExecKind::Rejected, reason, self.ts_event)
        });
    }

    /// A cancel for `id`, which is not resting. The venue no longer knows the order, so
    /// the report's side means nothing; its `ts_recv` is the cancel's.
    pub fn cancel_rejected(&mut self, id: ClOrdId, ts_recv: u64) {
        self.stats.cancel_rejects += 1;
        self.send(ExecReport {
            cl_ord_id: id,
            symbol: id.symbol(),
            reason: RejectReason::UnknownOrder,
            ..ExecReport::session(
                ExecKind::CancelRejected,
                Stamp {
                    ts_recv,
                    ts_event: self.ts_event,
                },
            )
        });
    }

    pub fn watermark(&mut self, ts_recv: u64) {
        self.stats.watermarks += 1;
        self.send(ExecReport::session(
            ExecKind::Watermark,
            Stamp {
                ts_recv,
                ts_event: self.ts_event,
            },
        ));
    }

    pub fn end_of_session(&mut self, ts_recv: u64) {
        self.send(ExecReport::session(
            ExecKind::EndOfSession,
            Stamp {
                ts_recv,
                ts_event: self.ts_event,
            },
        ));
    }

    fn send(&mut self, report: ExecReport) {
        self.stats.reports += 1;
        self.out.emit(report);
    }
}

/// A report about `order`. `price` and `qty` are zero: they describe fills only.
fn about(order: &Order, kind: ExecKind, reason: RejectReason, ts_event: u64) -> ExecReport {
    ExecReport {
        stamp: Stamp {
            ts_recv: order.ts_recv,
            ts_event,
        },
        cl_ord_id: order.id,
        price: Price::ZERO,
        qty: 0,
        leaves: order.leaves,
        match_number: 0,
        symbol: order.symbol,
        kind,
        side: order.side,
        reason,
    }
}
