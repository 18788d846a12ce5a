//! [`IbkrVenue`]: the Interactive Brokers venue, asynchronous, driven by routing's
//! commands and by `poll`, over any [`IbConnection`].
//!
//! It owns no shard state: it turns commands into IB requests and what IB says into
//! execution reports for the shard, nothing else. Its link to IB is up (orders go out),
//! down (reconnecting with backoff and jitter; risk was told with
//! [`ExecKind::VenueDown`] and refuses orders with `VENUE_DOWN`), or reconciling (back,
//! waiting out unknown orders' deadline). It reports [`ExecKind::VenueUp`] only once a
//! reconciliation passes; one that finds an order we did not send or a position not
//! ours halts for good (`VenueDown` with reason `Reconciliation`, which risk turns into a
//! firm-wide halt), and the finding is kept in [`IbkrStats::halt`].

use super::backoff::Backoff;
use super::errors::{IbErrorClass, classify};
use super::events::{IbConnection, IbError, IbEvent, IbExecution, IbOrder, IbOrderId, LinkError};
use super::id_log::IdLog;
use super::ids::OrderIds;
use super::orders::{Book, BookCounts, CancelBy, Ending, ExecOutcome};
use super::reconcile::{Contracts, reconcile};
use crate::msg::{
    ClOrdId, ExecKind, ExecReport, InFlightOrder, OrderIntent, RejectReason, Stamp, SymbolId,
    VenueCommand, VenueTiming,
};
use crate::sys::edge::Emit;
use crate::venue::{ReconcileError, Venue, VenueStats};

/// IB's pacing limit: 50 messages a second from one API connection (TWS API docs,
/// "Message rate limits"); beyond it TWS answers error 100 ("Max rate of messages per
/// second has been exceeded").
pub const IB_MESSAGES_PER_SEC: u32 = 50;

/// Events taken from the connection per `poll`, so one busy lane cannot starve the other
/// lanes of the venue thread: 256 is over a second of IB's answers to a fully paced
/// flow (50 orders a second, 3 to 5 messages each).
const EVENTS_PER_POLL: usize = 256;

/// What the venue needs beyond its connection; the wire builds it from `[venue]`.
#[derive(Clone, Debug)]
pub struct IbkrSetup {
    /// The symbols this venue trades and their contracts.
    pub contracts: Contracts,
    /// Where our positions start (symbol, signed shares); a symbol not listed starts
    /// flat. Reconciliation compares IB's positions with these plus every fill reported.
    pub positions: Vec<(SymbolId, i64)>,
    /// The least IB order id a past session of this client cannot have used.
    pub id_floor: IbOrderId,
    /// The shard's journal directory, when the run keeps a journal: the venue keeps
    /// the highest IB order id it used there ([`IdLog`]) and starts above it.
    pub journal: Option<std::path::PathBuf>,
    /// How long after a reconciliation our orders IB does not show stay in flight
    /// before they are resolved as never having reached IB.
    pub unknown_order_deadline_ns: u64,
    /// How long the end of the session waits for IB to confirm its cancels before it
    /// ends with orders still open (risk counts them in `orders_open_at_end`).
    pub end_of_session_deadline_ns: u64,
    /// Reconnect backoff: first delay, cap, and the jitter's seed.
    pub backoff_base_ns: u64,
    pub backoff_cap_ns: u64,
    pub backoff_seed: u64,
}

/// What the IBKR venue counts beyond [`VenueStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IbkrStats {
    pub book: BookCounts,
    /// Orders IB rejected (201), and the text of the last.
    pub broker_rejects: u64,
    pub last_reject: Option<String>,
    /// Orders resent under a fresh id after error 103.
    pub duplicate_id_resends: u64,
    pub disconnects: u64,
    pub reconnect_attempts: u64,
    /// Reconciliations run (start-up included) and fills they reported.
    pub reconciliations: u64,
    pub missed_fills: u64,
    /// Orders resolved as never having reached IB after the deadline.
    pub unknown_resolved: u64,
    /// Market-data farm outages (2103 / 2105 / 2157): the market-data source marks the
    /// symbols stale; the venue only counts them.
    pub data_farm_down: u64,
    /// 2104 / 2106 / 2158.
    pub informational: u64,
    pub commission_reports: u64,
    /// Errors of no class above, and the last one's code and text.
    pub other_errors: u64,
    pub last_error: Option<String>,
    /// Why trading halted, if a reconciliation failed.
    pub halt: Option<String>,
}

