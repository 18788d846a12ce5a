//! One hand-built message per type, laid out field by field from the specification, so
//! that an offset or width error in the table fails here even though the encoder and
//! decoder, derived from the same table, would agree with each other.

use super::{Header, Message, decode, encode};
use crate::msg::Price;

/// Locate 0x0102, tracking number 3, 09:30:00.000000001.
const HEADER: Header = Header {
    stock_locate: 0x0102,
    tracking_number: 3,
    timestamp: 34_200_000_000_001,
};

fn bytes(kind: u8, fields: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![
        kind, 0x01, 0x02, 0x00, 0x03, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x01,
    ];
    for f in fields {
        out.extend_from_slice(f);
    }
    out
}

fn check(bytes: &[u8], expected: Message<'_>) {
    assert_eq!(decode(bytes), Ok(expected));
    let mut again = Vec::new();
    encode(&expected, &mut again).unwrap();
    assert_eq!(again, bytes);
}

const fn u16b(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

const fn u32b(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

const fn u64b(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

#[test]
fn header_layout() {
    let b = bytes(b'S', &[b"O"]);
    assert_eq!(&b[1..3], &u16b(0x0102));
    assert_eq!(&b[5..11], &u64b(34_200_000_000_001)[2..]);
}

#[test]
fn system_event() {
    check(
        &bytes(b'S', &[b"Q"]),
        Message::SystemEvent {
            header: HEADER,
            event_code: b'Q',
        },
    );
}

#[test]
fn stock_directory() {
    let b = bytes(
        b'R',
        &[
            b"AAPL    ",
            b"Q",
            b"N",
            &u32b(100),
            b"N",
            b"C",
            b"Z ",
            b"P",
            b"N",
            b"N",
            b"1",
            b"N",
            &u32b(0),
            b" ",
        ],
    );
    check(
        &b,
        Message::StockDirectory {
            header: HEADER,
            stock: b"AAPL    ",
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
            inverse_indicator: b' ',
        },
    );
}

#[test]
fn stock_trading_action() {
    check(
        &bytes(b'H', &[b"TSLA    ", b"H", b" ", b"LUDP"]),
        Message::StockTradingAction {
            header: HEADER,
            stock: b"TSLA    ",
            trading_state: b'H',
            reserved: b' ',
            reason: b"LUDP",
        },
    );
}

#[test]
fn reg_sho_restriction() {
    check(
        &bytes(b'Y', &[b"MSFT    ", b"1"]),
        Message::RegShoRestriction {
            header: HEADER,
            stock: b"MSFT    ",
            reg_sho_action: b'1',
        },
    );
}

#[test]
fn market_participant_position() {
    check(
        &bytes(b'L', &[b"GSCO", b"NVDA    ", b"Y", b"N", b"A"]),
        Message::MarketParticipantPosition {
            header: HEADER,
            attribution: b"GSCO",
            stock: b"NVDA    ",
            primary_market_maker: b'Y',
            market_maker_mode: b'N',
            market_participant_state: b'A',
        },
    );
}

#[test]
fn mwcb_decline_level() {
    // 5123.45678901, 4700, 4300.12345678 with eight implied decimals.
    let levels = [512_345_678_901_u64, 470_000_000_000, 430_012_345_678];
    check(
        &bytes(
            b'V',
            &[&u64b(levels[0]), &u64b(levels[1]), &u64b(levels[2])],
        ),
        Message::MwcbDeclineLevel {
            header: HEADER,
            level_1: levels[0],
            level_2: levels[1],
            level_3: levels[2],
        },
    );
}

#[test]
fn mwcb_status() {
    check(
        &bytes(b'W', &[b"2"]),
        Message::MwcbStatus {
            header: HEADER,
            breached_level: b'2',
        },
    );
}

#[test]
fn ipo_quoting_period_update() {
    check(
        &bytes(b'K', &[b"NEWCO   ", &u32b(43_200), b"A", &u32b(250_000)]),
        Message::IpoQuotingPeriodUpdate {
            header: HEADER,
            stock: b"NEWCO   ",
            release_time: 43_200,
            release_qualifier: b'A',
            ipo_price: Price(250_000),
        },
    );
}

#[test]
fn luld_auction_collar() {
    check(
        &bytes(
            b'J',
            &[
                b"AMD     ",
                &u32b(1_500_000),
                &u32b(1_575_000),
                &u32b(1_425_000),
                &u32b(2),
            ],
        ),
        Message::LuldAuctionCollar {
            header: HEADER,
            stock: b"AMD     ",
            reference_price: Price(1_500_000),
            upper_price: Price(1_575_000),
            lower_price: Price(1_425_000),
            extension: 2,
        },
    );
}

#[test]
fn operational_halt() {
    check(
        &bytes(b'h', &[b"IBM     ", b"Q", b"H"]),
        Message::OperationalHalt {
            header: HEADER,
            stock: b"IBM     ",
            market_code: b'Q',
            action: b'H',
        },
    );
}

#[test]
fn add_order() {
    check(
        &bytes(
            b'A',
            &[
                &u64b(0x0102_0304_0506_0708),
                b"B",
                &u32b(300),
                b"AAPL    ",
                &u32b(2_301_200),
            ],
        ),
        Message::AddOrder {
            header: HEADER,
            order_ref: 0x0102_0304_0506_0708,
            side: b'B',
            shares: 300,
            stock: b"AAPL    ",
            price: Price(2_301_200),
        },
    );
}

#[test]
fn add_order_mpid() {
    check(
        &bytes(
            b'F',
            &[
                &u64b(77),
                b"S",
                &u32b(1_000),
                b"GOOGL   ",
                &u32b(1_650_100),
                b"VIRT",
            ],
        ),
        Message::AddOrderMpid {
            header: HEADER,
            order_ref: 77,
            side: b'S',
            shares: 1_000,
            stock: b"GOOGL   ",
            price: Price(1_650_100),
            attribution: b"VIRT",
        },
    );
}

#[test]
fn order_executed() {
    check(
        &bytes(b'E', &[&u64b(77), &u32b(200), &u64b(9_001)]),
        Message::OrderExecuted {
            header: HEADER,
            order_ref: 77,
            executed_shares: 200,
            match_number: 9_001,
        },
    );
}

#[test]
fn order_executed_with_price() {
    check(
        &bytes(
            b'C',
            &[&u64b(77), &u32b(200), &u64b(9_002), b"N", &u32b(1_650_000)],
        ),
        Message::OrderExecutedWithPrice {
            header: HEADER,
            order_ref: 77,
            executed_shares: 200,
            match_number: 9_002,
            printable: b'N',
            execution_price: Price(1_650_000),
        },
    );
}

#[test]
fn order_cancel() {
    check(
        &bytes(b'X', &[&u64b(77), &u32b(100)]),
        Message::OrderCancel {
            header: HEADER,
            order_ref: 77,
            cancelled_shares: 100,
        },
    );
}

#[test]
fn order_delete() {
    check(
        &bytes(b'D', &[&u64b(77)]),
        Message::OrderDelete {
            header: HEADER,
            order_ref: 77,
        },
    );
}

#[test]
fn order_replace() {
    check(
        &bytes(b'U', &[&u64b(77), &u64b(78), &u32b(500), &u32b(1_650_200)]),
        Message::OrderReplace {
            header: HEADER,
            original_order_ref: 77,
            new_order_ref: 78,
            shares: 500,
            price: Price(1_650_200),
        },
    );
}

#[test]
fn trade() {
    check(
        &bytes(
            b'P',
            &[
                &u64b(0),
                b"B",
                &u32b(50),
                b"META    ",
                &u32b(5_600_100),
                &u64b(9_003),
            ],
        ),
        Message::Trade {
            header: HEADER,
            order_ref: 0,
            side: b'B',
            shares: 50,
            stock: b"META    ",
            price: Price(5_600_100),
            match_number: 9_003,
        },
    );
}

#[test]
fn cross_trade() {
    check(
        &bytes(
            b'Q',
            &[
                &u64b(1_234_567),
                b"ORCL    ",
                &u32b(1_700_000),
                &u64b(9_004),
                b"O",
            ],
        ),
        Message::CrossTrade {
            header: HEADER,
            shares: 1_234_567,
            stock: b"ORCL    ",
            cross_price: Price(1_700_000),
            match_number: 9_004,
            cross_type: b'O',
        },
    );
}

#[test]
fn broken_trade() {
    check(
        &bytes(b'B', &[&u64b(9_001)]),
        Message::BrokenTrade {
            header: HEADER,
            match_number: 9_001,
        },
    );
}

#[test]
fn noii() {
    check(
        &bytes(
            b'I',
            &[
                &u64b(40_000),
                &u64b(2_500),
                b"B",
                b"AMZN    ",
                &u32b(1_860_000),
                &u32b(1_855_000),
                &u32b(1_850_000),
                b"O",
                b"1",
            ],
        ),
        Message::Noii {
            header: HEADER,
            paired_shares: 40_000,
            imbalance_shares: 2_500,
            imbalance_direction: b'B',
            stock: b"AMZN    ",
            far_price: Price(1_860_000),
            near_price: Price(1_855_000),
            current_reference_price: Price(1_850_000),
            cross_type: b'O',
            price_variation: b'1',
        },
    );
}

#[test]
fn rpii() {
    check(
        &bytes(b'N', &[b"AAPL    ", b"A"]),
        Message::Rpii {
            header: HEADER,
            stock: b"AAPL    ",
            interest_flag: b'A',
        },
    );
}

#[test]
fn direct_listing_price_discovery() {
    check(
        &bytes(
            b'O',
            &[
                b"NEWCO   ",
                b"Y",
                &u32b(200_000),
                &u32b(450_000),
                &u32b(260_000),
                &u64b(43_500_000_000_000),
                &u32b(234_000),
                &u32b(286_000),
            ],
        ),
        Message::DirectListingPriceDiscovery {
            header: HEADER,
            stock: b"NEWCO   ",
            open_eligibility: b'Y',
            minimum_allowable_price: Price(200_000),
            maximum_allowable_price: Price(450_000),
            near_execution_price: Price(260_000),
            near_execution_time: 43_500_000_000_000,
            lower_price_range_collar: Price(234_000),
            upper_price_range_collar: Price(286_000),
        },
    );
}

#[test]
fn unknown_codes_decode_as_themselves() {
    let b = bytes(
        b'A',
        &[&u64b(1), b"?", &u32b(1), b"\0\0\0\0\0\0\0\0", &u32b(1)],
    );
    let msg = decode(&b).unwrap();
    assert!(matches!(
        msg,
        Message::AddOrder {
            side: b'?',
            stock: [0, 0, 0, 0, 0, 0, 0, 0],
            ..
        }
    ));
}
