//! A deterministic sample ITCH 5.0 session: the default replay input, so a fresh clone
//! runs end to end with no download.
//!
//! [`generate`] writes exactly what a NASDAQ daily file holds once decompressed:
//! length-prefixed messages. The session opens with the start-of-day sequence (system
//! events, stock directory, trading actions, Reg SHO, market-maker positions, the opening
//! imbalance and cross), trades continuously from 09:30, and closes with the closing
//! imbalance and cross and the end-of-day system events. Every one of the 23 message
//! types appears, each where the real feed would send it.
//!
//! The continuous session is a simulated order book per stock, never crossed or locked,
//! whose executions and cancels only touch live orders. Each stock has a hidden fair
//! value pushed by a persistent random *pressure* (informed flow). Aggressors trade with
//! the pressure, so trade flow persists and leads the fair value; liquidity providers
//! follow the fair value with a lag, joining the touch on its side and cancelling the
//! stale side, so touch imbalance leads the mid. That is the structure a linear model
//! can find: on the 200 000-message test session, touch imbalance correlates 0.23 with
//! the mid's move over the stock's next 20 events, trade flow 0.15 over the next 100.
//! Executions at the touch are frequent (about one message in four), because a
//! strategy that joins the touch is filled by prints there.
//!
//! Randomness is `Pcg64Mcg`, whose output is value-stable across releases, drawn only
//! through integer arithmetic written here: the same spec gives the same bytes on every
//! host and build.
//!
//! `market` is the market model (books, fair value, order flow), `schedule` the session's
//! fixed sequence (open, scheduled events, close) and `encode` the clock and the message
//! writer; this module holds the spec and the session state they share.

mod encode;
mod market;
mod schedule;

use market::{Dice, FAIR_PER_CENT, Ladder, Order, Stock};
use schedule::{OPEN_NS, SCHEDULE};

use crate::msg::{Price, Side, SymbolName};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSpec {
    pub seed: u64,
    /// Messages in the file. Exact once it exceeds the fixed open, close and scheduled
    /// messages (9 per ticker plus 23); below that, those alone are written.
    pub messages: u64,
    /// Stock locate `i + 1` is `tickers[i]`.
    pub tickers: Vec<SampleTicker>,
}

/// One stock in the sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleTicker {
    /// 1 to 8 printable ASCII characters.
    pub name: String,
    /// The opening cross price; a whole cent from $1.00 to $100 000.
    pub start_price: Price,
}

/// Why a [`SampleSpec`] cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleSpecError {
    #[error("sample spec: no tickers")]
    NoTickers,
    #[error("sample spec: {count} tickers; at most {MAX_TICKERS} fit the locate codes")]
    TooManyTickers { count: usize },
    #[error("sample spec: ticker {name:?} is not 1 to 8 printable ASCII characters")]
    BadName { name: String },
    #[error("sample spec: ticker {name:?} is listed twice or is the reserved test symbol")]
    Duplicate { name: String },
    #[error(
        "sample spec: ticker {name}: start price {price} is not a whole cent in $1.00..=$100000"
    )]
    StartPrice { name: String, price: Price },
    #[error(
        "sample spec: {messages} messages; at most {MAX_MESSAGES}: the session is built in \
         memory (about 33 bytes a message, 3.3 GB at the bound)"
    )]
    TooManyMessages { messages: u64 },
}

/// Locates 1..=n are the tickers; one more goes to [`LISTING`].
const MAX_TICKERS: usize = u16::MAX as usize - 1;
/// The session is built in memory before anything uses it, at about 33 bytes a message
/// (60 000 messages made 1 964 391 bytes), so the bound is about 3.3 GB. At about 3 µs a
/// message, the last ends by 09:35, well before the closing sequence at 15:50
/// (timestamps must not go backwards).
pub const MAX_MESSAGES: u64 = 100_000_000;

impl SampleSpec {
    /// The default replay input: the eight stocks of the default configuration, plus IBM
    /// and ORCL, which are in the feed but not traded, so filtering is exercised.
    pub fn default_session() -> SampleSpec {
        let tickers = [
            ("AAPL", 230),
            ("MSFT", 425),
            ("AMZN", 185),
            ("NVDA", 140),
            ("GOOGL", 165),
            ("META", 560),
            ("TSLA", 250),
            ("AMD", 150),
            ("IBM", 210),
            ("ORCL", 170),
        ];
        SampleSpec {
            seed: 20261121,
            messages: 2_000_000,
            tickers: tickers
                .iter()
                .map(|&(name, dollars)| SampleTicker {
                    name: name.to_string(),
                    start_price: Price(dollars * Price::SCALE),
                })
                .collect(),
        }
    }

