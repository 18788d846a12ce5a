//! Recovery with an asynchronous venue (a scripted broker, as in `tests/async_venue.rs`):
//! its reports are journaled at the input position where risk applied them and, on a
//! resume, re-applied there from the journal instead of coming from the venue; commands
//! the journal holds are never sent to it again; orders in flight at the kill are handed
//! to the venue's `reconcile` before anything else.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use tickpipe::msg::{
    ClOrdId, ExecKind, ExecReport, InFlightOrder, OrderIntent, Price, RejectReason, Stamp,
    VenueCommand, VenueTiming,
};
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::config::{Config, Kinds};
use tickpipe::runtime::journal::{Cut, JournalMeta, MemoryJournal};
use tickpipe::runtime::report::RunReport;
use tickpipe::runtime::topology::Topology;
use tickpipe::source::replay::{Input, Pacing};
use tickpipe::stages::inference::LinearModel;
use tickpipe::stages::journal::{Record, in_flight};
use tickpipe::sys::edge::Emit;
use tickpipe::tools::sample::SampleSpec;
use tickpipe::venue::{ReconcileError, Venue, VenueSetup, VenueStats};

/// Fills every order in full at its limit on its next `poll`. It remembers every order
/// the firm ever sent it (`known`, shared across restarts as a real broker's books
/// are), so `reconcile` can take back the ones in flight.
struct Broker {
    pending: BTreeMap<ClOrdId, OrderIntent>,
    known: Arc<Mutex<BTreeMap<ClOrdId, OrderIntent>>>,
    now: Stamp,
    stats: VenueStats,
    /// `New` commands this instance received.
    received: Arc<Mutex<u64>>,
}

impl Broker {
    fn report(&self, kind: ExecKind, order: &OrderIntent, qty: u32, leaves: u32) -> ExecReport {
        ExecReport {
            stamp: self.now,
            cl_ord_id: order.cl_ord_id,
            price: if kind == ExecKind::Fill {
                order.price
            } else {
                Price::ZERO
            },
            qty,
            leaves,
            symbol: order.symbol,
            kind,
            side: order.side,
            reason: match kind {
                ExecKind::Cancelled => RejectReason::Requested,
                _ => RejectReason::None,
            },
            match_number: 0,
        }
    }

    fn cancel<O: Emit<ExecReport>>(&mut self, id: ClOrdId, out: &mut O) {
        match self.pending.remove(&id) {
            Some(order) => {
                out.emit(self.report(ExecKind::Ack, &order, 0, order.qty));
                out.emit(self.report(ExecKind::Cancelled, &order, 0, 0));
            }
            None => {
                let order = self.known.lock().unwrap()[&id];
                out.emit(self.report(ExecKind::CancelRejected, &order, 0, 0));
            }
        }
    }
}

impl Venue for Broker {
    const KIND: &'static str = "broker";
    const TIMING: VenueTiming = VenueTiming::Asynchronous;

    fn on_command<O: Emit<ExecReport>>(&mut self, command: VenueCommand, out: &mut O) {
        if let VenueCommand::Tick { .. } = command {
            return;
        }
        self.now = command.stamp();
        match command {
            VenueCommand::New { order, .. } => {
                *self.received.lock().unwrap() += 1;
                self.known.lock().unwrap().insert(order.cl_ord_id, order);
                self.pending.insert(order.cl_ord_id, order);
            }
            VenueCommand::Cancel { cl_ord_id, .. } => self.cancel(cl_ord_id, out),
            VenueCommand::CancelAll { .. } | VenueCommand::EndOfSession { .. } => {
                let ids: Vec<ClOrdId> = self.pending.keys().copied().collect();
                for id in ids {
                    self.cancel(id, out);
                }
                if let VenueCommand::EndOfSession { stamp } = command {
                    out.emit(ExecReport::session(ExecKind::EndOfSession, stamp));
                }
            }
            VenueCommand::Watermark { .. } => panic!("an asynchronous venue gets no watermark"),
            VenueCommand::Tick { .. } => unreachable!("handled above"),
        }
    }

    fn poll<O: Emit<ExecReport>>(&mut self, out: &mut O) -> bool {
        let filled = std::mem::take(&mut self.pending);
        for order in filled.values() {
            out.emit(self.report(ExecKind::Ack, order, 0, order.qty));
            out.emit(self.report(ExecKind::Fill, order, order.qty, 0));
            self.stats.fills += 1;
        }
        !filled.is_empty()
    }

    fn stats(&self) -> &VenueStats {
        &self.stats
    }

    /// Orders in flight are still on the broker's books: they are working again, and
    /// fill on the next poll like any other.
    fn reconcile(
        &mut self,
        in_flight: &[InFlightOrder],
        _positions: &[(tickpipe::msg::SymbolId, i64)],
    ) -> Result<(), ReconcileError> {
        let known = self.known.lock().unwrap();
        for o in in_flight {
            let id = o.order.cl_ord_id;
            let order = known
                .get(&id)
                .ok_or_else(|| ReconcileError(format!("order {id} is unknown to the broker")))?;
            self.pending.insert(id, *order);
        }
        Ok(())
    }
}

struct Session {
    known: Arc<Mutex<BTreeMap<ClOrdId, OrderIntent>>>,
    journal: MemoryJournal,
}

