//! NASDAQ TotalView-ITCH 5.0: message lengths, a zero-copy decoder, an encoder, and the
//! framing of NASDAQ's daily files.
//!
//! Every message starts with its type byte, the stock locate (`u16`), a tracking number
//! (`u16`) and a 6-byte timestamp (nanoseconds since midnight); all integers are
//! big-endian. `message.rs` holds the specification's field table, from which the
//! [`Message`] type, [`message_len`], [`decode`] and [`encode`] are all derived.
//!
//! The hot path needs only [`check_length`] (in the source) and [`decode`] (in the
//! decode stage); [`stock_locate`] and [`timestamp`] let a source route or time a
//! message without decoding it.

mod codec;
mod frame;
mod message;
mod reader;
mod wire;

#[cfg(test)]
mod known_bytes;
#[cfg(test)]
pub(crate) mod testing;

pub(crate) use codec::Kind;
pub use codec::{DecodeError, EncodeError, LengthError, check_length, decode, encode};
pub use frame::{
    Carry, Frame, FrameError, Framer, MAX_LOOKAHEAD, PREFIX_LEN, RESYNC_RUN, encode_framed,
};
pub use message::{HEADER_LEN, Header, MAX_TIMESTAMP, MESSAGE_KINDS, Message, message_len};
pub use reader::{BLOCK, FrameReader};

/// The stock locate of a message; `None` if `msg` is shorter than a header.
#[inline]
pub fn stock_locate(msg: &[u8]) -> Option<u16> {
    header(msg).map(|h| h.stock_locate)
}

/// The timestamp of a message, in nanoseconds since midnight; `None` if `msg` is shorter
/// than a header.
#[inline]
pub fn timestamp(msg: &[u8]) -> Option<u64> {
    header(msg).map(|h| h.timestamp)
}

#[inline]
fn header(msg: &[u8]) -> Option<Header> {
    Header::read(&mut msg.get(1..HEADER_LEN)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_helpers_read_any_message_and_refuse_short_input() {
        let msg = [
            b'D', 0x12, 0x34, 0, 9, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0xff,
        ];
        assert_eq!(stock_locate(&msg), Some(0x1234));
        assert_eq!(timestamp(&msg), Some(0x0001_0203_0405));
        assert_eq!(stock_locate(&msg[..HEADER_LEN]), Some(0x1234));
        assert_eq!(stock_locate(&msg[..HEADER_LEN - 1]), None);
        assert_eq!(timestamp(&msg[..3]), None);
        assert_eq!(timestamp(&[]), None);
    }
}
