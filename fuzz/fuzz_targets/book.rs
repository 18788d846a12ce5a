//! The order books on arbitrary sequences of `MarketUpdate`s: valid and invalid events,
//! several symbols, one not held, tiny pre-sized capacities that force growth.
//!
//! After every event, the invariants that are cheap to check from outside:
//! - each level's shares and order count are the sums over the live orders at its price;
//!   every live order is on a level; levels are strictly best first with shares > 0;
//! - the best bid and ask are the first levels, and `top()` agrees;
//! - the book is invalid exactly when it is crossed or locked, and the effective state
//!   follows its precedence (stale, crossed, operational halt, `H` state);
//! - an event that is refused changes nothing.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use tickpipe::msg::{MarketUpdate, Price, Side, SymbolId, TradingStatus};
use tickpipe::stages::features::book::{BookSet, Capacity, Level};

/// Symbols with a book; the fuzzer also sends events for 3 and 1000, which have none.
const HELD: [SymbolId; 3] = [SymbolId(0), SymbolId(1), SymbolId(2)];

/// Most references are drawn below this, so duplicates, unknown references and many
/// orders on one level are common.
const REFS: u64 = 32;

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let capacity = Capacity {
        max_orders: u.int_in_range(1..=64)?,
        max_levels: u.int_in_range(1..=16)?,
    };
    let mut books = BookSet::new(&HELD, capacity);
    // Every reference ever named, so the checks can find each live order.
    let mut refs = BTreeSet::new();
    while !u.is_empty() {
        let symbol = *u.choose(&[
            SymbolId(0),
            SymbolId(1),
            SymbolId(2),
            SymbolId(0),
            SymbolId(3),
            SymbolId(1000),
        ])?;
        let update = update(u, &mut refs)?;
        let before = snapshot(&books);
        let applied = books.apply(symbol, &update).map(|a| a.execution);
        match applied {
            Err(_) => assert!(
                snapshot(&books) == before,
                "a refused {update:?} changed the books"
            ),
            Ok(Some(execution)) => {
                let (MarketUpdate::Execute { shares, .. }
                | MarketUpdate::ExecuteAtPrice { shares, .. }) = update
                else {
                    panic!("{update:?} reported an execution");
                };
                assert_eq!(execution.shares, shares);
            }
            Ok(None) => {}
        }
        check(&books, &refs);
    }
    Ok(())
}

fn order_ref(u: &mut Unstructured<'_>, refs: &mut BTreeSet<u64>) -> Result<u64> {
    let r = if u.ratio(1, 16)? {
        u.arbitrary()?
    } else {
        u.int_in_range(0..=REFS - 1)?
    };
    refs.insert(r);
    Ok(r)
}

fn price(u: &mut Unstructured<'_>) -> Result<Price> {
    Ok(Price(if u.ratio(1, 16)? {
        u.arbitrary()?
    } else {
        u.int_in_range(95..=105)?
    }))
}

fn shares(u: &mut Unstructured<'_>) -> Result<u32> {
    Ok(match u.int_in_range(0..=15u8)? {
        0 => 0,
        1 => u32::MAX,
        2 => u.arbitrary()?,
        _ => u.int_in_range(1..=300)?,
    })
}

fn side(u: &mut Unstructured<'_>) -> Result<Side> {
    Ok(if u.arbitrary()? {
        Side::Buy
    } else {
        Side::Sell
    })
}

