//! The kill switch an operator can reach: a Unix socket served by a thread off the hot
//! path, which talks to the shards only over their control rings.
//!
//! # Protocol
//!
//! One request per connection: the client writes one line, the server answers and
//! closes. Requests:
//!
//! | line | effect | answer |
//! |---|---|---|
//! | `halt` | latch → halted; every runner is told, routing pulls every open order | `ok halted` |
//! | `reduce-only` | latch → reduce-only (never lowers a halt: only `resume` does) | `ok STATE` (the state now) |
//! | `resume` | latch → active (the operator's decision, the only way down) | `ok active` |
//! | `reenable SYMBOL` | clears the symbol's repeated-execution latch (`Operator::Reenable`, journaled by the shard that owns it) | `ok reenable SYMBOL` |
//! | `resume-all` | latch → active, and every symbol's latch cleared (`Operator::ResumeAll`, journaled by every shard) | `ok active` |
//! | `status` | asks every shard for its state over its control ring | the status, as text lines |
//! | `status json` | the same | one JSON object on one line |
//! | `level NAME` | every shard's coordinator goes to degradation level NAME (`normal`, `reduced`, `limited`, `emergency`), the floor its health task keeps | `ok level NAME` |
//! | `schedule add SYMBOL buy\|sell QTY SLICES START_NS INTERVAL_NS OFFSET` | a parent order for the coordinator of the shard owning SYMBOL (`stages::coordinator::dca`) | `ok schedule added` |
//!
//! Anything else is answered `error ...` on one line. A state change is applied to the
//! latch before the control event is sent (the latch's Release pairs with each risk
//! check's Acquire), so the first decision any shard makes after the event refuses what
//! the new state forbids, and journals the change (`stages::journal`, cause
//! `observed`). Runners read control before data, so the halt overtakes queued market
//! data. A coordinator directive is journaled by each shard that takes it, after its
//! latest decision, and a restart re-applies it there.
//!
//! The socket is created mode 0600 in a private directory and renamed into place, so it
//! is never reachable by another user, not even between creation and the mode change.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::health::{Escalate, HealthBoard, RunnerHealth};
use super::report::{RunMeta, RunReport};
use super::runner::RunnerOutput;
use crate::msg::{Price, Side};
use crate::stages::coordinator::config::TASKS;
use crate::stages::coordinator::{Directive, Level, ParentOrder};
use crate::stages::reject::RejectCode;
use crate::stages::status::StatusBoard;
use crate::stages::{Control, Operator};
use crate::sys::edge::EdgeOut;
use crate::sys::sync::Mutex;
use crate::sys::{CloseFlag, Progress, TradingLatch, TradingState};

/// How long `status` waits for every shard: a shard that has not read its control ring
/// by then is reported as not answering. 500 ms is 5 000 times a runner's usual loop
/// (≤ 100 µs between control reads while it has data), and short enough for a person
/// waiting at a terminal.
const STATUS_DEADLINE: Duration = Duration::from_millis(500);

/// How often the server looks for a connection or its stop flag: an operator waits at
/// most this long beyond the command itself, and the idle thread wakes 50 times a
/// second, which costs nothing measurable.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

/// A client that sends nothing for this long is dropped, so it cannot block the next.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything an operator command acts on: every runner's control ring, the latch, and
/// the board where shards answer status requests.
pub struct ControlHub {
    inner: Mutex<Inner>,
    latch: Arc<TradingLatch>,
    board: Arc<StatusBoard>,
    progress: Arc<Progress>,
    /// Every runner's heartbeat and stall, for `status`.
    health: Arc<HealthBoard>,
    meta: RunMeta,
    /// The state the configuration started the run in.
    initial: TradingState,
    /// The run has a coordinator (`[coordinator]`) to take directives; it holds each
    /// symbol's `max_order_qty` (by `SymbolId`), which every slice of a schedule added
    /// through `ctl` must fit.
    coordinator: std::sync::OnceLock<Vec<u32>>,
}

