//! Why a miner session ended, and whose doing it was: the miner (it closed,
//! went silent, stopped reading, sent garbage), the proxy's own decision
//! (shutdown, a protocol or pool problem it refused the miner for), or the
//! network. Logs and counters key on [`SessionEnd::side`], not on text.

use std::fmt;
use std::io;

/// Whose doing a session's end was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Miner,
    Proxy,
    Network,
}

#[derive(Debug)]
pub enum SessionEnd {
    /// The data plane is stopping, or the miner's inbox overflowed (it was
    /// cut off for not keeping up with its answers).
    Stopped,
    MinerClosed,
    HandshakeTimeout,
    IdleTimeout,
    /// The miner stopped reading: its socket buffer stayed full.
    WriteTimeout,
    /// The session refused the miner (no pool, wrong dialect, bad line ...).
    ClosedByProxy,
    /// This many protocol errors in a row (`limits.max_protocol_errors`).
    ProtocolErrors(u32),
    /// Closed before finishing its handshake to make room in a full
    /// listener (the oldest unfinished handshake goes first).
    Evicted,
    Read(io::Error),
    Write(io::Error),
}

impl SessionEnd {
    /// The `cause` label of `switchyard_miner_disconnects_total`.
    pub fn cause(&self) -> &'static str {
        match self {
            SessionEnd::Stopped => "stopped",
            SessionEnd::MinerClosed => "client_closed",
            SessionEnd::HandshakeTimeout => "handshake_timeout",
            SessionEnd::IdleTimeout => "idle",
            SessionEnd::WriteTimeout => "write_timeout",
            SessionEnd::ClosedByProxy => "closed_by_proxy",
            SessionEnd::ProtocolErrors(_) => "protocol_errors",
            SessionEnd::Evicted => "evicted",
            SessionEnd::Read(_) | SessionEnd::Write(_) => "network_error",
        }
    }

    pub fn side(&self) -> Side {
        match self {
            SessionEnd::Stopped | SessionEnd::ClosedByProxy | SessionEnd::Evicted => Side::Proxy,
            SessionEnd::MinerClosed
            | SessionEnd::ProtocolErrors(_)
            | SessionEnd::HandshakeTimeout
            | SessionEnd::IdleTimeout
            | SessionEnd::WriteTimeout => Side::Miner,
            SessionEnd::Read(_) | SessionEnd::Write(_) => Side::Network,
        }
    }
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEnd::Stopped => f.write_str("stopped (shutdown or outbound queue full)"),
            SessionEnd::MinerClosed => f.write_str("miner closed the connection"),
            SessionEnd::HandshakeTimeout => f.write_str("handshake timeout"),
            SessionEnd::IdleTimeout => f.write_str("idle timeout"),
            SessionEnd::WriteTimeout => f.write_str("write timeout: miner is not reading"),
            SessionEnd::ClosedByProxy => f.write_str("closed by the proxy"),
            SessionEnd::ProtocolErrors(n) => write!(f, "{n} protocol errors in a row"),
            SessionEnd::Evicted => {
                f.write_str("closed before finishing its handshake: the listener was full")
            }
            SessionEnd::Read(e) => write!(f, "read error: {e}"),
            SessionEnd::Write(e) => write!(f, "write error: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_end_says_whose_it_was() {
        let reset = || io::Error::from(io::ErrorKind::ConnectionReset);
        let cases = [
            (SessionEnd::Stopped, Side::Proxy),
            (SessionEnd::ClosedByProxy, Side::Proxy),
            (SessionEnd::Evicted, Side::Proxy),
            (SessionEnd::ProtocolErrors(10), Side::Miner),
            (SessionEnd::MinerClosed, Side::Miner),
            (SessionEnd::HandshakeTimeout, Side::Miner),
            (SessionEnd::IdleTimeout, Side::Miner),
            (SessionEnd::WriteTimeout, Side::Miner),
            (SessionEnd::Read(reset()), Side::Network),
            (SessionEnd::Write(reset()), Side::Network),
        ];
        for (end, side) in cases {
            assert_eq!(end.side(), side, "{end}");
            assert!(!end.cause().is_empty());
        }
        assert_eq!(SessionEnd::IdleTimeout.to_string(), "idle timeout");
        assert_eq!(
            SessionEnd::ProtocolErrors(10).to_string(),
            "10 protocol errors in a row"
        );
    }
}