/// Where the link to IB stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Link {
    /// Start-up reconciliation has not run: it runs before the first order.
    Fresh,
    Up,
    Down {
        retry_at: u64,
    },
    /// Connected and reconciled but for unknown orders, resolved at `deadline`.
    Reconciling {
        deadline: u64,
    },
}

/// The IBKR venue for one shard's lane.
pub struct IbkrVenue<C: IbConnection> {
    conn: C,
    setup: IbkrSetup,
    book: Book,
    ids: OrderIds,
    /// Open from start-up when `setup.journal` is set.
    id_log: Option<IdLog>,
    backoff: Backoff,
    link: Link,
    /// `VenueDown` sent and no `VenueUp` since.
    reported_down: bool,
    halted: bool,
    /// `EndOfSession` received: its stamp and when to stop waiting for IB.
    ending: Option<(Stamp, u64)>,
    over: bool,
    /// Reports made due, emitted at the end of each call.
    out: Vec<ExecReport>,
    stats: VenueStats,
    ib: IbkrStats,
}

impl<C: IbConnection> IbkrVenue<C> {
    pub fn new(conn: C, setup: IbkrSetup) -> IbkrVenue<C> {
        IbkrVenue {
            book: Book::new(&setup.positions),
            ids: OrderIds::new(setup.id_floor),
            id_log: None,
            backoff: Backoff::new(
                setup.backoff_base_ns,
                setup.backoff_cap_ns,
                setup.backoff_seed,
            ),
            conn,
            setup,
            link: Link::Fresh,
            reported_down: false,
            halted: false,
            ending: None,
            over: false,
            out: Vec::new(),
            stats: VenueStats::default(),
            ib: IbkrStats::default(),
        }
    }

    pub fn ibkr_stats(&self) -> &IbkrStats {
        &self.ib
    }

    pub fn connection(&self) -> &C {
        &self.conn
    }

    pub fn connection_mut(&mut self) -> &mut C {
        &mut self.conn
    }

    /// Our position in `symbol`: the start plus every fill reported.
    pub fn position(&self, symbol: SymbolId) -> i64 {
        self.book.position(symbol)
    }

    /// Whether orders go out now.
    pub fn is_up(&self) -> bool {
        self.link == Link::Up && !self.halted
    }

    fn now(&self) -> u64 {
        self.conn.now_ns()
    }

    fn stamp(&self) -> Stamp {
        Stamp {
            ts_recv: 0,
            ts_event: self.book.ts_event,
        }
    }

    fn session_report(&mut self, kind: ExecKind, reason: RejectReason, symbol: SymbolId) {
        let mut r = ExecReport::session(kind, self.stamp());
        r.reason = reason;
        r.symbol = symbol;
        self.out.push(r);
    }

