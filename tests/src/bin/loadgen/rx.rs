//! The RandomX (xmrig dialect) side of `loadgen rx-shares`: a lightweight
//! miner's `login` and its shares. Nothing is mined: the scripted `RxPool`
//! checks each claimed `result` against its stand-in hash (SHA-256 of the
//! blob with the nonce at offset 39, `switchyard_tests::rx_pool::share_result`)
//! and the job's target, so the miner computes exactly that hash for every
//! nonce; at pool difficulty 1 every hash meets the target (value below
//! 2^64 - 1), so every nonce is a share that the data plane forwards.
//!
//! NiceHash: the nonce's top byte (blob byte 42) is the miner's slot when a
//! data plane aggregates (it writes the slot into the miner's blob); the
//! miner varies only the lower 3 bytes, as xmrig does. Straight to the
//! scripted pool, byte 42 is 0 and the same rule holds.

use std::fmt::Write as _;
use std::net::SocketAddr;

use anyhow::{Context, anyhow, bail};
use switchyard_stratum::Message;
use switchyard_stratum::randomx::{
    self, DEFAULT_ALGO, Job, Login, LoginResult, NICEHASH_OFFSET, submit_result,
};
use switchyard_tests::lines::{LineReader, show};
use switchyard_tests::rx_pool::share_result;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::engine::{Answer, Conn, Work};

/// What a RandomX miner keeps to make shares.
pub struct RxWork {
    session_id: String,
    job: Job,
    /// Lower 3 bytes of the next nonce.
    counter: u32,
    /// Highest difficulty of a target received (1 = every nonce passes).
    max_difficulty: u64,
}

impl Work for RxWork {
    /// Appends one `submit` line with request id `id` (next nonce).
    fn write_submit(&mut self, buf: &mut Vec<u8>, id: u64) {
        let c = self.counter.to_le_bytes();
        let nonce = [c[0], c[1], c[2], self.job.blob[NICEHASH_OFFSET]];
        self.counter = (self.counter + 1) & 0x00ff_ffff;
        let result = share_result(&self.job.blob, nonce);
        let mut line = String::with_capacity(256);
        let _ = writeln!(
            line,
            "{{\"id\":{id},\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{{\"id\":\"{}\",\"job_id\":\"{}\",\"nonce\":\"{}\",\"result\":\"{}\",\"algo\":\"{DEFAULT_ALGO}\"}}}}",
            self.session_id,
            self.job.job_id,
            hex::encode(nonce),
            hex::encode(result)
        );
        buf.extend_from_slice(line.as_bytes());
    }

    /// An answer to a submit, or a new job (kept); `None` for anything else.
    fn on_line(&mut self, line: &[u8]) -> Option<Answer> {
        match Message::parse(line) {
            Ok(Message::Response(r)) => {
                let id = r.id.as_u64()?;
                Some((id, submit_result(&r).map_err(|e| e.message)))
            }
            Ok(Message::Request(req)) if req.method == "job" => {
                if let Ok(job) = Job::from_value(&req.params) {
                    self.take_job(job);
                }
                None
            }
            _ => None,
        }
    }

    /// The highest difficulty of a target received.
    fn difficulty(&self) -> f64 {
        self.max_difficulty as f64
    }
}

impl RxWork {
    fn take_job(&mut self, job: Job) {
        self.max_difficulty = self.max_difficulty.max(job.difficulty());
        self.job = job;
    }
}

/// Connects and logs in as `worker` (algo rx/0); the login result carries
/// the session id and the first job.
pub async fn handshake(addr: SocketAddr, worker: &str) -> anyhow::Result<Conn<RxWork>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (r, mut writer) = stream.into_split();
    let mut reader = LineReader::new(r);
    let login = Login {
        login: worker.to_owned(),
        pass: Some("x".into()),
        agent: Some("loadgen/0.1".into()),
        algo: vec![DEFAULT_ALGO.into()],
        rigid: None,
        extra: Default::default(),
    };
    writer.write_all(&login.to_request(1).to_line()).await?;
    loop {
        let line = reader
            .next_line()
            .await?
            .ok_or_else(|| anyhow!("{addr}: closed during the login"))?;
        let Ok(Message::Response(r)) = Message::parse(&line) else {
            continue;
        };
        if r.id.as_u64() != Some(1) {
            continue;
        }
        if let Some(e) = randomx::RpcError::from_response(&r) {
            bail!("{addr}: login refused: {e}");
        }
        let result = LoginResult::from_result(&r.result)
            .map_err(|e| anyhow!("{addr}: login answer {}: {e}", show(&line)))?;
        let job = result.job.context("login answer without a job")?;
        let work = RxWork {
            session_id: result.id,
            max_difficulty: job.difficulty(),
            job,
            counter: 0,
        };
        return Ok(Conn {
            reader,
            writer,
            work,
        });
    }
}
