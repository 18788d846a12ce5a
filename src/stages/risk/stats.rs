//! What risk reports: counters, the first context of each rejection code and of invalid
//! reports, and every owned symbol's position, P&L and decision digest.
//!
//! Shards own disjoint symbols, so merging is a sum of counters plus a union of
//! per-symbol rows; "first" contexts are ordered by event time (then symbol), so the
//! merged report is the same whatever the shard count.

use std::fmt;

use super::checks::Rejection;
use super::digest;
use super::orders::ReportProblem;
use super::positions::Valuation;
use crate::merge;
use crate::msg::{ExecReport, MoneyOverflow, Price, SymbolId, SymbolName};
use crate::stages::coordinator::CoordinatorStats;
use crate::stages::journal::ShardJournal;
use crate::stages::reject::RejectCode;

/// A report risk refused, with why.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct InvalidReport {
    pub report: ExecReport,
    pub problem: ReportProblem,
}

impl InvalidReport {
    fn key(&self) -> (u64, u16) {
        (self.report.stamp.ts_event, self.report.symbol.0)
    }
}

impl fmt::Display for InvalidReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        write!(
            f,
            "{} kind={:?} id={} symbol={} qty={} leaves={} price={} ts={}",
            self.problem,
            r.kind,
            r.cl_ord_id,
            r.symbol.0,
            r.qty,
            r.leaves,
            r.price,
            r.stamp.ts_event
        )
    }
}

/// One symbol at the end of the run. Serialized, it is its row of the report's
/// `positions`, which is keyed by the symbol and carries no per-symbol digest.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SymbolStats {
    pub symbol: SymbolName,
    /// Shares; negative when short.
    pub position: i64,
    pub mark: Option<Price>,
    /// Average price and P&L at `mark`; an error when a figure is beyond what the
    /// report's 64-bit fields hold, which fails the run's report.
    pub money: Result<Valuation, MoneyOverflow>,
    /// The symbol's decision digest ([`digest`]).
    pub digest: u64,
}

impl serde::Serialize for SymbolStats {
    /// `position`, `avg_price`, `realised`, `unrealised` (`null` without a mark), `mark`,
    /// `cash_flow`; each money figure `null` when `money` is an error.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Row {
            position: i64,
            avg_price: Option<Price>,
            realised: Option<Price>,
            unrealised: Option<Price>,
            mark: Option<Price>,
            cash_flow: Option<Price>,
        }
        let money = self.money.ok();
        Row {
            position: self.position,
            avg_price: money.map(|m| m.avg_price),
            realised: money.map(|m| m.realised),
            unrealised: money.and_then(|m| m.unrealised),
            mark: self.mark,
            cash_flow: money.map(|m| m.cash_flow),
        }
        .serialize(s)
    }
}

