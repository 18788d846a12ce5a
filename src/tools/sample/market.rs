//! The market model: each stock's book, its hidden fair value and pressure, and the
//! order flow (adds, cancels, replaces, executions, hidden prints) they drive.

use std::collections::VecDeque;

use rand::RngCore;
use rand_pcg::Pcg64Mcg;

use super::{MAX_CENTS, MPIDS, Session};
use crate::codec::itch::Message;
use crate::msg::Side;

/// Live orders a stock's book settles around, per side.
const TARGET_DEPTH: usize = 30;

/// Fair value resolution: fine enough that a pressure of a few per mille still moves it.
pub(super) const FAIR_PER_CENT: i64 = 100_000;
/// Fair value units moved per event per unit of pressure: at a typical pressure of 460
/// the fair value moves a cent in about 55 of the stock's events. Tuned with the two
/// weights below so that both features lead the mid (see the module docs) while the day's
/// range stays near 1%, and spreads stay mostly one cent.
const FAIR_SPEED: i64 = 4;
/// `signal` takes pressure / this ...
const PRESSURE_WEIGHT: i64 = 4;
/// ... plus this per mille per cent that the fair value is above the mid.
const LAG_WEIGHT: i64 = 300;
/// Per mille of adds that improve a spread wider than a cent, before the signal's tilt.
const IMPROVE_WIDE: i64 = 700;
/// Per mille of adds that join the touch, before the signal's tilt.
const JOIN: i64 = 450;

/// Uniform integers from `Pcg64Mcg`, by multiply-shift: one draw per number, no
/// rejection loop, bias below 2⁻²⁰ for the ranges used here.
pub(super) struct Dice(Pcg64Mcg);

impl Dice {
    pub(super) fn new(seed: u64) -> Dice {
        // Spread the seed over 128 bits: nearby seeds must not start nearby states.
        let hi = splitmix64(seed);
        let lo = splitmix64(hi);
        Dice(Pcg64Mcg::new((u128::from(hi) << 64) | u128::from(lo)))
    }