    /// Start-up: the server's next id, then one look at IB before the first order.
    /// `in_flight` are orders a past session sent with no final report journaled.
    fn start_up(&mut self, in_flight: &[InFlightOrder]) -> Result<(), String> {
        self.link = Link::Up;
        if let Some(dir) = &self.setup.journal {
            let (log, highest) = IdLog::open(dir)?;
            if let Some(used) = highest {
                self.ids.used_up_to(used);
            }
            self.id_log = Some(log);
        }
        let next = self.conn.next_valid_id().map_err(|e| e.to_string())?;
        self.ids.server_says(next);
        let snapshot = self.conn.snapshot().map_err(|e| e.to_string())?;
        self.ib.reconciliations += 1;
        // Orders the past session sent with no final report: taken back as they were
        // last seen, then settled by the look below like any order of ours (fills IB
        // made meanwhile reported once, an open one kept, one IB does not show ended).
        for o in in_flight {
            let raw = o.order.cl_ord_id.0.to_string();
            let Some(contract) = self.setup.contracts.of_symbol(o.order.symbol).copied() else {
                return Err(format!(
                    "order {} was in flight for a symbol this venue does not trade",
                    o.order.cl_ord_id
                ));
            };
            let executions: Vec<&IbExecution> = snapshot
                .executions
                .iter()
                .filter(|e| e.order_ref == raw)
                .collect();
            let ib_id = snapshot
                .open_orders
                .iter()
                .find(|x| x.order_ref == raw)
                .map(|x| x.order_id)
                .or_else(|| executions.first().map(|e| e.order_id));
            let now = self.now();
            self.book
                .adopt(o, ib_id, contract.con_id, &executions, now)?;
        }
        for e in &snapshot.executions {
            if self.book.find(e.order_id, &e.order_ref).is_none() {
                self.book.before_start(e);
            }
        }
        let mut out = std::mem::take(&mut self.out);
        let found = reconcile(&mut self.book, &snapshot, &self.setup.contracts, &mut out);
        self.ib.missed_fills += found.missed_fills;
        if found.halts() {
            self.out = out;
            return Err(found.describe());
        }
        // Ours, neither open at IB nor filled: the process was down for longer than any
        // order is in transit (IB acknowledges within milliseconds), so IB never took it
        // or ended it without a fill. No deadline to wait out, unlike after a reconnect.
        for id in &found.unknown {
            let filled = self.book.get(*id).map_or(0, |o| o.filled);
            self.book.end(
                *id,
                Ending::Rejected(RejectReason::UnknownOrder),
                filled,
                &mut out,
            );
            self.ib.unknown_resolved += 1;
        }
        self.out = out;
        Ok(())
    }

    /// The lazy start-up when `Venue::reconcile` was not called (a run without a
    /// journal): a failure halts instead of refusing to start.
    fn ensure_started(&mut self) {
        if self.link == Link::Fresh
            && let Err(why) = self.start_up(&[])
        {
            self.halt(why);
        }
    }

    fn halt(&mut self, why: String) {
        self.ib.halt.get_or_insert(why);
        self.halted = true;
        self.reported_down = true;
        self.session_report(
            ExecKind::VenueDown,
            RejectReason::Reconciliation,
            SymbolId(0),
        );
    }

    fn go_down(&mut self) {
        if matches!(self.link, Link::Down { .. }) {
            return;
        }
        self.ib.disconnects += 1;
        let retry_at = self.now() + self.backoff.next_delay();
        self.link = Link::Down { retry_at };
        if !self.reported_down {
            self.reported_down = true;
            self.session_report(ExecKind::VenueDown, RejectReason::Disconnected, SymbolId(0));
        }
    }

    /// A call to IB failed: `Down` takes the link down; anything else is the caller's.
    fn link_failed(&mut self, e: &LinkError) {
        if *e == LinkError::Down {
            self.go_down();
        }
    }

    fn try_reconnect(&mut self) {
        self.ib.reconnect_attempts += 1;
        match self
            .conn
            .reconnect()
            .and_then(|()| self.conn.next_valid_id())
        {
            Ok(next) => {
                self.ids.server_says(next);
                self.link = Link::Up;
                self.reconcile_now(false);
            }
            Err(_) => {
                let retry_at = self.now() + self.backoff.next_delay();
                self.link = Link::Down { retry_at };
            }
        }
    }

    /// One look at IB while connected; `resolve`: unknown orders' deadline has passed.
    fn reconcile_now(&mut self, resolve: bool) {
        if !self.reported_down {
            // Back from an outage risk never heard of (1101 / 1102 alone): stop orders
            // until the look is done.
            self.reported_down = true;
            self.session_report(ExecKind::VenueDown, RejectReason::Disconnected, SymbolId(0));
        }
        let snapshot = match self.conn.snapshot() {
            Ok(s) => s,
            Err(e) => {
                self.link = Link::Up; // so go_down schedules a retry
                self.link_failed(&e);
                if e != LinkError::Down {
                    self.halt(format!("reconciliation could not read IB: {e}"));
                }
                return;
            }
        };
        self.ib.reconciliations += 1;
        let mut out = std::mem::take(&mut self.out);
        let found = reconcile(&mut self.book, &snapshot, &self.setup.contracts, &mut out);
        self.ib.missed_fills += found.missed_fills;
        if found.halts() {
            self.out = out;
            self.halt(found.describe());
            return;
        }
        if !found.unknown.is_empty() && !resolve {
            self.out = out;
            self.link = Link::Reconciling {
                deadline: self.now() + self.setup.unknown_order_deadline_ns,
            };
            return;
        }
        for id in &found.unknown {
            let filled = self.book.get(*id).map_or(0, |o| o.filled);
            self.book.end(
                *id,
                Ending::Rejected(RejectReason::UnknownOrder),
                filled,
                &mut out,
            );
            self.ib.unknown_resolved += 1;
        }
        self.out = out;
        self.link = Link::Up;
        self.backoff.reset();
        self.send_pending_cancels();
        if self.link == Link::Up && !self.halted {
            self.reported_down = false;
            self.session_report(ExecKind::VenueUp, RejectReason::None, SymbolId(0));
        }
    }

