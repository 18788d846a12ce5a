//! The decision journal's seam: what risk journals, and how a restart re-derives and
//! checks it.
//!
//! Recovery is a replay of the deterministic stages, not a second code path. The journal
//! holds what the market-data input cannot reproduce — execution reports from an
//! asynchronous venue, trading-state changes — and what was *sent*: every `New`,
//! `Cancel` and `CancelAll`, written before it can reach the venue. A restart runs the
//! same stages over the same input from the start; each record it re-derives is checked
//! against the next journaled one ([`Journal`]). Past the journal's end it appends.
//!
//! **Input position.** Every record carries the position at which risk made it: the
//! number of signals risk has taken, counting the one being decided (the first signal is
//! position 1); records made after the input ended (the end of session) carry the last
//! position plus one. Signals are what risk decides on, and which ones reach a shard's
//! risk depends only on the input, the config and the shard map, so a replay reaches
//! every position again at the same decision. Reports from an asynchronous venue are
//! re-applied, on recovery, at the position where the shard applied them.
//!
//! Risk holds an `Option<Box<dyn DecisionLog>>`: with no journal the cost is one
//! predictable branch per command (a command for every 65 messages on the sample), and
//! a counter per signal.

use std::fmt;

use crate::msg::{ClOrdId, ExecReport, InFlightOrder, Stamp, SymbolId, VenueCommand, VenueTiming};
use crate::stages::Operator;
use crate::stages::coordinator::{self, Directive};
use crate::sys::TradingState;

/// One journaled decision or fact, at its input position.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Record {
    /// A `New`, `Cancel` or `CancelAll` intent, journaled before it is sent.
    Command {
        position: u64,
        command: VenueCommand,
    },
    /// A report from an asynchronous venue, journaled where risk applied it.
    Report { position: u64, report: ExecReport },
    /// The trading state risk found changed at a decision, and why.
    State {
        position: u64,
        state: TradingState,
        cause: StateCause,
    },
    /// An operator's command risk applied after the decision at `position` (before the
    /// next): not derivable from the input, so a restart applies the journaled one there.
    Operator { position: u64, command: Operator },
    /// A state change of the shard's coordinator (`stages::coordinator`) after the
    /// decision at `position`: re-derived on a restart, or, for an operator's directive,
    /// re-applied there.
    Coordinator {
        position: u64,
        event: coordinator::Event,
    },
    /// The shard finished its session; `digest` is its decision digest.
    End { position: u64, digest: u64 },
}

/// Why risk found the trading state changed.
#[repr(u16)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StateCause {
    /// The firm-wide latch as this decision found it: set by the config, an operator or
    /// another shard. Recovery applies it at the same position.
    Observed = 0,
    /// This shard applied an invalid execution report and halted; recovery re-derives it.
    InvalidReport = 1,
}

impl StateCause {
    /// The code the journal stores; `None` for one this build does not know.
    pub fn from_code(code: u16) -> Option<StateCause> {
        match code {
            0 => Some(StateCause::Observed),
            1 => Some(StateCause::InvalidReport),
            _ => None,
        }
    }
}

impl Record {
    pub fn position(&self) -> u64 {
        match *self {
            Record::Command { position, .. }
            | Record::Report { position, .. }
            | Record::State { position, .. }
            | Record::Operator { position, .. }
            | Record::Coordinator { position, .. }
            | Record::End { position, .. } => position,
        }
    }

    /// The same decision: equal, except for `ts_recv`, which is the host's receive clock
    /// and differs on every run.
    pub fn same_decision(&self, other: &Record) -> bool {
        self.without_receipt() == other.without_receipt()
    }

