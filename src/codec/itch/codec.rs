//! Checking, decoding and encoding single messages.
//!
//! Strict on lengths, lenient on codes: a message whose length is not its type's length
//! is an error (the bytes after it cannot be trusted to line up), while any byte in a
//! code field decodes as itself, so a file with blanks or newer codes still replays.

use std::fmt;

use super::message::{Message, Unencodable, message_len};

/// Why bytes are not one ITCH 5.0 message. Decoding fails on lengths only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LengthError {
    #[error("empty message")]
    Empty,
    #[error("unknown message type {}", Kind(*kind))]
    UnknownType { kind: u8 },
    #[error("message type {}: {actual} bytes, expected {expected}", Kind(*kind))]
    WrongLength {
        kind: u8,
        expected: usize,
        actual: usize,
    },
}

/// What [`decode`] reports: only lengths are checked, so it is a [`LengthError`].
pub type DecodeError = LengthError;

/// Why a [`Message`] has no wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message type {}: timestamp {ns} ns does not fit 48 bits", Kind(*kind))]
    Timestamp { kind: u8, ns: u64 },
    #[error(
        "message type {}: field {field} does not fit its wire type (Price(4) holds 0 to 429496.7295)",
        Kind(*kind)
    )]
    Field { kind: u8, field: &'static str },
}

/// A type byte for messages and reports: `'A'` when printable, `0x07` otherwise.
pub(crate) struct Kind(pub(crate) u8);

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", self.0 as char)
        } else {
            write!(f, "{:#04x}", self.0)
        }
    }
}

/// Checks that `msg` has exactly the length of its type; returns the type byte.
#[inline]
pub fn check_length(msg: &[u8]) -> Result<u8, LengthError> {
    let &kind = msg.first().ok_or(LengthError::Empty)?;
    let expected = message_len(kind).ok_or(LengthError::UnknownType { kind })?;
    if msg.len() == expected {
        Ok(kind)
    } else {
        Err(LengthError::WrongLength {
            kind,
            expected,
            actual: msg.len(),
        })
    }
}

/// Decodes one message, borrowing its alpha fields from `msg`.
///
/// Always inlined, as is `Message::read`: left to itself the compiler calls both (a
/// 23-arm match is over its threshold), so every message is written to the stack as a
/// `Message` and read back before the decode stage turns it into an event. Inlined, the
/// stage keeps only the fields it reads: `feed/decode_stage` 40.5 → 31.3 ns a message
/// and `feed/decode_book` 69.1 → 61.1 ns (`cargo bench --bench feed`, same run).
#[inline(always)]
pub fn decode(msg: &[u8]) -> Result<Message<'_>, DecodeError> {
    let kind = check_length(msg)?;
    // `read` fails only on a message shorter than its fields, which the check excludes.
    Message::read(msg).ok_or(LengthError::WrongLength {
        kind,
        expected: message_len(kind).unwrap_or(0),
        actual: msg.len(),
    })
}