    /// Cancels asked for while the link was down go out once it is back.
    fn send_pending_cancels(&mut self) {
        let ids: Vec<IbOrderId> = self
            .book
            .live()
            .filter(|o| o.cancel.is_some())
            .map(|o| o.ib_id)
            .collect();
        for ib_id in ids {
            if let Err(e) = self.conn.cancel(ib_id) {
                self.link_failed(&e);
                return;
            }
        }
    }

    fn place(&mut self, order: &OrderIntent, stamp: Stamp) {
        let contract = self.setup.contracts.of_symbol(order.symbol).copied();
        let Some(contract) = contract.filter(|_| self.is_up()) else {
            // Risk sent it before it heard the link was down (or for a symbol without a
            // contract, which the config refuses): it never reaches IB.
            let reason = if self.is_up() {
                RejectReason::NoMarket
            } else {
                RejectReason::Disconnected
            };
            self.refuse(order, stamp, reason);
            return;
        };
        let ib_id = self.ids.take();
        if let Err(why) = self.record_id(ib_id) {
            // Sent without its id kept, a restart could reuse the id: it never goes out.
            self.refuse(order, stamp, RejectReason::Broker);
            self.halt(why);
            return;
        }
        self.book
            .open(order, stamp, ib_id, contract.con_id, self.now());
        let request = IbOrder {
            order_id: ib_id,
            con_id: contract.con_id,
            side: order.side,
            qty: order.qty,
            limit: order.price,
            tif: order.tif,
            order_ref: order.cl_ord_id.0.to_string(),
        };
        match self.conn.place(&request) {
            Ok(()) => {}
            // Kept in flight: reconciliation finds whether it got there.
            Err(LinkError::Down) => self.go_down(),
            Err(LinkError::Failed(text)) => {
                self.ib.last_error = Some(text);
                self.book.end(
                    order.cl_ord_id,
                    Ending::Rejected(RejectReason::Broker),
                    0,
                    &mut self.out,
                );
            }
        }
    }

    /// A new order that never reaches IB, answered at once.
    fn refuse(&mut self, order: &OrderIntent, stamp: Stamp, reason: RejectReason) {
        self.out.push(ExecReport {
            stamp,
            cl_ord_id: order.cl_ord_id,
            symbol: order.symbol,
            side: order.side,
            reason,
            ..ExecReport::session(ExecKind::Rejected, stamp)
        });
    }

    /// Keeps `ib_id` as the highest used, before an order carries it out.
    fn record_id(&mut self, ib_id: IbOrderId) -> Result<(), String> {
        match &mut self.id_log {
            Some(log) => log.record(ib_id),
            None => Ok(()),
        }
    }

    fn cancel(&mut self, id: ClOrdId, by: CancelBy) {
        let Some(o) = self.book.get_mut(id).filter(|o| !o.done) else {
            if by == CancelBy::Risk {
                self.book.refuse_cancel(id, &mut self.out);
            }
            return;
        };
        if o.cancel.is_some() {
            return;
        }
        o.cancel = Some(by);
        let ib_id = o.ib_id;
        if self.link == Link::Up
            && let Err(e) = self.conn.cancel(ib_id)
        {
            self.link_failed(&e);
        }
    }

    fn cancel_all(&mut self) {
        let ids: Vec<ClOrdId> = self.book.live().map(|o| o.cl_ord_id).collect();
        for id in ids {
            self.cancel(id, CancelBy::Mass);
        }
    }

