//! A handshake request a session answers only once a pool is ready (a
//! Stratum V1 or ALEO subscribe, an xmrig login), with the time by which it
//! must be answered; the miner loop refuses it when that time is up.

use std::time::{Duration, Instant};

use serde_json::Value;

/// Boxed: a session holds one for its whole life and uses it for moments.
#[derive(Debug, Default)]
pub struct Awaiting(Option<Box<(Value, Instant)>>);

impl Awaiting {
    /// Waits for the request `id`, for at most `within`.
    pub fn start(&mut self, id: Value, within: Duration) {
        self.0 = Some(Box::new((id, Instant::now() + within)));
    }

    pub fn is_waiting(&self) -> bool {
        self.0.is_some()
    }

    /// The request's id, to answer it now.
    pub fn take(&mut self) -> Option<Value> {
        self.0.take().map(|w| w.0)
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.0.as_ref().map(|w| w.1)
    }

    /// The request's id once its time is up at `now` (it is then no longer
    /// waiting).
    pub fn expired(&mut self, now: Instant) -> Option<Value> {
        match &self.0 {
            Some(w) if now >= w.1 => self.take(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_expires_once_at_its_deadline() {
        let mut a = Awaiting::default();
        assert!(!a.is_waiting() && a.deadline().is_none());
        a.start(Value::from(7), Duration::from_secs(5));
        let at = a.deadline().unwrap();
        assert_eq!(a.expired(at - Duration::from_millis(1)), None);
        assert!(a.is_waiting());
        assert_eq!(a.expired(at), Some(Value::from(7)));
        assert!(!a.is_waiting());
        assert_eq!(a.expired(at), None, "only once");
        a.start(Value::from(8), Duration::from_secs(5));
        assert_eq!(a.take(), Some(Value::from(8)));
        assert_eq!(a.take(), None);
    }
}
