//! Limit order books for a set of symbols, built from normalised ITCH order messages.
//!
//! A [`BookSet`] holds one [`Book`] per symbol slot (indexed by [`SymbolId`]) and one
//! order map shared by all of them, since ITCH order references are unique for the day
//! across symbols. It knows nothing of the configured universe, so `tickpipe inspect`
//! can build books for every symbol in a file.
//!
//! Everything is sized at construction: the order map for `max_orders`, each side of
//! each book for `max_levels`. Past those the storage grows (an allocation, counted in
//! [`BookStats::capacity_growths`]) rather than corrupting a book.
//!
//! Bad sequences never panic: an event that cannot apply is skipped, counted by kind,
//! and reported as a [`BookError`]; an execution or cancel for more than remains is
//! clamped to what remains and counted.

mod ladder;
mod orders;

#[cfg(test)]
pub(super) mod model_tests;

pub use ladder::Level;
pub use orders::Order;

use crate::msg::{MarketUpdate, Price, Side, SymbolId, TradingStatus};
use ladder::Ladder;
use orders::OrderMap;

/// Pre-sized storage.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// Live orders across all books of the set.
    pub max_orders: usize,
    /// Price levels per side per book.
    pub max_levels: usize,
}

/// Why an event was skipped.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error("UNKNOWN_SYMBOL: the set holds no book for this symbol")]
    UnknownSymbol,
    #[error("UNKNOWN_REF: no live order has this reference")]
    UnknownRef,
    #[error("DUPLICATE_REF: an order with this reference is already live")]
    DuplicateRef,
    #[error("WRONG_SYMBOL: the reference belongs to another symbol's order")]
    WrongSymbol,
    #[error("ZERO_SHARES: an order cannot rest with no shares")]
    ZeroShares,
}

crate::stats! {
    /// Counters. Events for a symbol without a book are not counted here: whether that is
    /// an error is the caller's call. Serialized, they are the counters of the JSON
    /// report's `book` section, which has only the keys README documents.
    #[derive(Copy, Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
    pub struct BookStats {
        /// Execute, cancel, delete or replace of a reference that is not live.
        pub unknown_ref: u64,
        /// Add, or replace to a new reference, with a reference already live.
        pub duplicate_ref: u64,
        /// An event naming a live reference of another symbol.
        #[serde(skip)]
        pub wrong_symbol: u64,
        /// Add or replace with zero shares.
        #[serde(skip)]
        pub zero_shares: u64,
        /// Executions or cancels for more shares than remained; applied, clamped.
        #[serde(skip)]
        pub excess_shares: u64,
        /// Times a book became crossed or locked.
        pub crossings: u64,
        /// Times the order map or a side's level storage grew past its pre-sized capacity.
        pub capacity_growths: u64,
    }
}

impl BookStats {
    fn count(&mut self, error: BookError) {
        match error {
            BookError::UnknownSymbol => {}
            BookError::UnknownRef => self.unknown_ref += 1,
            BookError::DuplicateRef => self.duplicate_ref += 1,
            BookError::WrongSymbol => self.wrong_symbol += 1,
            BookError::ZeroShares => self.zero_shares += 1,
        }
    }
}

/// An execution against a displayed order (ITCH `E` or `C`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// Side of the resting order.
    pub side: Side,
    /// The resting order's price for `E`, the message's for `C`.
    pub price: Price,
    /// Shares the message reports executed (the book removes at most what remained).
    pub shares: u32,
    /// False for a `C` that must not count toward volume or the last trade.
    pub printable: bool,
}

/// Top of book; price and shares are zero on an empty side.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Top {
    pub bid_px: Price,
    pub bid_qty: u64,
    pub ask_px: Price,
    pub ask_qty: u64,
}

impl Top {
    #[inline]
    pub fn is_two_sided(&self) -> bool {
        self.bid_qty > 0 && self.ask_qty > 0
    }
}

/// One symbol's book and trading state.
pub struct Book {
    bids: Ladder,
    asks: Ladder,
    status: TradingStatus,
    operational_halt: bool,
    /// The feed lost data that may concern this symbol; permanent for the session.
    stale: bool,
    /// Best bid ≥ best ask after the last complete update.
    crossed: bool,
}

impl Book {
    fn new(max_levels: usize) -> Book {
        Book {
            bids: Ladder::with_capacity(Side::Buy, max_levels),
            asks: Ladder::with_capacity(Side::Sell, max_levels),
            status: TradingStatus::Unknown,
            operational_halt: false,
            stale: false,
            crossed: false,
        }
    }

