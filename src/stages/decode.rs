//! Stage 1, decode: ITCH bytes → [`MarketEvent`]s for configured symbols.
//!
//! Locates are the exchange's numbering for the day, learned from stock directory (`R`)
//! messages; a fixed table of all 65 536 locates turns each into a [`SymbolId`] with one
//! indexed load and no hashing. The table is 256 KiB, but a shard touches only the few
//! cache lines of its own symbols' locates.
//!
//! Only the messages a book or a trading-state machine needs become events; the rest
//! are counted by type. Nothing here allocates after construction.

use std::sync::Arc;

use crate::codec::itch::{self, Message};
use crate::codec::notice::{self, Notice};
use crate::merge::Merge;
use crate::msg::{
    MarketEvent, MarketUpdate, Price, RawFrame, Side, Stamp, SymbolId, SymbolName, TradingStatus,
};
use crate::stages::ShardReport;
use crate::stages::Stage;
use crate::sys::edge::Emit;
use crate::universe::Universe;

/// Every value a stock locate can take.
const LOCATES: usize = 1 << 16;

crate::stats! {
    /// Decode counters, the report's `decode` section. Merging adds field by field.
    #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
    pub struct DecodeStats {
        /// Events emitted.
        pub emitted: u64,
        /// Messages that would be events but whose locate has no directory entry for a
        /// configured symbol.
        pub unmapped_locate: u64,
        /// Messages with a field the event depends on unreadable: a side other than `B`/`S`,
        /// a Nasdaq operational-halt action other than `H`/`T`, or a price of zero in an
        /// order or a print (skipped: no order rests, and nothing trades, at $0, and a book
        /// level or print there would let the simulated venue fill at $0), or a trading
        /// state other than `T`/`H`/`P`/`Q` (still emitted, as `Unknown`, which blocks
        /// trading: skipping it would leave the previous state, perhaps `Trading`, in force).
        pub bad_codes: u64,
        /// Frames that are not an ITCH 5.0 message of the right length. The source checks
        /// lengths, so anything here means a source let one through.
        pub malformed: u64,
    }
}

/// A field the event needs holds a value that means nothing to it: a code, or a price
/// of zero.
pub(crate) struct BadCode;

pub struct Decode {
    universe: Arc<Universe>,
    /// Locate → symbol, from the day's `R` messages; `None` for a locate with no
    /// directory entry or whose symbol is not configured.
    symbols: Box<[Option<SymbolId>; LOCATES]>,
    /// Every symbol a directory entry has mapped, for notices that concern them all.
    known: Vec<SymbolId>,
    stats: DecodeStats,
}

impl Decode {
    pub fn new(universe: Arc<Universe>) -> Decode {
        Decode {
            known: Vec::with_capacity(universe.len()),
            universe,
            symbols: Box::new([None; LOCATES]),
            stats: DecodeStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }
}

impl Stage for Decode {
    type In = RawFrame;
    type Out = MarketEvent;
    const NAME: &'static str = "decode";

