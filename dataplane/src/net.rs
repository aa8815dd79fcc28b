//! Socket plumbing shared by miner and pool connections: TCP options
//! (TCP_NODELAY, IP_TOS low-delay, keepalive) and a bounded line reader that
//! keeps its buffer small while a connection is idle.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

/// IPTOS_LOWDELAY.
const IPTOS_LOWDELAY: u32 = 0x10;

/// TCP keepalive settings (the seed's idle/interval/count).
#[derive(Debug, Clone, Copy)]
pub struct Keepalive {
    pub idle: Duration,
    pub interval: Duration,
    pub count: u32,
}

/// Applies the low-latency options every stratum socket gets. Failures are
/// logged, not fatal: an option the platform lacks must not refuse a miner.
pub fn tune(stream: &TcpStream, keepalive: Option<Keepalive>) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set");
    }
    let sock = socket2::SockRef::from(stream);
    if stream.peer_addr().is_ok_and(|a| a.is_ipv4())
        && let Err(e) = sock.set_tos_v4(IPTOS_LOWDELAY)
    {
        tracing::debug!(error = %e, "IP_TOS not set");
    }
    if let Some(k) = keepalive {
        let params = socket2::TcpKeepalive::new()
            .with_time(k.idle)
            .with_interval(k.interval)
            .with_retries(k.count);
        if let Err(e) = sock.set_tcp_keepalive(&params) {
            tracing::debug!(error = %e, "TCP keepalive not set");
        }
    }
}

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("line longer than {0} bytes")]
    TooLong(usize),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads newline-terminated lines with a hard length bound.