    fn ladder(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.best()
    }

    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.best()
    }

    #[inline]
    pub fn top(&self) -> Top {
        let (bid_px, bid_qty) = self
            .bids
            .best()
            .map_or((Price::ZERO, 0), |l| (l.price, l.shares));
        let (ask_px, ask_qty) = self
            .asks
            .best()
            .map_or((Price::ZERO, 0), |l| (l.price, l.shares));
        Top {
            bid_px,
            bid_qty,
            ask_px,
            ask_qty,
        }
    }

    /// A side's levels, best first.
    pub fn levels(&self, side: Side) -> impl Iterator<Item = Level> + '_ {
        match side {
            Side::Buy => self.bids.iter(),
            Side::Sell => self.asks.iter(),
        }
    }

    /// The last ITCH `H` state; `Unknown` until one arrives.
    #[inline]
    pub fn status(&self) -> TradingStatus {
        self.status
    }

    /// An ITCH `h` operational halt is in force.
    #[inline]
    pub fn operational_halt(&self) -> bool {
        self.operational_halt
    }

    /// Orders may go out: exactly when [`Book::effective_status`] is `Trading`.
    #[inline]
    pub fn can_trade(&self) -> bool {
        self.effective_status() == TradingStatus::Trading
    }

    /// The state to publish, most serious first: `FeedStale` while the feed's data for
    /// the symbol is lost or stopped, `BookCrossed` while the book is crossed or locked,
    /// `Halted` while an operational halt is in force, otherwise the `H` state.
    #[inline]
    pub fn effective_status(&self) -> TradingStatus {
        if self.stale {
            TradingStatus::FeedStale
        } else if self.crossed {
            TradingStatus::BookCrossed
        } else if self.operational_halt {
            TradingStatus::Halted
        } else {
            self.status
        }
    }

    /// True from a feed-integrity notice that marked the symbol stale until one that
    /// marked it fresh.
    #[inline]
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// False while the book is crossed or locked (best bid ≥ best ask).
    #[inline]
    pub fn is_valid(&self) -> bool {
        !self.crossed
    }
}

/// Books for a set of symbols plus their shared order map.
pub struct BookSet {
    /// Indexed by `SymbolId`; `None` for symbols the set does not hold.
    books: Vec<Option<Book>>,
    orders: OrderMap,
    stats: BookStats,
}

impl BookSet {
    /// Books for `symbols`, all storage allocated now.
    pub fn new(symbols: &[SymbolId], capacity: Capacity) -> BookSet {
        let slots = symbols.iter().map(|s| s.index() + 1).max().unwrap_or(0);
        let mut books: Vec<Option<Book>> = (0..slots).map(|_| None).collect();
        for s in symbols {
            books[s.index()] = Some(Book::new(capacity.max_levels));
        }
        BookSet {
            books,
            orders: OrderMap::with_capacity(capacity.max_orders),
            stats: BookStats::default(),
        }
    }

    #[inline]
    pub fn book(&self, symbol: SymbolId) -> Option<&Book> {
        self.books.get(symbol.index()).and_then(Option::as_ref)
    }

    /// A live order by reference.
    pub fn order(&self, order_ref: u64) -> Option<Order> {
        self.orders
            .find(order_ref)
            .map(|slot| self.orders.get(slot))
    }

    /// Live orders across all books.
    pub fn order_count(&self) -> usize {
        self.orders.len()
    }

    pub fn stats(&self) -> &BookStats {
        &self.stats
    }

    /// Applies one event to `symbol`'s book and returns the book as it now is, or why
    /// the event was skipped (then nothing changed). `Trade` and `Cross` leave the
    /// displayed book alone.
    pub fn apply(
        &mut self,
        symbol: SymbolId,
        update: &MarketUpdate,
    ) -> Result<Applied<'_>, BookError> {
        let Some(book) = self.books.get_mut(symbol.index()).and_then(Option::as_mut) else {
            return Err(BookError::UnknownSymbol);
        };
        Apply {
            symbol,
            book,
            orders: &mut self.orders,
            stats: &mut self.stats,
        }
        .run(update)
    }
}

/// The result of an event that applied.
pub struct Applied<'a> {
    /// The execution, for `E` and `C`.
    pub execution: Option<Execution>,
    /// The symbol's book after the event.
    pub book: &'a Book,
}

/// One event's borrow of the set: the symbol's book, the shared map and the counters.
struct Apply<'a> {
    symbol: SymbolId,
    book: &'a mut Book,
    orders: &'a mut OrderMap,
    stats: &'a mut BookStats,
}

