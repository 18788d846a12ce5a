//! Firm-wide limits across shards: each shard's share of lock-free pools
//! ([`crate::sys::credit`], [`crate::sys::window`]).
//!
//! - Open notional: the notional of every live order of every shard together
//!   (`[firm] max_open_notional`). A shard commits an order's notional (limit price ×
//!   shares) before the order is journaled or sent, and releases it as reports close the
//!   order (fills, cancels, rejects), at the same limit price, so what a shard has
//!   committed is exactly its live orders' notional. Refused: `FIRM_OPEN_NOTIONAL`.
//! - Gross notional: every symbol's worst-case |position| (the position plus all its
//!   working orders on one side) valued at the highest price the symbol has been
//!   ordered at this session, over every shard (`max_gross_notional`). Order prices are
//!   the book's touch, within `collar_bps` of the mark. The highest, not the latest or
//!   the mark: a valuation that can fall lets a shard release credit for an order the
//!   venue has not seen yet, so the exposure at the venue could pass the limit for a
//!   moment; one that never falls keeps what any observer of the orders sees under
//!   what is committed (`tests/firm_limits.rs` checks exactly that), at the cost of
//!   overstating a symbol whose price fell. Valuing at every tick's mark would also move
//!   the commitment on every quote. An order commits the rise in its symbol's value
//!   first; a fall in exposure (a cancel, a reducing fill) is released at the symbol's
//!   next decision. Refused: `FIRM_GROSS_NOTIONAL`.
//! - Message rate: `New`s and `Cancel`s of every shard per second of event time. A `New`
//!   past `max_messages_per_sec` is refused (`FIRM_MESSAGE_RATE`); cancels are never
//!   refused, so the count reaching `halt_messages_per_sec` halts the latch (a cancel
//!   storm), until an operator resumes.
//!
//! - Loss and drawdown, graded: each shard publishes its mark-to-market P&L (cash flow
//!   plus position × mark over its symbols) on a [`PnlBoard`] at every decision and
//!   fill, and reads the firm's: the sum, and the day's peak of the sum. A loss
//!   (−P&L) reaching `reduce_only_loss`, or a drawdown (peak − P&L) reaching
//!   `reduce_only_drawdown`, takes the latch to reduce-only; `halt_loss` or
//!   `halt_drawdown` halts it. The latch holds until an operator resumes (`FIRM_LOSS`,
//!   `FIRM_DRAWDOWN` under `halts` and `reduce_only` in the report).
//!
//! While no pool runs dry, every commitment succeeds whatever the other shards did, so
//! decisions do not depend on thread timing; once one binds, which shard is refused
//! depends on which drew first: that is the nature of a shared limit.

use std::sync::Arc;

use serde::Deserialize;

use super::checks::Breach;
use crate::config::Problems;
use crate::msg::Price;
use crate::stages::reject::RejectCode;
use crate::sys::{CreditPool, CreditShare, PnlBoard, TradingState, WindowCount};

/// Most a firm-wide money limit may be: $1 trillion, as `[risk] max_notional`.
const MAX_FIRM_MONEY: Price = Price(1_000_000_000_000 * Price::SCALE);

/// One second of event time: the message-rate window.
const SECOND_NS: u64 = 1_000_000_000;

