//! `tickpipe inspect`: what an ITCH 5.0 file holds, and what in it is malformed.
//!
//! [`inspect`] counts the well-formed messages by type and replays every symbol's book to
//! the end of the file, reporting each symbol's final best bid and ask (price and
//! aggregate shares) and its ITCH trading state. It covers every symbol the file's stock
//! directory (`R`) names, not only the configured universe: [`SymbolId`]s are assigned
//! here, in order of first appearance, and the [`BookSet`] knows nothing of a universe.
//! Messages become book events through the decode stage's own mapping (`decode::update`),
//! so the books end where the pipeline's would.
//!
//! Two passes over the bytes: the first frames the file and decodes only directory
//! entries (every other frame costs a type-byte test), so the book set can be built with
//! every symbol's book, since it is sized at construction; the second decodes and applies.
//! A file is streamed twice through one block buffer, so its size costs no memory; a
//! pipe cannot be read twice, so it is held in memory, up to [`MAX_UNSEEKABLE_BYTES`].
//!
//! Timestamps are checked against event time as the pipeline's source keeps it
//! ([`EventClock`]): a message stamped before an earlier one (`TIME_REGRESSION`), or at
//! 24 h or later (`BAD_TIMESTAMP`), is a problem, though the pipeline replays it
//! restamped.
//!
//! Bad input never stops the inspection while the framing still lines up. Each problem is
//! counted under a stable code (`WRONG_LENGTH`, `UNKNOWN_REF`, …), and the first
//! [`FIRST_KEPT`] of each code keep their byte offset and message type. Only a
//! truncation — a length prefix promising more bytes than remain — ends the pass, since
//! nothing after it can be framed; its offset is reported like any other. A length prefix
//! that does not frame its message and is not followed by well-formed frames loses the
//! framing: `DESYNC` counts it, with the bytes skipped to where the framing holds again.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, Read, Seek};
use std::ops::ControlFlow;

use serde_json::{Map, Value, json};

use crate::codec::itch::{
    self, Frame, FrameError, FrameReader, Framer, LengthError, MESSAGE_KINDS, Message,
};
use crate::msg::SymbolId;
use crate::source::event_clock::{EventClock, Timing};
use crate::stages::decode;
use crate::stages::features::book::{BookError, BookSet, Capacity, Level};

/// The most bytes of a pipe (or any input that cannot be read twice) held in memory
/// for the two passes: 4 GiB, about 130 million messages at the sample session's 32.6
/// bytes each. A larger capture is inspected from a file, which streams.
pub const MAX_UNSEEKABLE_BYTES: u64 = 4 << 30;

/// Problems of one code kept with their offset; past this only the count grows, so a
/// file that is wrong throughout still gives a short report.
pub const FIRST_KEPT: usize = 5;

/// Every value a stock locate, and so a `SymbolId` here, can take.
const LOCATES: usize = 1 << 16;

/// Initial book storage. Inspection is not latency-bound, so the set starts small and
/// grows as the file needs (doubling, so a large file pays amortised growth only): the
/// most symbols a file can name (65 536) then cost 2 sides × 8 levels × 24 bytes, about
/// 25 MB, up front, and the order map 196 KB. Small also keeps a small file, or a fuzz
/// input, cheap, and a map that fits in L2 is faster while the file's live orders fit it
/// (`BENCHMARKS.md`, "Feed").
const CAPACITY: Capacity = Capacity {
    max_orders: 1 << 12,
    max_levels: 8,
};

/// One thing wrong in the input, where it is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The input does not split into frames: a truncation, which ends the inspection, or
    /// a zero length prefix, which is skipped.
    Frame(FrameError),
    /// A frame that is not an ITCH 5.0 message of its type's length; skipped.
    Length { offset: u64, error: LengthError },
    /// A side, or a Nasdaq operational-halt action, that the event needs is unreadable;
    /// skipped.
    BadCode { offset: u64, kind: u8 },
    /// A book or trading-state message for a locate no stock directory entry has named
    /// (yet); skipped.
    UnmappedLocate { offset: u64, kind: u8, locate: u16 },
    /// The book could not apply the event (an unknown or duplicate reference, …);
    /// nothing changed.
    Book {
        offset: u64,
        kind: u8,
        error: BookError,
    },
    /// An execution or cancel for more shares than the order had; applied, clamped to
    /// what it had.
    ExcessShares { offset: u64, kind: u8 },
    /// A timestamp before one earlier in the file; the pipeline replays the message at
    /// the latest timestamp so far (`stamped`).
    TimeRegression {
        offset: u64,
        kind: u8,
        timestamp: u64,
        stamped: u64,
    },
    /// A timestamp of 24 h or more, which no time of day has; the pipeline replays the
    /// message at the latest valid timestamp so far.
    BadTimestamp {
        offset: u64,
        kind: u8,
        timestamp: u64,
    },
    /// A stock directory entry for a new symbol after 65 536 others, more than a
    /// `SymbolId` can number; its locate stays unmapped.
    TooManySymbols { offset: u64, stock: [u8; 8] },
}