    fn on_event(&mut self, event: IbEvent) {
        match event {
            IbEvent::NextValidId(n) => self.ids.server_says(n),
            IbEvent::OrderStatus(s) => self.book.on_status(&s, &mut self.out),
            IbEvent::OpenOrder(o) => {
                if self.setup.contracts.is_foreign(&o, &self.book) {
                    let why = format!(
                        "order {} (orderRef {:?}) on contract {} was not sent by tickpipe: \
                         someone else is trading the account",
                        o.order_id, o.order_ref, o.con_id
                    );
                    self.halt(why);
                } else {
                    self.book.on_open_order(&o, &mut self.out);
                }
            }
            IbEvent::Execution(e) => {
                let outcome = self.book.on_execution(&e, &mut self.out);
                if outcome == ExecOutcome::NotOurs
                    && let Some(c) = self.setup.contracts.of_con(e.con_id)
                {
                    let why = format!(
                        "execution {} of {} shares in {} (order {}, orderRef {:?}) was not \
                         ours: someone else is trading the account",
                        e.exec_id, e.shares, c.name, e.order_id, e.order_ref
                    );
                    self.halt(why);
                }
            }
            IbEvent::Commission(_) => self.ib.commission_reports += 1,
            IbEvent::Error(e) => self.on_error(e),
            IbEvent::ConnectionLost => self.go_down(),
            IbEvent::ConnectionRestored => {
                if self.link != Link::Fresh {
                    self.reconcile_now(false);
                }
            }
            // The account check is the wire's, at start-up; positions are read by
            // reconciliation's snapshot, not from the stream.
            IbEvent::ManagedAccounts(_) | IbEvent::Position(_) => {}
        }
    }

    fn on_error(&mut self, e: IbError) {
        let order = self.book.find(e.id, "");
        match classify(e.code) {
            IbErrorClass::Rejected => {
                self.ib.broker_rejects += 1;
                self.ib.last_reject = Some(format!("{}: {}", e.code, e.text));
                if let Some(id) = order {
                    let filled = self.book.get(id).map_or(0, |o| o.filled);
                    self.book.end(
                        id,
                        Ending::Rejected(RejectReason::Broker),
                        filled,
                        &mut self.out,
                    );
                }
            }
            IbErrorClass::Cancelled => {
                if let Some(id) = order
                    && let Some(o) = self.book.get(id)
                {
                    let reason = Book::cancel_reason(o);
                    let filled = o.filled;
                    self.book
                        .end(id, Ending::Cancelled(reason), filled, &mut self.out);
                }
            }
            IbErrorClass::DuplicateId => {
                if let Some(id) = order {
                    self.resend(id);
                }
            }
            IbErrorClass::CancelRejected => {
                if let Some(id) = order {
                    self.book.cancel_refused(id, &mut self.out);
                }
            }
            IbErrorClass::ConnectivityLost => self.go_down(),
            IbErrorClass::ConnectivityRestored => {
                if self.link != Link::Fresh {
                    self.reconcile_now(false);
                }
            }
            IbErrorClass::DataFarmDown => self.ib.data_farm_down += 1,
            IbErrorClass::Informational => self.ib.informational += 1,
            IbErrorClass::Other => {
                self.ib.other_errors += 1;
                self.ib.last_error = Some(format!("{} (id {}): {}", e.code, e.id, e.text));
            }
        }
    }

    /// Error 103: the id was taken. Once under a fresh id; a second 103 rejects.
    fn resend(&mut self, id: ClOrdId) {
        let Some(o) = self.book.get(id).filter(|o| !o.done) else {
            return;
        };
        if o.resent {
            let filled = o.filled;
            self.book.end(
                id,
                Ending::Rejected(RejectReason::DuplicateId),
                filled,
                &mut self.out,
            );
            return;
        }
        let filled = o.filled;
        let request = IbOrder {
            order_id: self.ids.take(),
            con_id: o.con_id,
            side: o.side,
            qty: o.qty,
            limit: o.limit,
            tif: o.tif,
            order_ref: id.0.to_string(),
        };
        if let Err(why) = self.record_id(request.order_id) {
            self.book.end(
                id,
                Ending::Rejected(RejectReason::DuplicateId),
                filled,
                &mut self.out,
            );
            self.halt(why);
            return;
        }
        self.book.renumber(id, request.order_id);
        self.ib.duplicate_id_resends += 1;
        if let Err(e) = self.conn.place(&request) {
            self.link_failed(&e);
        }
    }

