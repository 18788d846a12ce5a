//! `run --metrics ADDR:PORT`: the runners' published figures in the Prometheus text
//! format (OpenMetrics, as `prometheus-client` encodes it), served over plain HTTP from
//! a thread of its own. A scrape reads each runner's mailbox once, briefly; nothing here
//! touches a runner's thread.
//!
//! Names: `tickpipe_` prefix, `_total` counters, base units (seconds, shares, dollars,
//! slots), labels `stage`, `kind`, `quantile`, `ring`, `symbol`, `code`, `state`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hdrhistogram::Histogram;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::msg::Price;
use crate::msg::TradingStatus;
use crate::runtime::metrics::{Metrics, Snapshot};
use crate::stages::risk::RejectCode;
use crate::sys::TradingState;

/// Why the endpoint did not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(
        "--metrics {0}: not a loopback address; the endpoint has no authentication, so \
         serving it beyond this host needs --metrics-public"
    )]
    NotLoopback(SocketAddr),
    #[error("--metrics {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A bound, not yet serving, endpoint.
pub struct MetricsServer {
    listener: TcpListener,
}

impl MetricsServer {
    /// Binds `addr` (port 0: any free port); a non-loopback address only if `public`.
    pub fn bind(addr: SocketAddr, public: bool) -> Result<MetricsServer, MetricsError> {
        if !public && !addr.ip().is_loopback() {
            return Err(MetricsError::NotLoopback(addr));
        }
        let listener =
            TcpListener::bind(addr).map_err(|source| MetricsError::Bind { addr, source })?;
        Ok(MetricsServer { listener })
    }

    /// Where it listens, with the port chosen.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Answers scrapes from a thread of its own for the rest of the process.
    pub fn serve(self, metrics: Metrics) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for stream in self.listener.incoming().flatten() {
                    // One scraper at a time: a scrape takes well under a millisecond.
                    let _ = answer(stream, &metrics);
                }
            })
            .map(drop)
    }
}

