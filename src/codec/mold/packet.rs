//! Downstream and request packets: parsing, with every length checked first.

use std::fmt;
use std::iter::FusedIterator;

/// Bytes of the session name.
pub const SESSION_LEN: usize = 10;
/// Bytes of a downstream packet's header: session, sequence number, message count.
pub const HEADER_LEN: usize = SESSION_LEN + 8 + 2;
/// Bytes of a message block's length prefix.
pub const BLOCK_PREFIX_LEN: usize = 2;
/// Bytes of a request packet: session, first sequence number, message count.
pub const REQUEST_LEN: usize = HEADER_LEN;
/// The message count that marks the end of the session.
pub const END_OF_SESSION: u16 = 0xFFFF;
/// The most messages one packet can carry (the count is a `u16` and `0xFFFF` is taken).
pub const MAX_MESSAGES: u16 = 0xFFFE;
/// The largest UDP payload over IPv4 (65 535 − 20 IP − 8 UDP header bytes).
pub const MAX_DATAGRAM: usize = 65_507;

/// A MoldUDP64 session name: 10 bytes, printable ASCII, right-padded with spaces.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct Session(pub [u8; SESSION_LEN]);

/// Why a string is not a session name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session {name:?} is not 1 to 10 printable ASCII characters")]
pub struct SessionError {
    pub name: String,
}

impl Session {
    /// `name` right-padded with spaces; 1 to 10 printable ASCII characters.
    pub fn new(name: &str) -> Result<Session, SessionError> {
        let ok = (1..=SESSION_LEN).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if !ok {
            return Err(SessionError {
                name: name.to_string(),
            });
        }
        let mut bytes = [b' '; SESSION_LEN];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(Session(bytes))
    }
}

impl fmt::Display for Session {
    /// The name without its padding; bytes that are not printable ASCII as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self.0.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
        for &b in &self.0[..end] {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Session({:?})", self.to_string())
    }
}

/// Why a datagram is not a downstream packet. Every variant names the byte offset of
/// the fault within the datagram ([`MoldError::offset`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoldError {
    #[error("byte 0: truncated header: {len} bytes, a header is {HEADER_LEN}")]
    TruncatedHeader { len: usize },
    #[error("byte 10: sequence number 0 (sequence numbers start at 1)")]
    ZeroSequence,
    #[error("byte 10: sequence number {sequence} + {count} messages overflows 64 bits")]
    SequenceOverflow { sequence: u64, count: u16 },
    #[error("byte {offset}: block {index} of {count}: truncated length prefix")]
    TruncatedPrefix {
        offset: usize,
        index: u16,
        count: u16,
    },
    #[error(
        "byte {offset}: block {index} of {count}: length {len} points past the packet end ({available} bytes left)"
    )]
    BlockPastEnd {
        offset: usize,
        index: u16,
        count: u16,
        len: u16,
        available: usize,
    },
    #[error("byte {offset}: {extra} bytes after the last of {count} message blocks")]
    TrailingBytes {
        offset: usize,
        count: u16,
        extra: usize,
    },
}

impl MoldError {
    /// Byte offset of the fault in the datagram.
    pub fn offset(&self) -> usize {
        match *self {
            MoldError::TruncatedHeader { .. } => 0,
            MoldError::ZeroSequence | MoldError::SequenceOverflow { .. } => SESSION_LEN,
            MoldError::TruncatedPrefix { offset, .. }
            | MoldError::BlockPastEnd { offset, .. }
            | MoldError::TrailingBytes { offset, .. } => offset,
        }
    }

    /// A stable name for the kind of fault, for counters and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            MoldError::TruncatedHeader { .. } => "truncated_header",
            MoldError::ZeroSequence => "zero_sequence",
            MoldError::SequenceOverflow { .. } => "sequence_overflow",
            MoldError::TruncatedPrefix { .. } => "truncated_block_prefix",
            MoldError::BlockPastEnd { .. } => "block_past_end",
            MoldError::TrailingBytes { .. } => "trailing_bytes",
        }
    }
}

