//! The wire to TWS / IB Gateway (feature `ibkr`): [`IbWire`] implements the venue's
//! [`IbConnection`] over `ibapi`'s sync client, translating `ibapi`'s types into
//! [`IbEvent`]s; [`check`] is `tickpipe ibkr check`'s read-only look at the server.
//!
//! `ibapi`'s own reconnect is off (`max_reconnect_attempts(0)`): the venue decides when
//! to reconnect (backoff with jitter, then reconciliation), so a drop surfaces here as
//! [`IbEvent::ConnectionLost`] and [`IbConnection::reconnect`] builds a new client.
//!
//! `ibapi` reads the socket on its own thread and hands us messages over crossbeam
//! channels; [`IbWire::poll`] only drains those channels, so nothing IB sends ever runs
//! on, or touches, shard state.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use ibapi::accounts::PositionUpdate;
use ibapi::client::blocking::{Client, NoticeStream, Subscription};
use ibapi::contracts::{Contract, ContractDetails, Currency, Exchange, SecurityType};
use ibapi::orders::{
    Action, CommissionReport, ExecutionData, ExecutionFilter, ExecutionSide, Executions, Order,
    OrderData, OrderStatus, OrderUpdate, Orders, TimeInForce as IbTif,
};
use ibapi::subscriptions::SubscriptionItem;

use super::config::{AccountError, ContractConfig, IbkrConfig, check_account};
use super::events::{
    ConId, IbCommission, IbConnection, IbError, IbEvent, IbExecution, IbOpenOrder, IbOrder,
    IbOrderId, IbOrderStatus, IbPosition, IbSnapshot, IbStatus, LinkError, position, price, shares,
};
use crate::msg::{Side, TimeInForce};

/// How long a blocking request (snapshot, order ids, contract details) waits for its
/// answer: IB Gateway answers in milliseconds when healthy; 10 s means it is not (the
/// messages say "10 s": keep them in step).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The error code [`IbWire`] gives an [`IbError`] for a message it could not translate
/// exactly (a fractional quantity, a price out of range): not one of IB's codes, which
/// are all positive.
pub const UNTRANSLATABLE: i32 = -2;

/// Why the wire could not connect or answer.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("cannot connect to TWS/IB Gateway at {address} as client {client_id}: {cause}")]
    Connect {
        address: String,
        client_id: i64,
        cause: ibapi::Error,
    },
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("{what}: {source}")]
    Request { what: String, source: ibapi::Error },
    #[error("{what}: no answer within 10 s")]
    Timeout { what: String },
    #[error("{0}")]
    Untranslatable(String),
}

/// Connects as the config says, and checks the account against the server's managed
/// accounts (and `live`, the command line's `--live-account`) before returning.
fn connect(config: &IbkrConfig, live: bool) -> Result<Client, WireError> {
    let client = Client::builder()
        .address(config.address())
        .client_id(config.client_id as i32)
        .tcp_no_delay(true)
        .max_reconnect_attempts(0)
        .one_shot_timeout(REQUEST_TIMEOUT)
        .connect()
        .map_err(|cause| WireError::Connect {
            address: config.address(),
            client_id: config.client_id,
            cause,
        })?;
    check_account(config, live, client.handshake_managed_accounts())?;
    Ok(client)
}

/// The `ibapi` contract for a configured one (a stock, by `conId`).
fn ib_contract(con_id: ConId, c: &ContractConfig) -> Contract {
    Contract {
        contract_id: con_id,
        security_type: SecurityType::Stock,
        exchange: Exchange::from(c.exchange()),
        currency: Currency::from(c.currency()),
        ..Contract::default()
    }
}

/// One live connection: the client, its order-update and notice streams, and events
/// translated but not yet polled.
struct Session {
    client: Client,
    updates: Subscription<OrderUpdate>,
    notices: NoticeStream,
}

/// [`IbConnection`] over `ibapi`'s sync client.
pub struct IbWire {
    config: IbkrConfig,
    live: bool,
    /// Contract by `conId`, for placing orders.
    contracts: HashMap<ConId, Contract>,
    session: Option<Session>,
    pending: VecDeque<IbEvent>,
    started: Instant,
}

impl IbWire {
    /// Connects, checks the account, and opens the order-update and notice streams. The
    /// first events are `ManagedAccounts` and `NextValidId`, from the handshake.
    pub fn connect(config: &IbkrConfig, live: bool) -> Result<IbWire, WireError> {
        let contracts = config
            .contracts
            .values()
            .map(|c| (c.con_id as ConId, ib_contract(c.con_id as ConId, c)))
            .collect();
        let mut wire = IbWire {
            config: config.clone(),
            live,
            contracts,
            session: None,
            pending: VecDeque::new(),
            started: Instant::now(),
        };
        wire.open()?;
        Ok(wire)
    }