/// `[firm]`: limits that span every shard. Every key is required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmConfig {
    /// Notional of every live order of every shard together (decimal string).
    pub max_open_notional: Price,
    /// Worst-case |position| of every symbol of every shard, valued at the highest
    /// price the symbol has been ordered at, summed (decimal string).
    pub max_gross_notional: Price,
    /// How much notional a shard draws from a firm-wide pool at a time (decimal
    /// string). Larger chunks touch the shared atomic less often; but each shard keeps
    /// up to one chunk of headroom it is not using, so the limit can bind up to
    /// shards × chunk before the pool's capacity is committed. It never binds later.
    pub chunk_notional: Price,
    /// `New`s and `Cancel`s of every shard per second of event time past which a `New`
    /// is refused (`FIRM_MESSAGE_RATE`).
    pub max_messages_per_sec: u32,
    /// The firm-wide count per second that halts the latch; above
    /// `max_messages_per_sec`.
    pub halt_messages_per_sec: u32,
    /// The firm's loss today (realised + unrealised, every shard) that takes the latch
    /// to reduce-only (decimal string).
    pub reduce_only_loss: Price,
    /// The loss that halts the latch; above `reduce_only_loss`.
    pub halt_loss: Price,
    /// How far net liquidation value may fall from the day's peak before the latch goes
    /// reduce-only (decimal string).
    pub reduce_only_drawdown: Price,
    /// The drawdown that halts the latch; above `reduce_only_drawdown`.
    pub halt_drawdown: Price,
}

impl FirmConfig {
    pub fn validate(&self, p: &mut Problems<'_>) {
        for (key, value) in [
            ("max_open_notional", self.max_open_notional),
            ("max_gross_notional", self.max_gross_notional),
        ] {
            p.check(
                (Price(1)..=MAX_FIRM_MONEY).contains(&value),
                key,
                format!("{value}: use 0.0001 to {MAX_FIRM_MONEY}"),
            );
        }
        let smallest = self.max_open_notional.min(self.max_gross_notional);
        p.check(
            Price(1) <= self.chunk_notional && self.chunk_notional <= smallest,
            "chunk_notional",
            format!(
                "{}: use 0.0001 to the smaller of max_open_notional and max_gross_notional \
                 ({smallest})",
                self.chunk_notional
            ),
        );
        for (reduce, halt, reduce_key, halt_key) in [
            (
                self.reduce_only_loss,
                self.halt_loss,
                "reduce_only_loss",
                "halt_loss",
            ),
            (
                self.reduce_only_drawdown,
                self.halt_drawdown,
                "reduce_only_drawdown",
                "halt_drawdown",
            ),
        ] {
            p.check(
                (Price(1)..=MAX_FIRM_MONEY).contains(&reduce),
                reduce_key,
                format!("{reduce}: use 0.0001 to {MAX_FIRM_MONEY}"),
            );
            p.check(
                reduce < halt && halt <= MAX_FIRM_MONEY,
                halt_key,
                format!(
                    "{halt}: must exceed {reduce_key} ({reduce}), reduce-only comes first, \
                     and be at most {MAX_FIRM_MONEY}"
                ),
            );
        }
        p.check(
            self.max_messages_per_sec >= 1,
            "max_messages_per_sec",
            "0: at least 1 (0 would refuse every order: that is the latch's job)",
        );
        p.check(
            self.halt_messages_per_sec > self.max_messages_per_sec,
            "halt_messages_per_sec",
            format!(
                "{}: must exceed max_messages_per_sec ({}), or the halt would come before \
                 the refusals",
                self.halt_messages_per_sec, self.max_messages_per_sec
            ),
        );
    }
}

/// The firm-wide pools, shared by every shard's risk.
#[derive(Debug)]
pub struct FirmPools {
    pub open_notional: CreditPool,
    pub gross_notional: CreditPool,
    pub messages: WindowCount,
    pub pnl: PnlBoard,
    chunk: u64,
    max_messages: u32,
    halt_messages: u32,
    /// `[firm]`'s loss and drawdown bounds, in price units.
    loss: Grades,
    drawdown: Grades,
}

/// A graded bound: reduce-only at the first, halted at the second.
#[derive(Copy, Clone, Debug)]
struct Grades {
    reduce_only: i64,
    halt: i64,
}

impl Grades {
    fn of(reduce_only: Price, halt: Price) -> Grades {
        Grades {
            reduce_only: reduce_only.0,
            halt: halt.0,
        }
    }

