//! The configured symbol universe: which tickers tickpipe trades, and their
//! [`SymbolId`]s.
//!
//! Built once at start-up from `config/` and shared read-only (`Arc`) by every stage,
//! so per-symbol state is a plain array indexed by `SymbolId` and no ticker string is
//! ever looked up on the hot path. Feed messages for tickers outside the universe are
//! counted and skipped by the source.

use std::collections::HashMap;

use crate::msg::{SymbolId, SymbolName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Universe {
    names: Vec<SymbolName>,
    by_name: HashMap<SymbolName, SymbolId>,
}

impl Universe {
    /// `SymbolId(i)` is `tickers[i]`. Errors name the offending ticker.
    pub fn new<S: AsRef<str>>(tickers: &[S]) -> Result<Universe, String> {
        if tickers.is_empty() {
            return Err("the universe is empty: list at least one ticker".into());
        }
        if tickers.len() > usize::from(u16::MAX) {
            return Err(format!(
                "{} tickers; at most {} fit a SymbolId",
                tickers.len(),
                u16::MAX
            ));
        }
        let mut names = Vec::with_capacity(tickers.len());
        let mut by_name = HashMap::with_capacity(tickers.len());
        for (i, t) in tickers.iter().enumerate() {
            let t = t.as_ref();
            let name = SymbolName::new(t)
                .ok_or_else(|| format!("ticker {t:?} is not 1 to 8 printable ASCII characters"))?;
            if by_name.insert(name, SymbolId(i as u16)).is_some() {
                return Err(format!("ticker {t:?} is listed twice"));
            }
            names.push(name);
        }
        Ok(Universe { names, by_name })
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    #[inline]
    pub fn id(&self, name: &SymbolName) -> Option<SymbolId> {
        self.by_name.get(name).copied()
    }

    /// The id of a ticker written as text (`"AAPL"`), as config files name them.
    pub fn id_of(&self, ticker: &str) -> Option<SymbolId> {
        SymbolName::new(ticker).and_then(|name| self.id(&name))
    }

    #[inline]
    pub fn name(&self, id: SymbolId) -> SymbolName {
        self.names[id.index()]
    }

    pub fn ids(&self) -> impl Iterator<Item = SymbolId> + '_ {
        (0..self.names.len()).map(|i| SymbolId(i as u16))
    }
}
