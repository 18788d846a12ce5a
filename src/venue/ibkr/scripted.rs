//! An in-memory IB behind [`IbConnection`], for tests and benches: an account (orders,
//! executions since the session start, positions) that fills what it is sent on its own
//! schedule, loses and regains the link on command, and reads out snapshots as TWS
//! would. The script's clock is its own: each `poll` advances it by `tick_ns`.

use std::collections::{BTreeMap, HashSet, VecDeque};

use super::events::{
    ConId, IbConnection, IbError, IbEvent, IbExecution, IbOpenOrder, IbOrder, IbOrderId,
    IbOrderStatus, IbPosition, IbSnapshot, IbStatus, LinkError,
};

/// One order as the scripted account holds it.
#[derive(Clone, Debug)]
struct Held {
    order: IbOrder,
    filled: u32,
    /// Waiting for the scripted fill on the next poll (`auto_fill`).
    working: bool,
    ended: bool,
}

/// The scripted IB.
#[derive(Debug)]
pub struct ScriptedIb {
    pub now: u64,
    /// Clock advance per `poll`.
    pub tick_ns: u64,
    pub connected: bool,
    /// `reconnect` succeeds only while this holds.
    pub reachable: bool,
    /// Fill every order in full, at its limit, on the next poll.
    pub auto_fill: bool,
    /// Answer the next `place` with error 103 this many times.
    pub duplicate_ids: u32,
    /// The server's `nextValidId`.
    pub next_valid: IbOrderId,
    /// Events not yet read; lost if the link drops before they are.
    pub events: VecDeque<IbEvent>,
    /// Every request, in order.
    pub placed: Vec<IbOrder>,
    pub cancels: Vec<IbOrderId>,
    pub reconnects: u32,
    pub snapshots: u32,
    /// Open orders someone else placed in the account.
    pub foreign: Vec<IbOpenOrder>,
    pub positions: BTreeMap<ConId, i64>,
    pub executions: Vec<IbExecution>,
    orders: BTreeMap<IbOrderId, Held>,
    used_ids: HashSet<IbOrderId>,
    exec_seq: u64,
    lost: bool,
}

impl Default for ScriptedIb {
    fn default() -> ScriptedIb {
        ScriptedIb {
            now: 0,
            tick_ns: 1_000_000,
            connected: true,
            reachable: true,
            auto_fill: false,
            duplicate_ids: 0,
            next_valid: 1,
            events: VecDeque::new(),
            placed: Vec::new(),
            cancels: Vec::new(),
            reconnects: 0,
            snapshots: 0,
            foreign: Vec::new(),
            positions: BTreeMap::new(),
            executions: Vec::new(),
            orders: BTreeMap::new(),
            used_ids: HashSet::new(),
            exec_seq: 0,
            lost: false,
        }
    }
}

impl ScriptedIb {
    /// Queues an event for the venue's next poll (if the link is up then).
    pub fn say(&mut self, event: IbEvent) {
        if self.connected {
            self.events.push_back(event);
        }
    }

    /// The link drops: unread events are lost; the venue reads `ConnectionLost` next.
    pub fn drop_link(&mut self) {
        self.connected = false;
        self.events.clear();
        self.lost = true;
    }

    /// `shares` of order `id` execute at IB now, at its limit (recorded whether or not
    /// the link is up; reported only if it is). Returns the execution.
    pub fn fill(&mut self, id: IbOrderId, shares: u32) -> IbExecution {
        let held = self.orders.get_mut(&id).expect("an order the script holds");
        held.filled += shares;
        let done = held.filled >= held.order.qty;
        held.working = false;
        held.ended |= done;
        let order = held.order.clone();
        let cum = held.filled;
        self.exec_seq += 1;
        let e = IbExecution {
            exec_id: format!("0000e0d5.{:08}.01.01", self.exec_seq),
            order_id: id,
            order_ref: order.order_ref.clone(),
            con_id: order.con_id,
            side: order.side,
            shares,
            price: order.limit,
            cum_qty: cum,
            time: String::new(),
        };
        self.executions.push(e.clone());
        *self.positions.entry(order.con_id).or_insert(0) += order.side.sign() * i64::from(shares);
        self.say(IbEvent::Execution(e.clone()));
        let status = if done {
            IbStatus::Filled
        } else {
            IbStatus::Submitted
        };
        self.say(self.status(id, status));
        e
    }

    /// IB ends order `id` on its own (`Cancelled` or `Inactive`).
    pub fn end(&mut self, id: IbOrderId, status: IbStatus) {
        if let Some(held) = self.orders.get_mut(&id) {
            held.ended = true;
            held.working = false;
        }
        self.say(self.status(id, status));
    }

