//! Per-IP admission control for the accept loop: concurrent connections per IP, connection rate per IP (with a ban when exceeded) and an allow-list.
//!
//! Pure and single-owner: the accept loop owns one [`IpLimiter`], passes the
//! current time in, calls [`IpLimiter::release`] when an admitted connection
//! ends and [`IpLimiter::sweep`] from a periodic timer so memory stays bounded.
//!
//! The per-minute limit is a token bucket (GCRA): an IP may open up to
//! `max_connections_per_minute` connections at once and then one more every
//! `60 s / limit`. Every attempt that is not already banned counts, including
//! attempts refused for too many concurrent connections. An attempt beyond the
//! rate is refused and bans the IP for `ban_duration`; attempts during a ban do
//! not extend it. When a ban ends the IP starts with a full bucket.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) count as their IPv4 address.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// The longest ban applied, whatever the configuration says (keeps `Instant`
/// arithmetic far from overflow).
const MAX_BAN: Duration = Duration::from_secs(365 * 24 * 3600);

const MINUTE: Duration = Duration::from_secs(60);

/// Limits applied to every source address not in `allow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpLimitsConfig {
    /// Concurrent connections per IP; 0 = unlimited.
    pub max_connections_per_ip: u32,
    /// New connections per minute per IP; 0 = unlimited.
    pub max_connections_per_minute: u32,
    /// How long an IP that exceeded the rate is refused.
    pub ban_duration: Duration,
    /// Networks exempt from every limit (the farm's own subnets).
    pub allow: Vec<IpNet>,
}

