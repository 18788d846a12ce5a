//! A fake TWS / IB Gateway for tests: a loopback TCP server that speaks the TWS API as
//! `ibapi` 5.5 does (server versions 213 to 226: every message protobuf).
//!
//! - Framing: every frame is a 4-byte big-endian length, then the body. A body is a
//!   4-byte big-endian message id, plus 200 when the payload is protobuf, then the
//!   payload.
//! - Handshake: the client sends `API\0` and a framed `v213..226`; the fake answers with a
//!   framed text body `VERSION\0TIME\0`; the client sends `StartApi` (id 71); the fake sends
//!   `NextValidId` (9) and `ManagedAccounts` (15).
//! - Then it answers requests from a [`Script`]: contract details, positions, open orders,
//!   executions, order ids; and places orders by the script's [`OnPlace`]. A test can
//!   also push any message at any time ([`FakeTws::push`]) or drop the connection
//!   ([`FakeTws::disconnect`]): the fake then accepts the client's reconnect, with the
//!   script's state (orders, fills, positions) as it is by then, as a real Gateway would.
//! - Several API clients at once, as a Gateway serves them: order ids are per client (two
//!   clients' orders can share one), and an order's unsolicited messages (fills, status)
//!   go to the connections of the client that placed it.
//!
//! Every socket sets `TCP_NODELAY`: without it each small frame waits out delayed
//! acknowledgement, about 40 ms a message.

#![allow(dead_code)] // each test binary uses part of it

pub mod proto;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use proto::{Fields, Msg};

/// The server version the fake announces: the lowest `ibapi` 5.5 accepts.
pub const SERVER_VERSION: i32 = 213;

/// Message ids the fake sends (TWS's `IncomingMessages`).
pub mod incoming {
    pub const ORDER_STATUS: i32 = 3;
    pub const ERROR: i32 = 4;
    pub const OPEN_ORDER: i32 = 5;
    pub const NEXT_VALID_ID: i32 = 9;
    pub const CONTRACT_DATA: i32 = 10;
    pub const EXECUTION_DATA: i32 = 11;
    pub const MANAGED_ACCOUNTS: i32 = 15;
    pub const CONTRACT_DATA_END: i32 = 52;
    pub const OPEN_ORDER_END: i32 = 53;
    pub const EXECUTION_DATA_END: i32 = 55;
    pub const COMMISSION_REPORT: i32 = 59;
    pub const POSITION: i32 = 61;
    pub const POSITION_END: i32 = 62;
    pub const TICK_BY_TICK: i32 = 99;
}

/// Message ids the client sends (TWS's `OutgoingMessages`).
pub mod outgoing {
    pub const PLACE_ORDER: i32 = 3;
    pub const CANCEL_ORDER: i32 = 4;
    pub const REQUEST_OPEN_ORDERS: i32 = 5;
    pub const REQUEST_EXECUTIONS: i32 = 7;
    pub const REQUEST_IDS: i32 = 8;
    pub const REQUEST_CONTRACT_DATA: i32 = 9;
    pub const REQUEST_ALL_OPEN_ORDERS: i32 = 16;
    pub const REQUEST_MANAGED_ACCOUNTS: i32 = 17;
    pub const REQUEST_POSITIONS: i32 = 61;
    pub const CANCEL_POSITIONS: i32 = 64;
    pub const START_API: i32 = 71;
    pub const REQUEST_TICK_BY_TICK: i32 = 97;
    pub const CANCEL_TICK_BY_TICK: i32 = 98;
}

/// A contract the fake knows.
#[derive(Clone, Debug)]
pub struct FakeContract {
    pub con_id: i32,
    pub symbol: String,
    pub long_name: String,
}

/// An order as the fake holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeOrder {
    pub order_id: i32,
    /// The API client that placed it (0 for one placed in TWS by hand). `ibapi` routes an
    /// order's messages to its own streams only when this is its client id.
    pub client_id: i32,
    pub con_id: i32,
    /// `BUY` or `SELL`.
    pub action: String,
    pub qty: f64,
    pub limit: f64,
    pub order_ref: String,
    pub account: String,
    pub status: String,
    pub filled: f64,
}

