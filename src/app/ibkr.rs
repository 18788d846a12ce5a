//! `tickpipe ibkr check --config FILE`: the user's first command against IB Gateway.
//! It connects, checks the account, and prints the server version, the managed
//! accounts, each configured contract as IB knows it, the account's positions and the
//! open orders. It places nothing.

use std::path::Path;

use crate::config::ConfigError;
use crate::runtime::config::{Config, Kinds};
use crate::stages::inference::Model;
use crate::stages::inference::builtin::BuiltIn;
use crate::venue::ibkr::config::{IbkrConfig, KIND};

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
pub use wire::{check, render};

#[cfg(feature = "ibkr")]
mod wire {
    use std::fmt::Write as _;

    use super::*;
    use crate::msg::{Price, Side};
    use crate::venue::ibkr::client::{self, CheckReport, WireError};
    use crate::venue::ibkr::events::ConId;

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