    fn state(self, value: i64) -> TradingState {
        if value >= self.halt {
            TradingState::Halted
        } else if value >= self.reduce_only {
            TradingState::ReduceOnly
        } else {
            TradingState::Active
        }
    }
}

/// Which graded firm-wide bound a P&L breaks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LossControl {
    /// `FIRM_LOSS`: the day's loss, realised and unrealised.
    Loss,
    /// `FIRM_DRAWDOWN`: net liquidation value below the day's peak.
    Drawdown,
}

impl FirmPools {
    /// The pools for `shards` shards.
    ///
    /// # Panics
    /// If `config` would not pass `validate`.
    pub fn new(config: &FirmConfig, shards: usize) -> FirmPools {
        let units = |p: Price| u64::try_from(p.0).expect("validated: positive");
        FirmPools {
            open_notional: CreditPool::new(units(config.max_open_notional)),
            gross_notional: CreditPool::new(units(config.max_gross_notional)),
            messages: WindowCount::new(),
            pnl: PnlBoard::new(shards),
            loss: Grades::of(config.reduce_only_loss, config.halt_loss),
            drawdown: Grades::of(config.reduce_only_drawdown, config.halt_drawdown),
            chunk: units(config.chunk_notional),
            max_messages: config.max_messages_per_sec,
            halt_messages: config.halt_messages_per_sec,
        }
    }
}

/// A symbol's committed gross notional and the price it is valued at: the highest it
/// has been ordered at.
#[derive(Copy, Clone, Debug)]
struct Cover {
    units: u64,
    price: Price,
}

/// One shard's share of the firm-wide pools.
#[derive(Debug)]
pub struct FirmShare {
    pools: Arc<FirmPools>,
    open: CreditShare,
    gross: CreditShare,
    /// Indexed by `SymbolId`; zero for symbols another shard owns.
    covered: Box<[Cover]>,
    /// This shard's slot on the P&L board.
    shard: usize,
    /// Each symbol's mark-to-market P&L as last valued (indexed by `SymbolId`), and
    /// their sum.
    values: Box<[i128]>,
    pnl: i128,
}

/// `shares` at `price` in price units; saturates (a notional beyond u64 can never be
/// covered, so it is refused, never wrapped into a small one).
#[inline]
fn notional(price: Price, shares: u64) -> u64 {
    u64::try_from(i128::from(price.0) * i128::from(shares)).unwrap_or(u64::MAX)
}

