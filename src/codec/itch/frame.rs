//! File framing: each message preceded by its length as a big-endian `u16`, the layout
//! of NASDAQ's daily TotalView-ITCH files once decompressed.
//!
//! A frame is *well formed* when its length is the one its type byte calls for (for
//! tickpipe's own feed-integrity notices, which a live session's capture holds in order
//! with the data, [`notice::STALE_NOTICE_LEN`]). A frame
//! that is not has either a bad message behind a good prefix (a corrupted type byte, a
//! type this decoder does not know) or a corrupted prefix, after which every frame read
//! by trusting prefixes is noise until a coincidental realignment. The framer tells them
//! apart by looking ahead: if [`RESYNC_RUN`] well-formed frames follow where the prefix
//! says the next one starts, the framing holds and the bad frame is yielded for the
//! source to count and skip (see [`check_length`](super::check_length)). Otherwise it is
//! a desync: the framer scans forward byte by byte to the first offset that starts
//! [`RESYNC_RUN`] well-formed frames and reports the bytes it skipped.
//!
//! The framer also works on a window of a larger input (a block read from a file):
//! [`Framer::resume`] frames a window, stops where a frame or its look-ahead runs past
//! the window's end, and [`Framer::carry`] says where to continue once more bytes are in.

use std::iter::FusedIterator;

use super::codec::EncodeError;
use super::message::{Message, message_len};
use crate::codec::notice;

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 2;

/// Well-formed frames that must follow a candidate offset before the framer trusts it
/// again. Of the 63 million offsets inside messages of the 2-million-message sample
/// session, 1,728 start one well-formed frame by chance (a zero byte, a length byte and
/// the type byte of that length); none starts two in a row. 4 leaves a margin of two
/// over a run of 2. (17 of those chance frames end exactly on a true message boundary,
/// so a run from them continues into the true stream: a resync that scans onto one
/// misreads one message, odds of about 3 in 10 million per byte scanned.)
pub const RESYNC_RUN: usize = 4;

/// The most bytes one well-formed frame can take: the longest ITCH 5.0 message (`I`,
/// 50 bytes) and its prefix.
const MAX_WELL_FORMED: usize = PREFIX_LEN + 50;

/// The most bytes the framer may need past a frame's prefix to decide on it: the frame's
/// claimed length, then [`RESYNC_RUN`] well-formed frames. A window must be longer than
/// this for framing to make progress.
pub const MAX_LOOKAHEAD: usize = PREFIX_LEN + u16::MAX as usize + RESYNC_RUN * MAX_WELL_FORMED;

/// One length-prefixed message in the input.
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
    /// The length prefix at `offset` does not frame its message and the frames after it
    /// do not line up: `skipped` bytes were passed over to the next offset that starts
    /// [`RESYNC_RUN`] well-formed frames (or to the end of the input).
    #[error(
        "offset {offset}: framing lost (length prefix does not match its message type); {skipped} bytes skipped to resynchronise"
    )]
    Desync { offset: u64, skipped: u64 },
}

impl FrameError {
    /// The byte offset of the length prefix at fault.
    pub fn offset(&self) -> u64 {
        match *self {
            FrameError::TruncatedLength { offset }
            | FrameError::TruncatedMessage { offset, .. }
            | FrameError::ZeroLength { offset }
            | FrameError::Desync { offset, .. } => offset,
        }
    }
}

/// Where framing stopped in a window that does not end the input, and what it was doing:
/// pass it to [`Framer::resume`] with a window that starts at `offset`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Carry {
    /// Input offset of the first byte not yet framed (or scanned).
    pub offset: u64,
    /// A desync in progress: the offset of the prefix that lost the framing.
    desync_from: Option<u64>,
}