    fn open(&mut self) -> Result<(), WireError> {
        let client = connect(&self.config, self.live)?;
        let request = |what: &str, source| WireError::Request {
            what: what.into(),
            source,
        };
        let updates = client
            .order_update_stream()
            .map_err(|e| request("order update stream", e))?;
        let notices = client
            .notice_stream()
            .map_err(|e| request("notice stream", e))?;
        self.pending.push_back(IbEvent::ManagedAccounts(
            client.handshake_managed_accounts().to_vec(),
        ));
        self.pending
            .push_back(IbEvent::NextValidId(client.next_order_id()));
        self.session = Some(Session {
            client,
            updates,
            notices,
        });
        Ok(())
    }

    fn session(&self) -> Result<&Session, LinkError> {
        self.session.as_ref().ok_or(LinkError::Down)
    }

    /// Marks the connection lost (once) if `e` says it is.
    fn failed(&mut self, e: ibapi::Error) -> LinkError {
        if e.is_connection_lost()
            || matches!(e, ibapi::Error::Shutdown | ibapi::Error::ConnectionFailed)
        {
            self.lost();
            LinkError::Down
        } else {
            LinkError::Failed(e.to_string())
        }
    }

    fn lost(&mut self) {
        if self.session.take().is_some() {
            self.pending.push_back(IbEvent::ConnectionLost);
        }
    }
}

impl IbConnection for IbWire {
    fn place(&mut self, order: &IbOrder) -> Result<(), LinkError> {
        let contract = self.contracts.get(&order.con_id).ok_or_else(|| {
            LinkError::Failed(format!("no configured contract has conId {}", order.con_id))
        })?;
        let ib_order = Order {
            action: match order.side {
                Side::Buy => Action::Buy,
                Side::Sell => Action::Sell,
            },
            total_quantity: f64::from(order.qty),
            order_type: "LMT".into(),
            limit_price: Some(order.limit.0 as f64 / crate::msg::Price::SCALE as f64),
            tif: match order.tif {
                TimeInForce::Day => IbTif::Day,
                TimeInForce::Ioc => IbTif::ImmediateOrCancel,
            },
            order_ref: order.order_ref.clone(),
            account: self.config.account.clone(),
            transmit: true,
            ..Order::default()
        };
        let sent = self
            .session()?
            .client
            .submit_order(order.order_id, contract, &ib_order);
        sent.map_err(|e| self.failed(e))
    }

    fn cancel(&mut self, order_id: IbOrderId) -> Result<(), LinkError> {
        // The answer (orderStatus Cancelled, or error 10147/10148/202) reaches the
        // order-update stream too; the subscription this returns is not needed.
        let sent = self.session()?.client.cancel_order(order_id, "");
        sent.map(drop).map_err(|e| self.failed(e))
    }

    fn poll(&mut self) -> Option<IbEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            let session = self.session.as_ref()?;
            if let Some(notice) = session.notices.try_next() {
                return Some(IbEvent::Error(IbError {
                    id: notice.request_id.unwrap_or(-1),
                    code: notice.code,
                    text: notice.message,
                }));
            }
            match session.updates.try_next() {
                Some(Ok(SubscriptionItem::Data(update))) => {
                    if let Some(event) = translate_update(update) {
                        return Some(event);
                    }
                }
                Some(Ok(SubscriptionItem::Notice(notice))) => {
                    return Some(IbEvent::Error(IbError {
                        id: notice.request_id.unwrap_or(-1),
                        code: notice.code,
                        text: notice.message,
                    }));
                }
                Some(Err(e)) => {
                    let _ = self.failed(e);
                }
                None if !session.client.is_connected() => self.lost(),
                None => return None,
            }
        }
    }

    fn snapshot(&mut self) -> Result<IbSnapshot, LinkError> {
        let client = &self.session()?.client;
        let result = snapshot(client, &self.config.account);
        result.map_err(|e| match e {
            Snap::Ib(e) => self.failed(e),
            Snap::Timeout(what) => LinkError::Failed(format!("{what}: no answer within 10 s")),
            Snap::Untranslatable(what) => LinkError::Failed(what),
        })
    }

    fn next_valid_id(&mut self) -> Result<IbOrderId, LinkError> {
        let id = self.session()?.client.next_valid_order_id();
        id.map_err(|e| self.failed(e))
    }

    fn reconnect(&mut self) -> Result<(), LinkError> {
        if let Some(old) = self.session.take() {
            old.client.disconnect();
        }
        // No `ConnectionRestored` here: the venue asked, and reconciles on its own
        // answer; the event would have it reconcile twice (and report Down/Up again).
        // `ibapi` never reconnects by itself (attempts 0), so the event is never sent.
        match self.open() {
            Ok(()) => Ok(()),
            Err(WireError::Account(e)) => Err(LinkError::Failed(e.to_string())),
            Err(_) => Err(LinkError::Down),
        }
    }

    fn now_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }
}

