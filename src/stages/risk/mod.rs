//! Stage 4, risk: pre-trade checks, and the one owner of this shard's orders and
//! positions.
//!
//! Signals (a market view and a target position) come in; venue commands go out; the
//! venue's execution reports come back through the [`ReportSource`] this stage owns. No
//! other thread touches an order or a position: the venue only *sends* reports (the
//! predecessor let broker callbacks mutate portfolio state unlocked).
//!
//! Per signal at event time `T`, in this order:
//! 1. [`venue_sync`]: receive reports. With an event-time venue: if an order is live and
//!    the venue has not vouched for everything up to `T`, send `Watermark { T }` and wait
//!    for the answer; then apply every report with `ts_event ≤ T`. With an asynchronous
//!    venue: apply every report received, in arrival order, never waiting
//!    ([`orders`], [`positions`]). An illegal report halts trading firm-wide: fail closed.
//! 2. Mark the symbol to the view ([`positions::MarkSource`]).
//! 3. While the symbol has live orders, send the view to the venue (`Tick`).
//! 4. [`sizing`]: cancel live orders that no longer help; if none is live, propose one
//!    toward the target, and send it only if every [`checks`] passes.
//!
//! With an event-time venue, decisions depend on event time alone, never on when a
//! report happened to arrive, so a replay's commands, fills and [`digest`] are
//! bit-identical run to run.

pub mod broken;
pub mod checks;
pub mod config;
pub mod controls;
mod coordinated;
pub mod digest;
pub mod firm;
pub mod orders;
pub mod pacing;
pub mod positions;
pub mod shard_latch;
pub mod sizing;
pub mod stats;
pub mod venue_sync;

#[cfg(test)]
mod test_venue;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use self::checks::{Breach, Rejection};
pub use self::config::{ExecutionConfig, LimitOverrides, Limits, Pricing, RiskConfig};
pub use self::stats::{InvalidReport, RiskStats, SymbolStats};

use self::broken::{PrintFill, PrintFills};
use self::checks::{Proposal, Snapshot};
use self::controls::{Controls, SentOrder};
use self::digest::Digest;
use self::firm::{FirmPools, FirmShare, LossControl};
use self::orders::{Applied, LiveOrders, ReportProblem};
use self::pacing::Bucket;
use self::positions::{MarkSource, Position};
use self::shard_latch::ShardLatch;
use self::sizing::{Holdings, Policy};
use self::venue_sync::VenueSync;
use crate::clock::MonoClock;
use crate::merge::Merge;
use crate::msg::{
    ExecKind, ExecReport, MarketView, OrderIntent, RejectReason, Side, Signal, Stamp, SymbolId,
    SymbolName, VenueCommand, VenueTiming, ViewCause,
};
use crate::stages::ShardReport;
use crate::stages::coordinator::{Coordinator, SliceFate};
use crate::stages::journal::{DecisionLog, StateCause, Verdict};
use crate::stages::reject::RejectCode;
use crate::stages::status::StatusBoard;
use crate::stages::{Control, Operator, ReportSource, Stage};
use crate::sys::edge::Emit;
use crate::sys::{TradingLatch, TradingState};
use crate::universe::Universe;

/// Everything risk keeps for one owned symbol.
#[derive(Debug)]
struct SymbolState {
    name: SymbolName,
    limits: Limits,
    orders: LiveOrders,
    position: Position,
    marks: MarkSource,
    controls: Controls,
    /// Its share of the venue's message pacing, if the venue has one.
    pacing: Option<Bucket>,
    digest: Digest,
    /// Our fills against prints, by match number, for broken trades ([`broken`]).
    print_fills: PrintFills,
}

/// Where the venue session stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Session {
    Open,
    /// `EndOfSession` sent; waiting for the venue's.
    Ending,
    /// The venue's `EndOfSession` received: nothing may follow.
    Over,
}

/// The risk stage for one shard.
pub struct Risk<R: ReportSource> {
    /// Indexed by `SymbolId`; `Some` for the symbols this shard owns.
    symbols: Vec<Option<SymbolState>>,
    policy: Policy,
    /// The firm-wide latch, or this shard's copy while it replays its journal.
    latch: ShardLatch,
    reports: R,
    sync: VenueSync,
    /// Live orders over every owned symbol: while non-zero, reports can arrive.
    live_orders: usize,
    /// Event time of the latest decision; never runs backwards.
    clock: u64,
    /// `ts_recv` of the latest signal, for commands not caused by one.
    last_ts_recv: u64,
    /// Event time of the latest report applied, watermarks included: a report earlier
    /// than a watermark already received broke the venue's promise (it should have come
    /// first), and may have been missing from a decision.
    last_report_ts: u64,
    session: Session,
    /// The latch as the last decision saw it: a change into `Halted` sends one mass
    /// cancel.
    last_latch: TradingState,
    /// Counters; `symbols` is filled in at report time.
    stats: RiskStats,
    /// Times the watermark waits; decisions never read it.
    wait_clock: MonoClock,
    /// The decision journal, if the run keeps one (`stages::journal`).
    log: Option<Box<dyn DecisionLog>>,
    /// Signals taken so far: the input position of the current decision.
    position: u64,
    /// An invalid report on this shard halted the latch since the last decision.
    halted_by_report: bool,
    /// The journal refused a record: trading is halted and the shard's orders pulled.
    journal_halted: bool,
    /// Event time of the last circuit-breaker breach seen, to count each once.
    breaker_at: Option<u64>,
    /// Where this shard answers an operator's status request, and its index there.
    status: Option<(Arc<StatusBoard>, usize)>,
    /// This shard's share of the firm-wide limits (`firm`), when the run has them.
    firm: Option<FirmShare>,
    /// The shard's coordinator, when the config has one (`coordinated`).
    coordinator: Option<Box<Coordinator>>,
    /// An asynchronous venue said its broker is down or unreconciled
    /// ([`ExecKind::VenueDown`]) and has not said it is back.
    venue_down: bool,
}

