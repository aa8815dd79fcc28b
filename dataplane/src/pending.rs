//! Connections that have not finished their stratum handshake, per
//! listener: a device on the LAN that opens connections and never
//! subscribes/authorizes must not lock honest miners out.
//!
//! - Each address may hold at most `max_pending_per_ip` of them at once,
//!   allow-listed networks included (the per-IP limits exempt those; this
//!   cap does not): beyond, a new connection is refused.
//! - When the listener is full, an unfinished handshake is closed to make
//!   room before a new connection is refused. First the oldest of those
//!   that have not sent a single valid request: a miner sends its subscribe
//!   or login at once, so a connection long silent is the flood, and a
//!   burst of new honest connections from one address (a farm behind a NAT
//!   coming back after a power cut) is the youngest, not the first to go.
//!   Then, of those that have spoken, the oldest one of the address holding
//!   the most (a device that speaks once and stalls, reopening each one
//!   closed, recycles its own slots rather than an honest miner's
//!   mid-handshake). Miners past their handshake are never closed for room.
//!
//! [`Pending`] owns the listener's connection slots (a semaphore of
//! `max_connections` permits). While a connection has not finished its
//! handshake its permit sits in its [`Entry`], so that closing it for room
//! hands the permit straight to the newcomer (no waiting for the closed
//! session to wind down, no queue). [`PendingSlot::done`] moves the permit
//! into the session's slot for good; dropping the slot gives it back.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// A listener's connection slots and its unfinished handshakes; see the
/// module doc.
#[derive(Debug)]
pub struct Pending {
    max_per_ip: u32,
    max_connections: usize,
    permits: Arc<Semaphore>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    by_age: BTreeMap<u64, Entry>,
    /// Those that have sent no valid request yet, then those that have.
    tiers: [Tier; 2],
}

/// Unfinished handshakes of one kind, by age and by address.
#[derive(Debug, Default)]
struct Tier {
    /// All of them, oldest first.
    order: BTreeSet<u64>,
    /// Each address's unfinished handshakes, oldest first.
    per_ip: HashMap<IpAddr, BTreeSet<u64>>,
    /// Every address with some: (how many, its oldest, the address); the
    /// last is the one to close from (the most, then the oldest).
    ranked: BTreeSet<(usize, Reverse<u64>, IpAddr)>,
}

const SILENT: usize = 0;
const SPOKEN: usize = 1;

/// An unfinished handshake: its address, whether it has sent a valid
/// request, its session's kill token, and its connection slot (handed to a
/// newcomer if it is closed for room).
#[derive(Debug)]
struct Entry {
    ip: IpAddr,
    tier: usize,
    kill: CancellationToken,
    permit: OwnedSemaphorePermit,
}

/// Why [`Pending::admit`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The address already has `limit` unfinished handshakes.
    TooManyPending { limit: u32 },
    /// Every one of the listener's `max` connections is past its handshake.
    Full { max: usize },
}

impl Refused {
    /// The `result` label of the connections metric.
    pub fn label(&self) -> &'static str {
        match self {
            Refused::TooManyPending { .. } => "pending_limit",
            Refused::Full { .. } => "over_limit",
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::TooManyPending { limit } => write!(
                f,
                "{limit} connections from this address have not finished their handshake (limits.max_pending_per_ip)"
            ),
            Refused::Full { max } => write!(
                f,
                "listener is at its limit of {max} connections, every one past its handshake"
            ),
        }
    }
}

/// A connection let in: its slot, and the address of the unfinished
/// handshake closed to make room, if one was.
#[derive(Debug)]
pub struct Admitted {
    pub slot: PendingSlot,
    pub evicted: Option<IpAddr>,
}

