//! crossbeam-utils' `CachePadded` (128 bytes on x86-64: adjacent-line prefetch pulls
//! pairs of 64-byte lines) normally; a plain wrapper under loom, where padding means
//! nothing and loom-tests must not depend on crossbeam.

#[cfg(not(loom))]
pub use crossbeam_utils::CachePadded;

#[cfg(loom)]
#[derive(Debug, Default)]
pub struct CachePadded<T>(T);

#[cfg(loom)]
impl<T> CachePadded<T> {
    pub fn new(t: T) -> CachePadded<T> {
        CachePadded(t)
    }
}

#[cfg(loom)]
impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
