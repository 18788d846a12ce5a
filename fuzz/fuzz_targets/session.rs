//! The whole pipeline on a valid session made hostile: the sample generator's session
//! (generated once per process) with a list of typed mutations, chosen by the fuzz input,
//! applied to its messages. Then the same whole-pipeline check as `pipeline` (see
//! `whole_run.rs`).
//!
//! Arbitrary bytes rarely get past framing and the stock directory to a book with
//! orders in it; mutating a real session reaches risk and the venue on every input.
//! The mutations are what a hostile or broken feed does: timestamps backwards, equal or
//! past midnight; unknown, duplicate and reused order references; lying length
//! prefixes; other symbols' or unnamed stock locates; changed message types; messages
//! cut short or padded; messages duplicated, dropped or swapped; the file cut short.
#![no_main]

mod whole_run;

use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tickpipe::codec::itch::{Framer, HEADER_LEN, MAX_TIMESTAMP};
use tickpipe::tools::sample::{SampleSpec, generate};

/// Messages in the session: the open, every ticker's directory and opening cross, then
/// continuous trading in which risk sends orders, cancels them and gets fills; small
/// enough for about 580 runs a second (on 2 shared cores).
const MESSAGES: u64 = 2_000;

/// Room for the longest ITCH 5.0 message (50 bytes) and a few bytes of padding.
const ROOM: usize = 64;

/// Nanoseconds in a day: timestamps are nanoseconds since midnight.
const DAY_NS: u64 = 86_400_000_000_000;

/// Where the header's fields are: type byte, stock locate, tracking number, timestamp.
const LOCATE_AT: usize = 1;
const TIMESTAMP_AT: usize = 5;
/// An order message's reference follows the header; a replace's new one follows that.
const ORDER_REF_AT: usize = HEADER_LEN;
const NEW_ORDER_REF_AT: usize = HEADER_LEN + 8;

/// One message of the session, copied without allocating.
#[derive(Copy, Clone)]
struct Message {
    /// The length prefix written before it, when a mutation made it lie.
    prefix: Option<u16>,
    len: usize,
    bytes: [u8; ROOM],
}

impl Message {
    fn body(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Offsets of its order reference fields: the original, then (replace only) the new.
    fn order_refs(&self) -> &'static [usize] {
        match self.bytes[0] {
            b'A' | b'F' | b'E' | b'C' | b'X' | b'D' | b'P' => &[ORDER_REF_AT],
            b'U' => &[ORDER_REF_AT, NEW_ORDER_REF_AT],
            _ => &[],
        }
    }

    fn field(&self, at: usize, width: usize) -> Option<&[u8]> {
        self.body().get(at..at + width)
    }

    fn set(&mut self, at: usize, value: &[u8]) {
        if let Some(field) = self.bytes[..self.len].get_mut(at..at + value.len()) {
            field.copy_from_slice(value);
        }
    }

    fn timestamp(&self) -> u64 {
        self.field(TIMESTAMP_AT, 6).map_or(0, |b| {
            b.iter().fold(0, |ts, &byte| (ts << 8) | u64::from(byte))
        })
    }

    fn set_timestamp(&mut self, ts: u64) {
        self.set(TIMESTAMP_AT, &(ts & MAX_TIMESTAMP).to_be_bytes()[2..]);
    }
}

static SESSION: LazyLock<Vec<Message>> = LazyLock::new(|| {
    let bytes = generate(&SampleSpec {
        messages: MESSAGES,
        ..SampleSpec::default_session()
    });
    Framer::new(&bytes)
        .map(|frame| {
            let body = frame.expect("the sample frames").bytes;
            let mut bytes = [0; ROOM];
            bytes[..body.len()].copy_from_slice(body);
            Message {
                prefix: None,
                len: body.len(),
                bytes,
            }
        })
        .collect()
});

/// One change to the session. Message indices wrap around the session's current length.
#[derive(Arbitrary, Debug)]
enum Mutation {
    Timestamp {
        at: u16,
        time: Time,
    },
    OrderRef {
        at: u16,
        new: bool,
        to: OrderRef,
    },
    Locate {
        at: u16,
        to: Locate,
    },
    /// Another type byte: mostly a known type of another length, so a wrong length.
    Kind {
        at: u16,
        kind: u8,
    },
    /// A length prefix that lies: everything after it is framed out of step.
    LengthPrefix {
        at: u16,
        len: u16,
    },
    /// The message cut short (truncation) or padded with zeros, its prefix following.
    Resize {
        at: u16,
        len: u8,
    },
    Byte {
        at: u16,
        offset: u8,
        value: u8,
    },
    Duplicate {
        at: u16,
    },
    Drop {
        at: u16,
    },
    Swap {
        at: u16,
        with: u16,
    },
    /// The file ends `bytes` early, inside a message or not.
    CutFile {
        bytes: u16,
    },
}

