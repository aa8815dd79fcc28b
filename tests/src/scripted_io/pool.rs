//! `Pool<S>`: the handle of every scripted pool (`ScriptedPool`, `RxPool`
//! and `AleoPool` are `Pool` of their state): start, the accessors and
//! waiters tests read the books with, lines and closes for connections,
//! faults, and stop. What only one dialect has is in that pool's module.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchyard_stratum::Request;
use tokio::sync::watch;

use super::server::{ConnCmd, Server};
use super::state::{Fault, ScriptedConnection, ScriptedShare, ScriptedState};

/// A running scripted pool. Dropping it stops it.
pub struct Pool<S> {
    pub(crate) server: Arc<Server<S>>,
}

impl<S: ScriptedState> Pool<S> {
    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start(config: S::Config) -> anyhow::Result<Self> {
        Self::start_on("127.0.0.1:0".parse()?, config).await
    }

    /// Binds `addr` (for example the address of a pool stopped earlier, to
    /// bring it "back up") and starts serving.
    pub async fn start_on(addr: SocketAddr, config: S::Config) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("{}: binding {addr}: {e}", S::KIND))?;
        Self::start_listener(listener, config)
    }

    /// Serves on a listener bound elsewhere (for example in another network
    /// namespace: [`crate::netns::Lab::listen`]).
    pub fn start_listener(
        listener: tokio::net::TcpListener,
        config: S::Config,
    ) -> anyhow::Result<Self> {
        let state = S::new(config)?;
        let every = state.job_interval();
        let server = Server::start(listener, state)?;
        if let Some(every) = every {
            server.every(every, |s| s.state.modify(|st| st.push_timed_job()));
        }
        Ok(Pool { server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Reads the whole state (do not hold the guard across an await).
    pub fn state(&self) -> watch::Ref<'_, S> {
        self.server.state.borrow()
    }

    /// Changes the state under its lock and wakes every waiter.
    pub(crate) fn modify<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        self.server.state.modify(f)
    }

    pub fn config(&self) -> S::Config {
        self.state().config().clone()
    }

    pub fn accepted(&self) -> usize {
        self.state().accepted()
    }

    pub fn rejected(&self) -> usize {
        self.state().rejected()
    }

    pub fn shares(&self) -> Vec<S::Share> {
        self.state().shares().to_vec()
    }

    /// Shares (accepted or not) that came on connection `conn`.
    pub fn shares_on(&self, conn: usize) -> Vec<S::Share> {
        let state = self.state();
        state
            .shares()
            .iter()
            .filter(|s| s.conn() == conn)
            .cloned()
            .collect()
    }

    /// Connections accepted so far (including refused and closed ones).
    pub fn connections(&self) -> usize {
        self.state().connections().len()
    }

    pub fn open_connections(&self) -> usize {
        self.state().open_count()
    }

    pub fn connection(&self, id: usize) -> Option<S::Connection> {
        self.state().connections().get(id).cloned()
    }

    pub fn connection_infos(&self) -> Vec<S::Connection> {
        self.state().connections().to_vec()
    }

    /// Users (workers, logins) from every successful authorize, in order.
    pub fn authorized_users(&self) -> Vec<String> {
        self.state().authorized()
    }

    /// Every request received, with its connection id.
    pub fn requests(&self) -> Vec<(usize, Request)> {
        self.state().requests().to_vec()
    }

    /// Lines that were not JSON-RPC, with their connection id.
    pub fn bad_lines(&self) -> Vec<(usize, String)> {
        self.state().bad_lines().to_vec()
    }

    /// The job connections get from now on.
    pub fn current_job(&self) -> S::Job {
        self.state().current_job().clone()
    }

    /// Waits until `cond` holds; the error names the pool and `what`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl FnMut(&S) -> bool,
    ) -> anyhow::Result<()> {
        self.server.state.wait_until(what, timeout, cond).await
    }

    pub async fn wait_for_accepted(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let what = format!("{n} accepted shares");
        self.wait_until(&what, timeout, |s| s.accepted() >= n).await
    }

    /// Waits until `n` shares (accepted or not) were submitted.
    pub async fn wait_for_shares(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let what = format!("{n} submitted shares");
        self.wait_until(&what, timeout, |s| s.shares().len() >= n)
            .await
    }

    /// Waits until `n` connections were accepted in total.
    pub async fn wait_for_connections(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let what = format!("{n} connections");
        self.wait_until(&what, timeout, |s| s.connections().len() >= n)
            .await
    }

    pub async fn wait_for_open_connections(
        &self,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let what = format!("exactly {n} open connections");
        self.wait_until(&what, timeout, |s| s.open_count() == n)
            .await
    }

    /// Waits until `n` authorizes (logins) succeeded in total.
    pub async fn wait_for_authorized(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let what = format!("{n} authorized users");
        self.wait_until(&what, timeout, |s| s.authorized().len() >= n)
            .await
    }

    /// Writes `line` (a `\n` is added when missing) to connection `conn`.
    pub fn send_raw(&self, conn: usize, line: &[u8]) {
        self.to_connections(|c| c == conn, || ConnCmd::Line(line.to_vec()));
    }

    /// Writes `line` to every open connection.
    pub fn send_raw_to_all(&self, line: &[u8]) {
        self.to_connections(|_| true, || ConnCmd::Line(line.to_vec()));
    }

    /// Closes connection `conn`.
    pub fn close(&self, conn: usize) {
        self.to_connections(|c| c == conn, || ConnCmd::Close);
    }

    /// Closes every open connection; the pool keeps listening.
    pub fn close_all(&self) {
        self.to_connections(|_| true, || ConnCmd::Close);
    }

    /// Queues `cmd()` for each open connection whose id passes `which`.
    fn to_connections(&self, which: impl Fn(usize) -> bool, cmd: impl Fn() -> ConnCmd) {
        let state = self.state();
        for (id, c) in state.connections().iter().enumerate() {
            if c.is_open() && which(id) {
                let _ = c.sender().send(cmd());
            }
        }
    }

    pub fn set_fault(&self, fault: Fault) {
        self.modify(|s| *s.fault_mut() = fault);
    }

    /// Stops listening and closes every connection; returns once the port is
    /// free and every connection is closed.
    pub async fn stop(&self) -> anyhow::Result<()> {
        self.server.stop().await
    }
}

impl<S> Drop for Pool<S> {
    fn drop(&mut self) {
        self.server.shutdown.send_replace(true);
    }
}