fn side_of(action: &Action) -> Side {
    match action {
        Action::Buy => Side::Buy,
        _ => Side::Sell,
    }
}

fn untranslatable(id: i32, what: String) -> IbEvent {
    IbEvent::Error(IbError {
        id,
        code: UNTRANSLATABLE,
        text: what,
    })
}

/// One order update as the venue's event; `None` for what the venue does not use
/// (`orderBound`).
fn translate_update(update: OrderUpdate) -> Option<IbEvent> {
    Some(match update {
        OrderUpdate::OrderStatus(s) => status(&s),
        OrderUpdate::OpenOrder(o) => open_order(&o),
        OrderUpdate::ExecutionData(e) => execution(&e),
        OrderUpdate::CommissionReport(c) => commission(c),
        OrderUpdate::OrderBound(_) => return None,
    })
}

fn status(s: &OrderStatus) -> IbEvent {
    let (Some(filled), Some(remaining)) = (shares(s.filled), shares(s.remaining)) else {
        return untranslatable(
            s.order_id,
            format!(
                "orderStatus of order {}: filled {} / remaining {} are not whole shares",
                s.order_id, s.filled, s.remaining
            ),
        );
    };
    IbEvent::OrderStatus(IbOrderStatus {
        order_id: s.order_id,
        status: IbStatus::parse(s.status.as_str()),
        filled,
        remaining,
        avg_price: s.average_fill_price.and_then(price),
    })
}

fn open_order_fact(o: &OrderData) -> Result<IbOpenOrder, String> {
    let qty = shares(o.order.total_quantity).ok_or_else(|| {
        format!(
            "openOrder {}: quantity {} is not whole shares",
            o.order_id, o.order.total_quantity
        )
    })?;
    Ok(IbOpenOrder {
        order_id: o.order_id,
        order_ref: o.order.order_ref.clone(),
        con_id: o.contract.contract_id,
        side: side_of(&o.order.action),
        qty,
        limit: o.order.limit_price.and_then(price),
        status: IbStatus::parse(o.order_state.status.as_str()),
    })
}

fn open_order(o: &OrderData) -> IbEvent {
    match open_order_fact(o) {
        Ok(fact) => IbEvent::OpenOrder(fact),
        Err(what) => untranslatable(o.order_id, what),
    }
}

fn execution_fact(e: &ExecutionData) -> Result<IbExecution, String> {
    let x = &e.execution;
    let (Some(shares), Some(cum_qty), Some(px)) = (
        shares(x.shares),
        shares(x.cumulative_quantity),
        price(x.price),
    ) else {
        return Err(format!(
            "execution {} of order {}: {} shares at {} (cumulative {}) is not whole shares at a \
             representable price",
            x.execution_id, x.order_id, x.shares, x.price, x.cumulative_quantity
        ));
    };
    Ok(IbExecution {
        exec_id: x.execution_id.clone(),
        order_id: x.order_id,
        order_ref: x.order_reference.clone(),
        con_id: e.contract.contract_id,
        side: match x.side {
            ExecutionSide::Bought => Side::Buy,
            ExecutionSide::Sold => Side::Sell,
        },
        shares,
        price: px,
        cum_qty,
        time: x.time.clone(),
    })
}

fn execution(e: &ExecutionData) -> IbEvent {
    match execution_fact(e) {
        Ok(fact) => IbEvent::Execution(fact),
        Err(what) => untranslatable(e.execution.order_id, what),
    }
}

fn commission(c: CommissionReport) -> IbEvent {
    IbEvent::Commission(IbCommission {
        exec_id: c.execution_id,
        commission: c.commission,
        currency: c.currency,
    })
}