    /// Timers: a reconnect attempt, unknown orders' deadline, the end of the session.
    fn tick_timers(&mut self) {
        let now = self.now();
        match self.link {
            Link::Down { retry_at } if now >= retry_at => self.try_reconnect(),
            Link::Reconciling { deadline } if now >= deadline => self.reconcile_now(true),
            _ => {}
        }
        if let Some((stamp, give_up_at)) = self.ending
            && !self.over
            && (self.book.live_count() == 0 || now >= give_up_at)
        {
            self.over = true;
            self.out
                .push(ExecReport::session(ExecKind::EndOfSession, stamp));
        }
    }

    /// Emits what is due, counting it.
    fn flush<O: Emit<ExecReport>>(&mut self, out: &mut O) -> bool {
        let any = !self.out.is_empty();
        for r in self.out.drain(..) {
            let s = &mut self.stats;
            s.reports += 1;
            match r.kind {
                ExecKind::Ack => s.acks += 1,
                ExecKind::Fill => {
                    s.fills += 1;
                    s.filled_shares += u64::from(r.qty);
                }
                ExecKind::Cancelled if r.reason == RejectReason::Requested => {
                    s.cancels.requested += 1
                }
                ExecKind::Cancelled if r.reason == RejectReason::ImmediateOrCancel => {
                    s.cancels.immediate_or_cancel += 1
                }
                ExecKind::Rejected if r.reason == RejectReason::DuplicateId => {
                    s.rejects.duplicate_id += 1
                }
                ExecKind::CancelRejected => s.cancel_rejects += 1,
                _ => {}
            }
            out.emit(r);
        }
        self.ib.book = self.book.counts.clone();
        any
    }
}

impl<C: IbConnection> Venue for IbkrVenue<C> {
    const KIND: &'static str = "ibkr";
    const TIMING: VenueTiming = VenueTiming::Asynchronous;
    const PACING: Option<u32> = Some(IB_MESSAGES_PER_SEC);

    fn on_command<O: Emit<ExecReport>>(&mut self, command: VenueCommand, out: &mut O) {
        self.stats.commands.count(&command);
        if let VenueCommand::Tick { .. } = command {
            return; // IB has its own market
        }
        self.book.ts_event = self.book.ts_event.max(command.stamp().ts_event);
        self.ensure_started();
        match command {
            VenueCommand::New { stamp, order } => self.place(&order, stamp),
            VenueCommand::Cancel { cl_ord_id, .. } => self.cancel(cl_ord_id, CancelBy::Risk),
            VenueCommand::CancelAll { .. } => self.cancel_all(),
            VenueCommand::EndOfSession { stamp } => {
                self.cancel_all();
                self.ending = Some((stamp, self.now() + self.setup.end_of_session_deadline_ns));
                self.tick_timers();
            }
            // Risk asks an asynchronous venue for no watermark; nothing to vouch for.
            VenueCommand::Watermark { .. } | VenueCommand::Tick { .. } => {}
        }
        self.flush(out);
    }

    fn poll<O: Emit<ExecReport>>(&mut self, out: &mut O) -> bool {
        if self.over {
            return false;
        }
        self.ensure_started();
        for _ in 0..EVENTS_PER_POLL {
            let Some(event) = self.conn.poll() else { break };
            self.on_event(event);
        }
        self.tick_timers();
        self.flush(out)
    }

    fn stats(&self) -> &VenueStats {
        &self.stats
    }

    fn reconcile(
        &mut self,
        in_flight: &[InFlightOrder],
        positions: &[(SymbolId, i64)],
    ) -> Result<(), ReconcileError> {
        for &(symbol, shares) in positions {
            self.book.add_position(symbol, shares);
        }
        self.start_up(in_flight).map_err(ReconcileError)
    }
}

#[cfg(test)]
mod tests;
