//! The hash maps on the share path ([`FastMap`]): foldhash, seeded at random
//! per process, instead of std's SipHash-1-3, which was about 3% of the data
//! plane's CPU a share (BENCHMARKS.md, issue 15). Keys a miner chooses
//! (duplicate-share keys, worker names) live in maps bounded per miner or
//! capped per data plane, so the weaker flooding resistance costs little.

use std::collections::HashMap;

pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