    fn without_receipt(&self) -> Record {
        let event = |s: Stamp| Stamp {
            ts_recv: 0,
            ts_event: s.ts_event,
        };
        match *self {
            Record::Command { position, command } => Record::Command {
                position,
                command: match command {
                    VenueCommand::New { stamp, order } => VenueCommand::New {
                        stamp: event(stamp),
                        order,
                    },
                    VenueCommand::Cancel { stamp, cl_ord_id } => VenueCommand::Cancel {
                        stamp: event(stamp),
                        cl_ord_id,
                    },
                    VenueCommand::CancelAll { stamp } => VenueCommand::CancelAll {
                        stamp: event(stamp),
                    },
                    other => other,
                },
            },
            Record::Report { position, report } => Record::Report {
                position,
                report: ExecReport {
                    stamp: event(report.stamp),
                    ..report
                },
            },
            other => other,
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Record::Command { command, .. } => match command {
                VenueCommand::New { stamp, order } => write!(
                    f,
                    "new {} {:?} {} @ {} {:?} at {}",
                    order.cl_ord_id, order.side, order.qty, order.price, order.tif, stamp.ts_event
                ),
                VenueCommand::Cancel { stamp, cl_ord_id } => {
                    write!(f, "cancel {cl_ord_id} at {}", stamp.ts_event)
                }
                VenueCommand::CancelAll { stamp } => {
                    write!(f, "cancel-all at {}", stamp.ts_event)
                }
                other => write!(f, "{other:?}"),
            },
            Record::Report { report: r, .. } => write!(
                f,
                "report {:?} {} qty={} leaves={} price={} at {}",
                r.kind, r.cl_ord_id, r.qty, r.leaves, r.price, r.stamp.ts_event
            ),
            Record::State { state, cause, .. } => {
                write!(f, "state {} ({cause:?})", state.as_str())
            }
            Record::Operator { command, .. } => match command {
                Operator::Reenable { symbol } => {
                    write!(f, "operator re-enable symbol {}", symbol.0)
                }
                Operator::ResumeAll => write!(f, "operator resume-all"),
            },
            Record::Coordinator { event, .. } => write!(f, "coordinator {event}"),
            Record::End { digest, .. } => write!(f, "end of session, digest {digest:016x}"),
        }
    }
}

/// What risk does with a command it has just decided.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Journaled now: send it.
    Send,
    /// The journal already holds it: it was sent before the restart. An asynchronous
    /// venue must not get it again; an event-time venue (in-process, rebuilt by the
    /// replay) gets it to rebuild its state.
    AlreadySent,
    /// The journal cannot take it (a divergence, or a write that failed): send nothing,
    /// halt. The log has recorded why ([`JournalFault`]) and stopped the run.
    Refused,
}

/// Why a journal stopped taking records. The first one ends the run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum JournalFault {
    #[error(
        "shard {shard}: journal record {seq} holds [{journaled}] at input position {journaled_at}, \
         but the replay derived [{derived}] at input position {derived_at}; refusing to resume"
    )]
    Diverged {
        shard: usize,
        seq: u64,
        journaled: Record,
        journaled_at: u64,
        derived: Record,
        derived_at: u64,
    },
    #[error("shard {shard}: journal record {derived} could not be written: {message}")]
    Write {
        shard: usize,
        derived: Record,
        message: String,
    },
}

/// The journal as risk sees it: one per shard, on the shard's risk thread.
pub trait DecisionLog: Send {
    /// A `New`, `Cancel` or `CancelAll` risk decided at `position`, before it is sent.
    fn command(&mut self, position: u64, command: &VenueCommand) -> Verdict;
    /// A report from an asynchronous venue, applied at `position`.
    fn report(&mut self, position: u64, report: &ExecReport) -> Verdict;
    /// The trading state found changed at `position`.
    fn state(&mut self, position: u64, state: TradingState, cause: StateCause) -> Verdict;
    /// An operator's command applied after the decision at `position`.
    fn operator(&mut self, position: u64, command: Operator) -> Verdict;
    /// The next journaled operator command, if it was applied after the decision at
    /// `position`; it counts as verified.
    fn due_operator(&mut self, position: u64) -> Option<Operator>;
    /// A coordinator state change at `position`.
    fn coordinator(&mut self, position: u64, event: coordinator::Event) -> Verdict;
    /// The next journaled operator directive to the coordinator, if it was applied
    /// after the decision at `position`; it counts as verified.
    fn due_directive(&mut self, position: u64) -> Option<Directive>;
    /// The shard's session ended with `digest`.
    fn end(&mut self, position: u64, digest: u64) -> Verdict;
    /// True while journaled records remain to be re-derived.
    fn replaying(&self) -> bool;
    /// The next journaled report, if it was applied at `position`; it counts as verified.
    fn due_report(&mut self, position: u64) -> Option<ExecReport>;
    /// The next journaled state change, if it happened at `position` (not consumed: the
    /// decision re-derives it through [`DecisionLog::state`]).
    fn due_state(&self, position: u64) -> Option<TradingState>;
    /// Its row of the report.
    fn summary(&self) -> ShardJournal;
    /// Overwrites `row`, a [`DecisionLog::summary`] taken at start-up, with the counters
    /// now (records, bytes, records not yet durable), in place: a metrics publication
    /// allocates nothing. `in_flight` (fixed at start-up) and `fault` (which stops the
    /// run) are left as the summary has them.
    fn publish(&self, row: &mut ShardJournal);
    /// Orders the journal holds as sent with no final report ([`in_flight`]).
    fn in_flight(&self) -> &[InFlightOrder];
    /// The net shares the journaled fills moved, per symbol ([`filled_positions`]).
    fn positions(&self) -> &[(SymbolId, i64)];
}

