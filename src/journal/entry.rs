//! Typed entries ↔ record payloads. Every field of every variant is written, little-endian,
//! in declaration order, with no allocation; decoding checks every enum byte and the exact
//! payload length.
//!
//! | kind | entry | payload |
//! |---|---|---|
//! | 1 | `Command` | position u64, command tag u8, the command's fields (below) |
//! | 2 | `Report` | position u64, stamp (ts_recv u64, ts_event u64), cl_ord_id u64, price i64, qty u32, leaves u32, symbol u16, exec kind u8, side u8, reason u8 |
//! | 3 | `State` | position u64, state u8 (0 active, 1 reduce-only, 2 halted), cause u16 |
//! | 4 | `End` | position u64, digest u64 |
//! | 5 | `Operator` | position u64, command u8 (1 re-enable a symbol, 2 resume all), symbol u16 (0 for resume all) |
//! | 6 | `Level` | position u64, level u8 (0 normal, 1 reduced, 2 limited, 3 emergency), cause u8 (0 health, 1 operator) |
//! | 7 | `Schedule` | position u64, symbol u16, side u8, quantity u32, slices u16, start_ns u64, interval_ns u64, limit_offset i64 |
//! | 8 | `Slice` | position u64, parent u16, slice u16, fate u8 (1 sent, 2 refused), cl_ord_id u64 (0 if refused), code u8 (the refusal's reject code index; 0 if sent) |
//! | 9 | `Snapshot` | position u64, at u64 (event time), realised i64, unrealised i64 |
//!
//! Command tags: 1 `New` (stamp, cl_ord_id u64, price i64, qty u32, symbol u16, side u8
//! `B`/`S`, tif u8 0 day 1 ioc), 2 `Cancel` (stamp, cl_ord_id u64), 3 `CancelAll` (stamp),
//! 4 `Tick` (stamp, bid_px i64, ask_px i64, print_px i64, match_number u64, bid_qty u32, ask_qty u32,
//! print_qty u32, symbol u16, cause u8, status u8 as its ITCH letter), 5 `Watermark`
//! (stamp), 6 `EndOfSession` (stamp). Enum bytes are the `repr(u8)` discriminants.

use crate::msg::{
    ClOrdId, ExecKind, ExecReport, MarketView, OrderIntent, Price, RejectReason, Side, Stamp,
    SymbolId, TimeInForce, TradingStatus, VenueCommand, ViewCause,
};
use crate::sys::TradingState;

/// One journaled fact of a shard's session.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Entry {
    /// An order, cancel or mass-cancel intent (VenueCommand::New / Cancel / CancelAll),
    /// written before the command can reach the venue. `position` = the shard's input
    /// position (count of market events the shard had taken when it decided).
    Command {
        position: u64,
        command: VenueCommand,
    },
    /// An execution report from an asynchronous (live) venue, at the input position at
    /// which the shard applied it.
    Report { position: u64, report: ExecReport },
    /// A trading-state change (Active / ReduceOnly / Halted) and why (a small code).
    State {
        position: u64,
        state: TradingState,
        cause: u16,
    },
    /// The shard finished its session: its final input position and decision digest.
    End { position: u64, digest: u64 },
    /// An operator's command applied after the decision at `position`: `command` is
    /// [`OPERATOR_REENABLE`] (of `symbol`) or [`OPERATOR_RESUME_ALL`] (`symbol` 0).
    Operator {
        position: u64,
        command: u8,
        symbol: u16,
    },
    /// The coordinator's degradation level changed, and why.
    Level { position: u64, level: u8, cause: u8 },
    /// A parent order (DCA/TWAP) an operator added.
    Schedule {
        position: u64,
        symbol: u16,
        side: Side,
        quantity: u32,
        slices: u16,
        start_ns: u64,
        interval_ns: u64,
        limit_offset: Price,
    },
    /// What became of one slice of a parent order: [`SLICE_SENT`] as `cl_ord_id`, or
    /// [`SLICE_REFUSED`] by the check whose reject code index is `code`.
    Slice {
        position: u64,
        parent: u16,
        slice: u16,
        fate: u8,
        cl_ord_id: u64,
        code: u8,
    },
    /// The shard's P&L at event time `at`.
    Snapshot {
        position: u64,
        at: u64,
        realised: Price,
        unrealised: Price,
    },
}

