//! Risk's side of the coordinator (`stages::coordinator`): stepping it at each decision
//! in event time, giving it the figures only risk holds (P&L, flatness), journaling its
//! state changes, and applying an operator's directives. Without a coordinator none of
//! this runs: one predictable branch per signal.

use super::{Risk, SymbolState};
use crate::msg::{MarketView, Price, Stamp, SymbolId, VenueCommand};
use crate::stages::ReportSource;
use crate::stages::coordinator::{Coordinator, Directive, DueSlice, Event, LevelCause, SliceFate};
use crate::stages::journal::Verdict;
use crate::stages::reject::RejectCode;
use crate::sys::TradingState;
use crate::sys::edge::Emit;

/// The target and latch a decision on `symbol` works with under `coordinator`.
#[inline]
pub(super) fn adjust(
    coordinator: Option<&Coordinator>,
    symbol: SymbolId,
    target: i32,
    latch: TradingState,
) -> (i32, TradingState) {
    match coordinator {
        None => (target, latch),
        Some(c) if c.reduce_only() => (
            c.target(symbol, target),
            latch.max(TradingState::ReduceOnly),
        ),
        Some(c) => (c.target(symbol, target), latch),
    }
}

impl<R: ReportSource> Risk<R> {
    /// Steps the coordinator to this decision's time and does the tasks' work that
    /// needs risk's state.
    #[cold]
    pub(super) fn coordinate<O: Emit<VenueCommand>>(
        &mut self,
        view: &MarketView,
        stamp: Stamp,
        out: &mut O,
    ) {
        let Some(c) = self.coordinator.as_deref_mut() else {
            return;
        };
        if let Some(change) = c.step(view, stamp.ts_event) {
            self.journal_event(change, stamp, out);
        }
        let Some(c) = self.coordinator.as_deref_mut() else {
            return;
        };
        if c.wants_flat()
            && self.live_orders == 0
            && self.symbols.iter().flatten().all(|s| s.position.qty() == 0)
        {
            c.flat();
        }
        if c.wants_snapshot()
            && let Some((realised, unrealised)) = pnl(&self.symbols)
        {
            let event = c.snapshot(realised, unrealised);
            self.journal_event(event, stamp, out);
        }
    }

    /// Journals a coordinator event after the latest decision; a refusal halts.
    pub(super) fn journal_event<O: Emit<VenueCommand>>(
        &mut self,
        event: Event,
        stamp: Stamp,
        out: &mut O,
    ) {
        if let Some(log) = self.log.as_mut()
            && log.coordinator(self.position, event) == Verdict::Refused
        {
            self.journal_refused(stamp, out);
        }
    }

    /// Records a slice's fate and journals it.
    pub(super) fn settle_slice<O: Emit<VenueCommand>>(
        &mut self,
        slice: &DueSlice,
        symbol: SymbolId,
        fate: SliceFate,
        stamp: Stamp,
        out: &mut O,
    ) {
        if let Some(c) = self.coordinator.as_deref_mut() {
            let event = c.settle(slice, symbol, fate);
            self.journal_event(event, stamp, out);
        }
    }

    /// A slice the checks refused.
    pub(super) fn slice_refused<O: Emit<VenueCommand>>(
        &mut self,
        slice: Option<DueSlice>,
        symbol: SymbolId,
        code: RejectCode,
        stamp: Stamp,
        out: &mut O,
    ) {
        if let Some(slice) = slice {
            self.settle_slice(&slice, symbol, SliceFate::Refused(code), stamp, out);
        }
    }

    /// An operator's directive: journaled first, then applied. A refused write applies
    /// nothing (a restart would not find it) and halts.
    #[cold]
    pub(super) fn direct<O: Emit<VenueCommand>>(&mut self, directive: Directive, out: &mut O) {
        let Some(c) = self.coordinator.as_deref() else {
            return;
        };
        if !c.concerns(directive) {
            return;
        }
        let event = match directive {
            Directive::SetLevel(level) => Event::Level {
                level,
                cause: LevelCause::Operator,
            },
            Directive::AddSchedule(parent) => Event::Schedule { parent },
        };
        if let Some(log) = self.log.as_mut()
            && log.coordinator(self.position, event) == Verdict::Refused
        {
            let stamp = Stamp {
                ts_recv: self.last_ts_recv,
                ts_event: self.clock,
            };
            self.journal_refused(stamp, out);
            return;
        }
        if let Some(c) = self.coordinator.as_deref_mut() {
            c.apply(directive);
        }
    }

    /// On a restart, the directives the journal holds after the decision at
    /// `position`, applied where the first run applied them. Operator commands
    /// journaled between them are applied in their turn: the journal's order is the
    /// order they came in.
    #[inline]
    pub(super) fn replay_directives(&mut self, position: u64) {
        loop {
            if let Some(d) = self
                .log
                .as_mut()
                .and_then(|log| log.due_directive(position))
            {
                if let Some(c) = self.coordinator.as_deref_mut() {
                    c.apply(d);
                }
            } else if let Some(command) =
                self.log.as_mut().and_then(|log| log.due_operator(position))
            {
                self.apply_operator(command);
            } else {
                break;
            }
        }
    }
}

/// The shard's realised and unrealised P&L, once every owned symbol has a mark; `None`
/// before, or beyond what a price holds.
fn pnl(symbols: &[Option<SymbolState>]) -> Option<(Price, Price)> {
    let (mut realised, mut unrealised) = (0i64, 0i64);
    for s in symbols.iter().flatten() {
        let v = s.position.valuation(Some(s.marks.mark()?.price)).ok()?;
        realised = realised.checked_add(v.realised.0)?;
        unrealised = unrealised.checked_add(v.unrealised?.0)?;
    }
    Some((Price(realised), Price(unrealised)))
}