fn update(u: &mut Unstructured<'_>, refs: &mut BTreeSet<u64>) -> Result<MarketUpdate> {
    Ok(match u.int_in_range(0..=10u8)? {
        0 | 1 => MarketUpdate::Add {
            order_ref: order_ref(u, refs)?,
            price: price(u)?,
            shares: shares(u)?,
            side: side(u)?,
        },
        2 => MarketUpdate::Execute {
            order_ref: order_ref(u, refs)?,
            shares: shares(u)?,
            match_number: u.arbitrary()?,
        },
        3 => MarketUpdate::ExecuteAtPrice {
            order_ref: order_ref(u, refs)?,
            price: price(u)?,
            shares: shares(u)?,
            printable: u.arbitrary()?,
            match_number: u.arbitrary()?,
        },
        4 => MarketUpdate::Cancel {
            order_ref: order_ref(u, refs)?,
            shares: shares(u)?,
        },
        5 => MarketUpdate::Delete {
            order_ref: order_ref(u, refs)?,
        },
        6 => MarketUpdate::Replace {
            order_ref: order_ref(u, refs)?,
            new_order_ref: order_ref(u, refs)?,
            price: price(u)?,
            shares: shares(u)?,
        },
        7 => MarketUpdate::Status {
            status: TradingStatus::from_itch(*u.choose(b"THPQ?!X")?),
        },
        8 => MarketUpdate::OperationalHalt {
            halted: u.arbitrary()?,
        },
        9 => match u.int_in_range(0..=2u8)? {
            0 => MarketUpdate::FeedStale,
            1 => MarketUpdate::Cross {
                price: price(u)?,
                shares: u.arbitrary()?,
                match_number: u.arbitrary()?,
            },
            _ => MarketUpdate::Trade {
                price: price(u)?,
                shares: shares(u)?,
                match_number: u.arbitrary()?,
            },
        },
        _ => MarketUpdate::Add {
            order_ref: order_ref(u, refs)?,
            price: price(u)?,
            shares: shares(u)?,
            side: side(u)?,
        },
    })
}

/// Everything an event could change: each held book's levels and states, the live count.
#[derive(PartialEq)]
struct Snapshot {
    books: Vec<(Vec<Level>, Vec<Level>, TradingStatus, bool)>,
    orders: usize,
}

fn snapshot(books: &BookSet) -> Snapshot {
    Snapshot {
        books: HELD
            .iter()
            .map(|&s| {
                let b = books.book(s).expect("held");
                (
                    b.levels(Side::Buy).collect(),
                    b.levels(Side::Sell).collect(),
                    b.effective_status(),
                    b.operational_halt(),
                )
            })
            .collect(),
        orders: books.order_count(),
    }
}

fn check(books: &BookSet, refs: &BTreeSet<u64>) {
    let live: Vec<_> = refs.iter().filter_map(|&r| books.order(r)).collect();
    assert_eq!(
        live.len(),
        books.order_count(),
        "every live order was named"
    );
    let mut on_levels = 0u64;
    for &symbol in &HELD {
        let book = books.book(symbol).expect("held");
        for side in [Side::Buy, Side::Sell] {
            let levels: Vec<Level> = book.levels(side).collect();
            for pair in levels.windows(2) {
                let better = match side {
                    Side::Buy => pair[0].price > pair[1].price,
                    Side::Sell => pair[0].price < pair[1].price,
                };
                assert!(better, "{side:?} levels out of order: {levels:?}");
            }
            for level in &levels {
                assert!(level.shares > 0 && level.orders > 0, "{level:?}");
                let here = live
                    .iter()
                    .filter(|o| o.symbol == symbol && o.side == side && o.price == level.price);
                let (shares, orders) =
                    here.fold((0u64, 0u32), |(s, n), o| (s + u64::from(o.shares), n + 1));
                assert_eq!((level.shares, level.orders), (shares, orders), "{level:?}");
                on_levels += u64::from(level.orders);
            }
            let best = match side {
                Side::Buy => book.best_bid(),
                Side::Sell => book.best_ask(),
            };
            assert_eq!(best, levels.first().copied());
        }
        let top = book.top();
        let (bid, ask) = (book.best_bid(), book.best_ask());
        assert_eq!(top.bid_qty, bid.map_or(0, |l| l.shares));
        assert_eq!(top.ask_qty, ask.map_or(0, |l| l.shares));
        assert_eq!(top.bid_px, bid.map_or(Price::ZERO, |l| l.price));
        assert_eq!(top.ask_px, ask.map_or(Price::ZERO, |l| l.price));
        let crossed = matches!((bid, ask), (Some(b), Some(a)) if b.price >= a.price);
        assert_eq!(book.is_valid(), !crossed);
        let expected = if book.is_stale() {
            TradingStatus::FeedStale
        } else if crossed {
            TradingStatus::BookCrossed
        } else if book.operational_halt() {
            TradingStatus::Halted
        } else {
            book.status()
        };
        assert_eq!(book.effective_status(), expected);
        assert_eq!(book.can_trade(), expected == TradingStatus::Trading);
    }
    assert_eq!(
        on_levels,
        live.len() as u64,
        "every live order is on a level"
    );
}