    #[inline]
    fn on_event<O: Emit<MarketEvent>>(&mut self, frame: RawFrame, out: &mut O) {
        let bytes = frame.message();
        if let Some(notice) = notice::Notice::parse(bytes) {
            self.on_notice(frame.ts_recv, notice, out);
            return;
        }
        let Ok(msg) = itch::decode(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        let header = msg.header();
        if let Message::StockDirectory { stock, .. } = msg {
            // A later entry for the same locate replaces the earlier one.
            let id = self.universe.id(&SymbolName(*stock));
            self.symbols[usize::from(header.stock_locate)] = id;
            if let Some(id) = id.filter(|id| !self.known.contains(id)) {
                self.known.push(id);
            }
            return;
        }
        if let Message::MwcbStatus { breached_level, .. } = msg {
            self.on_circuit_breaker(frame.ts_recv, header.timestamp, breached_level, out);
            return;
        }
        let Some(update) = update(&msg) else {
            return;
        };
        let Some(symbol) = self.symbols[usize::from(header.stock_locate)] else {
            self.stats.unmapped_locate += 1;
            return;
        };
        let Ok(update) = update else {
            self.stats.bad_codes += 1;
            return;
        };
        if let MarketUpdate::Status {
            status: TradingStatus::Unknown,
        } = update
        {
            self.stats.bad_codes += 1;
        }
        out.emit(MarketEvent {
            stamp: Stamp {
                ts_recv: frame.ts_recv,
                ts_event: header.timestamp,
            },
            symbol,
            update,
        });
        self.stats.emitted += 1;
    }

    fn report(&self, report: &mut ShardReport) {
        report.decode.merge(&self.stats);
    }

    fn publish(&self, report: &mut ShardReport) {
        report.decode = self.stats.clone();
    }
}

/// 15:25 in nanoseconds since midnight: a level 1 or 2 breach from then on halts nothing
/// (Rule 80B); a level 3 breach halts for the rest of the day.
const MWCB_CUTOFF_NS: u64 = (15 * 3600 + 25 * 60) * 1_000_000_000;

impl Decode {
    /// A market-wide circuit breaker breach: one that halts trading goes to every symbol
    /// a directory entry has mapped, like a stale notice.
    fn on_circuit_breaker<O: Emit<MarketEvent>>(
        &mut self,
        ts_recv: u64,
        ts_event: u64,
        level: u8,
        out: &mut O,
    ) {
        let halts = match level {
            b'1' | b'2' => ts_event < MWCB_CUTOFF_NS,
            b'3' => true,
            _ => {
                self.stats.bad_codes += 1;
                return;
            }
        };
        if !halts {
            return;
        }
        let stamp = Stamp { ts_recv, ts_event };
        for &symbol in &self.known {
            out.emit(MarketEvent {
                stamp,
                symbol,
                update: MarketUpdate::CircuitBreaker {
                    level: level - b'0',
                },
            });
            self.stats.emitted += 1;
        }
    }

