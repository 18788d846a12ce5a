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

/// The most tickers a universe may list. Per-symbol state (books, positions, order
/// tables) is allocated for every one at start-up, and a NASDAQ day's stock directory
/// lists about 12 000 securities, test symbols included.
pub const MAX_SYMBOLS: usize = 16_384;

/// Punctuation NASDAQ's integrated symbology uses in ITCH stock fields, after the root:
/// `.` class, `-` preferred, `+` warrant, `=` unit, `^` right, `#` when issued, `*`
/// called, `$` when distributed, `%` convertible, `@` partial paid, `!` emerging
/// company, `~` test.
const SUFFIX_MARKS: &[u8] = b".-+=^#*$%@!~";

/// Whether `ticker` is a symbol ITCH can carry: 1 to 8 upper-case letters, digits and
/// [`SUFFIX_MARKS`] (the feed pads it with spaces to 8). Anything else — lower case,
/// spaces, control bytes — could never match a feed message.
fn itch_symbol(ticker: &str) -> bool {
    (1..=8).contains(&ticker.len())
        && ticker
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || SUFFIX_MARKS.contains(&b))
}

/// Why a list of tickers is not a universe. Each names the offending ticker or count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UniverseError {
    #[error("the universe is empty: list at least one ticker")]
    Empty,
    #[error(
        "{count} tickers; at most {MAX_SYMBOLS}: per-symbol state is allocated for each at \
         start-up, and a NASDAQ day lists about 12 000"
    )]
    TooMany { count: usize },
    #[error(
        "ticker {ticker:?} is not an ITCH symbol: 1 to 8 upper-case letters, digits or \
         NASDAQ suffix marks ({})",
        String::from_utf8_lossy(SUFFIX_MARKS)
    )]
    NotItch { ticker: String },
    #[error("ticker {ticker:?} is listed twice")]
    Duplicate { ticker: String },
}

impl Universe {
    /// `SymbolId(i)` is `tickers[i]`.
    pub fn new<S: AsRef<str>>(tickers: &[S]) -> Result<Universe, UniverseError> {
        if tickers.is_empty() {
            return Err(UniverseError::Empty);
        }
        if tickers.len() > MAX_SYMBOLS {
            return Err(UniverseError::TooMany {
                count: tickers.len(),
            });
        }
        let mut names = Vec::with_capacity(tickers.len());
        let mut by_name = HashMap::with_capacity(tickers.len());
        for (i, t) in tickers.iter().enumerate() {
            let t = t.as_ref();
            let name = SymbolName::new(t)
                .filter(|_| itch_symbol(t))
                .ok_or_else(|| UniverseError::NotItch {
                    ticker: t.to_string(),
                })?;
            if by_name.insert(name, SymbolId(i as u16)).is_some() {
                return Err(UniverseError::Duplicate {
                    ticker: t.to_string(),
                });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickers_are_what_itch_carries() {
        let u = Universe::new(&["AAPL", "BRK.A", "ABC-A", "ZVZZT", "QQQ1"]).unwrap();
        assert_eq!(u.id_of("BRK.A"), Some(SymbolId(1)));
        for bad in [
            "aapl",
            "Aapl",
            "AB CD",
            "A\u{7}",
            "ÄPPL",
            "TOOLONGXX",
            "",
            "A/B",
        ] {
            let err = Universe::new(&[bad]).unwrap_err();
            assert_eq!(
                err,
                UniverseError::NotItch {
                    ticker: bad.to_string()
                }
            );
            let shown = err.to_string();
            assert!(shown.contains(&format!("{bad:?}")), "{bad:?}: {shown}");
            assert!(shown.contains("suffix marks (.-+=^#*$%@!~)"), "{shown}");
        }
    }

    #[test]
    fn a_universe_is_bounded_and_has_no_duplicates() {
        let many: Vec<String> = (0..=MAX_SYMBOLS).map(|i| format!("S{i}")).collect();
        let err = Universe::new(&many).unwrap_err();
        assert_eq!(err, UniverseError::TooMany { count: 16_385 });
        assert!(
            err.to_string().starts_with("16385 tickers; at most 16384"),
            "{err}"
        );
        assert!(Universe::new(&many[..MAX_SYMBOLS]).is_ok());
        let err = Universe::new(&["AAPL", "AAPL"]).unwrap_err();
        assert_eq!(err.to_string(), "ticker \"AAPL\" is listed twice");
        assert_eq!(Universe::new::<&str>(&[]), Err(UniverseError::Empty),);
    }
}
