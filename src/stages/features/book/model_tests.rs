//! Property tests: random event sequences — valid and invalid, several symbols,
//! replaces, partial executions, tiny capacities that force growth — applied to a
//! [`BookSet`] and to an obviously correct model (every order in a `BTreeMap`, levels
//! recomputed from scratch) must agree after every event.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// Symbols the book set holds; `SymbolId(3)` is not one of them.
const HELD: [SymbolId; 3] = [SymbolId(0), SymbolId(1), SymbolId(2)];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SymbolState {
    status: TradingStatus,
    operational_halt: bool,
    crossed: bool,
    stale: bool,
}

struct Model {
    orders: BTreeMap<u64, Order>,
    states: BTreeMap<SymbolId, SymbolState>,
    stats: BookStats,
}

impl Model {
    fn new() -> Model {
        let initial = SymbolState {
            status: TradingStatus::Unknown,
            operational_halt: false,
            crossed: false,
            stale: false,
        };
        Model {
            orders: BTreeMap::new(),
            states: HELD.iter().map(|&s| (s, initial)).collect(),
            stats: BookStats::default(),
        }
    }

    /// Levels best first, aggregated from the orders.
    fn levels(&self, symbol: SymbolId, side: Side) -> Vec<Level> {
        let mut by_price: BTreeMap<Price, (u64, u32)> = BTreeMap::new();
        for o in self.orders.values() {
            if o.symbol == symbol && o.side == side {
                let e = by_price.entry(o.price).or_default();
                e.0 += u64::from(o.shares);
                e.1 += 1;
            }
        }
        let levels = by_price.into_iter().map(|(price, (shares, orders))| Level {
            price,
            shares,
            orders,
        });
        match side {
            Side::Buy => levels.rev().collect(),
            Side::Sell => levels.collect(),
        }
    }

    fn live(&self, symbol: SymbolId, order_ref: u64) -> Result<Order, BookError> {
        match self.orders.get(&order_ref) {
            None => Err(BookError::UnknownRef),
            Some(o) if o.symbol != symbol => Err(BookError::WrongSymbol),
            Some(o) => Ok(*o),
        }
    }

    /// Takes shares off an order, clamped to what it has; removes it at zero.
    fn take(&mut self, order_ref: u64, shares: u32) {
        let order = self.orders.get_mut(&order_ref).unwrap();
        if shares > order.shares {
            self.stats.excess_shares += 1;
        }
        order.shares -= shares.min(order.shares);
        if order.shares == 0 {
            self.orders.remove(&order_ref);
        }
    }

    fn apply(
        &mut self,
        symbol: SymbolId,
        update: &MarketUpdate,
    ) -> Result<Option<Execution>, BookError> {
        if !self.states.contains_key(&symbol) {
            return Err(BookError::UnknownSymbol);
        }
        let result = self.apply_held(symbol, update);
        match result {
            Err(BookError::UnknownRef) => self.stats.unknown_ref += 1,
            Err(BookError::DuplicateRef) => self.stats.duplicate_ref += 1,
            Err(BookError::WrongSymbol) => self.stats.wrong_symbol += 1,
            Err(BookError::ZeroShares) => self.stats.zero_shares += 1,
            _ => {}
        }
        let best_bid = self.levels(symbol, Side::Buy).first().map(|l| l.price);
        let best_ask = self.levels(symbol, Side::Sell).first().map(|l| l.price);
        let crossed = matches!((best_bid, best_ask), (Some(b), Some(a)) if b >= a);
        let state = self.states.get_mut(&symbol).unwrap();
        if crossed && !state.crossed {
            self.stats.crossings += 1;
        }
        state.crossed = crossed;
        result
    }