impl<'a> Apply<'a> {
    fn run(mut self, update: &MarketUpdate) -> Result<Applied<'a>, BookError> {
        match self.update(update) {
            Ok(execution) => Ok(Applied {
                execution,
                book: self.book,
            }),
            Err(e) => {
                self.stats.count(e);
                Err(e)
            }
        }
    }

    fn update(&mut self, update: &MarketUpdate) -> Result<Option<Execution>, BookError> {
        let execution = match *update {
            MarketUpdate::Status { status } => {
                self.book.status = status;
                None
            }
            MarketUpdate::OperationalHalt { halted } => {
                self.book.operational_halt = halted;
                None
            }
            MarketUpdate::FeedStale => {
                self.book.stale = true;
                None
            }
            MarketUpdate::FeedFresh => {
                self.book.stale = false;
                None
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
                if self.orders.find(order_ref).is_some() {
                    return Err(BookError::DuplicateRef);
                }
                self.add(order_ref, price, shares, side);
                None
            }
            MarketUpdate::Execute {
                order_ref, shares, ..
            } => {
                let (slot, order) = self.resting(order_ref)?;
                self.reduce(slot, order, shares);
                Some(Execution {
                    side: order.side,
                    price: order.price,
                    shares,
                    printable: true,
                })
            }
            MarketUpdate::ExecuteAtPrice {
                order_ref,
                price,
                shares,
                printable,
                ..
            } => {
                let (slot, order) = self.resting(order_ref)?;
                self.reduce(slot, order, shares);
                Some(Execution {
                    side: order.side,
                    price,
                    shares,
                    printable,
                })
            }
            MarketUpdate::Cancel { order_ref, shares } => {
                let (slot, order) = self.resting(order_ref)?;
                self.reduce(slot, order, shares);
                None
            }
            MarketUpdate::Delete { order_ref } => {
                let (slot, order) = self.resting(order_ref)?;
                self.reduce(slot, order, order.shares);
                None
            }
            MarketUpdate::Replace {
                order_ref,
                new_order_ref,
                price,
                shares,
            } => {
                let (slot, order) = self.resting(order_ref)?;
                if shares == 0 {
                    return Err(BookError::ZeroShares);
                }
                if new_order_ref != order_ref && self.orders.find(new_order_ref).is_some() {
                    return Err(BookError::DuplicateRef);
                }
                self.reduce(slot, order, order.shares);
                self.add(new_order_ref, price, shares, order.side);
                None
            }
            // The features stage carries these to risk before any book sees them.
            MarketUpdate::Trade { .. }
            | MarketUpdate::Cross { .. }
            | MarketUpdate::ShortSaleRestriction { .. }
            | MarketUpdate::CircuitBreaker { .. }
            | MarketUpdate::BrokenTrade { .. } => None,
        };
        self.check_crossed();
        Ok(execution)
    }

    /// The live order `order_ref` of this symbol, with its slot.
    fn resting(&self, order_ref: u64) -> Result<(usize, Order), BookError> {
        let slot = self.orders.find(order_ref).ok_or(BookError::UnknownRef)?;
        let order = self.orders.get(slot);
        if order.symbol != self.symbol {
            return Err(BookError::WrongSymbol);
        }
        Ok((slot, order))
    }

    fn add(&mut self, order_ref: u64, price: Price, shares: u32, side: Side) {
        let order = Order {
            price,
            shares,
            symbol: self.symbol,
            side,
        };
        let grew_map = self.orders.insert(order_ref, order);
        let grew_ladder = self.book.ladder(side).add(price, shares);
        self.stats.capacity_growths += u64::from(grew_map) + u64::from(grew_ladder);
    }

    /// Takes `shares` off the order in `slot`, clamped to what remains; an order left
    /// with none leaves the book.
    fn reduce(&mut self, slot: usize, order: Order, shares: u32) {
        if shares > order.shares {
            self.stats.excess_shares += 1;
        }
        let taken = shares.min(order.shares);
        let left = order.shares - taken;
        if left == 0 {
            self.orders.remove_at(slot);
        } else {
            self.orders.set_shares(slot, left);
        }
        self.book
            .ladder(order.side)
            .remove(order.price, taken, left == 0);
    }

    fn check_crossed(&mut self) {
        let crossed = match (self.book.bids.best(), self.book.asks.best()) {
            (Some(bid), Some(ask)) => bid.price >= ask.price,
            _ => false,
        };
        self.stats.crossings += u64::from(crossed && !self.book.crossed);
        self.book.crossed = crossed;
    }
}
