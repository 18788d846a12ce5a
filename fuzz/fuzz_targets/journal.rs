//! The journal reader on arbitrary bytes as a segment: it never panics, whatever the
//! lengths, CRCs and payloads say; what it accepts is contiguous from the segment's first
//! sequence number; and every record it decodes encodes back to the same bytes.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tickpipe::journal::entry::{Entry, MAX_PAYLOAD};
use tickpipe::journal::format::{self, At, HEADER};
use tickpipe::journal::reader::{self, Record};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.seg");
    for later in [false, true] {
        let Ok(read) = reader::read_segment(0, path, data, 1, later) else {
            continue;
        };
        assert!(read.end <= data.len());
        if later {
            assert!(
                read.torn.is_none(),
                "a torn tail before a later segment is damage"
            );
        }
        let mut at = 0;
        for (i, (seq, record)) in read.records.iter().enumerate() {
            assert_eq!(*seq, i as u64 + 1);
            let At::Record(frame) = format::read(&data[at..]) else {
                panic!("accepted record {seq} does not frame at {at}");
            };
            if let Record::Entry(entry) = record {
                let mut buf = [0u8; HEADER + MAX_PAYLOAD];
                let len = entry.encode(&mut buf[HEADER..]);
                assert_eq!(
                    &buf[HEADER..HEADER + len],
                    frame.payload,
                    "re-encoding differs"
                );
                let framed = format::frame(&mut buf, *seq, entry.kind(), len);
                assert_eq!(&buf[..framed], &data[at..at + frame.len]);
                assert_eq!(Entry::decode(frame.kind, frame.payload), Ok(*entry));
            }
            at += frame.len;
        }
        assert_eq!(at, read.end);
    }
});