impl<R: ReportSource> Risk<R> {
    /// Risk for the symbols in `owned`.
    ///
    /// # Panics
    /// If `config` or `execution` would not pass `validate` (check it first: nothing
    /// falls back to a default), or `owned` names a symbol twice or one outside the
    /// universe.
    pub fn new(
        universe: Arc<Universe>,
        owned: &[SymbolId],
        config: &RiskConfig,
        execution: &ExecutionConfig,
        latch: Arc<TradingLatch>,
        reports: R,
    ) -> Risk<R> {
        let policy = Policy {
            pricing: execution.price,
            tif: execution.time_in_force,
            order_ttl_ns: execution.order_ttl_ns,
        };
        let mut symbols: Vec<Option<SymbolState>> = (0..universe.len()).map(|_| None).collect();
        for &id in owned {
            assert!(
                id.index() < universe.len(),
                "risk: owned symbol {} is not in the universe",
                id.0
            );
            let name = universe.name(id);
            let limits = config.limits_for(name.as_str());
            let slot = &mut symbols[id.index()];
            assert!(slot.is_none(), "risk: symbol {name} is owned twice");
            *slot = Some(SymbolState {
                name,
                limits,
                orders: LiveOrders::new(id, limits.max_open_orders as usize),
                position: Position::default(),
                marks: MarkSource::default(),
                controls: Controls::new(&limits, config.is_restricted(name.as_str())),
                pacing: R::PACING.map(|rate| Bucket::new(rate, universe.len())),
                digest: Digest::default(),
                print_fills: PrintFills::new(limits.broken_trade_fills as usize),
            });
        }
        Risk {
            symbols,
            policy,
            latch: ShardLatch::new(latch),
            reports,
            sync: VenueSync::default(),
            live_orders: 0,
            clock: 0,
            last_ts_recv: 0,
            last_report_ts: 0,
            session: Session::Open,
            last_latch: TradingState::Active,
            stats: RiskStats::default(),
            wait_clock: MonoClock::new(),
            log: None,
            position: 0,
            halted_by_report: false,
            journal_halted: false,
            breaker_at: None,
            status: None,
            firm: None,
            coordinator: None,
            venue_down: false,
        }
    }

    /// The same stage journaling its decisions to `log` (and, if `log` holds a past
    /// session, re-deriving and checking it first).
    ///
    /// # Panics
    /// If it has taken a signal already: the journal's positions start at the first.
    pub fn with_journal(mut self, log: Box<dyn DecisionLog>) -> Risk<R> {
        assert_eq!(
            self.position, 0,
            "risk: the journal is attached before any signal"
        );
        if log.replaying() {
            self.latch.replaying();
        }
        self.log = Some(log);
        self
    }

    /// The same stage answering status requests ([`Control::Status`]) on `board`, in
    /// slot `shard`.
    pub fn with_status(mut self, board: Arc<StatusBoard>, shard: usize) -> Risk<R> {
        self.status = Some((board, shard));
        self
    }

    /// The same stage drawing on the firm-wide `pools` for every order it sends, as
    /// shard `shard` of them.
    pub fn with_firm(mut self, pools: Arc<FirmPools>, shard: usize) -> Risk<R> {
        self.firm = Some(FirmShare::new(pools, shard, self.symbols.len()));
        self
    }

    /// The same stage stepping `coordinator` at each decision.
    pub fn with_coordinator(mut self, coordinator: Coordinator) -> Risk<R> {
        self.coordinator = Some(Box::new(coordinator));
        self
    }

    /// The same stage reading `reports` instead: for a report source that can only be
    /// built where the stage will run (an inline venue's, on the runner's thread).
    ///
    /// # Panics
    /// If any report has been received: they would be lost.
    pub fn with_reports<S: ReportSource>(self, reports: S) -> Risk<S> {
        assert!(
            self.sync.is_empty(),
            "risk: the report source is replaced only before any report is received"
        );
        Risk {
            symbols: self.symbols,
            policy: self.policy,
            latch: self.latch,
            reports,
            sync: self.sync,
            live_orders: self.live_orders,
            clock: self.clock,
            last_ts_recv: self.last_ts_recv,
            last_report_ts: self.last_report_ts,
            session: self.session,
            last_latch: self.last_latch,
            stats: self.stats,
            wait_clock: self.wait_clock,
            log: self.log,
            position: self.position,
            halted_by_report: self.halted_by_report,
            journal_halted: self.journal_halted,
            breaker_at: self.breaker_at,
            status: self.status,
            firm: self.firm,
            coordinator: self.coordinator,
            venue_down: self.venue_down,
        }
    }

    /// Input position of what happens after the last signal (the end of session).
    fn end_position(&self) -> u64 {
        self.position + 1
    }

