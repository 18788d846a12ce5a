//! Identifiers and small enums shared by every stage.

use std::fmt;

/// Dense index of a symbol in the configured universe (`config/`), `0..universe.len()`.
///
/// Not the ITCH stock locate: locates are assigned per trading day by the exchange,
/// while a `SymbolId` is fixed by configuration, so per-symbol state can live in plain
/// arrays and a replay maps to the same ids whatever the feed's numbering.
#[repr(transparent)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SymbolId(pub u16);

impl SymbolId {
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// An exchange ticker: eight ASCII bytes, right-padded with spaces (ITCH `Alpha(8)`).
#[repr(transparent)]
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SymbolName(pub [u8; 8]);

impl SymbolName {
    /// From a ticker such as `"AAPL"`; `None` if it is empty, longer than eight bytes,
    /// or not printable ASCII without spaces.
    pub fn new(ticker: &str) -> Option<SymbolName> {
        let bytes = ticker.as_bytes();
        let valid =
            !bytes.is_empty() && bytes.len() <= 8 && bytes.iter().all(|b| b.is_ascii_graphic());
        if !valid {
            return None;
        }
        let mut out = [b' '; 8];
        out[..bytes.len()].copy_from_slice(bytes);
        Some(SymbolName(out))
    }

    /// The ticker without its padding.
    pub fn as_str(&self) -> &str {
        let end = self.0.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
        std::str::from_utf8(&self.0[..end]).unwrap_or("?")
    }
}

impl fmt::Debug for SymbolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for SymbolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Side of an order or of the resting order in a trade.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Buy = b'B',
    Sell = b'S',
}

impl Side {
    /// `+1` for buys, `-1` for sells: the sign of the position change a fill makes.
    #[inline]
    pub const fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }

    #[inline]
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// A symbol's trading state: what the exchange reports (ITCH `H`, "Trading State"),
/// overridden by what tickpipe knows about its own view of the symbol. In a
/// [`MarketView`](super::MarketView) it is the *effective* state: `FeedStale` first, then
/// `BookCrossed`, then an operational halt as `Halted`, then the exchange's state. Only
/// `Trading` allows orders.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TradingStatus {
    /// `T`: trading.
    Trading = b'T',
    /// `H`: halted across all US equity markets.
    Halted = b'H',
    /// `P`: paused (LULD) across all US equity markets.
    Paused = b'P',
    /// `Q`: quotation only, the period before a halt is lifted.
    QuotationOnly = b'Q',
    /// No `H` message seen yet; treated as not trading (fail closed).
    Unknown = b'?',
    /// Market data that may concern the symbol was lost: its book cannot be trusted for
    /// the rest of the session ([`crate::codec::notice`]).
    FeedStale = b'!',
    /// The book is crossed or locked after a complete update: something upstream is
    /// wrong until it clears.
    BookCrossed = b'X',
}

impl TradingStatus {
    /// From the ITCH trading-state character; anything unexpected is `Unknown`, which
    /// blocks trading rather than guessing.
    #[inline]
    pub const fn from_itch(code: u8) -> TradingStatus {
        match code {
            b'T' => TradingStatus::Trading,
            b'H' => TradingStatus::Halted,
            b'P' => TradingStatus::Paused,
            b'Q' => TradingStatus::QuotationOnly,
            _ => TradingStatus::Unknown,
        }
    }

    #[inline]
    pub const fn as_char(self) -> char {
        self as u8 as char
    }
}

/// Client order id: the symbol in the high 16 bits, a per-symbol sequence in the low 48.
///
/// Built from per-symbol state only, so the same decision gets the same id whatever the
/// shard count or topology, and the decision digest can include it.
#[repr(transparent)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClOrdId(pub u64);

impl ClOrdId {
    const SEQ_BITS: u32 = 48;

    #[inline]
    pub const fn new(symbol: SymbolId, seq: u64) -> ClOrdId {
        ClOrdId(((symbol.0 as u64) << Self::SEQ_BITS) | (seq & ((1 << Self::SEQ_BITS) - 1)))
    }

    #[inline]
    pub const fn symbol(self) -> SymbolId {
        SymbolId((self.0 >> Self::SEQ_BITS) as u16)
    }

    #[inline]
    pub const fn seq(self) -> u64 {
        self.0 & ((1 << Self::SEQ_BITS) - 1)
    }
}

impl fmt::Display for ClOrdId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.symbol().0, self.seq())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_name_pads_and_trims() {
        let n = SymbolName::new("AAPL").unwrap();
        assert_eq!(&n.0, b"AAPL    ");
        assert_eq!(n.as_str(), "AAPL");
        assert!(SymbolName::new("TOOLONGNAME").is_none());
        assert!(SymbolName::new("").is_none());
        assert!(SymbolName::new("A B").is_none());
    }

    #[test]
    fn cl_ord_id_round_trips() {
        let id = ClOrdId::new(SymbolId(7), 42);
        assert_eq!(id.symbol(), SymbolId(7));
        assert_eq!(id.seq(), 42);
        assert_eq!(id.to_string(), "7-42");
    }
}
