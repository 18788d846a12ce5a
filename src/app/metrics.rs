//! `run --metrics ADDR:PORT`: the runners' published figures in the Prometheus text
//! format (OpenMetrics, as `prometheus-client` encodes it), served over plain HTTP from
//! a thread of its own. A scrape reads each runner's mailbox once, briefly; nothing here
//! touches a runner's thread.
//!
//! Names: `tickpipe_` prefix, `_total` counters, base units (seconds, bytes, shares,
//! dollars, slots), labels `stage`, `kind`, `quantile`, `ring`, `symbol`, `code`, `state`,
//! `shard`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use hdrhistogram::Histogram;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use crate::msg::Price;
use crate::msg::TradingStatus;
use crate::runtime::metrics::{Metrics, Snapshot};
use crate::stages::coordinator::Level;
use crate::stages::reject::RejectCode;
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

/// One metric family of a scrape, its samples read from a snapshot: constant values,
/// so a scrape builds no live metric and no atomic.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
    kind: MetricType,
    samples: Vec<(Labels, f64)>,
}

/// Every family of one scrape, in the order they were added.
#[derive(Debug, Default)]
struct Families(Vec<Family>);

impl Families {
    fn add(
        &mut self,
        name: &'static str,
        help: &'static str,
        unit: Option<Unit>,
        kind: MetricType,
    ) -> &mut Vec<(Labels, f64)> {
        self.0.push(Family {
            name,
            help,
            unit,
            kind,
            samples: Vec::new(),
        });
        &mut self.0.last_mut().expect("just pushed").samples
    }

    fn counter(&mut self, name: &'static str, help: &'static str) -> &mut Vec<(Labels, f64)> {
        self.add(name, help, None, MetricType::Counter)
    }

    fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        unit: Option<Unit>,
    ) -> &mut Vec<(Labels, f64)> {
        self.add(name, help, unit, MetricType::Gauge)
    }
}

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        for f in &self.0 {
            let mut metric = encoder.encode_descriptor(f.name, f.help, f.unit.as_ref(), f.kind)?;
            for (labels, value) in &f.samples {
                let sample = metric.encode_family(labels)?;
                match f.kind {
                    // Counters hold whole counts, exactly representable up to 2^53.
                    MetricType::Counter => ConstCounter::new(*value as u64).encode(sample)?,
                    _ => ConstGauge::new(*value).encode(sample)?,
                }
            }
        }
        Ok(())
    }
}

fn dollars(p: Price) -> f64 {
    p.0 as f64 / Price::SCALE as f64
}

fn label(key: &'static str, value: impl ToString) -> Labels {
    vec![(key, value.to_string())]
}