struct Inner {
    rings: Vec<EdgeOut<Control>>,
    /// The last status request's number.
    request: u64,
    /// The last state an operator set, and through what.
    set: Option<(TradingState, String)>,
}

/// What `status` reports.
pub struct Status {
    pub state: TradingState,
    pub why: String,
    /// Messages the source has framed so far.
    pub messages: u64,
    pub shards: Vec<ShardHealth>,
    /// Every runner's heartbeat, and how long it has been stalled if it is.
    pub runners: Vec<RunnerHealth>,
    /// The answering shards' reports merged: positions, P&L, NLV, rejections.
    pub report: RunReport,
}

/// One shard's answer, or its silence.
pub struct ShardHealth {
    pub shard: usize,
    /// It answered within [`STATUS_DEADLINE`]: its runner reads its control ring.
    pub answered: bool,
    pub orders_sent: u64,
    pub fills: u64,
    pub invalid_reports: u64,
}

impl ControlHub {
    pub(super) fn new(
        rings: Vec<EdgeOut<Control>>,
        latch: Arc<TradingLatch>,
        board: Arc<StatusBoard>,
        progress: Arc<Progress>,
        health: Arc<HealthBoard>,
        meta: RunMeta,
    ) -> ControlHub {
        ControlHub {
            inner: Mutex::new(Inner {
                rings,
                request: 0,
                set: None,
            }),
            initial: latch.get(),
            coordinator: std::sync::OnceLock::new(),
            latch,
            board,
            progress,
            health,
            meta,
        }
    }

    /// Marks the run as having a coordinator: `level` and `schedule add` are served;
    /// `max_order_qty` is each symbol's, by `SymbolId`.
    pub(super) fn has_coordinator(&self, max_order_qty: Vec<u32>) {
        let _ = self.coordinator.set(max_order_qty);
    }

    /// Sends `directive` to every shard's coordinator; `false` when the run has none.
    pub fn direct(&self, directive: Directive) -> bool {
        if self.coordinator.get().is_none() {
            return false;
        }
        self.inner
            .with(|inner| broadcast(&mut inner.rings, Control::Coordinator(directive)));
        true
    }

    /// The trading state now.
    pub fn trading_state(&self) -> TradingState {
        self.latch.get()
    }

    /// Sets the state (downgrades included), then tells every runner. `by` names who, as
    /// `status` shows it ("an operator (control socket)").
    pub fn set_trading_state(&self, state: TradingState, by: &str) {
        self.inner.with(|inner| {
            self.latch.reset(state);
            inner.set = Some((state, by.to_string()));
            broadcast(&mut inner.rings, Control::TradingState(state));
        });
    }

    /// Escalates to `state` unless the latch is already more severe (a halt stays
    /// latched); returns the state now, which every runner is told.
    pub fn escalate(&self, state: TradingState, by: &str) -> TradingState {
        self.inner.with(|inner| {
            self.latch.escalate(state);
            let now = self.latch.get();
            if now == state {
                inner.set = Some((state, by.to_string()));
            }
            broadcast(&mut inner.rings, Control::TradingState(now));
            now
        })
    }

    /// Sends an operator's command to every runner (risk journals and applies it where
    /// it concerns its shard); `resume-all` also sets the latch active first, as
    /// `resume` does, so the answer can say so.
    pub fn operator(&self, command: Operator, by: &str) {
        self.inner.with(|inner| {
            if command == Operator::ResumeAll {
                self.latch.reset(TradingState::Active);
                inner.set = Some((TradingState::Active, by.to_string()));
                broadcast(
                    &mut inner.rings,
                    Control::TradingState(TradingState::Active),
                );
            }
            broadcast(&mut inner.rings, Control::Operator(command));
        });
    }