/// [`Entry::Slice`]'s fates.
pub const SLICE_SENT: u8 = 1;
pub const SLICE_REFUSED: u8 = 2;

/// How many levels and level causes [`Entry::Level`] may name.
const LEVELS: u8 = 4;
const LEVEL_CAUSES: u8 = 2;

/// [`Entry::Operator`]'s commands.
pub const OPERATOR_REENABLE: u8 = 1;
pub const OPERATOR_RESUME_ALL: u8 = 2;

pub const KIND_COMMAND: u8 = 1;
pub const KIND_REPORT: u8 = 2;
pub const KIND_STATE: u8 = 3;
pub const KIND_END: u8 = 4;
pub const KIND_OPERATOR: u8 = 5;
pub const KIND_LEVEL: u8 = 6;
pub const KIND_SCHEDULE: u8 = 7;
pub const KIND_SLICE: u8 = 8;
pub const KIND_SNAPSHOT: u8 = 9;

/// Room for the largest payload an [`Entry`] encodes to (a `Tick` command: 73 bytes).
pub const MAX_PAYLOAD: usize = 80;

/// The name of a record kind, for inspect; `None` for a kind this build does not know.
pub fn kind_name(kind: u8) -> Option<&'static str> {
    match kind {
        KIND_COMMAND => Some("command"),
        KIND_REPORT => Some("report"),
        KIND_STATE => Some("state"),
        KIND_END => Some("end"),
        KIND_OPERATOR => Some("operator"),
        KIND_LEVEL => Some("level"),
        KIND_SCHEDULE => Some("schedule"),
        KIND_SLICE => Some("slice"),
        KIND_SNAPSHOT => Some("snapshot"),
        _ => None,
    }
}

/// Why a CRC-valid payload did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    UnknownKind(u8),
    Malformed(&'static str),
}

impl Entry {
    pub fn kind(&self) -> u8 {
        match self {
            Entry::Command { .. } => KIND_COMMAND,
            Entry::Report { .. } => KIND_REPORT,
            Entry::State { .. } => KIND_STATE,
            Entry::End { .. } => KIND_END,
            Entry::Operator { .. } => KIND_OPERATOR,
            Entry::Level { .. } => KIND_LEVEL,
            Entry::Schedule { .. } => KIND_SCHEDULE,
            Entry::Slice { .. } => KIND_SLICE,
            Entry::Snapshot { .. } => KIND_SNAPSHOT,
        }
    }

    /// Writes the payload into `out` (at least [`MAX_PAYLOAD`] bytes); returns its length.
    #[inline]
    pub fn encode(&self, out: &mut [u8]) -> usize {
        let mut p = Put { buf: out, at: 0 };
        match *self {
            Entry::Command { position, command } => {
                p.u64(position);
                put_command(&mut p, &command);
            }
            Entry::Report { position, report } => {
                p.u64(position);
                p.stamp(report.stamp);
                p.u64(report.cl_ord_id.0);
                p.i64(report.price.0);
                p.u32(report.qty);
                p.u32(report.leaves);
                p.u16(report.symbol.0);
                p.u8(report.kind as u8);
                p.u8(report.side as u8);
                p.u8(report.reason as u8);
            }
            Entry::State {
                position,
                state,
                cause,
            } => {
                p.u64(position);
                p.u8(state as u8);
                p.u16(cause);
            }
            Entry::End { position, digest } => {
                p.u64(position);
                p.u64(digest);
            }
            Entry::Operator {
                position,
                command,
                symbol,
            } => {
                p.u64(position);
                p.u8(command);
                p.u16(symbol);
            }
            Entry::Level {
                position,
                level,
                cause,
            } => {
                p.u64(position);
                p.u8(level);
                p.u8(cause);
            }
            Entry::Schedule {
                position,
                symbol,
                side,
                quantity,
                slices,
                start_ns,
                interval_ns,
                limit_offset,
            } => {
                p.u64(position);
                p.u16(symbol);
                p.u8(side as u8);
                p.u32(quantity);
                p.u16(slices);
                p.u64(start_ns);
                p.u64(interval_ns);
                p.i64(limit_offset.0);
            }
            Entry::Slice {
                position,
                parent,
                slice,
                fate,
                cl_ord_id,
                code,
            } => {
                p.u64(position);
                p.u16(parent);
                p.u16(slice);
                p.u8(fate);
                p.u64(cl_ord_id);
                p.u8(code);
            }
            Entry::Snapshot {
                position,
                at,
                realised,
                unrealised,
            } => {
                p.u64(position);
                p.u64(at);
                p.i64(realised.0);
                p.i64(unrealised.0);
            }
        }
        p.at
    }