impl Problem {
    /// A stable code naming the kind of problem, e.g. `WRONG_LENGTH`.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::Frame(FrameError::TruncatedLength { .. }) => "TRUNCATED_LENGTH",
            Problem::Frame(FrameError::TruncatedMessage { .. }) => "TRUNCATED_MESSAGE",
            Problem::Frame(FrameError::ZeroLength { .. }) => "ZERO_LENGTH",
            Problem::Frame(FrameError::Desync { .. }) => "DESYNC",
            Problem::Length {
                error: LengthError::Empty,
                ..
            } => "EMPTY_MESSAGE",
            Problem::Length {
                error: LengthError::UnknownType { .. },
                ..
            } => "UNKNOWN_TYPE",
            Problem::Length {
                error: LengthError::WrongLength { .. },
                ..
            } => "WRONG_LENGTH",
            Problem::BadCode { .. } => "BAD_CODE",
            Problem::UnmappedLocate { .. } => "UNMAPPED_LOCATE",
            Problem::Book { error, .. } => match error {
                BookError::UnknownSymbol => "UNKNOWN_SYMBOL",
                BookError::UnknownRef => "UNKNOWN_REF",
                BookError::DuplicateRef => "DUPLICATE_REF",
                BookError::WrongSymbol => "WRONG_SYMBOL",
                BookError::ZeroShares => "ZERO_SHARES",
            },
            Problem::ExcessShares { .. } => "EXCESS_SHARES",
            Problem::TimeRegression { .. } => "TIME_REGRESSION",
            Problem::BadTimestamp { .. } => "BAD_TIMESTAMP",
            Problem::TooManySymbols { .. } => "TOO_MANY_SYMBOLS",
        }
    }

    /// Byte offset of the frame's length prefix.
    pub fn offset(&self) -> u64 {
        match *self {
            Problem::Frame(e) => e.offset(),
            Problem::Length { offset, .. }
            | Problem::BadCode { offset, .. }
            | Problem::UnmappedLocate { offset, .. }
            | Problem::Book { offset, .. }
            | Problem::ExcessShares { offset, .. }
            | Problem::TimeRegression { offset, .. }
            | Problem::BadTimestamp { offset, .. }
            | Problem::TooManySymbols { offset, .. } => offset,
        }
    }

    /// The message's type byte, where the frame has one.
    pub fn message_type(&self) -> Option<u8> {
        match *self {
            Problem::Frame(_)
            | Problem::Length {
                error: LengthError::Empty,
                ..
            } => None,
            Problem::Length {
                error: LengthError::UnknownType { kind } | LengthError::WrongLength { kind, .. },
                ..
            }
            | Problem::BadCode { kind, .. }
            | Problem::UnmappedLocate { kind, .. }
            | Problem::Book { kind, .. }
            | Problem::ExcessShares { kind, .. }
            | Problem::TimeRegression { kind, .. }
            | Problem::BadTimestamp { kind, .. } => Some(kind),
            Problem::TooManySymbols { .. } => Some(b'R'),
        }
    }
}

impl fmt::Display for Problem {
    /// `offset 120: WRONG_LENGTH: type 'A': 35 bytes, expected 36; skipped`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {}: {}: ", self.offset(), self.code())?;
        if let Some(kind) = self.message_type() {
            write!(f, "type {}: ", itch::Kind(kind))?;
        }
        match *self {
            Problem::Frame(FrameError::TruncatedLength { .. }) => {
                f.write_str("1 byte left, not a length prefix; the file ends here")
            }
            Problem::Frame(FrameError::TruncatedMessage { len, available, .. }) => write!(
                f,
                "length prefix {len}, {available} bytes left; nothing after can be framed"
            ),
            Problem::Frame(FrameError::ZeroLength { .. }) => {
                f.write_str("zero length prefix; skipped")
            }
            Problem::Frame(FrameError::Desync { skipped, .. }) => write!(
                f,
                "length prefix does not match its message type; {skipped} bytes skipped to the next run of {} well-formed frames",
                itch::RESYNC_RUN
            ),
            Problem::Length { error, .. } => match error {
                LengthError::Empty => f.write_str("empty message; skipped"),
                LengthError::UnknownType { .. } => f.write_str("not an ITCH 5.0 type; skipped"),
                LengthError::WrongLength {
                    expected, actual, ..
                } => write!(f, "{actual} bytes, expected {expected}; skipped"),
            },
            Problem::BadCode { .. } => {
                f.write_str("unreadable side or halt action, or a zero price; skipped")
            }
            Problem::UnmappedLocate { locate, .. } => {
                write!(f, "locate {locate} has no stock directory entry; skipped")
            }
            Problem::Book { error, .. } => {
                // BookError's message starts with its code, already written above.
                let text = error.to_string();
                let detail = text.split_once(": ").map_or(text.as_str(), |(_, d)| d);
                write!(f, "{detail}; skipped")
            }
            Problem::ExcessShares { .. } => {
                f.write_str("more shares than the order had; clamped to what it had")
            }
            Problem::TimeRegression {
                timestamp, stamped, ..
            } => write!(
                f,
                "timestamp {timestamp} ns, {} ns before an earlier one; replayed at {stamped} ns",
                stamped - timestamp
            ),
            Problem::BadTimestamp { timestamp, .. } => write!(
                f,
                "timestamp {timestamp} ns is 24 h or later; replayed at the latest valid time"
            ),
            Problem::TooManySymbols { stock, .. } => write!(
                f,
                "{:?} is symbol {} or later; ignored",
                display_name(&stock),
                LOCATES + 1
            ),
        }
    }
}

