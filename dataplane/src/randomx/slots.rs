//! NiceHash nonce slots of one upstream connection (protocols.md §2): the
//! proxy owns the nonce's top byte, so 256 miners can share a connection,
//! each with its own value. A slot is unique among the live miners of the
//! connection and free again as soon as its miner leaves or moves.
//!
//! Lock-free: a 256-bit map of atomics. Slots are handed out next-fit from a
//! rotating cursor, so a freed slot is reused only after the others were
//! offered (a miner that takes over a slot mid-job would otherwise start
//! where its predecessor did and find the same, duplicate, shares).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// How many miners fit on one connection: one per value of the nonce's top byte.
pub const SLOTS: usize = 256;

#[derive(Debug, Default)]
pub struct NonceSlots {
    taken: [AtomicU64; SLOTS / 64],
    cursor: AtomicUsize,
}

impl NonceSlots {
    /// A free slot, now taken; `None` when all 256 are.
    pub fn take(&self) -> Option<u8> {
        let start = self.cursor.load(Ordering::Relaxed);
        for i in 0..SLOTS {
            let slot = (start + i) % SLOTS;
            let word = &self.taken[slot / 64];
            let bit = 1u64 << (slot % 64);
            if word.load(Ordering::Acquire) & bit == 0
                && word.fetch_or(bit, Ordering::AcqRel) & bit == 0
            {
                self.cursor.store((slot + 1) % SLOTS, Ordering::Relaxed);
                return Some(slot as u8);
            }
        }
        None
    }

    /// Gives `slot` back.
    pub fn free(&self, slot: u8) {
        let slot = usize::from(slot);
        self.taken[slot / 64].fetch_and(!(1u64 << (slot % 64)), Ordering::AcqRel);
    }

    /// Slots taken now.
    pub fn taken(&self) -> usize {
        self.taken
            .iter()
            .map(|w| w.load(Ordering::Acquire).count_ones() as usize)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_slot_is_handed_out_once_until_freed() {
        let s = NonceSlots::default();
        let all: HashSet<u8> = (0..SLOTS).map(|_| s.take().unwrap()).collect();
        assert_eq!(all.len(), SLOTS);
        assert_eq!(s.take(), None, "full");
        assert_eq!(s.taken(), SLOTS);
        s.free(7);
        s.free(200);
        let again: HashSet<u8> = [s.take().unwrap(), s.take().unwrap()].into();
        assert_eq!(again, HashSet::from([7, 200]), "freed slots are reused");
        assert_eq!(s.take(), None);
    }

    #[test]
    fn a_freed_slot_waits_while_others_are_free() {
        let s = NonceSlots::default();
        let a = s.take().unwrap();
        s.free(a);
        let b = s.take().unwrap();
        assert_ne!(a, b, "next-fit: the slot just freed is not the next one");
    }

    #[test]
    fn concurrent_takers_never_share_a_slot() {
        let s = std::sync::Arc::new(NonceSlots::default());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || (0..64).map(|_| s.take().unwrap()).collect::<Vec<_>>())
            })
            .collect();
        let mut seen = HashSet::new();
        for h in handles {
            for slot in h.join().unwrap() {
                assert!(seen.insert(slot), "slot {slot} handed out twice");
            }
        }
        assert_eq!(seen.len(), SLOTS);
    }
}
