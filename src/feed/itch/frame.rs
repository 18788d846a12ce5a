//! File framing: each message preceded by its length as a big-endian `u16`, the layout
//! of NASDAQ's daily TotalView-ITCH files once decompressed.
//!
//! The framer only splits; it does not look inside a frame. Whether the bytes are a
//! message of the right length is [`check_length`](super::check_length)'s question, so a
//! source can count and skip a bad message while the stream stays aligned.

use std::iter::FusedIterator;

use super::codec::EncodeError;
use super::message::Message;

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 2;

/// One length-prefixed message in a file.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Byte offset of the length prefix in the input.
    pub offset: u64,
    /// The message, without its prefix; never empty.
    pub bytes: &'a [u8],
}

/// Why the input does not split into frames at `offset` (that of a length prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// One byte left: not even a length prefix. Ends the iteration.
    #[error("offset {offset}: truncated length prefix (1 byte left)")]
    TruncatedLength { offset: u64 },
    /// The prefix promises more bytes than remain. Ends the iteration.
    #[error("offset {offset}: truncated message: length {len}, {available} bytes left")]
    TruncatedMessage {
        offset: u64,
        len: u16,
        available: usize,
    },
    /// A zero length: skipped, iteration goes on at the next prefix.
    #[error("offset {offset}: zero length prefix, skipped")]
    ZeroLength { offset: u64 },
}

impl FrameError {
    /// The byte offset of the length prefix at fault.
    pub fn offset(&self) -> u64 {
        match *self {
            FrameError::TruncatedLength { offset }
            | FrameError::TruncatedMessage { offset, .. }
            | FrameError::ZeroLength { offset } => offset,
        }
    }
}

/// Splits a file's bytes into frames, in order, without copying.
///
/// Yields `Err` for each problem in turn; after a truncation (a fatal error, since
/// nothing after it can be framed) it yields nothing more.
#[derive(Clone, Debug)]
pub struct Framer<'a> {
    bytes: &'a [u8],
    /// Offset of the next length prefix.
    at: usize,
    done: bool,
}

impl<'a> Framer<'a> {
    pub fn new(bytes: &'a [u8]) -> Framer<'a> {
        Framer {
            bytes,
            at: 0,
            done: false,
        }
    }

    /// Offset of the next length prefix: the bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.at as u64
    }
}

impl<'a> Iterator for Framer<'a> {
    type Item = Result<Frame<'a>, FrameError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let rest = match self.bytes.get(self.at..) {
            Some(rest) if !rest.is_empty() && !self.done => rest,
            _ => return None,
        };
        let offset = self.at as u64;
        let Some((prefix, rest)) = rest.split_first_chunk::<PREFIX_LEN>() else {
            self.done = true;
            return Some(Err(FrameError::TruncatedLength { offset }));
        };
        let len = u16::from_be_bytes(*prefix);
        if len == 0 {
            self.at += PREFIX_LEN;
            return Some(Err(FrameError::ZeroLength { offset }));
        }
        let Some(bytes) = rest.get(..usize::from(len)) else {
            self.done = true;
            return Some(Err(FrameError::TruncatedMessage {
                offset,
                len,
                available: rest.len(),
            }));
        };
        self.at += PREFIX_LEN + bytes.len();
        Some(Ok(Frame { offset, bytes }))
    }
}

impl FusedIterator for Framer<'_> {}

/// Appends `msg` with its length prefix, as in a file. On error `out` is left as it was.
pub fn encode_framed(msg: &Message<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    out.extend_from_slice(&[0; PREFIX_LEN]);
    if let Err(e) = super::codec::encode(msg, out) {
        out.truncate(start);
        return Err(e);
    }
    // Every ITCH 5.0 message is at most 50 bytes, far inside a u16.
    let len = (out.len() - start - PREFIX_LEN) as u16;
    out[start..start + PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::feed::itch::{Header, check_length};

    fn frames(bytes: &[u8]) -> Vec<Result<Frame<'_>, FrameError>> {
        Framer::new(bytes).collect()
    }

    #[test]
    fn splits_messages_and_reports_their_offsets() {
        let bytes = [0, 2, b'a', b'b', 0, 1, b'c'];
        assert_eq!(
            frames(&bytes),
            [
                Ok(Frame {
                    offset: 0,
                    bytes: b"ab"
                }),
                Ok(Frame {
                    offset: 4,
                    bytes: b"c"
                }),
            ]
        );
        assert!(frames(&[]).is_empty());
    }

    #[test]
    fn zero_length_is_skipped_and_iteration_goes_on() {
        let bytes = [0, 1, b'a', 0, 0, 0, 1, b'b'];
        let got = frames(&bytes);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], Err(FrameError::ZeroLength { offset: 3 }));
        assert_eq!(
            got[2],
            Ok(Frame {
                offset: 5,
                bytes: b"b"
            })
        );
    }

    #[test]
    fn truncations_end_iteration_with_the_prefix_offset() {
        let lone_byte = [0, 1, b'a', 0];
        let got = frames(&lone_byte);
        assert_eq!(got[1], Err(FrameError::TruncatedLength { offset: 3 }));
        assert_eq!(got.len(), 2);

        let short = [0, 1, b'a', 0, 9, b'x', b'y', 0, 1, b'z'];
        let mut framer = Framer::new(&short);
        assert!(framer.next().unwrap().is_ok());
        let e = framer.next().unwrap().unwrap_err();
        assert_eq!(
            e,
            FrameError::TruncatedMessage {
                offset: 3,
                len: 9,
                available: 5
            }
        );
        assert_eq!(e.offset(), 3);
        assert_eq!(
            e.to_string(),
            "offset 3: truncated message: length 9, 5 bytes left"
        );
        assert_eq!(framer.next(), None);
        assert_eq!(framer.next(), None);
        assert_eq!(framer.offset(), 3);
    }

    #[test]
    fn encode_framed_writes_what_the_framer_reads() {
        let msg = Message::OrderDelete {
            header: Header {
                stock_locate: 7,
                tracking_number: 1,
                timestamp: 34_200_000_000_123,
            },
            order_ref: 42,
        };
        let mut out = vec![];
        encode_framed(&msg, &mut out).unwrap();
        encode_framed(&msg, &mut out).unwrap();
        assert_eq!(&out[..2], &[0, 19]);
        let got: Vec<_> = Framer::new(&out).map(Result::unwrap).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].offset, 21);
        assert_eq!(crate::feed::itch::decode(got[1].bytes), Ok(msg));
    }

    proptest! {
        #[test]
        fn never_panics_and_accounts_for_every_byte(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut framer = Framer::new(&bytes);
            let mut end = 0u64;
            let mut fatal = false;
            for item in framer.by_ref() {
                prop_assert!(!fatal, "nothing follows a fatal error");
                match item {
                    Ok(f) => {
                        prop_assert_eq!(f.offset, end);
                        prop_assert!(!f.bytes.is_empty());
                        let _ = check_length(f.bytes);
                        end = f.offset + 2 + f.bytes.len() as u64;
                    }
                    Err(FrameError::ZeroLength { offset }) => {
                        prop_assert_eq!(offset, end);
                        end = offset + 2;
                    }
                    Err(e) => {
                        prop_assert_eq!(e.offset(), end);
                        fatal = true;
                    }
                }
            }
            prop_assert_eq!(framer.offset(), end);
            prop_assert_eq!(fatal, end < bytes.len() as u64);
        }
    }
}