    /// Step 1's intake: reports received from the venue, or — for an asynchronous venue
    /// while the journal is being re-derived — the journaled reports due at this position
    /// instead, applied where the shard first applied them. The venue's own reports wait
    /// until the replay has passed the journal's end.
    #[inline]
    fn receive(&mut self, position: u64) {
        if R::TIMING == VenueTiming::Asynchronous {
            let mut replaying = false;
            while let Some(log) = self.log.as_mut() {
                replaying = log.replaying();
                let Some(r) = log.due_report(position).filter(|_| replaying) else {
                    break;
                };
                self.apply_report(r);
            }
            if replaying {
                return;
            }
        }
        self.sync.receive(&mut self.reports);
    }

    /// Journals a report from an asynchronous venue before applying it. A refused write
    /// still applies it (the venue did fill) but halts trading.
    #[inline]
    fn journal_report(&mut self, r: &ExecReport, stamp: Stamp, out: &mut impl Emit<VenueCommand>) {
        let order_report = !matches!(r.kind, ExecKind::Watermark | ExecKind::EndOfSession);
        if R::TIMING != VenueTiming::Asynchronous || !order_report {
            return;
        }
        let position = if self.session == Session::Open {
            self.position
        } else {
            self.end_position()
        };
        if let Some(log) = self.log.as_mut()
            && log.report(position, r) == Verdict::Refused
        {
            self.journal_refused(stamp, out);
        }
    }

    /// The journal could not take a record: halt firm-wide and pull this shard's orders
    /// once. The mass cancel is sent unjournaled: it can only reduce exposure, and the
    /// venue ignores it with nothing open. The log has stopped the run.
    #[cold]
    fn journal_refused(&mut self, stamp: Stamp, out: &mut impl Emit<VenueCommand>) {
        self.latch.escalate(TradingState::Halted);
        // Firm-wide even while replaying: the journal no longer holds what is decided.
        self.latch.shared().escalate(TradingState::Halted);
        if !self.journal_halted {
            self.journal_halted = true;
            out.emit(VenueCommand::CancelAll { stamp });
            self.stats.cancel_alls_sent += 1;
        }
    }

    /// Applies one received report; an illegal one is counted, recorded, and halts. An
    /// out-of-order report that is otherwise legal is still booked: the venue did fill it.
    /// Order is judged only for an event-time venue: an asynchronous one promises none.
    fn apply_report(&mut self, r: ExecReport) {
        let ts = r.stamp.ts_event;
        let mut problem = None;
        if self.session == Session::Over {
            problem = Some(ReportProblem::OutsideSession);
        } else if R::TIMING == VenueTiming::EventTime && ts < self.last_report_ts {
            problem = Some(ReportProblem::OutOfOrder {
                previous: self.last_report_ts,
            });
        }
        self.last_report_ts = self.last_report_ts.max(ts);
        match r.kind {
            // Already counted when received (`VenueSync::receive`).
            ExecKind::Watermark => {}
            ExecKind::EndOfSession => {
                if self.session == Session::Ending {
                    self.session = Session::Over;
                } else {
                    problem = problem.or(Some(ReportProblem::OutsideSession));
                }
            }
            ExecKind::VenueDown => {
                self.venue_down = true;
                if r.reason == RejectReason::Reconciliation {
                    // The broker's account is not what we think it is: stop everything
                    // until an operator has looked.
                    self.latch.escalate(TradingState::Halted);
                }
            }
            ExecKind::VenueUp => self.venue_down = false,
            _ => {
                if let Err(p) = self.apply_order_report(&r) {
                    problem = problem.or(Some(p));
                }
            }
        }
        if let Some(problem) = problem {
            self.invalid(r, problem);
        }
    }

    /// Drives one order report through its symbol's state machine and books its effect.
    fn apply_order_report(&mut self, r: &ExecReport) -> Result<(), ReportProblem> {
        if self.firm.is_some() {
            return self.apply_order_report_firm(r);
        }
        self.apply_order_report_plain(r)
    }

    /// [`Risk::apply_order_report`], releasing the firm-wide notional of the shares the
    /// report closed, at the order's limit price (what was committed).
    #[inline(never)]
    fn apply_order_report_firm(&mut self, r: &ExecReport) -> Result<(), ReportProblem> {
        let open = |symbols: &[Option<SymbolState>]| {
            symbols
                .get(r.cl_ord_id.symbol().index())
                .and_then(Option::as_ref)
                .and_then(|s| s.orders.iter().find(|o| o.id == r.cl_ord_id))
                .map(|o| (o.price, o.leaves))
        };
        let before = open(&self.symbols);
        let applied = self.apply_order_report_plain(r);
        if let (Some((price, leaves)), Some(firm)) = (before, self.firm.as_mut()) {
            let after = open(&self.symbols).map_or(0, |(_, l)| l);
            firm.closed(price, leaves.saturating_sub(after));
        }
        if r.kind == ExecKind::Fill && applied.is_ok() {
            self.revalue(r.cl_ord_id.symbol());
        }
        applied
    }

