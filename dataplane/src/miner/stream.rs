//! The two halves of a miner connection, plain TCP or TLS, as enums: the
//! plain case costs no heap allocation and no dynamic dispatch (an idle
//! miner is mostly its buffers, and the hot path reads and writes here).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_rustls::server::TlsStream;

/// What the miner sends.
pub enum MinerRead {
    Tcp(OwnedReadHalf),
    Tls(ReadHalf<TlsStream<TcpStream>>),
}

/// Where the miner's lines go.
pub enum MinerWrite {
    Tcp(OwnedWriteHalf),
    Tls(WriteHalf<TlsStream<TcpStream>>),
}

/// The halves of a plain TCP connection.
pub fn plain(stream: TcpStream) -> (MinerRead, MinerWrite) {
    let (r, w) = stream.into_split();
    (MinerRead::Tcp(r), MinerWrite::Tcp(w))
}

/// The halves of a TLS connection.
pub fn tls(stream: TlsStream<TcpStream>) -> (MinerRead, MinerWrite) {
    let (r, w) = tokio::io::split(stream);
    (MinerRead::Tls(r), MinerWrite::Tls(w))
}

impl AsyncRead for MinerRead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MinerRead::Tcp(r) => Pin::new(r).poll_read(cx, buf),
            MinerRead::Tls(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MinerWrite {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MinerWrite::Tcp(w) => Pin::new(w).poll_write(cx, buf),
            MinerWrite::Tls(w) => Pin::new(w).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MinerWrite::Tcp(w) => Pin::new(w).poll_flush(cx),
            MinerWrite::Tls(w) => Pin::new(w).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MinerWrite::Tcp(w) => Pin::new(w).poll_shutdown(cx),
            MinerWrite::Tls(w) => Pin::new(w).poll_shutdown(cx),
        }
    }
}
