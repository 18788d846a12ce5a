//! The seam between the IBKR venue's logic and its wire: what the connection reads from
//! IB, already translated ([`IbEvent`]), and what the venue asks of it ([`IbConnection`]).
//!
//! No `ibapi` type appears here, so the venue's logic builds and is tested without the
//! `ibkr` feature, against a scripted connection; the wire implements [`IbConnection`]
//! over `ibapi`'s sync client (`place_order`/`submit_order`, `cancel_order`,
//! `order_update_stream`, `open_orders`, `executions`, `positions`,
//! `next_valid_order_id`). Quantities and prices are translated at the wire with
//! [`shares`], [`position`] and [`price`]; a value they refuse is an error there, never a
//! rounded guess.

use crate::msg::{Price, Side, TimeInForce};

/// IB's order id (`orderId`): per API client, and it must grow with every order placed.
pub type IbOrderId = i32;

/// IB's contract id (`conId`): one per configured symbol.
pub type ConId = i32;

/// An order's status as `orderStatus` and `openOrder` give it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum IbStatus {
    /// `ApiPending`: held by the API client, not yet sent to IB.
    ApiPending,
    /// `PendingSubmit`: sent, not yet acknowledged by the destination.
    PendingSubmit,
    /// `PreSubmitted`: accepted by IB, held (e.g. outside regular hours).
    PreSubmitted,
    /// `Submitted`: working at the destination.
    Submitted,
    /// `PendingCancel`: a cancel was sent; the order may still fill.
    PendingCancel,
    /// `ApiCancelled`: cancelled before IB acknowledged it.
    ApiCancelled,
    /// `Cancelled`: the rest of the order is cancelled (a fill may still follow it).
    Cancelled,
    /// `Filled`: nothing remains.
    Filled,
    /// `Inactive`: IB holds it but it will not work (rejected, or waiting on a
    /// condition); IB usually sends an error with the reason first.
    Inactive,
    /// A status string this build does not know; the venue treats it as news of nothing.
    Unknown,
}

impl IbStatus {
    /// From IB's status string (`OrderStatusKind`'s wire text).
    pub fn parse(text: &str) -> IbStatus {
        match text {
            "ApiPending" => IbStatus::ApiPending,
            "PendingSubmit" => IbStatus::PendingSubmit,
            "PreSubmitted" => IbStatus::PreSubmitted,
            "Submitted" => IbStatus::Submitted,
            "PendingCancel" => IbStatus::PendingCancel,
            "ApiCancelled" => IbStatus::ApiCancelled,
            "Cancelled" => IbStatus::Cancelled,
            "Filled" => IbStatus::Filled,
            "Inactive" => IbStatus::Inactive,
            _ => IbStatus::Unknown,
        }
    }
}

/// `orderStatus`. Its fill counts are informational only: positions and fills follow
/// executions ([`IbExecution`]), which carry an id and so can be applied exactly once.
#[derive(Clone, Debug, PartialEq)]
pub struct IbOrderStatus {
    pub order_id: IbOrderId,
    pub status: IbStatus,
    pub filled: u32,
    pub remaining: u32,
    pub avg_price: Option<Price>,
}

/// `openOrder`: an order IB holds, ours (`order_ref` is our client order id) or not.
#[derive(Clone, Debug, PartialEq)]
pub struct IbOpenOrder {
    pub order_id: IbOrderId,
    /// `orderRef`, as placed; empty for an order placed without one.
    pub order_ref: String,
    pub con_id: ConId,
    pub side: Side,
    pub qty: u32,
    /// `None` for an order that is not a limit order.
    pub limit: Option<Price>,
    pub status: IbStatus,
}

/// `execDetails`: one fill. `exec_id` is unique per fill; a correction has a new one.
#[derive(Clone, Debug, PartialEq)]
pub struct IbExecution {
    pub exec_id: String,
    pub order_id: IbOrderId,
    pub order_ref: String,
    pub con_id: ConId,
    pub side: Side,
    pub shares: u32,
    pub price: Price,
    /// The order's filled quantity including this fill (`cumQty`).
    pub cum_qty: u32,
    /// IB's execution time text (`yyyymmdd hh:mm:ss`), kept for the record only.
    pub time: String,
}

/// `commissionReport`, joined to its execution by `exec_id`.
#[derive(Clone, Debug, PartialEq)]
pub struct IbCommission {
    pub exec_id: String,
    pub commission: f64,
    pub currency: String,
}

/// `error`: `id` is the order id or request id it concerns, -1 for none.
#[derive(Clone, Debug, PartialEq)]
pub struct IbError {
    pub id: i32,
    pub code: i32,
    pub text: String,
}

/// `position`: the account's holding of one contract.
#[derive(Clone, Debug, PartialEq)]
pub struct IbPosition {
    pub account: String,
    pub con_id: ConId,
    /// Signed shares: negative is short.
    pub position: i64,
}

/// What the connection read from IB, translated, in the order it read it.
#[derive(Clone, Debug, PartialEq)]
pub enum IbEvent {
    /// `nextValidId`: the least order id the server will take now. It can go backwards
    /// after a Gateway restart.
    NextValidId(IbOrderId),
    OrderStatus(IbOrderStatus),
    OpenOrder(IbOpenOrder),
    Execution(IbExecution),
    Commission(IbCommission),
    Error(IbError),
    /// The socket to TWS/Gateway closed, or the client saw it die.
    ConnectionLost,
    /// The connection is back (the wire reconnected on its own, or after
    /// [`IbConnection::reconnect`]).
    ConnectionRestored,
    /// `managedAccounts`.
    ManagedAccounts(Vec<String>),
    Position(IbPosition),
}