#[inline]
fn window(now: u64) -> u32 {
    u32::try_from(now / SECOND_NS).unwrap_or(u32::MAX)
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl FirmShare {
    /// Shard `shard`'s share, for a universe of `universe_len` symbols.
    ///
    /// # Panics
    /// If `shard` has no slot on the pools' P&L board.
    pub fn new(pools: Arc<FirmPools>, shard: usize, universe_len: usize) -> FirmShare {
        assert!(
            shard < pools.pnl.shards(),
            "firm: shard {shard} of {}",
            pools.pnl.shards()
        );
        let chunk = pools.chunk;
        FirmShare {
            pools,
            open: CreditShare::new(chunk),
            gross: CreditShare::new(chunk),
            covered: vec![
                Cover {
                    units: 0,
                    price: Price::ZERO,
                };
                universe_len
            ]
            .into_boxed_slice(),
            shard,
            values: vec![0; universe_len].into_boxed_slice(),
            pnl: 0,
        }
    }

    /// Symbol `symbol`'s mark-to-market P&L is now `value` (price units): publishes the
    /// shard's and grades the firm's. `Some` when a bound is reached: the control and the
    /// state the latch must go to (the halt, if both bounds are reached).
    #[inline]
    pub fn revalue(&mut self, symbol: usize, value: i128) -> Option<(LossControl, TradingState)> {
        let before = std::mem::replace(&mut self.values[symbol], value);
        self.pnl += value - before;
        let pools = &*self.pools;
        let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
        pools.pnl.publish(self.shard, clamp(self.pnl));
        let total = pools.pnl.total();
        let peak = pools.pnl.peak(total);
        let loss = pools.loss.state(total.saturating_neg());
        let drawdown = pools.drawdown.state(peak.saturating_sub(total));
        match (loss, drawdown) {
            (TradingState::Active, TradingState::Active) => None,
            (loss, drawdown) if drawdown > loss => Some((LossControl::Drawdown, drawdown)),
            (loss, _) => Some((LossControl::Loss, loss)),
        }
    }

    /// Symbol `symbol`'s worst-case exposure is now `shares`: what it committed beyond
    /// that, at its price, goes back (the rest of a chunk stays as headroom).
    #[inline]
    pub fn remark(&mut self, symbol: usize, shares: u64) {
        let cover = &mut self.covered[symbol];
        let want = notional(cover.price, shares);
        if want < cover.units {
            self.gross
                .release(&self.pools.gross_notional, cover.units - want);
            cover.units = want;
        }
    }

    /// Admits a new order of `qty` at `price` on `symbol`, whose worst-case exposure
    /// with it is `shares`, at event time `now`: commits its open notional, the rise in
    /// the symbol's gross notional, and one message. Nothing is committed when a
    /// firm-wide limit binds; the breach names it.
    #[inline]
    pub fn admit(
        &mut self,
        symbol: usize,
        price: Price,
        qty: u32,
        shares: u64,
        now: u64,
    ) -> Result<(), Breach> {
        let pools = &*self.pools;
        let breach = |code, value: u64, limit: u64| Breach {
            code,
            value: clamp(value),
            limit: clamp(limit),
        };
        let open = notional(price, u64::from(qty));
        if !self.open.commit(&pools.open_notional, open) {
            let cap = pools.open_notional.capacity();
            return Err(breach(RejectCode::FirmOpenNotional, open, cap));
        }
        let cover = self.covered[symbol];
        let valued = price.max(cover.price);
        // An order never lowers the worst case (shares added on one side can shrink only
        // the smaller of the two), and the price never falls: `want` ≥ what is covered.
        let want = notional(valued, shares);
        let raise = want.saturating_sub(cover.units);
        if raise > 0 && !self.gross.commit(&pools.gross_notional, raise) {
            self.open.release(&pools.open_notional, open);
            let cap = pools.gross_notional.capacity();
            return Err(breach(RejectCode::FirmGrossNotional, want, cap));
        }
        if !pools.messages.try_add(window(now), pools.max_messages) {
            self.open.release(&pools.open_notional, open);
            self.gross.release(&pools.gross_notional, raise);
            let sent = u64::from(pools.messages.count(window(now)));
            return Err(breach(
                RejectCode::FirmMessageRate,
                sent,
                u64::from(pools.max_messages),
            ));
        }
        self.covered[symbol] = Cover {
            units: cover.units + raise,
            price: valued,
        };
        Ok(())
    }

    /// `shares` of an order at `price` closed (filled, cancelled or rejected).
    #[inline]
    pub fn closed(&mut self, price: Price, shares: u32) {
        self.open.release(
            &self.pools.open_notional,
            notional(price, u64::from(shares)),
        );
    }

    /// Counts a `Cancel` sent at `now` (never refused); true when it takes the firm-wide
    /// count to `halt_messages_per_sec`, which halts the latch (once per window).
    #[inline]
    pub fn cancel_sent(&mut self, now: u64) -> bool {
        self.pools.messages.add(window(now)) == self.pools.halt_messages
    }
}

impl Drop for FirmShare {
    /// A shard that stops hands back the headroom it held, so the others can use it.
    fn drop(&mut self) {
        self.open.settle(&self.pools.open_notional);
        self.gross.settle(&self.pools.gross_notional);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRM: &str = "max_open_notional = \"100.00\"\nmax_gross_notional = \"200.00\"\n\
                        chunk_notional = \"10.00\"\nmax_messages_per_sec = 10\n\
                        halt_messages_per_sec = 20\nreduce_only_loss = \"50.00\"\n\
                        halt_loss = \"80.00\"\nreduce_only_drawdown = \"60.00\"\n\
                        halt_drawdown = \"90.00\"";

    fn problems(text: &str) -> Vec<String> {
        let config: FirmConfig = toml::from_str(text).expect("parses");
        let mut out = Vec::new();
        config.validate(&mut Problems::new("firm", &mut out));
        out.into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn loss_then_drawdown_grade_reduce_only_then_halt_across_shards() {
        let pools = pools(1_000_000, 1_000_000, 100);
        let mut a = FirmShare::new(Arc::clone(&pools), 0, 2);
        let mut b = FirmShare::new(Arc::clone(&pools), 1, 2);
        let units = |d: i64| i128::from(d * Price::SCALE);
        assert_eq!(a.revalue(0, units(-30)), None);
        assert_eq!(
            b.revalue(1, units(-25)),
            Some((LossControl::Loss, TradingState::ReduceOnly)),
            "$55 lost firm-wide"
        );
        assert_eq!(
            a.revalue(0, units(-60)),
            Some((LossControl::Loss, TradingState::Halted)),
            "$85"
        );
        // Up $100 on the day, then down to $30: $70 below the peak, no loss.
        a.revalue(0, units(75));
        assert_eq!(b.revalue(1, units(25)), None);
        assert_eq!(
            a.revalue(0, units(5)),
            Some((LossControl::Drawdown, TradingState::ReduceOnly))
        );
        assert_eq!(
            b.revalue(1, units(-5)),
            Some((LossControl::Drawdown, TradingState::Halted)),
            "$100 below the peak, though the day is flat"
        );
    }

    #[test]
    fn every_bad_key_is_named() {
        assert!(problems(FIRM).is_empty());
        assert_eq!(
            problems(&FIRM.replace("\"100.00\"", "\"0.00\"")),
            ["firm.max_open_notional", "firm.chunk_notional"]
        );
        assert_eq!(
            problems(&FIRM.replace("\"200.00\"", "\"5.00\"")),
            ["firm.chunk_notional"]
        );
        assert_eq!(
            problems(&FIRM.replace("= 20", "= 10")),
            ["firm.halt_messages_per_sec"]
        );
        assert_eq!(
            problems(&FIRM.replace("= 10\n", "= 0\n")),
            ["firm.max_messages_per_sec"]
        );
        assert_eq!(
            problems(&FIRM.replace("\"80.00\"", "\"50.00\"")),
            ["firm.halt_loss"]
        );
        assert_eq!(
            problems(&FIRM.replace("\"60.00\"", "\"0\"")),
            ["firm.reduce_only_drawdown"]
        );
        let missing = toml::from_str::<FirmConfig>(&FIRM.replace("chunk_notional", "#"));
        assert!(missing.unwrap_err().to_string().contains("chunk_notional"));
        let unknown = toml::from_str::<FirmConfig>(&format!("{FIRM}\nmax_loss = \"1.00\""));
        assert!(unknown.unwrap_err().to_string().contains("max_loss"));
    }

    fn pools(open: i64, gross: i64, messages: u32) -> Arc<FirmPools> {
        Arc::new(FirmPools::new(
            &FirmConfig {
                max_open_notional: Price(open * Price::SCALE),
                max_gross_notional: Price(gross * Price::SCALE),
                chunk_notional: Price(100 * Price::SCALE),
                max_messages_per_sec: messages,
                halt_messages_per_sec: messages + 1,
                reduce_only_loss: dollars(50),
                halt_loss: dollars(80),
                reduce_only_drawdown: dollars(60),
                halt_drawdown: dollars(90),
            },
            2,
        ))
    }

    const fn dollars(d: i64) -> Price {
        Price(d * Price::SCALE)
    }

    fn code(r: Result<(), Breach>) -> Option<RejectCode> {
        r.err().map(|b| b.code)
    }

    #[test]
    fn a_share_commits_and_releases_open_notional_at_the_order_price() {
        let pools = pools(1_000, 1_000_000, 100);
        let mut a = FirmShare::new(Arc::clone(&pools), 0, 2);
        let mut b = FirmShare::new(Arc::clone(&pools), 1, 2);
        assert_eq!(a.admit(0, dollars(50), 12, 12, 0), Ok(()), "$600");
        let refused = b.admit(1, dollars(50), 9, 9, 0);
        assert_eq!(
            refused,
            Err(Breach {
                code: RejectCode::FirmOpenNotional,
                value: 450 * Price::SCALE,
                limit: 1_000 * Price::SCALE
            }),
            "$450 > $400 left"
        );
        // $100 closed stays with `a` as headroom (one chunk); $200 frees a chunk.
        a.closed(dollars(50), 2);
        assert!(b.admit(1, dollars(50), 9, 9, 0).is_err());
        a.closed(dollars(50), 2);
        assert_eq!(b.admit(1, dollars(50), 9, 9, 0), Ok(()));
        drop((a, b));
        assert_eq!(
            pools.open_notional.available(),
            u64::try_from((1_000 - 400 - 450) * Price::SCALE).unwrap(),
            "stopped shards return their headroom, keep nothing else"
        );
    }

    #[test]
    fn gross_notional_values_a_symbol_at_its_highest_order_price_and_releases_falls() {
        let pools = pools(1_000_000, 1_000, 100);
        let mut a = FirmShare::new(Arc::clone(&pools), 0, 2);
        let mut b = FirmShare::new(Arc::clone(&pools), 1, 2);
        // Symbol 0: 10 shares of exposure at $60, then 12 valued at $60, not $50: $720.
        assert_eq!(a.admit(0, dollars(60), 10, 10, 0), Ok(()));
        assert_eq!(a.admit(0, dollars(50), 2, 12, 0), Ok(()));
        let over = b.admit(1, dollars(50), 9, 9, 0);
        assert_eq!(
            code(over),
            Some(RejectCode::FirmGrossNotional),
            "$450 > $280"
        );
        // A fall to 4 shares of exposure ($240) releases $480 (one chunk kept).
        a.remark(0, 4);
        assert_eq!(b.admit(1, dollars(50), 9, 9, 0), Ok(()));
        assert_eq!(
            code(b.admit(1, dollars(50), 6, 15, 0)),
            Some(RejectCode::FirmGrossNotional),
            "a commits $240 and holds $100 of headroom: $750 does not fit"
        );
        let units = |d: i64| u64::try_from(d * Price::SCALE).unwrap();
        assert_eq!(
            (b.open.used(), b.gross.used()),
            (units(450), units(450)),
            "a refused order commits nothing"
        );
        assert_eq!(b.admit(1, dollars(50), 4, 13, 0), Ok(()), "$650 does");
    }

    #[test]
    fn the_firm_message_rate_refuses_news_and_a_cancel_reaching_the_ceiling_halts() {
        let pools = pools(1_000_000, 1_000_000, 2);
        let mut a = FirmShare::new(Arc::clone(&pools), 0, 2);
        let mut b = FirmShare::new(Arc::clone(&pools), 1, 2);
        assert_eq!(a.admit(0, dollars(1), 1, 1, 5), Ok(()));
        assert_eq!(b.admit(1, dollars(1), 1, 1, 7), Ok(()));
        assert_eq!(
            b.admit(1, dollars(1), 1, 2, 9),
            Err(Breach {
                code: RejectCode::FirmMessageRate,
                value: 2,
                limit: 2
            })
        );
        assert!(a.cancel_sent(10), "the third message of the second halts");
        assert!(!a.cancel_sent(11), "once");
        assert_eq!(
            b.admit(1, dollars(1), 1, 2, SECOND_NS),
            Ok(()),
            "the next second has its own allowance"
        );
    }
}
