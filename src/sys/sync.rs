//! The facade loom needs: `std` atomics normally, loom's under `--cfg loom`.
//! (The same pattern as tokio's `src/loom/` and crossbeam-utils.)

#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering, fence};

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering, fence};

#[cfg(not(loom))]
pub use std::sync::Arc;

#[cfg(loom)]
pub use loom::sync::Arc;

/// loom's `UnsafeCell` under loom (it checks every access against the happens-before
/// order); a plain one with the same closure API otherwise.
#[cfg(loom)]
pub use loom::cell::UnsafeCell;

#[cfg(not(loom))]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a pointer to read through.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a pointer to write through.
    #[inline]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
// loom's `try_lock` returns std's error type too.
use std::sync::TryLockError;

/// A mutex for cold paths (failure reports), with one `lock` signature under both.
pub struct Mutex<T>(Inner<T>);

#[cfg(not(loom))]
type Inner<T> = std::sync::Mutex<T>;
#[cfg(loom)]
type Inner<T> = loom::sync::Mutex<T>;

impl<T> Mutex<T> {
    pub fn new(value: T) -> Mutex<T> {
        Mutex(Inner::new(value))
    }

    /// Locks, ignoring poison: the data guarded here (a failure report) stays valid even
    /// if a thread panicked while holding the lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut guard = match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Locks only if no one holds the lock, ignoring poison as `with` does; `None` when
    /// it is held: for a thread that must never wait.
    pub fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut guard = match self.0.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        Some(f(&mut guard))
    }
}
