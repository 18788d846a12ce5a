//! `tickpipe check-config`: validates a config and a topology as `run` would at start,
//! the topology against this host's cores, and prints the settings in effect.

use std::fmt::Write;
use std::path::Path;

use crate::runtime::config::Config;
use crate::runtime::topology::{Topology, VenueRunner};

/// What a check found: the effective settings when everything is valid, else every
/// problem (each names its file and key).
pub struct Checked {
    pub settings: String,
    pub problems: Vec<String>,
}

/// Checks `config` (for the venue its `[venue] kind` names: the simulated exchange or
/// Interactive Brokers), then `pipeline` against its symbols and `cores` (the host's).
pub fn check(config: &Path, pipeline: &Path, shards: Option<usize>, cores: &[usize]) -> Checked {
    let mut problems = Vec::new();
    let mut settings = String::new();
    match Config::load_for(config, super::ibkr::kinds_for(config)) {
        Err(e) => {
            problems.push(e.to_string());
            // The shard map needs the symbols: the topology cannot be resolved without them.
            problems.push(format!(
                "{}: not checked: its shard map needs the symbols of a valid config",
                pipeline.display()
            ));
        }
        Ok((config_values, universe)) => {
            let _ = writeln!(settings, "config {}: valid", config.display());
            let tickers: Vec<String> = universe
                .ids()
                .map(|id| universe.name(id).to_string())
                .collect();
            let _ = writeln!(settings, "  symbols      {}", tickers.join(" "));
            let _ = writeln!(settings, "{config_values:#?}");
            match Topology::load(pipeline, shards, &universe, cores) {
                Err(e) => problems.push(e.to_string()),
                Ok(t) => describe(&mut settings, &t, cores),
            }
        }
    }
    Checked { settings, problems }
}

fn describe(o: &mut String, t: &Topology, cores: &[usize]) {
    let _ = writeln!(
        o,
        "pipeline {}: valid on this host (cores {cores:?})",
        t.path.display()
    );
    let _ = writeln!(o, "  {}", t.description);
    let _ = writeln!(o, "  shards       {}", t.shards);
    let _ = writeln!(
        o,
        "  source       idle {:?}, core {:?}",
        t.source.idle, t.source.core
    );
    match &t.venue {
        VenueRunner::Thread(v) => {
            let _ = writeln!(
                o,
                "  venue        own thread, idle {:?}, core {:?}",
                v.idle, v.core
            );
        }
        VenueRunner::Inline => {
            let _ = writeln!(
                o,
                "  venue        inline, on the runner of risk and routing"
            );
        }
    }
    for r in &t.runners {
        let _ = writeln!(
            o,
            "  runner {:<10} {}..{}, idle {:?}, cores {:?}",
            r.name,
            r.first.name(),
            r.last.name(),
            r.idle,
            r.cores
        );
    }
    for (kind, ring) in &t.rings {
        let _ = writeln!(
            o,
            "  ring {:<12} {} slots, policy {}, on {}",
            kind.name(),
            ring.capacity,
            ring.policy.as_str(),
            ring.ring.as_str()
        );
    }
}
