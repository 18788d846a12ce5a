//! `tickpipe journal inspect`: a journal's session, summarised per shard, every CRC and
//! sequence number checked on the way (by `journal::scan`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::journal::{Entry, Record, Scan, TornTail};
use crate::msg::{ClOrdId, ExecKind, VenueCommand};

/// Execution report kinds, in the order they are listed.
const REPORT_KINDS: [(ExecKind, &str); 9] = [
    (ExecKind::Ack, "ack"),
    (ExecKind::Fill, "fill"),
    (ExecKind::Cancelled, "cancelled"),
    (ExecKind::Rejected, "rejected"),
    (ExecKind::CancelRejected, "cancel_rejected"),
    (ExecKind::Watermark, "watermark"),
    (ExecKind::EndOfSession, "end_of_session"),
    (ExecKind::VenueDown, "venue_down"),
    (ExecKind::VenueUp, "venue_up"),
];

/// One shard's counts.
#[derive(Debug, Default, PartialEq)]
pub struct ShardSummary {
    pub segments: usize,
    pub records: usize,
    pub last_seq: u64,
    pub orders: u64,
    pub cancels: u64,
    pub mass_cancels: u64,
    /// Commands other than orders and cancels (ticks, watermarks, end of session).
    pub other_commands: u64,
    /// Execution reports by kind, in [`REPORT_KINDS`] order.
    pub reports: [u64; 9],
    pub state_changes: u64,
    /// Operator commands (re-enable a symbol, resume all).
    pub operator_commands: u64,
    /// The coordinator's records: level changes, schedules, slices, P&L snapshots.
    pub coordinator_records: u64,
    /// Records of kinds this build does not know: kind → count.
    pub unknown_kinds: BTreeMap<u8, u64>,
    pub max_cl_ord_id: Option<ClOrdId>,
    /// The End entry's `(position, digest)`.
    pub end: Option<(u64, u64)>,
    pub torn: Option<TornTail>,
}

pub fn summarise(scan: &Scan) -> Vec<ShardSummary> {
    scan.shards
        .iter()
        .map(|shard| {
            let mut s = ShardSummary {
                segments: shard.segments.len(),
                records: shard.records.len(),
                last_seq: shard.records.last().map_or(0, |&(seq, _)| seq),
                torn: shard.torn.clone(),
                ..ShardSummary::default()
            };
            for (_, record) in &shard.records {
                match *record {
                    Record::Entry(Entry::Command { command, .. }) => match command {
                        VenueCommand::New { order, .. } => {
                            s.orders += 1;
                            s.max_cl_ord_id = s.max_cl_ord_id.max(Some(order.cl_ord_id));
                        }
                        VenueCommand::Cancel { .. } => s.cancels += 1,
                        VenueCommand::CancelAll { .. } => s.mass_cancels += 1,
                        _ => s.other_commands += 1,
                    },
                    Record::Entry(Entry::Report { report, .. }) => {
                        let i = REPORT_KINDS
                            .iter()
                            .position(|(k, _)| *k == report.kind)
                            .expect("every exec kind is listed");
                        s.reports[i] += 1;
                    }
                    Record::Entry(Entry::State { .. }) => s.state_changes += 1,
                    Record::Entry(Entry::Operator { .. }) => s.operator_commands += 1,
                    Record::Entry(
                        Entry::Level { .. }
                        | Entry::Schedule { .. }
                        | Entry::Slice { .. }
                        | Entry::Snapshot { .. },
                    ) => s.coordinator_records += 1,
                    Record::Entry(Entry::End { position, digest }) => {
                        s.end = Some((position, digest));
                    }
                    Record::Unknown { kind, .. } => *s.unknown_kinds.entry(kind).or_default() += 1,
                }
            }
            s
        })
        .collect()
}

/// The whole inspection as one JSON object (keys documented in README.md).
pub fn to_json(scan: &Scan) -> Value {
    let h = &scan.header;
    let shards: Vec<Value> = summarise(scan)
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let reports: serde_json::Map<String, Value> = REPORT_KINDS
                .iter()
                .zip(s.reports)
                .map(|((_, name), n)| ((*name).to_string(), json!(n)))
                .collect();
            let unknown: serde_json::Map<String, Value> = s
                .unknown_kinds
                .iter()
                .map(|(kind, n)| (kind.to_string(), json!(n)))
                .collect();
            json!({
                "shard": k,
                "segments": s.segments,
                "records": s.records,
                "last_seq": s.last_seq,
                "orders": s.orders,
                "cancels": s.cancels,
                "mass_cancels": s.mass_cancels,
                "other_commands": s.other_commands,
                "reports": reports,
                "state_changes": s.state_changes,
                "operator_commands": s.operator_commands,
                "coordinator_records": s.coordinator_records,
                "unknown_kinds": unknown,
                "max_cl_ord_id": s.max_cl_ord_id.map(|id| id.to_string()),
                "finished": s.end.is_some(),
                "end": s.end.map(|(position, digest)| json!({
                    "position": position,
                    "digest": format!("{digest:016x}"),
                })),
                "torn_tail": s.torn.as_ref().map(|t| json!({
                    "segment": t.segment.display().to_string(),
                    "offset": t.offset,
                    "bytes": t.bytes,
                })),
            })
        })
        .collect();
    json!({
        "header": {
            "format_version": h.format_version,
            "config_hash": format!("{:016x}", h.config_hash),
            "input": {
                "kind": h.input.kind,
                "len": h.input.len,
                "hash": format!("{:016x}", h.input.hash),
            },
            "shards": h.shards,
            "created_unix_ns": h.created_unix_ns,
        },
        "finished": scan.finished,
        "shards": shards,
    })
}