    pub fn decode(kind: u8, payload: &[u8]) -> Result<Entry, DecodeError> {
        let mut g = Get {
            buf: payload,
            at: 0,
        };
        let entry = match kind {
            KIND_COMMAND => Entry::Command {
                position: g.u64()?,
                command: get_command(&mut g)?,
            },
            KIND_REPORT => Entry::Report {
                position: g.u64()?,
                report: ExecReport {
                    stamp: g.stamp()?,
                    cl_ord_id: ClOrdId(g.u64()?),
                    price: Price(g.i64()?),
                    qty: g.u32()?,
                    leaves: g.u32()?,
                    symbol: SymbolId(g.u16()?),
                    kind: exec_kind(g.u8()?)?,
                    side: side(g.u8()?)?,
                    reason: reason(g.u8()?)?,
                    // Not journaled: only the simulated venue sets it, and its reports
                    // are re-derived by the replay, never journaled.
                    match_number: 0,
                },
            },
            KIND_STATE => Entry::State {
                position: g.u64()?,
                state: trading_state(g.u8()?)?,
                cause: g.u16()?,
            },
            KIND_END => Entry::End {
                position: g.u64()?,
                digest: g.u64()?,
            },
            KIND_OPERATOR => {
                let position = g.u64()?;
                let command = g.u8()?;
                let symbol = g.u16()?;
                let known = match command {
                    OPERATOR_REENABLE => true,
                    OPERATOR_RESUME_ALL => symbol == 0,
                    _ => false,
                };
                if !known {
                    return Err(DecodeError::Malformed("operator command"));
                }
                Entry::Operator {
                    position,
                    command,
                    symbol,
                }
            }
            KIND_LEVEL => {
                let (position, level, cause) = (g.u64()?, g.u8()?, g.u8()?);
                if level >= LEVELS || cause >= LEVEL_CAUSES {
                    return Err(DecodeError::Malformed("level or its cause"));
                }
                Entry::Level {
                    position,
                    level,
                    cause,
                }
            }
            KIND_SCHEDULE => Entry::Schedule {
                position: g.u64()?,
                symbol: g.u16()?,
                side: side(g.u8()?)?,
                quantity: g.u32()?,
                slices: g.u16()?,
                start_ns: g.u64()?,
                interval_ns: g.u64()?,
                limit_offset: Price(g.i64()?),
            },
            KIND_SLICE => {
                let (position, parent, slice) = (g.u64()?, g.u16()?, g.u16()?);
                let (fate, cl_ord_id, code) = (g.u8()?, g.u64()?, g.u8()?);
                let known = match fate {
                    SLICE_SENT => code == 0,
                    SLICE_REFUSED => cl_ord_id == 0,
                    _ => false,
                };
                if !known {
                    return Err(DecodeError::Malformed("slice fate"));
                }
                Entry::Slice {
                    position,
                    parent,
                    slice,
                    fate,
                    cl_ord_id,
                    code,
                }
            }
            KIND_SNAPSHOT => Entry::Snapshot {
                position: g.u64()?,
                at: g.u64()?,
                realised: Price(g.i64()?),
                unrealised: Price(g.i64()?),
            },
            other => return Err(DecodeError::UnknownKind(other)),
        };
        if g.at != payload.len() {
            return Err(DecodeError::Malformed("payload longer than its entry"));
        }
        Ok(entry)
    }
}