/// How many problems of one code, and the first [`FIRST_KEPT`] of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    /// In file order.
    pub first: Vec<Problem>,
}

/// Every problem found, by code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems {
    by_code: BTreeMap<&'static str, Tally>,
}

impl Problems {
    fn record(&mut self, problem: Problem) {
        let tally = self.by_code.entry(problem.code()).or_default();
        tally.count += 1;
        if tally.first.len() < FIRST_KEPT {
            tally.first.push(problem);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    /// Problems of every code.
    pub fn total(&self) -> u64 {
        self.by_code.values().map(|t| t.count).sum()
    }

    /// The tally for `code`, if any problem had it.
    pub fn get(&self, code: &str) -> Option<&Tally> {
        self.by_code.get(code)
    }

    /// Codes in alphabetical order, with their tallies.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Tally)> + '_ {
        self.by_code.iter().map(|(code, tally)| (*code, tally))
    }
}

/// One symbol at the end of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolSummary {
    /// The ticker without its padding; a byte that is not printable ASCII, or a
    /// backslash, is written `\xNN`, so distinct tickers keep distinct names.
    pub name: String,
    pub bid: Option<Level>,
    pub ask: Option<Level>,
    /// The trading-state byte of the symbol's last ITCH `H` message (`T`, `H`, `P`, `Q`,
    /// or whatever the file holds); `None` if none came.
    pub state: Option<u8>,
    /// An ITCH `h` operational halt on Nasdaq is in force.
    pub operational_halt: bool,
    /// The book ends crossed or locked (best bid ≥ best ask).
    pub crossed: bool,
}

/// What [`inspect`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// Bytes of input.
    pub bytes: u64,
    /// Well-formed ITCH 5.0 messages: the sum of `by_type`.
    pub messages: u64,
    /// Well-formed messages, indexed by type byte.
    pub by_type: [u64; 256],
    /// Every symbol with a stock directory entry, by name.
    pub symbols: Vec<SymbolSummary>,
    pub problems: Problems,
    /// Bytes passed over where the framing was lost (every `DESYNC`, not only those
    /// kept).
    pub desync_bytes: u64,
}

/// Inspects length-prefixed ITCH 5.0 bytes (NASDAQ's file format). Never panics on any
/// input; see the module docs for what is counted and how far it reads.
pub fn inspect(bytes: &[u8]) -> Inspection {
    let passes = |each: &mut dyn FnMut(FrameItem<'_>)| {
        Framer::new(bytes).for_each(each);
        Ok(bytes.len() as u64)
    };
    inspect_passes(passes).expect("framing a slice reads nothing")
}

/// Inspects a file or a pipe, streaming. A regular file is read twice, block by block
/// (see the module docs); anything else cannot be re-read, so it is read into memory
/// first, up to [`MAX_UNSEEKABLE_BYTES`]. An empty input is an error, as for `run`.
pub fn inspect_file(mut file: File) -> Result<Inspection, InspectError> {
    let meta = file.metadata().map_err(InspectError::Read)?;
    let inspection = if meta.is_file() {
        inspect_passes(|each| {
            file.rewind()?;
            let mut reader = FrameReader::new(&mut file);
            // Never broken: every pass reads to the end.
            let _ = reader.for_each(|item| {
                each(item);
                ControlFlow::Continue(())
            })?;
            Ok(reader.bytes_read())
        })
        .map_err(InspectError::Read)?
    } else {
        let mut bytes = Vec::new();
        let limit = MAX_UNSEEKABLE_BYTES + 1;
        file.take(limit)
            .read_to_end(&mut bytes)
            .map_err(InspectError::Read)?;
        if bytes.len() as u64 == limit {
            return Err(InspectError::TooLong);
        }
        inspect(&bytes)
    };
    if inspection.bytes == 0 {
        return Err(InspectError::Empty);
    }
    Ok(inspection)
}

/// Why [`inspect_file`] could not inspect its input.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("the input is empty: there are no messages to inspect")]
    Empty,
    #[error(
        "the input is not a regular file and holds more than {MAX_UNSEEKABLE_BYTES} bytes, the most read into memory; write it to a file and inspect that"
    )]
    TooLong,
    #[error("reading the input: {0}")]
    Read(#[source] io::Error),
}

/// One item of a framing pass.
type FrameItem<'a> = Result<Frame<'a>, FrameError>;

