//! Reconciliation: what IB says (open orders, executions since the session start,
//! positions) against what we think, after a reconnect and at start-up before the first
//! order (issue #11, item 6).
//!
//! - Executions go through the order state machine, which applies each `execId` once: a
//!   fill missed while the link was down is reported now, one already reported is not.
//! - Our live orders IB shows neither open nor finished are `unknown`: they may still be
//!   in transit, so the venue keeps them in flight until a deadline, looks again, and
//!   then resolves those still missing as never having reached IB.
//! - An open order on one of our contracts that we did not send, or one we cannot parse
//!   as ours, means someone else is trading the account: trading halts.
//! - A position that differs from ours (the start plus every fill reported) halts, and
//!   the finding names the symbol and both quantities.

use std::collections::HashSet;

use super::events::{ConId, IbOpenOrder, IbSnapshot};
use super::orders::{Book, ExecOutcome};
use crate::msg::{ClOrdId, ExecReport, SymbolId, SymbolName};

/// A symbol this venue trades and its IB contract.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Contract {
    pub symbol: SymbolId,
    pub name: SymbolName,
    pub con_id: ConId,
}

/// The contracts of the symbols this venue serves.
#[derive(Clone, Debug, Default)]
pub struct Contracts(pub Vec<Contract>);

impl Contracts {
    pub fn of_symbol(&self, symbol: SymbolId) -> Option<&Contract> {
        self.0.iter().find(|c| c.symbol == symbol)
    }

    pub fn of_con(&self, con_id: ConId) -> Option<&Contract> {
        self.0.iter().find(|c| c.con_id == con_id)
    }

    /// Whether an open order IB holds is one we did not send, on a contract of ours: an
    /// order of another venue's symbols (another shard's) is not this venue's business.
    pub fn is_foreign(&self, o: &IbOpenOrder, book: &Book) -> bool {
        if book.find(o.order_id, &o.order_ref).is_some() {
            return false;
        }
        match o.order_ref.parse::<u64>() {
            Ok(raw) => self.of_symbol(ClOrdId(raw).symbol()).is_some(),
            Err(_) => self.of_con(o.con_id).is_some(),
        }
    }
}

/// A position that differs from ours.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub symbol: SymbolId,
    pub name: SymbolName,
    pub ours: i64,
    pub theirs: i64,
}

/// What one look at IB found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Findings {
    /// Open orders we did not send.
    pub foreign: Vec<IbOpenOrder>,
    pub mismatches: Vec<Mismatch>,
    /// Our live orders IB shows neither open nor finished.
    pub unknown: Vec<ClOrdId>,
    /// Fills reported by this look (missed while the link was down).
    pub missed_fills: u64,
}

impl Findings {
    /// Whether trading must halt.
    pub fn halts(&self) -> bool {
        !self.foreign.is_empty() || !self.mismatches.is_empty()
    }

    /// One line for the operator: every foreign order and every mismatch.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .foreign
            .iter()
            .map(|o| {
                format!(
                    "order {} (orderRef {:?}, contract {}) at IB was not sent by tickpipe: \
                     someone else is trading the account",
                    o.order_id, o.order_ref, o.con_id
                )
            })
            .collect();
        parts.extend(self.mismatches.iter().map(|m| {
            format!(
                "position mismatch in {}: ours {}, IB's {}",
                m.name, m.ours, m.theirs
            )
        }));
        parts.join("; ")
    }
}

/// Applies `snapshot` to `book` (reports into `out`) and says what differs.
pub fn reconcile(
    book: &mut Book,
    snapshot: &IbSnapshot,
    contracts: &Contracts,
    out: &mut Vec<ExecReport>,
) -> Findings {
    let mut found = Findings::default();
    for e in &snapshot.executions {
        if book.on_execution(e, out) == ExecOutcome::Applied {
            found.missed_fills += 1;
        }
    }
    let mut open = HashSet::new();
    for o in &snapshot.open_orders {
        if contracts.is_foreign(o, book) {
            found.foreign.push(o.clone());
        } else if book.on_open_order(o, out)
            && let Some(id) = book.find(o.order_id, &o.order_ref)
        {
            open.insert(id);
        }
    }
    for c in &contracts.0 {
        let theirs = snapshot
            .positions
            .iter()
            .filter(|p| p.con_id == c.con_id)
            .map(|p| p.position)
            .sum();
        let ours = book.position(c.symbol);
        if ours != theirs {
            found.mismatches.push(Mismatch {
                symbol: c.symbol,
                name: c.name,
                ours,
                theirs,
            });
        }
    }
    let mut unknown: Vec<ClOrdId> = book
        .live()
        .map(|o| o.cl_ord_id)
        .filter(|id| !open.contains(id))
        .collect();
    unknown.sort();
    found.unknown = unknown;
    found
}