enum Snap {
    Ib(ibapi::Error),
    Timeout(&'static str),
    Untranslatable(String),
}

/// A request read to its end marker failed: `what` timed out, or why not.
fn unanswered(e: ibapi::Error, what: &'static str) -> Snap {
    match e {
        ibapi::Error::Timeout => Snap::Timeout(what),
        e => Snap::Ib(e),
    }
}

fn snapshot(client: &Client, account: &str) -> Result<IbSnapshot, Snap> {
    let mut snap = IbSnapshot::default();

    let orders = client.all_open_orders().map_err(Snap::Ib)?;
    let orders = orders
        .collect_to_end_within(REQUEST_TIMEOUT)
        .map_err(|e| unanswered(e, "open orders"))?;
    for o in orders {
        if let Orders::OrderData(o) = o {
            snap.open_orders
                .push(open_order_fact(&o).map_err(Snap::Untranslatable)?);
        }
    }

    let filter = ExecutionFilter {
        account_code: account.to_string(),
        ..ExecutionFilter::default()
    };
    let executions = client.executions(filter).map_err(Snap::Ib)?;
    let executions = executions
        .collect_to_end_within(REQUEST_TIMEOUT)
        .map_err(|e| unanswered(e, "executions"))?;
    for e in executions {
        if let Executions::ExecutionData(e) = e {
            snap.executions
                .push(execution_fact(&e).map_err(Snap::Untranslatable)?);
        }
    }

    let positions = client.positions().map_err(Snap::Ib)?;
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match positions.next_timeout(left) {
            Some(Ok(SubscriptionItem::Data(PositionUpdate::Position(p)))) => {
                if p.account != account {
                    continue;
                }
                let qty = position(p.position).ok_or_else(|| {
                    Snap::Untranslatable(format!(
                        "position in conId {}: {} is not whole shares",
                        p.contract.contract_id, p.position
                    ))
                })?;
                snap.positions.push(IbPosition {
                    account: p.account,
                    con_id: p.contract.contract_id,
                    position: qty,
                });
            }
            Some(Ok(SubscriptionItem::Data(PositionUpdate::PositionEnd))) => break,
            Some(Ok(SubscriptionItem::Notice(_))) => {}
            Some(Err(e)) => return Err(Snap::Ib(e)),
            None => return Err(Snap::Timeout("positions")),
        }
    }
    positions.cancel();
    Ok(snap)
}

/// What `tickpipe ibkr check` shows: the server as tickpipe sees it, read-only.
#[derive(Debug)]
pub struct CheckReport {
    pub address: String,
    pub server_version: i32,
    pub managed_accounts: Vec<String>,
    /// Per configured ticker: IB's details of its `con_id`, or why there are none.
    pub contracts: Vec<(String, Result<ContractSummary, String>)>,
    /// Open orders, executions since the session start, and the account's positions.
    pub snapshot: IbSnapshot,
}

/// The parts of IB's contract details `check` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractSummary {
    pub con_id: i32,
    pub symbol: String,
    pub long_name: String,
    pub exchange: String,
    pub primary_exchange: String,
    pub currency: String,
    pub min_tick: f64,
}

fn summary(d: &ContractDetails) -> ContractSummary {
    ContractSummary {
        con_id: d.contract.contract_id,
        symbol: d.contract.symbol.to_string(),
        long_name: d.long_name.clone(),
        exchange: d.contract.exchange.to_string(),
        primary_exchange: d.contract.primary_exchange.to_string(),
        currency: d.contract.currency.to_string(),
        min_tick: d.min_tick,
    }
}

/// Connects, checks the account (`live`: `--live-account`), and reads the server's
/// version, managed accounts, each configured contract's details, positions and open
/// orders. Sends no order.
pub fn check(config: &IbkrConfig, live: bool) -> Result<CheckReport, WireError> {
    let client = connect(config, live)?;
    let mut contracts = Vec::new();
    for (ticker, c) in &config.contracts {
        let contract = ib_contract(c.con_id as ConId, c);
        let found = match client.contract_details(&contract) {
            Ok(details) => match details.as_slice() {
                [one] => Ok(summary(one)),
                [] => Err("IB knows no such contract".to_string()),
                many => Err(format!("{} contracts match; expected one", many.len())),
            },
            Err(e) => Err(e.to_string()),
        };
        contracts.push((ticker.clone(), found));
    }
    let snapshot = snapshot(&client, &config.account).map_err(|e| match e {
        Snap::Ib(source) => WireError::Request {
            what: "reconciliation snapshot".into(),
            source,
        },
        Snap::Timeout(what) => WireError::Timeout { what: what.into() },
        Snap::Untranslatable(what) => WireError::Untranslatable(what),
    })?;
    let report = CheckReport {
        address: config.address(),
        server_version: client.server_version(),
        managed_accounts: client.handshake_managed_accounts().to_vec(),
        contracts,
        snapshot,
    };
    client.disconnect();
    Ok(report)
}
