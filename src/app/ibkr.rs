//! The binary's Interactive Brokers parts: `tickpipe ibkr check --config FILE`, the
//! user's first command against IB Gateway (it connects, checks the account, and prints
//! the server version, the managed accounts, each configured contract as IB knows it,
//! the account's positions and the open orders; it places nothing), and the venue
//! `tickpipe run` plugs in when the config's `[venue] kind` is `"ibkr"`.

use std::path::Path;

use crate::config::ConfigError;
use crate::runtime::config::{Config, Kinds};
use crate::stages::inference::Model;
use crate::stages::inference::builtin::BuiltIn;
use crate::venue::ibkr::config::{IbkrConfig, KIND};

/// The model and venue kinds `run` validates a config file against: the IBKR venue's
/// when its `[venue] kind` is `"ibkr"`, else the simulated exchange's. A file that cannot
/// be read or parsed gets the built-in kinds; loading it then reports why.
pub fn kinds_for(path: &Path) -> Kinds {
    let ibkr = crate::config::read_toml::<toml::Table>(path)
        .ok()
        .and_then(|t| t.get("venue")?.get("kind")?.as_str().map(|k| k == KIND))
        .unwrap_or(false);
    if ibkr {
        Kinds {
            model: BuiltIn::KINDS,
            venue: KIND,
        }
    } else {
        Kinds::BUILT_IN
    }
}

/// Reads and validates a config whose `[venue]` is `kind = "ibkr"` (the whole file, as
/// `run` would), and returns that section.
pub fn load(path: &Path) -> Result<IbkrConfig, ConfigError> {
    let kinds = Kinds {
        model: BuiltIn::KINDS,
        venue: KIND,
    };
    let (config, _) = Config::load_for(path, kinds)?;
    Ok(config
        .venue
        .ibkr()
        .expect("validated against kind \"ibkr\"")
        .clone())
}

#[cfg(feature = "ibkr")]
pub use wire::{VenueError, check, render, venue};

#[cfg(feature = "ibkr")]
mod wire {
    use std::fmt::Write as _;

    use super::*;
    use std::sync::Mutex;

    use crate::msg::{Price, Side};
    use crate::universe::Universe;
    use crate::venue::VenueSetup;
    use crate::venue::ibkr::client::{self, CheckReport, IbWire, WireError};
    use crate::venue::ibkr::events::ConId;
    use crate::venue::ibkr::reconcile::{Contract, Contracts};
    use crate::venue::ibkr::{IbkrSetup, IbkrVenue};

    /// How long the end of the session waits for IB to confirm its cancels: IB confirms
    /// a cancel within milliseconds, so 10 s is a Gateway in trouble.
    const END_OF_SESSION_DEADLINE_NS: u64 = 10_000_000_000;

