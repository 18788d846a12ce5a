//! The feed source's output: one framed exchange message, copied into a ring slot.

use super::{Stamp, Stamped};

/// One ITCH message as framed by the source, before decoding.
///
/// The bytes travel inside the slot (64 bytes, one cache line) rather than as an offset
/// into the source's buffer: the consumer then needs no second cache line to decode, and
/// the source may reuse its buffer (a file's read block, a live UDP packet) once the
/// message is framed.
/// The source has already checked the length against the message type, so every frame
/// decodes; the event time is inside the message, so only the receive time rides here.
#[repr(C, align(64))]
#[derive(Copy, Clone, Debug)]
pub struct RawFrame {
    /// See [`Stamp::ts_recv`].
    pub ts_recv: u64,
    /// Message length in bytes, `1..=CAPACITY`.
    pub len: u8,
    /// The message, type byte first; bytes past `len` are unspecified.
    pub bytes: [u8; RawFrame::CAPACITY],
}

impl RawFrame {
    /// Longest message a frame holds; ITCH 5.0's longest is 50 bytes (`I`, NOII).
    pub const CAPACITY: usize = 55;

    /// Frames `msg`; `None` if it is empty or longer than [`RawFrame::CAPACITY`].
    #[inline]
    pub fn new(ts_recv: u64, msg: &[u8]) -> Option<RawFrame> {
        if msg.is_empty() || msg.len() > Self::CAPACITY {
            return None;
        }
        let mut bytes = [0u8; Self::CAPACITY];
        bytes[..msg.len()].copy_from_slice(msg);
        Some(RawFrame {
            ts_recv,
            len: msg.len() as u8,
            bytes,
        })
    }

    /// The framed message.
    #[inline]
    pub fn message(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl Stamped for RawFrame {
    #[inline]
    fn stamp(&self) -> Stamp {
        Stamp {
            ts_recv: self.ts_recv,
            ts_event: 0,
        }
    }
}
