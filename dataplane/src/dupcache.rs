//! Per-miner bounded duplicate-share cache: remembers share keys for a time-to-live, evicting the oldest beyond a capacity.
//!
//! One cache lives in every miner session, so an idle or new session must cost
//! nothing: [`DuplicateCache::new`] allocates nothing, and
//! [`DuplicateCache::purge_expired`] / [`DuplicateCache::clear`] give the memory
//! back once every entry has gone. Each key is stored twice (a map for lookup,
//! a queue for age order), so keep keys compact (fixed-size fields, or a
//! digest of the share's fields).
//!
//! Semantics: a key is a duplicate while it is younger than `ttl`; seeing a
//! duplicate does not refresh its age. A capacity of 0 or a ttl of zero
//! disables the cache (every key is new). Time comes from the caller; a clock
//! that goes backwards is tolerated (entries just live a little longer).

use std::collections::VecDeque;
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::fasthash::FastMap;

/// Share keys seen recently by one miner. See the module documentation.
#[derive(Debug, Clone)]
pub struct DuplicateCache<K: Hash + Eq + Clone> {
    capacity: usize,
    ttl: Duration,
    /// Key -> when it was first seen.
    seen: FastMap<K, Instant>,
    /// Keys in insertion order, with the same instant as in `seen`.
    order: VecDeque<(K, Instant)>,
}

impl<K: Hash + Eq + Clone> DuplicateCache<K> {
    /// An empty cache holding at most `capacity` keys for `ttl` each.
    /// Allocates nothing until the first insert.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        DuplicateCache {
            capacity,
            ttl,
            seen: FastMap::default(),
            order: VecDeque::new(),
        }
    }

    /// Records `key`: `true` when it is new, `false` when it is a duplicate
    /// (seen less than `ttl` ago).
    pub fn insert(&mut self, key: K, now: Instant) -> bool {
        if self.capacity == 0 || self.ttl.is_zero() {
            return true;
        }
        self.expire(now);
        if let Some(&first) = self.seen.get(&key) {
            if !self.expired(first, now) {
                return false;
            }
            // Only reachable with a clock that went backwards: the old entry
            // stays in `order` and is skipped when it reaches the front.
            self.seen.remove(&key);
        }
        while self.order.len() >= self.capacity {
            self.pop_oldest();
        }
        self.seen.insert(key.clone(), now);
        self.order.push_back((key, now));
        true
    }

    /// Whether `key` would be reported as a duplicate at `now`.
    pub fn contains(&self, key: &K, now: Instant) -> bool {
        self.capacity > 0
            && !self.ttl.is_zero()
            && self.seen.get(key).is_some_and(|&t| !self.expired(t, now))
    }

    /// When every entry will have expired (the newest's age reaches the
    /// ttl): a session that has stopped submitting purges then
    /// ([`Expiring`]), so an idle miner's cache gives its memory back.
    pub fn idle_deadline(&self) -> Option<Instant> {
        let &(_, newest) = self.order.back()?;
        newest.checked_add(self.ttl)
    }

    /// Drops expired entries; frees the memory when nothing is left (call it
    /// from a periodic timer so idle miners give their memory back).
    pub fn purge_expired(&mut self, now: Instant) {
        self.expire(now);
        if self.seen.is_empty() {
            self.clear();
        }
    }

    /// Keys currently held (expired ones count until purged).
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Forgets everything and frees the memory (e.g. on a pool switch).
    pub fn clear(&mut self) {
        self.seen = FastMap::default();
        self.order = VecDeque::new();
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn expired(&self, first_seen: Instant, now: Instant) -> bool {
        now.saturating_duration_since(first_seen) >= self.ttl
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(_, first)) = self.order.front() {
            if !self.expired(first, now) {
                break;
            }
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((key, first)) = self.order.pop_front() {
            // Remove from the map only if the map still refers to this entry.
            if self.seen.get(&key) == Some(&first) {
                self.seen.remove(&key);
            }
        }
    }
}

/// A cache purged by time: the session loop wakes at [`Expiring::idle_deadline`]
/// and calls [`Expiring::purge_expired`] after every event, whatever the
/// cache's key type.
pub trait Expiring: Send {
    fn idle_deadline(&self) -> Option<Instant>;
    fn purge_expired(&mut self, now: Instant);
}

impl<K: Hash + Eq + Clone + Send> Expiring for DuplicateCache<K> {
    fn idle_deadline(&self) -> Option<Instant> {
        DuplicateCache::idle_deadline(self)
    }