crate::stats! {
    /// Risk's counters and state, merged across shards.
    #[derive(Debug, Default, PartialEq)]
    pub struct RiskStats {
        /// `New` commands sent.
        pub orders_sent: u64,
        pub cancels_sent: u64,
        /// Mass cancels sent because the latch became `Halted`.
        pub cancel_alls_sent: u64,
        pub acks: u64,
        pub fills: u64,
        pub filled_shares: u64,
        /// Orders the venue rejected.
        pub venue_rejects: u64,
        /// Cancels we asked for that the venue confirmed.
        pub cancels_confirmed: u64,
        /// Orders the venue cancelled on its own: IOC remainders, session end, cancel-all.
        pub venue_cancels: u64,
        /// Cancels the venue refused, mostly because they crossed the order's last fill.
        pub cancel_rejects: u64,
        /// Proposals refused by each check, indexed by [`RejectCode::index`].
        pub rejections: [u64; RejectCode::COUNT],
        /// The earliest rejection of each code, with its context.
        pub first_rejection: [Option<Rejection>; RejectCode::COUNT] =>
            merge::each(merge::earliest(|r: &Rejection| (r.ts_event, r.symbol))),
        /// Symbols latched by repeated automated executions (`REPEATED_EXECUTIONS`).
        pub repeated_execution_halts: u64,
        /// Halts of the latch by a symbol's message count reaching
        /// `halt_messages_per_sec` (`MESSAGE_RATE`).
        pub message_rate_halts: u64,
        /// Halts of the latch by the firm-wide message count reaching `[firm]
        /// halt_messages_per_sec` (`FIRM_MESSAGE_RATE`).
        pub firm_message_rate_halts: u64,
        /// Escalations of the latch by the firm-wide loss (`FIRM_LOSS`) to reduce-only and
        /// to halted, and by the drawdown from the day's peak (`FIRM_DRAWDOWN`).
        pub firm_loss_reduce_only: u64,
        pub firm_loss_halts: u64,
        pub firm_drawdown_reduce_only: u64,
        pub firm_drawdown_halts: u64,
        /// Halts of the latch by a market-wide circuit breaker (ITCH `W`), one per shard
        /// still trading when it came.
        pub circuit_breaker_halts: u64,
        /// Operator commands applied (re-enable a symbol, resume all).
        pub operator_commands: u64,
        /// Our fills reversed because the exchange broke the print they were made
        /// against (ITCH `B`; `BROKEN_TRADE`), and their shares.
        pub broken_trade_reversals: u64,
        pub broken_trade_shares: u64,
        /// Broken trades of prints none of our remembered fills was made against.
        pub broken_trades_not_ours: u64,
        /// Print fills dropped from a full table (`broken_trade_fills` per symbol): a
        /// later `B` of their print could not reverse them.
        pub broken_trade_fills_forgotten: u64,
        /// Proposals not made because the side to price from was empty.
        pub no_touch: u64,
        /// `Watermark` commands sent, each a wait for the venue.
        pub watermarks_sent: u64,
        /// Times a decision had to wait for the venue's answer (the rest arrived in time).
        pub watermark_waits: u64,
        /// How long each of those waits took (wall time, not event time).
        pub watermark_wait_ns: crate::latency::LatencyHistogram,
        /// Signals whose event time was earlier than a previous one's; decided at the later
        /// time so commands stay ordered.
        pub time_regressions: u64,
        /// Reports that were not legal transitions; each halted trading.
        pub invalid_reports: u64,
        pub first_invalid_report: Option<InvalidReport> => merge::earliest(InvalidReport::key),
        /// Live orders left after the venue's end of session (must be 0).
        pub orders_open_at_end: u64,
        /// Indexed by `SymbolId`; `None` for symbols no merged shard owns.
        pub symbols: Vec<Option<SymbolStats>> => merge::place,
        /// One row per shard that ran with a journal, in shard order; empty without one.
        pub journal: Vec<ShardJournal> => ShardJournal::merge_rows,
        /// The coordinator's counters; `None` without `[coordinator]`.
        pub coordinator: Option<CoordinatorStats> => CoordinatorStats::merge_option,
    }
}

/// By hand, not derived, for `clone_from`: a metrics publication copies the stats into
/// the snapshot every 10 ms on the shard's thread, and a derived `clone_from` would clone
/// the histogram and the rows anew (allocating) instead of copying into what the snapshot
/// holds. It destructures every field, so a new field cannot be left out.
impl Clone for RiskStats {
    fn clone(&self) -> RiskStats {
        let mut copy = RiskStats::default();
        copy.clone_from(self);
        copy
    }

