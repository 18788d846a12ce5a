//! Firm-wide limits across shards: with a binding `[firm] max_open_notional`, the
//! notional of every live order of every shard together never exceeds it, whatever the
//! shard count or topology.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tickpipe::msg::{ClOrdId, ExecKind, ExecReport, Price, VenueCommand, VenueTiming};
use tickpipe::runtime::builder::Engine;
use tickpipe::stages::risk::RejectCode;
use tickpipe::sys::edge::Emit;
use tickpipe::venue::{ReconcileError, SimVenue, Venue, VenueStats};

/// Live orders at the venues, all shards together, as the venues see them: an order
/// counts from its `New` until the report that closes its last share is emitted. Risk
/// commits before it sends and releases only once it has applied that report, so this
/// view never holds more than risk has committed.
#[derive(Default)]
struct Book {
    orders: HashMap<ClOrdId, (Price, u32)>,
    open: i128,
    high_water: i128,
}

impl Book {
    fn new_order(&mut self, id: ClOrdId, price: Price, qty: u32) {
        self.orders.insert(id, (price, qty));
        self.open += i128::from(price.0) * i128::from(qty);
        self.high_water = self.high_water.max(self.open);
    }

    fn report(&mut self, r: &ExecReport) {
        let leaves = match r.kind {
            ExecKind::Fill => r.leaves,
            ExecKind::Cancelled | ExecKind::Rejected => 0,
            _ => return,
        };
        if let Some((price, before)) = self.orders.get(&r.cl_ord_id).copied() {
            self.open -= i128::from(price.0) * i128::from(before - leaves);
            if leaves == 0 {
                self.orders.remove(&r.cl_ord_id);
            } else {
                self.orders.insert(r.cl_ord_id, (price, leaves));
            }
        }
    }
}

/// The simulated exchange, keeping the shared [`Book`].
struct Tracking {
    venue: SimVenue,
    book: Arc<Mutex<Book>>,
}

/// Passes the venue's reports on, booking each.
struct Booking<'a, O> {
    out: &'a mut O,
    book: &'a Mutex<Book>,
}

impl<O: Emit<ExecReport>> Emit<ExecReport> for Booking<'_, O> {
    fn emit(&mut self, r: ExecReport) {
        self.book.lock().unwrap().report(&r);
        self.out.emit(r);
    }
}

impl Venue for Tracking {
    const KIND: &'static str = SimVenue::KIND;
    const TIMING: VenueTiming = SimVenue::TIMING;

    fn on_command<O: Emit<ExecReport>>(&mut self, command: VenueCommand, out: &mut O) {
        if let VenueCommand::New { order, .. } = command {
            self.book
                .lock()
                .unwrap()
                .new_order(order.cl_ord_id, order.price, order.qty);
        }
        let mut booking = Booking {
            out,
            book: &self.book,
        };
        self.venue.on_command(command, &mut booking);
    }

    fn poll<O: Emit<ExecReport>>(&mut self, out: &mut O) -> bool {
        let mut booking = Booking {
            out,
            book: &self.book,
        };
        self.venue.poll(&mut booking)
    }

    fn stats(&self) -> &VenueStats {
        self.venue.stats()
    }

    fn reconcile(&mut self, in_flight: &[ClOrdId]) -> Result<(), ReconcileError> {
        self.venue.reconcile(in_flight)
    }
}

#[test]
fn firm_limit_never_exceeded_any_shard_count() {
    // About one order at the per-order limit ($50 000) and a bit: with 8 symbols each
    // wanting an order open, the firm-wide limit binds all session.
    let limit = Price(60_000 * Price::SCALE);
    for topology in ["pipelines/fused.toml", "pipelines/staged.toml"] {
        for shards in [1, 2, 4] {
            let mut spec = common::spec(topology, shards, 100_000);
            spec.config.firm.max_open_notional = limit;
            spec.config.firm.chunk_notional = Price(10_000 * Price::SCALE);
            let source = spec.input.source(spec.pacing).unwrap();
            let book = Arc::new(Mutex::new(Book::default()));
            let shared = Arc::clone(&book);
            let report = Engine::new(spec.topology, spec.config, spec.universe, source)
                .venue(move |setup| Tracking {
                    venue: SimVenue::from_setup(setup),
                    book: Arc::clone(&shared),
                })
                .run()
                .expect("pipeline runs");
            assert!(report.failures.is_empty(), "{:?}", report.failures);
            let risk = &report.shard.risk;
            let book = book.lock().unwrap();
            let case = format!("{topology} x{shards}");
            assert!(risk.orders_sent > 0, "{case}: it traded");
            assert!(
                risk.rejected(RejectCode::FirmOpenNotional) > 0,
                "{case}: the limit bound"
            );
            assert!(
                book.high_water <= i128::from(limit.0),
                "{case}: open notional reached {} over a limit of {limit}",
                Price(book.high_water as i64)
            );
            assert_eq!(book.open, 0, "{case}: every order closed at the end");
            assert_eq!(risk.orders_open_at_end, 0, "{case}");
        }
    }
}

/// With a limit that does not bind, the firm-wide pool changes nothing: the same digest
/// as with a limit a thousand times larger.
#[test]
fn a_limit_that_does_not_bind_changes_no_decision() {
    let run = |max: i64| {
        let mut spec = common::spec("pipelines/staged.toml", 2, 100_000);
        spec.config.firm.max_open_notional = Price(max * Price::SCALE);
        tickpipe::runtime::pipeline::Pipeline::start(spec)
            .unwrap()
            .join()
    };
    let tight = run(2_000_000);
    let loose = run(2_000_000_000);
    assert_eq!(tight.shard.risk.rejected(RejectCode::FirmOpenNotional), 0);
    assert_eq!(tight.digest(), loose.digest());
}
