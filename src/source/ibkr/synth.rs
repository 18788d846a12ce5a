//! IB's ticks as ITCH 5.0 messages, so the same stages run unchanged and the capture is
//! an ordinary ITCH file.
//!
//! - At start, per symbol: a stock directory `R` (locate = the symbol's index + 1) and a
//!   trading action `H` in state `T` (IB streams only what trades).
//! - A `BidAsk` tick is our own book of at most one order per side: an add `A` for a
//!   side that was empty, a replace `U` for one whose price or size moved, a delete `D`
//!   for one IB reports empty (price or size 0). The side moving away from the other
//!   goes first, so the book is never crossed between the two messages of one tick
//!   unless IB's quote is.
//! - An `AllLast` tick is a trade print `P` (order reference 0, as NASDAQ sends it).
//!
//! **Event time.** IB's tick-by-tick times are whole seconds. A tick's event time is
//! that second, plus the sub-second part of the host's clock when the tick was read,
//! held inside the second IB named (a clock ahead or behind cannot move a tick out of
//! it), and never before the previous message's. Seconds count from 05:00 UTC of the
//! session's day (midnight EST, 01:00 EDT), so US equity sessions (04:00 to 20:00
//! Eastern) never cross a day boundary; a tick past the day is stamped at its last
//! nanosecond. The capture holds these timestamps, so a replay never reads a clock.
//!
//! Every message is encoded into one reused buffer: no allocation per tick once its
//! capacity is reached (44 bytes, a `P`).

use crate::codec::itch::{Header, Message, encode};
use crate::msg::{Price, SymbolName};

/// Where a session's day starts: 05:00 UTC, in seconds after midnight UTC.
const DAY_START_UTC_S: i64 = 5 * 3600;
const DAY_S: i64 = 86_400;
const NS: i64 = 1_000_000_000;
/// The day's last nanosecond: a tick past the day (a session run across 05:00 UTC) is
/// stamped there, as ITCH timestamps are within a day.
const LAST_NS: u64 = crate::source::event_clock::DAY_NS - 1;

/// One side of a symbol's synthetic book.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Resting {
    order_ref: u64,
    price: Price,
    shares: u32,
}

/// One symbol's synthetic book.
#[derive(Clone, Debug)]
struct SymbolBook {
    locate: u16,
    stock: SymbolName,
    bid: Option<Resting>,
    ask: Option<Resting>,
}

/// Why a tick could not become ITCH.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Untranslatable {
    /// A price that ITCH's `Price(4)` cannot hold exactly (negative, past $429 496.7295,
    /// or finer than $0.0001).
    Price(f64),
    /// A size that is not a whole number of shares up to `u32::MAX`.
    Size(f64),
}

impl std::fmt::Display for Untranslatable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Untranslatable::Price(p) => write!(f, "price {p} is not a Price(4)"),
            Untranslatable::Size(s) => write!(f, "size {s} is not whole shares"),
        }
    }
}

/// IB's price as ITCH's `Price(4)`; 0 is `None` (IB's "no price").
fn price(p: f64) -> Result<Option<Price>, Untranslatable> {
    let units = p * Price::SCALE as f64;
    let rounded = units.round();
    // 1e-6 of a unit: an f64 of a 4-decimal price is that close to its units.
    if !(0.0..=f64::from(u32::MAX)).contains(&rounded) || (units - rounded).abs() > 1e-6 {
        return Err(Untranslatable::Price(p));
    }
    Ok((rounded > 0.0).then_some(Price(rounded as i64)))
}

fn shares(s: f64) -> Result<u32, Untranslatable> {
    if !(0.0..=f64::from(u32::MAX)).contains(&s) || s.fract() != 0.0 {
        return Err(Untranslatable::Size(s));
    }
    Ok(s as u32)
}

/// The synthesiser: one per source, holding every symbol's book and the event time.
#[derive(Debug)]
pub struct Synth {
    books: Vec<SymbolBook>,
    next_ref: u64,
    match_number: u64,
    /// Seconds since the Unix epoch at which the session's day starts; set by the first
    /// stamp.
    day_start_s: Option<i64>,
    /// Event time of the last message, nanoseconds since the day's start.
    last_ts: u64,
    buf: Vec<u8>,
}

