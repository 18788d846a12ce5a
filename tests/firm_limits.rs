//! Firm-wide limits across shards: with a binding `[firm]` limit — the open notional,
//! the gross notional or the message rate — what the venues see of every shard together
//! never exceeds it, whatever the shard count or topology.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tickpipe::msg::{
    ClOrdId, ExecKind, ExecReport, Price, Side, SymbolId, VenueCommand, VenueTiming,
};
use tickpipe::runtime::builder::Engine;
use tickpipe::stages::reject::RejectCode;
use tickpipe::sys::edge::Emit;
use tickpipe::venue::{ReconcileError, SimVenue, Venue, VenueStats};

/// Live orders at the venues, all shards together, as the venues see them: an order
/// counts from its `New` until the report that closes its last share is emitted. Risk
/// commits before it sends and releases only once it has applied that report, so this
/// view never holds more than risk has committed.
#[derive(Default)]
struct Book {
    orders: HashMap<ClOrdId, (Price, u32, Side)>,
    open: i128,
    high_water: i128,
    /// Per symbol: position, open buy and sell shares, highest order price.
    symbols: HashMap<SymbolId, (i64, i64, i64, i64)>,
    gross_high_water: i128,
    /// `New`s per second of event time (their own stamps).
    news: BTreeMap<u64, u32>,
}

impl Book {
    fn new_order(&mut self, id: ClOrdId, price: Price, qty: u32, side: Side, ts_event: u64) {
        self.orders.insert(id, (price, qty, side));
        self.open += i128::from(price.0) * i128::from(qty);
        self.high_water = self.high_water.max(self.open);
        let s = self.symbols.entry(id.symbol()).or_default();
        match side {
            Side::Buy => s.1 += i64::from(qty),
            Side::Sell => s.2 += i64::from(qty),
        }
        s.3 = s.3.max(price.0);
        // Every symbol's worst-case |position| at its highest order price: what risk
        // commits to the gross pool (`risk::firm`).
        let gross: i128 = self
            .symbols
            .values()
            .map(|&(pos, buy, sell, px)| {
                let worst = (pos + buy).abs().max((pos - sell).abs());
                i128::from(worst) * i128::from(px)
            })
            .sum();
        self.gross_high_water = self.gross_high_water.max(gross);
        *self.news.entry(ts_event / 1_000_000_000).or_default() += 1;
    }

    fn report(&mut self, r: &ExecReport) {
        let leaves = match r.kind {
            ExecKind::Fill => r.leaves,
            ExecKind::Cancelled | ExecKind::Rejected => 0,
            _ => return,
        };
        if let Some((price, before, side)) = self.orders.get(&r.cl_ord_id).copied() {
            let closed = i64::from(before - leaves);
            self.open -= i128::from(price.0) * i128::from(closed);
            let s = self.symbols.get_mut(&r.cl_ord_id.symbol()).unwrap();
            let filled = if r.kind == ExecKind::Fill {
                i64::from(r.qty)
            } else {
                0
            };
            match side {
                Side::Buy => (s.0, s.1) = (s.0 + filled, s.1 - closed),
                Side::Sell => (s.0, s.2) = (s.0 - filled, s.2 - closed),
            }
            if leaves == 0 {
                self.orders.remove(&r.cl_ord_id);
            } else {
                self.orders.insert(r.cl_ord_id, (price, leaves, side));
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
        if let VenueCommand::New { order, stamp } = command {
            self.book.lock().unwrap().new_order(
                order.cl_ord_id,
                order.price,
                order.qty,
                order.side,
                stamp.ts_event,
            );
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

/// Which firm-wide limit a run makes bind.
#[derive(Copy, Clone, Debug)]
enum Binding {
    /// About one order at the per-order limit ($50 000) and a bit: with 8 symbols each
    /// wanting an order open, it binds all session.
    OpenNotional,
    /// About two symbols' positions of 100 shares (the model's target) at $400.
    GrossNotional,
    /// 200 `New`s and `Cancel`s a second over every shard, far under the session's pace.
    MessageRate,
}

#[test]
fn firm_limit_never_exceeded_any_shard_count() {
    const OPEN: Price = Price(60_000 * Price::SCALE);
    const GROSS: Price = Price(80_000 * Price::SCALE);
    const MESSAGES: u32 = 200;
    for binding in [
        Binding::OpenNotional,
        Binding::GrossNotional,
        Binding::MessageRate,
    ] {
        for topology in ["pipelines/fused.toml", "pipelines/staged.toml"] {
            for shards in [1, 2, 4] {
                let mut spec = common::spec(topology, shards, 100_000);
                let firm = &mut spec.config.firm;
                firm.chunk_notional = Price(10_000 * Price::SCALE);
                let code = match binding {
                    Binding::OpenNotional => {
                        firm.max_open_notional = OPEN;
                        RejectCode::FirmOpenNotional
                    }
                    Binding::GrossNotional => {
                        firm.max_gross_notional = GROSS;
                        RejectCode::FirmGrossNotional
                    }
                    Binding::MessageRate => {
                        firm.max_messages_per_sec = MESSAGES;
                        RejectCode::FirmMessageRate
                    }
                };
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
                let case = format!("{binding:?} {topology} x{shards}");
                assert!(risk.orders_sent > 0, "{case}: it traded");
                assert!(risk.rejected(code) > 0, "{case}: the limit bound");
                match binding {
                    Binding::OpenNotional => assert!(
                        book.high_water <= i128::from(OPEN.0),
                        "{case}: open notional reached {} over a limit of {OPEN}",
                        Price(book.high_water as i64)
                    ),
                    Binding::GrossNotional => assert!(
                        book.gross_high_water <= i128::from(GROSS.0),
                        "{case}: gross notional reached {} over a limit of {GROSS}",
                        Price(book.gross_high_water as i64)
                    ),
                    Binding::MessageRate => {
                        let busiest = book.news.values().max().copied().unwrap_or(0);
                        assert!(
                            busiest <= MESSAGES,
                            "{case}: {busiest} orders in one second over a limit of {MESSAGES}"
                        );
                    }
                }
                assert_eq!(book.open, 0, "{case}: every order closed at the end");
                assert_eq!(risk.orders_open_at_end, 0, "{case}");
            }
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
