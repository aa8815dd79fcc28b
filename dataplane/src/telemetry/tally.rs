//! [`Tally`]: counters by a small key (an algorithm and a label), for
//! events too rare to need their own atomics: connections, disconnects,
//! switches, connect results.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug)]
pub struct Tally<K: Ord>(Mutex<BTreeMap<K, u64>>);

impl<K: Ord> Default for Tally<K> {
    fn default() -> Self {
        Tally(Mutex::new(BTreeMap::new()))
    }
}

impl<K: Ord + Clone> Tally<K> {
    pub fn add(&self, key: K) {
        self.add_n(key, 1);
    }

    pub fn add_n(&self, key: K, n: u64) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += n;
    }

    /// Makes `key` appear (at 0) so that a series exists before its first event.
    pub fn touch(&self, key: K) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default();
    }

    pub fn snapshot(&self) -> Vec<(K, u64)> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub fn get(&self, key: &K) -> u64 {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
            .unwrap_or(0)
    }
}
