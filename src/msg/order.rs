//! Order commands: risk → routing → venue.

use super::{ClOrdId, MarketView, Price, Side, Stamp, SymbolId};

/// How long an order may rest; `time_in_force` in `[execution]` (`"day"`, `"ioc"`).
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeInForce {
    /// Rests until filled, cancelled or the end of the session.
    Day,
    /// Immediate or cancel: whatever does not fill on arrival is cancelled.
    Ioc,
}

/// A new limit order that risk has accepted.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct OrderIntent {
    pub cl_ord_id: ClOrdId,
    pub price: Price,
    pub qty: u32,
    pub symbol: SymbolId,
    pub side: Side,
    pub tif: TimeInForce,
}

/// An order a resumed session's journal holds as sent with no final report: what the
/// shard last saw of it, which a live venue settles with its broker before trading
/// (`Venue::reconcile`). Not a ring message: it crosses from the journal to the venue
/// once, at start-up.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct InFlightOrder {
    /// The order as sent: id, side, size, limit, symbol.
    pub order: OrderIntent,
    /// The `New` command's stamp.
    pub stamp: Stamp,
    /// Whether the shard applied an `Ack` for it.
    pub acked: bool,
    /// The shares of it the shard applied fills for.
    pub filled: u32,
}

/// What crosses the risk → routing and routing → venue edges.
///
/// All commands on one edge are in non-decreasing `ts_event` order. The simulated venue
/// runs in that event time: a command sent at `t` arrives at `t + latency`.
#[repr(C, u8)]
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum VenueCommand {
    /// Place a new order.
    New { stamp: Stamp, order: OrderIntent },
    /// Cancel what is left of an order.
    Cancel { stamp: Stamp, cl_ord_id: ClOrdId },
    /// Cancel every open order of this shard (kill switch; sent by routing).
    CancelAll { stamp: Stamp },
    /// The market for a symbol with orders at the venue: the simulated venue matches
    /// against these. Risk sends one before the first order of a symbol, then one per
    /// view while the symbol has live orders.
    Tick { view: MarketView },
    /// No command with an earlier `ts_event` will follow. Answered by an
    /// [`ExecKind::Watermark`](super::ExecKind::Watermark) once every report due
    /// before `ts_event + latency` has been sent.
    Watermark { stamp: Stamp },
    /// The shard's input has ended: the venue cancels what rests, answers
    /// [`ExecKind::EndOfSession`](super::ExecKind::EndOfSession), and expects no more.
    EndOfSession { stamp: Stamp },
}

impl VenueCommand {
    #[inline]
    pub fn stamp(&self) -> Stamp {
        match *self {
            VenueCommand::New { stamp, .. }
            | VenueCommand::Cancel { stamp, .. }
            | VenueCommand::CancelAll { stamp }
            | VenueCommand::Watermark { stamp }
            | VenueCommand::EndOfSession { stamp } => stamp,
            VenueCommand::Tick { view } => view.stamp,
        }
    }
}

impl super::Stamped for VenueCommand {
    #[inline]
    fn stamp(&self) -> Stamp {
        VenueCommand::stamp(self)
    }
}
