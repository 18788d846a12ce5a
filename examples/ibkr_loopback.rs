//! The IBKR venue's own latency over loopback, against the fake TWS: a benchmark, not a
//! test (CI only compiles it). `cargo run --release --features ibkr --example
//! ibkr_loopback [ORDERS]` on a quiet host.
//!
//! - **order out**: `IbkrVenue::on_command(New)` until it returns, which is after
//!   `ibapi` has encoded the order (protobuf) and written it to the socket: the venue's
//!   share of tick-to-order up to the socket write (add the engine's tick-to-order,
//!   BENCHMARKS.md, for the whole of it).
//! - **order to ack**: from that call until the shard's `poll` of the venue emits the
//!   order's `Ack`: the fake's answer crossing loopback, `ibapi`'s reader thread and
//!   channel, and the venue's translation, as the shard sees it with the venue inline.
//!
//! In production IB's own latency dominates both: an order reaches IB's servers and is
//! acknowledged in milliseconds (a round trip from the Gateway to IB's data centre, then
//! to the exchange), against microseconds here.

#[path = "../tests/fake_tws/mod.rs"]
mod fake_tws;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fake_tws::{FakeTws, OnPlace, Script};
use hdrhistogram::Histogram;
use tickpipe::msg::{
    ClOrdId, ExecKind, ExecReport, OrderIntent, Price, Side, Stamp, SymbolId, SymbolName,
    TimeInForce, VenueCommand,
};
use tickpipe::venue::Venue;
use tickpipe::venue::ibkr::client::IbWire;
use tickpipe::venue::ibkr::config::{ContractConfig, IbkrConfig};
use tickpipe::venue::ibkr::reconcile::{Contract, Contracts};
use tickpipe::venue::ibkr::{IbkrSetup, IbkrVenue};

const MS: u64 = 1_000_000;

fn main() {
    let orders: u64 = std::env::args()
        .nth(1)
        .map_or(5_000, |n| n.parse().expect("ORDERS: a count"));
    let mut script = Script::paper(&["AAPL"]);
    script.on_place = OnPlace::Rest;
    let tws = FakeTws::start(script);
    let config = IbkrConfig {
        host: "127.0.0.1".into(),
        port: i64::from(tws.port()),
        client_id: 17,
        account: "DU1234567".into(),
        backoff_min_ms: 100,
        backoff_max_ms: 1_000,
        backoff_seed: 1,
        unknown_order_deadline_ms: 5_000,
        contracts: BTreeMap::from([(
            "AAPL".to_string(),
            ContractConfig {
                con_id: 1000,
                exchange: None,
                currency: None,
            },
        )]),
    };
    let wire = IbWire::connect(&config, false).expect("the fake TWS answers");
    let mut venue = IbkrVenue::new(
        wire,
        IbkrSetup {
            contracts: Contracts(vec![Contract {
                symbol: SymbolId(0),
                name: SymbolName::new("AAPL").unwrap(),
                con_id: 1000,
            }]),
            positions: Vec::new(),
            id_floor: 1,
            journal: None,
            unknown_order_deadline_ns: 5_000 * MS,
            end_of_session_deadline_ns: 5_000 * MS,
            backoff_base_ns: 100 * MS,
            backoff_cap_ns: 1_000 * MS,
            backoff_seed: 1,
        },
    );
    venue.reconcile(&[], &[]).expect("a clean account");

    let mut out_ns = Histogram::<u64>::new(3).unwrap();
    let mut ack_ns = Histogram::<u64>::new(3).unwrap();
    let mut reports: Vec<ExecReport> = Vec::new();
    for seq in 0..orders {
        let id = ClOrdId::new(SymbolId(0), seq);
        let stamp = Stamp {
            ts_recv: seq + 1,
            ts_event: seq + 1,
        };
        let start = Instant::now();
        venue.on_command(
            VenueCommand::New {
                stamp,
                order: OrderIntent {
                    cl_ord_id: id,
                    price: Price(1_500_000),
                    qty: 1,
                    symbol: SymbolId(0),
                    side: if seq % 2 == 0 { Side::Buy } else { Side::Sell },
                    tif: TimeInForce::Day,
                },
            },
            &mut reports,
        );
        out_ns.record(start.elapsed().as_nanos() as u64).unwrap();
        let deadline = start + Duration::from_secs(5);
        while !reports
            .iter()
            .any(|r| r.cl_ord_id == id && r.kind == ExecKind::Ack)
        {
            assert!(Instant::now() < deadline, "order {seq}: no ack in 5 s");
            venue.poll(&mut reports);
        }
        ack_ns.record(start.elapsed().as_nanos() as u64).unwrap();
        reports.clear();
    }
    let row = |name: &str, h: &Histogram<u64>| {
        println!(
            "{name:<13} p50 {:>8.1} µs  p99.9 {:>8.1} µs  max {:>8.1} µs",
            h.value_at_quantile(0.5) as f64 / 1e3,
            h.value_at_quantile(0.999) as f64 / 1e3,
            h.max() as f64 / 1e3
        );
    };
    println!("{orders} orders, one at a time, to the fake TWS over loopback (TCP_NODELAY)");
    row("order out", &out_ns);
    row("order to ack", &ack_ns);
}
