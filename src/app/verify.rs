//! `tickpipe journal verify DIR --input FILE`: the audit replay. It re-derives every
//! decision of a journaled session through the same stages, from the same input and
//! config, and checks each against the journal: the first divergence is named (record,
//! both values, input position); otherwise every record is accounted for. It writes
//! nothing and sends nothing: the venue is the in-process simulated exchange, and
//! decisions past an unfinished journal's end are dropped.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::msg::VenueCommand;
use crate::runtime::builder::Engine;
use crate::runtime::config::{Config, decision_identity};
use crate::runtime::journal::JournalMeta;
use crate::runtime::journal::store::{self, OpenError};
use crate::runtime::pipeline::StartError;
use crate::runtime::topology::Topology;
use crate::source::replay::{Input, Pacing};
use crate::stages::journal::Record;

/// Why a verification could not run: bad arguments or files (exit 2), or a journal
/// that is damaged or belongs to another config or input (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The config, topology or input could not be read.
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Journal(#[from] OpenError),
    #[error(
        "journal {dir} was written for {what} {journal:016x}, this {what} is {given:016x}: \
         {why}"
    )]
    Identity {
        dir: String,
        what: &'static str,
        journal: u64,
        given: u64,
        why: &'static str,
    },
    #[error(transparent)]
    Start(#[from] StartError),
}

impl VerifyError {
    /// The exit status: 2 for what the caller named wrongly, 1 for the journal's fault.
    pub fn exit_code(&self) -> u8 {
        match self {
            VerifyError::Setup(_) | VerifyError::Start(_) => 2,
            VerifyError::Journal(OpenError::Input { .. }) => 2,
            VerifyError::Journal(_) | VerifyError::Identity { .. } => 1,
        }
    }
}

/// What a verification found.
#[derive(Debug)]
pub struct Verification {
    pub shards: usize,
    /// Journaled records re-derived and found equal.
    pub verified: u64,
    /// Records the journal holds.
    pub records: u64,
    pub finished: bool,
    /// The first divergence (or other failure of the replay), if any.
    pub failure: Option<String>,
    /// `New` commands the journal holds, and how many distinct client order ids they use.
    pub orders: usize,
    pub distinct_ids: usize,
    pub digest: u64,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.failure.is_none() && self.verified == self.records && self.orders == self.distinct_ids
    }

    pub fn text(&self) -> String {
        let state = if self.finished {
            "finished"
        } else {
            "unfinished"
        };
        let mut o = match &self.failure {
            Some(f) => format!("DIVERGED: {f}\n"),
            None => format!(
                "verified {} of {} records over {} shard(s), session {state}\n",
                self.verified, self.records, self.shards
            ),
        };
        o += &format!(
            "client order ids: {} orders journaled, {} distinct{}\n",
            self.orders,
            self.distinct_ids,
            if self.orders == self.distinct_ids {
                ""
            } else {
                ": AN ID WAS SENT TWICE"
            }
        );
        if self.failure.is_none() && self.finished {
            o += &format!("digest {:016x}\n", self.digest);
        }
        o
    }
}

/// Re-derives the journal `dir` over `input` with `config` on `pipeline`.
pub fn verify(
    dir: &Path,
    input: &Path,
    config: &Path,
    pipeline: &Path,
    cores: &[usize],
) -> Result<Verification, VerifyError> {
    let read = store::read(dir)?;
    let text = std::fs::read_to_string(config)
        .map_err(|e| VerifyError::Setup(format!("reading {}: {e}", config.display())))?;
    let config_hash = decision_identity(&text)
        .map_err(|e| VerifyError::Setup(format!("{}: {e}", config.display())))?;
    let identity = |what, journal, given, why| VerifyError::Identity {
        dir: dir.display().to_string(),
        what,
        journal,
        given,
        why,
    };
    if config_hash != read.header.config_hash {
        return Err(identity(
            "config",
            read.header.config_hash,
            config_hash,
            "its decisions would differ; pass the session's --config",
        ));
    }
    let input = Input::File(input.to_path_buf());
    let input_id = store::input_identity(&input)?;
    // A live session's header names its feed, not bytes (they did not exist yet): its
    // input is the capture in the journal (`DIR/input.itch`), and every re-derived
    // decision is checked against the journal all the same.
    let live = read.header.input.kind == "live";
    if !live && (input_id.len, input_id.hash) != (read.header.input.len, read.header.input.hash) {
        return Err(identity(
            "input hash",
            read.header.input.hash,
            input_id.hash,
            "another input; pass the session's --input",
        ));
    }
    let (config, universe) =
        Config::load(config).map_err(|e| VerifyError::Setup(format!("{e:#}")))?;
    let shards = read.header.shards as usize;
    let topology = Topology::load(pipeline, Some(shards), &universe, cores)
        .map_err(|e| VerifyError::Setup(format!("{e:#}")))?;
    let records: u64 = read.past.iter().map(|p| p.len() as u64).sum();
    let ids: Vec<u64> = read
        .past
        .iter()
        .flatten()
        .filter_map(|(_, r)| match r {
            Record::Command {
                command: VenueCommand::New { order, .. },
                ..
            } => Some(order.cl_ord_id.0),
            _ => None,
        })
        .collect();
    let distinct: HashSet<u64> = ids.iter().copied().collect();
    let meta = JournalMeta {
        dir: dir.display().to_string(),
        policy: "verify".into(),
        risks: "nothing is written".into(),
        resumed: true,
        finished: read.finished,
        notes: Vec::new(),
    };
    let source = input
        .source(Pacing::AsFastAsPossible)
        .map_err(|e| VerifyError::Setup(e.to_string()))?;
    let report = Engine::new(topology, config, Arc::new(universe), source)
        .journal(meta, store::verify_logs(read.past))
        .run()?;
    let verified = report
        .shard
        .risk
        .journal
        .iter()
        .map(|j| j.counts.verified)
        .sum();
    Ok(Verification {
        shards,
        verified,
        records,
        finished: read.finished,
        failure: report.failures.first().map(|f| f.message.clone()),
        orders: ids.len(),
        distinct_ids: distinct.len(),
        digest: report.digest(),
    })
}
