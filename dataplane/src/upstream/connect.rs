//! Opening a pool socket: TCP within the connect timeout, tuned, with TLS
//! on top for `stratum+ssl://` pools. The dialect's handshake comes after.

use std::time::Duration;

use tokio::net::TcpStream;

use super::protocol::{Link, Lost, PoolIo, PoolRead, PoolWrite};
use crate::config::PoolAddr;
use crate::net::{Keepalive, LineReader, tune};

/// The longest line a pool may send (an ALEO job is a few hundred bytes; a
/// SHA-256 job with a long merkle branch a few KB).
const MAX_LINE: usize = 1 << 20;

pub(super) async fn open(link: &Link, addr: &PoolAddr) -> Result<PoolIo, Lost> {
    let t = &link.params.timing;
    let (host, port) = (addr.host.as_str(), addr.port);
    let stream = tokio::time::timeout(t.connect, TcpStream::connect((host, port)))
        .await
        .map_err(|_| Lost::Network(format!("connect to {host}:{port} timed out")))?
        .map_err(|e| Lost::Network(format!("connect to {host}:{port}: {e}")))?;
    // A pool link that goes silent (blackholed: no RST, no FIN) must end
    // within the connect timeout + 2 s so that the next pool takes over;
    // otherwise only `idle_timeout` (300 s) would notice. Keepalive probes
    // start once the connection is idle, and TCP_USER_TIMEOUT ends it when
    // sent data or probes stay unacknowledged that long.
    let dead_after = t.connect + Duration::from_secs(2);
    tune(&stream, Some(liveness(t.connect, dead_after)));
    set_user_timeout(&stream, dead_after);
    let (r, w): (PoolRead, PoolWrite) = if addr.tls {
        let tls = tokio::time::timeout(t.connect, link.params.tls.connect(host, stream))
            .await
            .map_err(|_| Lost::Network(format!("TLS handshake with {host}:{port} timed out")))?
            .map_err(Lost::Network)?;
        let (r, w) = tokio::io::split(tls);
        (Box::new(r), Box::new(w))
    } else {
        let (r, w) = stream.into_split();
        (Box::new(r), Box::new(w))
    };
    Ok(PoolIo {
        reader: LineReader::new(r, MAX_LINE).counted(link.pool.stats.rx_bytes.clone()),
        tx: link.pool.stats.tx_bytes.clone(),
        writer: w,
        next_id: 1,
        peer: format!("{host}:{port}"),
        jsonrpc: false,
    })
}

/// Keepalive of a pool connection: probes every second once idle for half
/// the connect timeout (at least 1 s); the probe count bounds detection
/// (about `dead_after`) where TCP_USER_TIMEOUT is not available.
fn liveness(connect: Duration, dead_after: Duration) -> Keepalive {
    let idle = (connect / 2).max(Duration::from_secs(1));
    Keepalive {
        idle,
        interval: Duration::from_secs(1),
        count: dead_after.saturating_sub(idle).as_secs().clamp(1, 600) as u32,
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_user_timeout(stream: &TcpStream, timeout: Duration) {
    let sock = socket2::SockRef::from(stream);
    if let Err(e) = sock.set_tcp_user_timeout(Some(timeout)) {
        tracing::debug!(error = %e, "TCP_USER_TIMEOUT not set");
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_user_timeout(_stream: &TcpStream, _timeout: Duration) {}