impl Synth {
    /// For `symbols`, in universe order: symbol `i` gets stock locate `i + 1`.
    pub fn new(symbols: &[SymbolName]) -> Synth {
        Synth {
            books: symbols
                .iter()
                .enumerate()
                .map(|(i, &stock)| SymbolBook {
                    locate: u16::try_from(i + 1).expect("at most 16384 symbols"),
                    stock,
                    bid: None,
                    ask: None,
                })
                .collect(),
            next_ref: 1,
            match_number: 1,
            day_start_s: None,
            last_ts: 0,
            buf: Vec::with_capacity(64),
        }
    }

    /// The stock locate of symbol `symbol`.
    pub fn locate(&self, symbol: usize) -> u16 {
        self.books[symbol].locate
    }

    /// The event time of the last message: where a notice the source sends sits.
    pub fn last_ts(&self) -> u64 {
        self.last_ts
    }

    /// Event time for a tick IB timed at `time_s`, read at `recv_unix_ns` (see the
    /// module's doc).
    pub fn stamp(&mut self, time_s: i64, recv_unix_ns: u64) -> u64 {
        let day_start = *self.day_start_s.get_or_insert_with(|| {
            (time_s - DAY_START_UTC_S).div_euclid(DAY_S) * DAY_S + DAY_START_UTC_S
        });
        let second_ns = (time_s - day_start).max(0) as u64 * NS as u64;
        let within = (recv_unix_ns as i128 - i128::from(time_s) * i128::from(NS))
            .clamp(0, i128::from(NS - 1)) as u64;
        self.last_ts = self.last_ts.max(second_ns + within).min(LAST_NS);
        self.last_ts
    }

    /// The session's opening messages at event time `ts`: each symbol's directory entry
    /// and trading state.
    pub fn open(&mut self, ts: u64, mut out: impl FnMut(&[u8])) {
        for i in 0..self.books.len() {
            let (locate, stock) = (self.books[i].locate, self.books[i].stock);
            let header = header(locate, ts);
            // Only the locate and the ticker are read downstream; the rest says "not
            // known" (blank) where ITCH allows it, else the common case.
            self.emit(
                &Message::StockDirectory {
                    header,
                    stock: &stock.0,
                    market_category: b' ',
                    financial_status: b' ',
                    round_lot_size: 100,
                    round_lots_only: b'N',
                    issue_classification: b' ',
                    issue_sub_type: b"  ",
                    authenticity: b'P',
                    short_sale_threshold: b' ',
                    ipo_flag: b' ',
                    luld_reference_price_tier: b' ',
                    etp_flag: b' ',
                    etp_leverage_factor: 0,
                    inverse_indicator: b' ',
                },
                &mut out,
            );
            self.emit(
                &Message::StockTradingAction {
                    header,
                    stock: &stock.0,
                    trading_state: b'T',
                    reserved: b' ',
                    reason: b"    ",
                },
                &mut out,
            );
        }
    }

    /// A `BidAsk` tick of `symbol` at event time `ts` (from [`Synth::stamp`]): the
    /// messages that move its book there. Nothing is emitted for one that cannot be
    /// translated.
    #[allow(clippy::too_many_arguments)] // one tick's fields, as IB gives them
    pub fn quote(
        &mut self,
        symbol: usize,
        ts: u64,
        bid: f64,
        ask: f64,
        bid_size: f64,
        ask_size: f64,
        mut out: impl FnMut(&[u8]),
    ) -> Result<(), Untranslatable> {
        let side = |p: f64, s: f64| -> Result<Option<(Price, u32)>, Untranslatable> {
            let (p, s) = (price(p)?, shares(s)?);
            Ok(p.filter(|_| s > 0).map(|p| (p, s)))
        };
        let (new_bid, new_ask) = (side(bid, bid_size)?, side(ask, ask_size)?);
        let old_ask = self.books[symbol].ask.map(|r| r.price);
        // The bid moving up to or through the old ask: move the ask away first.
        let ask_first = matches!((new_bid, old_ask), (Some((b, _)), Some(a)) if b >= a);
        if ask_first {
            self.move_side(symbol, b'S', new_ask, ts, &mut out);
            self.move_side(symbol, b'B', new_bid, ts, &mut out);
        } else {
            self.move_side(symbol, b'B', new_bid, ts, &mut out);
            self.move_side(symbol, b'S', new_ask, ts, &mut out);
        }
        Ok(())
    }

