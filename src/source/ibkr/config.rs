//! `[source.ibkr]`: the connection `run --source ibkr` takes IB's market data over, the
//! contract of every configured symbol, and how long a symbol may go without a tick
//! before it is stale. Read only with `--source ibkr`; every key is required then.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::Problems;
use crate::universe::Universe;
use crate::venue::ibkr::config::{ContractConfig, check_connection, check_contracts};

/// `[source]`: the sources that need settings of their own. Only `ibkr` has any.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `[source.ibkr]`, required by `run --source ibkr`.
    pub ibkr: Option<IbSourceConfig>,
}

/// `[source.ibkr]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IbSourceConfig {
    /// IB Gateway's or TWS's API host.
    pub host: String,
    /// Its API port, 1..=65535 (checked in [`IbSourceConfig::validate`], so a bad value
    /// is a problem naming the key rather than a parse error).
    pub port: i64,
    /// The API client id of the market-data connection: not the venue's, since one
    /// Gateway takes one connection per client id.
    pub client_id: i64,
    /// A symbol with no tick (quote or trade) for this long, in milliseconds of the
    /// host's clock, goes stale until its next tick.
    pub stale_after_ms: u64,
    /// The IB contract of each ticker in `[symbols] tickers`: every ticker needs one.
    pub contracts: BTreeMap<String, ContractConfig>,
}

impl IbSourceConfig {
    /// The longest `stale_after_ms`: one day.
    pub const MAX_STALE_AFTER_MS: u64 = 86_400_000;

    /// `host:port`, as the IB client connects to it.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// For the report.
    pub fn describe(&self) -> String {
        format!(
            "IBKR market data at {} (client {}, {} contracts, stale after {} ms)",
            self.address(),
            self.client_id,
            self.contracts.len(),
            self.stale_after_ms
        )
    }

    /// Reports every invalid value with its key. `universe` is the configured symbols'
    /// (absent when `[symbols]` is itself invalid: the contracts are then not matched).
    pub fn validate(&self, universe: Option<&Universe>, p: &mut Problems<'_>) {
        check_connection(&self.host, self.port, self.client_id, p);
        p.check(
            (1..=Self::MAX_STALE_AFTER_MS).contains(&self.stale_after_ms),
            "stale_after_ms",
            format!(
                "{} is not 1 to {} (one day)",
                self.stale_after_ms,
                Self::MAX_STALE_AFTER_MS
            ),
        );
        check_contracts(&self.contracts, universe, "source.ibkr.contracts", p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Problem;

    fn config() -> IbSourceConfig {
        toml::from_str(
            r#"
            host = "127.0.0.1"
            port = 4002
            client_id = 18
            stale_after_ms = 5000
            [contracts.AAPL]
            con_id = 265598
            "#,
        )
        .unwrap()
    }

    fn problems(c: &IbSourceConfig, universe: &Universe) -> Vec<String> {
        let mut out: Vec<Problem> = Vec::new();
        c.validate(Some(universe), &mut Problems::new("source.ibkr", &mut out));
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_bad_value_is_named_by_its_key() {
        let universe = Universe::new(&["AAPL", "MSFT"]).unwrap();
        let mut c = config();
        assert_eq!(
            problems(&c, &universe),
            [
                "source.ibkr.contracts: no contract for MSFT: every ticker in symbols.tickers \
              needs [source.ibkr.contracts.TICKER] con_id"
            ]
        );
        c.port = 0;
        c.stale_after_ms = 0;
        c.client_id = -1;
        let got = problems(&c, &Universe::new(&["AAPL"]).unwrap());
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].starts_with("source.ibkr.port: 0"), "{got:?}");
        assert!(got[1].starts_with("source.ibkr.client_id: -1"), "{got:?}");
        assert!(
            got[2].starts_with("source.ibkr.stale_after_ms: 0"),
            "{got:?}"
        );
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let e = toml::from_str::<IbSourceConfig>(
            "host = \"h\"\nport = 1\nclient_id = 1\nstale_after_ms = 1\ncontracts = {}\nfarm = 1\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `farm`"), "{e}");
    }
}