/// One fill the fake has reported.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeFill {
    pub exec_id: String,
    pub client_id: i32,
    pub order_id: i32,
    pub con_id: i32,
    pub action: String,
    pub shares: f64,
    pub price: f64,
    pub cum_qty: f64,
    pub order_ref: String,
}

/// What the fake does when an order is placed.
#[derive(Clone, Debug, PartialEq)]
pub enum OnPlace {
    /// Acknowledge it (`Submitted`) and let it rest.
    Rest,
    /// Acknowledge it and fill it whole at its limit.
    Fill,
    /// Fill it in these share counts at its limit (no `Submitted` first when `fast`).
    Partials { shares: Vec<f64>, fast: bool },
    /// Reject it: error 201 with this text, then `Inactive`... as IB does.
    Reject(String),
    /// Refuse the first order placed (error 103, duplicate order id: an id an earlier
    /// session used), then acknowledge every order and let it rest.
    DuplicateIdOnce,
    /// Do nothing at all (the order is lost in flight).
    Ignore,
}

/// What the fake serves.
#[derive(Clone, Debug)]
pub struct Script {
    pub managed_accounts: Vec<String>,
    pub next_valid_id: i32,
    pub contracts: Vec<FakeContract>,
    /// (account, con_id, signed shares).
    pub positions: Vec<(String, i32, f64)>,
    pub open_orders: Vec<FakeOrder>,
    pub fills: Vec<FakeFill>,
    pub on_place: OnPlace,
    /// `nextValidId` announced after a reconnect, when set (IB's ids can roll back after
    /// a Gateway restart).
    pub next_valid_id_after_reconnect: Option<i32>,
}

impl Script {
    /// One paper account, `DU1234567`, and the contracts of `symbols` (con_id 1000 + i).
    pub fn paper(symbols: &[&str]) -> Script {
        Script {
            managed_accounts: vec!["DU1234567".into()],
            next_valid_id: 1,
            contracts: symbols
                .iter()
                .enumerate()
                .map(|(i, s)| FakeContract {
                    con_id: 1000 + i as i32,
                    symbol: s.to_string(),
                    long_name: format!("{s} INC"),
                })
                .collect(),
            positions: Vec::new(),
            open_orders: Vec::new(),
            fills: Vec::new(),
            on_place: OnPlace::Rest,
            next_valid_id_after_reconnect: None,
        }
    }
}

#[derive(Default)]
struct Shared {
    script: Option<Script>,
    /// Every message id the clients sent, in order, protobuf offset removed.
    received: Vec<i32>,
    placed: Vec<FakeOrder>,
    cancels: Vec<i32>,
    tick_requests: Vec<(i32, i32, String)>,
    duplicate_refused: Vec<i32>,
    connections: usize,
    /// The most recent connection's writer, for pushes.
    writer: Option<TcpStream>,
    /// Every live connection, by its number (from 1, in order accepted).
    links: HashMap<usize, Link>,
    /// Client ids that have connected before: a second `StartApi` is a reconnect.
    clients_seen: HashSet<i32>,
    exec_seq: u64,
}

/// One live connection.
struct Link {
    /// From its `StartApi`; -1 before.
    client_id: i32,
    /// Whether this client connected before (the script's
    /// `next_valid_id_after_reconnect` then applies).
    reconnect: bool,
    stream: TcpStream,
}

/// The running fake. Dropping it stops accepting; live connections end with the test.
pub struct FakeTws {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    _accept: JoinHandle<()>,
}