    fn apply_held(
        &mut self,
        symbol: SymbolId,
        update: &MarketUpdate,
    ) -> Result<Option<Execution>, BookError> {
        match *update {
            MarketUpdate::Status { status } => {
                self.states.get_mut(&symbol).unwrap().status = status;
                Ok(None)
            }
            MarketUpdate::OperationalHalt { halted } => {
                self.states.get_mut(&symbol).unwrap().operational_halt = halted;
                Ok(None)
            }
            MarketUpdate::FeedStale => {
                self.states.get_mut(&symbol).unwrap().stale = true;
                Ok(None)
            }
            MarketUpdate::FeedFresh => {
                self.states.get_mut(&symbol).unwrap().stale = false;
                Ok(None)
            }
            MarketUpdate::Add {
                order_ref,
                price,
                shares,
                side,
            } => {
                if shares == 0 {
                    return Err(BookError::ZeroShares);
                }
                if self.orders.contains_key(&order_ref) {
                    return Err(BookError::DuplicateRef);
                }
                self.orders.insert(
                    order_ref,
                    Order {
                        price,
                        shares,
                        symbol,
                        side,
                    },
                );
                Ok(None)
            }
            MarketUpdate::Execute {
                order_ref, shares, ..
            } => {
                let o = self.live(symbol, order_ref)?;
                self.take(order_ref, shares);
                Ok(Some(Execution {
                    side: o.side,
                    price: o.price,
                    shares,
                    printable: true,
                }))
            }
            MarketUpdate::ExecuteAtPrice {
                order_ref,
                price,
                shares,
                printable,
                ..
            } => {
                let o = self.live(symbol, order_ref)?;
                self.take(order_ref, shares);
                Ok(Some(Execution {
                    side: o.side,
                    price,
                    shares,
                    printable,
                }))
            }
            MarketUpdate::Cancel { order_ref, shares } => {
                self.live(symbol, order_ref)?;
                self.take(order_ref, shares);
                Ok(None)
            }
            MarketUpdate::Delete { order_ref } => {
                self.live(symbol, order_ref)?;
                self.orders.remove(&order_ref);
                Ok(None)
            }
            MarketUpdate::Replace {
                order_ref,
                new_order_ref,
                price,
                shares,
            } => {
                let o = self.live(symbol, order_ref)?;
                if shares == 0 {
                    return Err(BookError::ZeroShares);
                }
                if new_order_ref != order_ref && self.orders.contains_key(&new_order_ref) {
                    return Err(BookError::DuplicateRef);
                }
                self.orders.remove(&order_ref);
                self.orders.insert(
                    new_order_ref,
                    Order {
                        price,
                        shares,
                        symbol,
                        side: o.side,
                    },
                );
                Ok(None)
            }
            MarketUpdate::Trade { .. }
            | MarketUpdate::Cross { .. }
            | MarketUpdate::ShortSaleRestriction { .. }
            | MarketUpdate::CircuitBreaker { .. }
            | MarketUpdate::BrokenTrade { .. } => Ok(None),
        }
    }
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn status() -> impl Strategy<Value = TradingStatus> {
    prop_oneof![
        Just(TradingStatus::Trading),
        Just(TradingStatus::Halted),
        Just(TradingStatus::Paused),
        Just(TradingStatus::QuotationOnly),
        Just(TradingStatus::Unknown),
    ]
}

pub(crate) fn update() -> impl Strategy<Value = MarketUpdate> {
    // Few references, prices and sizes, so duplicates, unknown references, shared
    // levels, crossed books and over-sized executions are all common.
    let order_ref = 1u64..24;
    let price = (95i64..=105).prop_map(Price);
    let shares = prop_oneof![1 => Just(0u32), 12 => 1u32..300];
    prop_oneof![
        8 => (order_ref.clone(), price.clone(), shares.clone(), side())
            .prop_map(|(order_ref, price, shares, side)| MarketUpdate::Add { order_ref, price, shares, side }),
        3 => (order_ref.clone(), shares.clone())
            .prop_map(|(order_ref, shares)| MarketUpdate::Execute { order_ref, shares, match_number: 1 }),
        2 => (order_ref.clone(), price.clone(), shares.clone(), any::<bool>())
            .prop_map(|(order_ref, price, shares, printable)| MarketUpdate::ExecuteAtPrice { order_ref, price, shares, printable, match_number: 1 }),
        3 => (order_ref.clone(), shares.clone())
            .prop_map(|(order_ref, shares)| MarketUpdate::Cancel { order_ref, shares }),
        2 => order_ref.clone().prop_map(|order_ref| MarketUpdate::Delete { order_ref }),
        3 => (order_ref.clone(), order_ref, price.clone(), shares.clone())
            .prop_map(|(order_ref, new_order_ref, price, shares)| MarketUpdate::Replace { order_ref, new_order_ref, price, shares }),
        1 => status().prop_map(|status| MarketUpdate::Status { status }),
        1 => any::<bool>().prop_map(|halted| MarketUpdate::OperationalHalt { halted }),
        1 => Just(MarketUpdate::FeedStale),
        1 => Just(MarketUpdate::FeedFresh),
        1 => (price.clone(), shares).prop_map(|(price, shares)| MarketUpdate::Trade { price, shares, match_number: 1 }),
        1 => (price, 0u64..1000).prop_map(|(price, shares)| MarketUpdate::Cross { price, shares, match_number: 1 }),
    ]
}

fn event() -> impl Strategy<Value = (SymbolId, MarketUpdate)> {
    // Mostly held symbols, sometimes the one without a book.
    let symbol = prop_oneof![10 => (0u16..3).prop_map(SymbolId), 1 => Just(SymbolId(3))];
    (symbol, update())
}

fn assert_agree(books: &BookSet, model: &Model) -> Result<(), TestCaseError> {
    for &symbol in &HELD {
        let book = books.book(symbol).unwrap();
        for side in [Side::Buy, Side::Sell] {
            let levels: Vec<Level> = book.levels(side).collect();
            prop_assert_eq!(
                &levels,
                &model.levels(symbol, side),
                "{:?} {:?}",
                symbol,
                side
            );
        }
        let best = |side| model.levels(symbol, side).first().copied();
        prop_assert_eq!(book.best_bid(), best(Side::Buy));
        prop_assert_eq!(book.best_ask(), best(Side::Sell));
        let state = model.states[&symbol];
        prop_assert_eq!(book.status(), state.status);
        prop_assert_eq!(book.operational_halt(), state.operational_halt);
        prop_assert_eq!(book.is_valid(), !state.crossed);
        prop_assert_eq!(book.is_stale(), state.stale);
        let expected = if state.stale {
            TradingStatus::FeedStale
        } else if state.crossed {
            TradingStatus::BookCrossed
        } else if state.operational_halt {
            TradingStatus::Halted
        } else {
            state.status
        };
        prop_assert_eq!(book.effective_status(), expected);
        prop_assert_eq!(book.can_trade(), expected == TradingStatus::Trading);
    }
    prop_assert_eq!(books.order_count(), model.orders.len());
    for order_ref in 0..25 {
        prop_assert_eq!(
            books.order(order_ref),
            model.orders.get(&order_ref).copied()
        );
    }
    let stats = BookStats {
        capacity_growths: 0,
        ..*books.stats()
    };
    prop_assert_eq!(stats, model.stats);
    Ok(())
}

proptest! {
    #[test]
    fn book_set_agrees_with_the_model(
        events in proptest::collection::vec(event(), 1..300),
        max_orders in 1usize..40,
        max_levels in 1usize..12,
    ) {
        let mut books = BookSet::new(&HELD, Capacity { max_orders, max_levels });
        let mut model = Model::new();
        for (symbol, update) in &events {
            let got = books.apply(*symbol, update).map(|a| a.execution);
            let want = model.apply(*symbol, update);
            prop_assert_eq!(got, want, "{:?} {:?}", symbol, update);
            assert_agree(&books, &model)?;
        }
    }
}

#[test]
fn counts_growth_past_the_presized_capacity() {
    let mut books = BookSet::new(
        &[SymbolId(0)],
        Capacity {
            max_orders: 1,
            max_levels: 1,
        },
    );
    for (i, price) in [10, 11, 12].into_iter().enumerate() {
        let add = MarketUpdate::Add {
            order_ref: i as u64,
            price: Price(price),
            shares: 1,
            side: Side::Buy,
        };
        books.apply(SymbolId(0), &add).unwrap();
    }
    // The map's 2 buckets grow at the 2nd order (to 4, room for 3); the bids' room for
    // one level grows at the 2nd, and the grown Vec holds the 3rd.
    assert_eq!(books.stats().capacity_growths, 2);
    assert_eq!(
        books.book(SymbolId(0)).unwrap().levels(Side::Buy).count(),
        3
    );
}

#[test]
fn replace_keeps_the_old_side_and_a_cleared_cross_is_valid_again() {
    let s = SymbolId(0);
    let mut books = BookSet::new(
        &[s],
        Capacity {
            max_orders: 8,
            max_levels: 4,
        },
    );
    let mut apply = |u: MarketUpdate| books.apply(s, &u).map(|a| a.execution);
    apply(MarketUpdate::Add {
        order_ref: 1,
        price: Price(100),
        shares: 10,
        side: Side::Sell,
    })
    .unwrap();
    apply(MarketUpdate::Add {
        order_ref: 2,
        price: Price(100),
        shares: 5,
        side: Side::Buy,
    })
    .unwrap();
    apply(MarketUpdate::Replace {
        order_ref: 2,
        new_order_ref: 3,
        price: Price(99),
        shares: 7,
    })
    .unwrap();
    let book = books.book(s).unwrap();
    assert!(book.is_valid());
    assert_eq!(
        book.best_bid(),
        Some(Level {
            price: Price(99),
            shares: 7,
            orders: 1
        })
    );
    assert_eq!(books.order(2), None);
    assert_eq!(books.order(3).map(|o| o.side), Some(Side::Buy));
    assert_eq!(books.stats().crossings, 1);
}