    /// Uniform in `0..n`; `n` ≥ 1.
    #[inline]
    pub(super) fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.0.next_u32()) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    pub(super) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::from(self.below((hi - lo + 1) as u32))
    }

    /// True with probability `per_mille / 1000`.
    #[inline]
    fn chance(&mut self, per_mille: i64) -> bool {
        i64::from(self.below(1000)) < per_mille
    }

    /// A share quantity as displayed orders come: mostly one round lot, some odd lots,
    /// a few blocks.
    fn lot(&mut self) -> u32 {
        match self.below(100) {
            0..60 => 100,
            60..75 => 200,
            75..85 => 100 * (3 + self.below(3)),
            85..93 => 1 + self.below(99),
            _ => 100 * (10 + self.below(41)),
        }
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One price level: order indices in time priority.
struct Level {
    pub(super) cents: i64,
    queue: VecDeque<u32>,
}

/// One side of a book, best level last (so the touch is pushed and popped at the end).
pub(super) struct Ladder {
    pub(super) side: Side,
    levels: Vec<Level>,
}

impl Ladder {
    pub(super) fn new(side: Side) -> Ladder {
        Ladder {
            side,
            levels: Vec::new(),
        }
    }

    /// Ascending with goodness: higher bids and lower asks sort later.
    #[inline]
    fn key(&self, cents: i64) -> i64 {
        match self.side {
            Side::Buy => cents,
            Side::Sell => -cents,
        }
    }

    #[inline]
    pub(super) fn best(&self) -> Option<i64> {
        self.levels.last().map(|l| l.cents)
    }

    fn best_queue(&self) -> Option<&VecDeque<u32>> {
        self.levels.last().map(|l| &l.queue)
    }

    pub(super) fn find(&self, cents: i64) -> Result<usize, usize> {
        let key = self.key(cents);
        self.levels
            .binary_search_by_key(&key, |l| self.key(l.cents))
    }

    pub(super) fn push(&mut self, cents: i64, order: u32) {
        match self.find(cents) {
            Ok(i) => self.levels[i].queue.push_back(order),
            Err(i) => self.levels.insert(
                i,
                Level {
                    cents,
                    queue: VecDeque::from([order]),
                },
            ),
        }
    }

    pub(super) fn remove(&mut self, cents: i64, order: u32) {
        if let Ok(i) = self.find(cents) {
            let queue = &mut self.levels[i].queue;
            if let Some(at) = queue.iter().position(|&o| o == order) {
                queue.remove(at);
            }
            if queue.is_empty() {
                self.levels.remove(i);
            }
        }
    }
}

#[derive(Copy, Clone)]
pub(super) struct Order {
    pub(super) stock: u16,
    pub(super) side: Side,
    pub(super) cents: i64,
    pub(super) shares: u32,
    /// Index in the stock's live list for this side.
    live_at: u32,
}

/// One stock's state in the simulation.
pub(super) struct Stock {
    pub(super) name: [u8; 8],
    pub(super) locate: u16,
    /// Nasdaq partitions symbols over matching engines; each stock keeps one number.
    pub(super) tracking: u16,
    pub(super) start_cents: i64,
    /// Relative activity: how often this stock is picked.
    pub(super) weight: u32,
    /// Hidden order flow, per mille: a persistent random walk that moves `fair`.
    pub(super) pressure: i64,
    /// Hidden fair value, in [`FAIR_PER_CENT`] units. The book follows it with a lag.
    pub(super) fair: i64,
    /// How hard everyone leans toward buying, per mille, from `pressure` and from how
    /// far `fair` is above the mid: what tilts adds, cancels and executions.
    pub(super) signal: i64,
    pub(super) last_trade_cents: i64,
    /// Match number of the latest execution, for the broken trade.
    pub(super) last_match: u64,
    pub(super) halted: bool,
    pub(super) books: [Ladder; 2],
    /// Live order indices by side, for picking one to cancel in O(1).
    pub(super) live: [Vec<u32>; 2],
}

impl Stock {
    /// The mid in [`FAIR_PER_CENT`] units, exact (no rounding to a cent).
    fn mid_fair(&self) -> i64 {
        match (self.books[0].best(), self.books[1].best()) {
            (Some(b), Some(a)) => (a + b) * FAIR_PER_CENT / 2,
            _ => self.last_trade_cents * FAIR_PER_CENT,
        }
    }

    /// The mid rounded down to a cent, for auction reference prices.
    pub(super) fn mid_cents(&self) -> i64 {
        self.mid_fair() / FAIR_PER_CENT
    }

    /// Per mille to add to an even chance of adding a buy (or deleting a sell): half the
    /// signal, plus a pull toward equal depth so a trend does not leave one side
    /// piled up with stale orders.
    fn lean(&self) -> i64 {
        let [bids, asks] = [self.live[0].len() as i64, self.live[1].len() as i64];
        self.signal / 2 + 300 * (asks - bids) / (asks + bids).max(1)
    }

    /// The signal toward `side`, in per mille: positive when it is the favoured side.
    fn tilt(&self, side: Side) -> i64 {
        self.signal * side.sign()
    }
}

#[inline]
fn slot(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl Session {
    /// A weighted pick among the stocks not halted.
    fn pick_stock(&mut self) -> Option<usize> {
        let mut r = self.dice.below(self.total_weight);
        let n = self.stocks.len();
        let mut pick = n - 1;
        for (i, s) in self.stocks.iter().enumerate() {
            if r < s.weight {
                pick = i;
                break;
            }
            r -= s.weight;
        }
        (0..n)
            .map(|k| (pick + k) % n)
            .find(|&i| !self.stocks[i].halted)
    }

    /// One book event in one stock; returns the messages written, at most `budget`
    /// and at least one unless every stock is halted.
    pub(super) fn step(&mut self, budget: u64) -> u64 {
        let Some(s) = self.pick_stock() else {
            return 0;
        };
        self.tick();
        self.drift(s);
        let depth = [self.stocks[s].live[0].len(), self.stocks[s].live[1].len()];
        let thin = if depth[0] <= depth[1] {
            Side::Buy
        } else {
            Side::Sell
        };
        if depth[0].min(depth[1]) < TARGET_DEPTH / 3 {
            self.add(s, thin);
            return 1;
        }
        let total = depth[0] + depth[1];
        // Deletes grow with depth so the book settles near TARGET_DEPTH a side; the
        // rest of the mix is fixed, per mille of events.
        let delete = (250 * total / (2 * TARGET_DEPTH)) as u32;
        let roll = self.dice.below(1000);
        let written = match roll {
            0..150 => self.execute(s, budget, false),
            150..165 => self.execute(s, budget, true),
            165..190 => self.hidden_trade(s),
            190..220 => self.cancel_part(s),
            220..270 => self.replace(s),
            _ if roll < 270 + delete => self.delete(s),
            _ => {
                let side = self.add_side(s);
                self.add(s, side);
                1
            }
        };
        if written > 0 {
            return written;
        }
        self.add(s, thin);
        1
    }

    /// Moves the stock's pressure (half-life 88 of its events, fresh noise each time,
    /// stationary spread about ±460 per mille, a faint pull back toward the opening
    /// price), then the fair value with it, then the signal from both.
    fn drift(&mut self, s: usize) {
        let noise = self.dice.between(-100, 100);
        let stock = &mut self.stocks[s];
        let off_bps = (stock.fair / FAIR_PER_CENT - stock.start_cents) * 10_000 / stock.start_cents;
        stock.pressure =
            (stock.pressure - stock.pressure / 128 + noise - off_bps / 128).clamp(-1000, 1000);
        stock.fair += stock.pressure * FAIR_SPEED;
        let lag = stock.fair - stock.mid_fair();
        stock.signal = (stock.pressure / PRESSURE_WEIGHT + lag * LAG_WEIGHT / FAIR_PER_CENT)
            .clamp(-1000, 1000);
    }

    /// The favoured (and the thinner) side adds more.
    fn add_side(&mut self, s: usize) -> Side {
        if self.dice.chance(500 + self.stocks[s].lean()) {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    /// The side whose resting orders an aggressor hits: aggressors follow the pressure,
    /// so resting sells trade with probability 1/2 + pressure/2.
    fn resting_side(&mut self, s: usize) -> Side {
        if self.dice.chance(500 + self.stocks[s].pressure / 2) {
            Side::Sell
        } else {
            Side::Buy
        }
    }

    /// A price for a new order on `side` that neither crosses nor locks the book.
    fn add_price(&mut self, s: usize, side: Side) -> i64 {
        let stock = &self.stocks[s];
        let own = stock.books[slot(side)].best();
        let other = stock.books[slot(side.opposite())].best();
        let away = -side.sign(); // one cent deeper into `side`'s book
        let tilt = stock.tilt(side);
        let spread = match (own, other) {
            (Some(b), Some(a)) => (a - b).abs(),
            _ => 1,
        };
        // A wide spread is closed fast: liquid names quote one cent wide.
        let improve = if spread > 1 {
            (IMPROVE_WIDE + tilt / 4).clamp(100, 900)
        } else {
            0
        };
        let join = (JOIN + tilt * 3 / 10).clamp(100, 800);
        let last = stock.last_trade_cents;
        let wanted = match (own, other) {
            (Some(own), _) => {
                let r = i64::from(self.dice.below(1000));
                if r < improve {
                    own - away
                } else if r < improve + join {
                    own
                } else {
                    own + away * (1 + self.depth_offset())
                }
            }
            (None, Some(other)) => other + away * (1 + self.dice.between(0, 2)),
            (None, None) => last + away * (1 + self.dice.between(0, 2)),
        };
        let wanted = match (side, other) {
            (Side::Buy, Some(ask)) => wanted.min(ask - 1),
            (Side::Sell, Some(bid)) => wanted.max(bid + 1),
            _ => wanted,
        };
        wanted.clamp(1, MAX_CENTS - 1)
    }

    /// Ticks behind the touch for a passive order: 0 often, 9 at most.
    fn depth_offset(&mut self) -> i64 {
        i64::from(self.dice.below(4) + self.dice.below(4) * self.dice.below(3))
    }

    /// Adds an order on `side`, or on the other side if `side` has no room (a best ask
    /// of one cent leaves no bid price).
    pub(super) fn add(&mut self, s: usize, side: Side) {
        let mut side = side;
        let mut cents = self.add_price(s, side);
        let crosses = |stock: &Stock, side: Side, cents: i64| match side {
            Side::Buy => stock.books[1].best().is_some_and(|a| cents >= a),
            Side::Sell => stock.books[0].best().is_some_and(|b| cents <= b),
        };
        if crosses(&self.stocks[s], side, cents) {
            side = side.opposite();
            cents = self.add_price(s, side);
        }
        let shares = self.dice.lot();
        let order_ref = self.new_order(s, side, cents, shares);
        let name = self.stocks[s].name;
        let header = self.header(Some(s));
        let side_code = side as u8;
        let price = Self::price(cents);
        if self.dice.chance(150) {
            let mpid = MPIDS[self.dice.below(MPIDS.len() as u32) as usize];
            self.put(Message::AddOrderMpid {
                header,
                order_ref,
                side: side_code,
                shares,
                stock: &name,
                price,
                attribution: mpid,
            });
        } else {
            self.put(Message::AddOrder {
                header,
                order_ref,
                side: side_code,
                shares,
                stock: &name,
                price,
            });
        }
    }

    /// Books a new order; returns its reference.
    fn new_order(&mut self, s: usize, side: Side, cents: i64, shares: u32) -> u64 {
        let index = self.orders.len() as u32;
        let stock = &mut self.stocks[s];
        let live = &mut stock.live[slot(side)];
        self.orders.push(Order {
            stock: s as u16,
            side,
            cents,
            shares,
            live_at: live.len() as u32,
        });
        live.push(index);
        stock.books[slot(side)].push(cents, index);
        u64::from(index) + 1
    }

    /// Takes an order off the book and out of the live list.
    fn remove_order(&mut self, index: u32) {
        let o = self.orders[index as usize];
        let stock = &mut self.stocks[usize::from(o.stock)];
        stock.books[slot(o.side)].remove(o.cents, index);
        let live = &mut stock.live[slot(o.side)];
        live.swap_remove(o.live_at as usize);
        if let Some(&moved) = live.get(o.live_at as usize) {
            self.orders[moved as usize].live_at = o.live_at;
        }
    }

    /// A live order on `side`: at the touch 40% of the time (where most cancelling
    /// happens), else anywhere on that side.
    fn pick_live(&mut self, s: usize, side: Side) -> Option<u32> {
        let stock = &self.stocks[s];
        if self.dice.chance(400) {
            let queue = stock.books[slot(side)].best_queue()?;
            let at = self.dice.below(queue.len() as u32) as usize;
            return queue.get(at).copied();
        }
        let live = &stock.live[slot(side)];
        if live.is_empty() {
            return None;
        }
        live.get(self.dice.below(live.len() as u32) as usize)
            .copied()
    }

    /// `D`: the unfavoured side cancels more, thinning the side the price moves toward.
    fn delete(&mut self, s: usize) -> u64 {
        let side = if self.dice.chance(500 + self.stocks[s].lean()) {
            Side::Sell
        } else {
            Side::Buy
        };
        let Some(index) = self.pick_live(s, side) else {
            return 0;
        };
        self.remove_order(index);
        self.put(Message::OrderDelete {
            header: self.header(Some(s)),
            order_ref: u64::from(index) + 1,
        });
        1
    }

    /// `X`: part of an order of at least two shares is cancelled.
    fn cancel_part(&mut self, s: usize) -> u64 {
        let side = if self.dice.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let Some(index) = self.pick_live(s, side) else {
            return 0;
        };
        let shares = self.orders[index as usize].shares;
        if shares < 2 {
            return 0;
        }
        let cancelled = if shares > 100 && shares.is_multiple_of(100) {
            100 * (1 + self.dice.below(shares / 100 - 1))
        } else {
            1 + self.dice.below(shares - 1)
        };
        self.orders[index as usize].shares -= cancelled;
        self.put(Message::OrderCancel {
            header: self.header(Some(s)),
            order_ref: u64::from(index) + 1,
            cancelled_shares: cancelled,
        });
        1
    }

    /// `U`: an order moves a few cents, keeping its side, under a new reference.
    fn replace(&mut self, s: usize) -> u64 {
        let side = self.add_side(s);
        let Some(index) = self.pick_live(s, side) else {
            return 0;
        };
        let old = self.orders[index as usize];
        self.remove_order(index);
        let other = self.stocks[s].books[slot(side.opposite())].best();
        let moved = old.cents + self.dice.between(-2, 2);
        let cents = match (side, other) {
            (Side::Buy, Some(ask)) => moved.min(ask - 1),
            (Side::Sell, Some(bid)) => moved.max(bid + 1),
            _ => moved,
        }
        .clamp(1, MAX_CENTS - 1);
        let shares = self.dice.lot();
        let new_order_ref = self.new_order(s, side, cents, shares);
        self.put(Message::OrderReplace {
            header: self.header(Some(s)),
            original_order_ref: u64::from(index) + 1,
            new_order_ref,
            shares,
            price: Self::price(cents),
        });
        1
    }

    /// `E` (or `C`): an aggressor takes resting orders at the touch in time priority,
    /// sometimes sweeping on to the next level; all in one timestamp, as one incoming
    /// order's fills are. `C` executes at the order's own price too, so every print the
    /// book shows is at the touch.
    fn execute(&mut self, s: usize, budget: u64, with_price: bool) -> u64 {
        let side = self.resting_side(s);
        let mut wanted = match self.dice.below(100) {
            0..80 => self.dice.lot(),
            _ => 3 * self.dice.lot(),
        };
        let sweep = self.dice.chance(200);
        let start_level = self.stocks[s].books[slot(side)].best();
        let mut written = 0;
        while written < budget {
            let stock = &self.stocks[s];
            let book = &stock.books[slot(side)];
            let Some(&index) = book.best_queue().and_then(|q| q.front()) else {
                break;
            };
            if !sweep && book.best() != start_level {
                break;
            }
            let order = self.orders[index as usize];
            let shares = wanted.min(order.shares);
            let match_number = self.take_match(s);
            let header = self.header(Some(s));
            let order_ref = u64::from(index) + 1;
            if with_price {
                // A quarter not printable, as executions reported by another print
                // (a cross) are: consumers must leave them out of volume.
                let printable = if self.dice.chance(750) { b'Y' } else { b'N' };
                self.put(Message::OrderExecutedWithPrice {
                    header,
                    order_ref,
                    executed_shares: shares,
                    match_number,
                    printable,
                    execution_price: Self::price(order.cents),
                });
            } else {
                self.put(Message::OrderExecuted {
                    header,
                    order_ref,
                    executed_shares: shares,
                    match_number,
                });
            }
            written += 1;
            self.stocks[s].last_trade_cents = order.cents;
            if shares == order.shares {
                self.remove_order(index);
            } else {
                self.orders[index as usize].shares -= shares;
            }
            wanted -= shares;
            if wanted == 0 {
                break;
            }
        }
        written
    }

    /// `P`: a hidden order trades, inside the spread when there is room, else at the
    /// resting side's touch.
    fn hidden_trade(&mut self, s: usize) -> u64 {
        let side = self.resting_side(s);
        let stock = &self.stocks[s];
        let (Some(bid), Some(ask)) = (stock.books[0].best(), stock.books[1].best()) else {
            return 0;
        };
        let cents = if ask - bid >= 2 {
            (bid + ask) / 2
        } else {
            match side {
                Side::Buy => bid,
                Side::Sell => ask,
            }
        };
        let name = stock.name;
        let shares = self.dice.lot();
        let match_number = self.take_match(s);
        self.stocks[s].last_trade_cents = cents;
        self.put(Message::Trade {
            header: self.header(Some(s)),
            order_ref: 0,
            side: side as u8,
            shares,
            stock: &name,
            price: Self::price(cents),
            match_number,
        });
        1
    }
}