/// What a downstream packet is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PacketKind {
    /// `count` messages (1 to [`MAX_MESSAGES`]), the first numbered `sequence`.
    Messages { count: u16 },
    /// No messages; `sequence` is the next message's number.
    Heartbeat,
    /// No messages, and none will follow; `sequence` is one past the last message.
    EndOfSession,
}

/// A parsed downstream packet, borrowing the datagram.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub session: Session,
    /// The first message's number; for heartbeats and end of session, the next one's.
    pub sequence: u64,
    pub kind: PacketKind,
    /// The message blocks, already checked to be exactly `count` blocks.
    blocks: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parses a datagram, checking every block's length against it. A heartbeat or end
    /// of session must end after its header.
    pub fn parse(bytes: &'a [u8]) -> Result<Packet<'a>, MoldError> {
        let Some((header, blocks)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(MoldError::TruncatedHeader { len: bytes.len() });
        };
        let session = Session(header[..SESSION_LEN].try_into().expect("10 bytes"));
        let sequence = u64::from_be_bytes(header[SESSION_LEN..18].try_into().expect("8 bytes"));
        let raw_count = u16::from_be_bytes([header[18], header[19]]);
        if sequence == 0 {
            return Err(MoldError::ZeroSequence);
        }
        let (kind, count) = match raw_count {
            0 => (PacketKind::Heartbeat, 0),
            END_OF_SESSION => (PacketKind::EndOfSession, 0),
            count => (PacketKind::Messages { count }, count),
        };
        if sequence.checked_add(u64::from(count)).is_none() {
            return Err(MoldError::SequenceOverflow { sequence, count });
        }
        check_blocks(blocks, count)?;
        Ok(Packet {
            session,
            sequence,
            kind,
            blocks,
        })
    }

    /// Messages carried: 0 for a heartbeat or end of session.
    #[inline]
    pub fn count(&self) -> u16 {
        match self.kind {
            PacketKind::Messages { count } => count,
            PacketKind::Heartbeat | PacketKind::EndOfSession => 0,
        }
    }

    /// One past the last message's number (checked not to overflow in `parse`).
    #[inline]
    pub fn next_sequence(&self) -> u64 {
        self.sequence + u64::from(self.count())
    }

    /// The messages, in order, without their length prefixes.
    #[inline]
    pub fn messages(&self) -> Blocks<'a> {
        Blocks {
            rest: self.blocks,
            left: self.count(),
        }
    }
}

/// Walks `count` blocks from the start of `blocks` (which begins at datagram offset
/// [`HEADER_LEN`]) and checks that they fill it exactly.
fn check_blocks(blocks: &[u8], count: u16) -> Result<(), MoldError> {
    let mut at = 0usize;
    for index in 0..count {
        let offset = HEADER_LEN + at;
        let Some(prefix) = blocks.get(at..at + BLOCK_PREFIX_LEN) else {
            return Err(MoldError::TruncatedPrefix {
                offset,
                index,
                count,
            });
        };
        let len = u16::from_be_bytes([prefix[0], prefix[1]]);
        let available = blocks.len() - at - BLOCK_PREFIX_LEN;
        if usize::from(len) > available {
            return Err(MoldError::BlockPastEnd {
                offset,
                index,
                count,
                len,
                available,
            });
        }
        at += BLOCK_PREFIX_LEN + usize::from(len);
    }
    if at != blocks.len() {
        return Err(MoldError::TrailingBytes {
            offset: HEADER_LEN + at,
            count,
            extra: blocks.len() - at,
        });
    }
    Ok(())
}

