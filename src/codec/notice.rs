//! Feed-integrity notices: how a source tells the shards that market data was lost, or
//! that one symbol's data flows again.
//!
//! When a live feed loses messages it cannot recover, the books of every symbol those
//! messages may have concerned are wrong, and no one can say which symbols they were. The
//! source then sends each shard a notice in-band, in order with the market data, so the
//! shard marks the affected symbols stale from exactly that point: risk blocks them
//! (`FEED_STALE`). A MoldUDP64 feed's notice concerns every symbol (stock locate 0: a
//! lost message could have been about any of them) and is never lifted, since a book
//! with lost orders cannot be repaired without a snapshot.
//!
//! A source that knows which symbol went quiet (IB's market data, `source::ibkr`) names
//! it by its stock locate, and lifts it with a fresh notice for the same locate when the
//! symbol's data flows again: that source's synthetic book is whole after every quote,
//! so nothing stays wrong.
//!
//! A notice is a tickpipe-private frame laid out as an ITCH header (type, locate,
//! tracking, 6-byte timestamp) with a type byte ITCH 5.0 does not use, so the header
//! helpers read it and no ITCH decoder can mistake it for market data. Why data was lost
//! is the source's to report (`feed.timed_out` and `feed.losses` in the run report).

/// The stale notice's type byte; not an ITCH 5.0 message type.
pub const STALE_NOTICE: u8 = b'!';
/// The fresh notice's type byte (one symbol's data flows again); not an ITCH 5.0 type.
pub const FRESH_NOTICE: u8 = b'+';
/// Length of a notice: an ITCH header and nothing more.
pub const STALE_NOTICE_LEN: usize = crate::codec::itch::HEADER_LEN;

/// Whether `kind` is a notice's type byte.
#[inline]
pub fn is_notice_type(kind: u8) -> bool {
    kind == STALE_NOTICE || kind == FRESH_NOTICE
}

/// What a notice says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Symbols went stale at `ts_event`: every symbol (`locate` 0) or the one at `locate`.
    Stale { locate: u16, ts_event: u64 },
    /// The symbol at `locate` (never 0) is no longer stale from `ts_event`.
    Fresh { locate: u16, ts_event: u64 },
}

impl Notice {
    /// The stock locate it names; 0 for every symbol.
    pub fn locate(&self) -> u16 {
        match *self {
            Notice::Stale { locate, .. } | Notice::Fresh { locate, .. } => locate,
        }
    }

    /// Its exchange time.
    pub fn ts_event(&self) -> u64 {
        match *self {
            Notice::Stale { ts_event, .. } | Notice::Fresh { ts_event, .. } => ts_event,
        }
    }

    /// The same notice at another exchange time.
    pub fn at(self, ts_event: u64) -> Notice {
        match self {
            Notice::Stale { locate, .. } => Notice::Stale { locate, ts_event },
            Notice::Fresh { locate, .. } => Notice::Fresh { locate, ts_event },
        }
    }

    /// Its bytes.
    pub fn encode(&self) -> [u8; STALE_NOTICE_LEN] {
        let kind = match self {
            Notice::Stale { .. } => STALE_NOTICE,
            Notice::Fresh { .. } => FRESH_NOTICE,
        };
        let mut b = [0u8; STALE_NOTICE_LEN];
        b[0] = kind;
        b[1..3].copy_from_slice(&self.locate().to_be_bytes());
        b[5..11].copy_from_slice(&self.ts_event().to_be_bytes()[2..]);
        b
    }

    /// The notice `bytes` are, if they are one (a fresh notice for locate 0 is not).
    #[inline]
    pub fn parse(bytes: &[u8]) -> Option<Notice> {
        if bytes.len() != STALE_NOTICE_LEN {
            return None;
        }
        let locate = crate::codec::itch::stock_locate(bytes)?;
        let ts_event = crate::codec::itch::timestamp(bytes)?;
        match bytes[0] {
            STALE_NOTICE => Some(Notice::Stale { locate, ts_event }),
            FRESH_NOTICE if locate != 0 => Some(Notice::Fresh { locate, ts_event }),
            _ => None,
        }
    }
}

/// A notice that every symbol went stale at exchange time `ts_event`.
pub fn stale_notice(ts_event: u64) -> [u8; STALE_NOTICE_LEN] {
    Notice::Stale {
        locate: 0,
        ts_event,
    }
    .encode()
}

/// A notice's exchange time, if `bytes` is a notice that every symbol went stale.
pub fn parse_stale_notice(bytes: &[u8]) -> Option<u64> {
    match Notice::parse(bytes)? {
        Notice::Stale {
            locate: 0,
            ts_event,
        } => Some(ts_event),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_no_itch_message() {
        let n = stale_notice(34_200_000_000_123);
        assert_eq!(parse_stale_notice(&n), Some(34_200_000_000_123));
        assert_eq!(crate::codec::itch::message_len(STALE_NOTICE), None);
        assert_eq!(crate::codec::itch::message_len(FRESH_NOTICE), None);
        assert_eq!(crate::codec::itch::stock_locate(&n), Some(0));
        assert_eq!(parse_stale_notice(&n[..10]), None);
    }

    #[test]
    fn a_notice_names_one_locate_and_a_fresh_one_lifts_it() {
        for notice in [
            Notice::Stale {
                locate: 7,
                ts_event: 42,
            },
            Notice::Fresh {
                locate: 7,
                ts_event: 43,
            },
        ] {
            let bytes = notice.encode();
            assert_eq!(Notice::parse(&bytes), Some(notice));
            assert_eq!(parse_stale_notice(&bytes), None, "not every symbol");
        }
        let every = Notice::Fresh {
            locate: 0,
            ts_event: 1,
        }
        .encode();
        assert_eq!(
            Notice::parse(&every),
            None,
            "no symbol is lifted by locate 0"
        );
    }
}
