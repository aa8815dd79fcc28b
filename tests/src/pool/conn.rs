//! One scripted-pool connection's task: reads requests, writes answers (now
//! or after the `SlowAnswers` delay, in order) and whatever the handle queues.

use std::collections::VecDeque;
use std::sync::Arc;

use switchyard_stratum::Message;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::state::Reply;
use super::{Fault, Shared, stopped};
use crate::lines::{LineReader, show, write_line};

/// What another party asks a connection's task to do.
#[derive(Debug)]
pub(crate) enum ConnCmd {
    Line(Vec<u8>),
    Close,
}

/// Runs until either side closes, the handle closes it or the pool stops.
pub(super) async fn run_connection(
    shared: Arc<Shared>,
    id: usize,
    stream: TcpStream,
    mut rx: mpsc::UnboundedReceiver<ConnCmd>,
) {
    let mut shutdown = shared.shutdown.subscribe();
    let (reader, mut writer) = stream.into_split();
    let mut reader = LineReader::new(reader);
    let mut delayed: VecDeque<(Instant, Reply)> = VecDeque::new();
    let stalled = || shared.state.borrow().fault == Fault::Stall;
    loop {
        let next_due = delayed.front().map(|(due, _)| *due);
        let keep_going = tokio::select! {
            line = reader.next_line() => {
                let Ok(Some(line)) = line else { break };
                let req = match Message::parse(&line) {
                    Ok(Message::Request(req)) => req,
                    // Answers to our requests (none yet): nothing to do.
                    Ok(Message::Response(_)) => continue,
                    Err(e) => {
                        let bad = format!("{e}: {}", show(&line));
                        shared.state.send_modify(|s| s.bad_lines.push((id, bad)));
                        continue;
                    }
                };
                let mut reply = Reply::default();
                shared.state.send_modify(|s| {
                    reply = s.handle_request(id, req, &shared.config);
                });
                match reply.delay {
                    Some(delay) => {
                        delayed.push_back((Instant::now() + delay, reply));
                        true
                    }
                    None => write_reply(&mut writer, reply, stalled()).await,
                }
            }
            _ = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {
                let (_, reply) = delayed.pop_front().expect("a delayed reply is due");
                write_reply(&mut writer, reply, stalled()).await
            }
            cmd = rx.recv() => match cmd {
                Some(ConnCmd::Line(line)) => stalled() || write_line(&mut writer, &line).await.is_ok(),
                Some(ConnCmd::Close) | None => false,
            },
            _ = stopped(&mut shutdown) => false,
        };
        if !keep_going {
            break;
        }
    }
    shared.state.send_modify(|s| s.connections[id].open = false);
}

/// Writes a reply's lines (unless stalled); false when the connection is done.
async fn write_reply(writer: &mut OwnedWriteHalf, reply: Reply, stalled: bool) -> bool {
    if !stalled {
        for line in &reply.lines {
            if write_line(writer, line).await.is_err() {
                return false;
            }
        }
    }
    !reply.close
}
