//! One symbol's market as the venue last saw it, and how much of its displayed liquidity
//! our orders have already taken.
//!
//! Our fills do not alter the replayed book (no market impact), so without bookkeeping
//! the same 100 displayed shares could fill order after order. Each side remembers the
//! shares we took at its best price and offers only the rest. The count resets when the
//! best price changes or the side empties: the shares displayed after that are other
//! orders, which our earlier fills never touched.

use crate::msg::{ClOrdId, MarketView, Price, Side, TradingStatus};

/// The best price on one side and the shares there we have not yet taken.
#[derive(Copy, Clone, Debug, Default)]
pub(super) struct Level {
    px: Price,
    /// Shares displayed at `px`; 0 when the side is empty.
    displayed: u32,
    /// Shares our fills took at `px` since it became the best price.
    taken: u32,
}

impl Level {
    fn update(&mut self, px: Price, displayed: u32) {
        if displayed == 0 || self.displayed == 0 || px != self.px {
            self.taken = 0;
        }
        self.px = px;
        self.displayed = displayed;
    }

    /// The best price, unless the side is empty.
    pub fn price(&self) -> Option<Price> {
        (self.displayed > 0).then_some(self.px)
    }

    /// Displayed shares our fills have not taken yet.
    pub fn available(&self) -> u32 {
        self.displayed.saturating_sub(self.taken)
    }

    /// Records that our fills took `shares` of [`Level::available`].
    pub fn take(&mut self, shares: u32) {
        debug_assert!(shares <= self.available());
        self.taken += shares;
    }
}

/// Per-symbol state of the simulated venue.
#[derive(Copy, Clone, Debug, Default)]
pub(super) struct Market {
    /// Status of the latest view; `None` until the symbol's first tick.
    status: Option<TradingStatus>,
    bid: Level,
    ask: Level,
    /// Highest order id this symbol has seen.
    last_id: Option<ClOrdId>,
}

impl Market {
    /// Takes `view` as the symbol's market from now on.
    pub fn update(&mut self, view: &MarketView) {
        self.status = Some(view.status);
        self.bid.update(view.bid_px, view.bid_qty);
        self.ask.update(view.ask_px, view.ask_qty);
    }

    /// The latest status; `None` if no view has arrived.
    pub fn status(&self) -> Option<TradingStatus> {
        self.status
    }

    /// The level an order on `side` trades against: the ask for a buy, the bid for a sell.
    pub fn opposite(&mut self, side: Side) -> &mut Level {
        match side {
            Side::Buy => &mut self.ask,
            Side::Sell => &mut self.bid,
        }
    }

    /// Records `id` as used; false if it was already used.
    ///
    /// Ids are a per-symbol sequence (`ClOrdId`), so an id not above the symbol's last one
    /// is a reuse. Keeping the high-water mark catches a duplicate of an order long
    /// completed in constant memory, where a set of every id seen would grow all session.
    pub fn claim_id(&mut self, id: ClOrdId) -> bool {
        if self.last_id.is_some_and(|last| id <= last) {
            return false;
        }
        self.last_id = Some(id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_resets_taken_shares_when_the_price_changes_or_the_side_empties() {
        let mut level = Level::default();
        level.update(Price(100), 50);
        level.take(30);
        level.update(Price(100), 60);
        assert_eq!(level.available(), 30);
        level.update(Price(100), 20);
        assert_eq!(level.available(), 0);
        level.update(Price(101), 20);
        assert_eq!(level.available(), 20);
        level.take(20);
        level.update(Price(101), 0);
        assert_eq!(level.price(), None);
        level.update(Price(101), 20);
        assert_eq!(level.available(), 20);
    }

    #[test]
    fn ids_must_rise_per_symbol() {
        let mut market = Market::default();
        assert!(market.claim_id(ClOrdId(5)));
        assert!(!market.claim_id(ClOrdId(5)));
        assert!(!market.claim_id(ClOrdId(4)));
        assert!(market.claim_id(ClOrdId(9)));
    }
}
