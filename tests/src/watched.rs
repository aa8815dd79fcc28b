//! `Watched<S>`: a harness role's state behind a watch channel, as tests
//! read it and wait on it: a borrow, a change that returns a value, and a
//! wait for a condition with a deadline whose error names the role and what
//! was awaited. The scripted pools and the sniffer keep their state in one.

use std::time::Duration;

use anyhow::{anyhow, bail};
use tokio::sync::watch;

pub struct Watched<S> {
    tx: watch::Sender<S>,
    /// Names the role in errors, e.g. `pool 127.0.0.1:40123`.
    name: String,
}

impl<S> Watched<S> {
    pub fn new(name: impl Into<String>, state: S) -> Self {
        Watched {
            tx: watch::Sender::new(state),
            name: name.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the state (do not hold the guard across an await).
    pub fn borrow(&self) -> watch::Ref<'_, S> {
        self.tx.borrow()
    }

    /// Changes the state under its lock, wakes every waiter, and returns
    /// what `f` returned.
    pub fn modify<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        let mut out = None;
        self.tx.send_modify(|s| out = Some(f(s)));
        out.expect("send_modify runs the closure")
    }

    /// Waits until `cond` holds (checked now and after every change); the
    /// error after `timeout` names the role and `what`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut cond: impl FnMut(&S) -> bool,
    ) -> anyhow::Result<()> {
        let mut rx = self.tx.subscribe();
        match tokio::time::timeout(timeout, rx.wait_for(|s| cond(s))).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => bail!("{} stopped while waiting for {what}", self.name),
            Err(_) => Err(anyhow!(
                "timed out after {timeout:?} waiting for {}: {what}",
                self.name
            )),
        }
    }
}