/// The inspection, given `passes`: each call frames the whole input from its start,
/// handing every item to its argument, and returns the bytes read.
fn inspect_passes(
    mut passes: impl FnMut(&mut dyn FnMut(FrameItem<'_>)) -> io::Result<u64>,
) -> io::Result<Inspection> {
    let directory = Directory::scan(&mut passes)?;
    let ids: Vec<SymbolId> = (0..directory.names.len())
        .map(|i| SymbolId(i as u16))
        .collect();
    let mut books = BookSet::new(&ids, CAPACITY);
    let mut states: Vec<Option<u8>> = vec![None; ids.len()];
    let mut locates: Vec<Option<SymbolId>> = vec![None; LOCATES];
    let mut problems = Problems::default();
    let mut by_type = [0u64; 256];
    let mut clock = EventClock::default();
    let mut desync_bytes = 0;

    let bytes = passes(&mut |frame| {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                if let FrameError::Desync { skipped, .. } = e {
                    desync_bytes += skipped;
                }
                problems.record(Problem::Frame(e));
                return;
            }
        };
        let offset = frame.offset;
        let msg = match itch::decode(frame.bytes) {
            Ok(msg) => msg,
            Err(error) => {
                problems.record(Problem::Length { offset, error });
                return;
            }
        };
        let kind = msg.kind();
        by_type[usize::from(kind)] += 1;
        let timestamp = msg.header().timestamp;
        match clock.stamp(timestamp) {
            (_, Timing::InOrder) => {}
            (stamped, Timing::Regressed { .. }) => problems.record(Problem::TimeRegression {
                offset,
                kind,
                timestamp,
                stamped,
            }),
            (_, Timing::Impossible) => problems.record(Problem::BadTimestamp {
                offset,
                kind,
                timestamp,
            }),
        }
        let locate = msg.header().stock_locate;
        if let Message::StockDirectory { stock, .. } = msg {
            // As in the decode stage, a later entry for a locate replaces the earlier one.
            let id = directory.by_name.get(stock).copied();
            if id.is_none() {
                problems.record(Problem::TooManySymbols {
                    offset,
                    stock: *stock,
                });
            }
            locates[usize::from(locate)] = id;
            return;
        }
        let Some(update) = decode::update(&msg) else {
            return;
        };
        let Some(symbol) = locates[usize::from(locate)] else {
            problems.record(Problem::UnmappedLocate {
                offset,
                kind,
                locate,
            });
            return;
        };
        let Ok(update) = update else {
            problems.record(Problem::BadCode { offset, kind });
            return;
        };
        if let Message::StockTradingAction { trading_state, .. } = msg {
            states[symbol.index()] = Some(trading_state);
        }
        let excess_before = books.stats().excess_shares;
        match books.apply(symbol, &update).map(|_| ()) {
            Ok(()) if books.stats().excess_shares > excess_before => {
                problems.record(Problem::ExcessShares { offset, kind });
            }
            Ok(()) => {}
            Err(error) => problems.record(Problem::Book {
                offset,
                kind,
                error,
            }),
        }
    })?;

    let mut symbols: Vec<SymbolSummary> = ids
        .iter()
        .filter_map(|&id| {
            let book = books.book(id)?;
            Some(SymbolSummary {
                name: display_name(&directory.names[id.index()]),
                bid: book.best_bid(),
                ask: book.best_ask(),
                state: states[id.index()],
                operational_halt: book.operational_halt(),
                crossed: !book.is_valid(),
            })
        })
        .collect();
    symbols.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Inspection {
        bytes,
        messages: by_type.iter().sum(),
        by_type,
        symbols,
        problems,
        desync_bytes,
    })
}

/// The file's stock directory: every distinct ticker, numbered in order of appearance.
struct Directory {
    by_name: HashMap<[u8; 8], SymbolId>,
    /// Indexed by `SymbolId`.
    names: Vec<[u8; 8]>,
}