    /// Asks every shard for its state and waits up to [`STATUS_DEADLINE`] for the
    /// answers.
    pub fn status(&self) -> Status {
        let request = self.inner.with(|inner| {
            inner.request += 1;
            broadcast(&mut inner.rings, Control::Status(inner.request));
            inner.request
        });
        let deadline = Instant::now() + STATUS_DEADLINE;
        let mut answers: Vec<Option<crate::stages::ShardReport>> =
            (0..self.board.shards()).map(|_| None).collect();
        while answers.iter().any(Option::is_none) && Instant::now() < deadline {
            for (shard, answer) in answers.iter_mut().enumerate() {
                if answer.is_none() {
                    *answer = self.board.take(shard, request);
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let shards = answers
            .iter()
            .enumerate()
            .map(|(shard, a)| ShardHealth {
                shard,
                answered: a.is_some(),
                orders_sent: a.as_ref().map_or(0, |r| r.risk.orders_sent),
                fills: a.as_ref().map_or(0, |r| r.risk.fills),
                invalid_reports: a.as_ref().map_or(0, |r| r.risk.invalid_reports),
            })
            .collect();
        let outputs = answers
            .into_iter()
            .flatten()
            .map(|report| {
                let mut out = RunnerOutput::new("status");
                out.report = report;
                out
            })
            .collect();
        let report = RunReport::build(self.meta.clone(), outputs, Vec::new(), Duration::ZERO);
        let state = self.latch.get();
        let why = self.why(state);
        Status {
            state,
            why,
            messages: self.progress.get(),
            shards,
            runners: self.health.runners(),
            report,
        }
    }

    /// Why the latch is where it is.
    fn why(&self, state: TradingState) -> String {
        let set = self.inner.with(|inner| inner.set.clone());
        match set {
            Some((s, by)) if s == state => format!("set by {by}"),
            Some((s, by)) => format!(
                "escalated by the engine (an invalid execution report or a journal failure) after {by} set {}",
                s.as_str()
            ),
            None if state == self.initial => "the configuration's [risk] trading_state".to_string(),
            None => "escalated by the engine (an invalid execution report or a journal failure)"
                .to_string(),
        }
    }
}

/// The runner watchdog acts through the same calls as `ctl reduce-only` and `ctl halt`.
impl Escalate for ControlHub {
    fn escalate(&self, state: TradingState, by: &str) -> TradingState {
        ControlHub::escalate(self, state, by)
    }

    fn trading_state(&self) -> TradingState {
        ControlHub::trading_state(self)
    }
}

/// Delivers `control` to every runner whose thread still reads its ring. A full ring is
/// waited on (the runner drains control before any data, so it empties within one
/// loop); a ring whose runner has exited is skipped, there is nothing left to stop.
fn broadcast(rings: &mut [EdgeOut<Control>], control: Control) {
    for ring in rings {
        let mut item = control;
        while let Err(back) = ring.try_emit(item) {
            if ring.is_consumer_gone() {
                break;
            }
            item = back;
            std::thread::yield_now();
        }
    }
}

/// Why the control socket could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: {what}: {error}")]
    Io {
        path: PathBuf,
        what: &'static str,
        error: std::io::Error,
    },
    #[error("control socket {0}: the path exists; remove it if no run is serving it")]
    Exists(PathBuf),
}

/// The server thread; dropping it stops the thread and removes the socket.
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<CloseFlag>,
    thread: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Creates the socket at `path` (mode 0600; an existing path is an error, never
    /// replaced) and serves `hub` on a thread of its own.
    pub fn start(path: &Path, hub: Arc<ControlHub>) -> Result<ControlServer, ControlError> {
        let listener = bind_private(path)?;
        let io = |what, error| ControlError::Io {
            path: path.to_path_buf(),
            what,
            error,
        };
        listener
            .set_nonblocking(true)
            .map_err(|e| io("set non-blocking", e))?;
        let stop = Arc::new(CloseFlag::new());
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("control".into())
            .spawn(move || serve(&listener, &hub, &thread_stop))
            .map_err(|e| io("start its thread", e))?;
        Ok(ControlServer {
            path: path.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds in a fresh directory beside `path` (mode 0700, so nobody else can reach the
/// socket while its mode is still the umask's), sets the socket's mode to 0600, then
/// renames it into place.
fn bind_private(path: &Path) -> Result<UnixListener, ControlError> {
    let io = |what, error| ControlError::Io {
        path: path.to_path_buf(),
        what,
        error,
    };
    if path.symlink_metadata().is_ok() {
        return Err(ControlError::Exists(path.to_path_buf()));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let private = parent.join(format!(".tickpipe-control-{}", std::process::id()));
    std::fs::create_dir(&private).map_err(|e| io("create a private directory", e))?;
    let result = (|| {
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io("restrict the private directory", e))?;
        let staged = private.join("socket");
        let listener = UnixListener::bind(&staged).map_err(|e| io("bind", e))?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io("set mode 0600", e))?;
        std::fs::rename(&staged, path).map_err(|e| io("move into place", e))?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    result
}

fn serve(listener: &UnixListener, hub: &ControlHub, stop: &CloseFlag) {
    while !stop.is_closed() {
        match listener.accept() {
            Ok((stream, _)) => {
                // A client that vanished mid-answer is its own problem, not the run's.
                let _ = answer(stream, hub);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
            }
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
}

fn answer(stream: UnixStream, hub: &ControlHub) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut line = String::new();
    // A request is one short line; more than 128 bytes is not one of ours (the longest,
    // `schedule add` with 20-digit times, is under 100).
    BufReader::new((&stream).take(128)).read_line(&mut line)?;
    let reply = respond(line.trim(), hub);
    (&stream).write_all(reply.as_bytes())
}

/// The answer to one request line.
pub fn respond(request: &str, hub: &ControlHub) -> String {
    const BY: &str = "an operator (control socket)";
    match request {
        "halt" => format!("ok {}\n", hub.escalate(TradingState::Halted, BY).as_str()),
        "reduce-only" => format!(
            "ok {}\n",
            hub.escalate(TradingState::ReduceOnly, BY).as_str()
        ),
        "resume" => {
            hub.set_trading_state(TradingState::Active, BY);
            "ok active\n".to_string()
        }
        "resume-all" => {
            hub.operator(Operator::ResumeAll, BY);
            "ok active\n".to_string()
        }
        "status" => render_text(&hub.status()),
        "status json" => {
            let mut json = render_json(&hub.status()).to_string();
            json.push('\n');
            json
        }
        other => match other.strip_prefix("reenable ") {
            Some(ticker) => match hub.meta.universe.id_of(ticker) {
                Some(symbol) => {
                    hub.operator(Operator::Reenable { symbol }, BY);
                    format!("ok reenable {ticker}\n")
                }
                None => format!(
                    "error unknown symbol '{}': not in symbols.tickers\n",
                    crate::escape::escape(ticker)
                ),
            },
            None => coordinator_request(other, hub).unwrap_or_else(|| {
                format!(
                    "error unknown request '{}': halt, reduce-only, resume, reenable SYMBOL, \
                     resume-all, status, status json, level NAME, \
                     schedule add SYMBOL SIDE QTY SLICES START_NS INTERVAL_NS OFFSET\n",
                    crate::escape::escape(other)
                )
            }),
        },
    }
}

/// `level NAME` and `schedule add …`; `None` for any other line.
fn coordinator_request(request: &str, hub: &ControlHub) -> Option<String> {
    let words: Vec<&str> = request.split_whitespace().collect();
    let directive = match words[..] {
        ["level", name] => match Level::parse(name) {
            Some(level) => Directive::SetLevel(level),
            None => {
                return Some(format!(
                    "error unknown level '{}': normal, reduced, limited, emergency\n",
                    crate::escape::escape(name)
                ));
            }
        },
        ["schedule", "add", ref rest @ ..] => match parse_schedule(rest, hub) {
            Ok(parent) => Directive::AddSchedule(parent),
            Err(e) => return Some(format!("error {e}\n")),
        },
        _ => return None,
    };
    if !hub.direct(directive) {
        return Some("error this run has no [coordinator]\n".to_string());
    }
    Some(match directive {
        Directive::SetLevel(level) => format!("ok level {}\n", level.as_str()),
        Directive::AddSchedule(_) => "ok schedule added\n".to_string(),
    })
}

/// `SYMBOL buy|sell QTY SLICES START_NS INTERVAL_NS OFFSET` as a parent order, checked
/// as `[[schedule]]` is.
fn parse_schedule(words: &[&str], hub: &ControlHub) -> Result<ParentOrder, String> {
    const USAGE: &str = "schedule add SYMBOL buy|sell QTY SLICES START_NS INTERVAL_NS OFFSET";
    let [symbol, side, quantity, slices, start, interval, offset] = words else {
        return Err(format!("usage: {USAGE}"));
    };
    let bad = |what: &str, value: &str| format!("{what} '{}'", crate::escape::escape(value));
    let parent = ParentOrder {
        symbol: hub
            .meta
            .universe
            .id_of(symbol)
            .ok_or_else(|| bad("unknown symbol", symbol))?,
        side: match *side {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            _ => return Err(bad("side is buy or sell, not", side)),
        },
        quantity: quantity
            .parse()
            .map_err(|_| bad("bad quantity", quantity))?,
        slices: slices.parse().map_err(|_| bad("bad slices", slices))?,
        start_ns: start.parse().map_err(|_| bad("bad START_NS", start))?,
        interval_ns: interval
            .parse()
            .map_err(|_| bad("bad INTERVAL_NS", interval))?,
        limit_offset: offset
            .parse::<Price>()
            .map_err(|_| bad("bad OFFSET", offset))?,
    };
    if !parent.is_valid() {
        return Err(format!(
            "not a valid schedule: at least one share a slice, an interval ≥ 1, an offset ≥ 0, \
             and the last slice before midnight ({USAGE})"
        ));
    }
    // As `[[schedule]]` is checked: a slice over the limit would be refused when due.
    let limits = hub
        .coordinator
        .get()
        .ok_or("this run has no [coordinator]")?;
    let limit = limits[parent.symbol.index()];
    let largest = parent.slice_qty(0);
    if largest > limit {
        return Err(format!(
            "slices of up to {largest} shares exceed max_order_qty ({limit}) for {}: every \
             such slice would be refused (MAX_ORDER_QTY)",
            crate::escape::escape(symbol)
        ));
    }
    Ok(parent)
}

fn money(p: Option<crate::msg::Price>) -> String {
    p.map_or_else(|| "n/a".to_string(), |p| p.to_string())
}

/// `status` as text: the state and why, each shard's health, positions, P&L and NLV,
/// and the breakers (the latch and every risk control's count).
pub fn render_text(s: &Status) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "trading state: {} ({})", s.state.as_str(), s.why);
    let _ = writeln!(t, "messages framed: {}", s.messages);
    for h in &s.shards {
        let _ = writeln!(
            t,
            "shard {}: {} orders_sent={} fills={} invalid_reports={}",
            h.shard,
            if h.answered {
                "answering"
            } else {
                "NOT ANSWERING"
            },
            h.orders_sent,
            h.fills,
            h.invalid_reports
        );
    }
    for r in &s.runners {
        let _ = match r.stalled_for {
            Some(d) => writeln!(
                t,
                "runner {}: STALLED {} ms heartbeats={}",
                r.runner,
                d.as_millis(),
                r.beats
            ),
            None => writeln!(t, "runner {}: ok heartbeats={}", r.runner, r.beats),
        };
    }
    for p in s.report.positions() {
        let (realised, unrealised) = match &p.money {
            Ok(v) => (Some(v.realised), v.unrealised),
            Err(_) => (None, None),
        };
        let _ = writeln!(
            t,
            "position {}: {} mark={} realised={} unrealised={}",
            p.symbol,
            p.position,
            money(p.mark),
            money(realised),
            money(unrealised)
        );
    }
    match s.report.money() {
        Ok(m) => {
            let _ = writeln!(
                t,
                "pnl: realised={} unrealised={}\nnlv: {}",
                m.realised,
                money(m.unrealised),
                money(m.nlv)
            );
        }
        Err(e) => {
            let _ = writeln!(t, "pnl: {e}");
        }
    }
    if let Some(c) = &s.report.shard.risk.coordinator {
        let _ = writeln!(
            t,
            "degradation level: {}",
            c.level.map_or("n/a", Level::as_str)
        );
        for (name, at) in TASKS.iter().zip(&c.next_ns) {
            let _ = writeln!(t, "next {name}: {at}");
        }
        if let Some(at) = c.next_slice_ns {
            let _ = writeln!(t, "next slice: {at}");
        }
        if let Some(p) = c.snapshot {
            let _ = writeln!(
                t,
                "pnl snapshot at {}: realised={} unrealised={}",
                p.at, p.realised, p.unrealised
            );
        }
    }
    let _ = writeln!(t, "breaker latch: {}", s.state.as_str());
    for code in RejectCode::ALL {
        let _ = writeln!(
            t,
            "breaker {}: {}",
            code.as_str(),
            s.report.shard.risk.rejected(code)
        );
    }
    t
}

/// `status json`: `{"trading_state", "why", "messages", "shards": [{"shard",
/// "answered", "orders_sent", "fills", "invalid_reports"}], "runners": [{"runner",
/// "heartbeats", "stalled_ms" (null: not stalled)}], "positions": {SYM: row},
/// "pnl": {"realised", "unrealised"}, "nlv", "breakers": {"latch", CODE: count},
/// "coordinator": {"level", "next": {TASK: ns}, "next_slice", "pnl_snapshot": {"at",
/// "realised", "unrealised"}} | null}`.
pub fn render_json(s: &Status) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let shards: Vec<Value> = s
        .shards
        .iter()
        .map(|h| {
            json!({"shard": h.shard, "answered": h.answered, "orders_sent": h.orders_sent,
                   "fills": h.fills, "invalid_reports": h.invalid_reports})
        })
        .collect();
    let runners: Vec<Value> = s
        .runners
        .iter()
        .map(|r| {
            json!({"runner": r.runner, "heartbeats": r.beats,
                   "stalled_ms": r.stalled_for.map(|d| d.as_millis() as u64)})
        })
        .collect();
    let positions: Map<String, Value> = s
        .report
        .positions()
        .map(|p| (p.symbol.to_string(), json!(p)))
        .collect();
    let (pnl, nlv) = match s.report.money() {
        Ok(m) => (
            json!({"realised": m.realised, "unrealised": m.unrealised}),
            json!(m.nlv),
        ),
        Err(_) => (json!({"realised": null, "unrealised": null}), Value::Null),
    };
    let mut breakers = Map::new();
    breakers.insert("latch".into(), json!(s.state.as_str()));
    for code in RejectCode::ALL {
        breakers.insert(
            code.as_str().into(),
            json!(s.report.shard.risk.rejected(code)),
        );
    }
    let coordinator = s.report.shard.risk.coordinator.as_ref().map(|c| {
        let next: Map<String, Value> = TASKS
            .iter()
            .zip(&c.next_ns)
            .map(|(name, at)| ((*name).to_string(), json!(at)))
            .collect();
        json!({
            "level": c.level.map(Level::as_str),
            "next": next,
            "next_slice": c.next_slice_ns,
            "pnl_snapshot": c.snapshot.map(|p| json!({
                "at": p.at, "realised": p.realised, "unrealised": p.unrealised,
            })),
        })
    });
    json!({"trading_state": s.state.as_str(), "why": s.why, "messages": s.messages,
           "shards": shards, "runners": runners, "positions": positions, "pnl": pnl, "nlv": nlv,
           "breakers": breakers, "coordinator": coordinator})
}
