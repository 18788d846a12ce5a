//! Whether the other end of an rtrb ring is gone.

/// True when the consumer of `producer` has been dropped.
///
/// rtrb answers from `Arc::strong_count`, a Relaxed load since Rust 1.74, so the caller
/// must add an Acquire fence to order what it does next after the drop it observed
/// (rtrb issue #114). Used only to stop a producer that waits on a full ring whose
/// consumer died; no data is read after it.
pub fn consumer_gone<T>(producer: &rtrb::Producer<T>) -> bool {
    let gone = producer.is_abandoned();
    // Acquire fence after the Relaxed count load above; its partner is the Release
    // `fetch_sub` on the same count in `Arc::drop`, run when the consumer's
    // `rtrb::Consumer` (its `Arc` of the ring) is dropped.
    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    gone
}
