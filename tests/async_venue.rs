//! An asynchronous venue plugged in through the builder (`Engine::venue`): a scripted
//! broker that reports fills on its own time, sends no watermark and is never waited
//! on. Risk applies its reports as they arrive; the run trades, ends its session
//! cleanly, and never asks for a watermark — on a venue thread or inline.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tickpipe::msg::{
    ClOrdId, ExecKind, ExecReport, InFlightOrder, OrderIntent, Price, RejectReason, Stamp,
    VenueCommand, VenueTiming,
};
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::config::{Config, Kinds};
use tickpipe::runtime::report::RunReport;
use tickpipe::runtime::topology::Topology;
use tickpipe::source::replay::{Input, Pacing};
use tickpipe::stages::inference::LinearModel;
use tickpipe::sys::edge::Emit;
use tickpipe::tools::sample::SampleSpec;
use tickpipe::venue::{ReconcileError, Venue, VenueSetup, VenueStats};

/// Fills every order in full at its limit, but only on the venue's next `poll`: the
/// reports come after the command, on the broker's own schedule, as a live session's
/// would. A cancel that reaches an order not yet filled cancels it; one that comes
/// after the fill is refused.
#[derive(Default)]
struct Broker {
    /// Orders accepted and not yet reported on.
    pending: BTreeMap<ClOrdId, OrderIntent>,
    /// Every order ever sent, for the fields of a refused cancel.
    sent: BTreeMap<ClOrdId, OrderIntent>,
    /// The latest command's time: the broker stamps reports with its own clock.
    now: Stamp,
    stats: VenueStats,
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
                let order = self.sent[&id];
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
            return; // a broker has its own market
        }
        self.now = command.stamp();
        match command {
            VenueCommand::New { order, .. } => {
                self.sent.insert(order.cl_ord_id, order);
                self.pending.insert(order.cl_ord_id, order);
            }
            VenueCommand::Cancel { cl_ord_id, .. } => self.cancel(cl_ord_id, out),
            VenueCommand::CancelAll { .. } => {
                let ids: Vec<ClOrdId> = self.pending.keys().copied().collect();
                for id in ids {
                    self.cancel(id, out);
                }
            }
            VenueCommand::EndOfSession { stamp } => {
                let ids: Vec<ClOrdId> = self.pending.keys().copied().collect();
                for id in ids {
                    self.cancel(id, out);
                }
                out.emit(ExecReport::session(ExecKind::EndOfSession, stamp));
            }
            VenueCommand::Watermark { .. } => {
                panic!("risk asked an asynchronous venue for a watermark")
            }
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

    /// A scripted broker knows nothing of a past session: it settles nothing, and says
    /// so rather than pretending to.
    fn reconcile(
        &mut self,
        in_flight: &[InFlightOrder],
        _positions: &[(tickpipe::msg::SymbolId, i64)],
    ) -> Result<(), ReconcileError> {
        if in_flight.is_empty() {
            return Ok(());
        }
        Err(ReconcileError(format!(
            "the scripted broker cannot settle {} orders in flight",
            in_flight.len()
        )))
    }
}

fn run(topology: &str) -> RunReport {
    let text = std::fs::read_to_string("config/tickpipe.toml").unwrap();
    assert!(text.contains("kind = \"sim\""));
    let path = std::env::temp_dir().join(format!(
        "tickpipe-broker-{}-{}.toml",
        std::process::id(),
        topology.len()
    ));
    std::fs::write(&path, text.replace("kind = \"sim\"", "kind = \"broker\"")).unwrap();
    let loaded = Config::load_for(&path, Kinds::of::<LinearModel, Broker>());
    std::fs::remove_file(&path).unwrap();
    let (config, universe) = loaded.expect("the broker's config is valid");
    let cores: Vec<usize> = (0..64).collect();
    let topology = Topology::load(Path::new(topology), Some(2), &universe, &cores).unwrap();
    let session = SampleSpec {
        messages: 200_000,
        ..SampleSpec::default_session()
    };
    let source = Input::Sample(session)
        .source(Pacing::AsFastAsPossible)
        .unwrap();
    Engine::new(topology, config, Arc::new(universe), source)
        .venue(|_: &VenueSetup<'_>| Broker::default())
        .run()
        .expect("the pipeline starts")
}

#[test]
fn an_asynchronous_venue_trades_without_a_watermark_or_a_wait() {
    for topology in ["pipelines/fused.toml", "pipelines/fused-inline.toml"] {
        let report = run(topology);
        assert!(
            report.failures.is_empty(),
            "{topology}: {:?}",
            report.failures
        );
        let risk = &report.shard.risk;
        assert!(
            risk.orders_sent > 0 && risk.fills > 0,
            "{topology}: {risk:?}"
        );
        assert_eq!(risk.fills, report.venue.stats.fills, "{topology}");
        assert_eq!(
            (risk.watermarks_sent, risk.watermark_waits),
            (0, 0),
            "{topology}: risk never asks an asynchronous venue for time"
        );
        assert_eq!(
            risk.invalid_reports, 0,
            "{topology}: {:?}",
            risk.first_invalid_report
        );
        assert_eq!(risk.orders_open_at_end, 0, "{topology}");
    }
}
