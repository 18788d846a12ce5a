//! IB's order ids: per API client, and each order must carry a larger id than any this
//! client used before (IB answers a reused one with error 103).
//!
//! The next id is the larger of the server's `nextValidId` and one past our own
//! high-water mark. `nextValidId` alone is not enough: after a Gateway restart it can go
//! back to an id we already used today; the high-water mark survives a reconnect in
//! memory and a restart through `floor` (one past the journal's highest id, given at
//! construction).

use super::events::IbOrderId;

/// The order id allocator of one connection.
#[derive(Debug, Clone)]
pub struct OrderIds {
    /// The least id not yet used by us and not refused by the server.
    next: IbOrderId,
}

impl OrderIds {
    /// Starting from `floor`: the least id a past session of this client cannot have
    /// used (the journal's highest + 1; 1 for a first session). IB ids are positive.
    pub fn new(floor: IbOrderId) -> OrderIds {
        OrderIds { next: floor.max(1) }
    }

    /// The server said `nextValidId`: never move back below what we used.
    pub fn server_says(&mut self, next_valid: IbOrderId) {
        self.next = self.next.max(next_valid);
    }

    /// A past run of this shard used ids up to `used` (its id log): start above it.
    pub fn used_up_to(&mut self, used: IbOrderId) {
        self.next = self.next.max(used.saturating_add(1));
    }

    /// A fresh id for a new order (or the one resend after a duplicate-id error).
    pub fn take(&mut self) -> IbOrderId {
        let id = self.next;
        self.next = self.next.checked_add(1).expect("IB order ids exhausted");
        id
    }

    /// The next id [`OrderIds::take`] gives.
    pub fn peek(&self) -> IbOrderId {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_server_forward_but_never_back_after_a_reconnect() {
        let mut ids = OrderIds::new(1);
        ids.server_says(100);
        assert_eq!((ids.take(), ids.take(), ids.take()), (100, 101, 102));
        // A Gateway restart: nextValidId rolls back to ids we already used.
        ids.server_says(50);
        assert_eq!(ids.take(), 103);
        // The server ahead of us (another session of this client): follow it.
        ids.server_says(500);
        assert_eq!(ids.take(), 500);
    }

    #[test]
    fn a_restart_starts_above_the_journal_whatever_the_server_says() {
        let mut ids = OrderIds::new(42);
        ids.server_says(7);
        assert_eq!(ids.peek(), 42);
        assert_eq!(ids.take(), 42);
        assert_eq!(OrderIds::new(0).peek(), 1);
        let mut ids = OrderIds::new(1);
        ids.used_up_to(41);
        ids.server_says(7);
        assert_eq!(ids.take(), 42);
    }
}
