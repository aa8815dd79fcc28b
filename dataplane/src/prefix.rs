//! Free-list allocator of extranonce prefixes: unique among live miners,
//! reused after a miner leaves, lowest free value first.

use std::collections::BTreeSet;

#[derive(Debug)]
pub struct PrefixAllocator {
    size: usize,
    capacity: u64,
    next_fresh: u64,
    freed: BTreeSet<u64>,
}

impl PrefixAllocator {
    /// `size` bytes per prefix (1 to 4): 256^size prefixes.
    pub fn new(size: usize) -> Self {
        let size = size.clamp(1, 4);
        PrefixAllocator {
            size,
            capacity: 1u64 << (8 * size),
            next_fresh: 0,
            freed: BTreeSet::new(),
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// A prefix no live miner holds, or `None` when all are taken.
    pub fn allocate(&mut self) -> Option<Vec<u8>> {
        let value = match self.freed.pop_first() {
            Some(v) => v,
            None if self.next_fresh < self.capacity => {
                self.next_fresh += 1;
                self.next_fresh - 1
            }
            None => return None,
        };
        Some(value.to_be_bytes()[8 - self.size..].to_vec())
    }

    /// Returns a prefix to the pool. Unknown or double releases are ignored.
    pub fn release(&mut self, prefix: &[u8]) {
        if prefix.len() != self.size {
            return;
        }
        let value = prefix.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
        if value < self.next_fresh {
            self.freed.insert(value);
        }
    }

    pub fn live(&self) -> u64 {
        self.next_fresh - self.freed.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn unique_until_exhausted_then_reused() {
        let mut a = PrefixAllocator::new(1);
        let all: Vec<_> = (0..256).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 256);
        assert_eq!(
            a.allocate(),
            None,
            "a 257th live miner must not share a prefix"
        );
        a.release(&all[17]);
        assert_eq!(a.allocate(), Some(all[17].clone()));
        assert_eq!(a.live(), 256);
    }

    #[test]
    fn double_release_does_not_hand_out_twice() {
        let mut a = PrefixAllocator::new(2);
        let p = a.allocate().unwrap();
        let q = a.allocate().unwrap();
        a.release(&p);
        a.release(&p);
        a.release(&[9, 9, 9]);
        let r1 = a.allocate().unwrap();
        let r2 = a.allocate().unwrap();
        assert_eq!(r1, p);
        assert_ne!(r2, p);
        assert_ne!(r2, q);
    }
}
