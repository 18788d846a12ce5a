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
