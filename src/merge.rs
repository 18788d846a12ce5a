//! Merging statistics across shards and runners, declared once per struct.
//!
//! [`stats!`](crate::stats) declares a statistics struct and derives its [`Merge`]
//! field by field, so a field added to the struct is merged with no second edit. A field
//! merges by its type's [`Merge`] (counters add, arrays add element by element, nested
//! statistics merge in turn) unless its declaration names another way after `=>`: one of
//! the functions here ([`max`], [`histogram`], [`place`], [`earliest`], lifted over an
//! array by [`each`]) or any `fn(&mut T, &T)`. A field whose type has no [`Merge`] and no
//! `=>` does not compile, so none can be forgotten.

use hdrhistogram::Histogram;

use crate::latency::LatencyHistogram;

/// Folds another shard's statistics into these.
pub trait Merge {
    fn merge(&mut self, other: &Self);
}

/// Counters add.
impl Merge for u64 {
    #[inline]
    fn merge(&mut self, other: &u64) {
        *self += *other;
    }
}

/// Element by element: counters indexed by a code add code by code.
impl<T: Merge, const N: usize> Merge for [T; N] {
    fn merge(&mut self, other: &[T; N]) {
        for (mine, theirs) in self.iter_mut().zip(other) {
            mine.merge(theirs);
        }
    }
}

/// Every recorded value of both.
impl Merge for LatencyHistogram {
    fn merge(&mut self, other: &LatencyHistogram) {
        histogram(&mut self.0, &other.0);
    }
}

/// The larger: a high-water mark.
pub fn max<T: Ord + Copy>(mine: &mut T, theirs: &T) {
    *mine = (*mine).max(*theirs);
}

/// Every recorded value of both.
///
/// # Panics
/// If the histograms' bounds differ: every histogram a run merges is made by
/// `latency::new_histogram`, so that is a bug.
pub fn histogram(mine: &mut Histogram<u64>, theirs: &Histogram<u64>) {
    mine.add(theirs)
        .expect("merged histograms share latency::new_histogram's bounds");
}

/// Per-symbol rows indexed by `SymbolId`, `None` where a shard owns no symbol: shards
/// own disjoint symbols, so merging places each row where it belongs (and is
/// idempotent).
pub fn place<T: Clone>(mine: &mut Vec<Option<T>>, theirs: &Vec<Option<T>>) {
    if mine.len() < theirs.len() {
        mine.resize(theirs.len(), None);
    }
    for (m, t) in mine.iter_mut().zip(theirs) {
        if t.is_some() {
            m.clone_from(t);
        }
    }
}

/// Keeps the earlier of two "first" contexts by `key`, the one already held on a tie,
/// so a merged "first" is the same whatever the shard count or merge order.
pub fn earliest<T: Copy, K: Ord>(key: impl Fn(&T) -> K) -> impl Fn(&mut Option<T>, &Option<T>) {
    move |mine, theirs| {
        *mine = match (*mine, *theirs) {
            (Some(x), Some(y)) => Some(if key(&y) < key(&x) { y } else { x }),
            (x, y) => x.or(y),
        }
    }
}

/// `merge` applied element by element to two arrays.
pub fn each<T, const N: usize>(merge: impl Fn(&mut T, &T)) -> impl Fn(&mut [T; N], &[T; N]) {
    move |mine, theirs| {
        for (m, t) in mine.iter_mut().zip(theirs) {
            merge(m, t);
        }
    }
}

