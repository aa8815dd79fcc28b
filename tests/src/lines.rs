//! Bounded newline-delimited I/O shared by every harness role, and the
//! timeout/wait helpers that turn a hang into a clear test failure.

use std::future::Future;
use std::time::Duration;

use anyhow::anyhow;
use switchyard_stratum::Message;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// The longest line any harness role accepts (protocols.md: 64 KiB is generous).
pub const MAX_LINE: usize = 64 * 1024;

/// How long harness waits last unless a test says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one line at a time with a length bound. Cancel-safe: a partial line
/// survives a dropped `next_line` future, so it can sit in a `select!`.
pub struct LineReader<R> {
    inner: BufReader<R>,
    partial: Vec<u8>,
    max: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader {
            inner: BufReader::new(inner),
            partial: Vec::new(),
            max: MAX_LINE,
        }
    }

    /// The next line without its `\n` (and without a trailing `\r`);
    /// `Ok(None)` at end of stream. A final line without a newline is returned.
    /// A line longer than the bound is an error.
    pub async fn next_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if self.partial.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(finish(std::mem::take(&mut self.partial))));
            }
            let (taken, done) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            self.partial.extend_from_slice(&available[..taken]);
            self.inner.consume(taken);
            if self.partial.len() > self.max + 1 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("line longer than {} bytes", self.max),
                ));
            }
            if done {
                return Ok(Some(finish(std::mem::take(&mut self.partial))));
            }
        }
    }
}

fn finish(mut line: Vec<u8>) -> Vec<u8> {
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    line
}

/// Writes `line`, adding the `\n` when it is missing.
pub async fn write_line<W: AsyncWrite + Unpin>(writer: &mut W, line: &[u8]) -> std::io::Result<()> {
    if line.ends_with(b"\n") {
        writer.write_all(line).await
    } else {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.push(b'\n');
        writer.write_all(&buf).await
    }
}

/// Parses a line as stratum, `None` when it is not (the harness records it anyway).
pub fn parse(line: &[u8]) -> Option<Message> {
    Message::parse(line).ok()
}

/// Runs `fut` with a deadline; the error names what was being waited for.
pub async fn within<F: Future>(what: &str, timeout: Duration, fut: F) -> anyhow::Result<F::Output> {
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| anyhow!("timed out after {timeout:?} waiting for {what}"))
}

/// Installs a test-friendly tracing subscriber once (`RUST_LOG` controls it).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// Renders a line for error messages: lossy UTF-8, clipped.
pub fn show(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    if text.len() > 300 {
        format!("{}...", text.chars().take(300).collect::<String>())
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_split_trimmed_and_bounded() {
        let data: &[u8] = b"a\r\nbb\n\nlast";
        let mut r = LineReader::new(data);
        assert_eq!(r.next_line().await.unwrap(), Some(b"a".to_vec()));
        assert_eq!(r.next_line().await.unwrap(), Some(b"bb".to_vec()));
        assert_eq!(r.next_line().await.unwrap(), Some(Vec::new()));
        assert_eq!(r.next_line().await.unwrap(), Some(b"last".to_vec()));
        assert_eq!(r.next_line().await.unwrap(), None);

        let long = vec![b'x'; MAX_LINE + 10];
        let mut r = LineReader::new(long.as_slice());
        assert!(r.next_line().await.is_err());
    }
}
