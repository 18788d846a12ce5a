//! `[venue] kind = "ibkr"`: where the IB Gateway (or TWS) listens, which API client id
//! and account tickpipe uses, and the IB contract of every configured symbol.
//!
//! No credentials: IB Gateway holds the login, so the file has nothing to leak (and
//! `deny_unknown_fields` refuses a `password` key like any other unknown one).
//!
//! Paper accounts (IB's `DU…` ids) are the default. A live account is refused unless the
//! command line says `--live-account`, and any account must be one of the server's managed
//! accounts ([`check_account`]); both are checked when the connection is up, before
//! anything is sent.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::config::Problems;
use crate::universe::Universe;

/// The `[venue] kind` of the Interactive Brokers venue.
pub const KIND: &str = "ibkr";

/// The prefix of IB's paper-trading account ids.
pub const PAPER_PREFIX: &str = "DU";

/// `[venue]` with `kind = "ibkr"` (the `kind` key itself is consumed by
/// [`super::super::VenueConfig`]'s dispatch).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IbkrConfig {
    /// IB Gateway's or TWS's API host.
    pub host: String,
    /// Its API port: 4002 is IB Gateway's paper default, 4001 its live one (TWS: 7497,
    /// 7496). Checked to be 1..=65535 in [`IbkrConfig::validate`], so a bad value is a
    /// problem naming the key rather than a parse error.
    pub port: i64,
    /// The API client id; each connection to one Gateway needs its own (0 is TWS's
    /// "master" client, which also sees orders other clients place).
    pub client_id: i64,
    /// The account orders go to: a paper `DU…` id, or a live one with `--live-account`.
    pub account: String,
    /// Reconnect backoff: the first wait after the link drops, in milliseconds; each
    /// further attempt doubles it up to `backoff_max_ms`.
    pub backoff_min_ms: i64,
    /// The longest wait between reconnect attempts, in milliseconds.
    pub backoff_max_ms: i64,
    /// The seed of the backoff's jitter (shard `k` draws from `backoff_seed + k`), so a
    /// test's schedule repeats and clients started together do not retry in step.
    pub backoff_seed: i64,
    /// How long after a reconciliation our orders IB does not show stay in flight before
    /// they are resolved as never having reached IB, in milliseconds.
    pub unknown_order_deadline_ms: i64,
    /// The IB contract of each ticker in `[symbols] tickers`: every ticker needs one.
    pub contracts: BTreeMap<String, ContractConfig>,
}

/// The longest a backoff wait or the unknown-order deadline may be: one hour. Beyond it
/// a live session would sit out a whole trading hour on a value that is surely a typo.
pub const MAX_WAIT_MS: i64 = 3_600_000;

/// `[venue.contracts.TICKER]`: one symbol's IB contract.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractConfig {
    /// IB's contract id (`conId`): unambiguous where a ticker is not (`tickpipe ibkr
    /// check` prints what IB knows it as).
    pub con_id: i64,
    /// The destination IB routes orders to; absent means `SMART` (IB's smart routing).
    pub exchange: Option<String>,
    /// The contract's currency; absent means `USD` (NASDAQ's listings).
    pub currency: Option<String>,
}

impl ContractConfig {
    /// The routing destination (`SMART` when the key is absent).
    pub fn exchange(&self) -> &str {
        self.exchange.as_deref().unwrap_or("SMART")
    }

    /// The currency (`USD` when the key is absent).
    pub fn currency(&self) -> &str {
        self.currency.as_deref().unwrap_or("USD")
    }
}

impl IbkrConfig {
    /// `host:port`, as the IB client connects to it.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The reconnect backoff's first and longest waits, in nanoseconds (validated).
    pub fn backoff_ns(&self) -> (u64, u64) {
        (ms_to_ns(self.backoff_min_ms), ms_to_ns(self.backoff_max_ms))
    }

    /// The unknown-order deadline in nanoseconds (validated).
    pub fn unknown_order_deadline_ns(&self) -> u64 {
        ms_to_ns(self.unknown_order_deadline_ms)
    }

    /// Whether the account is a paper account (an id starting `DU`).
    pub fn is_paper(&self) -> bool {
        self.account.starts_with(PAPER_PREFIX)
    }