    fn clone_from(&mut self, source: &RiskStats) {
        let RiskStats {
            orders_sent,
            cancels_sent,
            cancel_alls_sent,
            acks,
            fills,
            filled_shares,
            venue_rejects,
            cancels_confirmed,
            venue_cancels,
            cancel_rejects,
            rejections,
            first_rejection,
            no_touch,
            watermarks_sent,
            watermark_waits,
            watermark_wait_ns,
            time_regressions,
            invalid_reports,
            first_invalid_report,
            orders_open_at_end,
            symbols,
            repeated_execution_halts,
            message_rate_halts,
            firm_message_rate_halts,
            firm_loss_reduce_only,
            firm_loss_halts,
            firm_drawdown_reduce_only,
            firm_drawdown_halts,
            circuit_breaker_halts,
            operator_commands,
            broken_trade_reversals,
            broken_trade_shares,
            broken_trades_not_ours,
            broken_trade_fills_forgotten,
            journal,
            coordinator,
        } = source;
        self.orders_sent.clone_from(orders_sent);
        self.coordinator.clone_from(coordinator);
        self.cancels_sent.clone_from(cancels_sent);
        self.cancel_alls_sent.clone_from(cancel_alls_sent);
        self.acks.clone_from(acks);
        self.fills.clone_from(fills);
        self.filled_shares.clone_from(filled_shares);
        self.venue_rejects.clone_from(venue_rejects);
        self.cancels_confirmed.clone_from(cancels_confirmed);
        self.venue_cancels.clone_from(venue_cancels);
        self.cancel_rejects.clone_from(cancel_rejects);
        self.rejections.clone_from(rejections);
        self.first_rejection.clone_from(first_rejection);
        self.no_touch.clone_from(no_touch);
        self.watermarks_sent.clone_from(watermarks_sent);
        self.watermark_waits.clone_from(watermark_waits);
        self.watermark_wait_ns.clone_from(watermark_wait_ns);
        self.time_regressions.clone_from(time_regressions);
        self.invalid_reports.clone_from(invalid_reports);
        self.first_invalid_report.clone_from(first_invalid_report);
        self.orders_open_at_end.clone_from(orders_open_at_end);
        self.symbols.clone_from(symbols);
        self.repeated_execution_halts
            .clone_from(repeated_execution_halts);
        self.message_rate_halts.clone_from(message_rate_halts);
        self.firm_message_rate_halts
            .clone_from(firm_message_rate_halts);
        self.firm_loss_reduce_only.clone_from(firm_loss_reduce_only);
        self.firm_loss_halts.clone_from(firm_loss_halts);
        self.firm_drawdown_reduce_only
            .clone_from(firm_drawdown_reduce_only);
        self.firm_drawdown_halts.clone_from(firm_drawdown_halts);
        self.circuit_breaker_halts.clone_from(circuit_breaker_halts);
        self.operator_commands.clone_from(operator_commands);
        self.broken_trade_reversals
            .clone_from(broken_trade_reversals);
        self.broken_trade_shares.clone_from(broken_trade_shares);
        self.broken_trades_not_ours
            .clone_from(broken_trades_not_ours);
        self.broken_trade_fills_forgotten
            .clone_from(broken_trade_fills_forgotten);
        self.journal.clone_from(journal);
    }
}

impl RiskStats {
    /// Proposals refused by `code`.
    pub fn rejected(&self, code: RejectCode) -> u64 {
        self.rejections[code.index()]
    }

    /// Counts a refused proposal; keeps the first context of its code.
    #[inline]
    pub fn record_rejection(&mut self, r: Rejection) {
        let i = r.breach.code.index();
        self.rejections[i] += 1;
        if self.first_rejection[i].is_none() {
            self.first_rejection[i] = Some(r);
        }
    }