    fn purge_expired(&mut self, now: Instant) {
        DuplicateCache::purge_expired(self, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(300);

    fn secs(t: Instant, s: u64) -> Instant {
        t + Duration::from_secs(s)
    }

    #[test]
    fn a_quiet_cache_is_emptied_by_time_not_only_on_insert() {
        let t0 = Instant::now();
        let mut c = DuplicateCache::new(100, TTL);
        assert_eq!(c.idle_deadline(), None, "nothing held, nothing to wake for");
        c.insert(1u64, t0);
        c.insert(2u64, secs(t0, 10));
        // Everything has expired once the newest has.
        assert_eq!(c.idle_deadline(), Some(secs(t0, 310)));
        let cache: &mut dyn Expiring = &mut c;
        cache.purge_expired(secs(t0, 309));
        assert_eq!(c.len(), 1, "the newest is still young");
        let cache: &mut dyn Expiring = &mut c;
        cache.purge_expired(secs(t0, 310));
        assert!(c.is_empty());
        assert_eq!(c.seen.capacity(), 0, "the memory is given back");
        assert_eq!(c.order.capacity(), 0);
        assert_eq!(c.idle_deadline(), None);
    }

    #[test]
    fn new_cache_allocates_nothing() {
        let c: DuplicateCache<(String, u32)> = DuplicateCache::new(1000, TTL);
        assert_eq!(c.seen.capacity(), 0);
        assert_eq!(c.order.capacity(), 0);
        assert!(c.is_empty());
        assert_eq!(c.capacity(), 1000);
        assert_eq!(c.ttl(), TTL);
    }

    #[test]
    fn first_time_then_duplicate() {
        let mut c = DuplicateCache::new(10, TTL);
        let t = Instant::now();
        assert!(c.insert(("job1", 7u32), t));
        assert!(!c.insert(("job1", 7), t));
        assert!(!c.insert(("job1", 7), secs(t, 299)));
        assert!(c.insert(("job1", 8), t));
        assert!(c.insert(("job2", 7), t));
        assert_eq!(c.len(), 3);
        assert!(c.contains(&("job1", 7), t));
        assert!(!c.contains(&("job9", 7), t));
    }

    #[test]
    fn entries_expire_after_ttl_and_duplicates_do_not_refresh() {
        let mut c = DuplicateCache::new(10, TTL);
        let t = Instant::now();
        assert!(c.insert(1u64, t));
        assert!(!c.insert(1, secs(t, 200))); // does not extend the life of 1
        assert!(c.insert(2, secs(t, 200)));
        assert!(!c.contains(&1, secs(t, 300)));
        assert!(c.insert(1, secs(t, 300)));
        assert!(!c.insert(1, secs(t, 301)));
        // 2 was first seen at 200 s: still a duplicate at 499 s, new at 500 s.
        assert!(!c.insert(2, secs(t, 499)));
        assert!(c.insert(2, secs(t, 500)));
    }

    #[test]
    fn oldest_evicted_beyond_capacity() {
        let mut c = DuplicateCache::new(3, TTL);
        let t = Instant::now();
        for k in 0..5u32 {
            assert!(c.insert(k, secs(t, u64::from(k))));
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.order.len(), 3);
        // 0 and 1 were evicted, so they count as new again.
        assert!(!c.contains(&0, secs(t, 5)));
        assert!(!c.contains(&1, secs(t, 5)));
        assert!(!c.insert(4, secs(t, 5)));
        assert!(c.insert(0, secs(t, 5)));
        assert!(!c.contains(&2, secs(t, 5)));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn memory_stays_bounded_under_load() {
        let mut c = DuplicateCache::new(1000, TTL);
        let t = Instant::now();
        for k in 0..100_000u64 {
            assert!(c.insert(k, t + Duration::from_millis(k)));
            assert!(c.len() <= 1000 && c.order.len() <= 1000);
        }
        assert_eq!(c.len(), 1000);
    }

    #[test]
    fn purge_and_clear_give_memory_back() {
        let mut c = DuplicateCache::new(100, TTL);
        let t = Instant::now();
        for k in 0..50u32 {
            c.insert(k, t);
        }
        c.purge_expired(secs(t, 299));
        assert_eq!(c.len(), 50);
        c.purge_expired(secs(t, 300));
        assert!(c.is_empty());
        assert_eq!(c.seen.capacity(), 0);
        assert_eq!(c.order.capacity(), 0);
        c.insert(1, t);
        c.clear();
        assert!(c.is_empty());
        assert_eq!(c.seen.capacity(), 0);
        assert!(c.insert(1, t));
    }

    #[test]
    fn zero_capacity_or_ttl_disables() {
        let t = Instant::now();
        let mut c = DuplicateCache::new(0, TTL);
        assert!(c.insert(1u8, t));
        assert!(c.insert(1, t));
        assert_eq!(c.seen.capacity(), 0);
        let mut c = DuplicateCache::new(10, Duration::ZERO);
        assert!(c.insert(1u8, t));
        assert!(c.insert(1, t));
        assert!(!c.contains(&1, t));
        assert!(c.is_empty());
    }

    #[test]
    fn clock_going_backwards_is_tolerated() {
        let mut c = DuplicateCache::new(2, TTL);
        let t = secs(Instant::now(), 1000);
        assert!(c.insert(1u32, t));
        // Earlier than the first sighting: still a duplicate.
        assert!(!c.insert(1, t - Duration::from_secs(500)));
        assert!(c.insert(2, t - Duration::from_secs(10)));
        assert!(c.insert(3, secs(t, 1)));
        assert!(c.len() <= 2 && c.order.len() <= 2);
    }

    #[test]
    fn string_keys_like_sha256_shares() {
        // (job_id, extranonce2, ntime, nonce, version_bits)
        type Key = (String, Vec<u8>, u32, u32, Option<u32>);
        let mut c: DuplicateCache<Key> = DuplicateCache::new(1000, TTL);
        let t = Instant::now();
        let share = (
            "bf".to_owned(),
            vec![0, 0, 0, 1],
            0x504e86ed,
            0xb2957c02,
            None,
        );
        assert!(c.insert(share.clone(), t));
        assert!(!c.insert(share.clone(), t));
        let rolled = (
            share.0.clone(),
            share.1.clone(),
            share.2,
            share.3,
            Some(0x2000),
        );
        assert!(c.insert(rolled, t));
    }
}