pub struct LineReader<R> {
    inner: R,
    buf: BytesMut,
    max: usize,
    scanned: usize,
    /// Bytes read, added to a shared counter (traffic metrics).
    counter: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

const INITIAL: usize = 512;

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            buf: BytesMut::new(),
            max,
            scanned: 0,
            counter: None,
        }
    }

    /// The next line without its terminator; `Ok(None)` at a clean EOF.
    /// Empty lines are skipped. Cancel-safe: bytes read stay buffered.
    pub async fn next_line(&mut self) -> Result<Option<BytesMut>, LineError> {
        loop {
            if let Some(pos) = self.buf[self.scanned..].iter().position(|b| *b == b'\n') {
                let end = self.scanned + pos;
                if end >= self.max {
                    // The newline came in the same read that crossed the
                    // bound: still too long.
                    return Err(LineError::TooLong(self.max));
                }
                let mut line = self.buf.split_to(end + 1);
                self.scanned = 0;
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                if self.buf.is_empty() {
                    // Nothing left to parse: an idle connection keeps no
                    // buffer (the line still holds its bytes until dropped).
                    self.buf = BytesMut::new();
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(line));
            }
            self.scanned = self.buf.len();
            if self.buf.len() >= self.max {
                return Err(LineError::TooLong(self.max));
            }
            if self.buf.capacity() == 0 {
                // Wait for the peer before taking a buffer: a zero-length
                // read completes when the source is readable (or at once
                // where it cannot tell, and the read below waits instead).
                std::future::poll_fn(|cx| {
                    let mut none = tokio::io::ReadBuf::new(&mut []);
                    std::pin::Pin::new(&mut self.inner).poll_read(cx, &mut none)
                })
                .await?;
            }
            if self.buf.capacity() == self.buf.len() {
                let grow = self.buf.len().max(INITIAL).min(self.max - self.buf.len());
                self.buf.reserve(grow);
            }
            let n = self.inner.read_buf(&mut self.buf).await?;
            if let Some(c) = &self.counter {
                c.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            }
            if n == 0 {
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                // A last line without its newline still counts.
                let line = self.buf.split();
                self.scanned = 0;
                return Ok(Some(line));
            }
        }
    }

    /// Counts every byte read into `counter` as well.
    pub fn counted(mut self, counter: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.counter = Some(counter);
        self
    }

    /// Bytes buffered and not yet returned (for memory accounting in tests).
    pub fn buffered(&self) -> usize {
        self.buf.remaining()
    }

    /// The buffer's capacity: none while the connection is idle.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_lines_and_strips_crlf() {
        let data: &[u8] = b"{\"a\":1}\r\n\n{\"b\":2}\nlast";
        let mut r = LineReader::new(data, 1024);
        assert_eq!(&r.next_line().await.unwrap().unwrap()[..], b"{\"a\":1}");
        assert_eq!(&r.next_line().await.unwrap().unwrap()[..], b"{\"b\":2}");
        assert_eq!(&r.next_line().await.unwrap().unwrap()[..], b"last");
        assert!(r.next_line().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn refuses_an_oversized_line() {
        let data = vec![b'x'; 5000];
        let mut r = LineReader::new(&data[..], 1024);
        assert!(matches!(r.next_line().await, Err(LineError::TooLong(1024))));
    }

    #[tokio::test]
    async fn an_oversized_line_after_a_short_one_is_an_error_not_a_panic() {
        let mut data = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n".to_vec();
        data.extend(vec![b'x'; 10 * 1024]);
        let mut r = LineReader::new(&data[..], 4096);
        assert!(r.next_line().await.unwrap().is_some());
        assert!(matches!(r.next_line().await, Err(LineError::TooLong(4096))));
    }

    #[tokio::test]
    async fn a_megabyte_line_after_a_short_one_from_a_socket_is_too_long() {
        let (mut a, b) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut data = b"{\"id\":null}\n".to_vec();
            data.extend(vec![b'x'; (1 << 20) + 100]);
            let _ = a.write_all(&data).await;
        });
        let mut r = LineReader::new(b, 1 << 20);
        assert!(r.next_line().await.unwrap().is_some());
        assert!(matches!(r.next_line().await, Err(LineError::TooLong(_))));
    }

    #[tokio::test]
    async fn an_idle_socket_holds_no_buffer() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut peer = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (ours, _) = listener.accept().await.unwrap();
        let mut r = LineReader::new(ours, 1024);
        peer.write_all(b"{\"a\":1}\n{\"b\"").await.unwrap();
        assert_eq!(&r.next_line().await.unwrap().unwrap()[..], b"{\"a\":1}");
        // Half a line waits in the buffer.
        assert!(r.capacity() > 0);
        peer.write_all(b":2}\n").await.unwrap();
        assert_eq!(&r.next_line().await.unwrap().unwrap()[..], b"{\"b\":2}");
        assert_eq!(r.capacity(), 0, "every byte parsed: no buffer kept");
        // Waiting for the next line takes no buffer either.
        {
            let mut wait = std::pin::pin!(r.next_line());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(wait.as_mut().poll(&mut cx).is_pending(), "nothing was sent");
        }
        assert_eq!(r.capacity(), 0, "an idle wait holds no buffer");
        peer.write_all(b"{\"c\":3}\n").await.unwrap();
        assert_eq!(&r.next_line().await.unwrap().unwrap()[..], b"{\"c\":3}");
        drop(peer);
        assert!(r.next_line().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_line_over_the_bound_is_too_long_even_when_its_newline_comes_in_the_same_read() {
        let mut data = b"{\"id\":null}\n".to_vec();
        data.extend(vec![b'x'; 2000]);
        data.push(b'\n');
        // One read can take it all: the bound is checked on the line too.
        let mut r = LineReader::new(&data[..], 1024);
        assert!(r.next_line().await.unwrap().is_some());
        assert!(matches!(r.next_line().await, Err(LineError::TooLong(1024))));
        let mut exact = vec![b'x'; 1024];
        exact.push(b'\n');
        let mut r = LineReader::new(&exact[..], 1024);
        assert!(matches!(r.next_line().await, Err(LineError::TooLong(1024))));
    }

    #[tokio::test]
    async fn a_line_at_the_bound_is_fine() {
        let mut data = vec![b'x'; 1023];
        data.push(b'\n');
        let mut r = LineReader::new(&data[..], 1024);
        assert_eq!(r.next_line().await.unwrap().unwrap().len(), 1023);
    }
}