/// Declares a statistics struct and derives its [`Merge`](crate::merge::Merge) field by
/// field. A field written `name: Type` merges by `Type`'s `Merge`; one written
/// `name: Type => how` merges by `how(&mut self.name, &other.name)`.
///
/// ```
/// tickpipe::stats! {
///     #[derive(Default)]
///     pub struct Example {
///         /// Adds.
///         pub events: u64,
///         /// Keeps the larger.
///         pub high_water: u64 => tickpipe::merge::max,
///     }
/// }
/// ```
#[macro_export]
macro_rules! stats {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field_vis:vis $field:ident : $ty:ty $(=> $how:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                $(#[$field_meta])*
                $field_vis $field: $ty,
            )*
        }

        impl $crate::merge::Merge for $name {
            fn merge(&mut self, other: &$name) {
                $($crate::stats!(@field self.$field, other.$field $(, $how)?);)*
            }
        }
    };
    (@field $mine:expr, $theirs:expr) => {
        $crate::merge::Merge::merge(&mut $mine, &$theirs)
    };
    (@field $mine:expr, $theirs:expr, $how:expr) => {
        ($how)(&mut $mine, &$theirs)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::new_histogram;

    crate::stats! {
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        struct Inner {
            a: u64,
            b: u64,
        }
    }

    crate::stats! {
        /// One field of every kind.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        struct Every {
            count: u64,
            by_code: [u64; 3],
            inner: Inner,
            high_water: u64 => max,
            first: Option<(u64, char)> => earliest(|f: &(u64, char)| f.0),
            first_by_code: [Option<(u64, char)>; 2] => each(earliest(|f: &(u64, char)| f.0)),
            rows: Vec<Option<char>> => place,
        }
    }

    fn every(n: u64, tag: char, rows: Vec<Option<char>>) -> Every {
        Every {
            count: n,
            by_code: [n, 2 * n, 3 * n],
            inner: Inner { a: n, b: 10 * n },
            high_water: n,
            first: Some((n, tag)),
            first_by_code: [Some((n, tag)), None],
            rows,
        }
    }

    #[test]
    fn latency_histograms_merge_by_adding() {
        let mut a = LatencyHistogram::default();
        let mut b = LatencyHistogram::default();
        a.0.record(10).unwrap();
        b.0.record(1_000).unwrap();
        a.merge(&b);
        assert_eq!((a.0.len(), a.0.max()), (2, b.0.max()));
    }

    #[test]
    fn every_field_merges_its_declared_way() {
        let mut merged = every(5, 'x', vec![Some('a'), None]);
        merged.merge(&every(3, 'y', vec![None, None, Some('c')]));
        assert_eq!(
            merged,
            Every {
                count: 8,
                by_code: [8, 16, 24],
                inner: Inner { a: 8, b: 80 },
                high_water: 5,
                first: Some((3, 'y')),
                first_by_code: [Some((3, 'y')), None],
                rows: vec![Some('a'), None, Some('c')],
            }
        );
    }

    #[test]
    fn merging_into_the_default_is_the_identity_and_the_order_does_not_matter() {
        let (a, b) = (
            every(5, 'x', vec![Some('a'), None]),
            every(3, 'y', vec![None, Some('b')]),
        );
        let mut from_default = Every::default();
        from_default.merge(&a);
        assert_eq!(from_default, a);
        let (mut ab, mut ba) = (a.clone(), b.clone());
        ab.merge(&b);
        ba.merge(&a);
        assert_eq!(ab, ba);
    }

    #[test]
    fn earliest_keeps_the_held_one_on_a_tie_and_fills_an_empty_one() {
        let merge = earliest(|f: &(u64, char)| f.0);
        let mut held = Some((4, 'a'));
        merge(&mut held, &Some((4, 'b')));
        assert_eq!(held, Some((4, 'a')));
        merge(&mut held, &None);
        assert_eq!(held, Some((4, 'a')));
        let mut empty = None;
        merge(&mut empty, &Some((9, 'c')));
        assert_eq!(empty, Some((9, 'c')));
    }

    #[test]
    fn histograms_merge_every_recorded_value() {
        let (mut a, mut b) = (new_histogram(), new_histogram());
        a.record(100).unwrap();
        b.record(200).unwrap();
        b.record(300).unwrap();
        histogram(&mut a, &b);
        assert_eq!(a.len(), 3);
        assert_eq!(a.max(), b.max());
        assert_eq!(a.min(), 100);
    }
}
