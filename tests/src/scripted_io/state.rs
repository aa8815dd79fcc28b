//! What a scripted pool's state is to the shared server and to the generic
//! handle [`Pool`](super::pool::Pool): the protocol hooks each pool writes
//! (a connection's record, the answer to a request, the timed job) and the
//! books every pool keeps under the same field names, whose accessors
//! [`books!`] writes. Faults are read here, the same way for every pool.

use std::net::SocketAddr;
use std::time::Duration;

use switchyard_stratum::{Message, Request, Response};
use tokio::sync::mpsc;

use super::server::{ConnCmd, Reply};
use crate::lines::show;

/// Misbehaviour to inject into a scripted pool; read at the moment each
/// event happens. "Subscribe" and "authorize" are `login` in the RandomX
/// pool.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Accept, then close at once.
    RefuseConnections,
    /// Answer `mining.subscribe`, then close.
    CloseAfterSubscribe,
    /// Keep reading, never write anything (answers, jobs, anything).
    Stall,
    /// Hold every answer (with what comes along with it) this long.
    SlowAnswers(Duration),
    /// Refuse every share with this reason.
    RejectAll(String),
    /// Refuse every authorize.
    Unauthorized,
}

/// A connection as a scripted pool records it.
pub trait ScriptedConnection: Clone + Send + Sync + 'static {
    fn is_open(&self) -> bool;
    fn mark_closed(&mut self);
    /// Where the handle queues lines for it.
    fn sender(&self) -> &mpsc::UnboundedSender<ConnCmd>;
    /// Users (workers, the login) it authorized successfully, in order.
    fn users(&self) -> Vec<String>;
}

/// A share as a scripted pool records it.
pub trait ScriptedShare: Clone {
    /// The connection it came on.
    fn conn(&self) -> usize;
}

/// A scripted pool's state: its protocol and its books.
pub trait ScriptedState: Sized + Send + Sync + 'static {
    type Config: Clone + Send + Sync + 'static;
    type Connection: ScriptedConnection;
    type Share: ScriptedShare;
    type Job: Clone;
    /// Names the kind of pool in errors ("rx pool").
    const KIND: &'static str;

    fn new(config: Self::Config) -> anyhow::Result<Self>;
    /// How often to push a job unasked, if at all.
    fn job_interval(&self) -> Option<Duration>;
    fn push_timed_job(&mut self);
    /// The record of connection `id`, just accepted (`refused`: closed at once).
    fn new_connection(
        &self,
        id: usize,
        peer: SocketAddr,
        refused: bool,
        tx: mpsc::UnboundedSender<ConnCmd>,
    ) -> Self::Connection;
    /// Records and answers one request (`line` is how it came).
    fn on_request(&mut self, conn: usize, req: Request, line: &[u8], reply: &mut Reply);
    /// The answer to a line that is not JSON-RPC, if the pool gives one.
    fn parse_error(&self) -> Option<Response>;

    fn config(&self) -> &Self::Config;
    fn connections(&self) -> &[Self::Connection];
    fn connections_mut(&mut self) -> &mut Vec<Self::Connection>;
    fn shares(&self) -> &[Self::Share];
    fn accepted(&self) -> usize;
    fn rejected(&self) -> usize;
    fn requests(&self) -> &[(usize, Request)];
    fn bad_lines(&self) -> &[(usize, String)];
    fn bad_lines_mut(&mut self) -> &mut Vec<(usize, String)>;
    fn current_job(&self) -> &Self::Job;
    fn fault(&self) -> &Fault;
    fn fault_mut(&mut self) -> &mut Fault;
    fn listening(&self) -> bool;
    fn listening_mut(&mut self) -> &mut bool;

    /// Users (workers, logins) from every successful authorize, by
    /// connection and in order.
    fn authorized(&self) -> Vec<String> {
        self.connections().iter().flat_map(|c| c.users()).collect()
    }

    fn open_count(&self) -> usize {
        self.connections().iter().filter(|c| c.is_open()).count()
    }

    /// Registers a connection; returns its id and whether it is refused.
    fn accept(&mut self, peer: SocketAddr, tx: mpsc::UnboundedSender<ConnCmd>) -> (usize, bool) {
        let id = self.connections().len();
        let refused = *self.fault() == Fault::RefuseConnections;
        let conn = self.new_connection(id, peer, refused, tx);
        self.connections_mut().push(conn);
        (id, refused)
    }

    /// Handles one line the peer sent: requests are answered (later under
    /// `SlowAnswers`), answers ignored (the pools ask nothing), anything
    /// else recorded as a bad line.
    fn on_line(&mut self, conn: usize, line: &[u8]) -> Reply {
        let mut reply = Reply {
            delay: match self.fault() {
                Fault::SlowAnswers(d) => Some(*d),
                _ => None,
            },
            ..Reply::default()
        };
        match Message::parse(line) {
            Ok(Message::Request(req)) => self.on_request(conn, req, line, &mut reply),
            Ok(Message::Response(_)) => {}
            Err(e) => {
                self.bad_lines_mut()
                    .push((conn, format!("{e}: {}", show(line))));
                reply.lines.extend(self.parse_error().map(|a| a.to_line()));
            }
        }
        reply
    }

    /// When true nothing is written (answers and queued lines are dropped).
    fn stalled(&self) -> bool {
        *self.fault() == Fault::Stall
    }

    fn on_close(&mut self, conn: usize) {
        self.connections_mut()[conn].mark_closed();
    }

    fn on_stop_listening(&mut self) {
        *self.listening_mut() = false;
    }

    /// Not listening and no connection open.
    fn is_idle(&self) -> bool {
        !self.listening() && self.open_count() == 0
    }
}

