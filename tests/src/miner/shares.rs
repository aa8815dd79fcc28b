//! The scripted miner's shares: real CPU mining on a tracked job and
//! submitting, one at a time or pipelined (with the cpuminer same-id quirk).

use anyhow::Context;
use serde_json::Value;
use switchyard_stratum::v1::Submit;
use switchyard_stratum::{Request, Response};

use super::ScriptedMiner;
use super::mine::{self, Work};

impl ScriptedMiner {
    /// Mines a real share on the latest job (waiting for one if needed).
    pub async fn find_share(&mut self) -> anyhow::Result<Submit> {
        let job_id = self.wait_for_job().await?.job_id;
        self.find_share_for(&job_id).await
    }

    /// Mines a real share on job `job_id` at the higher of the difficulty in
    /// effect when it arrived and the current one.
    pub async fn find_share_for(&mut self, job_id: &str) -> anyhow::Result<Submit> {
        let job = self
            .jobs
            .get(job_id)
            .with_context(|| format!("miner: no job {job_id:?}"))?;
        let difficulty = match (job.difficulty, self.difficulty) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => a
                .or(b)
                .context("miner: no mining.set_difficulty received")?,
        };
        let work = Work {
            worker: self
                .worker
                .clone()
                .context("miner: authorize (or set_worker) first")?,
            job: job.notify.clone(),
            extranonce1: job.extranonce1.clone(),
            extranonce2_size: job.extranonce2_size,
            difficulty,
            version_mask: self.version_mask.filter(|m| self.roll_version && *m != 0),
        };
        // About 2^32 * difficulty hashes per share; allow 50 times that.
        let budget = (difficulty * 4_294_967_296.0 * 50.0).clamp(1e6, 1e12) as u64;
        let counter = self.counter;
        let found = tokio::task::spawn_blocking(move || mine::mine(&work, counter, budget))
            .await?
            .with_context(|| {
                format!("miner: no share at difficulty {difficulty} in {budget} hashes")
            })?;
        self.counter = found.next_counter;
        Ok(found.submit)
    }

    /// Submits with the next id and waits for the answer.
    pub async fn submit(&mut self, share: &Submit) -> anyhow::Result<Response> {
        self.request("mining.submit", share.to_params()).await
    }

    pub async fn submit_with_id(&mut self, share: &Submit, id: Value) -> anyhow::Result<Response> {
        self.send_request_with_id(id.clone(), "mining.submit", share.to_params())
            .await?;
        self.wait_response(&id).await
    }

    /// Sends every share in one write (distinct ids), then collects the
    /// answers in the order of `shares`.
    pub async fn submit_pipelined(&mut self, shares: &[Submit]) -> anyhow::Result<Vec<Response>> {
        let mut ids = Vec::new();
        let mut buf = Vec::new();
        for share in shares {
            let id = self.next_id();
            buf.extend(Request::new(id.clone(), "mining.submit", share.to_params()).to_line());
            ids.push(id);
        }
        self.send_raw(&buf).await?;
        let mut answers = Vec::new();
        for id in &ids {
            answers.push(self.wait_response(id).await?);
        }
        Ok(answers)
    }

    /// The cpuminer quirk: every share with the same `id` (cpuminer uses 4),
    /// sent in one write; answers come back in arrival order.
    pub async fn submit_pipelined_same_id(
        &mut self,
        shares: &[Submit],
        id: Value,
    ) -> anyhow::Result<Vec<Response>> {
        let mut buf = Vec::new();
        for share in shares {
            buf.extend(Request::new(id.clone(), "mining.submit", share.to_params()).to_line());
        }
        self.send_raw(&buf).await?;
        let mut answers = Vec::new();
        for _ in shares {
            answers.push(self.wait_response(&id).await?);
        }
        Ok(answers)
    }

    /// The difficulty the share has for the job it names, as this miner sees
    /// it (its extranonce1 for that job and its version mask).
    pub fn share_difficulty(&self, share: &Submit) -> Option<f64> {
        let job = self.jobs.get(&share.job_id)?;
        Some(mine::share_difficulty(
            &job.notify,
            &job.extranonce1,
            share,
            self.version_mask,
        ))
    }
}