/// One run of the broker over `session`'s journal; returns the report and how many
/// `New` commands reached the broker.
fn run(topology: &str, session: &Session, cut: Cut) -> (RunReport, u64) {
    let text = std::fs::read_to_string("config/tickpipe.toml").unwrap();
    let path = std::env::temp_dir().join(format!(
        "tickpipe-recovery-broker-{}-{}.toml",
        std::process::id(),
        topology.len()
    ));
    std::fs::write(&path, text.replace("kind = \"sim\"", "kind = \"broker\"")).unwrap();
    let loaded = Config::load_for(&path, Kinds::of::<LinearModel, Broker>());
    std::fs::remove_file(&path).unwrap();
    let (config, universe) = loaded.expect("the broker's config is valid");
    let cores: Vec<usize> = (0..64).collect();
    let topology = Topology::load(Path::new(topology), Some(1), &universe, &cores).unwrap();
    let source = Input::Sample(SampleSpec {
        messages: 150_000,
        ..SampleSpec::default_session()
    })
    .source(Pacing::AsFastAsPossible)
    .unwrap();
    let received = Arc::new(Mutex::new(0));
    let (known, counter) = (Arc::clone(&session.known), Arc::clone(&received));
    let meta = JournalMeta {
        dir: "memory".into(),
        policy: "process".into(),
        risks: "test".into(),
        resumed: true,
        finished: false,
        notes: Vec::new(),
    };
    let report = Engine::new(topology, config, Arc::new(universe), source)
        .venue(move |_: &VenueSetup<'_>| Broker {
            pending: BTreeMap::new(),
            known: Arc::clone(&known),
            now: Stamp::default(),
            stats: VenueStats::default(),
            received: Arc::clone(&counter),
        })
        .journal(meta, session.journal.factory(cut, 1 << 16))
        .run()
        .expect("the pipeline starts");
    let received = *received.lock().unwrap();
    (report, received)
}

fn reports_in(records: &[Record]) -> usize {
    records
        .iter()
        .filter(|r| matches!(r, Record::Report { .. }))
        .count()
}

fn new_orders_in(records: &[Record]) -> Vec<ClOrdId> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Command {
                command: VenueCommand::New { order, .. },
                ..
            } => Some(order.cl_ord_id),
            _ => None,
        })
        .collect()
}

fn numbered(records: &[Record]) -> Vec<(u64, Record)> {
    (1..).zip(records.iter().copied()).collect()
}

#[test]
fn reports_are_journaled_where_applied_and_reapplied_there_on_resume() {
    for topology in ["pipelines/fused.toml", "pipelines/fused-inline.toml"] {
        let first = Session {
            known: Arc::default(),
            journal: MemoryJournal::default(),
        };
        let (base, sent) = run(topology, &first, Cut::None);
        assert!(base.failures.is_empty(), "{topology}: {:?}", base.failures);
        let full = first.journal.records().remove(0);
        let orders = new_orders_in(&full);
        assert!(orders.len() > 20 && reports_in(&full) > 40, "{topology}");
        assert_eq!(sent as usize, orders.len());

        // The finished session again: every report re-applied from the journal at its
        // position, the same decisions, nothing sent to the broker.
        let again = Session {
            known: Arc::clone(&first.known),
            journal: MemoryJournal::new(vec![full.clone()]),
        };
        let (report, sent) = run(topology, &again, Cut::None);
        assert!(
            report.failures.is_empty(),
            "{topology}: {:?}",
            report.failures
        );
        assert_eq!(sent, 0, "{topology}: a journaled order is never sent again");
        assert_eq!(report.digest(), base.digest(), "{topology}");
        assert_eq!(report.shard.risk.fills, base.shard.risk.fills, "{topology}");
        let row = &report.shard.risk.journal[0];
        assert_eq!(row.counts.recovered_reports as usize, reports_in(&full));
        assert_eq!(row.counts.verified as usize, full.len());
        assert_eq!(
            again.journal.records()[0],
            full,
            "{topology}: nothing appended"
        );

        // Killed with orders in flight: they are reconciled, never re-sent, and the
        // session finishes cleanly with every id used once. The cut keeps no order's Ack
        // without its Fill: this broker reports both in one poll and, knowing only ids
        // at `reconcile`, re-reports both, and a second Ack is (rightly) an illegal
        // transition. Where the reports land among the records depends on thread
        // timing, so cutting between the two made the test fail about 1 run in 4.
        let cut = (full.len() / 2..full.len())
            .find(|&n| {
                let flying = in_flight(&numbered(&full[..n]));
                !flying.is_empty() && flying.iter().all(|o| !o.acked)
            })
            .expect("a moment with an order in flight and not yet acknowledged");
        let kept = full[..cut].to_vec();
        let flying: Vec<ClOrdId> = in_flight(&numbered(&kept))
            .iter()
            .map(|o| o.order.cl_ord_id)
            .collect();
        let resumed = Session {
            known: Arc::clone(&first.known),
            journal: MemoryJournal::new(vec![kept.clone()]),
        };
        let (report, sent) = run(topology, &resumed, Cut::None);
        assert!(
            report.failures.is_empty(),
            "{topology}: {:?}",
            report.failures
        );
        let risk = &report.shard.risk;
        assert_eq!(risk.invalid_reports, 0, "{:?}", risk.first_invalid_report);
        assert_eq!(risk.orders_open_at_end, 0);
        let row = &risk.journal[0];
        assert_eq!(row.in_flight, flying, "{topology}: listed in the report");
        assert_eq!(row.counts.verified as usize, kept.len());
        assert_eq!(row.counts.recovered_reports as usize, reports_in(&kept));
        let now = resumed.journal.records().remove(0);
        let ids = new_orders_in(&now);
        let unique: HashSet<ClOrdId> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "{topology}: an order id reused");
        assert_eq!(
            sent as usize,
            ids.len() - new_orders_in(&kept).len(),
            "{topology}: only orders decided after the journal's end reach the broker"
        );
    }
}