    /// An `AllLast` tick of `symbol` at event time `ts`: a trade print. A print of no
    /// shares or no price is `Ok(false)`, nothing emitted.
    pub fn trade(
        &mut self,
        symbol: usize,
        ts: u64,
        px: f64,
        size: f64,
        mut out: impl FnMut(&[u8]),
    ) -> Result<bool, Untranslatable> {
        let (Some(px), shares) = (price(px)?, shares(size)?) else {
            return Ok(false);
        };
        if shares == 0 {
            return Ok(false);
        }
        let (locate, stock) = (self.books[symbol].locate, self.books[symbol].stock);
        let match_number = self.match_number;
        self.match_number += 1;
        self.emit(
            &Message::Trade {
                header: header(locate, ts),
                order_ref: 0,
                side: b'B',
                shares,
                stock: &stock.0,
                price: px,
                match_number,
            },
            &mut out,
        );
        Ok(true)
    }

    fn move_side(
        &mut self,
        symbol: usize,
        side: u8,
        to: Option<(Price, u32)>,
        ts: u64,
        out: &mut impl FnMut(&[u8]),
    ) {
        let book = &self.books[symbol];
        let (locate, stock) = (book.locate, book.stock);
        let was = if side == b'B' { book.bid } else { book.ask };
        let header = header(locate, ts);
        let now = match (was, to) {
            (None, None) => return,
            (Some(r), None) => {
                self.emit(
                    &Message::OrderDelete {
                        header,
                        order_ref: r.order_ref,
                    },
                    out,
                );
                None
            }
            (Some(r), Some((price, shares))) if r.price == price && r.shares == shares => {
                return;
            }
            (was, Some((price, shares))) => {
                let order_ref = self.next_ref;
                self.next_ref += 1;
                let msg = match was {
                    Some(r) => Message::OrderReplace {
                        header,
                        original_order_ref: r.order_ref,
                        new_order_ref: order_ref,
                        shares,
                        price,
                    },
                    None => Message::AddOrder {
                        header,
                        order_ref,
                        side,
                        shares,
                        stock: &stock.0,
                        price,
                    },
                };
                self.emit(&msg, out);
                Some(Resting {
                    order_ref,
                    price,
                    shares,
                })
            }
        };
        let book = &mut self.books[symbol];
        if side == b'B' {
            book.bid = now;
        } else {
            book.ask = now;
        }
    }

    fn emit(&mut self, msg: &Message<'_>, out: &mut impl FnMut(&[u8])) {
        self.buf.clear();
        encode(msg, &mut self.buf).expect("a synthesised message fits its wire fields");
        out(&self.buf);
    }
}