impl FakeTws {
    /// Starts serving `script` on 127.0.0.1, on a port of the system's choosing.
    pub fn start(script: Script) -> FakeTws {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake TWS");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared {
            script: Some(script),
            ..Shared::default()
        }));
        let accept_shared = Arc::clone(&shared);
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let shared = Arc::clone(&accept_shared);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        FakeTws {
            addr,
            shared,
            _accept: accept,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every message id clients sent so far, in order.
    pub fn received(&self) -> Vec<i32> {
        self.shared.lock().unwrap().received.clone()
    }

    /// Orders placed so far (a resend of one id counts again).
    pub fn placed(&self) -> Vec<FakeOrder> {
        self.shared.lock().unwrap().placed.clone()
    }

    /// Order ids cancelled so far.
    pub fn cancels(&self) -> Vec<i32> {
        self.shared.lock().unwrap().cancels.clone()
    }

    /// Tick-by-tick requests: (request id, con_id, tick type).
    pub fn tick_requests(&self) -> Vec<(i32, i32, String)> {
        self.shared.lock().unwrap().tick_requests.clone()
    }

    /// Connections accepted so far (a reconnect is another).
    pub fn connections(&self) -> usize {
        self.shared.lock().unwrap().connections
    }

    /// Every fill reported so far.
    pub fn fills(&self) -> Vec<FakeFill> {
        self.with_script(|s| s.fills.clone())
    }

    /// Runs `f` on the script (the fake's state), e.g. to fill an order while the
    /// client is disconnected.
    pub fn with_script<T>(&self, f: impl FnOnce(&mut Script) -> T) -> T {
        f(self.shared.lock().unwrap().script.as_mut().unwrap())
    }

    /// Sends `frame` on the connection of API client `client_id`.
    pub fn push_to(&self, client_id: i32, frame: Vec<u8>) {
        let mut shared = self.shared.lock().unwrap();
        send_to_client(&mut shared, client_id, &[frame]);
    }

    /// Sends `frame` (from [`frame`] and the message builders) on the live connection.
    pub fn push(&self, frame: Vec<u8>) {
        let mut shared = self.shared.lock().unwrap();
        if let Some(w) = shared.writer.as_mut() {
            let _ = w.write_all(&frame);
        }
    }

    /// Fills `order_id` for `shares` at `price` in the script, and reports it on the
    /// placing client's live connections if it has any (execution, commission, status).
    /// With several clients, the first open order of that id.
    pub fn fill(&self, order_id: i32, shares: f64, price: f64) {
        let mut shared = self.shared.lock().unwrap();
        let client = shared
            .script
            .as_ref()
            .unwrap()
            .open_orders
            .iter()
            .find(|o| o.order_id == order_id)
            .map(|o| o.client_id);
        let Some(client) = client else { return };
        let frames = fill_order(&mut shared, client, order_id, shares, price);
        send_to_client(&mut shared, client, &frames);
    }

    /// Fills what remains of every open order at its limit (reported to the placing
    /// client if it is connected); returns how many it filled.
    pub fn fill_open_orders(&self) -> usize {
        let mut shared = self.shared.lock().unwrap();
        let open: Vec<(i32, i32, f64, f64)> = shared
            .script
            .as_ref()
            .unwrap()
            .open_orders
            .iter()
            .map(|o| (o.client_id, o.order_id, o.qty - o.filled, o.limit))
            .collect();
        for &(client, order_id, left, limit) in &open {
            let frames = fill_order(&mut shared, client, order_id, left, limit);
            send_to_client(&mut shared, client, &frames);
        }
        open.len()
    }

    /// Closes every live connection, as a Gateway restart or a network cut does.
    pub fn disconnect(&self) {
        let mut shared = self.shared.lock().unwrap();
        shared.writer = None;
        for (_, link) in shared.links.drain() {
            let _ = link.stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// The client ids of the live connections, sorted.
    pub fn clients(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .shared
            .lock()
            .unwrap()
            .links
            .values()
            .map(|l| l.client_id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Waits until `cond` holds of the fake, up to 10 s; panics naming `what` after.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&FakeTws) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond(self) {
            assert!(
                Instant::now() < deadline,
                "fake TWS: timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// A frame: length, message id (+200: protobuf), payload.
pub fn frame(id: i32, payload: Msg) -> Vec<u8> {
    let payload = payload.into_bytes();
    let mut body = (id + 200).to_be_bytes().to_vec();
    body.extend_from_slice(&payload);
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

fn contract_msg(con_id: i32, symbol: &str) -> Msg {
    Msg::new()
        .int(1, i64::from(con_id))
        .string(2, symbol)
        .string(3, "STK")
        .string(8, "SMART")
        .string(9, "NASDAQ")
        .string(10, "USD")
        .string(11, symbol)
}

fn symbol_of(script: &Script, con_id: i32) -> String {
    script
        .contracts
        .iter()
        .find(|c| c.con_id == con_id)
        .map_or_else(|| format!("C{con_id}"), |c| c.symbol.clone())
}

/// `error`: `id` is the order or request id (-1: none).
pub fn error(id: i32, code: i32, text: &str) -> Vec<u8> {
    frame(
        incoming::ERROR,
        Msg::new()
            .int(1, i64::from(id))
            .int(2, 0)
            .int(3, i64::from(code))
            .string(4, text),
    )
}

/// `orderStatus`.
pub fn order_status(
    client_id: i32,
    order_id: i32,
    status: &str,
    filled: f64,
    remaining: f64,
    avg: f64,
) -> Vec<u8> {
    frame(
        incoming::ORDER_STATUS,
        Msg::new()
            .int(1, i64::from(order_id))
            .string(2, status)
            .string(3, &filled.to_string())
            .string(4, &remaining.to_string())
            .double(5, avg)
            .int(6, i64::from(order_id) + 9_000_000)
            .int(9, i64::from(client_id)),
    )
}

/// `openOrder` for `order` (its status as the order state).
pub fn open_order(script: &Script, order: &FakeOrder) -> Vec<u8> {
    let o = Msg::new()
        .int(1, i64::from(order.client_id))
        .int(2, i64::from(order.order_id))
        .int(3, i64::from(order.order_id) + 9_000_000)
        .string(5, &order.action)
        .string(6, &order.qty.to_string())
        .string(8, "LMT")
        .double(9, order.limit)
        .string(11, "DAY")
        .string(12, &order.account)
        .string(28, &order.order_ref);
    frame(
        incoming::OPEN_ORDER,
        Msg::new()
            .int(1, i64::from(order.order_id))
            .message(
                2,
                contract_msg(order.con_id, &symbol_of(script, order.con_id)),
            )
            .message(3, o)
            .message(4, Msg::new().string(1, &order.status)),
    )
}

/// `execDetails` for `fill` (request id -1: unsolicited, as for a live order).
pub fn execution(script: &Script, fill: &FakeFill, req_id: i32) -> Vec<u8> {
    let account = script.managed_accounts.first().cloned().unwrap_or_default();
    let e = Msg::new()
        .int(1, i64::from(fill.order_id))
        .string(2, &fill.exec_id)
        .string(3, "20261204 10:00:00 US/Eastern")
        .string(4, &account)
        .string(5, "ISLAND")
        .string(6, if fill.action == "BUY" { "BOT" } else { "SLD" })
        .string(7, &fill.shares.to_string())
        .double(8, fill.price)
        .int(9, i64::from(fill.order_id) + 9_000_000)
        .int(10, i64::from(fill.client_id))
        .string(12, &fill.cum_qty.to_string())
        .double(13, fill.price)
        .string(14, &fill.order_ref);
    frame(
        incoming::EXECUTION_DATA,
        Msg::new()
            .int(1, i64::from(req_id))
            .message(
                2,
                contract_msg(fill.con_id, &symbol_of(script, fill.con_id)),
            )
            .message(3, e),
    )
}

/// `commissionReport` for an execution.
pub fn commission(exec_id: &str) -> Vec<u8> {
    frame(
        incoming::COMMISSION_REPORT,
        Msg::new()
            .string(1, exec_id)
            .double(2, 1.0)
            .string(3, "USD"),
    )
}

/// `tickByTick` BidAsk (tick type 3).
pub fn tick_bid_ask(
    req_id: i32,
    time: i64,
    bid: f64,
    ask: f64,
    bid_size: f64,
    ask_size: f64,
) -> Vec<u8> {
    frame(
        incoming::TICK_BY_TICK,
        Msg::new().int(1, i64::from(req_id)).int(2, 3).message(
            4,
            Msg::new()
                .int(1, time)
                .message(2, Msg::new())
                .double(3, bid)
                .double(4, ask)
                .string(5, &bid_size.to_string())
                .string(6, &ask_size.to_string()),
        ),
    )
}

/// `tickByTick` AllLast (tick type 2).
pub fn tick_last(req_id: i32, time: i64, price: f64, size: f64) -> Vec<u8> {
    frame(
        incoming::TICK_BY_TICK,
        Msg::new().int(1, i64::from(req_id)).int(2, 2).message(
            3,
            Msg::new()
                .int(1, time)
                .message(2, Msg::new())
                .double(3, price)
                .string(4, &size.to_string())
                .string(5, "ISLAND")
                .string(6, ""),
        ),
    )
}

/// Writes `frames` on every live connection of `client`.
fn send_to_client(shared: &mut Shared, client: i32, frames: &[Vec<u8>]) {
    for link in shared.links.values_mut().filter(|l| l.client_id == client) {
        for f in frames {
            let _ = link.stream.write_all(f);
        }
    }
}

/// Records a fill of `client`'s `order_id` in the state; returns the frames that report
/// it.
fn fill_order(
    shared: &mut Shared,
    client: i32,
    order_id: i32,
    shares: f64,
    price: f64,
) -> Vec<Vec<u8>> {
    shared.exec_seq += 1;
    let exec_id = format!("0000e1f2.{:08}.01.01", shared.exec_seq);
    let script = shared.script.as_mut().unwrap();
    let Some(order) = script
        .open_orders
        .iter_mut()
        .find(|o| o.client_id == client && o.order_id == order_id)
    else {
        return Vec::new();
    };
    order.filled += shares;
    let remaining = order.qty - order.filled;
    order.status = if remaining <= 0.0 {
        "Filled"
    } else {
        "Submitted"
    }
    .into();
    let order = order.clone();
    let fill = FakeFill {
        exec_id: exec_id.clone(),
        client_id: order.client_id,
        order_id,
        con_id: order.con_id,
        action: order.action.clone(),
        shares,
        price,
        cum_qty: order.filled,
        order_ref: order.order_ref.clone(),
    };
    script.fills.push(fill.clone());
    let signed = if order.action == "BUY" {
        shares
    } else {
        -shares
    };
    let account = order.account.clone();
    match script
        .positions
        .iter_mut()
        .find(|(a, c, _)| *a == account && *c == order.con_id)
    {
        Some(p) => p.2 += signed,
        None => script.positions.push((account, order.con_id, signed)),
    }
    if remaining <= 0.0 {
        script
            .open_orders
            .retain(|o| !(o.client_id == client && o.order_id == order_id));
    }
    vec![
        execution(script, &fill, -1),
        commission(&exec_id),
        order_status(
            order.client_id,
            order_id,
            &order.status,
            order.filled,
            remaining.max(0.0),
            price,
        ),
    ]
}

fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).ok()?;
    Some(body)
}

fn serve(mut stream: TcpStream, shared: &Mutex<Shared>) {
    stream.set_nodelay(true).unwrap();
    let mut api = [0u8; 4];
    if stream.read_exact(&mut api).is_err() || &api != b"API\0" {
        return;
    }
    let Some(versions) = read_frame(&mut stream) else {
        return;
    };
    assert!(
        String::from_utf8_lossy(&versions).starts_with('v'),
        "fake TWS: a version range, got {versions:?}"
    );
    let hello = format!("{SERVER_VERSION}\x0020261204 10:00:00 US/Eastern\x00");
    let mut reply = (hello.len() as u32).to_be_bytes().to_vec();
    reply.extend_from_slice(hello.as_bytes());
    if stream.write_all(&reply).is_err() {
        return;
    }
    let conn = {
        let mut s = shared.lock().unwrap();
        s.connections += 1;
        s.writer = Some(stream.try_clone().unwrap());
        let conn = s.connections;
        let link = Link {
            client_id: -1,
            reconnect: false,
            stream: stream.try_clone().unwrap(),
        };
        s.links.insert(conn, link);
        conn
    };
    while let Some(body) = read_frame(&mut stream) {
        if body.len() < 4 {
            return;
        }
        let raw_id = i32::from_be_bytes(body[..4].try_into().unwrap());
        let id = if raw_id > 200 { raw_id - 200 } else { raw_id };
        let fields = Fields::parse(&body[4..]).unwrap_or_default();
        let mut s = shared.lock().unwrap();
        if !s.links.contains_key(&conn) {
            return; // disconnected
        }
        s.received.push(id);
        let frames = answer(&mut s, conn, id, &fields);
        let Some(link) = s.links.get_mut(&conn) else {
            return;
        };
        for f in frames {
            if link.stream.write_all(&f).is_err() {
                return;
            }
        }
    }
}

fn answer(s: &mut Shared, conn: usize, id: i32, f: &Fields) -> Vec<Vec<u8>> {
    let req_id = f.int(1).unwrap_or(0) as i32;
    if id == outgoing::START_API {
        let reconnect = !s.clients_seen.insert(req_id);
        let link = s.links.get_mut(&conn).expect("a live connection");
        link.client_id = req_id;
        link.reconnect = reconnect;
    }
    let link = &s.links[&conn];
    let (client, reconnect) = (link.client_id, link.reconnect);
    match id {
        outgoing::START_API => {
            let script = s.script.as_ref().unwrap();
            let next = match script.next_valid_id_after_reconnect {
                Some(n) if reconnect => n,
                _ => script.next_valid_id,
            };
            vec![
                frame(incoming::NEXT_VALID_ID, Msg::new().int(1, i64::from(next))),
                frame(
                    incoming::MANAGED_ACCOUNTS,
                    Msg::new().string(1, &script.managed_accounts.join(",")),
                ),
            ]
        }
        outgoing::REQUEST_IDS => {
            let script = s.script.as_ref().unwrap();
            let next = match script.next_valid_id_after_reconnect {
                Some(n) if reconnect => n,
                _ => script.next_valid_id,
            };
            vec![frame(
                incoming::NEXT_VALID_ID,
                Msg::new().int(1, i64::from(next)),
            )]
        }
        outgoing::REQUEST_MANAGED_ACCOUNTS => {
            let script = s.script.as_ref().unwrap();
            vec![frame(
                incoming::MANAGED_ACCOUNTS,
                Msg::new().string(1, &script.managed_accounts.join(",")),
            )]
        }
        outgoing::REQUEST_CONTRACT_DATA => {
            let script = s.script.as_ref().unwrap();
            let con_id = f.message(2).and_then(|c| c.int(1)).unwrap_or(0) as i32;
            let mut out = Vec::new();
            match script.contracts.iter().find(|c| c.con_id == con_id) {
                Some(c) => {
                    out.push(frame(
                        incoming::CONTRACT_DATA,
                        Msg::new()
                            .int(1, i64::from(req_id))
                            .message(2, contract_msg(c.con_id, &c.symbol))
                            .message(
                                3,
                                Msg::new()
                                    .string(1, "NMS")
                                    .string(2, "0.01")
                                    .string(7, &c.long_name)
                                    .string(12, "US/Eastern"),
                            ),
                    ));
                    out.push(frame(
                        incoming::CONTRACT_DATA_END,
                        Msg::new().int(1, i64::from(req_id)),
                    ));
                }
                None => out.push(error(
                    req_id,
                    200,
                    "No security definition has been found for the request",
                )),
            }
            out
        }
        outgoing::REQUEST_POSITIONS => {
            let script = s.script.as_ref().unwrap();
            let mut out: Vec<Vec<u8>> = script
                .positions
                .iter()
                .map(|(account, con_id, qty)| {
                    frame(
                        incoming::POSITION,
                        Msg::new()
                            .string(1, account)
                            .message(2, contract_msg(*con_id, &symbol_of(script, *con_id)))
                            .string(3, &qty.to_string())
                            .double(4, 100.0),
                    )
                })
                .collect();
            out.push(frame(incoming::POSITION_END, Msg::new()));
            out
        }
        outgoing::REQUEST_OPEN_ORDERS | outgoing::REQUEST_ALL_OPEN_ORDERS => {
            let script = s.script.as_ref().unwrap();
            let mut out = Vec::new();
            for o in &script.open_orders {
                out.push(open_order(script, o));
                out.push(order_status(
                    o.client_id,
                    o.order_id,
                    &o.status,
                    o.filled,
                    o.qty - o.filled,
                    0.0,
                ));
            }
            out.push(frame(incoming::OPEN_ORDER_END, Msg::new()));
            out
        }
        outgoing::REQUEST_EXECUTIONS => {
            let script = s.script.as_ref().unwrap();
            let mut out = Vec::new();
            for fill in &script.fills {
                out.push(execution(script, fill, req_id));
                out.push(commission(&fill.exec_id));
            }
            out.push(frame(
                incoming::EXECUTION_DATA_END,
                Msg::new().int(1, i64::from(req_id)),
            ));
            out
        }
        outgoing::PLACE_ORDER => place(s, client, f),
        outgoing::CANCEL_ORDER => {
            let order_id = req_id;
            s.cancels.push(order_id);
            let script = s.script.as_mut().unwrap();
            match script
                .open_orders
                .iter()
                .position(|o| o.client_id == client && o.order_id == order_id)
            {
                Some(i) => {
                    let o = script.open_orders.remove(i);
                    vec![order_status(
                        o.client_id,
                        order_id,
                        "Cancelled",
                        o.filled,
                        o.qty - o.filled,
                        0.0,
                    )]
                }
                None => vec![error(
                    order_id,
                    10147,
                    &format!("OrderId {order_id} that needs to be cancelled is not found."),
                )],
            }
        }
        outgoing::REQUEST_TICK_BY_TICK => {
            let con_id = f.message(2).and_then(|c| c.int(1)).unwrap_or(0) as i32;
            let tick_type = f.string(3).unwrap_or_default();
            s.tick_requests.push((req_id, con_id, tick_type));
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn place(s: &mut Shared, client: i32, f: &Fields) -> Vec<Vec<u8>> {
    let order_id = f.int(1).unwrap_or(0) as i32;
    let contract = f.message(2).unwrap_or_default();
    let o = f.message(3).unwrap_or_default();
    let script = s.script.as_ref().unwrap();
    let order = FakeOrder {
        order_id,
        client_id: client,
        con_id: contract.int(1).unwrap_or(0) as i32,
        action: o.string(5).unwrap_or_default(),
        qty: o.string(6).and_then(|q| q.parse().ok()).unwrap_or(0.0),
        limit: o.double(9).unwrap_or(0.0),
        order_ref: o.string(28).unwrap_or_default(),
        account: o
            .string(12)
            .unwrap_or_else(|| script.managed_accounts.first().cloned().unwrap_or_default()),
        status: "Submitted".into(),
        filled: 0.0,
    };
    s.placed.push(order.clone());
    let on_place = script.on_place.clone();
    if on_place == OnPlace::DuplicateIdOnce && s.duplicate_refused.is_empty() {
        s.duplicate_refused.push(order_id);
        return vec![error(order_id, 103, "Duplicate order id")];
    }
    if let OnPlace::Reject(text) = &on_place {
        let mut rejected = order.clone();
        rejected.status = "Inactive".into();
        let script = s.script.as_ref().unwrap();
        return vec![
            error(order_id, 201, &format!("Order rejected - reason:{text}")),
            open_order(script, &rejected),
            order_status(order.client_id, order_id, "Inactive", 0.0, order.qty, 0.0),
        ];
    }
    if on_place == OnPlace::Ignore {
        return Vec::new();
    }
    let script = s.script.as_mut().unwrap();
    script.open_orders.push(order.clone());
    let mut out = Vec::new();
    let fast = matches!(on_place, OnPlace::Partials { fast: true, .. });
    if !fast {
        let script = s.script.as_ref().unwrap();
        out.push(open_order(script, &order));
        out.push(order_status(
            order.client_id,
            order_id,
            "Submitted",
            0.0,
            order.qty,
            0.0,
        ));
    }
    match on_place {
        OnPlace::Fill => out.extend(fill_order(s, client, order_id, order.qty, order.limit)),
        OnPlace::Partials { shares, .. } => {
            for q in shares {
                out.extend(fill_order(s, client, order_id, q, order.limit));
            }
        }
        _ => {}
    }
    out
}