/// Where a [`Journal`] appends: the store's per-shard writer, or memory in tests.
pub trait RecordSink: Send {
    /// Appends one record; on error the journal takes nothing more.
    fn append(&mut self, record: &Record) -> Result<(), String>;
    /// The first fault: stop the run, naming it. Called once.
    fn fault(&mut self, fault: &JournalFault);
    /// The replay has re-derived every journaled record; from here on, records are new.
    fn caught_up(&mut self);
    /// Bytes appended so far, framing included.
    fn bytes(&self) -> u64;
    /// Records appended but not yet on stable storage: what a power loss could take now.
    fn unsynced(&self) -> u64;
    /// Wall time from the run's start to [`RecordSink::caught_up`], for a resumed journal.
    fn replay_ns(&self) -> Option<u64>;
}

crate::stats! {
    /// One shard's journal counters.
    #[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
    pub struct JournalCounts {
        /// Records appended by this run.
        pub appended: u64,
        /// Journaled records the replay re-derived and found equal.
        pub verified: u64,
        /// Journaled commands re-derived on a restart: fed to an event-time venue to
        /// rebuild it, or withheld from an asynchronous one; never sent twice.
        pub recovered_commands: u64,
        /// Journaled reports re-applied at their positions.
        pub recovered_reports: u64,
    }
}

/// One shard's journal at the end of the run, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardJournal {
    pub shard: usize,
    pub counts: JournalCounts,
    /// Bytes this run appended, framing included (what the sink reports).
    pub bytes: u64,
    /// Records appended but not yet durable (0 at the end: the last record is synced).
    pub unsynced: u64,
    /// Wall time from the start of the run until the replay had re-derived every
    /// journaled record; `None` while it had not (or for a new journal: nothing to
    /// replay).
    pub replay_ns: Option<u64>,
    /// Orders journaled as sent with no final report when the session resumed.
    pub in_flight: Vec<ClOrdId>,
    /// The fault that stopped the journal, if one did.
    pub fault: Option<String>,
}

impl ShardJournal {
    /// Shards' rows side by side, in shard order.
    pub fn merge_rows(mine: &mut Vec<ShardJournal>, theirs: &[ShardJournal]) {
        mine.extend(theirs.iter().cloned());
        mine.sort_by_key(|row| row.shard);
    }
}

/// Checks re-derived records against the journaled ones, then appends.
pub struct Journal<S: RecordSink> {
    shard: usize,
    /// The records already in the journal, with their sequence numbers, in order.
    past: Vec<(u64, Record)>,
    next: usize,
    sink: S,
    fault: Option<JournalFault>,
    counts: JournalCounts,
    /// [`in_flight`] of `past`: for the venue to settle, and for the report.
    in_flight: Vec<InFlightOrder>,
    /// [`filled_positions`] of `past`, for the venue to reconcile against.
    positions: Vec<(SymbolId, i64)>,
}

