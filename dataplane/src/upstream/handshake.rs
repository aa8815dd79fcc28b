//! Connecting to a pool (TLS on top for `stratum+ssl://`) and the
//! handshake: configure (version rolling) and subscribe pipelined, then
//! authorize; ready once authorized with a job.

use serde_json::json;
use switchyard_stratum::v1::SubscribeResult;
use switchyard_stratum::{Message, Request};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::*;

impl Task {
    pub(super) async fn connect(&mut self, addr: &PoolAddr) -> Result<Conn, String> {
        let t = self.params.timing.clone();
        let stream = tokio::time::timeout(
            t.connect,
            TcpStream::connect((addr.host.as_str(), addr.port)),
        )
        .await
        .map_err(|_| format!("connect to {}:{} timed out", addr.host, addr.port))?
        .map_err(|e| format!("connect to {}:{}: {e}", addr.host, addr.port))?;
        tune(&stream, None);
        let (r, w): (PoolRead, PoolWrite) = if addr.tls {
            let tls = tokio::time::timeout(t.connect, self.params.tls.connect(&addr.host, stream))
                .await
                .map_err(|_| {
                    format!("TLS handshake with {}:{} timed out", addr.host, addr.port)
                })??;
            let (r, w) = tokio::io::split(tls);
            (Box::new(r), Box::new(w))
        } else {
            let (r, w) = stream.into_split();
            (Box::new(r), Box::new(w))
        };
        let mut conn = Conn {
            reader: LineReader::new(r, 1 << 20),
            writer: w,
            next_id: 1,
            pending: HashMap::new(),
            extranonce1: Vec::new(),
            extranonce2_size: 0,
            difficulty: 1.0,
            version_mask: 0,
            login_id: String::new(),
            jsonrpc: false,
            aleo: Default::default(),
        };
        if self.is_aleo() {
            // Its own deadlines: a dedicated connection waits for its miner
            // to authorize between subscribe and authorize.
            self.aleo_handshake(&mut conn).await?;
            return Ok(conn);
        }
        let handshake = async {
            if self.is_rx() {
                self.rx_handshake(&mut conn).await
            } else {
                self.handshake(&mut conn).await
            }
        };
        tokio::time::timeout(t.upstream_handshake, handshake)
            .await
            .map_err(|_| format!("handshake with {}:{} timed out", addr.host, addr.port))??;
        Ok(conn)
    }

    pub(super) async fn handshake(&mut self, conn: &mut Conn) -> Result<(), String> {
        let mask = self.params.version_mask;
        let mut lines = Vec::new();
        if mask != 0 {
            let params = json!([["version-rolling"], {"version-rolling.mask": format!("{mask:08x}"), "version-rolling.min-bit-count": 2}]);
            lines.extend(Request::new(1, "mining.configure", params).to_line());
        }
        lines.extend(Request::new(2, "mining.subscribe", json!([self.params.agent])).to_line());
        conn.writer
            .write_all(&lines)
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut subscribed = false;
        let mut authorized = false;
        loop {
            if authorized && conn_has_job(&self.state_tx) {
                return Ok(());
            }
            let line = match conn.reader.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) => return Err("pool closed the connection during the handshake".into()),
                Err(e) => return Err(format!("read: {e}")),
            };
            let msg =
                Message::parse(&line).map_err(|e| format!("pool sent an invalid line: {e}"))?;
            match msg {
                Message::Response(r) if r.id == json!(1) => {
                    conn.version_mask = granted_mask(&r, mask);
                }
                Message::Response(r) if r.id == json!(2) => {
                    let sub = if r.is_ok() {
                        SubscribeResult::from_result(&r.result)
                            .map_err(|e| format!("subscribe answer: {e}"))?
                    } else {
                        return Err(format!("pool refused subscribe: {:?}", r.error_parts()));
                    };
                    conn.extranonce1 = sub.extranonce1;
                    conn.extranonce2_size = sub.extranonce2_size;
                    subscribed = true;
                    let auth = json!([self.params.username, self.pool.password.expose()]);
                    conn.writer
                        .write_all(&Request::new(3, "mining.authorize", auth).to_line())
                        .await
                        .map_err(|e| format!("write: {e}"))?;
                }
                Message::Response(r) if r.id == json!(3) => {
                    if !r.is_ok() {
                        return Err(format!(
                            "pool refused authorize for {:?}: {}",
                            self.params.username,
                            r.error_parts().map(|(_, t)| t).unwrap_or_default()
                        ));
                    }
                    authorized = true;
                }
                Message::Response(_) => {}
                Message::Request(req) => {
                    if !subscribed && req.method == "mining.notify" {
                        continue;
                    }
                    if let Some(end) = self.on_pool_request(conn, req).await {
                        return Err(match end {
                            End::Lost(e) => e,
                            _ => "pool redirected during the handshake".into(),
                        });
                    }
                }
            }
        }
    }
}