    /// Publishes `symbol`'s P&L to the firm-wide board and takes the latch where the
    /// firm's loss or drawdown says (never lower: only an operator lowers it). Returns
    /// the state it took the latch to, if it did.
    #[inline]
    fn revalue(&mut self, symbol: SymbolId) -> Option<TradingState> {
        let (Some(firm), Some(Some(state))) =
            (self.firm.as_mut(), self.symbols.get(symbol.index()))
        else {
            return None;
        };
        let mark = state.marks.mark().map(|m| m.price);
        // Unknown (a position without a mark, or money beyond i128) keeps the last value.
        let value = state.position.value(mark)?;
        let (control, to) = firm.revalue(symbol.index(), value)?;
        self.firm_loss(control, to);
        Some(to)
    }

    #[cold]
    fn firm_loss(&mut self, control: LossControl, to: TradingState) {
        if self.latch.escalate(to) < to {
            let stats = &mut self.stats;
            let counter = match (control, to) {
                (LossControl::Loss, TradingState::Halted) => &mut stats.firm_loss_halts,
                (LossControl::Loss, _) => &mut stats.firm_loss_reduce_only,
                (LossControl::Drawdown, TradingState::Halted) => &mut stats.firm_drawdown_halts,
                (LossControl::Drawdown, _) => &mut stats.firm_drawdown_reduce_only,
            };
            *counter += 1;
        }
    }

    fn apply_order_report_plain(&mut self, r: &ExecReport) -> Result<(), ReportProblem> {
        let state = self
            .symbols
            .get_mut(r.cl_ord_id.symbol().index())
            .and_then(Option::as_mut)
            .ok_or(ReportProblem::UnknownOrder)?;
        let live_before = state.orders.len();
        let applied = state.orders.apply(r)?;
        self.live_orders -= live_before - state.orders.len();
        if state.orders.len() < live_before
            && let Some(c) = self.coordinator.as_deref_mut()
        {
            c.order_closed(r.cl_ord_id);
        }
        let stats = &mut self.stats;
        match applied {
            Applied::Acked => stats.acks += 1,
            Applied::Filled { side, price, qty } => {
                state.position.fill(side, price, qty);
                state.digest.fill(r.cl_ord_id, price, qty, r.stamp.ts_event);
                if let Some(fill) = PrintFill::of(r, side, price, qty)
                    && state.print_fills.record(fill)
                {
                    stats.broken_trade_fills_forgotten += 1;
                }
                if state.controls.filled(side, r.stamp.ts_event, &state.limits) {
                    stats.repeated_execution_halts += 1;
                }
                stats.fills += 1;
                stats.filled_shares += u64::from(qty);
            }
            Applied::Cancelled { requested: true } => stats.cancels_confirmed += 1,
            Applied::Cancelled { requested: false } => stats.venue_cancels += 1,
            Applied::Rejected => stats.venue_rejects += 1,
            Applied::CancelRejected => stats.cancel_rejects += 1,
        }
        Ok(())
    }

    #[cold]
    fn invalid(&mut self, report: ExecReport, problem: ReportProblem) {
        self.latch.escalate(TradingState::Halted);
        self.halted_by_report = true;
        self.stats.invalid_reports += 1;
        if self.stats.first_invalid_report.is_none() {
            self.stats.first_invalid_report = Some(InvalidReport { report, problem });
        }
    }

    /// Step 1: every report due at `t` applied, waiting for the venue if it can still
    /// send one. A watermark request goes out ahead of need ([`VenueSync::should_request`])
    /// so the wait is rare.
    #[inline]
    fn catch_up<O: Emit<VenueCommand>>(&mut self, stamp: Stamp, out: &mut O) {
        let t = stamp.ts_event;
        self.receive(self.position);
        // An asynchronous venue vouches for no time: there is nothing to wait for.
        if R::TIMING == VenueTiming::EventTime && self.live_orders > 0 {
            loop {
                if self.sync.should_request(t) {
                    out.emit(VenueCommand::Watermark { stamp });
                    self.stats.watermarks_sent += 1;
                    self.sync.requested(t);
                }
                if self.sync.covers(t) {
                    break;
                }
                self.stats.watermark_waits += 1;
                let began = self.wait_clock.now_ns();
                self.sync.await_answer(&mut self.reports, t);
                let waited = self.wait_clock.now_ns().saturating_sub(began);
                self.stats.watermark_wait_ns.0.saturating_record(waited);
            }
        }
        while let Some(r) = self.sync.next_to_apply::<R>(t) {
            self.journal_report(&r, stamp, out);
            self.apply_report(r);
        }
        self.pull_orders_on_halt(stamp, out);
    }

    /// On the first decision that finds the latch `Halted` — set by an operator, or by
    /// risk itself on an invalid report just applied — asks the venue to cancel every
    /// open order of the shard at once, not symbol by symbol as their signals come.
    /// Routing does the same on the operator's control event; the venue ignores a
    /// cancel-all with nothing open.
    #[inline]
    fn pull_orders_on_halt<O: Emit<VenueCommand>>(&mut self, stamp: Stamp, out: &mut O) {
        // Read once per decision, here: the state journaled, the state that pulls the
        // orders and the state the decision is checked against must be one, or a change
        // landing between two reads is decided on at one position and journaled at the
        // next, and a replay diverges.
        let latch = if self.log.is_some() {
            self.journal_state(stamp, out)
        } else {
            self.latch.get()
        };
        if latch == TradingState::Halted
            && self.last_latch != TradingState::Halted
            && self.live_orders > 0
        {
            let command = VenueCommand::CancelAll { stamp };
            if self.send(&command, out) {
                self.stats.cancel_alls_sent += 1;
            }
        }
        self.last_latch = latch;
    }