/// The messages of a parsed packet. Lengths were checked in [`Packet::parse`]; the
/// iterator still stops rather than panics if they were not.
#[derive(Clone, Debug)]
pub struct Blocks<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (prefix, rest) = self.rest.split_first_chunk::<BLOCK_PREFIX_LEN>()?;
        let len = usize::from(u16::from_be_bytes(*prefix));
        let msg = rest.get(..len)?;
        self.rest = &rest[len..];
        self.left -= 1;
        Some(msg)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.left)))
    }
}

impl FusedIterator for Blocks<'_> {}

/// A request to the re-request server: send `count` messages from `sequence` on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub session: Session,
    pub sequence: u64,
    pub count: u16,
}

/// Why a datagram is not a request packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request of {len} bytes; a request is exactly {REQUEST_LEN}")]
    Length { len: usize },
    #[error("byte 10: request for sequence number 0 (sequence numbers start at 1)")]
    ZeroSequence,
    #[error("byte 18: request for {count} messages; 1 to {MAX_MESSAGES} may be asked")]
    Count { count: u16 },
}

impl Request {
    pub fn parse(bytes: &[u8]) -> Result<Request, RequestError> {
        let Ok(b) = <&[u8; REQUEST_LEN]>::try_from(bytes) else {
            return Err(RequestError::Length { len: bytes.len() });
        };
        let session = Session(b[..SESSION_LEN].try_into().expect("10 bytes"));
        let sequence = u64::from_be_bytes(b[SESSION_LEN..18].try_into().expect("8 bytes"));
        let count = u16::from_be_bytes([b[18], b[19]]);
        if sequence == 0 {
            return Err(RequestError::ZeroSequence);
        }
        if count == 0 || count > MAX_MESSAGES {
            return Err(RequestError::Count { count });
        }
        Ok(Request {
            session,
            sequence,
            count,
        })
    }

    pub fn to_bytes(&self) -> [u8; REQUEST_LEN] {
        header(&self.session, self.sequence, self.count)
    }
}