    /// The order's status message as IB would send it now.
    pub fn status(&self, id: IbOrderId, status: IbStatus) -> IbEvent {
        let held = &self.orders[&id];
        IbEvent::OrderStatus(IbOrderStatus {
            order_id: id,
            status,
            filled: held.filled,
            remaining: held.order.qty - held.filled.min(held.order.qty),
            avg_price: Some(held.order.limit),
        })
    }

    /// Whether the account holds order `id` (it reached IB).
    pub fn holds(&self, id: IbOrderId) -> bool {
        self.orders.contains_key(&id)
    }

    /// Forgets order `id`, as a Gateway restart forgets one it never confirmed.
    pub fn forget(&mut self, id: IbOrderId) {
        self.orders.remove(&id);
    }

    fn open_order(held: &Held) -> IbOpenOrder {
        IbOpenOrder {
            order_id: held.order.order_id,
            order_ref: held.order.order_ref.clone(),
            con_id: held.order.con_id,
            side: held.order.side,
            qty: held.order.qty,
            limit: Some(held.order.limit),
            status: IbStatus::Submitted,
        }
    }
}

impl IbConnection for ScriptedIb {
    fn place(&mut self, order: &IbOrder) -> Result<(), LinkError> {
        if !self.connected {
            return Err(LinkError::Down);
        }
        self.placed.push(order.clone());
        if self.duplicate_ids > 0 || !self.used_ids.insert(order.order_id) {
            self.duplicate_ids = self.duplicate_ids.saturating_sub(1);
            self.say(IbEvent::Error(IbError {
                id: order.order_id,
                code: 103,
                text: "Duplicate order id".into(),
            }));
            return Ok(());
        }
        self.next_valid = self.next_valid.max(order.order_id + 1);
        self.orders.insert(
            order.order_id,
            Held {
                order: order.clone(),
                filled: 0,
                working: self.auto_fill,
                ended: false,
            },
        );
        self.say(self.status(order.order_id, IbStatus::Submitted));
        Ok(())
    }

    fn cancel(&mut self, order_id: IbOrderId) -> Result<(), LinkError> {
        if !self.connected {
            return Err(LinkError::Down);
        }
        self.cancels.push(order_id);
        match self.orders.get(&order_id) {
            Some(held) if !held.ended => {
                self.say(self.status(order_id, IbStatus::PendingCancel));
                self.end(order_id, IbStatus::Cancelled);
            }
            _ => self.say(IbEvent::Error(IbError {
                id: order_id,
                code: 10148,
                text: "OrderId that needs to be cancelled cannot be cancelled".into(),
            })),
        }
        Ok(())
    }

    fn poll(&mut self) -> Option<IbEvent> {
        self.now += self.tick_ns;
        if self.lost {
            self.lost = false;
            return Some(IbEvent::ConnectionLost);
        }
        if self.auto_fill {
            let working: Vec<(IbOrderId, u32)> = self
                .orders
                .values()
                .filter(|h| h.working && !h.ended)
                .map(|h| (h.order.order_id, h.order.qty - h.filled))
                .collect();
            for (id, shares) in working {
                self.fill(id, shares);
            }
        }
        if !self.connected {
            return None;
        }
        self.events.pop_front()
    }

    fn snapshot(&mut self) -> Result<IbSnapshot, LinkError> {
        if !self.connected {
            return Err(LinkError::Down);
        }
        self.snapshots += 1;
        let mut open_orders: Vec<IbOpenOrder> = self
            .orders
            .values()
            .filter(|h| !h.ended)
            .map(Self::open_order)
            .collect();
        open_orders.extend(self.foreign.iter().cloned());
        Ok(IbSnapshot {
            open_orders,
            executions: self.executions.clone(),
            positions: self
                .positions
                .iter()
                .map(|(&con_id, &position)| IbPosition {
                    account: "DU0000000".into(),
                    con_id,
                    position,
                })
                .collect(),
        })
    }

    fn next_valid_id(&mut self) -> Result<IbOrderId, LinkError> {
        if !self.connected {
            return Err(LinkError::Down);
        }
        Ok(self.next_valid)
    }

    fn reconnect(&mut self) -> Result<(), LinkError> {
        self.reconnects += 1;
        if !self.reachable {
            return Err(LinkError::Down);
        }
        self.connected = true;
        Ok(())
    }

    fn now_ns(&self) -> u64 {
        self.now
    }
}