    /// The contract configured for `ticker`.
    pub fn contract(&self, ticker: &str) -> Option<&ContractConfig> {
        self.contracts.get(ticker)
    }

    /// Reports every invalid value with its key. `universe` is the configured symbols'
    /// (absent when `[symbols]` is itself invalid: the contracts are then not matched).
    pub fn validate(&self, universe: Option<&Universe>, p: &mut Problems<'_>) {
        check_connection(&self.host, self.port, self.client_id, p);
        p.check(
            is_account_id(&self.account),
            "account",
            format!(
                "{:?} is not an IB account id (letters and digits, e.g. DU1234567)",
                self.account
            ),
        );
        for (key, value) in [
            ("backoff_min_ms", self.backoff_min_ms),
            ("backoff_max_ms", self.backoff_max_ms),
            ("unknown_order_deadline_ms", self.unknown_order_deadline_ms),
        ] {
            p.check(
                (1..=MAX_WAIT_MS).contains(&value),
                key,
                format!("{value} is not a wait in milliseconds (1 to {MAX_WAIT_MS})"),
            );
        }
        p.check(
            self.backoff_max_ms >= self.backoff_min_ms,
            "backoff_max_ms",
            format!(
                "{} is below backoff_min_ms ({}): the longest wait cannot be shorter than the first",
                self.backoff_max_ms, self.backoff_min_ms
            ),
        );
        p.check(
            self.backoff_seed >= 0,
            "backoff_seed",
            format!("{} is not a seed (0 or more)", self.backoff_seed),
        );
        check_contracts(&self.contracts, universe, "venue.contracts", p);
    }
}

/// An IB API connection's `host`, `port` and `client_id`, checked under `p`: the venue
/// and the market-data source each hold one.
pub fn check_connection(host: &str, port: i64, client_id: i64, p: &mut Problems<'_>) {
    p.check(
        !host.trim().is_empty() && !host.contains(char::is_whitespace),
        "host",
        format!("{host:?} is not a host name or address"),
    );
    p.check(
        (1..=65_535).contains(&port),
        "port",
        format!("{port} is not a TCP port (1 to 65535)"),
    );
    p.check(
        (0..=i64::from(i32::MAX)).contains(&client_id),
        "client_id",
        format!("{client_id} is not an IB API client id (0 to {})", i32::MAX),
    );
}

/// Every contract of `contracts` (`[SECTION.TICKER]`, `section` as the user writes it,
/// e.g. `venue.contracts`), checked under `p`: each names a configured ticker and a
/// plausible contract id, no two share one, and every ticker has one. The venue and the
/// market-data source hold the same table.
pub fn check_contracts(
    contracts: &BTreeMap<String, ContractConfig>,
    universe: Option<&Universe>,
    section: &str,
    p: &mut Problems<'_>,
) {
    let mut con_ids = HashSet::new();
    for (ticker, contract) in contracts {
        let p = &mut p.nested("contracts");
        if let Some(u) = universe {
            p.check(
                u.id_of(ticker).is_some(),
                ticker,
                "not a ticker in symbols.tickers",
            );
        }
        let p = &mut p.nested(ticker);
        p.check(
            (1..=i64::from(i32::MAX)).contains(&contract.con_id),
            "con_id",
            format!(
                "{} is not an IB contract id (1 to {})",
                contract.con_id,
                i32::MAX
            ),
        );
        p.check(
            con_ids.insert(contract.con_id),
            "con_id",
            format!(
                "{} is also another ticker's contract: one contract cannot be two symbols",
                contract.con_id
            ),
        );
        for (key, value) in [
            ("exchange", &contract.exchange),
            ("currency", &contract.currency),
        ] {
            if let Some(v) = value {
                p.check(
                    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric()),
                    key,
                    format!("{v:?} is not an IB {key} code (letters and digits)"),
                );
            }
        }
    }
    if let Some(u) = universe {
        let missing: Vec<String> = u
            .ids()
            .map(|id| u.name(id).to_string())
            .filter(|t| !contracts.contains_key(t))
            .collect();
        p.check(
            missing.is_empty(),
            "contracts",
            format!(
                "no contract for {}: every ticker in symbols.tickers needs \
                 [{section}.TICKER] con_id",
                missing.join(", ")
            ),
        );
    }
}

