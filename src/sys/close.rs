//! End of stream on a ring: the producer's "nothing more will come".
//!
//! rtrb can tell a consumer that its producer was dropped (`is_abandoned`), but only
//! through `Arc::strong_count`, which since Rust 1.74 needs an extra Acquire fence to
//! order the producer's last pushes before the consumer's next read (rtrb issue #114).
//! We make the hand-off explicit instead, with our own flag, and model-check it:
//! the producer pushes its last item, then `close`s (Release); a consumer that sees
//! `is_closed` (Acquire) and *then* finds the ring empty has seen every item. Checking
//! emptiness *before* reading the flag can lose the last items; loom finds that
//! interleaving (`loom-tests/tests/drain.rs`).

use super::pad::CachePadded;
use super::sync::{AtomicBool, Ordering};

/// One per ring. Padded: the producer writes it once, the consumer polls it whenever the
/// ring is empty, and it must not share a line with anything either thread writes often.
#[derive(Debug, Default)]
pub struct CloseFlag {
    closed: CachePadded<AtomicBool>,
}

impl CloseFlag {
    pub fn new() -> CloseFlag {
        CloseFlag {
            closed: CachePadded::new(AtomicBool::new(false)),
        }
    }

    /// Producer side, after its last push. Release: publishes every push before it;
    /// paired with the Acquire in `is_closed`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Consumer side. Acquire: pairs with `close`; after a `true`, an emptiness check of
    /// the ring sees every item pushed before the close.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}