    /// Journals a trading-state change this decision finds. On a restart, a change
    /// journaled at this position that came from outside the shard (an operator, another
    /// shard) is applied to the shard's latch first, so the replay decides as the first
    /// run did; once the journal is re-derived, the shard decides by the firm-wide latch
    /// again (`shard_latch`).
    ///
    /// Returns the state the decision goes by.
    fn journal_state<O: Emit<VenueCommand>>(&mut self, stamp: Stamp, out: &mut O) -> TradingState {
        let position = self.position;
        let Some(log) = self.log.as_mut() else {
            return self.latch.get();
        };
        if self.latch.is_replaying() && !log.replaying() {
            self.latch.replayed();
        }
        if let Some(state) = log.due_state(position) {
            // The state this shard found here in the first run, a resume included.
            self.latch.reset(state);
        }
        let latch = self.latch.get();
        if latch == self.last_latch || self.journal_halted {
            return latch;
        }
        let cause = if self.halted_by_report {
            StateCause::InvalidReport
        } else {
            StateCause::Observed
        };
        self.halted_by_report = false;
        if log.state(position, latch, cause) == Verdict::Refused {
            self.journal_refused(stamp, out);
        }
        latch
    }

    /// Journals a `New`, `Cancel` or `CancelAll` and emits it if it is to go to the venue;
    /// returns whether the decision stands (false: the journal refused it and trading is
    /// halted). A command the journal already holds was sent before a restart: an
    /// event-time venue (in-process, rebuilt by the replay) gets it again to rebuild its
    /// state; an asynchronous one never does.
    #[inline]
    fn send<O: Emit<VenueCommand>>(&mut self, command: &VenueCommand, out: &mut O) -> bool {
        match journal_command(&mut self.log, self.position, command) {
            Verdict::Send => out.emit(*command),
            Verdict::AlreadySent => {
                if R::TIMING == VenueTiming::EventTime {
                    out.emit(*command);
                }
            }
            Verdict::Refused => {
                self.journal_refused(command.stamp(), out);
                return false;
            }
        }
        true
    }

    /// A market-wide circuit breaker halted trading: halt the latch (this decision's
    /// catch-up then pulls the shard's orders) until an operator resumes. Every symbol
    /// gets the breach at its time; each shard counts it once.
    #[cold]
    fn circuit_breaker(&mut self, ts_event: u64) {
        self.latch.escalate(TradingState::Halted);
        if self.breaker_at != Some(ts_event) {
            self.breaker_at = Some(ts_event);
            self.stats.circuit_breaker_halts += 1;
        }
    }

    /// A broken trade (ITCH `B`): every fill of ours against the print it names is
    /// reversed, booked as the opposite fill at the fill's own price, so the position and
    /// the cash flow are exactly what they were without it and mark-to-market P&L follows
    /// (the average-cost split into realised and unrealised is taken from there on). The
    /// reversal enters the symbol's digest. True if it reversed a fill; a `B` for a print
    /// we did not fill against changes nothing and is only counted.
    #[cold]
    fn broken_trade(&mut self, view: &MarketView, ts_event: u64) -> bool {
        let state = owned(&mut self.symbols, view.symbol);
        let stats = &mut self.stats;
        let reversed = state.print_fills.take(view.match_number, |fill| {
            state
                .position
                .fill(fill.side.opposite(), fill.price, fill.qty);
            state.digest.broken(fill.id, fill.price, fill.qty, ts_event);
            stats.broken_trade_reversals += 1;
            stats.broken_trade_shares += u64::from(fill.qty);
        });
        if reversed == 0 {
            stats.broken_trades_not_ours += 1;
        }
        reversed > 0
    }

    /// Whether `command` concerns this shard: a re-enable of a symbol it does not own is
    /// another shard's (every shard's control ring gets every command).
    fn concerns(&self, command: Operator) -> bool {
        match command {
            Operator::Reenable { symbol } => {
                matches!(self.symbols.get(symbol.index()), Some(Some(_)))
            }
            Operator::ResumeAll => true,
        }
    }

    /// Lifts what `command` names. Resuming resets the firm-wide latch to `Active`: the
    /// next decision journals the change like any other it finds.
    #[cold]
    fn apply_operator(&mut self, command: Operator) {
        match command {
            Operator::Reenable { symbol } => {
                if let Some(Some(state)) = self.symbols.get_mut(symbol.index()) {
                    state.controls.reenable();
                }
            }
            Operator::ResumeAll => {
                for state in self.symbols.iter_mut().flatten() {
                    state.controls.reenable();
                }
                self.latch.reset(TradingState::Active);
            }
        }
        self.stats.operator_commands += 1;
    }

    /// On a restart, the operator commands the journal holds after the decision at
    /// `position`, applied where the first run applied them.
    #[inline]
    fn replay_operators(&mut self, position: u64) {
        while let Some(command) = self.log.as_mut().and_then(|log| log.due_operator(position)) {
            self.apply_operator(command);
        }
    }