/// A slow or silent client cannot hold the endpoint longer than this.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads one request and answers it: `GET /metrics` (or `/`) with the figures, anything
/// else with 404.
fn answer(stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // The headers say nothing this endpoint uses; read past them.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut stream = reader.into_inner();
    let path = request.split_whitespace().nth(1).unwrap_or("");
    let (status, content_type, body) =
        if request.starts_with("GET ") && (path == "/metrics" || path == "/") {
            (
                "200 OK",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                render(&metrics.snapshot()),
            )
        } else {
            (
                "404 Not Found",
                "text/plain; charset=utf-8",
                "GET /metrics\n".to_string(),
            )
        };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// The quantiles exported of every latency histogram; `1` is the maximum.
const QUANTILES: [(f64, &str); 5] = [
    (0.5, "0.5"),
    (0.9, "0.9"),
    (0.99, "0.99"),
    (0.999, "0.999"),
    (1.0, "1"),
];

type Labels = Vec<(&'static str, String)>;
type Counters = Family<Labels, Counter>;
type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;

fn dollars(p: Price) -> f64 {
    p.0 as f64 / Price::SCALE as f64
}

/// One scrape's text.
pub fn render(s: &Snapshot) -> String {
    let r = &s.report;
    let mut registry = Registry::with_prefix("tickpipe");
    let counter = |registry: &mut Registry, name: &str, help: &str, value: u64| {
        let c = Counter::<u64>::default();
        c.inc_by(value);
        registry.register(name, help, c);
    };
    counter(
        &mut registry,
        "messages",
        "ITCH messages framed by the source",
        s.framed,
    );

    // Latency: one family for every per-stage histogram. `kind` says which clock: the
    // time since receipt at entry to the stage here; a per-stage service time would be
    // one more loop over its histograms with kind="service".
    let stage_events = Counters::default();
    let stage_latency = Gauges::default();
    for (stage, h) in &r.stage_latency {
        stage_events
            .get_or_create(&vec![("stage", stage.to_string())])
            .inc_by(h.len());
        quantiles(
            &stage_latency,
            h,
            &[("stage", stage), ("kind", "since_receipt")],
        );
    }
    registry.register(
        "stage_events",
        "Events each stage handled",
        stage_events.clone(),
    );
    registry.register_with_unit(
        "stage_latency",
        "Per-stage latency quantiles (quantile 1 is the maximum)",
        Unit::Seconds,
        stage_latency.clone(),
    );
    let tick_to_order = Gauges::default();
    quantiles(&tick_to_order, &r.shard.routing.tick_to_order, &[]);
    registry.register_with_unit(
        "tick_to_order",
        "Receipt of the market data behind each order to its hand-off to the venue",
        Unit::Seconds,
        tick_to_order,
    );

    let (occupancy, capacity) = (Gauges::default(), Gauges::default());
    for (ring, slots, used) in &s.rings {
        let l = vec![("ring", ring.clone())];
        occupancy.get_or_create(&l).set(*used as f64);
        capacity.get_or_create(&l).set(*slots as f64);
    }
    let (pushed, full) = (Counters::default(), Counters::default());
    for e in &r.edges {
        let l = vec![("ring", e.name.clone())];
        pushed.get_or_create(&l).inc_by(e.pushed);
        full.get_or_create(&l).inc_by(e.full);
    }
    registry.register(
        "ring_occupancy_slots",
        "Slots in use in each ring a shard runner produces into",
        occupancy,
    );
    registry.register("ring_capacity_slots", "Each ring's capacity", capacity);
    registry.register("ring_pushed", "Items pushed into each ring", pushed);
    registry.register(
        "ring_full",
        "Pushes that found the ring full (its policy applied)",
        full,
    );

    let risk = &r.shard.risk;
    counter(
        &mut registry,
        "orders",
        "Orders risk sent",
        risk.orders_sent,
    );
    counter(
        &mut registry,
        "cancels",
        "Cancels risk sent",
        risk.cancels_sent,
    );
    counter(
        &mut registry,
        "acks",
        "Orders the venue acknowledged",
        risk.acks,
    );
    counter(&mut registry, "fills", "Fill reports", risk.fills);
    counter(
        &mut registry,
        "filled_shares",
        "Shares filled",
        risk.filled_shares,
    );
    counter(
        &mut registry,
        "venue_rejects",
        "Orders the venue rejected",
        risk.venue_rejects,
    );
    counter(
        &mut registry,
        "invalid_reports",
        "Execution reports that were not legal transitions (each halts trading)",
        risk.invalid_reports,
    );
    let rejections = Counters::default();
    for code in RejectCode::ALL {
        rejections
            .get_or_create(&vec![("code", code.as_str().to_string())])
            .inc_by(risk.rejections[code.index()]);
    }
    registry.register("rejections", "Risk's refusals by stable code", rejections);

    let (position, mark, realised, unrealised) = (
        Gauges::default(),
        Gauges::default(),
        Gauges::default(),
        Gauges::default(),
    );
    for row in r.positions() {
        let l = vec![("symbol", row.symbol.as_str().to_string())];
        position.get_or_create(&l).set(row.position as f64);
        if let Some(m) = row.mark {
            mark.get_or_create(&l).set(dollars(m));
        }
        // A figure beyond the report's 64 bits is left out, as the report shows `null`.
        if let Ok(v) = &row.money {
            realised.get_or_create(&l).set(dollars(v.realised));
            if let Some(u) = v.unrealised {
                unrealised.get_or_create(&l).set(dollars(u));
            }
        }
    }
    registry.register_with_unit(
        "position",
        "Position per symbol (negative: short)",
        Unit::Other("shares".into()),
        position,
    );
    registry.register_with_unit(
        "mark",
        "Mark per symbol (the book's mid)",
        Unit::Other("dollars".into()),
        mark,
    );
    registry.register_with_unit(
        "realised_pnl",
        "Realised P&L per symbol",
        Unit::Other("dollars".into()),
        realised,
    );
    registry.register_with_unit(
        "unrealised_pnl",
        "Unrealised P&L per symbol at its mark",
        Unit::Other("dollars".into()),
        unrealised,
    );
    if let Ok(money) = r.money() {
        if let Some(nlv) = money.nlv {
            let g = Gauge::<f64, AtomicU64>::default();
            g.set(dollars(nlv));
            registry.register_with_unit(
                "nlv",
                "Net liquidation value",
                Unit::Other("dollars".into()),
                g,
            );
        }
    }

    let state = Gauges::default();
    for st in [
        TradingState::Active,
        TradingState::ReduceOnly,
        TradingState::Halted,
    ] {
        state
            .get_or_create(&vec![("state", st.as_str().to_string())])
            .set(f64::from(u8::from(st == s.trading_state)));
    }
    registry.register(
        "trading_state",
        "The firm-wide trading state (1 for the current one)",
        state,
    );
    let stale = r
        .books()
        .filter(|(_, b)| b.status == TradingStatus::FeedStale)
        .count();
    let g = Gauge::<f64, AtomicU64>::default();
    g.set(stale as f64);
    registry.register(
        "stale_symbols",
        "Symbols whose feed lost data (refused FEED_STALE)",
        g,
    );
    // Still to come with their issues: the live feed's gaps and recoveries (published by
    // the source runner), journal lag and bytes, the degradation level.

    let mut text = String::new();
    encode(&mut text, &registry).expect("writing to a String cannot fail");
    text
}

/// `h`'s quantiles, in seconds, into `family` under `labels` plus `quantile`.
fn quantiles(family: &Gauges, h: &Histogram<u64>, labels: &[(&'static str, &str)]) {
    for (q, name) in QUANTILES {
        let mut l: Labels = labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
        l.push(("quantile", name.to_string()));
        let ns = if q >= 1.0 {
            h.max()
        } else {
            h.value_at_quantile(q)
        };
        family.get_or_create(&l).set(ns as f64 / 1e9);
    }
}