fn put_command(p: &mut Put<'_>, command: &VenueCommand) {
    match *command {
        VenueCommand::New { stamp, order } => {
            p.u8(1);
            p.stamp(stamp);
            p.u64(order.cl_ord_id.0);
            p.i64(order.price.0);
            p.u32(order.qty);
            p.u16(order.symbol.0);
            p.u8(order.side as u8);
            p.u8(order.tif as u8);
        }
        VenueCommand::Cancel { stamp, cl_ord_id } => {
            p.u8(2);
            p.stamp(stamp);
            p.u64(cl_ord_id.0);
        }
        VenueCommand::CancelAll { stamp } => {
            p.u8(3);
            p.stamp(stamp);
        }
        VenueCommand::Tick { view } => {
            p.u8(4);
            p.stamp(view.stamp);
            p.i64(view.bid_px.0);
            p.i64(view.ask_px.0);
            p.i64(view.print_px.0);
            p.u64(view.match_number);
            p.u32(view.bid_qty);
            p.u32(view.ask_qty);
            p.u32(view.print_qty);
            p.u16(view.symbol.0);
            p.u8(view.cause as u8);
            p.u8(view.status as u8);
        }
        VenueCommand::Watermark { stamp } => {
            p.u8(5);
            p.stamp(stamp);
        }
        VenueCommand::EndOfSession { stamp } => {
            p.u8(6);
            p.stamp(stamp);
        }
    }
}

fn get_command(g: &mut Get<'_>) -> Result<VenueCommand, DecodeError> {
    Ok(match g.u8()? {
        1 => VenueCommand::New {
            stamp: g.stamp()?,
            order: OrderIntent {
                cl_ord_id: ClOrdId(g.u64()?),
                price: Price(g.i64()?),
                qty: g.u32()?,
                symbol: SymbolId(g.u16()?),
                side: side(g.u8()?)?,
                tif: tif(g.u8()?)?,
            },
        },
        2 => VenueCommand::Cancel {
            stamp: g.stamp()?,
            cl_ord_id: ClOrdId(g.u64()?),
        },
        3 => VenueCommand::CancelAll { stamp: g.stamp()? },
        4 => VenueCommand::Tick {
            view: MarketView {
                stamp: g.stamp()?,
                bid_px: Price(g.i64()?),
                ask_px: Price(g.i64()?),
                print_px: Price(g.i64()?),
                match_number: g.u64()?,
                bid_qty: g.u32()?,
                ask_qty: g.u32()?,
                print_qty: g.u32()?,
                symbol: SymbolId(g.u16()?),
                cause: view_cause(g.u8()?)?,
                status: status(g.u8()?)?,
            },
        },
        5 => VenueCommand::Watermark { stamp: g.stamp()? },
        6 => VenueCommand::EndOfSession { stamp: g.stamp()? },
        _ => return Err(DecodeError::Malformed("unknown command tag")),
    })
}

fn side(b: u8) -> Result<Side, DecodeError> {
    match b {
        b'B' => Ok(Side::Buy),
        b'S' => Ok(Side::Sell),
        _ => Err(DecodeError::Malformed("bad side")),
    }
}

fn tif(b: u8) -> Result<TimeInForce, DecodeError> {
    match b {
        0 => Ok(TimeInForce::Day),
        1 => Ok(TimeInForce::Ioc),
        _ => Err(DecodeError::Malformed("bad time in force")),
    }
}

fn trading_state(b: u8) -> Result<TradingState, DecodeError> {
    match b {
        0 => Ok(TradingState::Active),
        1 => Ok(TradingState::ReduceOnly),
        2 => Ok(TradingState::Halted),
        _ => Err(DecodeError::Malformed("bad trading state")),
    }
}

fn exec_kind(b: u8) -> Result<ExecKind, DecodeError> {
    const ALL: [ExecKind; 9] = [
        ExecKind::Ack,
        ExecKind::Fill,
        ExecKind::Cancelled,
        ExecKind::Rejected,
        ExecKind::CancelRejected,
        ExecKind::Watermark,
        ExecKind::EndOfSession,
        ExecKind::VenueDown,
        ExecKind::VenueUp,
    ];
    by_discriminant(&ALL, b, |k| *k as u8).ok_or(DecodeError::Malformed("bad exec kind"))
}