/// The text inspection: the header, each shard's summary, and its last `records` records
/// (all of them with `None`).
pub fn to_text(scan: &Scan, records: Option<usize>) -> String {
    let h = &scan.header;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "journal format {}, config {:016x}, input {} ({} bytes, hash {:016x}), {} shard(s), {}",
        h.format_version,
        h.config_hash,
        h.input.kind,
        h.input.len,
        h.input.hash,
        h.shards,
        if scan.finished {
            "finished"
        } else {
            "not finished"
        }
    );
    for ((k, s), shard) in summarise(scan).iter().enumerate().zip(&scan.shards) {
        let _ = writeln!(
            out,
            "shard {k}: {} record(s) in {} segment(s), last seq {}",
            s.records, s.segments, s.last_seq
        );
        let _ = writeln!(
            out,
            "  orders {}, cancels {}, mass cancels {}, other commands {}, state changes {}, \
             operator commands {}, coordinator records {}",
            s.orders,
            s.cancels,
            s.mass_cancels,
            s.other_commands,
            s.state_changes,
            s.operator_commands,
            s.coordinator_records
        );
        let reports: Vec<String> = REPORT_KINDS
            .iter()
            .zip(s.reports)
            .map(|((_, name), n)| format!("{name} {n}"))
            .collect();
        let _ = writeln!(out, "  reports: {}", reports.join(", "));
        if let Some(id) = s.max_cl_ord_id {
            let _ = writeln!(out, "  highest client order id {id}");
        }
        for (kind, n) in &s.unknown_kinds {
            let _ = writeln!(out, "  {n} record(s) of unknown kind {kind}");
        }
        match s.end {
            Some((position, digest)) => {
                let _ = writeln!(out, "  end at position {position}, digest {digest:016x}");
            }
            None => out.push_str("  no end entry: the session did not finish\n"),
        }
        if let Some(t) = &s.torn {
            let _ = writeln!(
                out,
                "  torn tail in {} at offset {} ({} bytes; opening the journal truncates it)",
                t.segment.display(),
                t.offset,
                t.bytes
            );
        }
        let skip = records.map_or(0, |n| shard.records.len().saturating_sub(n));
        for (seq, record) in &shard.records[skip..] {
            let _ = writeln!(out, "  {seq:>8} {}", describe(record));
        }
    }
    out
}

fn describe(record: &Record) -> String {
    match *record {
        Record::Entry(Entry::Command { position, command }) => {
            let what = match command {
                VenueCommand::New { order, .. } => format!(
                    "new {} {:?} {} @ {} {:?} symbol {}",
                    order.cl_ord_id, order.side, order.qty, order.price, order.tif, order.symbol.0
                ),
                VenueCommand::Cancel { cl_ord_id, .. } => format!("cancel {cl_ord_id}"),
                VenueCommand::CancelAll { .. } => "cancel all".to_string(),
                VenueCommand::Tick { view } => format!("tick symbol {}", view.symbol.0),
                VenueCommand::Watermark { stamp } => format!("watermark {}", stamp.ts_event),
                VenueCommand::EndOfSession { .. } => "end of session".to_string(),
            };
            format!("@{position} command {what}")
        }
        Record::Entry(Entry::Report { position, report }) => format!(
            "@{position} report {:?} {} {:?} {} @ {} leaves {} {:?}",
            report.kind,
            report.cl_ord_id,
            report.side,
            report.qty,
            report.price,
            report.leaves,
            report.reason
        ),
        Record::Entry(Entry::State {
            position,
            state,
            cause,
        }) => format!("@{position} state {} cause {cause}", state.as_str()),
        Record::Entry(Entry::End { position, digest }) => {
            format!("@{position} end digest {digest:016x}")
        }
        Record::Entry(Entry::Operator {
            position,
            command,
            symbol,
        }) => format!("@{position} operator command {command} symbol {symbol}"),
        Record::Entry(Entry::Level {
            position,
            level,
            cause,
        }) => format!("@{position} level {level} cause {cause}"),
        Record::Entry(Entry::Schedule {
            position,
            symbol,
            side,
            quantity,
            slices,
            start_ns,
            interval_ns,
            limit_offset,
        }) => format!(
            "@{position} schedule symbol {symbol} {side:?} {quantity} in {slices} slices \
             from {start_ns} every {interval_ns} ns, offset {limit_offset}"
        ),
        Record::Entry(Entry::Slice {
            position,
            parent,
            slice,
            fate,
            cl_ord_id,
            code,
        }) => format!(
            "@{position} schedule {parent} slice {slice} fate {fate} order {} code {code}",
            ClOrdId(cl_ord_id)
        ),
        Record::Entry(Entry::Snapshot {
            position,
            at,
            realised,
            unrealised,
        }) => format!("@{position} pnl at {at} realised {realised} unrealised {unrealised}"),
        Record::Unknown { kind, len } => format!("unknown kind {kind} ({len} bytes)"),
    }
}
