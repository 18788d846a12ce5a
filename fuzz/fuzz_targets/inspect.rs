//! `tickpipe inspect` on arbitrary bytes: framing, decoding, the decode stage's mapping to
//! book events and the books themselves, end to end as the CLI runs them.
//!
//! Never panics, and what it reports adds up: the message count is the sum by type, every
//! offset kept is inside the input, and every report renders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickpipe::app::inspect::inspect;

fuzz_target!(|data: &[u8]| {
    let got = inspect(data);
    assert_eq!(got.messages, got.by_type.iter().sum::<u64>());
    assert_eq!(got.bytes, data.len() as u64);
    for (_, tally) in got.problems.iter() {
        assert!(!tally.first.is_empty() && tally.first.len() as u64 <= tally.count);
        assert!(tally.first.iter().all(|p| p.offset() < data.len() as u64));
    }
    for s in &got.symbols {
        if let (Some(bid), Some(ask)) = (s.bid, s.ask) {
            assert_eq!(s.crossed, bid.price >= ask.price);
        }
    }
    let _ = (
        got.to_json().to_string(),
        got.to_text(),
        got.problems_text("fuzz"),
    );
});