/// Splits a file's bytes into frames, in order, without copying.
///
/// Yields `Err` for each problem in turn; after a truncation (a fatal error, since
/// nothing after it can be framed) it yields nothing more.
#[derive(Clone, Debug)]
pub struct Framer<'a> {
    bytes: &'a [u8],
    /// Input offset of `bytes[0]`.
    base: u64,
    /// Index in `bytes` of the next length prefix (or, while resynchronising, of the next
    /// candidate offset).
    at: usize,
    /// `bytes` runs to the end of the input: nothing more will come.
    last: bool,
    desync_from: Option<u64>,
    done: bool,
}

/// Whether well-formed frames follow an offset.
enum Run {
    Holds,
    Broken,
    /// The window ends first.
    NeedMore,
}

impl<'a> Framer<'a> {
    /// Frames a whole input.
    pub fn new(bytes: &'a [u8]) -> Framer<'a> {
        Framer::resume(bytes, Carry::default(), true)
    }

    /// Frames a window of an input that starts at `carry.offset`; `last` says whether the
    /// window runs to the end of the input. A window that does not must be longer than
    /// [`MAX_LOOKAHEAD`], or framing may stop without progress.
    pub fn resume(bytes: &'a [u8], carry: Carry, last: bool) -> Framer<'a> {
        Framer {
            bytes,
            base: carry.offset,
            at: 0,
            last,
            desync_from: carry.desync_from,
            done: false,
        }
    }

    /// Offset of the next length prefix: the bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.base + self.at as u64
    }

    /// Where to go on from once the iteration has ended on a window that is not the last.
    pub fn carry(&self) -> Carry {
        Carry {
            offset: self.offset(),
            desync_from: self.desync_from,
        }
    }

    /// The frame length at `at` if its prefix and type byte are in the window and agree;
    /// `Err(None)` if the window ends first, `Err(Some(len))` if they disagree.
    #[inline]
    fn well_formed(&self, at: usize) -> Result<usize, Option<u16>> {
        let Some(&[hi, lo, kind]) = self.bytes.get(at..at + PREFIX_LEN + 1) else {
            return Err(None);
        };
        let len = u16::from_be_bytes([hi, lo]);
        match message_len(kind) {
            Some(expected) if expected == usize::from(len) => Ok(expected),
            // A capture's notices frame like messages: two in a row (a symbol's stale
            // notice then its fresh one) must not read as a lost framing.
            None if notice::is_notice_type(kind)
                && usize::from(len) == notice::STALE_NOTICE_LEN =>
            {
                Ok(notice::STALE_NOTICE_LEN)
            }
            _ => Err(Some(len)),
        }
    }

    /// Whether [`RESYNC_RUN`] well-formed frames, or well-formed frames to the exact end
    /// of the input, start at `at`.
    fn run_at(&self, mut at: usize) -> Run {
        for _ in 0..RESYNC_RUN {
            if at == self.bytes.len() && self.last {
                return Run::Holds;
            }
            match self.well_formed(at) {
                Ok(len) if at + PREFIX_LEN + len <= self.bytes.len() => at += PREFIX_LEN + len,
                Err(Some(_)) => return Run::Broken,
                _ if self.last => return Run::Broken,
                _ => return Run::NeedMore,
            }
        }
        Run::Holds
    }

    /// Scans from `at` for the offset the framing resumes at, ending the desync that began
    /// at `from` if one is found (or the input ends).
    fn resync(&mut self, from: u64) -> Option<Result<Frame<'a>, FrameError>> {
        while self.at < self.bytes.len() {
            match self.run_at(self.at) {
                Run::Holds => break,
                Run::Broken => self.at += 1,
                Run::NeedMore => return None,
            }
        }
        if self.at == self.bytes.len() && !self.last {
            return None;
        }
        self.desync_from = None;
        Some(Err(FrameError::Desync {
            offset: from,
            skipped: self.offset() - from,
        }))
    }
}

impl<'a> Iterator for Framer<'a> {
    type Item = Result<Frame<'a>, FrameError>;