fn ms_to_ns(ms: i64) -> u64 {
    (ms.clamp(0, MAX_WAIT_MS) as u64) * 1_000_000
}

fn is_account_id(account: &str) -> bool {
    !account.is_empty() && account.len() <= 32 && account.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Why the configured account may not trade on this connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error(
        "venue.account: {account} is not a paper account (paper ids start with {PAPER_PREFIX}); \
         trading a live account needs --live-account on the command line"
    )]
    LiveWithoutFlag { account: String },
    #[error(
        "venue.account: {account} is not among the server's managed accounts ({}); \
         check the account id and which login IB Gateway holds",
        if managed.is_empty() { "none".to_string() } else { managed.join(", ") }
    )]
    NotManaged {
        account: String,
        managed: Vec<String>,
    },
}

/// Whether the configured account may trade: it is among `managed` (the server's
/// managed accounts) and, unless `live` (the command line's `--live-account`), a paper
/// account. The live check comes first: it holds whatever the server says.
pub fn check_account(
    config: &IbkrConfig,
    live: bool,
    managed: &[String],
) -> Result<(), AccountError> {
    if !config.is_paper() && !live {
        return Err(AccountError::LiveWithoutFlag {
            account: config.account.clone(),
        });
    }
    if !managed.iter().any(|m| m == &config.account) {
        return Err(AccountError::NotManaged {
            account: config.account.clone(),
            managed: managed.to_vec(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Problem;

    const PAPER: &str = "host = \"127.0.0.1\"\nport = 4002\nclient_id = 7\naccount = \"DU1234567\"\n\
                         backoff_min_ms = 100\nbackoff_max_ms = 30000\nbackoff_seed = 7\n\
                         unknown_order_deadline_ms = 5000\n\
                         [contracts.AAPL]\ncon_id = 265598\n\
                         [contracts.MSFT]\ncon_id = 272093\nexchange = \"ISLAND\"\ncurrency = \"USD\"\n";

    fn parse(text: &str) -> Result<IbkrConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    fn problems(config: &IbkrConfig, tickers: &[&str]) -> Vec<Problem> {
        let universe = Universe::new(tickers).unwrap();
        let mut out = Vec::new();
        config.validate(Some(&universe), &mut Problems::new("venue", &mut out));
        out
    }

    fn keys(found: &[Problem]) -> Vec<&str> {
        found.iter().map(|p| p.key.as_str()).collect()
    }

    #[test]
    fn a_paper_config_parses_and_validates() {
        let config = parse(PAPER).unwrap();
        assert_eq!(config.address(), "127.0.0.1:4002");
        assert!(config.is_paper());
        let aapl = config.contract("AAPL").unwrap();
        assert_eq!(
            (aapl.con_id, aapl.exchange(), aapl.currency()),
            (265598, "SMART", "USD")
        );
        assert_eq!(config.contract("MSFT").unwrap().exchange(), "ISLAND");
        assert_eq!(problems(&config, &["AAPL", "MSFT"]), []);
    }

    #[test]
    fn unknown_and_missing_keys_are_parse_errors_naming_the_key() {
        let unknown = parse(&format!("{PAPER}password = \"hunter2\"\n")).unwrap_err();
        assert!(unknown.contains("password"), "{unknown}");
        let in_contract =
            parse(&PAPER.replace("con_id = 265598", "con_id = 265598\nsymbol = \"AAPL\""))
                .unwrap_err();
        assert!(in_contract.contains("symbol"), "{in_contract}");
        for key in [
            "host",
            "port",
            "client_id",
            "account",
            "backoff_min_ms",
            "backoff_max_ms",
            "backoff_seed",
            "unknown_order_deadline_ms",
        ] {
            let text: String = PAPER
                .lines()
                .filter(|l| !l.starts_with(&format!("{key} =")))
                .map(|l| format!("{l}\n"))
                .collect();
            let missing = parse(&text).unwrap_err();
            assert!(missing.contains(key), "{key}: {missing}");
        }
        let no_con_id = parse(&PAPER.replace("con_id = 272093\n", "")).unwrap_err();
        assert!(no_con_id.contains("con_id"), "{no_con_id}");
    }

    #[test]
    fn every_bad_value_is_reported_with_its_key() {
        let mut config = parse(PAPER).unwrap();
        config.host = " ".into();
        config.port = 70_000;
        config.client_id = -1;
        config.account = "DU 1".into();
        config.contracts.get_mut("MSFT").unwrap().con_id = 265598;
        config.contracts.get_mut("MSFT").unwrap().exchange = Some(String::new());
        let found = problems(&config, &["AAPL", "MSFT", "NVDA"]);
        assert_eq!(
            keys(&found),
            [
                "venue.host",
                "venue.port",
                "venue.client_id",
                "venue.account",
                "venue.contracts.MSFT.con_id",
                "venue.contracts.MSFT.exchange",
                "venue.contracts",
            ]
        );
        assert!(found[1].message.contains("70000"), "{}", found[1]);
        assert!(found[4].message.contains("another ticker"), "{}", found[4]);
        assert!(
            found[6].message.contains("no contract for NVDA"),
            "{}",
            found[6]
        );
    }

    #[test]
    fn the_timings_convert_to_nanoseconds_and_bad_ones_name_their_key() {
        let config = parse(PAPER).unwrap();
        assert_eq!(config.backoff_ns(), (100_000_000, 30_000_000_000));
        assert_eq!(config.unknown_order_deadline_ns(), 5_000_000_000);

        let mut config = parse(PAPER).unwrap();
        config.backoff_min_ms = 0;
        config.backoff_max_ms = MAX_WAIT_MS + 1;
        config.unknown_order_deadline_ms = -5;
        config.backoff_seed = -1;
        let found = problems(&config, &["AAPL", "MSFT"]);
        assert_eq!(
            keys(&found),
            [
                "venue.backoff_min_ms",
                "venue.backoff_max_ms",
                "venue.unknown_order_deadline_ms",
                "venue.backoff_seed",
            ]
        );
        assert!(found[1].message.contains("3600001"), "{}", found[1]);

        let mut config = parse(PAPER).unwrap();
        config.backoff_min_ms = 2_000;
        config.backoff_max_ms = 1_000;
        let found = problems(&config, &["AAPL", "MSFT"]);
        assert_eq!(keys(&found), ["venue.backoff_max_ms"]);
        assert!(
            found[0].message.contains("below backoff_min_ms (2000)"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn a_port_of_zero_and_a_contract_for_no_symbol_are_errors() {
        let mut config = parse(PAPER).unwrap();
        config.port = 0;
        let found = problems(&config, &["AAPL"]);
        assert_eq!(keys(&found), ["venue.port", "venue.contracts.MSFT"]);
        assert!(found[1].message.contains("not a ticker"), "{}", found[1]);
    }

    #[test]
    fn a_paper_account_trades_when_the_server_manages_it() {
        let config = parse(PAPER).unwrap();
        let managed = ["DU1234567".to_string(), "DU7654321".to_string()];
        assert_eq!(check_account(&config, false, &managed), Ok(()));
        assert_eq!(check_account(&config, true, &managed), Ok(()));
    }

    #[test]
    fn a_live_account_needs_the_flag_and_the_server_must_manage_it() {
        let mut config = parse(PAPER).unwrap();
        config.account = "U1234567".into();
        let managed = ["U1234567".to_string()];
        let refused = check_account(&config, false, &managed).unwrap_err();
        assert!(matches!(refused, AccountError::LiveWithoutFlag { .. }));
        assert!(refused.to_string().contains("--live-account"), "{refused}");
        assert_eq!(check_account(&config, true, &managed), Ok(()));

        let mismatch = check_account(&config, true, &["U7654321".to_string()]).unwrap_err();
        assert_eq!(
            mismatch.to_string(),
            "venue.account: U1234567 is not among the server's managed accounts (U7654321); \
             check the account id and which login IB Gateway holds"
        );
        let none = check_account(&parse(PAPER).unwrap(), false, &[]).unwrap_err();
        assert!(none.to_string().contains("(none)"), "{none}");
    }
}