    /// Steps 2 to 4 for the signal's symbol.
    #[inline]
    fn decide<O: Emit<VenueCommand>>(&mut self, signal: &Signal, stamp: Stamp, out: &mut O) {
        // The view goes to the venue and the marks at risk's clock, never at its own
        // stamp: the venue must not see time go back (see `advance_clock`).
        let mut view = signal.view;
        view.stamp = stamp;
        let now = stamp.ts_event;
        let policy = self.policy;
        let state = owned(&mut self.symbols, view.symbol);
        state.marks.observe(&view);
        state.controls.observe(&view);
        // The state this decision's catch-up read, raised by a loss this mark reveals.
        let mut latch = self.last_latch;
        if self.firm.is_some()
            && let Some(to) = self.revalue(view.symbol)
        {
            latch = latch.max(to);
        }
        let (target, latch) = coordinated::adjust(
            self.coordinator.as_deref(),
            view.symbol,
            signal.target,
            latch,
        );
        let state = owned(&mut self.symbols, view.symbol);
        if !state.orders.is_empty() {
            out.emit(VenueCommand::Tick { view });
        }
        let holdings = Holdings {
            position: state.position.qty(),
            open_buy: state.orders.open_buy(),
            open_sell: state.orders.open_sell(),
        };
        if let Some(firm) = self.firm.as_mut() {
            firm.remark(view.symbol.index(), holdings.worst_case(0, 0));
        }
        // A symbol latched by repeated executions has its orders pulled as under a halt.
        let symbol_latch = if state.controls.halted {
            TradingState::Halted
        } else {
            latch
        };
        let desired = policy.desired(symbol_latch, target, &holdings);
        let mut refused = None;
        for order in state.orders.iter_mut() {
            // A scheduled slice keeps its own price: only a halt or its TTL pulls it.
            let cancel = if self
                .coordinator
                .as_ref()
                .is_some_and(|c| c.is_slice(order.id))
            {
                policy.should_cancel_slice(order, now, symbol_latch, &holdings)
            } else {
                policy.should_cancel(order, desired, &view, now, symbol_latch, &holdings)
            };
            if !order.pending_cancel && cancel {
                let command = VenueCommand::Cancel {
                    stamp,
                    cl_ord_id: order.id,
                };
                match journal_command(&mut self.log, self.position, &command) {
                    Verdict::Send => out.emit(command),
                    Verdict::AlreadySent => {
                        if R::TIMING == VenueTiming::EventTime {
                            out.emit(command);
                        }
                    }
                    Verdict::Refused => {
                        refused = Some(command);
                        break;
                    }
                }
                order.pending_cancel = true;
                if let Some(bucket) = state.pacing.as_mut() {
                    bucket.spend(now);
                }
                state.digest.cancel(order.id, now);
                self.stats.cancels_sent += 1;
                let sent = state.controls.sent(now);
                message_ceiling(&mut self.latch, &mut self.stats, sent, &state.limits);
                if let Some(firm) = self.firm.as_mut()
                    && firm.cancel_sent(now)
                {
                    self.latch.escalate(TradingState::Halted);
                    self.stats.firm_message_rate_halts += 1;
                }
            }
        }
        if let Some(command) = refused {
            self.journal_refused(command.stamp(), out);
            return;
        }
        if !state.orders.is_empty() {
            return;
        }
        // A due slice of a scheduled order goes first, through the same checks.
        let slice = self
            .coordinator
            .as_deref()
            .and_then(|c| c.due_slice(view.symbol, &view));
        let proposal = if let Some(slice) = slice {
            Proposal {
                side: slice.side,
                price: slice.price,
                qty: slice.qty,
            }
        } else {
            if desired == 0 {
                return;
            }
            let side = if desired > 0 { Side::Buy } else { Side::Sell };
            let Some(price) = policy.price(&view, side) else {
                self.stats.no_touch += 1;
                return;
            };
            Proposal {
                side,
                price,
                // Beyond u32 shares MAX_ORDER_QTY refuses anyway; saturate rather than wrap.
                qty: u32::try_from(desired.unsigned_abs()).unwrap_or(u32::MAX),
            }
        };
        let (side, price) = (proposal.side, proposal.price);
        let snapshot = Snapshot {
            latch,
            status: view.status,
            mark: state.marks.mark(),
            now,
            position: holdings.position,
            open_buy: holdings.open_buy,
            open_sell: holdings.open_sell,
            live_orders: state.orders.len(),
            limits: &state.limits,
            restricted: state.controls.restricted,
            symbol_halted: state.controls.halted,
            quote_ts: state.controls.quote_ts,
            own_bid: state.orders.own_best(Side::Buy),
            own_ask: state.orders.own_best(Side::Sell),
            last_order: state.controls.last_order,
            messages: state.controls.messages_at(now),
            short_sale_restricted: state.controls.short_sale_restricted,
            best_bid: (view.bid_qty > 0).then_some(view.bid_px),
        };
        if let Err(breach) = checks::check(&proposal, &snapshot) {
            self.stats.record_rejection(Rejection {
                symbol: state.name,
                ts_event: now,
                breach,
            });
            self.slice_refused(slice, view.symbol, breach.code, stamp, out);
            return;
        }
        // After the checks, so a halt or a limit is reported as itself, not as the link.
        if self.venue_down {
            self.stats.record_rejection(Rejection {
                symbol: state.name,
                ts_event: now,
                breach: Breach {
                    code: RejectCode::VenueDown,
                    value: 0,
                    limit: 0,
                },
            });
            self.slice_refused(slice, view.symbol, RejectCode::VenueDown, stamp, out);
            return;
        }
        // Before the firm-wide pool: a token is local to the symbol, a commitment is
        // shared, so a refusal here leaves the other shards' headroom untouched.
        if let Some(bucket) = state.pacing.as_mut()
            && !bucket.admit(now)
        {
            self.stats.record_rejection(Rejection {
                symbol: state.name,
                ts_event: now,
                breach: Breach {
                    code: RejectCode::Throttled,
                    value: bucket.messages(),
                    limit: i64::from(R::PACING.unwrap_or(0)),
                },
            });
            self.slice_refused(slice, view.symbol, RejectCode::Throttled, stamp, out);
            return;
        }
        if let Some(firm) = self.firm.as_mut() {
            let (buy, sell) = match side {
                Side::Buy => (proposal.qty, 0),
                Side::Sell => (0, proposal.qty),
            };
            let shares = holdings.worst_case(buy, sell);
            let admitted = firm.admit(view.symbol.index(), price, proposal.qty, shares, now);
            if let Err(breach) = admitted {
                self.stats.record_rejection(Rejection {
                    symbol: state.name,
                    ts_event: now,
                    breach,
                });
                self.slice_refused(slice, view.symbol, breach.code, stamp, out);
                return;
            }
        }
        let intent = OrderIntent {
            cl_ord_id: state.orders.next_id(),
            price,
            qty: proposal.qty,
            symbol: view.symbol,
            side,
            tif: policy.tif,
        };
        let command = VenueCommand::New {
            stamp,
            order: intent,
        };
        // Journaled before the venue can see it; a refused order is never opened.
        let verdict = journal_command(&mut self.log, self.position, &command);
        if verdict == Verdict::Refused {
            if let Some(firm) = self.firm.as_mut() {
                firm.closed(price, proposal.qty);
            }
            self.journal_refused(stamp, out);
            return;
        }
        let order = state
            .orders
            .open(side, price, proposal.qty, policy.tif, now);
        debug_assert_eq!(order.id, intent.cl_ord_id);
        if verdict == Verdict::Send || R::TIMING == VenueTiming::EventTime {
            // No order is live, so the venue has had no view of this symbol since its
            // last one ended: send the book it is to match against first.
            out.emit(VenueCommand::Tick { view });
            out.emit(command);
        }
        state.digest.new_order(&intent, now);
        state.controls.last_order = Some(SentOrder {
            side,
            price,
            qty: proposal.qty,
            ts_event: now,
        });
        let sent = state.controls.sent(now);
        message_ceiling(&mut self.latch, &mut self.stats, sent, &state.limits);
        self.live_orders += 1;
        self.stats.orders_sent += 1;
        if let Some(slice) = slice {
            let fate = SliceFate::Sent(intent.cl_ord_id);
            self.settle_slice(&slice, view.symbol, fate, stamp, out);
        }
    }