/// Writes [`ScriptedState`]'s accessors of the books, for a state with the
/// fields `config` (with `job_interval`), `connections`, `shares`,
/// `accepted`, `rejected`, `requests`, `bad_lines`, `current_job`, `fault`
/// and `listening`.
macro_rules! books {
    () => {
        fn config(&self) -> &Self::Config {
            &self.config
        }
        fn job_interval(&self) -> Option<std::time::Duration> {
            self.config.job_interval
        }
        fn connections(&self) -> &[Self::Connection] {
            &self.connections
        }
        fn connections_mut(&mut self) -> &mut Vec<Self::Connection> {
            &mut self.connections
        }
        fn shares(&self) -> &[Self::Share] {
            &self.shares
        }
        fn accepted(&self) -> usize {
            self.accepted
        }
        fn rejected(&self) -> usize {
            self.rejected
        }
        fn requests(&self) -> &[(usize, switchyard_stratum::Request)] {
            &self.requests
        }
        fn bad_lines(&self) -> &[(usize, String)] {
            &self.bad_lines
        }
        fn bad_lines_mut(&mut self) -> &mut Vec<(usize, String)> {
            &mut self.bad_lines
        }
        fn current_job(&self) -> &Self::Job {
            &self.current_job
        }
        fn fault(&self) -> &$crate::Fault {
            &self.fault
        }
        fn fault_mut(&mut self) -> &mut $crate::Fault {
            &mut self.fault
        }
        fn listening(&self) -> bool {
            self.listening
        }
        fn listening_mut(&mut self) -> &mut bool {
            &mut self.listening
        }
    };
}
pub(crate) use books;

/// Implements [`ScriptedConnection`] and [`ScriptedShare`] for records
/// with the fields `open` and `tx`, and `conn`; `users` is the expression
/// for a connection `$c`'s users.
macro_rules! records {
    ($connection:ty, $share:ty, users: |$c:ident| $users:expr) => {
        impl $crate::scripted_io::state::ScriptedConnection for $connection {
            fn is_open(&self) -> bool {
                self.open
            }
            fn mark_closed(&mut self) {
                self.open = false;
            }
            fn sender(
                &self,
            ) -> &tokio::sync::mpsc::UnboundedSender<$crate::scripted_io::server::ConnCmd> {
                &self.tx
            }
            fn users(&self) -> Vec<String> {
                let $c = self;
                $users
            }
        }
        impl $crate::scripted_io::state::ScriptedShare for $share {
            fn conn(&self) -> usize {
                self.conn
            }
        }
    };
}
pub(crate) use records;