    /// Checks every ticker and limit; [`generate`] requires this to pass.
    pub fn validate(&self) -> Result<(), SampleSpecError> {
        if self.tickers.is_empty() {
            return Err(SampleSpecError::NoTickers);
        }
        if self.tickers.len() > MAX_TICKERS {
            return Err(SampleSpecError::TooManyTickers {
                count: self.tickers.len(),
            });
        }
        if self.messages > MAX_MESSAGES {
            return Err(SampleSpecError::TooManyMessages {
                messages: self.messages,
            });
        }
        let mut seen = std::collections::HashSet::from([LISTING]);
        for t in &self.tickers {
            let name = SymbolName::new(&t.name).ok_or_else(|| SampleSpecError::BadName {
                name: t.name.clone(),
            })?;
            if !seen.insert(name.0) {
                return Err(SampleSpecError::Duplicate {
                    name: t.name.clone(),
                });
            }
            let p = t.start_price.units();
            if p % CENT != 0 || !(100 * CENT..=MAX_START_CENTS * CENT).contains(&p) {
                return Err(SampleSpecError::StartPrice {
                    name: t.name.clone(),
                    price: t.start_price,
                });
            }
        }
        Ok(())
    }
}

/// The session's file bytes: length-prefixed ITCH 5.0 messages.
///
/// # Panics
/// If `spec` fails [`SampleSpec::validate`].
pub fn generate(spec: &SampleSpec) -> Vec<u8> {
    if let Err(e) = spec.validate() {
        panic!("{e}");
    }
    Session::new(spec).run(spec.messages)
}

/// Price units in a cent; the book works in whole cents.
const CENT: i64 = Price::SCALE / 100;
const MAX_START_CENTS: i64 = 10_000_000;
/// Book prices stay below this, so every price fits `Price(4)`'s `u32`.
const MAX_CENTS: i64 = 40_000_000;

/// Nasdaq's test symbol, in the directory as a test issue awaiting a direct listing: it
/// carries the IPO quoting period (`K`) and price discovery (`O`) messages, which a
/// seasoned stock never gets, and never trades.
const LISTING: [u8; 8] = *b"ZVZZT   ";

/// Market makers for `F` attribution and `L` positions.
const MPIDS: [&[u8; 4]; 8] = [
    b"VIRT", b"CDRG", b"GSCO", b"MSCO", b"JPMS", b"UBSS", b"NITE", b"SUSQ",
];

struct Session {
    dice: Dice,
    out: Vec<u8>,
    clock: u64,
    written: u64,
    next_match: u64,
    stocks: Vec<Stock>,
    total_weight: u32,
    /// Every order of the day; `order_ref` is index + 1, so references are unique and
    /// increasing, as Nasdaq assigns them.
    orders: Vec<Order>,
    halted_stock: usize,
    bx_halted_stock: usize,
}