/// One scrape's text.
pub fn render(s: &Snapshot) -> String {
    let r = &s.report;
    let mut f = Families::default();
    f.counter("messages", "ITCH messages framed by the source")
        .push((vec![], s.framed as f64));

    // Latency: one family for every per-stage histogram. `kind` says which clock: the
    // time since receipt at entry to the stage (queueing included), or the stage's own
    // service time per event.
    let events: Vec<_> = r
        .stage_latency
        .iter()
        .map(|(stage, h)| (label("stage", stage), h.len() as f64))
        .collect();
    f.counter("stage_events", "Events each stage handled")
        .extend(events);
    let latency = f.gauge(
        "stage_latency",
        "Per-stage latency quantiles (quantile 1 is the maximum)",
        Some(Unit::Seconds),
    );
    for (stage, h) in &r.stage_latency {
        quantiles(latency, h, &[("stage", stage), ("kind", "since_receipt")]);
    }
    for (stage, h) in &r.stage_service {
        quantiles(latency, h, &[("stage", stage), ("kind", "service")]);
    }
    let tick_to_order = f.gauge(
        "tick_to_order",
        "Receipt of the market data behind each order to its hand-off to the venue",
        Some(Unit::Seconds),
    );
    quantiles(tick_to_order, &r.shard.routing.tick_to_order, &[]);

    let occupancy = f.gauge(
        "ring_occupancy_slots",
        "Slots in use in each ring (feed, stage, venue, reports), as its producer last published",
        None,
    );
    occupancy.extend(
        s.rings
            .iter()
            .map(|(ring, _, used)| (label("ring", ring), *used as f64)),
    );
    let capacity = f.gauge("ring_capacity_slots", "Each ring's capacity", None);
    capacity.extend(
        s.rings
            .iter()
            .map(|(ring, slots, _)| (label("ring", ring), *slots as f64)),
    );
    let pushed = f.counter("ring_pushed", "Items pushed into each ring");
    pushed.extend(
        r.edges
            .iter()
            .map(|e| (label("ring", &e.name), e.pushed as f64)),
    );
    let full = f.counter(
        "ring_full",
        "Pushes that found the ring full (its policy applied)",
    );
    full.extend(
        r.edges
            .iter()
            .map(|e| (label("ring", &e.name), e.full as f64)),
    );

    let risk = &r.shard.risk;
    for (name, help, value) in [
        ("orders", "Orders risk sent", risk.orders_sent),
        ("cancels", "Cancels risk sent", risk.cancels_sent),
        ("acks", "Orders the venue acknowledged", risk.acks),
        ("fills", "Fill reports", risk.fills),
        ("filled_shares", "Shares filled", risk.filled_shares),
        (
            "venue_rejects",
            "Orders the venue rejected",
            risk.venue_rejects,
        ),
        (
            "invalid_reports",
            "Execution reports that were not legal transitions (each halts trading)",
            risk.invalid_reports,
        ),
    ] {
        f.counter(name, help).push((vec![], value as f64));
    }
    let rejections = f.counter("rejections", "Risk's refusals by stable code");
    rejections.extend(RejectCode::ALL.iter().map(|code| {
        (
            label("code", code.as_str()),
            risk.rejections[code.index()] as f64,
        )
    }));

    let shares = || Some(Unit::Other("shares".into()));
    let usd = || Some(Unit::Other("dollars".into()));
    let rows: Vec<_> = r.positions().collect();
    let position = f.gauge(
        "position",
        "Position per symbol (negative: short)",
        shares(),
    );
    position.extend(
        rows.iter()
            .map(|row| (label("symbol", row.symbol), row.position as f64)),
    );
    let mark = f.gauge("mark", "Mark per symbol (the book's mid)", usd());
    mark.extend(
        rows.iter()
            .filter_map(|row| Some((label("symbol", row.symbol), dollars(row.mark?)))),
    );
    // A figure beyond the report's 64 bits is left out, as the report shows `null`.
    let realised = f.gauge("realised_pnl", "Realised P&L per symbol", usd());
    realised.extend(rows.iter().filter_map(|row| {
        let money = row.money.as_ref().ok()?;
        Some((label("symbol", row.symbol), dollars(money.realised)))
    }));
    let unrealised = f.gauge(
        "unrealised_pnl",
        "Unrealised P&L per symbol at its mark",
        usd(),
    );
    unrealised.extend(rows.iter().filter_map(|row| {
        let money = row.money.as_ref().ok()?;
        Some((label("symbol", row.symbol), dollars(money.unrealised?)))
    }));
    if let Some(nlv) = r.money().ok().and_then(|m| m.nlv) {
        f.gauge("nlv", "Net liquidation value", usd())
            .push((vec![], dollars(nlv)));
    }

    let state = f.gauge(
        "trading_state",
        "The firm-wide trading state (1 for the current one)",
        None,
    );
    for st in [
        TradingState::Active,
        TradingState::ReduceOnly,
        TradingState::Halted,
    ] {
        state.push((
            label("state", st.as_str()),
            f64::from(u8::from(st == s.trading_state)),
        ));
    }
    // Each runner's heartbeats (passes and events) and its stall: 0, or how long
    // it has held work without progress once that reached `[health] stall_after_ms`.
    f.counter(
        "runner_heartbeats",
        "Heartbeats of each runner: passes of its duty cycle completed plus events handed on",
    )
    .extend(
        s.health
            .iter()
            .map(|h| (label("runner", &h.runner), h.beats as f64)),
    );
    f.gauge(
        "runner_stalled",
        "How long each runner has held work without progress, past [health] stall_after_ms (0: not stalled)",
        Some(Unit::Seconds),
    )
    .extend(s.health.iter().map(|h| {
        (
            label("runner", &h.runner),
            h.stalled_for.map_or(0.0, |d| d.as_secs_f64()),
        )
    }));
    let stale = r
        .books()
        .filter(|(_, b)| b.status == TradingStatus::FeedStale)
        .count();
    f.gauge(
        "stale_symbols",
        "Symbols whose feed lost data (refused FEED_STALE)",
        None,
    )
    .push((vec![], stale as f64));
    if let Some(feed) = &s.feed {
        for (name, help, value) in [
            (
                "feed_packets",
                "Datagrams received on the feed socket",
                feed.packets,
            ),
            (
                "feed_recovery_packets",
                "Datagrams received from the re-request server",
                feed.recovery_packets,
            ),
            ("feed_heartbeats", "Heartbeats received", feed.heartbeats),
            (
                "feed_messages",
                "Messages applied in sequence order, live and recovered",
                feed.messages,
            ),
            (
                "feed_duplicate_packets",
                "Packets whose messages had all been applied already",
                feed.duplicate_packets,
            ),
            (
                "feed_gaps",
                "Sequence gaps seen (each run of missing messages once)",
                feed.gaps,
            ),
            (
                "feed_gap_messages",
                "Messages missing when their gaps were seen",
                feed.gap_messages,
            ),
            (
                "feed_requests",
                "Re-requests sent to the re-request server",
                feed.requests,
            ),
            (
                "feed_request_errors",
                "Re-requests that could not be sent, and re-request socket errors",
                feed.request_errors,
            ),
            (
                "feed_recovered_messages",
                "Messages applied from the re-request server's answers",
                feed.recovered,
            ),
            ("feed_lost_messages", "Messages given up", feed.lost),
            (
                "feed_losses",
                "Times messages were given up (each marks every symbol stale)",
                feed.losses,
            ),
            (
                "feed_recovery_timeouts",
                "Losses whose recovery ran out of time",
                feed.timed_out,
            ),
            (
                "feed_held_packets",
                "Packets held in the reorder buffer until a gap before them was filled",
                feed.held,
            ),
            (
                "feed_overflow_packets",
                "Packets dropped because the reorder buffer was full (re-requested)",
                feed.overflow,
            ),
            (
                "feed_malformed",
                "Datagrams that were not usable packets",
                feed.malformed,
            ),
        ] {
            f.counter(name, help).push((vec![], value as f64));
        }
    }
    let journal = &r.shard.risk.journal;
    if !journal.is_empty() {
        let shard = |row: &crate::stages::journal::ShardJournal| label("shard", row.shard);
        f.counter(
            "journal_records",
            "Records this run appended to the journal",
        )
        .extend(journal.iter().map(|j| (shard(j), j.counts.appended as f64)));
        f.add(
            "journal_written",
            "Journal bytes this run appended, framing included",
            Some(Unit::Bytes),
            MetricType::Counter,
        )
        .extend(journal.iter().map(|j| (shard(j), j.bytes as f64)));
        f.gauge(
            "journal_unsynced_records",
            "Records appended but not yet on stable storage (the journal's lag)",
            None,
        )
        .extend(journal.iter().map(|j| (shard(j), j.unsynced as f64)));
        f.counter(
            "journal_verified_records",
            "Journaled records a restart re-derived and found equal",
        )
        .extend(journal.iter().map(|j| (shard(j), j.counts.verified as f64)));
    }
    // The coordinator's level, as the trading state: one series per level, 1 for the
    // current one (the most severe any shard is at). Absent without `[coordinator]`.
    if let Some(level) = risk.coordinator.as_ref().and_then(|c| c.level) {
        let gauge = f.gauge(
            "degradation_level",
            "The coordinator's degradation level, the most severe of any shard (1 for the current one)",
            None,
        );
        for l in Level::ALL {
            gauge.push((label("level", l.as_str()), f64::from(u8::from(l == level))));
        }
    }

    let mut registry = Registry::with_prefix("tickpipe");
    registry.register_collector(Box::new(f));
    let mut text = String::new();
    encode(&mut text, &registry).expect("writing to a String cannot fail");
    text
}

/// `h`'s quantiles, in seconds, under `labels` plus `quantile`.
fn quantiles(
    samples: &mut Vec<(Labels, f64)>,
    h: &Histogram<u64>,
    labels: &[(&'static str, &str)],
) {
    for (q, name) in QUANTILES {
        let mut l: Labels = labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
        l.push(("quantile", name.to_string()));
        let ns = if q >= 1.0 {
            h.max()
        } else {
            h.value_at_quantile(q)
        };
        samples.push((l, ns as f64 / 1e9));
    }
}
