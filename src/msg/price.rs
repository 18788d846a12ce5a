//! Fixed-point prices. Four decimal places, as ITCH `Price(4)`: integers at every
//! boundary, so a replay's arithmetic is exact and identical on every host.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// A price or a cash amount in units of 1/10 000 (ITCH `Price(4)`).
///
/// `i64` holds ±922 trillion dollars, ample for one amount but not for a running sum
/// over hostile input (2 100 fills of 1 000 000 shares at the ITCH maximum price pass
/// it): such sums are kept in `i128` and converted with [`Price::from_units`].
#[repr(transparent)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(pub i64);

impl Price {
    /// Units per whole currency unit.
    pub const SCALE: i64 = 10_000;
    pub const ZERO: Price = Price(0);

    /// From an ITCH `Price(4)` field.
    #[inline]
    pub const fn from_itch4(raw: u32) -> Price {
        Price(raw as i64)
    }

    /// From an ITCH `Price(8)` field, rounding half away from zero to four places.
    #[inline]
    pub const fn from_itch8(raw: u64) -> Price {
        Price(((raw + 5_000) / 10_000) as i64)
    }

    #[inline]
    pub const fn units(self) -> i64 {
        self.0
    }

    /// `self × qty` in units, the notional of `qty` shares at this price: exact, as
    /// `|i64 × i64| < 2^126` always fits `i128`, where one u32-shares order at a hostile
    /// `i64` price would not fit a `Price`.
    #[inline]
    pub const fn times(self, qty: i64) -> i128 {
        self.0 as i128 * qty as i128
    }

    /// Midpoint, rounded toward negative infinity to whole units.
    #[inline]
    pub const fn mid(a: Price, b: Price) -> Price {
        Price((a.0 + b.0).div_euclid(2))
    }
}

/// A money total beyond what a [`Price`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a money total beyond ±922 trillion, more than 64-bit fixed point holds")]
pub struct MoneyOverflow;

impl Price {
    /// An amount in units, or an error when it is beyond what a `Price` holds.
    #[inline]
    pub fn from_units(units: i128) -> Result<Price, MoneyOverflow> {
        i64::try_from(units).map(Price).map_err(|_| MoneyOverflow)
    }

    /// The exact sum of `amounts` (units), added in `i128` with every step checked, so no
    /// partial sum wraps; an error when the total does not fit a `Price`.
    pub fn total(amounts: impl IntoIterator<Item = i128>) -> Result<Price, MoneyOverflow> {
        let sum = amounts
            .into_iter()
            .try_fold(0i128, i128::checked_add)
            .ok_or(MoneyOverflow)?;
        Price::from_units(sum)
    }
}

impl fmt::Display for Price {
    /// Four decimal places, e.g. `101.2500`, `-0.0100`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let scale = Self::SCALE as u64;
        write!(f, "{sign}{}.{:04}", abs / scale, abs % scale)
    }
}

/// Why a decimal string is not a [`Price`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParsePriceError {
    #[error("not a decimal number: {0:?}")]
    NotDecimal(String),
    #[error("more than four decimal places: {0:?}")]
    TooPrecise(String),
    #[error("out of range: {0:?}")]
    OutOfRange(String),
}

impl FromStr for Price {
    type Err = ParsePriceError;

    /// Parses `123`, `123.45`, `-0.0001`; at most four decimal places, no exponent.
    fn from_str(s: &str) -> Result<Price, ParsePriceError> {
        let not_decimal = || ParsePriceError::NotDecimal(s.to_string());
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole)
            || !(frac.is_empty() || digits(frac))
            || (body.contains('.') && frac.is_empty())
        {
            return Err(not_decimal());
        }
        if frac.len() > 4 {
            return Err(ParsePriceError::TooPrecise(s.to_string()));
        }
        let out_of_range = || ParsePriceError::OutOfRange(s.to_string());
        let whole: i64 = whole.parse().map_err(|_| out_of_range())?;
        let frac_units: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse::<i64>().map_err(|_| not_decimal())? * 10_i64.pow(4 - frac.len() as u32)
        };
        let units = whole
            .checked_mul(Self::SCALE)
            .and_then(|w| w.checked_add(frac_units))
            .ok_or_else(out_of_range)?;
        Ok(Price(if negative { -units } else { units }))
    }
}

impl<'de> Deserialize<'de> for Price {
    /// Config prices are decimal strings (`"50000.00"`), never TOML floats, so no value
    /// is silently rounded on its way in.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Price, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Price {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_four_places() {
        assert_eq!("101.25".parse::<Price>().unwrap(), Price(1_012_500));
        assert_eq!("-0.0001".parse::<Price>().unwrap(), Price(-1));
        assert_eq!("7".parse::<Price>().unwrap(), Price(70_000));
        assert_eq!(Price(1_012_500).to_string(), "101.2500");
        assert_eq!(Price(-100).to_string(), "-0.0100");
    }

    #[test]
    fn rejects_what_it_cannot_hold_exactly() {
        assert!(matches!(
            "1.23456".parse::<Price>(),
            Err(ParsePriceError::TooPrecise(_))
        ));
        assert!(matches!(
            "1e3".parse::<Price>(),
            Err(ParsePriceError::NotDecimal(_))
        ));
        assert!(matches!(
            "1.".parse::<Price>(),
            Err(ParsePriceError::NotDecimal(_))
        ));
        assert!(matches!(
            "".parse::<Price>(),
            Err(ParsePriceError::NotDecimal(_))
        ));
        assert!(matches!(
            "99999999999999999".parse::<Price>(),
            Err(ParsePriceError::OutOfRange(_))
        ));
    }

    #[test]
    fn a_total_is_exact_or_an_error_never_a_wrap() {
        let max = i128::from(i64::MAX);
        assert_eq!(Price::total([max, 1, -1]), Ok(Price(i64::MAX)));
        assert_eq!(Price::total([max, 1]), Err(MoneyOverflow));
        assert_eq!(Price::total([i128::MAX, 1]), Err(MoneyOverflow));
        assert_eq!(Price::total([]), Ok(Price::ZERO));
    }

    #[test]
    fn times_is_exact_beyond_what_a_price_holds() {
        let itch_max = Price::from_itch4(u32::MAX);
        assert_eq!(itch_max.times(1_000_000), 4_294_967_295_000_000);
        assert_eq!(
            Price(i64::MAX).times(-i64::from(u32::MAX)),
            -i128::from(i64::MAX) * i128::from(u32::MAX)
        );
        assert_eq!(Price::from_units(i128::from(i64::MIN)), Ok(Price(i64::MIN)));
        assert_eq!(
            Price::from_units(i128::from(i64::MIN) - 1),
            Err(MoneyOverflow)
        );
    }

    #[test]
    fn itch8_rounds_to_four_places() {
        assert_eq!(Price::from_itch8(1_234_567_890), Price(123_457));
        assert_eq!(Price::mid(Price(100), Price(103)), Price(101));
    }
}