/// Appends `msg`'s wire form to `out`. On error `out` is left as it was.
pub fn encode(msg: &Message<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    msg.write(out).map_err(|e| {
        out.truncate(start);
        let kind = msg.kind();
        match e {
            Unencodable::Timestamp => EncodeError::Timestamp {
                kind,
                ns: msg.header().timestamp,
            },
            Unencodable::Field(field) => EncodeError::Field { kind, field },
        }
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::message::{Header, MAX_TIMESTAMP, MESSAGE_KINDS, arbitrary_message};
    use super::*;
    use crate::msg::Price;

    #[test]
    fn check_length_tells_unknown_type_from_wrong_length() {
        assert_eq!(check_length(&[]), Err(LengthError::Empty));
        assert_eq!(
            check_length(b"Z123"),
            Err(LengthError::UnknownType { kind: b'Z' })
        );
        assert_eq!(
            check_length(&[b'D'; 18]),
            Err(LengthError::WrongLength {
                kind: b'D',
                expected: 19,
                actual: 18
            })
        );
        assert_eq!(check_length(&[b'D'; 19]), Ok(b'D'));
    }

    #[test]
    fn errors_name_type_and_lengths() {
        let e = decode(&[b'A'; 35]).unwrap_err();
        assert_eq!(e.to_string(), "message type 'A': 35 bytes, expected 36");
        let e = decode(&[0x07, 1, 2]).unwrap_err();
        assert_eq!(e.to_string(), "unknown message type 0x07");
        assert_eq!(decode(&[]).unwrap_err().to_string(), "empty message");
    }

    #[test]
    fn every_type_has_its_specified_length() {
        let expected: [(u8, usize); 23] = [
            (b'S', 12),
            (b'R', 39),
            (b'H', 25),
            (b'Y', 20),
            (b'L', 26),
            (b'V', 35),
            (b'W', 12),
            (b'K', 28),
            (b'J', 35),
            (b'h', 21),
            (b'A', 36),
            (b'F', 40),
            (b'E', 31),
            (b'C', 36),
            (b'X', 23),
            (b'D', 19),
            (b'U', 35),
            (b'P', 44),
            (b'Q', 40),
            (b'B', 19),
            (b'I', 50),
            (b'N', 20),
            (b'O', 48),
        ];
        for (kind, len) in expected {
            assert_eq!(message_len(kind), Some(len), "type {}", kind as char);
        }
        assert_eq!(
            MESSAGE_KINDS.map(|k| (k, message_len(k).unwrap())),
            expected
        );
        let undefined = (0..=u8::MAX).filter(|k| message_len(*k).is_none()).count();
        assert_eq!(undefined, 256 - 23);
    }

    #[test]
    fn encode_refuses_values_without_a_wire_form() {
        let msg = |price, timestamp| Message::OrderReplace {
            header: Header {
                stock_locate: 1,
                tracking_number: 0,
                timestamp,
            },
            original_order_ref: 1,
            new_order_ref: 2,
            shares: 100,
            price,
        };
        let mut out = vec![9];
        assert_eq!(
            encode(&msg(Price(-100), 0), &mut out),
            Err(EncodeError::Field {
                kind: b'U',
                field: "price"
            })
        );
        let e = encode(&msg(Price(100), MAX_TIMESTAMP + 1), &mut out).unwrap_err();
        assert_eq!(
            e,
            EncodeError::Timestamp {
                kind: b'U',
                ns: MAX_TIMESTAMP + 1
            }
        );
        assert!(e.to_string().contains("48 bits"));
        assert_eq!(out, [9], "a failed encode leaves the buffer as it was");
        encode(&msg(Price(100), MAX_TIMESTAMP), &mut out).unwrap();
        assert_eq!(out.len(), 1 + 35);
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(msg in arbitrary_message()) {
            let mut bytes = Vec::new();
            encode(&msg, &mut bytes).unwrap();
            prop_assert_eq!(bytes.len(), message_len(msg.kind()).unwrap());
            prop_assert_eq!(check_length(&bytes), Ok(msg.kind()));
            prop_assert_eq!(decode(&bytes), Ok(msg));
        }

        #[test]
        fn encode_inverts_decode(
            kind in proptest::sample::select(&MESSAGE_KINDS[..]),
            body in proptest::collection::vec(any::<u8>(), 49),
        ) {
            let len = message_len(kind).unwrap();
            let mut bytes = vec![kind];
            bytes.extend_from_slice(&body[..len - 1]);
            let msg = decode(&bytes).unwrap();
            let mut again = Vec::new();
            encode(&msg, &mut again).unwrap();
            prop_assert_eq!(again, bytes);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let checked = check_length(&bytes);
            let decoded = decode(&bytes);
            prop_assert_eq!(checked.is_ok(), decoded.is_ok());
            if let Err(e) = checked {
                prop_assert_eq!(decoded.unwrap_err(), e);
            }
        }

        #[test]
        fn known_types_at_any_length_never_panic(
            kind in proptest::sample::select(&MESSAGE_KINDS[..]),
            len in 0usize..64,
            fill: u8,
        ) {
            let mut bytes = vec![fill; len];
            if let Some(first) = bytes.first_mut() {
                *first = kind;
            }
            let ok = len == message_len(kind).unwrap();
            prop_assert_eq!(decode(&bytes).is_ok(), ok);
        }
    }
}
