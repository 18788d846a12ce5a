//! Why an order was not sent: the pre-trade checklist's codes (`risk::checks`).
//!
//! A leaf of its own, not a part of `risk`, because the coordinator records a refused
//! slice's code (`coordinator::SliceFate`) and risk steps the coordinator: with the codes
//! in `risk`, the two would import each other.

use std::fmt;

/// Why an order was not sent. The codes are stable: dashboards and tests match on them.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// The latch is `Halted`.
    TradingHalted,
    /// The latch is `ReduceOnly` and the order could increase |position|.
    ReduceOnly,
    /// The feed lost data that may concern the symbol: its book is not to be trusted.
    FeedStale,
    /// The symbol's book is crossed or locked: our view of it is wrong.
    BookCrossed,
    /// The symbol is not trading at the exchange.
    VenueHalted,
    /// No mark: the book has never been two-sided and nothing has printed.
    NoMark,
    /// The mark (a last trade) is older than `max_mark_age_ns`.
    StaleMark,
    /// The price is further than `collar_bps` from the mark.
    PriceCollar,
    MaxOrderQty,
    MaxNotional,
    MaxPosition,
    MaxOpenOrders,
    /// The symbol is on the configured restricted list.
    Restricted,
    /// The symbol is latched by repeated automated executions (`max_repeat_fills` fills
    /// on one side within `repeat_fills_window_ns`) until an operator re-enables it.
    RepeatedExecutions,
    /// The top of book has not changed for longer than `max_quote_age_ns`.
    QuoteStale,
    /// The order would cross one of our own live orders on the symbol.
    SelfMatch,
    /// The side, price and quantity of the last order sent, within `duplicate_window_ns`.
    DuplicateOrder,
    /// `max_messages_per_sec` `New`s and `Cancel`s already sent in this second.
    MessageRate,
    /// The Reg SHO price test is in effect and a short sale (a sell that would take the
    /// position, counting working sells, below zero) is not priced above the best bid.
    ShortSaleRestricted,
    /// The firm-wide open notional (every live order of every shard) would exceed
    /// `[firm] max_open_notional` (`risk::firm`).
    FirmOpenNotional,
    /// The firm-wide gross notional (every symbol's worst-case position, valued at its
    /// latest order price) would exceed `[firm] max_gross_notional` (`risk::firm`).
    FirmGrossNotional,
    /// `[firm] max_messages_per_sec` `New`s and `Cancel`s of every shard already sent in
    /// this second.
    FirmMessageRate,
    /// An asynchronous venue reported its broker down or not yet reconciled
    /// (`ExecKind::VenueDown`): nothing is sent until it is back.
    VenueDown,
    /// The symbol's share of the venue's message pacing is spent (`risk::pacing`).
    Throttled,
}

impl RejectCode {
    pub const COUNT: usize = 24;
    pub const ALL: [RejectCode; RejectCode::COUNT] = [
        RejectCode::TradingHalted,
        RejectCode::ReduceOnly,
        RejectCode::FeedStale,
        RejectCode::BookCrossed,
        RejectCode::VenueHalted,
        RejectCode::NoMark,
        RejectCode::StaleMark,
        RejectCode::PriceCollar,
        RejectCode::MaxOrderQty,
        RejectCode::MaxNotional,
        RejectCode::MaxPosition,
        RejectCode::MaxOpenOrders,
        RejectCode::Restricted,
        RejectCode::RepeatedExecutions,
        RejectCode::QuoteStale,
        RejectCode::SelfMatch,
        RejectCode::DuplicateOrder,
        RejectCode::MessageRate,
        RejectCode::ShortSaleRestricted,
        RejectCode::FirmOpenNotional,
        RejectCode::FirmGrossNotional,
        RejectCode::FirmMessageRate,
        RejectCode::VenueDown,
        RejectCode::Throttled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            RejectCode::TradingHalted => "TRADING_HALTED",
            RejectCode::ReduceOnly => "REDUCE_ONLY",
            RejectCode::FeedStale => "FEED_STALE",
            RejectCode::BookCrossed => "BOOK_CROSSED",
            RejectCode::VenueHalted => "VENUE_HALTED",
            RejectCode::NoMark => "NO_MARK",
            RejectCode::StaleMark => "STALE_MARK",
            RejectCode::PriceCollar => "PRICE_COLLAR",
            RejectCode::MaxOrderQty => "MAX_ORDER_QTY",
            RejectCode::MaxNotional => "MAX_NOTIONAL",
            RejectCode::MaxPosition => "MAX_POSITION",
            RejectCode::MaxOpenOrders => "MAX_OPEN_ORDERS",
            RejectCode::Restricted => "RESTRICTED",
            RejectCode::RepeatedExecutions => "REPEATED_EXECUTIONS",
            RejectCode::QuoteStale => "QUOTE_STALE",
            RejectCode::SelfMatch => "SELF_MATCH",
            RejectCode::DuplicateOrder => "DUPLICATE_ORDER",
            RejectCode::MessageRate => "MESSAGE_RATE",
            RejectCode::ShortSaleRestricted => "SHORT_SALE_RESTRICTED",
            RejectCode::FirmOpenNotional => "FIRM_OPEN_NOTIONAL",
            RejectCode::FirmGrossNotional => "FIRM_GROSS_NOTIONAL",
            RejectCode::FirmMessageRate => "FIRM_MESSAGE_RATE",
            RejectCode::VenueDown => "VENUE_DOWN",
            RejectCode::Throttled => "THROTTLED",
        }
    }

    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
