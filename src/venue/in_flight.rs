//! Commands sent to the venue that have not arrived yet, in arrival order.
//!
//! Every command takes the same latency and commands are sent in non-decreasing time, so
//! arrivals are non-decreasing too and a FIFO is the whole schedule.

use std::collections::VecDeque;

use crate::msg::{ClOrdId, OrderIntent};

/// What a command does when it arrives.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(super) enum Action {
    New(OrderIntent),
    Cancel(ClOrdId),
    CancelAll,
}

/// A command on its way to the venue.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(super) struct InFlight {
    /// Event time at which it reaches the venue.
    pub arrival: u64,
    /// `ts_recv` of the command.
    pub ts_recv: u64,
    pub action: Action,
}

/// The FIFO, with a fixed capacity.
pub(super) struct InFlightQueue {
    queue: VecDeque<InFlight>,
    capacity: usize,
}

impl InFlightQueue {
    /// Room for the commands a shard with at most `open_orders` open orders can have in
    /// flight: a `New` per open order (it is open in risk's eyes from the moment it is
    /// sent), a `Cancel` per open order, and a `CancelAll` after each `New` plus one
    /// (see [`InFlightQueue::push`] for why no more are kept).
    pub fn new(open_orders: usize) -> InFlightQueue {
        let capacity = 3 * open_orders + 1;
        InFlightQueue {
            queue: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Queues `cmd`, which arrives no earlier than any queued command.
    ///
    /// A `CancelAll` with another one queued and no `New` queued after it is dropped:
    /// nothing can rest between the two arrivals, so the second would find the book
    /// empty and report nothing. That bounds `CancelAll`s however often routing sends
    /// them.
    ///
    /// # Panics
    /// If the queue is full: the shard broke the bound [`InFlightQueue::new`] sizes for.
    pub fn push(&mut self, cmd: InFlight) {
        debug_assert!(self.queue.back().is_none_or(|b| b.arrival <= cmd.arrival));
        if cmd.action == Action::CancelAll && self.cancel_all_is_queued_last() {
            return;
        }
        assert!(
            self.queue.len() < self.capacity,
            "simulated venue: more than {} commands in flight; the shard sent more than a \
             New and a Cancel per open order",
            self.capacity
        );
        self.queue.push_back(cmd);
    }

    /// Whether a `CancelAll` is queued with no `New` behind it.
    fn cancel_all_is_queued_last(&self) -> bool {
        self.queue
            .iter()
            .rev()
            .take_while(|c| !matches!(c.action, Action::New(_)))
            .any(|c| c.action == Action::CancelAll)
    }

    /// The next command, if it arrives strictly before `t`.
    pub fn pop_before(&mut self, t: u64) -> Option<InFlight> {
        if self.queue.front()?.arrival < t {
            self.queue.pop_front()
        } else {
            None
        }
    }

    /// The next command, whenever it arrives.
    pub fn pop(&mut self) -> Option<InFlight> {
        self.queue.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{Price, Side, SymbolId, TimeInForce};

    fn at(arrival: u64, action: Action) -> InFlight {
        InFlight {
            arrival,
            ts_recv: 0,
            action,
        }
    }

    fn new_order() -> Action {
        Action::New(OrderIntent {
            cl_ord_id: ClOrdId(1),
            price: Price(1),
            qty: 1,
            symbol: SymbolId(0),
            side: Side::Buy,
            tif: TimeInForce::Day,
        })
    }

    #[test]
    fn pops_strictly_before_and_keeps_ties() {
        let mut q = InFlightQueue::new(2);
        q.push(at(10, Action::Cancel(ClOrdId(1))));
        q.push(at(12, Action::Cancel(ClOrdId(2))));
        assert_eq!(q.pop_before(10), None);
        assert_eq!(q.pop_before(11).unwrap().arrival, 10);
        assert_eq!(q.pop_before(12), None);
        assert_eq!(q.pop().unwrap().arrival, 12);
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn drops_a_cancel_all_that_could_find_nothing() {
        let mut q = InFlightQueue::new(1);
        q.push(at(1, Action::CancelAll));
        q.push(at(2, Action::Cancel(ClOrdId(1))));
        q.push(at(3, Action::CancelAll));
        q.push(at(4, new_order()));
        q.push(at(5, Action::CancelAll));
        let arrivals: Vec<u64> = std::iter::from_fn(|| q.pop()).map(|c| c.arrival).collect();
        assert_eq!(arrivals, [1, 2, 4, 5]);
    }

    #[test]
    #[should_panic(expected = "more than 4 commands in flight")]
    fn refuses_to_grow() {
        let mut q = InFlightQueue::new(1);
        for t in 0..5 {
            q.push(at(t, Action::Cancel(ClOrdId(t))));
        }
    }
}