    /// The event time to decide at: the signal's, unless that would run backwards. The
    /// source already makes event time non-decreasing (`source::event_clock`), so a
    /// regression here is a bug upstream: counted and reported, 0 in every correct run.
    #[inline]
    fn advance_clock(&mut self, ts_event: u64) -> u64 {
        if ts_event < self.clock {
            self.stats.time_regressions += 1;
        } else {
            self.clock = ts_event;
        }
        self.clock
    }

    fn symbol_stats(state: &SymbolState) -> SymbolStats {
        let mark = state.marks.mark().map(|m| m.price);
        SymbolStats {
            symbol: state.name,
            position: state.position.qty(),
            mark,
            money: state.position.valuation(mark),
            digest: state.digest.value(),
        }
    }
}

/// A symbol's `sent`-th message this second: reaching `halt_messages_per_sec` halts the
/// latch (once per window: the count passes the ceiling once). The halt then pulls the
/// shard's orders like any other ([`Risk::pull_orders_on_halt`]).
#[inline]
fn message_ceiling(latch: &mut ShardLatch, stats: &mut RiskStats, sent: u32, limits: &Limits) {
    if sent == limits.halt_messages_per_sec {
        latch.escalate(TradingState::Halted);
        stats.message_rate_halts += 1;
    }
}

/// `command` through the journal, if there is one: a predictable branch without.
#[inline]
fn journal_command(
    log: &mut Option<Box<dyn DecisionLog>>,
    position: u64,
    command: &VenueCommand,
) -> Verdict {
    match log {
        None => Verdict::Send,
        Some(log) => log.command(position, command),
    }
}

/// The state of an owned symbol.
///
/// # Panics
/// If this shard does not own `symbol`: the shard map and the stages feeding risk
/// disagree, and no decision for it could be right.
#[inline]
fn owned(symbols: &mut [Option<SymbolState>], symbol: SymbolId) -> &mut SymbolState {
    match symbols.get_mut(symbol.index()) {
        Some(Some(state)) => state,
        _ => not_owned(symbol),
    }
}

#[cold]
fn not_owned(symbol: SymbolId) -> ! {
    panic!(
        "risk: signal for symbol {}, which this shard does not own",
        symbol.0
    )
}

impl<R: ReportSource> Stage for Risk<R> {
    type In = Signal;
    type Out = VenueCommand;
    const NAME: &'static str = "risk";