impl Pending {
    /// `max_connections` slots; at most `max_per_ip` unfinished handshakes
    /// per address (0: no cap).
    pub fn new(max_connections: usize, max_per_ip: u32) -> Arc<Pending> {
        Arc::new(Pending {
            max_per_ip,
            max_connections,
            permits: Arc::new(Semaphore::new(max_connections)),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Plain maps updated in single steps: a poisoned lock is taken over.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets a new connection from `ip` in (its session stops on `kill`): a
    /// free slot, else the slot of the oldest unfinished handshake, which is
    /// closed; refused when the address is at its cap or nothing can be
    /// closed.
    pub fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        kill: CancellationToken,
    ) -> Result<Admitted, Refused> {
        let ip = ip.to_canonical();
        let mut g = self.lock();
        let n: usize = g.tiers.iter().map(|t| t.count(ip)).sum();
        if self.max_per_ip > 0 && n >= self.max_per_ip as usize {
            return Err(Refused::TooManyPending {
                limit: self.max_per_ip,
            });
        }
        let (permit, evicted) = match self.permits.clone().try_acquire_owned() {
            Ok(p) => (p, None),
            Err(_) => {
                let Some(old) = g.victim().and_then(|seq| g.take(seq)) else {
                    return Err(Refused::Full {
                        max: self.max_connections,
                    });
                };
                old.kill.cancel();
                (old.permit, Some(old.ip))
            }
        };
        let seq = g.next;
        g.next += 1;
        g.tiers[SILENT].insert(ip, seq);
        g.by_age.insert(
            seq,
            Entry {
                ip,
                tier: SILENT,
                kill,
                permit,
            },
        );
        let slot = PendingSlot {
            pending: self.clone(),
            seq: Some(seq),
            spoke: false,
            permit: None,
        };
        Ok(Admitted { slot, evicted })
    }

    /// Connections that have not finished their handshake.
    pub fn len(&self) -> usize {
        self.lock().by_age.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free connection slots.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    fn remove(&self, seq: u64) -> Option<OwnedSemaphorePermit> {
        self.lock().take(seq).map(|e| e.permit)
    }

    /// Moves `seq` among those that have sent a valid request.
    fn spoke(&self, seq: u64) {
        let mut g = self.lock();
        let Some(e) = g.by_age.get_mut(&seq) else {
            return;
        };
        if e.tier == SPOKEN {
            return;
        }
        e.tier = SPOKEN;
        let ip = e.ip;
        g.tiers[SILENT].remove(ip, seq);
        g.tiers[SPOKEN].insert(ip, seq);
    }
}

impl Inner {
    /// The unfinished handshake to close for room: the oldest silent one,
    /// else, of those that have spoken, the oldest of the address holding
    /// the most.
    fn victim(&self) -> Option<u64> {
        self.tiers[SILENT]
            .victim(false)
            .or_else(|| self.tiers[SPOKEN].victim(true))
    }

    fn take(&mut self, seq: u64) -> Option<Entry> {
        let e = self.by_age.remove(&seq)?;
        self.tiers[e.tier].remove(e.ip, seq);
        Some(e)
    }
}

impl Tier {
    fn count(&self, ip: IpAddr) -> usize {
        self.per_ip.get(&ip).map_or(0, BTreeSet::len)
    }

    fn insert(&mut self, ip: IpAddr, seq: u64) {
        self.order.insert(seq);
        self.rank(ip, |set| {
            set.insert(seq);
        });
    }

    fn remove(&mut self, ip: IpAddr, seq: u64) {
        self.order.remove(&seq);
        self.rank(ip, |set| {
            set.remove(&seq);
        });
    }

    /// Changes `ip`'s set of unfinished handshakes, keeping `ranked` in step.
    fn rank(&mut self, ip: IpAddr, change: impl FnOnce(&mut BTreeSet<u64>)) {
        let set = self.per_ip.entry(ip).or_default();
        if let Some(&oldest) = set.first() {
            self.ranked.remove(&(set.len(), Reverse(oldest), ip));
        }
        change(set);
        match set.first() {
            Some(&oldest) => {
                self.ranked.insert((set.len(), Reverse(oldest), ip));
            }
            None => {
                self.per_ip.remove(&ip);
            }
        }
    }

    /// The oldest of all (silent), or the oldest of the address holding
    /// the most (spoken).
    fn victim(&self, by_address: bool) -> Option<u64> {
        if !by_address {
            return self.order.first().copied();
        }
        let &(_, _, ip) = self.ranked.last()?;
        self.per_ip.get(&ip)?.first().copied()
    }
}

/// A connection's slot: among the unfinished handshakes until
/// [`PendingSlot::done`], then its own until dropped.
#[derive(Debug)]
pub struct PendingSlot {
    pending: Arc<Pending>,
    seq: Option<u64>,
    spoke: bool,
    permit: Option<OwnedSemaphorePermit>,
}

impl PendingSlot {
    /// The connection sent a valid request: it is closed for room only
    /// after every silent one.
    pub fn spoke(&mut self) {
        if let (Some(seq), false) = (self.seq, self.spoke) {
            self.spoke = true;
            self.pending.spoke(seq);
        }
    }

    /// The handshake is done: the connection keeps its slot for good.
    pub fn done(&mut self) {
        if let Some(seq) = self.seq.take() {
            self.permit = self.pending.remove(seq);
        }
    }

    /// Whether [`PendingSlot::done`] was called.
    pub fn is_done(&self) -> bool {
        self.seq.is_none()
    }

    /// Whether the connection was closed to make room (its slot went to a
    /// newcomer).
    pub fn was_evicted(&self) -> bool {
        self.seq
            .is_some_and(|seq| !self.pending.lock().by_age.contains_key(&seq))
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        if let Some(seq) = self.seq.take() {
            self.pending.remove(seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn admit(p: &Arc<Pending>, from: &str) -> Result<PendingSlot, Refused> {
        p.admit(ip(from), CancellationToken::new()).map(|a| a.slot)
    }

    #[test]
    fn each_address_is_capped_and_gets_its_room_back() {
        let p = Pending::new(100, 2);
        let a = admit(&p, "10.0.0.1").unwrap();
        let mut b = admit(&p, "10.0.0.1").unwrap();
        let e = admit(&p, "10.0.0.1").unwrap_err();
        assert_eq!(e, Refused::TooManyPending { limit: 2 });
        assert!(e.to_string().contains("max_pending_per_ip"), "{e}");
        // Another address is not affected; IPv4-mapped counts as IPv4.
        let _c = admit(&p, "10.0.0.2").unwrap();
        assert!(admit(&p, "::ffff:10.0.0.1").is_err());
        b.done();
        assert!(b.is_done());
        let _d = admit(&p, "10.0.0.1").unwrap();
        drop(a);
        let _e = admit(&p, "10.0.0.1").unwrap();
        assert_eq!(p.len(), 3, "c, d and e");
        assert_eq!(
            p.available(),
            100 - 4,
            "b keeps its slot after its handshake"
        );
        drop(b);
        assert_eq!(p.available(), 100 - 3);
    }

    #[test]
    fn a_full_listener_gives_the_oldest_unfinished_handshakes_slot_to_a_newcomer() {
        let p = Pending::new(3, 0);
        let (k1, k2, k3) = (
            CancellationToken::new(),
            CancellationToken::new(),
            CancellationToken::new(),
        );
        let mut s1 = p.admit(ip("10.0.0.1"), k1.clone()).unwrap().slot;
        let s2 = p.admit(ip("10.0.0.2"), k2.clone()).unwrap().slot;
        let s3 = p.admit(ip("10.0.0.3"), k3.clone()).unwrap().slot;
        assert_eq!(p.available(), 0);
        // The first finished its handshake: it is never closed for room.
        s1.done();
        let a = p.admit(ip("10.0.0.4"), CancellationToken::new()).unwrap();
        assert_eq!(a.evicted, Some(ip("10.0.0.2")));
        assert!(s2.was_evicted() && !s3.was_evicted() && !s1.was_evicted());
        assert!(k2.is_cancelled() && !k1.is_cancelled() && !k3.is_cancelled());
        // The evicted session ending gives nothing back: its slot moved.
        drop(s2);
        assert_eq!(p.available(), 0);
        let b = p.admit(ip("10.0.0.5"), CancellationToken::new()).unwrap();
        assert_eq!(b.evicted, Some(ip("10.0.0.3")));
        drop(s3);
        let c = p.admit(ip("10.0.0.6"), CancellationToken::new()).unwrap();
        assert_eq!(c.evicted, Some(ip("10.0.0.4")));
        drop((a, b, c));
        // Only s1 is left, past its handshake: a full listener refuses.
        let _x = p.admit(ip("10.0.0.7"), CancellationToken::new()).unwrap();
        let _y = p.admit(ip("10.0.0.8"), CancellationToken::new()).unwrap();
        let z = p.admit(ip("10.0.0.9"), CancellationToken::new()).unwrap();
        assert!(z.evicted.is_some());
        drop(z);
        drop((_x, _y));
        assert!(p.is_empty());
        assert!(!k1.is_cancelled());
    }

    #[test]
    fn the_address_holding_the_most_unfinished_handshakes_pays_first() {
        let p = Pending::new(6, 0);
        // An honest miner mid-handshake (it has spoken), the oldest of all...
        let mut honest = admit(&p, "10.0.0.1").unwrap();
        honest.spoke();
        // ...then a device that opens five and speaks on each.
        let mut flood: Vec<_> = (0..5).map(|_| admit(&p, "10.0.0.66").unwrap()).collect();
        flood.iter_mut().for_each(PendingSlot::spoke);
        let mut kept = Vec::new();
        for _ in 0..20 {
            let a = p.admit(ip("10.0.0.66"), CancellationToken::new()).unwrap();
            assert_eq!(a.evicted, Some(ip("10.0.0.66")), "it recycles its own");
            let mut slot = a.slot;
            slot.spoke();
            kept.push(slot); // stays open, as the device keeps it
        }
        assert!(!honest.was_evicted());
        assert!(
            flood.iter().all(PendingSlot::was_evicted),
            "its oldest went first"
        );
        // Equal counts: the oldest goes.
        let q = Pending::new(2, 0);
        let mut a = admit(&q, "10.0.0.1").unwrap();
        let mut b = admit(&q, "10.0.0.2").unwrap();
        a.spoke();
        b.spoke();
        let c = q.admit(ip("10.0.0.3"), CancellationToken::new()).unwrap();
        assert_eq!(c.evicted, Some(ip("10.0.0.1")));
        assert!(a.was_evicted() && !b.was_evicted());
    }

    #[test]
    fn silent_connections_are_closed_for_room_before_those_that_spoke() {
        let p = Pending::new(6, 0);
        // Four miners behind one NAT address, each past its first request...
        let mut nat: Vec<_> = (0..4).map(|_| admit(&p, "10.0.0.1").unwrap()).collect();
        for s in &mut nat {
            s.spoke();
            s.spoke();
        }
        // ...and a device holding fewer, silent ones.
        let mut flood: Vec<_> = (0..2).map(|_| admit(&p, "10.0.0.66").unwrap()).collect();
        for _ in 0..10 {
            let a = p.admit(ip("10.0.0.66"), CancellationToken::new()).unwrap();
            assert_eq!(a.evicted, Some(ip("10.0.0.66")), "a silent one goes");
            flood.push(a.slot);
        }
        assert!(nat.iter().all(|s| !s.was_evicted()));
        // Once nothing is silent, the rule within a tier applies again: the
        // NAT address now holds the most.
        for s in &mut flood {
            s.spoke();
        }
        let a = p.admit(ip("10.0.0.7"), CancellationToken::new()).unwrap();
        assert_eq!(
            a.evicted,
            Some(ip("10.0.0.1")),
            "the address holding the most"
        );
        drop((nat, flood, a));
        assert!(p.is_empty());
    }

    #[test]
    fn a_burst_from_one_address_outlives_an_older_silent_flood() {
        let p = Pending::new(8, 0);
        // A device's silent connections from four addresses fill the room...
        let _flood: Vec<_> = (0..8)
            .map(|i| admit(&p, &format!("10.0.1.{}", i % 4 + 1)).unwrap())
            .collect();
        // ...then six miners behind one NAT connect at once, before any has
        // been read: the flood's connections go, oldest first.
        let burst: Vec<_> = (0..6)
            .map(|_| p.admit(ip("10.0.0.1"), CancellationToken::new()).unwrap())
            .collect();
        assert!(
            burst
                .iter()
                .all(|a| a.evicted.is_some_and(|e| e != ip("10.0.0.1")))
        );
        assert!(burst.iter().all(|a| !a.slot.was_evicted()));
    }

    #[test]
    fn a_listener_full_of_finished_handshakes_refuses() {
        let p = Pending::new(2, 0);
        let mut a = admit(&p, "10.0.0.1").unwrap();
        let mut b = admit(&p, "10.0.0.2").unwrap();
        a.done();
        b.done();
        assert_eq!(admit(&p, "10.0.0.3").unwrap_err(), Refused::Full { max: 2 });
        drop(a);
        assert!(admit(&p, "10.0.0.3").is_ok());
    }

    #[test]
    fn no_cap_means_any_number() {
        let p = Pending::new(1000, 0);
        let slots: Vec<_> = (0..1000).map(|_| admit(&p, "10.0.0.1").unwrap()).collect();
        assert_eq!(p.len(), 1000);
        drop(slots);
        assert!(p.is_empty());
        assert_eq!(p.available(), 1000);
        let g = p.lock();
        assert!(
            g.tiers
                .iter()
                .all(|t| t.per_ip.is_empty() && t.ranked.is_empty() && t.order.is_empty()),
            "nothing left per address"
        );
    }
}
