//! Whether the other end of an rtrb ring is gone.

/// True when the consumer of `producer` has been dropped.
///
/// rtrb answers from an `Arc` count; since Rust 1.74 the caller must add an Acquire
/// fence so what it does next is ordered after the drop it observed (rtrb issue #114).
/// Used only to stop a producer that waits on a full ring whose consumer died; no data
/// is read after it.
pub fn consumer_gone<T>(producer: &rtrb::Producer<T>) -> bool {
    let gone = producer.is_abandoned();
    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    gone
}
