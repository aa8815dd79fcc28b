//! Per-site write quotas for site tokens (SECURITY.md F9): how many share
//! events a site's data planes may store per day. A token bucket per site
//! holds a day's quota and refills continuously over 24 hours, so a site
//! that catches up after an outage (its spool's backlog) still goes
//! through at once, while a token that writes without end is held to the
//! quota on average. A refused batch is answered `RESOURCE_EXHAUSTED`; the
//! data plane keeps the events in its spool and resends them later, so
//! nothing is lost while the quota holds them back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use tonic::Status;

const DAY_SECS: f64 = 86_400.0;

#[derive(Debug)]
pub struct EventQuota {
    per_day: u64,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// When a refusal was last logged (at most one warning a minute).
    warned: Option<Instant>,
}

impl EventQuota {
    /// `per_day` 0: no quota.
    pub fn new(per_day: u64) -> Self {
        EventQuota {
            per_day,
            buckets: Mutex::default(),
        }
    }

    /// Whether the site may store more events now. A batch is let in while
    /// the bucket holds one event or more (it may overdraw it by one batch: charged
    /// afterwards with what was really inserted, duplicates free).
    pub fn check(&self, site_id: i64, site: &str, now: Instant) -> Result<(), Status> {
        if self.per_day == 0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = self.refilled(&mut buckets, site_id, now);
        if b.tokens >= 1.0 {
            return Ok(());
        }
        let wait = (1.0 - b.tokens) * DAY_SECS / self.per_day as f64;
        if b.warned
            .is_none_or(|w| now.saturating_duration_since(w).as_secs() >= 60)
        {
            b.warned = Some(now);
            tracing::warn!(
                site,
                quota = self.per_day,
                "share events refused: the site's daily quota is used up (they stay in its data planes' spools)"
            );
        }
        Err(Status::resource_exhausted(format!(
            "site {site:?} has stored its quota of {} share events a day \
             (controlplane.max_site_events_per_day); the events stay in the data plane's \
             spool and are accepted again in about {:.0} s",
            self.per_day,
            wait.ceil()
        )))
    }

    /// Takes `n` stored events from the site's bucket.
    pub fn charge(&self, site_id: i64, n: u64, now: Instant) {
        if self.per_day == 0 || n == 0 {
            return;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        self.refilled(&mut buckets, site_id, now).tokens -= n as f64;
    }

    fn refilled<'a>(
        &self,
        buckets: &'a mut HashMap<i64, Bucket>,
        site_id: i64,
        now: Instant,
    ) -> &'a mut Bucket {
        let cap = self.per_day as f64;
        let b = buckets.entry(site_id).or_insert(Bucket {
            tokens: cap,
            at: now,
            warned: None,
        });
        let secs = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + secs * cap / DAY_SECS).min(cap);
        b.at = now;
        b
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_site_gets_its_days_quota_at_once_then_the_refill_rate() {
        let q = EventQuota::new(86_400); // one event a second
        let t0 = Instant::now();
        q.check(1, "a", t0).unwrap();
        q.charge(1, 86_400, t0);
        let e = q.check(1, "a", t0).unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(
            e.message().contains("max_site_events_per_day") && e.message().contains("\"a\""),
            "{}",
            e.message()
        );
        // Another site has its own bucket.
        q.check(2, "b", t0).unwrap();
        // Ten seconds refill ten events.
        let t1 = t0 + Duration::from_secs(10);
        q.check(1, "a", t1).unwrap();
        q.charge(1, 10, t1);
        assert!(q.check(1, "a", t1).is_err());
        // The bucket never holds more than a day's quota.
        let later = t1 + Duration::from_secs(10 * 86_400);
        q.charge(1, 86_400, later);
        assert!(q.check(1, "a", later).is_err());
    }

    #[test]
    fn an_overdrawn_bucket_says_when_it_lets_events_in_again() {
        let q = EventQuota::new(86_400);
        let t0 = Instant::now();
        q.charge(7, 86_400 + 99, t0);
        let e = q.check(7, "s", t0).unwrap_err();
        assert!(e.message().contains("about 100 s"), "{}", e.message());
        assert!(q.check(7, "s", t0 + Duration::from_secs(99)).is_err());
        q.check(7, "s", t0 + Duration::from_secs(101)).unwrap();
    }

    #[test]
    fn zero_is_no_quota() {
        let q = EventQuota::new(0);
        let t0 = Instant::now();
        q.charge(1, u64::MAX, t0);
        q.check(1, "a", t0).unwrap();
    }
}