#[derive(Arbitrary, Debug)]
enum Time {
    /// `ns` before the previous message (at least 1).
    Backwards {
        ns: u32,
    },
    /// The previous message's timestamp.
    EqualToPrevious,
    /// 24 h or more after midnight.
    NextDay {
        ns: u32,
    },
    /// The largest 6-byte timestamp.
    Max,
    Zero,
}

#[derive(Arbitrary, Debug)]
enum OrderRef {
    /// A reference no message added (most are, at these values).
    Unknown(u64),
    /// Another message's reference: a duplicate add, a reused reference, an execution
    /// of another symbol's order.
    Of(u16),
}

#[derive(Arbitrary, Debug)]
enum Locate {
    /// 0, system-wide: the source sends it to every shard.
    System,
    /// Another message's locate: another symbol's, or one the directory never named.
    Of(u16),
    Any(u16),
}

fuzz_target!(|mutations: Vec<Mutation>| {
    let mut session = SESSION.clone();
    let mut cut = 0;
    for m in &mutations {
        cut += apply(&mut session, m);
    }
    let mut bytes = Vec::with_capacity(session.len() * (ROOM + 2));
    for m in &session {
        let prefix = m.prefix.unwrap_or(m.len as u16);
        bytes.extend_from_slice(&prefix.to_be_bytes());
        bytes.extend_from_slice(m.body());
    }
    bytes.truncate(bytes.len().saturating_sub(cut));
    whole_run::check(&bytes);
});

/// Applies `m`; returns the bytes to cut from the end of the file.
fn apply(session: &mut Vec<Message>, m: &Mutation) -> usize {
    if session.is_empty() {
        return 0;
    }
    let n = session.len();
    let at = |i: u16| usize::from(i) % n;
    match *m {
        Mutation::Timestamp { at: i, ref time } => {
            let i = at(i);
            let previous = session[i.saturating_sub(1)].timestamp();
            let ts = match *time {
                Time::Backwards { ns } => previous.saturating_sub(u64::from(ns).max(1)),
                Time::EqualToPrevious => previous,
                Time::NextDay { ns } => DAY_NS + u64::from(ns),
                Time::Max => MAX_TIMESTAMP,
                Time::Zero => 0,
            };
            session[i].set_timestamp(ts);
        }
        Mutation::OrderRef { at: i, new, ref to } => {
            let i = at(i);
            let value = match *to {
                OrderRef::Unknown(r) => Some(r.to_be_bytes()),
                OrderRef::Of(j) => {
                    let other = &session[at(j)];
                    other
                        .order_refs()
                        .first()
                        .and_then(|&f| other.field(f, 8))
                        .map(|b| b.try_into().expect("8 bytes"))
                }
            };
            let fields = session[i].order_refs();
            let field = if new { fields.last() } else { fields.first() };
            if let (Some(&field), Some(value)) = (field, value) {
                session[i].set(field, &value);
            }
        }
        Mutation::Locate { at: i, ref to } => {
            let i = at(i);
            let locate = match *to {
                Locate::System => Some(0),
                Locate::Of(j) => session[at(j)]
                    .field(LOCATE_AT, 2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]])),
                Locate::Any(l) => Some(l),
            };
            if let Some(locate) = locate {
                session[i].set(LOCATE_AT, &locate.to_be_bytes());
            }
        }
        Mutation::Kind { at: i, kind } => session[at(i)].bytes[0] = kind,
        Mutation::LengthPrefix { at: i, len } => session[at(i)].prefix = Some(len),
        Mutation::Resize { at: i, len } => {
            let msg = &mut session[at(i)];
            let len = usize::from(len) % (ROOM + 1);
            msg.bytes[msg.len.min(len)..].fill(0);
            msg.len = len;
        }
        Mutation::Byte {
            at: i,
            offset,
            value,
        } => {
            let msg = &mut session[at(i)];
            if msg.len > 0 {
                msg.bytes[usize::from(offset) % msg.len] = value;
            }
        }
        Mutation::Duplicate { at: i } => {
            let i = at(i);
            session.insert(i, session[i]);
        }
        Mutation::Drop { at: i } => {
            session.remove(at(i));
        }
        Mutation::Swap { at: i, with } => session.swap(at(i), at(with)),
        Mutation::CutFile { bytes } => return usize::from(bytes),
    }
    0
}