    /// One digest for the run: every owned symbol's digest, in `SymbolId` order.
    pub fn digest(&self) -> u64 {
        digest::combine(
            self.symbols
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|s| (SymbolId(i as u16), s.digest))),
        )
    }

    /// Net liquidation value: `starting_cash + Σ (cash flow + position × mark)`. `None`
    /// when a symbol holds a position but has no mark: an unknown value is not zero. Summed
    /// exactly in `i128`; a total `Price` cannot hold, or a symbol's money beyond it, is an
    /// error, never a wrapped value.
    pub fn nlv(&self, starting_cash: Price) -> Result<Option<Price>, MoneyOverflow> {
        let mut terms = vec![i128::from(starting_cash.0)];
        let mut unmarked = false;
        for s in self.symbols.iter().flatten() {
            terms.push(i128::from(s.money?.cash_flow.0));
            match (s.position, s.mark) {
                (0, _) => {}
                (position, Some(mark)) => terms.push(mark.times(position)),
                (_, None) => unmarked = true,
            }
        }
        if unmarked {
            return Ok(None);
        }
        Price::total(terms).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::Merge;
    use crate::stages::risk::checks::Breach;

    fn row(
        name: &str,
        position: i64,
        mark: Option<Price>,
        cash_flow: Price,
        digest: u64,
    ) -> SymbolStats {
        SymbolStats {
            symbol: SymbolName::new(name).unwrap(),
            position,
            mark,
            money: Ok(Valuation {
                avg_price: Price::ZERO,
                realised: Price::ZERO,
                unrealised: None,
                cash_flow,
            }),
            digest,
        }
    }

    fn rejection(ts_event: u64, name: &str) -> Rejection {
        Rejection {
            symbol: SymbolName::new(name).unwrap(),
            ts_event,
            breach: Breach {
                code: RejectCode::NoMark,
                value: 0,
                limit: 0,
            },
        }
    }

    #[test]
    fn merging_shards_equals_one_shard() {
        let mut a = RiskStats {
            orders_sent: 2,
            symbols: vec![
                Some(row("A", 10, Some(Price(20_000)), Price(-150_000), 11)),
                None,
            ],
            ..RiskStats::default()
        };
        a.rejections[RejectCode::NoMark.index()] = 1;
        a.first_rejection[RejectCode::NoMark.index()] = Some(rejection(9, "A"));
        let mut b = RiskStats {
            orders_sent: 3,
            symbols: vec![None, Some(row("B", 0, None, Price(5_000), 22))],
            ..RiskStats::default()
        };
        b.rejections[RejectCode::NoMark.index()] = 2;
        b.first_rejection[RejectCode::NoMark.index()] = Some(rejection(4, "B"));

        let mut ab = RiskStats::default();
        ab.merge(&a);
        ab.merge(&b);
        let mut ba = RiskStats::default();
        ba.merge(&b);
        ba.merge(&a);
        assert_eq!(ab, ba);
        assert_eq!(ab.orders_sent, 5);
        assert_eq!(ab.rejected(RejectCode::NoMark), 3);
        assert_eq!(
            ab.first_rejection[RejectCode::NoMark.index()]
                .unwrap()
                .ts_event,
            4
        );
        assert_eq!(
            ab.digest(),
            digest::combine([(SymbolId(0), 11), (SymbolId(1), 22)])
        );
        // 1 000 + (−15 + 10 × 2) + 0.5
        assert_eq!(ab.nlv(Price(10_000_000)), Ok(Some(Price(10_055_000))));
    }

    #[test]
    fn an_nlv_beyond_what_a_price_holds_is_an_error_not_a_wrap() {
        let big = |name| {
            row(
                name,
                100_000_000,
                Some(Price(4_294_967_295)),
                Price::ZERO,
                0,
            )
        };
        let s = RiskStats {
            // Each 4.3e17 units; 22 of them pass i64::MAX (9.2e18).
            symbols: (0..22).map(|i| Some(big(["A", "B"][i % 2]))).collect(),
            ..RiskStats::default()
        };
        assert_eq!(s.nlv(Price::ZERO), Err(MoneyOverflow));
        let s = RiskStats {
            symbols: vec![Some(big("A"))],
            ..RiskStats::default()
        };
        assert_eq!(
            s.nlv(Price(i64::MAX - 429_496_729_500_000_000)),
            Ok(Some(Price(i64::MAX)))
        );
    }

    #[test]
    fn a_symbol_whose_money_the_report_cannot_hold_makes_nlv_an_error() {
        let mut lost = row("A", 0, Some(Price(1)), Price::ZERO, 0);
        lost.money = Err(MoneyOverflow);
        let s = RiskStats {
            symbols: vec![Some(lost)],
            ..RiskStats::default()
        };
        assert_eq!(s.nlv(Price::ZERO), Err(MoneyOverflow));
        let row = serde_json::to_value(lost).unwrap();
        assert_eq!(
            row,
            serde_json::json!({
                "position": 0, "avg_price": null, "realised": null, "unrealised": null,
                "mark": "0.0001", "cash_flow": null,
            })
        );
    }

    #[test]
    fn nlv_is_unknown_without_a_mark_for_a_position() {
        let s = RiskStats {
            symbols: vec![Some(row("A", 5, None, Price::ZERO, 0))],
            ..RiskStats::default()
        };
        assert_eq!(s.nlv(Price::ZERO), Ok(None));
    }
}
