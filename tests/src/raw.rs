//! A bare miner connection for tests of bad and hostile input: exact bytes
//! out, lines in, a way to see the close; optionally from a chosen loopback
//! address (all of 127.0.0.0/8 reaches the host), so that one test can play
//! several hosts of a LAN.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use switchyard_stratum::{Message, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};

use crate::lines::LineReader;
use crate::within;

const T: Duration = Duration::from_secs(20);

/// A bare connection: exact bytes out, lines in, and a way to see the close.
pub struct Raw {
    reader: LineReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        let stream = within("connect", T, TcpStream::connect(addr))
            .await
            .unwrap()
            .unwrap();
        Raw::new(stream)
    }

    /// Connects from `local` (a loopback address such as 127.0.3.1).
    pub async fn connect_from(addr: SocketAddr, local: IpAddr) -> std::io::Result<Raw> {
        let socket = match local {
            IpAddr::V4(_) => TcpSocket::new_v4()?,
            IpAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.bind(SocketAddr::new(local, 0))?;
        Ok(Raw::new(socket.connect(addr).await?))
    }

    fn new(stream: TcpStream) -> Raw {
        let (r, w) = stream.into_split();
        Raw {
            reader: LineReader::new(r),
            writer: w,
        }
    }

    /// Writes exactly `bytes`; an error once the peer has closed.
    pub async fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await
    }

    /// Writes exactly `bytes` (no newline added).
    pub async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// The next line parsed as an answer.
    pub async fn answer(&mut self) -> Response {
        let line = within("an answer", T, self.reader.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("an answer, not the end of the connection");
        match Message::parse(&line) {
            Ok(Message::Response(r)) => r,
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    /// The peer closes without sending anything (EOF, or a reset).
    pub async fn expect_closed_at_once(&mut self) {
        match within("the close", T, self.reader.next_line())
            .await
            .unwrap()
        {
            Ok(None) | Err(_) => {}
            Ok(Some(line)) => panic!(
                "expected the connection closed, got {:?}",
                String::from_utf8_lossy(&line)
            ),
        }
    }

    /// Reads whatever comes until the peer closes.
    pub async fn expect_closed(&mut self) {
        within("the close", T, async {
            while let Ok(Some(_)) = self.reader.next_line().await {}
        })
        .await
        .unwrap();
    }
}