    /// Only a well-formed frame whole in the window is handled here; anything else goes
    /// to `next_rare`. Kept this small so it inlines into the caller's loop: with the
    /// look-ahead and resync in the same body it was called out of line (27% of the
    /// `feed/itch_decode` bench's samples), and framing and decoding the sample session
    /// took 35 ms instead of 28-31.
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if !self.done && self.desync_from.is_none() {
            let at = self.at;
            if let Ok(len) = self.well_formed(at) {
                let end = at + PREFIX_LEN + len;
                if let Some(bytes) = self.bytes.get(at + PREFIX_LEN..end) {
                    self.at = end;
                    return Some(Ok(Frame {
                        offset: self.base + at as u64,
                        bytes,
                    }));
                }
            }
        }
        self.next_rare()
    }
}

impl<'a> Framer<'a> {
    /// Everything but the common case: a resync in progress, a bad or zero length, a
    /// frame cut by the window's or the input's end. Changes nothing when it yields a
    /// well-formed frame, so it may be entered in any state [`Iterator::next`] is.
    #[cold]
    #[inline(never)]
    fn next_rare(&mut self) -> Option<Result<Frame<'a>, FrameError>> {
        if self.done {
            return None;
        }
        if let Some(from) = self.desync_from {
            return self.resync(from);
        }
        let rest = &self.bytes[self.at..];
        if rest.is_empty() {
            return None;
        }
        let offset = self.offset();
        let Some((prefix, body)) = rest.split_first_chunk::<PREFIX_LEN>() else {
            if !self.last {
                return None;
            }
            self.done = true;
            return Some(Err(FrameError::TruncatedLength { offset }));
        };
        let len = u16::from_be_bytes(*prefix);
        if len == 0 {
            self.at += PREFIX_LEN;
            return Some(Err(FrameError::ZeroLength { offset }));
        }
        let frame_len = PREFIX_LEN + usize::from(len);
        match self.well_formed(self.at) {
            Ok(_) => {}
            // No type byte yet: a window to extend, or a truncation (below).
            Err(None) if !self.last => return None,
            Err(None) => {}
            Err(Some(_)) => match self.run_at(self.at + frame_len) {
                // The prefix is right and the message wrong: yield it, to be skipped.
                Run::Holds => {}
                Run::NeedMore => return None,
                Run::Broken => {
                    self.desync_from = Some(offset);
                    self.at += 1;
                    return self.resync(offset);
                }
            },
        }
        let Some(bytes) = body.get(..usize::from(len)) else {
            if !self.last {
                return None;
            }
            self.done = true;
            return Some(Err(FrameError::TruncatedMessage {
                offset,
                len,
                available: body.len(),
            }));
        };
        self.at += frame_len;
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
    use crate::codec::itch::testing::session;
    use crate::codec::itch::{Header, check_length};