    /// A feed-integrity notice: every symbol a directory entry has mapped goes stale
    /// from this point in the stream (locate 0), or the one symbol at its locate goes
    /// stale, or fresh again.
    fn on_notice<O: Emit<MarketEvent>>(&mut self, ts_recv: u64, notice: Notice, out: &mut O) {
        let stamp = Stamp {
            ts_recv,
            ts_event: notice.ts_event(),
        };
        let update = match notice {
            Notice::Stale { .. } => MarketUpdate::FeedStale,
            Notice::Fresh { .. } => MarketUpdate::FeedFresh,
        };
        if notice.locate() == 0 {
            for &symbol in &self.known {
                out.emit(MarketEvent {
                    stamp,
                    symbol,
                    update,
                });
                self.stats.emitted += 1;
            }
            return;
        }
        let Some(symbol) = self.symbols[usize::from(notice.locate())] else {
            self.stats.unmapped_locate += 1;
            return;
        };
        out.emit(MarketEvent {
            stamp,
            symbol,
            update,
        });
        self.stats.emitted += 1;
    }
}

/// The event a message becomes; `None` for messages that are only counted. Shared with
/// `tickpipe inspect` (the application layer), so a file is read the way the pipeline
/// reads it.
///
/// Always inlined: once the framer's common case inlined into the feed bench's loop,
/// LLVM called this out of line instead (8% of `feed/decode_stage`'s samples).
#[inline(always)]
pub(crate) fn update(msg: &Message<'_>) -> Option<Result<MarketUpdate, BadCode>> {
    let update = match *msg {
        Message::AddOrder {
            order_ref,
            side,
            shares,
            price,
            ..
        }
        | Message::AddOrderMpid {
            order_ref,
            side,
            shares,
            price,
            ..
        } => side_of(side).and_then(|side| {
            Ok(MarketUpdate::Add {
                order_ref,
                price: priced(price)?,
                shares,
                side,
            })
        }),
        Message::OrderExecuted {
            order_ref,
            executed_shares,
            match_number,
            ..
        } => Ok(MarketUpdate::Execute {
            order_ref,
            shares: executed_shares,
            match_number,
        }),
        Message::OrderExecutedWithPrice {
            order_ref,
            executed_shares,
            match_number,
            printable,
            execution_price,
            ..
        } => priced(execution_price).map(|price| MarketUpdate::ExecuteAtPrice {
            order_ref,
            price,
            shares: executed_shares,
            printable: printable == b'Y',
            match_number,
        }),
        Message::OrderCancel {
            order_ref,
            cancelled_shares,
            ..
        } => Ok(MarketUpdate::Cancel {
            order_ref,
            shares: cancelled_shares,
        }),
        Message::OrderDelete { order_ref, .. } => Ok(MarketUpdate::Delete { order_ref }),
        Message::OrderReplace {
            original_order_ref,
            new_order_ref,
            shares,
            price,
            ..
        } => priced(price).map(|price| MarketUpdate::Replace {
            order_ref: original_order_ref,
            new_order_ref,
            price,
            shares,
        }),
        // The side byte is not read: see `MarketUpdate::Trade`.
        Message::Trade {
            shares,
            price,
            match_number,
            ..
        } => priced(price).map(|price| MarketUpdate::Trade {
            price,
            shares,
            match_number,
        }),
        Message::CrossTrade {
            shares,
            cross_price,
            match_number,
            ..
        } => priced(cross_price).map(|price| MarketUpdate::Cross {
            price,
            shares,
            match_number,
        }),
        Message::BrokenTrade { match_number, .. } => Ok(MarketUpdate::BrokenTrade { match_number }),
        Message::RegShoRestriction { reg_sho_action, .. } => match reg_sho_action {
            b'0' => Ok(MarketUpdate::ShortSaleRestriction { restricted: false }),
            b'1' | b'2' => Ok(MarketUpdate::ShortSaleRestriction { restricted: true }),
            _ => Err(BadCode),
        },
        Message::StockTradingAction { trading_state, .. } => Ok(MarketUpdate::Status {
            status: TradingStatus::from_itch(trading_state),
        }),
        // Halts on other market centers (BX, PSX) do not stop trading on Nasdaq.
        Message::OperationalHalt {
            market_code: b'Q',
            action,
            ..
        } => match action {
            b'H' => Ok(MarketUpdate::OperationalHalt { halted: true }),
            b'T' => Ok(MarketUpdate::OperationalHalt { halted: false }),
            _ => Err(BadCode),
        },
        _ => return None,
    };
    Some(update)
}

/// ITCH prices are unsigned, so zero is the one that cannot be a price.
#[inline]
fn priced(price: Price) -> Result<Price, BadCode> {
    if price > Price::ZERO {
        Ok(price)
    } else {
        Err(BadCode)
    }
}

#[inline]
fn side_of(code: u8) -> Result<Side, BadCode> {
    match code {
        b'B' => Ok(Side::Buy),
        b'S' => Ok(Side::Sell),
        _ => Err(BadCode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::itch::{Header, encode};
    use crate::msg::Price;

    const TS: u64 = 34_200_000_001_000;

    fn header(locate: u16) -> Header {
        Header {
            stock_locate: locate,
            tracking_number: 0,
            timestamp: TS,
        }
    }

    fn frame(msg: Message<'_>) -> RawFrame {
        let mut bytes = Vec::new();
        encode(&msg, &mut bytes).unwrap();
        RawFrame::new(77, &bytes).unwrap()
    }

    fn directory(locate: u16, stock: &[u8; 8]) -> RawFrame {
        frame(crate::codec::itch::testing::stock_directory(
            header(locate),
            stock,
        ))
    }

    fn add(locate: u16, side: u8) -> RawFrame {
        frame(Message::AddOrder {
            header: header(locate),
            order_ref: 11,
            side,
            shares: 300,
            stock: b"AAPL    ",
            price: Price(2_300_100),
        })
    }

    /// AAPL is `SymbolId(0)` at locate 5, MSFT `SymbolId(1)` at locate 9; IBM is in the
    /// directory at locate 7 but not configured.
    fn stage() -> Decode {
        let universe = Arc::new(Universe::new(&["AAPL", "MSFT"]).unwrap());
        let mut stage = Decode::new(universe);
        let mut out = Vec::new();
        for (locate, stock) in [(5, b"AAPL    "), (9, b"MSFT    "), (7, b"IBM     ")] {
            stage.on_event(directory(locate, stock), &mut out);
        }
        assert!(out.is_empty(), "directory messages are not events");
        stage
    }

    fn run(stage: &mut Decode, frames: &[RawFrame]) -> Vec<MarketEvent> {
        let mut out = Vec::new();
        for f in frames {
            stage.on_event(*f, &mut out);
        }
        out
    }

    #[test]
    fn a_notice_for_one_locate_marks_only_its_symbol_and_locate_0_marks_every_one() {
        let mut stage = stage();
        let notice = |n: Notice| RawFrame::new(77, &n.encode()).unwrap();
        let got: Vec<(SymbolId, MarketUpdate, u64)> = run(
            &mut stage,
            &[
                notice(Notice::Stale {
                    locate: 9,
                    ts_event: TS,
                }),
                notice(Notice::Fresh {
                    locate: 9,
                    ts_event: TS + 1,
                }),
                notice(Notice::Stale {
                    locate: 7,
                    ts_event: TS + 2,
                }),
                notice(Notice::Stale {
                    locate: 0,
                    ts_event: TS + 3,
                }),
            ],
        )
        .iter()
        .map(|e| (e.symbol, e.update, e.stamp.ts_event))
        .collect();
        assert_eq!(
            got,
            [
                (SymbolId(1), MarketUpdate::FeedStale, TS),
                (SymbolId(1), MarketUpdate::FeedFresh, TS + 1),
                (SymbolId(0), MarketUpdate::FeedStale, TS + 3),
                (SymbolId(1), MarketUpdate::FeedStale, TS + 3),
            ]
        );
        assert_eq!(stage.stats().unmapped_locate, 1, "IBM is not configured");
    }

    #[test]
    fn reg_sho_maps_per_symbol_and_a_halting_circuit_breaker_reaches_every_symbol() {
        let mut stage = stage();
        let reg_sho = |action| {
            frame(Message::RegShoRestriction {
                header: header(5),
                stock: b"AAPL    ",
                reg_sho_action: action,
            })
        };
        let got: Vec<MarketUpdate> =
            run(&mut stage, &[reg_sho(b'0'), reg_sho(b'1'), reg_sho(b'2')])
                .iter()
                .map(|e| e.update)
                .collect();
        assert_eq!(
            got,
            [false, true, true].map(|restricted| MarketUpdate::ShortSaleRestriction { restricted })
        );
        assert!(run(&mut stage, &[reg_sho(b'9')]).is_empty());
        assert_eq!(stage.stats().bad_codes, 1);

        let breach = |level, timestamp| {
            frame(Message::MwcbStatus {
                header: Header {
                    stock_locate: 0,
                    tracking_number: 0,
                    timestamp,
                },
                breached_level: level,
            })
        };
        let before_cutoff = MWCB_CUTOFF_NS - 1;
        let events = run(&mut stage, &[breach(b'2', before_cutoff)]);
        let symbols: Vec<SymbolId> = events.iter().map(|e| e.symbol).collect();
        assert_eq!(symbols, [SymbolId(0), SymbolId(1)]);
        assert!(
            events
                .iter()
                .all(|e| e.update == MarketUpdate::CircuitBreaker { level: 2 })
        );
        assert!(
            run(&mut stage, &[breach(b'1', MWCB_CUTOFF_NS)]).is_empty(),
            "a level-1 breach from 15:25 halts nothing"
        );
        assert_eq!(run(&mut stage, &[breach(b'3', MWCB_CUTOFF_NS)]).len(), 2);
    }

    #[test]
    fn maps_each_event_type_and_stamps_it() {
        let mut stage = stage();
        let frames = [
            add(5, b'B'),
            frame(Message::AddOrderMpid {
                header: header(9),
                order_ref: 12,
                side: b'S',
                shares: 100,
                stock: b"MSFT    ",
                price: Price(4_200_000),
                attribution: b"VIRT",
            }),
            frame(Message::OrderExecuted {
                header: header(5),
                order_ref: 11,
                executed_shares: 100,
                match_number: 1,
            }),
            frame(Message::OrderExecutedWithPrice {
                header: header(5),
                order_ref: 11,
                executed_shares: 50,
                match_number: 2,
                printable: b'Y',
                execution_price: Price(2_300_000),
            }),
            frame(Message::OrderExecutedWithPrice {
                header: header(5),
                order_ref: 11,
                executed_shares: 50,
                match_number: 3,
                printable: b'N',
                execution_price: Price(2_300_000),
            }),
            frame(Message::OrderCancel {
                header: header(5),
                order_ref: 11,
                cancelled_shares: 20,
            }),
            frame(Message::OrderReplace {
                header: header(5),
                original_order_ref: 11,
                new_order_ref: 13,
                shares: 80,
                price: Price(2_300_200),
            }),
            frame(Message::OrderDelete {
                header: header(5),
                order_ref: 13,
            }),
            frame(Message::Trade {
                header: header(5),
                order_ref: 0,
                side: b'S',
                shares: 40,
                stock: b"AAPL    ",
                price: Price(2_300_300),
                match_number: 4,
            }),
            frame(Message::CrossTrade {
                header: header(9),
                shares: 1_000_000,
                stock: b"MSFT    ",
                cross_price: Price(4_200_100),
                match_number: 5,
                cross_type: b'C',
            }),
            frame(Message::StockTradingAction {
                header: header(5),
                stock: b"AAPL    ",
                trading_state: b'H',
                reserved: b' ',
                reason: b"T1  ",
            }),
            frame(Message::StockTradingAction {
                header: header(5),
                stock: b"AAPL    ",
                trading_state: b'?',
                reserved: b' ',
                reason: b"    ",
            }),
            frame(Message::BrokenTrade {
                header: header(5),
                match_number: 1,
            }),
        ];
        let events = run(&mut stage, &frames);
        let aapl = SymbolId(0);
        let msft = SymbolId(1);
        let expected = [
            (
                aapl,
                MarketUpdate::Add {
                    order_ref: 11,
                    price: Price(2_300_100),
                    shares: 300,
                    side: Side::Buy,
                },
            ),
            (
                msft,
                MarketUpdate::Add {
                    order_ref: 12,
                    price: Price(4_200_000),
                    shares: 100,
                    side: Side::Sell,
                },
            ),
            (
                aapl,
                MarketUpdate::Execute {
                    order_ref: 11,
                    shares: 100,
                    match_number: 1,
                },
            ),
            (
                aapl,
                MarketUpdate::ExecuteAtPrice {
                    order_ref: 11,
                    price: Price(2_300_000),
                    shares: 50,
                    printable: true,
                    match_number: 2,
                },
            ),
            (
                aapl,
                MarketUpdate::ExecuteAtPrice {
                    order_ref: 11,
                    price: Price(2_300_000),
                    shares: 50,
                    printable: false,
                    match_number: 3,
                },
            ),
            (
                aapl,
                MarketUpdate::Cancel {
                    order_ref: 11,
                    shares: 20,
                },
            ),
            (
                aapl,
                MarketUpdate::Replace {
                    order_ref: 11,
                    new_order_ref: 13,
                    price: Price(2_300_200),
                    shares: 80,
                },
            ),
            (aapl, MarketUpdate::Delete { order_ref: 13 }),
            (
                aapl,
                MarketUpdate::Trade {
                    price: Price(2_300_300),
                    shares: 40,
                    match_number: 4,
                },
            ),
            (
                msft,
                MarketUpdate::Cross {
                    price: Price(4_200_100),
                    shares: 1_000_000,
                    match_number: 5,
                },
            ),
            (
                aapl,
                MarketUpdate::Status {
                    status: TradingStatus::Halted,
                },
            ),
            (
                aapl,
                MarketUpdate::Status {
                    status: TradingStatus::Unknown,
                },
            ),
            (aapl, MarketUpdate::BrokenTrade { match_number: 1 }),
        ];
        let got: Vec<_> = events.iter().map(|e| (e.symbol, e.update)).collect();
        assert_eq!(got, expected);
        for e in &events {
            assert_eq!(
                e.stamp,
                Stamp {
                    ts_recv: 77,
                    ts_event: TS
                }
            );
        }
        assert_eq!(stage.stats().emitted, expected.len() as u64);
    }

    #[test]
    fn only_nasdaq_operational_halts_are_events() {
        let mut stage = stage();
        let halt = |market_code, action| {
            frame(Message::OperationalHalt {
                header: header(5),
                stock: b"AAPL    ",
                market_code,
                action,
            })
        };
        let events = run(
            &mut stage,
            &[
                halt(b'Q', b'H'),
                halt(b'B', b'H'),
                halt(b'Q', b'T'),
                halt(b'Q', b'x'),
            ],
        );
        let got: Vec<_> = events.iter().map(|e| e.update).collect();
        assert_eq!(
            got,
            [
                MarketUpdate::OperationalHalt { halted: true },
                MarketUpdate::OperationalHalt { halted: false },
            ]
        );
        assert_eq!(stage.stats().bad_codes, 1);
    }

    #[test]
    fn an_unknown_trading_state_is_a_bad_code_and_still_blocks_trading() {
        let mut stage = stage();
        let state = |trading_state| {
            frame(Message::StockTradingAction {
                header: header(5),
                stock: b"AAPL    ",
                trading_state,
                reserved: b' ',
                reason: b"    ",
            })
        };
        let events = run(&mut stage, &[state(b'T'), state(b'Z')]);
        let got: Vec<_> = events.iter().map(|e| e.update).collect();
        assert_eq!(
            got,
            [
                MarketUpdate::Status {
                    status: TradingStatus::Trading
                },
                MarketUpdate::Status {
                    status: TradingStatus::Unknown
                },
            ]
        );
        assert_eq!(stage.stats().bad_codes, 1);
    }

    #[test]
    fn counts_and_skips_what_it_cannot_use() {
        let mut stage = stage();
        let system = frame(Message::SystemEvent {
            header: header(0),
            event_code: b'Q',
        });
        let malformed = RawFrame::new(1, &[b'A'; 20]).unwrap();
        let unknown = RawFrame::new(1, b"Zzz").unwrap();
        let events = run(
            &mut stage,
            &[
                add(7, b'B'),   // IBM: in the directory, not configured
                add(300, b'B'), // no directory entry at all
                add(5, b' '),   // AAPL with a blank side
                system,
                malformed,
                unknown,
                add(5, b'B'),
            ],
        );
        assert_eq!(events.len(), 1);
        let s = stage.stats();
        assert_eq!(s.unmapped_locate, 2);
        assert_eq!(s.bad_codes, 1);
        assert_eq!(s.malformed, 2);
        assert_eq!(s.emitted, 1);
    }

    /// A fuzzed session put a sell order at $0 on the book; the simulated venue filled a
    /// resting buy against it, and risk (rightly) refused a fill at $0 as invalid, which
    /// left the order open at the end and the venue's fill unapplied.
    #[test]
    fn a_zero_price_in_an_order_or_a_print_is_a_bad_code_and_skipped() {
        let zero = Price::ZERO;
        let mut stage = stage();
        let frames = [
            frame(Message::AddOrder {
                header: header(5),
                order_ref: 11,
                side: b'S',
                shares: 300,
                stock: b"AAPL    ",
                price: zero,
            }),
            frame(Message::OrderReplace {
                header: header(5),
                original_order_ref: 11,
                new_order_ref: 12,
                shares: 100,
                price: zero,
            }),
            frame(Message::OrderExecutedWithPrice {
                header: header(5),
                order_ref: 11,
                executed_shares: 100,
                match_number: 1,
                printable: b'Y',
                execution_price: zero,
            }),
            frame(Message::Trade {
                header: header(5),
                order_ref: 0,
                side: b'B',
                shares: 100,
                stock: b"AAPL    ",
                price: zero,
                match_number: 2,
            }),
            frame(Message::CrossTrade {
                header: header(5),
                shares: 100,
                stock: b"AAPL    ",
                cross_price: zero,
                match_number: 3,
                cross_type: b'O',
            }),
        ];
        let events = run(&mut stage, &frames);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(stage.stats().bad_codes, 5);
        assert_eq!(stage.stats().emitted, 0);
        // One unit above zero is a price.
        assert_eq!(run(&mut stage, &[add(5, b'S')]).len(), 1);
    }

    #[test]
    fn a_later_directory_entry_remaps_its_locate() {
        let mut stage = stage();
        let mut out = Vec::new();
        stage.on_event(directory(5, b"IBM     "), &mut out);
        stage.on_event(directory(7, b"AAPL    "), &mut out);
        let events = run(&mut stage, &[add(5, b'B'), add(7, b'B')]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].symbol, SymbolId(0));
        assert_eq!(stage.stats().unmapped_locate, 1);
    }

    #[test]
    fn stats_merge_adds_and_report_merges_into_the_shard() {
        let mut stage = stage();
        run(&mut stage, &[add(5, b'B'), add(300, b'B')]);
        let mut report = ShardReport::default();
        stage.report(&mut report);
        stage.report(&mut report);
        let d = &report.decode;
        assert_eq!(d.emitted, 2);
        assert_eq!(d.unmapped_locate, 2);
    }

    #[test]
    fn the_sample_session_decodes_cleanly() {
        use crate::codec::itch::Framer;
        use crate::tools::sample::{SampleSpec, generate};

        let spec = SampleSpec {
            messages: 30_000,
            ..SampleSpec::default_session()
        };
        let traded = [
            "AAPL", "MSFT", "AMZN", "NVDA", "GOOGL", "META", "TSLA", "AMD",
        ];
        let mut stage = Decode::new(Arc::new(Universe::new(&traded).unwrap()));
        let bytes = generate(&spec);
        let mut out = Vec::new();
        for f in Framer::new(&bytes) {
            stage.on_event(RawFrame::new(0, f.unwrap().bytes).unwrap(), &mut out);
        }
        let s = stage.stats();
        assert_eq!((s.malformed, s.bad_codes), (0, 0));
        assert!(
            s.unmapped_locate > 1_000,
            "IBM and ORCL are in the feed, not traded"
        );
        assert_eq!(s.emitted, out.len() as u64);
        let symbols: std::collections::HashSet<_> = out.iter().map(|e| e.symbol).collect();
        assert_eq!(symbols.len(), traded.len());
        assert!(
            out.windows(2)
                .all(|w| w[0].stamp.ts_event <= w[1].stamp.ts_event)
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_frames_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..=RawFrame::CAPACITY),
        ) {
            let mut stage = stage();
            let mut out = Vec::new();
            stage.on_event(RawFrame::new(0, &bytes).unwrap(), &mut out);
            proptest::prop_assert_eq!(stage.stats().emitted, out.len() as u64);
        }
    }
}