impl Default for IpLimitsConfig {
    fn default() -> Self {
        IpLimitsConfig {
            max_connections_per_ip: 100,
            max_connections_per_minute: 60,
            ban_duration: Duration::from_secs(300),
            allow: Vec::new(),
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The IP is banned for exceeding the connection rate.
    Banned { remaining: Duration },
    /// The IP already has `limit` open connections.
    TooManyConnections { limit: u32 },
    /// The IP opened more than `limit` connections in a minute (and is now banned).
    RateExceeded { limit: u32 },
}

impl Refusal {
    /// The `result` label of `switchyard_miner_connections_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Banned { .. } | Refusal::RateExceeded { .. } => "banned",
            Refusal::TooManyConnections { .. } => "over_limit",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Banned { remaining } => {
                // Round up so a ban never shows as "0 s".
                let secs = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
                write!(
                    f,
                    "address banned for another {secs} s after exceeding the connection rate limit"
                )
            }
            Refusal::TooManyConnections { limit } => write!(
                f,
                "too many concurrent connections from this address (limit {limit})"
            ),
            Refusal::RateExceeded { limit } => write!(
                f,
                "connection rate limit exceeded (more than {limit} per minute from this address); address banned"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// What is remembered about one address.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// Open connections (tracked only when a concurrent limit is set).
    active: u32,
    /// GCRA theoretical arrival time; `None` = full bucket.
    tat: Option<Instant>,
    banned_until: Option<Instant>,
}

impl Entry {
    fn ban_active(&self, now: Instant) -> bool {
        self.banned_until.is_some_and(|until| until > now)
    }

    /// Nothing worth remembering: no connections, no ban, a full bucket.
    fn idle(&self, now: Instant) -> bool {
        self.active == 0 && !self.ban_active(now) && self.tat.is_none_or(|tat| tat <= now)
    }
}

/// Per-IP admission control. See the module documentation.
#[derive(Debug)]
pub struct IpLimiter {
    cfg: IpLimitsConfig,
    /// Time between connections at the sustained rate (zero when unlimited).
    interval: Duration,
    /// How far ahead of now the bucket may run: `60 s - interval`.
    burst: Duration,
    ips: HashMap<IpAddr, Entry>,
    /// Bans handed out since the start.
    bans_total: u64,
}

impl IpLimiter {
    pub fn new(cfg: IpLimitsConfig) -> Self {
        let (interval, burst) = match cfg.max_connections_per_minute {
            0 => (Duration::ZERO, Duration::ZERO),
            n => {
                let interval = MINUTE / n;
                (interval, MINUTE.saturating_sub(interval))
            }
        };
        IpLimiter {
            cfg,
            interval,
            burst,
            ips: HashMap::new(),
            bans_total: 0,
        }
    }

    /// Bans handed out since the start.
    pub fn bans_total(&self) -> u64 {
        self.bans_total
    }

    pub fn config(&self) -> &IpLimitsConfig {
        &self.cfg
    }

    /// Decides whether a new connection from `ip` may proceed. On `Ok` the
    /// caller must call [`IpLimiter::release`] once the connection ends.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let ip = ip.to_canonical();
        if self.allowed(ip) {
            return Ok(());
        }
        let per_ip = self.cfg.max_connections_per_ip;
        let per_minute = self.cfg.max_connections_per_minute;
        if per_ip == 0 && per_minute == 0 {
            return Ok(());
        }
        let entry = self.ips.entry(ip).or_default();
        if let Some(until) = entry.banned_until {
            if until > now {
                return Err(Refusal::Banned {
                    remaining: until.saturating_duration_since(now),
                });
            }
            // The ban is over: start afresh.
            entry.banned_until = None;
            entry.tat = None;
        }
        if per_minute > 0 {
            let tat = entry.tat.map_or(now, |tat| tat.max(now));
            if tat.saturating_duration_since(now) > self.burst {
                let ban = self.cfg.ban_duration.min(MAX_BAN);
                if !ban.is_zero() {
                    self.bans_total += 1;
                    entry.banned_until = now.checked_add(ban);
                    entry.tat = None;
                }
                return Err(Refusal::RateExceeded { limit: per_minute });
            }
            entry.tat = Some(tat.checked_add(self.interval).unwrap_or(tat));
        }
        if per_ip > 0 {
            if entry.active >= per_ip {
                return Err(Refusal::TooManyConnections { limit: per_ip });
            }
            entry.active += 1;
        }
        Ok(())
    }

    /// An admitted connection from `ip` has ended. Harmless for an address
    /// that has no open connection (or is on the allow-list).
    pub fn release(&mut self, ip: IpAddr) {
        let ip = ip.to_canonical();
        if let Some(entry) = self.ips.get_mut(&ip) {
            entry.active = entry.active.saturating_sub(1);
        }
    }

    /// Forgets expired bans and addresses with nothing left to remember, and
    /// gives the memory back when the table has shrunk a lot.
    pub fn sweep(&mut self, now: Instant) {
        self.ips.retain(|_, entry| {
            if !entry.ban_active(now) {
                entry.banned_until = None;
            }
            !entry.idle(now)
        });
        if self.ips.capacity() > 64 && self.ips.len() < self.ips.capacity() / 4 {
            self.ips.shrink_to_fit();
        }
    }

    /// Addresses currently banned.
    pub fn banned(&self, now: Instant) -> usize {
        self.ips.values().filter(|e| e.ban_active(now)).count()
    }

    /// Addresses the limiter holds state for (memory use).
    pub fn tracked_ips(&self) -> usize {
        self.ips.len()
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        self.cfg.allow.iter().any(|net| net.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn limiter(per_ip: u32, per_minute: u32, ban_secs: u64, allow: &[&str]) -> IpLimiter {
        IpLimiter::new(IpLimitsConfig {
            max_connections_per_ip: per_ip,
            max_connections_per_minute: per_minute,
            ban_duration: Duration::from_secs(ban_secs),
            allow: allow
                .iter()
                .map(|n| n.parse().expect("test network"))
                .collect(),
        })
    }

    #[test]
    fn default_config_and_unlimited() {
        let cfg = IpLimitsConfig::default();
        assert_eq!(cfg.max_connections_per_ip, 100);
        assert_eq!(cfg.max_connections_per_minute, 60);
        assert_eq!(cfg.ban_duration, Duration::from_secs(300));
        assert!(cfg.allow.is_empty());
        // 0 = unlimited, and nothing is remembered.
        let mut l = limiter(0, 0, 300, &[]);
        let t = Instant::now();
        assert!((0..10_000).all(|_| l.admit(ip("192.0.2.1"), t).is_ok()));
        assert_eq!(l.tracked_ips(), 0);
    }

    #[test]
    fn concurrent_limit_and_release() {
        let mut l = limiter(2, 0, 300, &[]);
        let t = Instant::now();
        let a = ip("192.0.2.1");
        assert_eq!(l.admit(a, t), Ok(()));
        assert_eq!(l.admit(a, t), Ok(()));
        assert_eq!(l.admit(a, t), Err(Refusal::TooManyConnections { limit: 2 }));
        // Another address is unaffected.
        assert_eq!(l.admit(ip("192.0.2.2"), t), Ok(()));
        l.release(a);
        assert_eq!(l.admit(a, t), Ok(()));
        assert!(l.admit(a, t).is_err());
        // Refusals for concurrency never ban.
        assert_eq!(l.banned(t), 0);
        // Releases without a connection (unknown address, one too many) are harmless.
        let b = ip("192.0.2.3");
        l.release(b);
        for _ in 0..2 {
            assert_eq!(l.admit(b, t), Ok(()));
            l.release(b);
            l.release(b);
        }
        let admitted = (0..5).filter(|_| l.admit(b, t).is_ok()).count();
        assert_eq!(admitted, 2);
    }

    #[test]
    fn rate_exceeded_bans_and_ban_expires() {
        let mut l = limiter(0, 3, 300, &[]);
        let t = Instant::now();
        let a = ip("198.51.100.7");
        for _ in 0..3 {
            assert_eq!(l.admit(a, t), Ok(()));
        }
        assert_eq!(l.admit(a, t), Err(Refusal::RateExceeded { limit: 3 }));
        assert_eq!(l.banned(t), 1);
        assert_eq!(l.bans_total(), 1);
        assert_eq!(Refusal::RateExceeded { limit: 3 }.label(), "banned");
        let later = t + Duration::from_secs(100);
        assert_eq!(
            l.admit(a, later),
            Err(Refusal::Banned {
                remaining: Duration::from_secs(200)
            })
        );
        // Attempts during the ban do not extend it.
        let end = t + Duration::from_secs(300);
        assert_eq!(l.banned(end), 0);
        assert_eq!(l.admit(a, end), Ok(()));
        // After a ban the bucket is full again.
        assert_eq!(l.admit(a, end), Ok(()));
        assert_eq!(l.admit(a, end), Ok(()));
        assert!(matches!(l.admit(a, end), Err(Refusal::RateExceeded { .. })));
    }

    #[test]
    fn rate_refills_over_time() {
        let mut l = limiter(0, 60, 300, &[]);
        let mut t = Instant::now();
        let a = ip("198.51.100.7");
        // One a second forever is within 60 per minute.
        for _ in 0..500 {
            assert_eq!(l.admit(a, t), Ok(()));
            t += Duration::from_secs(1);
        }
        // A full burst after a quiet minute is allowed too.
        t += MINUTE;
        for _ in 0..60 {
            assert_eq!(l.admit(a, t), Ok(()));
        }
        assert!(l.admit(a, t).is_err());
    }

    #[test]
    fn refused_for_concurrency_still_counts_toward_the_rate() {
        let mut l = limiter(1, 5, 60, &[]);
        let t = Instant::now();
        let a = ip("203.0.113.9");
        assert_eq!(l.admit(a, t), Ok(()));
        for _ in 0..4 {
            assert_eq!(l.admit(a, t), Err(Refusal::TooManyConnections { limit: 1 }));
        }
        assert_eq!(l.admit(a, t), Err(Refusal::RateExceeded { limit: 5 }));
    }

    #[test]
    fn zero_ban_duration_refuses_without_banning() {
        let mut l = limiter(0, 1, 0, &[]);
        let t = Instant::now();
        let a = ip("203.0.113.9");
        assert_eq!(l.admit(a, t), Ok(()));
        assert_eq!(l.admit(a, t), Err(Refusal::RateExceeded { limit: 1 }));
        assert_eq!(l.admit(a, t), Err(Refusal::RateExceeded { limit: 1 }));
        assert_eq!(l.banned(t), 0);
        assert_eq!(l.admit(a, t + MINUTE), Ok(()));
    }

    #[test]
    fn allow_list_cidrs_are_exempt() {
        let mut l = limiter(1, 1, 300, &["10.0.0.0/8", "2001:db8::/32"]);
        let t = Instant::now();
        for addr in ["10.1.2.3", "10.255.0.1", "2001:db8::1", "::ffff:10.9.9.9"] {
            for _ in 0..10 {
                assert_eq!(l.admit(ip(addr), t), Ok(()), "{addr}");
            }
        }
        assert_eq!(l.tracked_ips(), 0);
        l.release(ip("10.1.2.3"));
        // Outside the networks the limits apply.
        let out = ip("11.0.0.1");
        assert_eq!(l.admit(out, t), Ok(()));
        assert!(l.admit(out, t).is_err());
        let out6 = ip("2001:db9::1");
        assert_eq!(l.admit(out6, t), Ok(()));
        assert!(l.admit(out6, t).is_err());
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_ipv4() {
        let mut l = limiter(2, 0, 300, &[]);
        let t = Instant::now();
        assert_eq!(l.admit(ip("192.0.2.5"), t), Ok(()));
        assert_eq!(l.admit(ip("::ffff:192.0.2.5"), t), Ok(()));
        assert_eq!(
            l.admit(ip("192.0.2.5"), t),
            Err(Refusal::TooManyConnections { limit: 2 })
        );
        assert_eq!(l.tracked_ips(), 1);
        l.release(ip("::ffff:192.0.2.5"));
        assert_eq!(l.admit(ip("192.0.2.5"), t), Ok(()));
    }

    #[test]
    fn sweep_forgets_idle_addresses_and_expired_bans() {
        // 2 per minute: each admission keeps an address in memory for 30 s.
        let mut l = limiter(10, 2, 300, &[]);
        let t = Instant::now();
        for i in 0..200u8 {
            let a = IpAddr::from([192, 0, 2, i]);
            assert_eq!(l.admit(a, t), Ok(()));
            l.release(a);
        }
        let banned = ip("198.51.100.1");
        for _ in 0..3 {
            if l.admit(banned, t).is_ok() {
                l.release(banned);
            }
        }
        let held = ip("198.51.100.2");
        assert_eq!(l.admit(held, t), Ok(()));
        assert_eq!(l.tracked_ips(), 202);
        // Within the rate window nothing is forgotten yet.
        l.sweep(t + Duration::from_secs(29));
        assert_eq!(l.tracked_ips(), 202);
        // After it: only the ban and the open connection remain.
        let half = t + Duration::from_secs(30);
        l.sweep(half);
        assert_eq!(l.tracked_ips(), 2);
        assert_eq!(l.banned(half), 1);
        // Once the ban has expired it is forgotten; the open connection stays.
        let end = t + Duration::from_secs(300);
        l.sweep(end);
        assert_eq!(l.tracked_ips(), 1);
        assert_eq!(l.banned(end), 0);
        assert_eq!(l.admit(banned, end), Ok(()));
        l.release(banned);
        l.release(held);
        l.sweep(end + MINUTE);
        assert_eq!(l.tracked_ips(), 0);
    }

    #[test]
    fn refusal_texts_are_clear() {
        let cases = [
            (
                Refusal::Banned {
                    remaining: Duration::from_millis(4_200),
                },
                "address banned for another 5 s after exceeding the connection rate limit",
            ),
            (
                Refusal::TooManyConnections { limit: 100 },
                "too many concurrent connections from this address (limit 100)",
            ),
            (
                Refusal::RateExceeded { limit: 60 },
                "connection rate limit exceeded (more than 60 per minute from this address); address banned",
            ),
        ];
        for (refusal, text) in cases {
            assert_eq!(refusal.to_string(), text);
        }
    }
}