impl Directory {
    fn scan(
        passes: &mut impl FnMut(&mut dyn FnMut(FrameItem<'_>)) -> io::Result<u64>,
    ) -> io::Result<Directory> {
        let mut dir = Directory {
            by_name: HashMap::new(),
            names: Vec::new(),
        };
        // Framing errors are the second pass's to report; a truncation ends both.
        passes(&mut |frame| {
            let Ok(frame) = frame else { return };
            if frame.bytes.first() != Some(&b'R') {
                return;
            }
            if let Ok(Message::StockDirectory { stock, .. }) = itch::decode(frame.bytes)
                && dir.names.len() < LOCATES
                && !dir.by_name.contains_key(stock)
            {
                dir.by_name.insert(*stock, SymbolId(dir.names.len() as u16));
                dir.names.push(*stock);
            }
        })?;
        Ok(dir)
    }
}

/// A ticker for reports: padding trimmed, anything but printable ASCII (and the
/// backslash) escaped as `\xNN`.
fn display_name(stock: &[u8; 8]) -> String {
    let end = stock.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    let mut out = String::with_capacity(end);
    for &b in &stock[..end] {
        if (b.is_ascii_graphic() || b == b' ') && b != b'\\' {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

impl Inspection {
    /// True when the whole input framed and nothing in it was malformed.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// The `--json` form: exactly
    /// `{"messages": N, "by_type": {"A": n, …}, "symbols": {"SYM": {"bid": ["101.2500",
    /// 300] | null, "ask": … , "state": "T" | null}}}`. `by_type` has all 23 ITCH 5.0
    /// types, zeros included, so a reader need not test for missing keys.
    pub fn to_json(&self) -> Value {
        let by_type: Map<String, Value> = MESSAGE_KINDS
            .iter()
            .map(|&k| ((k as char).to_string(), json!(self.by_type[usize::from(k)])))
            .collect();
        let level =
            |l: Option<Level>| l.map_or(Value::Null, |l| json!([l.price.to_string(), l.shares]));
        let symbols: Map<String, Value> = self
            .symbols
            .iter()
            .map(|s| {
                let state = s.state.map(|c| (c as char).to_string());
                (
                    s.name.clone(),
                    json!({ "bid": level(s.bid), "ask": level(s.ask), "state": state }),
                )
            })
            .collect();
        json!({ "messages": self.messages, "by_type": by_type, "symbols": symbols })
    }

    /// The human-readable report: counts by type (those present), then one line per
    /// symbol. Problems are [`Inspection::problems_text`]'s.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "{} messages in {} bytes", self.messages, self.bytes);
        if self.desync_bytes > 0 {
            let _ = write!(
                out,
                " ({} skipped where the framing was lost)",
                self.desync_bytes
            );
        }
        out.push('\n');
        let _ = writeln!(out, "messages by type:");
        for &k in &MESSAGE_KINDS {
            let n = self.by_type[usize::from(k)];
            if n > 0 {
                let _ = writeln!(out, "  {}  {n:>12}", k as char);
            }
        }
        let _ = writeln!(out, "symbols: {}", self.symbols.len());
        let _ = writeln!(
            out,
            "  {:<10} {:>24}  {:<24} state",
            "symbol", "best bid", "best ask"
        );
        // Price × aggregate shares, as a quote is read.
        let level =
            |l: Option<Level>| l.map_or("-".to_string(), |l| format!("{} x {}", l.price, l.shares));
        for s in &self.symbols {
            let state = s.state.map_or('-', |c| c as char);
            let _ = write!(
                out,
                "  {:<10} {:>24}  {:<24} {state}",
                s.name,
                level(s.bid),
                level(s.ask)
            );
            if s.operational_halt {
                out.push_str(" (operational halt)");
            }
            if s.crossed {
                out.push_str(" (crossed)");
            }
            out.push('\n');
        }
        out
    }

    /// Every problem for stderr, each line starting `file:`: a summary per code, then
    /// the first few of each code with offset, type and detail. Empty if clean.
    pub fn problems_text(&self, file: &str) -> String {
        let mut out = String::new();
        if self.problems.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "{file}: {} problem(s) in malformed or inconsistent input:",
            self.problems.total()
        );
        for (code, tally) in self.problems.iter() {
            let offsets: Vec<String> = tally.first.iter().map(|p| p.offset().to_string()).collect();
            let more = if tally.count > tally.first.len() as u64 {
                ", …"
            } else {
                ""
            };
            let plural = if tally.count == 1 { "" } else { "s" };
            let _ = writeln!(
                out,
                "{file}:   {code} ×{} (at offset{plural} {}{more})",
                tally.count,
                offsets.join(", ")
            );
        }
        for (_, tally) in self.problems.iter() {
            for p in &tally.first {
                let _ = writeln!(out, "{file}: {p}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::{Arc, OnceLock};

    use proptest::prelude::*;

    use super::*;
    use crate::codec::itch::{Header, encode_framed};
    use crate::msg::{Price, RawFrame};
    use crate::runtime::config::Config;
    use crate::source::event_clock::DAY_NS;
    use crate::stages::Stage;
    use crate::stages::decode::Decode;
    use crate::stages::features::FeatureStage;
    use crate::tools::sample::{SampleSpec, generate};

    fn header(locate: u16) -> Header {
        Header {
            stock_locate: locate,
            tracking_number: 0,
            timestamp: 34_200_000_000_000,
        }
    }

    fn put(out: &mut Vec<u8>, msg: Message<'_>) {
        encode_framed(&msg, out).unwrap();
    }

    fn directory(locate: u16, stock: &[u8; 8]) -> Message<'_> {
        crate::codec::itch::testing::stock_directory(header(locate), stock)
    }

    fn trading_action(locate: u16, state: u8) -> Message<'static> {
        Message::StockTradingAction {
            header: header(locate),
            stock: b"        ",
            trading_state: state,
            reserved: b' ',
            reason: b"    ",
        }
    }

    fn add(locate: u16, order_ref: u64, side: u8, shares: u32, price: i64) -> Message<'static> {
        Message::AddOrder {
            header: header(locate),
            order_ref,
            side,
            shares,
            stock: b"        ",
            price: Price(price),
        }
    }

    fn executed(locate: u16, order_ref: u64, shares: u32) -> Message<'static> {
        Message::OrderExecuted {
            header: header(locate),
            order_ref,
            executed_shares: shares,
            match_number: 1,
        }
    }

    /// Two symbols: AAA trading with two bids at one price and its only ask executed
    /// away; BB halted with one ask.
    fn two_symbols() -> Vec<u8> {
        let mut out = Vec::new();
        put(
            &mut out,
            Message::SystemEvent {
                header: header(0),
                event_code: b'O',
            },
        );
        put(&mut out, directory(1, b"AAA     "));
        put(&mut out, directory(2, b"BB      "));
        put(&mut out, trading_action(1, b'T'));
        put(&mut out, trading_action(2, b'H'));
        put(&mut out, add(1, 1, b'B', 100, 1_012_500));
        put(&mut out, add(1, 2, b'B', 200, 1_012_500));
        put(&mut out, add(1, 3, b'S', 50, 1_013_000));
        put(&mut out, executed(1, 3, 50));
        put(&mut out, add(2, 4, b'S', 10, 50_000));
        out
    }

    #[test]
    fn json_has_exactly_the_documented_shape() {
        let got = inspect(&two_symbols());
        assert!(got.is_clean(), "{:?}", got.problems);
        let expected = json!({
            "messages": 10,
            "by_type": {
                "S": 1, "R": 2, "H": 2, "Y": 0, "L": 0, "V": 0, "W": 0, "K": 0, "J": 0,
                "h": 0, "A": 4, "F": 0, "E": 1, "C": 0, "X": 0, "D": 0, "U": 0, "P": 0,
                "Q": 0, "B": 0, "I": 0, "N": 0, "O": 0
            },
            "symbols": {
                "AAA": { "bid": ["101.2500", 300], "ask": null, "state": "T" },
                "BB": { "bid": null, "ask": ["5.0000", 10], "state": "H" }
            }
        });
        assert_eq!(got.to_json(), expected);
        // Keys sort, so the text is stable too.
        let text = serde_json::to_string(&got.to_json()).unwrap();
        assert!(text.starts_with(r#"{"by_type":{"A":4,"B":0,"#), "{text}");
        assert!(text.ends_with(r#""symbols":{"AAA":{"ask":null,"bid":["101.2500",300],"state":"T"},"BB":{"ask":["5.0000",10],"bid":null,"state":"H"}}}"#), "{text}");
    }

    #[test]
    fn text_lists_counts_and_each_symbol() {
        let text = inspect(&two_symbols()).to_text();
        assert!(text.starts_with("10 messages in "), "{text}");
        assert!(text.contains("\n  A             4\n"), "{text}");
        assert!(
            !text.contains("\n  F "),
            "absent types are left out: {text}"
        );
        let aaa = text
            .lines()
            .find(|l| l.trim_start().starts_with("AAA"))
            .unwrap();
        assert!(aaa.contains("101.2500 x 300"), "{aaa}");
        assert!(
            aaa.ends_with(" - T") || aaa.ends_with("-                        T"),
            "{aaa}"
        );
    }

    #[test]
    fn empty_input_is_zero_messages_and_clean() {
        let got = inspect(&[]);
        assert_eq!(got.messages, 0);
        assert!(got.is_clean());
        assert_eq!(got.to_json()["symbols"], json!({}));
        assert_eq!(got.problems_text("f"), "");
    }

    /// Offsets of each frame in `bytes`, as the framer sees them (stops at a truncation).
    fn offsets(bytes: &[u8]) -> Vec<u64> {
        Framer::new(bytes)
            .map(|f| f.map_or_else(|e| e.offset(), |f| f.offset))
            .collect()
    }

    fn codes(got: &Inspection) -> Vec<(&'static str, u64)> {
        got.problems.iter().map(|(c, t)| (c, t.count)).collect()
    }

    #[test]
    fn malformed_input_is_counted_with_offsets_and_processing_goes_on() {
        let mut bytes = Vec::new();
        put(&mut bytes, directory(1, b"AAA     "));
        bytes.extend_from_slice(&[0, 0]); // zero length
        let mut short_add = Vec::new();
        put(&mut short_add, add(1, 7, b'B', 1, 1));
        short_add[1] = 35; // an 'A' one byte short
        bytes.extend_from_slice(&short_add[..37]);
        // Each bad message has four good ones after it, so the framer trusts its prefix
        // (next to another bad one it would be a desync).
        put(&mut bytes, add(1, 8, b'x', 1, 1)); // side 'x'
        put(&mut bytes, add(9, 9, b'B', 1, 1)); // locate 9 unmapped
        put(&mut bytes, executed(1, 99, 1)); // unknown reference
        put(&mut bytes, add(1, 1, b'B', 100, 10_000));
        bytes.extend_from_slice(&[0, 3, b'Z', 1, 2]); // unknown type
        put(&mut bytes, add(1, 1, b'S', 100, 20_000)); // duplicate reference
        put(
            &mut bytes,
            Message::OrderCancel {
                header: header(1),
                order_ref: 1,
                cancelled_shares: 40,
            },
        );
        put(&mut bytes, add(1, 2, b'B', 5, 10_000));
        put(&mut bytes, executed(1, 2, 500)); // more than it had
        let at = offsets(&bytes);
        // A prefix promising 36 bytes with 10 left.
        bytes.extend_from_slice(&[0, 36]);
        bytes.extend_from_slice(&[b'A'; 10]);

        let got = inspect(&bytes);
        assert_eq!(
            codes(&got),
            [
                ("BAD_CODE", 1),
                ("DUPLICATE_REF", 1),
                ("EXCESS_SHARES", 1),
                ("TRUNCATED_MESSAGE", 1),
                ("UNKNOWN_REF", 1),
                ("UNKNOWN_TYPE", 1),
                ("UNMAPPED_LOCATE", 1),
                ("WRONG_LENGTH", 1),
                ("ZERO_LENGTH", 1),
            ]
        );
        let first = |code| got.problems.get(code).unwrap().first[0];
        assert_eq!(first("ZERO_LENGTH").offset(), at[1]);
        assert_eq!(first("WRONG_LENGTH").offset(), at[2]);
        assert_eq!(first("WRONG_LENGTH").message_type(), Some(b'A'));
        assert_eq!(first("UNKNOWN_TYPE").offset(), at[7]);
        assert_eq!(first("BAD_CODE").offset(), at[3]);
        assert_eq!(first("UNMAPPED_LOCATE").offset(), at[4]);
        assert_eq!(first("UNKNOWN_REF").offset(), at[5]);
        assert_eq!(first("DUPLICATE_REF").offset(), at[8]);
        assert_eq!(first("EXCESS_SHARES").offset(), at[11]);
        let end = at[11] + 2 + 31;
        assert_eq!(first("TRUNCATED_MESSAGE").offset(), end);
        assert_eq!(end + 12, bytes.len() as u64);

        // Everything well formed counts; the book went on after each bad message:
        // order 1 has 60 left, order 2 was executed away.
        assert_eq!(got.messages, 9);
        let aaa = &got.symbols[0];
        assert_eq!(
            aaa.bid,
            Some(Level {
                price: Price(10_000),
                shares: 60,
                orders: 1
            })
        );
        assert_eq!(aaa.state, None);

        let text = got.problems_text("day.itch");
        assert!(text.starts_with("day.itch: 9 problem(s)"), "{text}");
        assert!(
            text.contains(&format!(
                "day.itch: offset {end}: TRUNCATED_MESSAGE: length prefix 36, 10 bytes left; nothing after can be framed\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "day.itch: offset {}: WRONG_LENGTH: type 'A': 35 bytes, expected 36; skipped\n",
                at[2]
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "day.itch: offset {}: UNKNOWN_REF: type 'E': no live order has this reference; skipped\n",
                at[5]
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "day.itch: offset {}: UNKNOWN_TYPE: type 'Z': not an ITCH 5.0 type; skipped\n",
                at[7]
            )),
            "{text}"
        );
    }

    #[test]
    fn time_regressions_and_impossible_timestamps_are_problems_with_offsets() {
        let event = |timestamp| Message::SystemEvent {
            header: Header {
                stock_locate: 0,
                tracking_number: 0,
                timestamp,
            },
            event_code: b'Q',
        };
        let mut bytes = Vec::new();
        put(&mut bytes, event(1_000));
        put(&mut bytes, event(1_000)); // equal: in order
        put(&mut bytes, event(999)); // 1 ns back
        put(&mut bytes, event(DAY_NS)); // no time of day
        put(&mut bytes, event(1_500)); // in order: the bad one did not move event time
        let at = offsets(&bytes);
        let got = inspect(&bytes);
        assert!(!got.is_clean());
        assert_eq!(codes(&got), [("BAD_TIMESTAMP", 1), ("TIME_REGRESSION", 1)]);
        let first = |code| got.problems.get(code).unwrap().first[0];
        assert_eq!(first("TIME_REGRESSION").offset(), at[2]);
        assert_eq!(first("BAD_TIMESTAMP").offset(), at[3]);
        assert_eq!(got.messages, 5, "every message is still counted");
        let text = got.problems_text("day.itch");
        assert!(
            text.contains(&format!(
                "day.itch: offset {}: TIME_REGRESSION: type 'S': timestamp 999 ns, 1 ns before an earlier one; replayed at 1000 ns\n",
                at[2]
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "day.itch: offset {}: BAD_TIMESTAMP: type 'S': timestamp {DAY_NS} ns is 24 h or later",
                at[3]
            )),
            "{text}"
        );
    }

    #[test]
    fn keeps_the_first_few_offsets_of_each_code_and_counts_the_rest() {
        let got = inspect(&[0u8; 14]);
        let tally = got.problems.get("ZERO_LENGTH").unwrap();
        assert_eq!(tally.count, 7);
        let kept: Vec<u64> = tally.first.iter().map(Problem::offset).collect();
        assert_eq!(kept, [0, 2, 4, 6, 8]);
        let text = got.problems_text("z");
        assert!(
            text.contains("z:   ZERO_LENGTH ×7 (at offsets 0, 2, 4, 6, 8, …)"),
            "{text}"
        );
        assert_eq!(
            inspect(&[0])
                .problems
                .get("TRUNCATED_LENGTH")
                .unwrap()
                .first[0]
                .offset(),
            0
        );
    }

    #[test]
    fn names_keep_odd_bytes_distinct() {
        assert_eq!(display_name(b"AAPL    "), "AAPL");
        assert_eq!(display_name(b" A B    "), " A B");
        assert_eq!(display_name(b"A\\\xff\x00    "), "A\\x5c\\xff\\x00");
        assert_eq!(display_name(b"        "), "");
    }

    fn sample(messages: u64) -> Vec<u8> {
        generate(&SampleSpec {
            messages,
            ..SampleSpec::default_session()
        })
    }

    #[test]
    fn covers_every_symbol_in_the_file_not_only_the_universe() {
        let got = inspect(&sample(20_000));
        assert!(got.is_clean(), "{}", got.problems_text("sample"));
        assert_eq!(got.messages, 20_000);
        let names: Vec<&str> = got.symbols.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "AAPL", "AMD", "AMZN", "GOOGL", "IBM", "META", "MSFT", "NVDA", "ORCL", "TSLA",
                "ZVZZT"
            ]
        );
        for k in MESSAGE_KINDS {
            assert!(got.by_type[usize::from(k)] > 0, "type {}", k as char);
        }
        let ibm = &got.symbols[4];
        assert!(ibm.bid.is_some() && ibm.ask.is_some(), "{ibm:?}");
        assert_eq!(
            got.symbols[10].state,
            Some(b'H'),
            "the test listing never trades"
        );
    }

    /// The books of the default sample's configured symbols end exactly where the
    /// pipeline's decode and features stages leave them.
    #[test]
    fn agrees_with_the_pipelines_books() {
        let bytes = sample(100_000);
        let (config, universe) = Config::load(Path::new("config/tickpipe.toml")).unwrap();
        let universe = Arc::new(universe);
        let ids: Vec<SymbolId> = universe.ids().collect();
        let mut decode = Decode::new(Arc::clone(&universe));
        let mut features = FeatureStage::new(Arc::clone(&universe), &ids, &config.features);
        let (mut events, mut views) = (Vec::new(), Vec::new());
        for frame in Framer::new(&bytes) {
            let frame = RawFrame::new(0, frame.unwrap().bytes).unwrap();
            decode.on_event(frame, &mut events);
            for e in events.drain(..) {
                features.on_event(e, &mut views);
            }
            views.clear();
        }

        let got = inspect(&bytes);
        for id in ids {
            let name = universe.name(id);
            let book = features.books().book(id).unwrap();
            let s = got
                .symbols
                .iter()
                .find(|s| s.name == name.as_str())
                .unwrap();
            assert_eq!(s.bid, book.best_bid(), "{name}");
            assert_eq!(s.ask, book.best_ask(), "{name}");
            assert!(s.bid.is_some() && s.ask.is_some(), "{name}");
            assert_eq!(
                s.state.map(char::from),
                Some(book.status().as_char()),
                "{name}"
            );
            assert_eq!(s.operational_halt, book.operational_halt(), "{name}");
        }
    }

    fn small_sample() -> &'static [u8] {
        static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
        BYTES.get_or_init(|| sample(3_000))
    }

    fn never_panics_and_adds_up(bytes: &[u8]) -> Result<Inspection, TestCaseError> {
        let got = inspect(bytes);
        prop_assert_eq!(got.messages, got.by_type.iter().sum::<u64>());
        for (_, tally) in got.problems.iter() {
            prop_assert!(tally.first.len() as u64 <= tally.count);
            prop_assert!(tally.first.iter().all(|p| p.offset() < bytes.len() as u64));
        }
        let _ = (got.to_json(), got.to_text(), got.problems_text("x"));
        Ok(got)
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            never_panics_and_adds_up(&bytes)?;
        }

        #[test]
        fn bit_flips_and_truncations_never_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 0..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = small_sample().to_vec();
            for (at, bit) in flips {
                let i = at.index(bytes.len());
                bytes[i] ^= 1 << bit;
            }
            let len = cut.index(bytes.len() + 1);
            let got = never_panics_and_adds_up(&bytes[..len])?;
            let framed_to_end = Framer::new(&bytes[..len]).all(|f| f.is_ok() || matches!(f, Err(FrameError::ZeroLength { .. } | FrameError::Desync { .. })));
            let truncated = got.problems.get("TRUNCATED_MESSAGE").is_some()
                || got.problems.get("TRUNCATED_LENGTH").is_some();
            prop_assert_eq!(truncated, !framed_to_end);
        }
    }
}