fn reason(b: u8) -> Result<RejectReason, DecodeError> {
    const ALL: [RejectReason; 11] = [
        RejectReason::None,
        RejectReason::Halted,
        RejectReason::UnknownOrder,
        RejectReason::Requested,
        RejectReason::ImmediateOrCancel,
        RejectReason::EndOfSession,
        RejectReason::DuplicateId,
        RejectReason::NoMarket,
        RejectReason::Broker,
        RejectReason::Disconnected,
        RejectReason::Reconciliation,
    ];
    by_discriminant(&ALL, b, |r| *r as u8).ok_or(DecodeError::Malformed("bad reject reason"))
}

fn view_cause(b: u8) -> Result<ViewCause, DecodeError> {
    const ALL: [ViewCause; 10] = [
        ViewCause::Quote,
        ViewCause::Status,
        ViewCause::BidHit,
        ViewCause::AskLifted,
        ViewCause::Cross,
        ViewCause::Hidden,
        ViewCause::ShortSaleRestricted,
        ViewCause::ShortSaleLifted,
        ViewCause::CircuitBreaker,
        ViewCause::BrokenTrade,
    ];
    by_discriminant(&ALL, b, |c| *c as u8).ok_or(DecodeError::Malformed("bad view cause"))
}

fn status(b: u8) -> Result<TradingStatus, DecodeError> {
    const ALL: [TradingStatus; 7] = [
        TradingStatus::Trading,
        TradingStatus::Halted,
        TradingStatus::Paused,
        TradingStatus::QuotationOnly,
        TradingStatus::Unknown,
        TradingStatus::FeedStale,
        TradingStatus::BookCrossed,
    ];
    by_discriminant(&ALL, b, |s| *s as u8).ok_or(DecodeError::Malformed("bad trading status"))
}

fn by_discriminant<T: Copy>(all: &[T], b: u8, code: impl Fn(&T) -> u8) -> Option<T> {
    all.iter().find(|v| code(v) == b).copied()
}

struct Put<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Put<'_> {
    #[inline]
    fn bytes<const N: usize>(&mut self, b: [u8; N]) {
        self.buf[self.at..self.at + N].copy_from_slice(&b);
        self.at += N;
    }
    fn u8(&mut self, v: u8) {
        self.bytes([v]);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.bytes(v.to_le_bytes());
    }
    fn stamp(&mut self, s: Stamp) {
        self.u64(s.ts_recv);
        self.u64(s.ts_event);
    }
}

struct Get<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Get<'_> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.at + N;
        let slice = self
            .buf
            .get(self.at..end)
            .ok_or(DecodeError::Malformed("payload shorter than its entry"))?;
        self.at = end;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        self.bytes().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.bytes().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.bytes().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        self.bytes().map(i64::from_le_bytes)
    }
    fn stamp(&mut self) -> Result<Stamp, DecodeError> {
        Ok(Stamp {
            ts_recv: self.u64()?,
            ts_event: self.u64()?,
        })
    }
}

/// Strategies for every entry, for the round-trip property tests here and in the reader.
#[cfg(test)]
pub(crate) mod arb {
    use super::*;
    use proptest::prelude::*;

    fn stamp() -> impl Strategy<Value = Stamp> {
        (any::<u64>(), any::<u64>()).prop_map(|(ts_recv, ts_event)| Stamp { ts_recv, ts_event })
    }

    fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
        (0..all.len()).prop_map(move |i| all[i])
    }

    fn command() -> impl Strategy<Value = VenueCommand> {
        let new = (
            stamp(),
            any::<u64>(),
            any::<i64>(),
            any::<u32>(),
            any::<u16>(),
            pick(&[Side::Buy, Side::Sell]),
            pick(&[TimeInForce::Day, TimeInForce::Ioc]),
        )
            .prop_map(|(stamp, id, px, qty, sym, side, tif)| VenueCommand::New {
                stamp,
                order: OrderIntent {
                    cl_ord_id: ClOrdId(id),
                    price: Price(px),
                    qty,
                    symbol: SymbolId(sym),
                    side,
                    tif,
                },
            });
        let tick = (
            stamp(),
            any::<(i64, i64, i64, u64)>(),
            any::<(u32, u32, u32)>(),
            any::<u16>(),
            pick(&[
                ViewCause::Quote,
                ViewCause::Status,
                ViewCause::BidHit,
                ViewCause::AskLifted,
                ViewCause::Cross,
                ViewCause::Hidden,
                ViewCause::ShortSaleRestricted,
                ViewCause::ShortSaleLifted,
                ViewCause::CircuitBreaker,
                ViewCause::BrokenTrade,
            ]),
            pick(&[
                TradingStatus::Trading,
                TradingStatus::Halted,
                TradingStatus::Paused,
                TradingStatus::QuotationOnly,
                TradingStatus::Unknown,
                TradingStatus::FeedStale,
                TradingStatus::BookCrossed,
            ]),
        )
            .prop_map(|(stamp, px, qty, sym, cause, status)| VenueCommand::Tick {
                view: MarketView {
                    stamp,
                    bid_px: Price(px.0),
                    ask_px: Price(px.1),
                    print_px: Price(px.2),
                    bid_qty: qty.0,
                    ask_qty: qty.1,
                    print_qty: qty.2,
                    symbol: SymbolId(sym),
                    cause,
                    status,
                    match_number: px.3,
                },
            });
        prop_oneof![
            new,
            (stamp(), any::<u64>()).prop_map(|(stamp, id)| VenueCommand::Cancel {
                stamp,
                cl_ord_id: ClOrdId(id)
            }),
            stamp().prop_map(|stamp| VenueCommand::CancelAll { stamp }),
            tick,
            stamp().prop_map(|stamp| VenueCommand::Watermark { stamp }),
            stamp().prop_map(|stamp| VenueCommand::EndOfSession { stamp }),
        ]
    }

    fn report() -> impl Strategy<Value = ExecReport> {
        (
            stamp(),
            any::<u64>(),
            any::<i64>(),
            any::<(u32, u32)>(),
            any::<u16>(),
            pick(&[
                ExecKind::Ack,
                ExecKind::Fill,
                ExecKind::Cancelled,
                ExecKind::Rejected,
                ExecKind::CancelRejected,
                ExecKind::Watermark,
                ExecKind::EndOfSession,
                ExecKind::VenueDown,
                ExecKind::VenueUp,
            ]),
            pick(&[Side::Buy, Side::Sell]),
            pick(&[
                RejectReason::None,
                RejectReason::Halted,
                RejectReason::UnknownOrder,
                RejectReason::Requested,
                RejectReason::ImmediateOrCancel,
                RejectReason::EndOfSession,
                RejectReason::DuplicateId,
                RejectReason::NoMarket,
                RejectReason::Broker,
                RejectReason::Disconnected,
                RejectReason::Reconciliation,
            ]),
        )
            .prop_map(|(stamp, id, px, (qty, leaves), sym, kind, side, reason)| {
                ExecReport {
                    stamp,
                    cl_ord_id: ClOrdId(id),
                    price: Price(px),
                    qty,
                    leaves,
                    symbol: SymbolId(sym),
                    kind,
                    side,
                    reason,
                    match_number: 0,
                }
            })
    }

    pub fn entry() -> impl Strategy<Value = Entry> {
        prop_oneof![
            (any::<u64>(), command())
                .prop_map(|(position, command)| Entry::Command { position, command }),
            (any::<u64>(), report())
                .prop_map(|(position, report)| Entry::Report { position, report }),
            (
                any::<u64>(),
                pick(&[
                    TradingState::Active,
                    TradingState::ReduceOnly,
                    TradingState::Halted
                ]),
                any::<u16>()
            )
                .prop_map(|(position, state, cause)| Entry::State {
                    position,
                    state,
                    cause
                }),
            (any::<u64>(), any::<u64>())
                .prop_map(|(position, digest)| Entry::End { position, digest }),
            (any::<u64>(), any::<u16>()).prop_map(|(position, symbol)| Entry::Operator {
                position,
                command: OPERATOR_REENABLE,
                symbol
            }),
            any::<u64>().prop_map(|position| Entry::Operator {
                position,
                command: OPERATOR_RESUME_ALL,
                symbol: 0
            }),
            (any::<u64>(), 0..LEVELS, 0..LEVEL_CAUSES).prop_map(|(position, level, cause)| {
                Entry::Level {
                    position,
                    level,
                    cause,
                }
            }),
            (
                any::<u64>(),
                any::<u16>(),
                pick(&[Side::Buy, Side::Sell]),
                any::<(u32, u16)>(),
                any::<(u64, u64, i64)>()
            )
                .prop_map(
                    |(position, symbol, side, (quantity, slices), (start_ns, interval_ns, off))| {
                        Entry::Schedule {
                            position,
                            symbol,
                            side,
                            quantity,
                            slices,
                            start_ns,
                            interval_ns,
                            limit_offset: Price(off),
                        }
                    }
                ),
            (
                any::<(u64, u16, u16)>(),
                any::<u64>(),
                any::<u8>(),
                any::<bool>()
            )
                .prop_map(|((position, parent, slice), id, code, sent)| Entry::Slice {
                    position,
                    parent,
                    slice,
                    fate: if sent { SLICE_SENT } else { SLICE_REFUSED },
                    cl_ord_id: if sent { id } else { 0 },
                    code: if sent { 0 } else { code },
                }),
            any::<(u64, u64, i64, i64)>().prop_map(|(position, at, r, u)| Entry::Snapshot {
                position,
                at,
                realised: Price(r),
                unrealised: Price(u),
            }),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_entry_round_trips(entry in arb::entry()) {
            let mut buf = [0u8; MAX_PAYLOAD];
            let len = entry.encode(&mut buf);
            prop_assert_eq!(Entry::decode(entry.kind(), &buf[..len]), Ok(entry));
            // One byte short or long is refused, never misread.
            prop_assert!(Entry::decode(entry.kind(), &buf[..len - 1]).is_err());
            prop_assert!(Entry::decode(entry.kind(), &buf[..len + 1]).is_err());
        }
    }

    #[test]
    fn the_largest_entry_fits_max_payload() {
        let tick = Entry::Command {
            position: 0,
            command: VenueCommand::Tick {
                view: MarketView {
                    stamp: Stamp::default(),
                    bid_px: Price(0),
                    ask_px: Price(0),
                    print_px: Price(0),
                    bid_qty: 0,
                    ask_qty: 0,
                    print_qty: 0,
                    symbol: SymbolId(0),
                    cause: ViewCause::Quote,
                    status: TradingStatus::Trading,
                    match_number: 0,
                },
            },
        };
        assert_eq!(tick.encode(&mut [0u8; MAX_PAYLOAD]), 73);
    }

    #[test]
    fn an_unknown_operator_command_is_refused() {
        let mut buf = [0u8; MAX_PAYLOAD];
        for (command, symbol) in [(0, 0), (3, 0), (OPERATOR_RESUME_ALL, 7)] {
            let len = Entry::Operator {
                position: 1,
                command,
                symbol,
            }
            .encode(&mut buf);
            assert_eq!(
                Entry::decode(KIND_OPERATOR, &buf[..len]),
                Err(DecodeError::Malformed("operator command"))
            );
        }
    }

    #[test]
    fn an_unknown_level_or_slice_fate_is_refused() {
        let mut buf = [0u8; MAX_PAYLOAD];
        for (level, cause) in [(LEVELS, 0), (0, LEVEL_CAUSES)] {
            let len = Entry::Level {
                position: 1,
                level,
                cause,
            }
            .encode(&mut buf);
            assert!(Entry::decode(KIND_LEVEL, &buf[..len]).is_err());
        }
        for (fate, cl_ord_id, code) in [(0, 0, 0), (SLICE_SENT, 5, 3), (SLICE_REFUSED, 5, 3)] {
            let len = Entry::Slice {
                position: 1,
                parent: 0,
                slice: 0,
                fate,
                cl_ord_id,
                code,
            }
            .encode(&mut buf);
            assert_eq!(
                Entry::decode(KIND_SLICE, &buf[..len]),
                Err(DecodeError::Malformed("slice fate"))
            );
        }
    }

    #[test]
    fn an_unknown_kind_is_named_not_misread() {
        assert_eq!(Entry::decode(10, &[]), Err(DecodeError::UnknownKind(10)));
        assert_eq!(kind_name(10), None);
    }
}