    #[inline]
    fn on_event<O: Emit<VenueCommand>>(&mut self, signal: Signal, out: &mut O) {
        // Before any wait: a misrouted signal is a wiring bug, reported as such.
        owned(&mut self.symbols, signal.view.symbol);
        if self.log.is_some() {
            self.replay_operators(self.position);
            self.replay_directives(self.position);
        }
        self.position += 1;
        let stamp = Stamp {
            ts_recv: signal.view.stamp.ts_recv,
            ts_event: self.advance_clock(signal.view.stamp.ts_event),
        };
        self.last_ts_recv = stamp.ts_recv;
        if signal.view.cause == ViewCause::CircuitBreaker {
            self.circuit_breaker(stamp.ts_event);
        }
        self.catch_up(stamp, out);
        // After the catch-up, so every fill reported by now is in the table. A `B` that
        // reversed nothing is no decision: no tick and no order.
        if signal.view.cause == ViewCause::BrokenTrade
            && !self.broken_trade(&signal.view, stamp.ts_event)
        {
            return;
        }
        if self.coordinator.is_some() {
            self.coordinate(&signal.view, stamp, out);
        }
        self.decide(&signal, stamp, out);
    }

    /// Ends the venue session: every report the venue still owes is applied (fills
    /// included), so the positions reported are final.
    fn on_end<O: Emit<VenueCommand>>(&mut self, out: &mut O) {
        self.replay_operators(self.position);
        self.replay_directives(self.position);
        let stamp = Stamp {
            ts_recv: self.last_ts_recv,
            ts_event: self.clock,
        };
        out.emit(VenueCommand::EndOfSession { stamp });
        self.session = Session::Ending;
        let end = self.end_position();
        loop {
            self.receive(end);
            if self.log.as_ref().is_some_and(|log| log.replaying())
                && R::TIMING == VenueTiming::Asynchronous
            {
                // Journaled reports of the end of session are re-applied above; past
                // them the venue's own answer is read.
                self.sync.receive(&mut self.reports);
            }
            while let Some(r) = self.sync.next_any() {
                self.journal_report(&r, stamp, out);
                self.apply_report(r);
            }
            if self.session == Session::Over {
                break;
            }
            if self.reports.is_finished() {
                venue_sync::venue_gone("its end of session", stamp.ts_event);
            }
            self.reports.idle();
        }
        self.stats.orders_open_at_end = self.live_orders as u64;
        let digest = digest::combine(
            self.symbols
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.as_ref().map(|s| (SymbolId(i as u16), s.digest.value()))),
        );
        if let Some(log) = self.log.as_mut() {
            // A refusal here (a divergence, a failed write) leaves the session unfinished
            // in the journal; the log has stopped the run with the reason.
            log.end(end, digest);
        }
        self.latch.replayed();
    }

    /// An operator's command (journaled first, at the position of the last decision), or
    /// a status request, answered with the shard's report so far. A trading-state change
    /// needs nothing here: every decision reads the latch, and the first one after a
    /// change journals it and pulls the shard's orders (`pull_orders_on_halt`).
    fn on_control<O: Emit<VenueCommand>>(&mut self, control: Control, out: &mut O) {
        match control {
            Control::TradingState(_) => {}
            Control::Status(request) => {
                if let Some((board, shard)) = &self.status {
                    let mut snapshot = ShardReport::default();
                    self.report(&mut snapshot);
                    board.post(*shard, request, snapshot);
                }
            }
            Control::Coordinator(directive) => self.direct(directive, out),
            Control::Operator(command) => {
                if !self.concerns(command) {
                    return;
                }
                if let Some(log) = self.log.as_mut()
                    && log.operator(self.position, command) == Verdict::Refused
                {
                    let stamp = Stamp {
                        ts_recv: self.last_ts_recv,
                        ts_event: self.clock,
                    };
                    // Not applied: a restart would not find it, and trading is halted.
                    self.journal_refused(stamp, out);
                    return;
                }
                self.apply_operator(command);
            }
        }
    }

    fn report(&self, report: &mut ShardReport) {
        let mut stats = self.stats.clone();
        stats.symbols = self
            .symbols
            .iter()
            .map(|s| s.as_ref().map(Self::symbol_stats))
            .collect();
        if let Some(log) = &self.log {
            stats.journal = vec![log.summary()];
        }
        stats.coordinator = self.coordinator.as_deref().map(Coordinator::stats);
        report.risk.merge(&stats);
    }

    fn publish(&self, report: &mut ShardReport) {
        // `self.stats` keeps no symbol rows (`report` adds them), so cloning it allocates
        // nothing; the rows are written into the report's own, shaped by `report`.
        let mut rows = std::mem::take(&mut report.risk.symbols);
        for (row, state) in rows.iter_mut().zip(&self.symbols) {
            *row = state.as_ref().map(Self::symbol_stats);
        }
        // The journal's and the coordinator's rows, shaped by `report` too, are
        // overwritten in place.
        let mut journal = std::mem::take(&mut report.risk.journal);
        if let (Some(log), Some(row)) = (&self.log, journal.first_mut()) {
            log.publish(row);
        }
        let mut coordinator = report.risk.coordinator.take();
        report.risk.clone_from(&self.stats);
        report.risk.symbols = rows;
        report.risk.journal = journal;
        if let (Some(c), Some(into)) = (self.coordinator.as_deref(), coordinator.as_mut()) {
            c.publish(into);
        }
        report.risk.coordinator = coordinator;
    }
}
