//! The ITCH 5.0 codec on arbitrary bytes: the whole input as one message, then as a
//! NASDAQ file of length-prefixed frames.
//!
//! Beyond "never panics": framing accounts for every byte in order, `check_length` and
//! `decode` agree on every input, and whatever decodes re-encodes to exactly its bytes
//! (decoding is lossless, so a replay can be written back bit for bit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickpipe::codec::itch::{
    self, FrameError, Framer, PREFIX_LEN, check_length, decode, encode, message_len,
};

fuzz_target!(|data: &[u8]| {
    check_message(data);

    let mut framer = Framer::new(data);
    // Offset of the next length prefix, as the framer must report it.
    let mut next = 0u64;
    let mut fatal = false;
    for item in framer.by_ref() {
        assert!(!fatal, "nothing follows a truncation");
        match item {
            Ok(frame) => {
                assert_eq!(frame.offset, next);
                assert!(!frame.bytes.is_empty());
                next += (PREFIX_LEN + frame.bytes.len()) as u64;
                check_message(frame.bytes);
            }
            Err(FrameError::ZeroLength { offset }) => {
                assert_eq!(offset, next);
                next += PREFIX_LEN as u64;
            }
            Err(FrameError::Desync { offset, skipped }) => {
                assert_eq!(offset, next);
                assert!(skipped > 0);
                next += skipped;
            }
            Err(e) => {
                assert_eq!(e.offset(), next);
                fatal = true;
            }
        }
    }
    assert_eq!(framer.offset(), next);
    assert_eq!(fatal, next < data.len() as u64);
});

fn check_message(bytes: &[u8]) {
    match (check_length(bytes), decode(bytes)) {
        (Ok(kind), Ok(msg)) => {
            assert_eq!(msg.kind(), kind);
            assert_eq!(message_len(kind), Some(bytes.len()));
            let mut again = Vec::with_capacity(bytes.len());
            encode(&msg, &mut again).expect("a decoded message has a wire form");
            assert_eq!(again, bytes, "decode then encode is the identity");
            let header = msg.header();
            assert_eq!(itch::stock_locate(bytes), Some(header.stock_locate));
            assert_eq!(itch::timestamp(bytes), Some(header.timestamp));
        }
        (Err(checked), Err(decoded)) => assert_eq!(checked, decoded),
        (checked, decoded) => panic!("check_length says {checked:?}, decode {decoded:?}"),
    }
}