impl<S: RecordSink> Journal<S> {
    /// Shard `shard`'s journal holding `past` (empty for a new session), for a venue
    /// that keeps `timing`.
    pub fn new(shard: usize, past: Vec<(u64, Record)>, timing: VenueTiming, sink: S) -> Journal<S> {
        let (in_flight, positions) = match timing {
            VenueTiming::Asynchronous => (in_flight(&past), filled_positions(&past)),
            // Its reports are not journaled: the replay rebuilds it, so nothing is in
            // flight across the restart.
            VenueTiming::EventTime => (Vec::new(), Vec::new()),
        };
        let mut journal = Journal {
            shard,
            in_flight,
            positions,
            past,
            next: 0,
            sink,
            fault: None,
            counts: JournalCounts::default(),
        };
        if journal.past.is_empty() {
            journal.sink.caught_up();
        }
        journal
    }

    #[cfg(test)]
    fn fault(&self) -> Option<&JournalFault> {
        self.fault.as_ref()
    }

    #[cfg(test)]
    fn sink(&self) -> &S {
        &self.sink
    }

    /// Checks `derived` against the next journaled record, or appends it past the end.
    fn take(&mut self, derived: Record) -> Verdict {
        if self.fault.is_some() {
            return Verdict::Refused;
        }
        let Some(&(seq, journaled)) = self.past.get(self.next) else {
            return match self.sink.append(&derived) {
                Ok(()) => {
                    self.counts.appended += 1;
                    Verdict::Send
                }
                Err(message) => self.refuse(JournalFault::Write {
                    shard: self.shard,
                    derived,
                    message,
                }),
            };
        };
        if !journaled.same_decision(&derived) {
            return self.refuse(JournalFault::Diverged {
                shard: self.shard,
                seq,
                journaled,
                journaled_at: journaled.position(),
                derived,
                derived_at: derived.position(),
            });
        }
        self.advance();
        Verdict::AlreadySent
    }

    fn advance(&mut self) {
        self.next += 1;
        self.counts.verified += 1;
        if self.next == self.past.len() {
            self.sink.caught_up();
        }
    }

    #[cold]
    fn refuse(&mut self, fault: JournalFault) -> Verdict {
        self.sink.fault(&fault);
        self.fault = Some(fault);
        Verdict::Refused
    }
}

impl<S: RecordSink> DecisionLog for Journal<S> {
    fn command(&mut self, position: u64, command: &VenueCommand) -> Verdict {
        let verdict = self.take(Record::Command {
            position,
            command: *command,
        });
        if verdict == Verdict::AlreadySent {
            self.counts.recovered_commands += 1;
        }
        verdict
    }

    fn report(&mut self, position: u64, report: &ExecReport) -> Verdict {
        self.take(Record::Report {
            position,
            report: *report,
        })
    }

    fn state(&mut self, position: u64, state: TradingState, cause: StateCause) -> Verdict {
        self.take(Record::State {
            position,
            state,
            cause,
        })
    }

    fn operator(&mut self, position: u64, command: Operator) -> Verdict {
        self.take(Record::Operator { position, command })
    }

    fn due_operator(&mut self, position: u64) -> Option<Operator> {
        if self.fault.is_some() {
            return None;
        }
        match self.past.get(self.next) {
            Some(&(
                _,
                Record::Operator {
                    position: at,
                    command,
                },
            )) if at == position => {
                self.advance();
                Some(command)
            }
            _ => None,
        }
    }

    fn end(&mut self, position: u64, digest: u64) -> Verdict {
        self.take(Record::End { position, digest })
    }

    fn coordinator(&mut self, position: u64, event: coordinator::Event) -> Verdict {
        self.take(Record::Coordinator { position, event })
    }

    fn due_directive(&mut self, position: u64) -> Option<Directive> {
        if self.fault.is_some() {
            return None;
        }
        match self.past.get(self.next) {
            Some(&(
                _,
                Record::Coordinator {
                    position: at,
                    event,
                },
            )) if at == position => {
                let directive = event.directive()?;
                self.advance();
                Some(directive)
            }
            _ => None,
        }
    }

    fn replaying(&self) -> bool {
        self.fault.is_none() && self.next < self.past.len()
    }

    fn due_report(&mut self, position: u64) -> Option<ExecReport> {
        if self.fault.is_some() {
            return None;
        }
        match self.past.get(self.next) {
            Some(&(
                _,
                Record::Report {
                    position: at,
                    report,
                },
            )) if at == position => {
                self.counts.recovered_reports += 1;
                self.advance();
                Some(report)
            }
            _ => None,
        }
    }

