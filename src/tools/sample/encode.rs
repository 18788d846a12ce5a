//! The encoder: the session's clock and every ITCH message it writes, framed as a
//! NASDAQ file frames them.

use super::{CENT, Session};
use crate::codec::itch::{Header, Message, encode_framed};
use crate::msg::Price;

impl Session {
    pub(super) fn put(&mut self, msg: Message<'_>) {
        // Prices are clamped below MAX_CENTS and the clock ends at 20:05, so every
        // field has a wire form; a failure here is a bug in this file.
        if let Err(e) = encode_framed(&msg, &mut self.out) {
            panic!("sample generator wrote an unencodable message: {e}");
        }
        self.written += 1;
    }

    pub(super) fn header(&self, stock: Option<usize>) -> Header {
        let (stock_locate, tracking_number) =
            stock.map_or((0, 0), |s| (self.stocks[s].locate, self.stocks[s].tracking));
        Header {
            stock_locate,
            tracking_number,
            timestamp: self.clock,
        }
    }

    pub(super) fn listing_header(&self) -> Header {
        Header {
            stock_locate: self.stocks.len() as u16 + 1,
            tracking_number: 1,
            timestamp: self.clock,
        }
    }

    /// Moves the clock on by a realistic gap: mostly a few microseconds, sometimes a
    /// lull of tens; 3.25 µs on average.
    pub(super) fn tick(&mut self) {
        let mut gap = u64::from(self.dice.below(4_000));
        if self.dice.below(16) == 0 {
            gap += u64::from(self.dice.below(40_000));
        }
        self.clock += gap;
    }

    pub(super) fn system_event(&mut self, code: u8) {
        self.put(Message::SystemEvent {
            header: self.header(None),
            event_code: code,
        });
    }

    pub(super) fn trading_action(&mut self, s: usize, state: u8, reason: &[u8; 4]) {
        let name = self.stocks[s].name;
        self.put(Message::StockTradingAction {
            header: self.header(Some(s)),
            stock: &name,
            trading_state: state,
            reserved: b' ',
            reason,
        });
    }

    pub(super) fn take_match(&mut self, s: usize) -> u64 {
        let m = self.next_match;
        self.next_match += 1;
        self.stocks[s].last_match = m;
        m
    }

    /// `Price(4)` from cents.
    pub(super) fn price(cents: i64) -> Price {
        Price(cents * CENT)
    }
}

/// A stock directory entry for a common stock with 100-share round lots.
pub(super) fn directory<'a>(
    header: Header,
    stock: &'a [u8; 8],
    market_category: u8,
    authenticity: u8,
    ipo_flag: u8,
    luld_tier: u8,
) -> Message<'a> {
    Message::StockDirectory {
        header,
        stock,
        market_category,
        financial_status: b'N',
        round_lot_size: 100,
        round_lots_only: b'N',
        issue_classification: b'C',
        issue_sub_type: b"Z ",
        authenticity,
        short_sale_threshold: b'N',
        ipo_flag,
        luld_reference_price_tier: luld_tier,
        etp_flag: b'N',
        etp_leverage_factor: 0,
        inverse_indicator: b'N',
    }
}