    /// Why `run` cannot trade through IB.
    #[derive(Debug, thiserror::Error)]
    pub enum VenueError {
        #[error(
            "venue.client_id: {client_id} with --shards {shards}: shard k connects as client \
             {client_id} + k, and {client_id} + {last} is not an IB API client id (0 to {max})",
            last = shards - 1,
            max = i32::MAX
        )]
        ClientIds { client_id: i64, shards: usize },
        #[error(transparent)]
        Wire(#[from] WireError),
    }

    /// Connects to IB (checking the account: `live` is `--live-account`) and returns
    /// the venue factory `run` plugs into the engine. Each shard gets its own API
    /// connection, as client `client_id + shard`, and reconciles only the symbols it owns
    /// (ARCHITECTURE.md, "The IBKR venue across shards"). Our positions start flat: the
    /// account must hold none of the configured contracts, or the start-up
    /// reconciliation halts naming the symbol and both quantities.
    pub fn venue(
        config: &IbkrConfig,
        universe: &Universe,
        shards: usize,
        live: bool,
    ) -> Result<impl Fn(&VenueSetup<'_>) -> IbkrVenue<IbWire> + 'static, VenueError> {
        let last = config.client_id.saturating_add(shards as i64 - 1);
        if last > i64::from(i32::MAX) {
            return Err(VenueError::ClientIds {
                client_id: config.client_id,
                shards,
            });
        }
        let contracts: Vec<Contract> = universe
            .ids()
            .map(|symbol| {
                let name = universe.name(symbol);
                let con_id = config.contracts[name.as_str()].con_id as ConId;
                Contract {
                    symbol,
                    name,
                    con_id,
                }
            })
            .collect();
        // Connected here, before the engine starts, so a refusal is a start-up error.
        let wires = (0..shards)
            .map(|shard| {
                let mut client = config.clone();
                client.client_id += shard as i64;
                IbWire::connect(&client, live).map(|w| Mutex::new(Some(w)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (backoff_base_ns, backoff_cap_ns) = config.backoff_ns();
        let unknown_order_deadline_ns = config.unknown_order_deadline_ns();
        let seed = config.backoff_seed as u64;
        Ok(move |v: &VenueSetup<'_>| {
            let wire = wires[v.shard]
                .lock()
                .expect("the venue factory runs once a shard")
                .take()
                .expect("the venue factory runs once a shard");
            let setup = IbkrSetup {
                contracts: Contracts(
                    contracts
                        .iter()
                        .filter(|c| v.owned.contains(&c.symbol))
                        .copied()
                        .collect(),
                ),
                positions: Vec::new(),
                id_floor: 1,
                journal: v.journal.map(Path::to_path_buf),
                unknown_order_deadline_ns,
                end_of_session_deadline_ns: END_OF_SESSION_DEADLINE_NS,
                backoff_base_ns,
                backoff_cap_ns,
                backoff_seed: seed.wrapping_add(v.shard as u64),
            };
            IbkrVenue::new(wire, setup)
        })
    }

    /// Runs the check; `live` is `--live-account`. The report, and whether every
    /// configured contract is one IB knows (otherwise the command fails, exit 1, after
    /// printing what it found).
    pub fn check(config: &IbkrConfig, live: bool) -> Result<(String, bool), WireError> {
        let report = client::check(config, live)?;
        let ok = report.contracts.iter().all(|(_, c)| c.is_ok());
        Ok((render(config, &report), ok))
    }

    fn ticker(config: &IbkrConfig, con_id: ConId) -> String {
        config
            .contracts
            .iter()
            .find(|(_, c)| c.con_id == i64::from(con_id))
            .map_or_else(
                || format!("conId {con_id} (not configured)"),
                |(t, _)| t.clone(),
            )
    }

    fn price(p: Price) -> String {
        format!("{:.4}", p.0 as f64 / Price::SCALE as f64)
    }

    /// The report as text, one fact a line.
    pub fn render(config: &IbkrConfig, r: &CheckReport) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "connected to {} as client {}: server version {}",
            r.address, config.client_id, r.server_version
        );
        let _ = writeln!(w, "managed accounts: {}", r.managed_accounts.join(", "));
        let _ = writeln!(
            w,
            "trading account: {} ({})",
            config.account,
            if config.is_paper() { "paper" } else { "live" }
        );
        let _ = writeln!(w, "contracts:");
        for (ticker, found) in &r.contracts {
            let con_id = config.contracts[ticker].con_id;
            match found {
                Ok(c) => {
                    let _ = writeln!(
                        w,
                        "  {ticker}: con_id {con_id}: {} \"{}\" on {} (primary {}), {}, min tick {}{}",
                        c.symbol,
                        c.long_name,
                        c.exchange,
                        c.primary_exchange,
                        c.currency,
                        c.min_tick,
                        if c.symbol == *ticker {
                            String::new()
                        } else {
                            format!(" -- IB's symbol is not {ticker}: check con_id")
                        }
                    );
                }
                Err(why) => {
                    let _ = writeln!(w, "  {ticker}: con_id {con_id}: error: {why}");
                }
            }
        }
        let s = &r.snapshot;
        let _ = writeln!(w, "positions ({}): {}", config.account, s.positions.len());
        for p in &s.positions {
            let _ = writeln!(w, "  {}: {}", ticker(config, p.con_id), p.position);
        }
        let _ = writeln!(w, "open orders: {}", s.open_orders.len());
        for o in &s.open_orders {
            let side = match o.side {
                Side::Buy => "BUY",
                Side::Sell => "SELL",
            };
            let limit = o.limit.map_or_else(|| "not a limit order".into(), price);
            let _ = writeln!(
                w,
                "  order {}: {side} {} {} @ {limit}, {:?}, orderRef {:?}",
                o.order_id,
                o.qty,
                ticker(config, o.con_id),
                o.status,
                o.order_ref
            );
        }
        let _ = writeln!(
            w,
            "executions since the session start: {}",
            s.executions.len()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_venue_kind_a_file_names_picks_what_it_is_validated_against() {
        let paper = Path::new("config/ibkr-paper.toml");
        assert_eq!(kinds_for(paper).venue, KIND);
        assert_eq!(
            kinds_for(Path::new("config/tickpipe.toml")),
            Kinds::BUILT_IN
        );
        assert_eq!(kinds_for(Path::new("no/such/file.toml")), Kinds::BUILT_IN);
        let ib = load(paper).unwrap();
        assert_eq!(
            (ib.address(), ib.contracts.len()),
            ("127.0.0.1:4002".into(), 8)
        );
        assert!(load(Path::new("config/tickpipe.toml")).is_err());
    }

    #[test]
    fn check_config_validates_an_ibkr_config_as_run_would() {
        let cores: Vec<usize> = (0..64).collect();
        let checked = crate::app::check_config::check(
            Path::new("config/ibkr-paper.toml"),
            Path::new("pipelines/fused-inline.toml"),
            Some(1),
            &cores,
        );
        assert_eq!(checked.problems, Vec::<String>::new());
        assert!(
            checked.settings.contains("con_id: 265598"),
            "{}",
            checked.settings
        );
    }
}
