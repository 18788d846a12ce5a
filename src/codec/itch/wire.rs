//! ITCH data types on the wire: how each field type reads from and writes to bytes.
//!
//! Every integer is big-endian and unsigned. `Price(4)` becomes [`Price`]; `Price(8)`
//! stays a raw `u64` because converting it to four places would round and the encoder
//! could not restore the original bytes. Alpha fields are borrowed from the input as
//! `&[u8; N]`: decoding copies no text.

use crate::msg::Price;

/// A value with no wire form, e.g. a [`Price`] outside `0..=u32::MAX` units.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct OutOfRange;

/// One ITCH field type.
pub(super) trait Wire<'a>: Sized {
    /// Bytes the field takes on the wire.
    const LEN: usize;
    /// Reads the field from the front of `rest` and advances `rest` past it; `None` if
    /// `rest` is shorter than the field.
    fn read(rest: &mut &'a [u8]) -> Option<Self>;
    /// Appends the field.
    fn write(&self, out: &mut Vec<u8>) -> Result<(), OutOfRange>;
}

/// Splits the first `N` bytes off `rest`.
#[inline]
pub(super) fn take<'a, const N: usize>(rest: &mut &'a [u8]) -> Option<&'a [u8; N]> {
    let (head, tail) = rest.split_first_chunk::<N>()?;
    *rest = tail;
    Some(head)
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl<'a> Wire<'a> for $t {
            const LEN: usize = size_of::<$t>();

            #[inline]
            fn read(rest: &mut &'a [u8]) -> Option<$t> {
                take(rest).map(|b| <$t>::from_be_bytes(*b))
            }

            #[inline]
            fn write(&self, out: &mut Vec<u8>) -> Result<(), OutOfRange> {
                out.extend_from_slice(&self.to_be_bytes());
                Ok(())
            }
        }
    )*};
}
integers!(u8, u16, u32, u64);

impl<'a> Wire<'a> for Price {
    const LEN: usize = 4;

    #[inline]
    fn read(rest: &mut &'a [u8]) -> Option<Price> {
        take(rest).map(|b| Price::from_itch4(u32::from_be_bytes(*b)))
    }

    #[inline]
    fn write(&self, out: &mut Vec<u8>) -> Result<(), OutOfRange> {
        let raw = u32::try_from(self.units()).map_err(|_| OutOfRange)?;
        out.extend_from_slice(&raw.to_be_bytes());
        Ok(())
    }
}

impl<'a, const N: usize> Wire<'a> for &'a [u8; N] {
    const LEN: usize = N;

    #[inline]
    fn read(rest: &mut &'a [u8]) -> Option<&'a [u8; N]> {
        take(rest)
    }

    #[inline]
    fn write(&self, out: &mut Vec<u8>) -> Result<(), OutOfRange> {
        out.extend_from_slice(&self[..]);
        Ok(())
    }
}

/// Builds a field from 64 random bits, so one proptest strategy serves every field type.
#[cfg(test)]
pub(super) trait FromRaw {
    fn from_raw(raw: u64) -> Self;
}

#[cfg(test)]
mod from_raw {
    use super::{FromRaw, Price};

    macro_rules! truncating {
        ($($t:ty),*) => {$(
            impl FromRaw for $t {
                fn from_raw(raw: u64) -> $t {
                    raw as $t
                }
            }
        )*};
    }
    truncating!(u8, u16, u32, u64);

    impl FromRaw for Price {
        fn from_raw(raw: u64) -> Price {
            Price::from_itch4(raw as u32)
        }
    }

    /// Leaked so that strategies can yield `Message<'static>`: a few bytes per case, in
    /// tests only.
    impl<const N: usize> FromRaw for &'static [u8; N] {
        fn from_raw(raw: u64) -> &'static [u8; N] {
            let bytes = raw.to_be_bytes();
            let mut out = [0u8; N];
            for (o, b) in out.iter_mut().zip(bytes.iter().cycle()) {
                *o = *b;
            }
            Box::leak(Box::new(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian() {
        let mut rest: &[u8] = &[0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07];
        assert_eq!(u16::read(&mut rest), Some(0x0102));
        assert_eq!(u32::read(&mut rest), Some(0x0304_0506));
        assert_eq!(u16::read(&mut rest), None);
        assert_eq!(rest, &[0x07]);
        let mut out = Vec::new();
        0x0102_0304_0506_0708_u64.write(&mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn price4_rejects_what_four_bytes_cannot_hold() {
        let mut out = Vec::new();
        assert_eq!(Price(u32::MAX as i64).write(&mut out), Ok(()));
        assert_eq!(out, [0xff; 4]);
        assert_eq!(Price(u32::MAX as i64 + 1).write(&mut out), Err(OutOfRange));
        assert_eq!(Price(-1).write(&mut out), Err(OutOfRange));
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn alpha_borrows_from_the_input() {
        let input = *b"AAPL    x";
        let mut rest: &[u8] = &input;
        let stock = <&[u8; 8]>::read(&mut rest).unwrap();
        assert!(std::ptr::eq(stock.as_ptr(), input.as_ptr()));
        assert_eq!(rest, b"x");
    }
}
