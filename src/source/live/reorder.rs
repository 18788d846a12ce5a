//! The reorder buffer: packets that arrived ahead of a gap, held until the gap is filled
//! or given up on, then released lowest sequence number first.
//!
//! Storage is fixed at construction — `slots` packets of at most `slot_bytes` each in
//! one arena, a free list and a min-heap of `(sequence, slot)` with capacity for every
//! slot — so holding and releasing packets never allocates. A heap rather than a FIFO
//! because re-request answers and live packets interleave: what arrives is mostly, not
//! always, in sequence order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One held packet's bookkeeping.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Held {
    /// The packet's first message's sequence number.
    pub sequence: u64,
    /// Its datagram length in bytes.
    pub len: usize,
    /// When it was received: its messages carry this `ts_recv` when released.
    pub ts_recv: u64,
    /// It came from the re-request server.
    pub recovered: bool,
}

/// Why a packet was not held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// Every slot is taken.
    Full,
    /// The datagram is longer than a slot.
    TooLong,
}

pub(super) struct Reorder {
    arena: Box<[u8]>,
    slot_bytes: usize,
    held: Box<[Held]>,
    free: Vec<u32>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Reorder {
    /// Room for `slots` datagrams of up to `slot_bytes` each, allocated now.
    pub fn new(slots: usize, slot_bytes: usize) -> Reorder {
        Reorder {
            arena: vec![0; slots * slot_bytes].into_boxed_slice(),
            slot_bytes,
            held: vec![Held::default(); slots].into_boxed_slice(),
            // Popped from the end: slot 0 is used first.
            free: (0..slots as u32).rev().collect(),
            heap: BinaryHeap::with_capacity(slots),
        }
    }

    /// Holds a copy of `datagram`.
    pub fn insert(&mut self, datagram: &[u8], held: Held) -> Result<(), Refused> {
        if datagram.len() > self.slot_bytes {
            return Err(Refused::TooLong);
        }
        let slot = self.free.pop().ok_or(Refused::Full)?;
        let at = slot as usize * self.slot_bytes;
        self.arena[at..at + datagram.len()].copy_from_slice(datagram);
        self.held[slot as usize] = Held {
            len: datagram.len(),
            ..held
        };
        self.heap.push(Reverse((held.sequence, slot)));
        Ok(())
    }

    /// The lowest sequence number held.
    pub fn first_sequence(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((seq, _))| *seq)
    }

    /// Removes the packet with the lowest sequence number; its bytes stay readable
    /// through [`Reorder::bytes`] until the next insert.
    pub fn pop(&mut self) -> Option<(Held, u32)> {
        let Reverse((_, slot)) = self.heap.pop()?;
        self.free.push(slot);
        Some((self.held[slot as usize], slot))
    }

    /// The bytes of a packet just popped from `slot`.
    pub fn bytes(&self, slot: u32, len: usize) -> &[u8] {
        let at = slot as usize * self.slot_bytes;
        &self.arena[at..at + len]
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Drops every held packet.
    pub fn clear(&mut self) {
        while self.pop().is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(sequence: u64) -> Held {
        Held {
            sequence,
            ..Held::default()
        }
    }

    #[test]
    fn releases_lowest_sequence_first_and_refuses_when_full() {
        let mut r = Reorder::new(3, 4);
        r.insert(b"c", held(30)).unwrap();
        r.insert(b"aa", held(10)).unwrap();
        r.insert(b"b", held(20)).unwrap();
        assert_eq!(r.insert(b"d", held(40)), Err(Refused::Full));
        assert_eq!(r.first_sequence(), Some(10));
        let (h, slot) = r.pop().unwrap();
        assert_eq!((h.sequence, r.bytes(slot, h.len)), (10, &b"aa"[..]));
        assert_eq!(r.insert(b"toolong", held(50)), Err(Refused::TooLong));
        r.insert(b"e", held(15)).unwrap();
        let order: Vec<u64> = std::iter::from_fn(|| r.pop().map(|(h, _)| h.sequence)).collect();
        assert_eq!(order, [15, 20, 30]);
        assert_eq!(r.len(), 0);
        r.insert(b"f", held(1)).unwrap();
        r.clear();
        assert_eq!((r.len(), r.first_sequence()), (0, None));
    }
}