    fn due_state(&self, position: u64) -> Option<TradingState> {
        match self.past.get(self.next) {
            Some(&(
                _,
                Record::State {
                    position: at,
                    state,
                    ..
                },
            )) if at == position => Some(state),
            _ => None,
        }
    }

    fn in_flight(&self) -> &[InFlightOrder] {
        &self.in_flight
    }

    fn positions(&self) -> &[(SymbolId, i64)] {
        &self.positions
    }

    fn summary(&self) -> ShardJournal {
        ShardJournal {
            shard: self.shard,
            counts: self.counts,
            bytes: self.sink.bytes(),
            unsynced: self.sink.unsynced(),
            replay_ns: self.sink.replay_ns(),
            in_flight: self.in_flight.iter().map(|o| o.order.cl_ord_id).collect(),
            fault: self.fault.as_ref().map(ToString::to_string),
        }
    }

    fn publish(&self, row: &mut ShardJournal) {
        row.counts = self.counts;
        row.bytes = self.sink.bytes();
        row.unsynced = self.sink.unsynced();
        row.replay_ns = self.sink.replay_ns();
    }
}

/// Orders a journal holds as sent with no final report journaled: in flight when the
/// session stopped. Only an asynchronous venue's reports are journaled; an event-time
/// venue is rebuilt by the replay, so nothing of its is in flight. Each with what the
/// shard last saw of it: acknowledged or not, and the shares filled.
pub fn in_flight(past: &[(u64, Record)]) -> Vec<InFlightOrder> {
    use crate::msg::ExecKind;
    let mut open: Vec<InFlightOrder> = Vec::new();
    for (_, record) in past {
        match *record {
            Record::Command {
                command: VenueCommand::New { stamp, order },
                ..
            } => open.push(InFlightOrder {
                order,
                stamp,
                acked: false,
                filled: 0,
            }),
            Record::Report { report, .. } => {
                let done = match report.kind {
                    ExecKind::Fill => report.leaves == 0,
                    ExecKind::Cancelled | ExecKind::Rejected => true,
                    _ => false,
                };
                if done {
                    open.retain(|o| o.order.cl_ord_id != report.cl_ord_id);
                } else if let Some(o) = open
                    .iter_mut()
                    .find(|o| o.order.cl_ord_id == report.cl_ord_id)
                {
                    match report.kind {
                        ExecKind::Ack => o.acked = true,
                        ExecKind::Fill => o.filled = o.filled.saturating_add(report.qty),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    open
}

/// The net shares the journal's fills moved, per symbol that has any, in symbol order:
/// with an asynchronous venue, what the shard holds beyond the session's start.
pub fn filled_positions(past: &[(u64, Record)]) -> Vec<(SymbolId, i64)> {
    use crate::msg::{ExecKind, Side};
    let mut net: std::collections::BTreeMap<SymbolId, i64> = std::collections::BTreeMap::new();
    for (_, record) in past {
        if let Record::Report { report, .. } = record
            && report.kind == ExecKind::Fill
        {
            let shares = i64::from(report.qty);
            *net.entry(report.symbol).or_default() += match report.side {
                Side::Buy => shares,
                Side::Sell => -shares,
            };
        }
    }
    net.into_iter().collect()
}

/// The unit tests' sink: records kept in order; `fail_after` makes every append past
/// that many fail, as a full disk does. (`runtime::journal::MemoryJournal` is the one
/// integration tests run the pipeline on.)
#[cfg(test)]
#[derive(Debug, Default)]
pub struct MemorySink {
    pub records: Vec<Record>,
    pub fail_after: Option<usize>,
    pub faults: Vec<JournalFault>,
    pub caught_up: bool,
}

#[cfg(test)]
impl RecordSink for MemorySink {
    fn append(&mut self, record: &Record) -> Result<(), String> {
        if self
            .fail_after
            .is_some_and(|limit| self.records.len() >= limit)
        {
            return Err("no space left on device (simulated)".into());
        }
        self.records.push(*record);
        Ok(())
    }

    fn fault(&mut self, fault: &JournalFault) {
        self.faults.push(fault.clone());
    }

    fn caught_up(&mut self) {
        self.caught_up = true;
    }

    fn bytes(&self) -> u64 {
        (self.records.len() * std::mem::size_of::<Record>()) as u64
    }

    fn unsynced(&self) -> u64 {
        0
    }

    fn replay_ns(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{OrderIntent, Price, Side, SymbolId, TimeInForce};

    fn new_order(seq: u64, ts: u64, recv: u64) -> VenueCommand {
        VenueCommand::New {
            stamp: Stamp {
                ts_recv: recv,
                ts_event: ts,
            },
            order: OrderIntent {
                cl_ord_id: ClOrdId::new(SymbolId(0), seq),
                price: Price(1_000_000),
                qty: 100,
                symbol: SymbolId(0),
                side: Side::Buy,
                tif: TimeInForce::Day,
            },
        }
    }

    fn numbered(records: &[Record]) -> Vec<(u64, Record)> {
        (1..).zip(records.iter().copied()).collect()
    }

    #[test]
    fn a_new_journal_appends_and_sends() {
        let mut j = Journal::new(0, Vec::new(), VenueTiming::EventTime, MemorySink::default());
        assert!(j.sink().caught_up);
        assert!(!j.replaying());
        assert_eq!(j.command(1, &new_order(1, 10, 5)), Verdict::Send);
        assert_eq!(j.end(2, 7), Verdict::Send);
        assert_eq!(j.sink().records.len(), 2);
        assert_eq!(j.summary().counts.appended, 2);
    }

    #[test]
    fn a_resumed_journal_verifies_then_appends() {
        let past = numbered(&[Record::Command {
            position: 1,
            command: new_order(1, 10, 5),
        }]);
        let mut j = Journal::new(0, past, VenueTiming::EventTime, MemorySink::default());
        assert!(j.replaying());
        // The receive clock differs run to run; the decision is the same.
        assert_eq!(j.command(1, &new_order(1, 10, 999)), Verdict::AlreadySent);
        assert!(j.sink().caught_up && !j.replaying());
        assert_eq!(j.command(3, &new_order(2, 20, 6)), Verdict::Send);
        let c = j.summary().counts;
        assert_eq!((c.verified, c.recovered_commands, c.appended), (1, 1, 1));
        assert_eq!(j.sink().records.len(), 1, "only the new record is written");
    }

    #[test]
    fn the_first_divergence_names_the_record_both_values_and_the_position() {
        let past = numbered(&[
            Record::Command {
                position: 1,
                command: new_order(1, 10, 0),
            },
            Record::Command {
                position: 4,
                command: new_order(2, 20, 0),
            },
        ]);
        let mut j = Journal::new(3, past, VenueTiming::EventTime, MemorySink::default());
        assert_eq!(j.command(1, &new_order(1, 10, 0)), Verdict::AlreadySent);
        assert_eq!(j.command(4, &new_order(2, 21, 0)), Verdict::Refused);
        let text = j.fault().unwrap().to_string();
        assert!(text.contains("shard 3"), "{text}");
        assert!(text.contains("record 2"), "{text}");
        assert!(text.contains("at 20") && text.contains("at 21"), "{text}");
        assert!(text.contains("input position 4"), "{text}");
        assert_eq!(j.sink().faults.len(), 1);
        // Nothing more is taken, and nothing was appended.
        assert_eq!(j.end(5, 0), Verdict::Refused);
        assert!(j.sink().records.is_empty());
    }

    #[test]
    fn an_end_before_the_journal_ends_diverges() {
        let past = numbered(&[Record::Command {
            position: 7,
            command: new_order(1, 10, 0),
        }]);
        let mut j = Journal::new(0, past, VenueTiming::EventTime, MemorySink::default());
        assert_eq!(j.end(7, 42), Verdict::Refused);
        assert!(matches!(
            j.fault(),
            Some(JournalFault::Diverged { seq: 1, .. })
        ));
    }

    #[test]
    fn a_failed_write_refuses_and_stays_refused() {
        let sink = MemorySink {
            fail_after: Some(1),
            ..MemorySink::default()
        };
        let mut j = Journal::new(1, Vec::new(), VenueTiming::EventTime, sink);
        assert_eq!(j.command(1, &new_order(1, 10, 0)), Verdict::Send);
        assert_eq!(j.command(2, &new_order(2, 11, 0)), Verdict::Refused);
        assert!(j.fault().unwrap().to_string().contains("no space left"));
        assert_eq!(j.end(3, 0), Verdict::Refused);
        assert_eq!(j.sink().records.len(), 1);
        assert_eq!(j.sink().faults.len(), 1, "the fault is raised once");
    }

    #[test]
    fn journaled_reports_come_back_at_their_position_only() {
        let report = ExecReport::session(crate::msg::ExecKind::Ack, Stamp::default());
        let past = numbered(&[
            Record::Report {
                position: 2,
                report,
            },
            Record::State {
                position: 2,
                state: TradingState::Halted,
                cause: StateCause::Observed,
            },
        ]);
        let mut j = Journal::new(0, past, VenueTiming::EventTime, MemorySink::default());
        assert_eq!(j.due_report(1), None);
        assert_eq!(j.due_report(2), Some(report));
        assert_eq!(j.due_report(2), None);
        assert_eq!(j.due_state(2), Some(TradingState::Halted));
        assert_eq!(
            j.state(2, TradingState::Halted, StateCause::Observed),
            Verdict::AlreadySent
        );
        assert_eq!(j.summary().counts.recovered_reports, 1);
        assert_eq!(j.summary().counts.verified, 2);
    }

    #[test]
    fn an_operators_directive_comes_back_at_its_position_a_derived_event_does_not() {
        use crate::stages::coordinator::{Event, Level, LevelCause};
        let operator = Event::Level {
            level: Level::Limited,
            cause: LevelCause::Operator,
        };
        let health = Event::Level {
            level: Level::Reduced,
            cause: LevelCause::Health,
        };
        let past = numbered(&[
            Record::Coordinator {
                position: 3,
                event: health,
            },
            Record::Coordinator {
                position: 5,
                event: operator,
            },
        ]);
        let mut j = Journal::new(0, past, VenueTiming::EventTime, MemorySink::default());
        // The health task's change is re-derived, never handed back.
        assert_eq!(j.due_directive(3), None);
        assert_eq!(j.coordinator(3, health), Verdict::AlreadySent);
        assert_eq!(j.due_directive(4), None);
        assert_eq!(
            j.due_directive(5),
            Some(Directive::SetLevel(Level::Limited))
        );
        assert!(!j.replaying());
        assert_eq!(j.summary().counts.verified, 2);
        // Past the journal's end an operator's directive is appended.
        assert_eq!(j.coordinator(6, operator), Verdict::Send);
        assert_eq!(j.sink().records.len(), 1);
    }

    #[test]
    fn in_flight_is_sent_with_no_final_report() {
        let report = |kind, seq: u64, qty: u32, leaves: u32| ExecReport {
            cl_ord_id: ClOrdId::new(SymbolId(0), seq),
            qty,
            leaves,
            ..ExecReport::session(kind, Stamp::default())
        };
        let fill = |seq, qty, leaves| report(crate::msg::ExecKind::Fill, seq, qty, leaves);
        let past = numbered(&[
            Record::Command {
                position: 1,
                command: new_order(1, 10, 0),
            },
            Record::Command {
                position: 2,
                command: new_order(2, 11, 0),
            },
            Record::Command {
                position: 3,
                command: new_order(3, 12, 0),
            },
            Record::Report {
                position: 4,
                report: fill(1, 100, 0),
            },
            Record::Report {
                position: 4,
                report: fill(2, 30, 70),
            },
            Record::Report {
                position: 4,
                report: fill(2, 20, 50),
            },
            Record::Report {
                position: 5,
                report: report(crate::msg::ExecKind::Ack, 3, 0, 100),
            },
        ]);
        let found = in_flight(&past);
        let seen: Vec<(ClOrdId, bool, u32)> = found
            .iter()
            .map(|o| (o.order.cl_ord_id, o.acked, o.filled))
            .collect();
        assert_eq!(
            seen,
            [
                (ClOrdId::new(SymbolId(0), 2), false, 50),
                (ClOrdId::new(SymbolId(0), 3), true, 0)
            ]
        );
        assert_eq!(found[1].stamp.ts_event, 12);
        // Fill reports of buys: 100 shares of order 1, 30 + 20 of order 2.
        assert_eq!(filled_positions(&past), [(SymbolId(0), 150)]);
    }
}