/// A new order as the venue places it: a limit order on one contract, our client order
/// id in `orderRef`.
#[derive(Clone, Debug, PartialEq)]
pub struct IbOrder {
    pub order_id: IbOrderId,
    pub con_id: ConId,
    pub side: Side,
    pub qty: u32,
    pub limit: Price,
    pub tif: TimeInForce,
    /// Our `ClOrdId`, as [`crate::msg::ClOrdId`]'s `u64` in decimal.
    pub order_ref: String,
}

/// What reconciliation reads from IB in one go: every open order of the account, every
/// execution of this API client since the session started, and the account's positions.
/// All of the configured account only (a login may manage several).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IbSnapshot {
    pub open_orders: Vec<IbOpenOrder>,
    pub executions: Vec<IbExecution>,
    pub positions: Vec<IbPosition>,
}

/// Why the connection could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not connected: the venue treats the venue as down and reconnects.
    #[error("not connected to TWS/Gateway")]
    Down,
    /// Anything else the wire could not do, in its words.
    #[error("{0}")]
    Failed(String),
}

/// The connection the venue drives. One instance per venue; called from the venue's
/// thread only. Every call but [`reconnect`](IbConnection::reconnect) and
/// [`snapshot`](IbConnection::snapshot) returns without waiting on the server.
pub trait IbConnection: Send + 'static {
    /// Sends a new order (`placeOrder`). Its answers arrive as events.
    fn place(&mut self, order: &IbOrder) -> Result<(), LinkError>;

    /// Sends a cancel (`cancelOrder`). Its answers arrive as events.
    fn cancel(&mut self, order_id: IbOrderId) -> Result<(), LinkError>;

    /// The next event read from IB, or `None` when none is waiting. Never blocks.
    fn poll(&mut self) -> Option<IbEvent>;

    /// Open orders, executions since the session start and positions, each request run
    /// to its end marker (`openOrderEnd`, `execDetailsEnd`, `positionEnd`). Blocks.
    fn snapshot(&mut self) -> Result<IbSnapshot, LinkError>;

    /// The server's next valid order id (`reqIds`), as it says now.
    fn next_valid_id(&mut self) -> Result<IbOrderId, LinkError>;

    /// Drops any old socket and connects again (handshake included). One attempt; the
    /// venue decides when to try (backoff with jitter). Blocks for at most the wire's
    /// connect timeout.
    fn reconnect(&mut self) -> Result<(), LinkError>;

    /// Monotonic nanoseconds: the venue's clock for backoff, deadlines and pacing. The
    /// wire returns the host's monotonic clock; a scripted connection, its script's.
    fn now_ns(&self) -> u64;
}

/// Whole shares from IB's decimal quantity; `None` for a fractional, negative, or
/// too-large one (tickpipe trades whole shares and never rounds a quantity).
pub fn shares(value: f64) -> Option<u32> {
    let whole = value >= 0.0 && value.fract() == 0.0 && value <= f64::from(u32::MAX);
    whole.then_some(value as u32)
}

/// A signed whole-share position from IB's decimal one; `None` if it is fractional or
/// beyond ±2^53 (where an f64 stops holding every integer).
pub fn position(value: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let whole = value.fract() == 0.0 && value.abs() <= EXACT;
    whole.then_some(value as i64)
}

/// A fixed-point price from IB's `f64`, to the nearest 1/10 000; `None` if it is not
/// finite or beyond what a [`Price`] holds.
pub fn price(value: f64) -> Option<Price> {
    let units = (value * Price::SCALE as f64).round();
    let fits = units.is_finite() && units.abs() < 9.0e18;
    fits.then_some(Price(units as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_from_ib_text_and_unknown_text_is_unknown() {
        for (text, status) in [
            ("PendingSubmit", IbStatus::PendingSubmit),
            ("PreSubmitted", IbStatus::PreSubmitted),
            ("Submitted", IbStatus::Submitted),
            ("PendingCancel", IbStatus::PendingCancel),
            ("ApiCancelled", IbStatus::ApiCancelled),
            ("Cancelled", IbStatus::Cancelled),
            ("Filled", IbStatus::Filled),
            ("Inactive", IbStatus::Inactive),
            ("ApiPending", IbStatus::ApiPending),
            ("Bogus", IbStatus::Unknown),
        ] {
            assert_eq!(IbStatus::parse(text), status, "{text}");
        }
    }

    #[test]
    fn quantities_and_prices_translate_exactly_or_not_at_all() {
        assert_eq!(shares(100.0), Some(100));
        assert_eq!(shares(0.5), None);
        assert_eq!(shares(-1.0), None);
        assert_eq!(shares(5e9), None);
        assert_eq!(position(-300.0), Some(-300));
        assert_eq!(position(1.25), None);
        assert_eq!(price(101.25), Some(Price(1_012_500)));
        assert_eq!(price(0.00004), Some(Price(0)));
        assert_eq!(price(f64::NAN), None);
        assert_eq!(price(1e20), None);
    }
}
