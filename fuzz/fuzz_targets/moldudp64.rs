//! MoldUDP64: the packet and request parsers, and the live source's sequencer behind
//! them, on arbitrary bytes.
//!
//! The input is first parsed whole as one datagram: a packet that parses must account
//! for every byte. Then it is cut into datagrams (each preceded by a one-byte length)
//! and fed to a sequencer, alternating the feed and recovery sockets, with its timers
//! polled at advancing times: whatever arrives — garbage, duplicates, gaps, sequence
//! numbers near `u64::MAX`, end of session before its messages — it must neither
//! panic nor apply a message out of sequence order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickpipe::codec::mold::{BLOCK_PREFIX_LEN, HEADER_LEN, Packet, Request, Session};
use tickpipe::source::live::{Limits, Origin, Sequencer, Sink};

/// Checks that the stream offsets it is given only grow, as sequence order requires.
struct Check {
    next_offset: u64,
}

impl Sink for Check {
    fn message(&mut self, offset: u64, msg: &[u8], _ts_recv: u64) {
        assert_eq!(offset, self.next_offset, "messages applied out of order");
        self.next_offset = offset + (BLOCK_PREFIX_LEN + msg.len()) as u64;
    }

    fn stale(&mut self, _ts_event: u64, _ts_recv: u64) {}
}

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::parse(data) {
        let used: usize = p.messages().map(|m| BLOCK_PREFIX_LEN + m.len()).sum();
        assert_eq!(HEADER_LEN + used, data.len());
        assert_eq!(p.messages().count(), usize::from(p.count()));
        assert!(p.next_sequence() >= p.sequence);
    }
    if let Ok(r) = Request::parse(data) {
        assert_eq!(Request::parse(&r.to_bytes()), Ok(r));
    }

    // Session "F" (right-padded): inputs that start with it reach the sequencing logic.
    let session = Session::new("F").expect("a valid name");
    let limits = Limits {
        max_gap: 1 << 16,
        max_request: 64,
        request_interval_ns: 10,
        recovery_timeout_ns: 1_000,
        reorder_slots: 8,
        reorder_slot_bytes: 256,
    };
    let mut sequencer = Sequencer::new(session, limits);
    let mut sink = Check { next_offset: 0 };
    let mut rest = data;
    let mut now = 0u64;
    let mut turn = 0u64;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (datagram, tail) = tail.split_at(len);
        rest = tail;
        let origin = if turn % 3 == 2 {
            Origin::Recovery
        } else {
            Origin::Feed
        };
        sequencer.on_datagram(datagram, origin, now, &mut sink);
        now += 97;
        if let Some(request) = sequencer.poll(now, &mut sink) {
            assert!(request.count >= 1 && request.sequence == sequencer.expected());
        }
        turn += 1;
    }
    sequencer.abandon(now, &mut sink);
});
