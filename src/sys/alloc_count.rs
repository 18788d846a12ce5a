//! A global allocator that counts allocations, for the no-allocation tests
//! (`tests/no_alloc.rs`, `tests/live_no_alloc.rs`), which install it with
//! `#[global_allocator]`; the binary uses mimalloc.

use std::alloc::{GlobalAlloc, Layout, System};

use super::sync::{AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Counts every allocation and reallocation, then defers to the system allocator.
pub struct CountingAllocator;

/// Allocations and reallocations so far, process-wide. Relaxed, no partner: a statistic
/// that orders nothing; tests read it after joining (the join is what orders the
/// counted threads' increments before the read) or while those threads are known to be
/// mid-stream.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees hold; the counters are plain atomics and never allocate. The
// increments are Relaxed with no partner: see `allocations`.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: our caller upholds `GlobalAlloc::alloc`'s contract (non-zero size),
        // which is `System.alloc`'s; `layout` is passed unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as in `alloc`: the caller's contract is `System.alloc_zeroed`'s, and
        // `layout` is passed unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` through this allocator with `layout` (we
        // never allocate elsewhere), and the caller upholds `realloc`'s contract on
        // `new_size`; all three are passed unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