impl Session {
    fn new(spec: &SampleSpec) -> Session {
        let mut dice = Dice::new(spec.seed);
        let stocks: Vec<Stock> = spec
            .tickers
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let start_cents = t.start_price.units() / CENT;
                Stock {
                    name: SymbolName::new(&t.name).map_or([b' '; 8], |n| n.0),
                    locate: i as u16 + 1,
                    tracking: (i % 4) as u16 + 1,
                    start_cents,
                    weight: 2 + dice.below(5),
                    pressure: 0,
                    fair: start_cents * FAIR_PER_CENT,
                    signal: 0,
                    last_trade_cents: start_cents,
                    last_match: 0,
                    halted: false,
                    books: [Ladder::new(Side::Buy), Ladder::new(Side::Sell)],
                    live: [Vec::new(), Vec::new()],
                }
            })
            .collect();
        let n = stocks.len();
        let total_weight = stocks.iter().map(|s| s.weight).sum();
        // 32.6 bytes a message with its prefix, measured on the default session;
        // reserving a little more avoids copying 65 MB on the last regrowth.
        let capacity = usize::try_from(spec.messages.saturating_mul(34)).unwrap_or(0);
        Session {
            dice,
            out: Vec::with_capacity(capacity),
            clock: OPEN_NS,
            written: 0,
            next_match: 1,
            stocks,
            total_weight,
            orders: Vec::new(),
            halted_stock: n / 2,
            bx_halted_stock: (n / 2 + 1) % n,
        }
    }

    fn run(mut self, messages: u64) -> Vec<u8> {
        self.open();
        let n = self.stocks.len() as u64;
        let scheduled: u64 = SCHEDULE.iter().map(|(_, e)| e.messages()).sum();
        let close = 2 * n + 4;
        let budget = messages.saturating_sub(self.written + scheduled + close);
        self.continuous(budget);
        self.close();
        self.out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap, HashSet};
    use std::sync::OnceLock;

    use super::*;
    use crate::codec::itch::{Framer, MESSAGE_KINDS, Message, decode, message_len};

    fn spec(seed: u64, messages: u64) -> SampleSpec {
        SampleSpec {
            seed,
            messages,
            ..SampleSpec::default_session()
        }
    }

    /// One mid-sized session shared by the tests that only read it.
    fn session() -> &'static [u8] {
        static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
        BYTES.get_or_init(|| generate(&spec(7, 200_000)))
    }

    fn messages(bytes: &[u8]) -> Vec<Message<'_>> {
        Framer::new(bytes)
            .map(|f| {
                let f = f.expect("the sample frames cleanly");
                assert_eq!(Some(f.bytes.len()), message_len(f.bytes[0]));
                decode(f.bytes).expect("every sample message decodes")
            })
            .collect()
    }

    /// The touch and resting orders of every stock, rebuilt from the messages alone.
    #[derive(Default)]
    struct ReferenceBook {
        orders: HashMap<u64, (u16, u8, Price, u32)>,
        /// Per locate: shares by price, bids then asks.
        levels: HashMap<u16, [BTreeMap<Price, u64>; 2]>,
        refs_seen: HashSet<u64>,
    }

    impl ReferenceBook {
        fn side_slot(side: u8) -> usize {
            match side {
                b'B' => 0,
                b'S' => 1,
                other => panic!("side {:?}", other as char),
            }
        }

        fn best(&self, locate: u16) -> (Option<Price>, Option<Price>) {
            self.levels.get(&locate).map_or((None, None), |[b, a]| {
                (b.keys().next_back().copied(), a.keys().next().copied())
            })
        }

        fn add(&mut self, locate: u16, order_ref: u64, side: u8, shares: u32, price: Price) {
            assert!(self.refs_seen.insert(order_ref), "order {order_ref} reused");
            assert!(shares > 0);
            assert_eq!(price.units() % CENT, 0, "{price} is off the cent grid");
            self.orders.insert(order_ref, (locate, side, price, shares));
            let level = &mut self.levels.entry(locate).or_default()[Self::side_slot(side)];
            *level.entry(price).or_default() += u64::from(shares);
            if let (Some(bid), Some(ask)) = self.best(locate) {
                assert!(
                    bid < ask,
                    "locate {locate} crossed or locked: {bid} / {ask}"
                );
            }
        }

        /// Takes `shares` off a live order; returns its locate, side and price.
        fn reduce(&mut self, order_ref: u64, shares: u32) -> (u16, u8, Price) {
            let Some(o) = self.orders.get_mut(&order_ref) else {
                panic!("order {order_ref} is not live");
            };
            assert!(
                shares > 0 && shares <= o.3,
                "{shares} of {} shares on order {order_ref}",
                o.3
            );
            o.3 -= shares;
            let (locate, side, price, left) = *o;
            if left == 0 {
                self.orders.remove(&order_ref);
            }
            let level = &mut self.levels.get_mut(&locate).unwrap()[Self::side_slot(side)];
            let at = level.get_mut(&price).unwrap();
            *at -= u64::from(shares);
            if *at == 0 {
                level.remove(&price);
            }
            (locate, side, price)
        }

        fn remaining(&self, order_ref: u64) -> u32 {
            self.orders.get(&order_ref).map_or(0, |o| o.3)
        }

        /// Applies a book message; checks it against the book. Returns the locate and,
        /// for executions, the resting side and shares.
        fn apply(&mut self, msg: &Message<'_>) -> Option<(u16, Option<(u8, u32)>)> {
            let locate = msg.header().stock_locate;
            match *msg {
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
                } => self.add(locate, order_ref, side, shares, price),
                Message::OrderExecuted {
                    order_ref,
                    executed_shares,
                    ..
                }
                | Message::OrderExecutedWithPrice {
                    order_ref,
                    executed_shares,
                    ..
                } => {
                    let (bid, ask) = self.best(locate);
                    let (at, side, price) = self.reduce(order_ref, executed_shares);
                    assert_eq!(at, locate);
                    let touch = if side == b'B' { bid } else { ask };
                    assert_eq!(Some(price), touch, "execution away from the touch");
                    if let Message::OrderExecutedWithPrice {
                        execution_price, ..
                    } = *msg
                    {
                        assert_eq!(execution_price, price);
                    }
                    return Some((locate, Some((side, executed_shares))));
                }
                Message::OrderCancel {
                    order_ref,
                    cancelled_shares,
                    ..
                } => {
                    assert!(cancelled_shares < self.remaining(order_ref));
                    assert_eq!(self.reduce(order_ref, cancelled_shares).0, locate);
                }
                Message::OrderDelete { order_ref, .. } => {
                    let left = self.remaining(order_ref);
                    assert_eq!(self.reduce(order_ref, left).0, locate);
                }
                Message::OrderReplace {
                    original_order_ref,
                    new_order_ref,
                    shares,
                    price,
                    ..
                } => {
                    let left = self.remaining(original_order_ref);
                    let (at, side, _) = self.reduce(original_order_ref, left);
                    assert_eq!(at, locate);
                    self.add(locate, new_order_ref, side, shares, price);
                }
                Message::Trade { price, side, .. } => {
                    Self::side_slot(side);
                    let (Some(bid), Some(ask)) = self.best(locate) else {
                        panic!("hidden trade against a one-sided book");
                    };
                    assert!(bid <= price && price <= ask);
                }
                _ => return None,
            }
            Some((locate, None))
        }
    }

    #[test]
    fn same_spec_same_bytes() {
        let a = generate(&spec(42, 30_000));
        assert_eq!(a, generate(&spec(42, 30_000)));
        assert_ne!(a, generate(&spec(43, 30_000)));
    }

    #[test]
    fn frames_cleanly_with_exactly_the_messages_asked_for() {
        assert_eq!(messages(session()).len(), 200_000);
        assert_eq!(messages(&generate(&spec(7, 5_000))).len(), 5_000);
        let tiny = generate(&spec(7, 10));
        assert_eq!(
            messages(&tiny).len(),
            9 * 10 + 23,
            "the fixed messages, no more"
        );
    }

    #[test]
    fn every_type_is_present() {
        let mut seen = HashSet::new();
        for m in messages(session()) {
            seen.insert(m.kind());
        }
        for kind in MESSAGE_KINDS {
            assert!(seen.contains(&kind), "no {:?} message", kind as char);
        }
    }

    #[test]
    fn session_opens_and_closes_in_order_with_rising_timestamps() {
        let all = messages(session());
        let system: Vec<(u8, u64)> = all
            .iter()
            .filter_map(|m| match *m {
                Message::SystemEvent {
                    header, event_code, ..
                } => Some((event_code, header.timestamp)),
                _ => None,
            })
            .collect();
        let codes: Vec<u8> = system.iter().map(|s| s.0).collect();
        assert_eq!(codes, b"OSQMEC");
        assert_eq!(all[0].header().timestamp, OPEN_NS);
        assert!(matches!(
            all.last(),
            Some(Message::SystemEvent {
                event_code: b'C',
                ..
            })
        ));
        for pair in all.windows(2) {
            assert!(pair[0].header().timestamp <= pair[1].header().timestamp);
        }
        // Continuous trading averages a few microseconds between messages.
        let book: Vec<u64> = all
            .iter()
            .filter(|m| matches!(m, Message::AddOrder { .. }))
            .map(|m| m.header().timestamp)
            .collect();
        let mean_gap = (book[book.len() - 1] - book[0]) / all.len() as u64;
        assert!((1_000..10_000).contains(&mean_gap), "{mean_gap} ns");
    }

    #[test]
    fn replays_through_a_reference_book_without_crossing_or_unknown_orders() {
        let mut book = ReferenceBook::default();
        let mut directory = HashMap::new();
        for m in messages(session()) {
            if let Message::StockDirectory { header, stock, .. } = m {
                directory.insert(header.stock_locate, *stock);
            }
            if let Some((locate, _)) = book.apply(&m) {
                assert!(
                    directory.contains_key(&locate),
                    "locate {locate} not in the directory"
                );
            }
        }
        assert!(
            book.orders.len() > 100,
            "books are still populated at the close"
        );
    }

    #[test]
    fn one_stock_halts_and_resumes_with_a_quiet_book_meanwhile() {
        let mut state: HashMap<u16, u8> = HashMap::new();
        let mut transitions = Vec::new();
        let mut book = ReferenceBook::default();
        for m in messages(session()) {
            if let Message::StockTradingAction {
                header,
                trading_state,
                reason,
                ..
            } = m
                && state.insert(header.stock_locate, trading_state).is_some()
            {
                transitions.push((header.stock_locate, trading_state, *reason));
            }
            if let Some((locate, _)) = book.apply(&m) {
                assert_eq!(
                    state.get(&locate),
                    Some(&b'T'),
                    "book activity while not trading"
                );
            }
        }
        let halted = transitions[0].0;
        assert_eq!(
            transitions,
            [
                (halted, b'H', *b"LUDP"),
                (halted, b'Q', *b"LUDP"),
                (halted, b'T', *b"    ")
            ]
        );
    }

    /// Touch imbalance leads the mid over the stock's next 20 events, trade flow over
    /// its next 100 (measured: correlations 0.23 and 0.15 on this sample).
    #[test]
    fn imbalance_and_trade_flow_lead_the_price() {
        let mut book = ReferenceBook::default();
        let mut flow: HashMap<u16, f64> = HashMap::new();
        let mut series: HashMap<u16, Vec<(f64, f64, f64)>> = HashMap::new();
        for m in messages(session()) {
            let Some((locate, exec)) = book.apply(&m) else {
                continue;
            };
            let f = flow.entry(locate).or_default();
            if let Some((resting, shares)) = exec {
                // Taking a resting sell is buying.
                let signed = if resting == b'S' { 1.0 } else { -1.0 } * f64::from(shares);
                *f = 0.9 * *f + 0.1 * signed;
            }
            let f = *f;
            let [bids, asks] = &book.levels[&locate];
            let (Some((bid, bq)), Some((ask, aq))) = (bids.iter().next_back(), asks.iter().next())
            else {
                continue;
            };
            let imbalance = (*bq as f64 - *aq as f64) / (*bq + *aq) as f64;
            let mid = (bid.units() + ask.units()) as f64 / 2.0;
            series.entry(locate).or_default().push((imbalance, f, mid));
        }
        let lead = |ahead: usize, feature: fn(&(f64, f64, f64)) -> f64| {
            let (mut xs, mut ys) = (vec![], vec![]);
            for s in series.values() {
                for (now, later) in s.iter().zip(s.iter().skip(ahead)) {
                    xs.push(feature(now));
                    ys.push(later.2 - now.2);
                }
            }
            correlation(&xs, &ys)
        };
        let imbalance = lead(20, |v| v.0);
        let flow = lead(100, |v| v.1);
        assert!(
            imbalance > 0.1,
            "corr(imbalance, mid move) = {imbalance:.3}"
        );
        assert!(flow > 0.05, "corr(trade flow, mid move) = {flow:.3}");
    }

    fn correlation(x: &[f64], y: &[f64]) -> f64 {
        let n = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
        let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
        cov / (vx * vy).sqrt()
    }

    #[test]
    fn default_session_is_valid_and_bad_specs_are_refused() {
        let spec = SampleSpec::default_session();
        assert_eq!(spec.validate(), Ok(()));
        assert_eq!(spec.tickers.len(), 10);
        assert_eq!((spec.seed, spec.messages), (20261121, 2_000_000));

        let with = |f: &dyn Fn(&mut SampleSpec)| {
            let mut s = SampleSpec::default_session();
            f(&mut s);
            s.validate()
        };
        assert_eq!(
            with(&|s| s.tickers.clear()),
            Err(SampleSpecError::NoTickers)
        );
        assert!(matches!(
            with(&|s| s.tickers[0].name = "TOOLONGNAME".into()),
            Err(SampleSpecError::BadName { .. })
        ));
        assert!(matches!(
            with(&|s| s.tickers[1].name = "AAPL".into()),
            Err(SampleSpecError::Duplicate { .. })
        ));
        assert!(matches!(
            with(&|s| s.tickers[1].name = "ZVZZT".into()),
            Err(SampleSpecError::Duplicate { .. })
        ));
        assert!(matches!(
            with(&|s| s.tickers[0].start_price = Price(1_234_567)),
            Err(SampleSpecError::StartPrice { .. })
        ));
        assert!(matches!(
            with(&|s| s.messages = MAX_MESSAGES + 1),
            Err(SampleSpecError::TooManyMessages { .. })
        ));
    }

    #[test]
    fn a_single_halted_stock_still_finishes() {
        let one = SampleSpec {
            seed: 1,
            messages: 3_000,
            tickers: vec![SampleTicker {
                name: "ONE".into(),
                start_price: Price(10 * Price::SCALE),
            }],
        };
        assert_eq!(messages(&generate(&one)).len(), 3_000);
    }
}