/// A packet header, which is also the whole of a heartbeat, end of session or request.
pub(super) fn header(session: &Session, sequence: u64, count: u16) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[..SESSION_LEN].copy_from_slice(&session.0);
    b[SESSION_LEN..18].copy_from_slice(&sequence.to_be_bytes());
    b[18..].copy_from_slice(&count.to_be_bytes());
    b
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn session() -> Session {
        Session::new("TEST01").unwrap()
    }

    fn datagram(sequence: u64, count: u16, blocks: &[&[u8]]) -> Vec<u8> {
        let mut out = header(&session(), sequence, count).to_vec();
        for b in blocks {
            out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            out.extend_from_slice(b);
        }
        out
    }

    #[test]
    fn sessions_are_padded_and_checked() {
        assert_eq!(&Session::new("AB").unwrap().0, b"AB        ");
        assert_eq!(Session::new("AB").unwrap().to_string(), "AB");
        assert_eq!(
            Session::new("0123456789").unwrap().to_string(),
            "0123456789"
        );
        for bad in ["", "01234567890", "tab\there", "é"] {
            assert!(Session::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Session([0; 10]).to_string(), "\\x00".repeat(10));
    }

    #[test]
    fn parses_messages_heartbeats_and_end_of_session() {
        let bytes = datagram(7, 2, &[b"abc", b""]);
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(
            (p.session, p.sequence, p.kind, p.next_sequence()),
            (session(), 7, PacketKind::Messages { count: 2 }, 9)
        );
        assert_eq!(p.messages().collect::<Vec<_>>(), [&b"abc"[..], b""]);

        let hb_bytes = datagram(9, 0, &[]);
        let hb = Packet::parse(&hb_bytes).unwrap();
        assert_eq!(
            (hb.kind, hb.count(), hb.next_sequence()),
            (PacketKind::Heartbeat, 0, 9)
        );
        assert_eq!(hb.messages().count(), 0);
        let end_bytes = datagram(9, END_OF_SESSION, &[]);
        let end = Packet::parse(&end_bytes).unwrap();
        assert_eq!(
            (end.kind, end.next_sequence()),
            (PacketKind::EndOfSession, 9)
        );
    }

    #[test]
    fn every_fault_has_its_kind_and_offset() {
        let cases: Vec<(Vec<u8>, MoldError)> = vec![
            (vec![], MoldError::TruncatedHeader { len: 0 }),
            (
                datagram(1, 0, &[])[..19].to_vec(),
                MoldError::TruncatedHeader { len: 19 },
            ),
            (datagram(0, 0, &[]), MoldError::ZeroSequence),
            (
                datagram(u64::MAX, 1, &[b"x"]),
                MoldError::SequenceOverflow {
                    sequence: u64::MAX,
                    count: 1,
                },
            ),
            (
                datagram(1, 2, &[b"x"]),
                MoldError::TruncatedPrefix {
                    offset: 23,
                    index: 1,
                    count: 2,
                },
            ),
            (
                {
                    let mut d = datagram(1, 1, &[b"xyz"]);
                    d.truncate(24);
                    d
                },
                MoldError::BlockPastEnd {
                    offset: 20,
                    index: 0,
                    count: 1,
                    len: 3,
                    available: 2,
                },
            ),
            (
                datagram(1, 1, &[b"x", b"y"]),
                MoldError::TrailingBytes {
                    offset: 23,
                    count: 1,
                    extra: 3,
                },
            ),
            (
                datagram(5, 0, &[b"x"]),
                MoldError::TrailingBytes {
                    offset: 20,
                    count: 0,
                    extra: 3,
                },
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(Packet::parse(&bytes), Err(want), "{bytes:?}");
        }
        let e = MoldError::BlockPastEnd {
            offset: 20,
            index: 0,
            count: 1,
            len: 3,
            available: 2,
        };
        assert_eq!((e.offset(), e.kind()), (20, "block_past_end"));
        assert_eq!(
            e.to_string(),
            "byte 20: block 0 of 1: length 3 points past the packet end (2 bytes left)"
        );
    }

    #[test]
    fn requests_round_trip_and_are_checked() {
        let r = Request {
            session: session(),
            sequence: 42,
            count: 3,
        };
        assert_eq!(Request::parse(&r.to_bytes()), Ok(r));
        assert_eq!(
            Request::parse(&r.to_bytes()[..19]),
            Err(RequestError::Length { len: 19 })
        );
        let zero = Request { count: 0, ..r };
        assert_eq!(
            Request::parse(&zero.to_bytes()),
            Err(RequestError::Count { count: 0 })
        );
        let end = Request {
            count: END_OF_SESSION,
            ..r
        };
        assert!(Request::parse(&end.to_bytes()).is_err());
        let seq0 = Request { sequence: 0, ..r };
        assert_eq!(
            Request::parse(&seq0.to_bytes()),
            Err(RequestError::ZeroSequence)
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_consistent_packets(
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            match Packet::parse(&bytes) {
                Ok(p) => {
                    let msgs: Vec<_> = p.messages().collect();
                    prop_assert_eq!(msgs.len(), usize::from(p.count()));
                    let used: usize = msgs.iter().map(|m| m.len() + BLOCK_PREFIX_LEN).sum();
                    prop_assert_eq!(HEADER_LEN + used, bytes.len());
                }
                Err(e) => prop_assert!(e.offset() <= bytes.len()),
            }
            let _ = Request::parse(&bytes);
        }

        #[test]
        fn a_valid_header_with_blocks_then_garbage_never_panics(
            sequence in 1u64..1_000,
            count in any::<u16>(),
            tail in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut bytes = header(&session(), sequence, count).to_vec();
            bytes.extend_from_slice(&tail);
            if let Ok(p) = Packet::parse(&bytes) {
                prop_assert_eq!(p.messages().count(), usize::from(p.count()));
            }
        }
    }
}
