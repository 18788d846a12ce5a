//! Feed-integrity notices: how a source tells the shards that market data was lost.
//!
//! When a live feed loses messages it cannot recover, the books of every symbol those
//! messages may have concerned are wrong, and no one can say which symbols they were. The
//! source then sends each shard a notice in-band, in order with the market data, so the
//! shard marks the affected symbols stale from exactly that point: risk blocks them
//! (`FEED_STALE`) for the rest of the session, since a book with lost orders cannot be
//! repaired without a snapshot.
//!
//! The notice is a tickpipe-private frame laid out like an ITCH header (type, locate,
//! tracking, 6-byte timestamp) plus a reason, with a type byte ITCH 5.0 does not use, so
//! header helpers read it and no ITCH decoder can mistake it for market data.

/// The notice's type byte; not an ITCH 5.0 message type.
pub const STALE_NOTICE: u8 = b'!';
/// Length of a notice: the 11-byte ITCH header plus the reason.
pub const STALE_NOTICE_LEN: usize = 12;

/// Why data was lost.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StaleReason {
    /// The messages cannot be recovered: the gap is wider than the source re-requests
    /// (MoldUDP64 servers do not answer for messages they no longer have; that case
    /// ends as a `Timeout`).
    Unrecoverable = b'U',
    /// Recovery did not complete within its deadline.
    Timeout = b'T',
}

/// A notice for the symbol at `locate`, or for every symbol when `locate` is 0, at
/// exchange time `ts_event`.
pub fn stale_notice(locate: u16, ts_event: u64, reason: StaleReason) -> [u8; STALE_NOTICE_LEN] {
    let mut b = [0u8; STALE_NOTICE_LEN];
    b[0] = STALE_NOTICE;
    b[1..3].copy_from_slice(&locate.to_be_bytes());
    b[5..11].copy_from_slice(&ts_event.to_be_bytes()[2..]);
    b[11] = reason as u8;
    b
}

/// A notice's locate and timestamp, if `bytes` is one.
pub fn parse_stale_notice(bytes: &[u8]) -> Option<(u16, u64)> {
    if bytes.len() != STALE_NOTICE_LEN || bytes[0] != STALE_NOTICE {
        return None;
    }
    let locate = u16::from_be_bytes([bytes[1], bytes[2]]);
    let mut ts = [0u8; 8];
    ts[2..].copy_from_slice(&bytes[5..11]);
    Some((locate, u64::from_be_bytes(ts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_no_itch_message() {
        let n = stale_notice(7, 34_200_000_000_123, StaleReason::Timeout);
        assert_eq!(parse_stale_notice(&n), Some((7, 34_200_000_000_123)));
        assert_eq!(crate::feed::itch::message_len(STALE_NOTICE), None);
        assert_eq!(crate::feed::itch::stock_locate(&n), Some(7));
        assert_eq!(parse_stale_notice(&n[..11]), None);
    }
}
