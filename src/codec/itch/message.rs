//! The 23 ITCH 5.0 message types, as one table.
//!
//! The table below is the specification's field list, type by type. From it the
//! `messages!` macro derives the [`Message`] enum, [`message_len`], the decoder and the
//! encoder, so the four cannot disagree; a compile-time check sums each type's field
//! widths against the length the table states, which are the specification's lengths.
//!
//! Field kinds: `u8` (one byte: a code, or `Integer(1)`), `u16`/`u32`/`u64`
//! (`Integer(2/4/8)`), `Price` (`Price(4)`), `[N]` (`Alpha(N)`, borrowed). Code fields
//! are raw bytes, never validated: real files carry blanks and codes newer than this
//! table, and the decoder must keep them rather than fail.

use super::wire::{OutOfRange, Wire, take};
use crate::msg::Price;

/// Bytes before the first type-specific field: type (1), stock locate (2), tracking
/// number (2), timestamp (6).
pub const HEADER_LEN: usize = 11;

/// Largest timestamp the 6-byte field holds.
pub const MAX_TIMESTAMP: u64 = (1 << 48) - 1;

/// The fields every message starts with, after the type byte.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Header {
    /// The day's locate code of the stock; 0 for market-wide messages.
    pub stock_locate: u16,
    /// Nasdaq internal tracking number.
    pub tracking_number: u16,
    /// Nanoseconds since midnight, at most [`MAX_TIMESTAMP`].
    pub timestamp: u64,
}

