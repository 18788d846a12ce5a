//! Decoded market data: the decode stage's output.

use super::{Price, Side, Stamp, SymbolId, TradingStatus};

/// One exchange event for one configured symbol, normalised from ITCH.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct MarketEvent {
    /// `ts_event` is the ITCH timestamp: nanoseconds since midnight.
    pub stamp: Stamp,
    pub symbol: SymbolId,
    pub update: MarketUpdate,
}

/// What happened. Order references are unique for the trading day across all symbols.
#[repr(C, u8)]
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum MarketUpdate {
    /// ITCH `H`: the symbol's trading state across US markets.
    Status { status: TradingStatus },
    /// ITCH `h` for the Nasdaq market center (`Q`): an operational halt (`halted`) or
    /// its end. The symbol trades only while `Status` is `Trading` and no operational
    /// halt is in force.
    OperationalHalt { halted: bool },
    /// ITCH `A` and `F`: a new displayed order.
    Add {
        order_ref: u64,
        price: Price,
        shares: u32,
        side: Side,
    },
    /// ITCH `E`: `shares` of a resting order executed at its own price. Every print
    /// carries its match number, which a broken trade (`B`) names.
    Execute {
        order_ref: u64,
        shares: u32,
        match_number: u64,
    },
    /// ITCH `C`: executed at `price`, which may differ from the order's; not `printable`
    /// prints must not count toward volume or the last trade.
    ExecuteAtPrice {
        order_ref: u64,
        price: Price,
        shares: u32,
        printable: bool,
        match_number: u64,
    },
    /// ITCH `X`: `shares` cancelled from a resting order, which stays on the book.
    Cancel { order_ref: u64, shares: u32 },
    /// ITCH `D`: the whole resting order removed.
    Delete { order_ref: u64 },
    /// ITCH `U`: `order_ref` removed and `new_order_ref` added on the same side.
    Replace {
        order_ref: u64,
        new_order_ref: u64,
        price: Price,
        shares: u32,
    },
    /// ITCH `P`: a non-displayed order executed. No side: the message's Buy/Sell field
    /// has read `B` whatever the resting side since 2014-07-14 (ITCH 5.0, "Trade
    /// Message"), so it says nothing.
    Trade {
        price: Price,
        shares: u32,
        match_number: u64,
    },
    /// ITCH `Q`: a cross (auction) print.
    Cross {
        price: Price,
        shares: u64,
        match_number: u64,
    },
    /// ITCH `B`: the execution with this match number was broken (cancelled) after the
    /// fact. The book does not change.
    BrokenTrade { match_number: u64 },
    /// ITCH `Y`: whether the Reg SHO short-sale price test (Rule 201) is in effect.
    ShortSaleRestriction { restricted: bool },
    /// ITCH `W`, sent for every symbol: a market-wide circuit breaker breach that halts
    /// trading (level 3, or level 1 or 2 before 15:25; Rule 80B).
    CircuitBreaker { level: u8 },
    /// The feed lost data that may concern this symbol, or its data stopped
    /// ([`crate::codec::notice`]): its book is stale until a [`MarketUpdate::FeedFresh`].
    FeedStale,
    /// The symbol's data flows again (a source whose book is whole after each quote, e.g.
    /// IB's market data): it is no longer stale.
    FeedFresh,
}