    fn frames(bytes: &[u8]) -> Vec<Result<Frame<'_>, FrameError>> {
        Framer::new(bytes).collect()
    }

    /// An order delete (19 bytes) with its prefix.
    fn delete(order_ref: u64) -> Vec<u8> {
        let msg = Message::OrderDelete {
            header: Header {
                stock_locate: 7,
                tracking_number: 1,
                timestamp: 34_200_000_000_123,
            },
            order_ref,
        };
        let mut out = vec![];
        encode_framed(&msg, &mut out).unwrap();
        out
    }

    #[test]
    fn splits_messages_and_reports_their_offsets() {
        let bytes = [delete(1), delete(2)].concat();
        assert_eq!(
            frames(&bytes),
            [
                Ok(Frame {
                    offset: 0,
                    bytes: &bytes[2..21]
                }),
                Ok(Frame {
                    offset: 21,
                    bytes: &bytes[23..]
                }),
            ]
        );
        assert!(frames(&[]).is_empty());
    }

    #[test]
    fn zero_length_is_skipped_and_iteration_goes_on() {
        let bytes = [delete(1), vec![0, 0], delete(2)].concat();
        let got = frames(&bytes);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], Err(FrameError::ZeroLength { offset: 21 }));
        assert_eq!(got[2].unwrap().offset, 23);
    }

    #[test]
    fn truncations_end_iteration_with_the_prefix_offset() {
        let lone_byte = [delete(1), vec![0]].concat();
        let got = frames(&lone_byte);
        assert_eq!(got[1], Err(FrameError::TruncatedLength { offset: 21 }));
        assert_eq!(got.len(), 2);

        let short = [delete(1), delete(2)].concat();
        let short = &short[..30];
        let mut framer = Framer::new(short);
        assert!(framer.next().unwrap().is_ok());
        let e = framer.next().unwrap().unwrap_err();
        assert_eq!(
            e,
            FrameError::TruncatedMessage {
                offset: 21,
                len: 19,
                available: 7
            }
        );
        assert_eq!(e.offset(), 21);
        assert_eq!(
            e.to_string(),
            "offset 21: truncated message: length 19, 7 bytes left"
        );
        assert_eq!(framer.next(), None);
        assert_eq!(framer.next(), None);
        assert_eq!(framer.offset(), 21);
    }

    #[test]
    fn a_window_stops_where_it_cannot_decide_and_resumes_there() {
        let bytes = [delete(1), delete(2), delete(3)].concat();
        let mut framer = Framer::resume(&bytes[..30], Carry::default(), false);
        assert_eq!(framer.next().unwrap().unwrap().offset, 0);
        assert_eq!(framer.next(), None);
        let carry = framer.carry();
        assert_eq!(carry.offset, 21);
        let rest: Vec<u64> = Framer::resume(&bytes[21..], carry, true)
            .map(|f| f.unwrap().offset)
            .collect();
        assert_eq!(rest, [21, 42]);
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
        assert_eq!(crate::codec::itch::decode(got[1].bytes), Ok(msg));
    }

    #[test]
    fn a_corrupted_prefix_is_a_desync_that_skips_exactly_its_frame() {
        let (mut bytes, offsets) = session(2000);
        let at = offsets[700] as usize;
        let frame_len = (offsets[701] - offsets[700]) as usize;
        // The high byte set: the prefix now claims 256 bytes more than the message has.
        bytes[at] = 1;
        let items: Vec<_> = Framer::new(&bytes).collect();
        assert_eq!(items.len(), offsets.len());
        assert_eq!(
            items[700],
            Err(FrameError::Desync {
                offset: offsets[700],
                skipped: frame_len as u64
            })
        );
        let after: Vec<u64> = items[701..].iter().map(|f| f.unwrap().offset).collect();
        assert_eq!(after, offsets[701..]);
        assert!(items[..700].iter().all(Result::is_ok));
    }

    #[test]
    fn a_bad_message_behind_a_good_prefix_is_yielded_not_resynchronised() {
        let (mut bytes, offsets) = session(500);
        // An unknown type byte: the prefix still frames it, the frames after line up.
        bytes[offsets[100] as usize + PREFIX_LEN] = b'~';
        let items: Vec<_> = Framer::new(&bytes).collect();
        assert_eq!(items.len(), offsets.len());
        assert!(items.iter().all(Result::is_ok));
        assert_eq!(
            check_length(items[100].unwrap().bytes).err(),
            Some(crate::codec::itch::LengthError::UnknownType { kind: b'~' })
        );
    }

    #[test]
    fn a_desync_at_the_end_skips_to_the_end() {
        let (mut bytes, offsets) = session(50);
        let last = *offsets.last().unwrap();
        bytes[last as usize + 1] ^= 0x40;
        let items: Vec<_> = Framer::new(&bytes).collect();
        assert_eq!(
            items.last(),
            Some(&Err(FrameError::Desync {
                offset: last,
                skipped: bytes.len() as u64 - last
            }))
        );
    }

    #[test]
    fn well_formed_lengths_fit_the_look_ahead_bound() {
        for kind in 0..=u8::MAX {
            if let Some(len) = message_len(kind) {
                assert!(PREFIX_LEN + len <= MAX_WELL_FORMED, "type {kind}");
            }
        }
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
                    Err(FrameError::Desync { offset, skipped }) => {
                        prop_assert_eq!(offset, end);
                        prop_assert!(skipped > 0);
                        end = offset + skipped;
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