fn header(locate: u16, ts: u64) -> Header {
    Header {
        stock_locate: locate,
        tracking_number: 0,
        timestamp: ts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::itch::decode;

    /// 2026-12-04 14:30:00 UTC (09:30 EST): 9 h 30 min after the day's start.
    const OPEN_S: i64 = 1_796_394_600;
    const OPEN_TS: u64 = (9 * 3600 + 30 * 60) * 1_000_000_000;

    fn synth() -> Synth {
        Synth::new(&[
            SymbolName::new("AAPL").unwrap(),
            SymbolName::new("MSFT").unwrap(),
        ])
    }

    fn kinds(f: impl FnOnce(&mut dyn FnMut(&[u8]))) -> Vec<String> {
        let mut got = Vec::new();
        f(&mut |m: &[u8]| {
            got.push(format!("{:?}", decode(m).unwrap()));
        });
        got
    }

    #[test]
    fn event_time_is_ibs_second_with_the_hosts_sub_second_never_going_back() {
        let mut s = synth();
        let second = OPEN_S as u64 * 1_000_000_000;
        assert_eq!(s.stamp(OPEN_S, second + 250), OPEN_TS + 250);
        // A host clock a second ahead stays inside IB's second.
        assert_eq!(
            s.stamp(OPEN_S, second + 1_500_000_000),
            OPEN_TS + 999_999_999
        );
        // One behind: the start of IB's second, but never before the last message.
        assert_eq!(s.stamp(OPEN_S, second - 5), OPEN_TS + 999_999_999);
        assert_eq!(
            s.stamp(OPEN_S + 1, second + 1_000_000_007),
            OPEN_TS + 1_000_000_007
        );
        assert_eq!(s.last_ts(), OPEN_TS + 1_000_000_007);
        // Two days on: the day's last nanosecond.
        assert_eq!(s.stamp(OPEN_S + 2 * 86_400, 0), LAST_NS);
    }

    #[test]
    fn quotes_keep_one_order_a_side_and_trades_print() {
        let mut s = synth();
        let ts = OPEN_TS;
        let got = kinds(|out| {
            s.quote(0, ts, 100.0, 100.05, 300.0, 200.0, &mut *out)
                .unwrap();
            // Same quote: nothing; the bid moves: one replace.
            s.quote(0, ts, 100.0, 100.05, 300.0, 200.0, &mut *out)
                .unwrap();
            s.quote(0, ts, 100.01, 100.05, 300.0, 200.0, &mut *out)
                .unwrap();
            // The bid moves up to the old ask: the ask moves away first.
            s.quote(0, ts, 100.05, 100.10, 100.0, 100.0, &mut *out)
                .unwrap();
            // The ask empties.
            s.quote(0, ts, 100.05, 0.0, 100.0, 0.0, &mut *out).unwrap();
            assert!(s.trade(1, ts, 50.25, 7.0, &mut *out).unwrap());
            assert!(!s.trade(1, ts, 50.25, 0.0, &mut *out).unwrap());
        });
        let short: Vec<&str> = got.iter().map(|m| m.split(' ').next().unwrap()).collect();
        assert_eq!(
            short,
            [
                "AddOrder",
                "AddOrder",
                "OrderReplace",
                "OrderReplace",
                "OrderReplace",
                "OrderDelete",
                "Trade"
            ],
            "{got:#?}"
        );
        assert!(
            got[3].contains("original_order_ref: 2"),
            "ask first: {}",
            got[3]
        );
        assert!(
            got[4].contains("original_order_ref: 3"),
            "then the bid: {}",
            got[4]
        );
        assert!(
            got[6].contains("shares: 7") && got[6].contains("Price(502500)"),
            "{}",
            got[6]
        );
    }

    #[test]
    fn a_tick_itch_cannot_hold_is_refused_whole() {
        let mut s = synth();
        let got = kinds(|out| {
            assert_eq!(
                s.quote(0, 1, 100.00001, 101.0, 1.0, 1.0, &mut *out),
                Err(Untranslatable::Price(100.00001))
            );
            assert_eq!(
                s.quote(0, 1, 100.0, 101.0, 1.5, 1.0, &mut *out),
                Err(Untranslatable::Size(1.5))
            );
            assert_eq!(
                s.trade(0, 1, -1.0, 1.0, &mut *out),
                Err(Untranslatable::Price(-1.0))
            );
        });
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn the_session_opens_with_a_directory_and_trading_state_per_symbol() {
        let mut s = synth();
        let got = kinds(|out| s.open(5, out));
        assert_eq!(got.len(), 4);
        assert!(got[0].starts_with("StockDirectory") && got[0].contains("stock_locate: 1"));
        assert!(got[3].starts_with("StockTradingAction") && got[3].contains("stock_locate: 2"));
    }
}
