//! Execution reports: venue → risk, over the ring back to the shard that owns the order.

use super::{ClOrdId, Price, Side, Stamp, SymbolId};

/// How a venue keeps time: the half of its contract that decides how risk reads its
/// reports (`stages::risk::venue_sync`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum VenueTiming {
    /// The venue runs in event time (the simulated exchange): reports leave in
    /// non-decreasing `ts_event` and a `Watermark` request is answered once every earlier
    /// report has been sent. Risk applies reports merged with signals by event time and
    /// may wait for a watermark, so a replay decides the same whatever the threads did.
    EventTime,
    /// The venue reports whenever things happen (a live broker): no watermarks, no
    /// promise about order. Risk applies reports in arrival order and never waits for
    /// one; decisions then depend on when reports arrive.
    Asynchronous,
}

/// What a report says.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ExecKind {
    /// The venue accepted the order.
    Ack,
    /// `qty` shares filled at `price`; `leaves` remain open.
    Fill,
    /// The rest of the order was cancelled (on request, IOC remainder, or session end).
    Cancelled,
    /// The venue refused the order; `reason` says why.
    Rejected,
    /// A cancel arrived after the order had already completed.
    CancelRejected,
    /// Every report with an earlier `ts_event` has been sent (answers
    /// [`VenueCommand::Watermark`](super::VenueCommand::Watermark)).
    Watermark,
    /// The venue has finished this shard's session; nothing follows.
    EndOfSession,
    /// An asynchronous venue lost its broker (`reason` `Disconnected`) or found the
    /// broker's account differing from ours (`Reconciliation`, which also halts): risk
    /// refuses new orders with `VENUE_DOWN` until [`ExecKind::VenueUp`]. About no order.
    VenueDown,
    /// The venue is back and reconciled with the broker: orders may go out again.
    VenueUp,
}

/// Why the venue rejected or cancelled.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RejectReason {
    None,
    /// The symbol is not trading at the venue.
    Halted,
    /// No order with that id is open.
    UnknownOrder,
    /// Cancelled on request.
    Requested,
    /// The unfilled part of an IOC order.
    ImmediateOrCancel,
    /// Open at the end of the session.
    EndOfSession,
    /// A duplicate client order id.
    DuplicateId,
    /// No market view for the symbol has reached the venue.
    NoMarket,
    /// The broker refused or cancelled the order itself (IB's error 201, `Inactive`);
    /// the venue keeps the broker's text.
    Broker,
    /// `VenueDown`: the connection to the broker is lost.
    Disconnected,
    /// `VenueDown`: the broker's orders or positions differ from ours; trading halts.
    Reconciliation,
}

/// One execution report.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ExecReport {
    /// `ts_recv` is that of the market data behind the order, so tick-to-fill is
    /// measurable; `ts_event` is when the report reaches the shard in event time.
    pub stamp: Stamp,
    pub cl_ord_id: ClOrdId,
    /// Fill price (`Fill` only).
    pub price: Price,
    /// Filled shares (`Fill` only).
    pub qty: u32,
    /// Shares still open after this report.
    pub leaves: u32,
    /// A `Fill` made against a print: the print's match number
    /// ([`MarketView::match_number`](super::MarketView::match_number)); 0 for any other
    /// report, and for fills against the displayed quote or from a live broker, which no
    /// broken trade on the feed can undo.
    pub match_number: u64,
    pub symbol: SymbolId,
    pub kind: ExecKind,
    pub side: Side,
    pub reason: RejectReason,
}

impl ExecReport {
    /// A report about no order (`Watermark`, `EndOfSession`, or the shell of a
    /// `CancelRejected`): only `kind` and `stamp` mean anything; the rest is zero.
    pub const fn session(kind: ExecKind, stamp: Stamp) -> ExecReport {
        ExecReport {
            stamp,
            cl_ord_id: ClOrdId(0),
            price: Price::ZERO,
            qty: 0,
            leaves: 0,
            match_number: 0,
            symbol: SymbolId(0),
            kind,
            side: Side::Buy,
            reason: RejectReason::None,
        }
    }
}
