//! Feed-integrity notices: how a source tells the shards that market data was lost.
//!
//! When a live feed loses messages it cannot recover, the books of every symbol those
//! messages may have concerned are wrong, and no one can say which symbols they were. The
//! source then sends each shard a notice in-band, in order with the market data, so the
//! shard marks the affected symbols stale from exactly that point: risk blocks them
//! (`FEED_STALE`) for the rest of the session, since a book with lost orders cannot be
//! repaired without a snapshot.
//!
//! The notice is a tickpipe-private frame laid out as an ITCH header (type, locate 0,
//! tracking, 6-byte timestamp) with a type byte ITCH 5.0 does not use, so the header
//! helpers read it and no ITCH decoder can mistake it for market data. It concerns every
//! symbol: a lost message could have been about any of them. Why data was lost is the
//! source's to report (`feed.timed_out` and `feed.losses` in the run report).

/// The notice's type byte; not an ITCH 5.0 message type.
pub const STALE_NOTICE: u8 = b'!';
/// Length of a notice: an ITCH header (locate 0: every symbol) and nothing more.
pub const STALE_NOTICE_LEN: usize = crate::codec::itch::HEADER_LEN;

/// A notice that every symbol went stale at exchange time `ts_event`.
pub fn stale_notice(ts_event: u64) -> [u8; STALE_NOTICE_LEN] {
    let mut b = [0u8; STALE_NOTICE_LEN];
    b[0] = STALE_NOTICE;
    b[5..11].copy_from_slice(&ts_event.to_be_bytes()[2..]);
    b
}

/// A notice's exchange time, if `bytes` is one.
pub fn parse_stale_notice(bytes: &[u8]) -> Option<u64> {
    if bytes.len() != STALE_NOTICE_LEN || bytes[0] != STALE_NOTICE {
        return None;
    }
    crate::codec::itch::timestamp(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_no_itch_message() {
        let n = stale_notice(34_200_000_000_123);
        assert_eq!(parse_stale_notice(&n), Some(34_200_000_000_123));
        assert_eq!(crate::codec::itch::message_len(STALE_NOTICE), None);
        assert_eq!(crate::codec::itch::stock_locate(&n), Some(0));
        assert_eq!(parse_stale_notice(&n[..10]), None);
    }
}
