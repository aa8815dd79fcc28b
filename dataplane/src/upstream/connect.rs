//! Opening a pool socket: TCP within the connect timeout, tuned, with TLS
//! on top for `stratum+ssl://` pools. The dialect's handshake comes after.

use tokio::net::TcpStream;

use super::protocol::{Link, Lost, PoolIo, PoolRead, PoolWrite};
use crate::config::PoolAddr;
use crate::net::{LineReader, tune};

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
    tune(&stream, None);
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