impl Header {
    /// Reads the header from `rest`, which starts after the type byte.
    #[inline]
    pub(super) fn read(rest: &mut &[u8]) -> Option<Header> {
        let stock_locate = u16::read(rest)?;
        let tracking_number = u16::read(rest)?;
        let ts = take::<6>(rest)?;
        let timestamp = ts.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        Some(Header {
            stock_locate,
            tracking_number,
            timestamp,
        })
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<(), OutOfRange> {
        if self.timestamp > MAX_TIMESTAMP {
            return Err(OutOfRange);
        }
        self.stock_locate.write(out)?;
        self.tracking_number.write(out)?;
        out.extend_from_slice(&self.timestamp.to_be_bytes()[2..]);
        Ok(())
    }
}

/// Which part of a message would not encode.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Unencodable {
    Timestamp,
    Field(&'static str),
}

/// The Rust type of a field kind in the table.
macro_rules! field_type {
    ($lt:lifetime, [$n:literal]) => { &$lt [u8; $n] };
    ($lt:lifetime, $t:ident) => { $t };
}

macro_rules! messages {
    ($lt:lifetime;
     $(
        $(#[$doc:meta])*
        $name:ident = $kind:literal, $len:literal {
            $( $(#[$fdoc:meta])* $field:ident : $fkind:tt ),+ $(,)?
        }
     )+
    ) => {
        /// One decoded ITCH 5.0 message: a variant per type, every field of that type.
        /// Alpha fields borrow from the decoded bytes.
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        pub enum Message<$lt> {
            $(
                $(#[$doc])*
                $name {
                    header: Header,
                    $( $(#[$fdoc])* $field: field_type!($lt, $fkind), )+
                },
            )+
        }

        /// Every message type byte, in specification order.
        pub const MESSAGE_KINDS: [u8; [$($kind),+].len()] = [$($kind),+];

        /// The exact length of a message of type `kind`, type byte included; `None` for
        /// a type ITCH 5.0 does not define.
        #[inline]
        pub const fn message_len(kind: u8) -> Option<usize> {
            match kind {
                $( $kind => Some($len), )+
                _ => None,
            }
        }

        const _: () = {
            $(
                assert!(
                    HEADER_LEN $( + <field_type!('static, $fkind) as Wire<'static>>::LEN )+
                        == $len,
                    concat!("ITCH ", stringify!($name), ": fields do not sum to its length"),
                );
            )+
        };

        impl<$lt> Message<$lt> {
            /// The type byte.
            #[inline]
            pub const fn kind(&self) -> u8 {
                match self {
                    $( Message::$name { .. } => $kind, )+
                }
            }

            /// The fields every message starts with.
            #[inline]
            pub const fn header(&self) -> Header {
                match *self {
                    $( Message::$name { header, .. } => header, )+
                }
            }

            /// Reads a message whose length has been checked; `None` only if `msg` is
            /// shorter than its type's fields. Always inlined: see [`super::decode`].
            #[inline(always)]
            pub(super) fn read(msg: &$lt [u8]) -> Option<Message<$lt>> {
                let (&kind, mut rest) = msg.split_first()?;
                let header = Header::read(&mut rest)?;
                match kind {
                    $(
                        $kind => Some(Message::$name {
                            header,
                            $( $field: Wire::read(&mut rest)?, )+
                        }),
                    )+
                    _ => None,
                }
            }

            /// Appends the message; on error `out` may hold part of it.
            pub(super) fn write(&self, out: &mut Vec<u8>) -> Result<(), Unencodable> {
                out.push(self.kind());
                match self {
                    $(
                        Message::$name { header, $( $field, )+ } => {
                            header.write(out).map_err(|OutOfRange| Unencodable::Timestamp)?;
                            $(
                                $field.write(out).map_err(|OutOfRange| {
                                    Unencodable::Field(stringify!($field))
                                })?;
                            )+
                        }
                    )+
                }
                Ok(())
            }
        }

        /// Any message of any type, every field drawn over its whole wire range.
        #[cfg(test)]
        pub(super) fn arbitrary_message() -> impl proptest::strategy::Strategy<Value = Message<'static>> {
            use proptest::prelude::*;
            use super::wire::FromRaw;
            // 0 and all-ones truncate to each field's extremes.
            let raw = || prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()];
            let header = || (any::<u16>(), any::<u16>(), 0..=MAX_TIMESTAMP).prop_map(
                |(stock_locate, tracking_number, timestamp)| Header {
                    stock_locate,
                    tracking_number,
                    timestamp,
                },
            );
            proptest::strategy::Union::new([
                $(
                    (header(), proptest::collection::vec(raw(), [$(stringify!($field)),+].len()))
                        .prop_map(|(header, raw)| {
                            let mut raw = raw.into_iter();
                            Message::$name {
                                header,
                                $( $field: FromRaw::from_raw(raw.next().unwrap_or_default()), )+
                            }
                        })
                        .boxed(),
                )+
            ])
        }
    };
}

messages! { 'a;
    /// `S` System Event: a market-wide session transition.
    SystemEvent = b'S', 12 {
        /// `O` start of messages, `S` start of system hours, `Q` start of market hours,
        /// `M` end of market hours, `E` end of system hours, `C` end of messages.
        event_code: u8,
    }

    /// `R` Stock Directory: a stock's locate code and attributes for the day.
    StockDirectory = b'R', 39 {
        /// Ticker, left-justified, space-padded.
        stock: [8],
        /// `Q` Global Select, `G` Global Market, `S` Capital Market, `N` NYSE, …
        market_category: u8,
        /// Nasdaq-listed issuers' financial status; blank for others.
        financial_status: u8,
        round_lot_size: u32,
        /// `Y` only round lots accepted.
        round_lots_only: u8,
        issue_classification: u8,
        issue_sub_type: [2],
        /// `P` live production, `T` test.
        authenticity: u8,
        /// `Y`/`N` Reg SHO threshold list; blank if not available.
        short_sale_threshold: u8,
        /// `Y` new IPO security, `N` not; blank if not available.
        ipo_flag: u8,
        /// `1` Tier 1, `2` Tier 2; blank if not available.
        luld_reference_price_tier: u8,
        /// `Y` exchange-traded product.
        etp_flag: u8,
        /// The ETP's leverage or inverse ratio, e.g. 2 for 2x.
        etp_leverage_factor: u32,
        /// `Y` inverse ETP.
        inverse_indicator: u8,
    }

    /// `H` Stock Trading Action: trading state across US markets.
    StockTradingAction = b'H', 25 {
        stock: [8],
        /// `H` halted, `P` paused, `Q` quotation only, `T` trading.
        trading_state: u8,
        reserved: u8,
        /// Why, e.g. `T1  ` news pending, `LUDP` volatility pause; blank when trading.
        reason: [4],
    }

    /// `Y` Reg SHO Short Sale Price Test Restricted Indicator.
    RegShoRestriction = b'Y', 20 {
        stock: [8],
        /// `0` no price test, `1` test in effect (intraday drop), `2` test remains in effect.
        reg_sho_action: u8,
    }

    /// `L` Market Participant Position: a market maker's status in a stock.
    MarketParticipantPosition = b'L', 26 {
        attribution: [4],
        stock: [8],
        /// `Y` primary market maker.
        primary_market_maker: u8,
        /// `N` normal, `P` passive, `S` syndicate, `R` pre-syndicate, `L` penalty.
        market_maker_mode: u8,
        /// `A` active, `E` excused, `W` withdrawn, `S` suspended, `D` deleted.
        market_participant_state: u8,
    }

    /// `V` MWCB Decline Level: the day's market-wide circuit breaker levels.
    MwcbDeclineLevel = b'V', 35 {
        /// `Price(8)`, eight implied decimals; see [`Price::from_itch8`].
        level_1: u64,
        /// `Price(8)`.
        level_2: u64,
        /// `Price(8)`.
        level_3: u64,
    }

    /// `W` MWCB Status: a market-wide circuit breaker level was breached.
    MwcbStatus = b'W', 12 {
        /// `1`, `2` or `3`.
        breached_level: u8,
    }

    /// `K` IPO Quoting Period Update.
    IpoQuotingPeriodUpdate = b'K', 28 {
        stock: [8],
        /// Anticipated release time, seconds since midnight.
        release_time: u32,
        /// `A` anticipated release time, `C` IPO release cancelled or postponed.
        release_qualifier: u8,
        ipo_price: Price,
    }

    /// `J` LULD Auction Collar: the band within which a paused stock may reopen.
    LuldAuctionCollar = b'J', 35 {
        stock: [8],
        reference_price: Price,
        upper_price: Price,
        lower_price: Price,
        /// How many times the collar has been extended.
        extension: u32,
    }

    /// `h` Operational Halt: one market center halted or resumed a stock.
    OperationalHalt = b'h', 21 {
        stock: [8],
        /// `Q` Nasdaq, `B` BX, `X` PSX.
        market_code: u8,
        /// `H` halted, `T` resumed.
        action: u8,
    }

    /// `A` Add Order, no attribution: a displayed order joined the book.
    AddOrder = b'A', 36 {
        /// Unique for the trading day.
        order_ref: u64,
        /// `B` buy, `S` sell.
        side: u8,
        shares: u32,
        stock: [8],
        price: Price,
    }

    /// `F` Add Order with MPID attribution.
    AddOrderMpid = b'F', 40 {
        order_ref: u64,
        side: u8,
        shares: u32,
        stock: [8],
        price: Price,
        attribution: [4],
    }

    /// `E` Order Executed: part or all of a resting order traded at its price.
    OrderExecuted = b'E', 31 {
        order_ref: u64,
        executed_shares: u32,
        match_number: u64,
    }

    /// `C` Order Executed With Price: traded at a price other than its display price.
    OrderExecutedWithPrice = b'C', 36 {
        order_ref: u64,
        executed_shares: u32,
        match_number: u64,
        /// `Y` printable; `N` not (counts toward neither volume nor last sale).
        printable: u8,
        execution_price: Price,
    }

    /// `X` Order Cancel: some shares of an order were cancelled; it stays on the book.
    OrderCancel = b'X', 23 {
        order_ref: u64,
        cancelled_shares: u32,
    }

    /// `D` Order Delete: the rest of an order was removed.
    OrderDelete = b'D', 19 {
        order_ref: u64,
    }

    /// `U` Order Replace: an order was replaced by a new one on the same side.
    OrderReplace = b'U', 35 {
        original_order_ref: u64,
        new_order_ref: u64,
        shares: u32,
        price: Price,
    }

    /// `P` Trade (non-cross): a non-displayed order executed.
    Trade = b'P', 44 {
        /// Zero since 2013: the hidden order is not identified.
        order_ref: u64,
        /// The resting order's side.
        side: u8,
        shares: u32,
        stock: [8],
        price: Price,
        match_number: u64,
    }

    /// `Q` Cross Trade: the bulk print of an opening, closing, halt or IPO cross.
    CrossTrade = b'Q', 40 {
        shares: u64,
        stock: [8],
        cross_price: Price,
        match_number: u64,
        /// `O` opening, `C` closing, `H` halt or IPO, `I` intraday.
        cross_type: u8,
    }

    /// `B` Broken Trade: an execution was broken (cancelled) after the fact.
    BrokenTrade = b'B', 19 {
        match_number: u64,
    }

    /// `I` Net Order Imbalance Indicator, before a cross.
    Noii = b'I', 50 {
        paired_shares: u64,
        imbalance_shares: u64,
        /// `B` buy, `S` sell, `N` none, `O` insufficient orders to calculate.
        imbalance_direction: u8,
        stock: [8],
        far_price: Price,
        near_price: Price,
        current_reference_price: Price,
        /// `O` opening, `C` closing, `H` halt or IPO, `A` extended trading close.
        cross_type: u8,
        /// How far the near price is from the reference: `L`, `1`–`9`, `A`–`C`, blank.
        price_variation: u8,
    }

    /// `N` Retail Price Improvement Indicator.
    Rpii = b'N', 20 {
        stock: [8],
        /// `B` buy side, `S` sell side, `A` both, `N` none.
        interest_flag: u8,
    }

    /// `O` Direct Listing with Capital Raise Price Discovery.
    DirectListingPriceDiscovery = b'O', 48 {
        stock: [8],
        /// `N` not eligible, `Y` eligible to open.
        open_eligibility: u8,
        minimum_allowable_price: Price,
        maximum_allowable_price: Price,
        near_execution_price: Price,
        /// When the near execution price was last set; the specification gives no unit.
        near_execution_time: u64,
        lower_price_range_collar: Price,
        upper_price_range_collar: Price,
    }
}
