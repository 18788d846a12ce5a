//! Messages tests build again and again, written once.

use super::{Header, Message};

/// A stock directory (`R`) entry for `stock` with ordinary field values: a Nasdaq
/// Global Select common stock trading in round lots of 100.
pub fn stock_directory(header: Header, stock: &[u8; 8]) -> Message<'_> {
    Message::StockDirectory {
        header,
        stock,
        market_category: b'Q',
        financial_status: b'N',
        round_lot_size: 100,
        round_lots_only: b'N',
        issue_classification: b'C',
        issue_sub_type: b"Z ",
        authenticity: b'P',
        short_sale_threshold: b'N',
        ipo_flag: b'N',
        luld_reference_price_tier: b'1',
        etp_flag: b'N',
        etp_leverage_factor: 0,
        inverse_indicator: b'N',
    }
}

/// `messages` framed messages of every type with fields drawn over their whole wire
/// range, from a fixed seed (the same bytes every run), and the offset of each length
/// prefix. Framing tests corrupt it; it needs nothing above the codec.
pub fn session(messages: usize) -> (Vec<u8>, Vec<u64>) {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    let strategy = super::message::arbitrary_message();
    let mut runner = TestRunner::deterministic();
    let mut bytes = Vec::new();
    let mut offsets = Vec::with_capacity(messages);
    for _ in 0..messages {
        offsets.push(bytes.len() as u64);
        let message = strategy
            .new_tree(&mut runner)
            .expect("the message strategy never rejects")
            .current();
        super::encode_framed(&message, &mut bytes).expect("every drawn message encodes");
    }
    (bytes, offsets)
}
