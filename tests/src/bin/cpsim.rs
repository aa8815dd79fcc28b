//! `cpsim`: N simulated data planes against one real control plane, for the
//! control plane's cost curves (BENCHMARKS.md, issue 15 item 5). Each
//! simulated data plane registers with the site's token, watches plans
//! (acknowledging every version, as a real one does) and ships share
//! batches through the same gRPC contract.
//!
//! Two measurements, one after the other:
//! - plan push: ROUNDS times an override flips the site between two pools
//!   (Admin `SetOverride`); timed from the call until every data plane has
//!   the new version (p50 over data planes, and the last one);
//! - ingest: for DURATION seconds every data plane ships batches of BATCH
//!   events back to back; events stored a second, and each batch's round
//!   trip.
//!
//! Prints a human summary and one `RESULT key=value ...` line.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::admin_client::AdminClient;
use switchyard_proto::v1::data_plane_client::DataPlaneClient;
use switchyard_tests::cp::{Bearer, DpClient as Client};
use tokio::sync::watch;
use tonic::transport::Endpoint;

#[derive(Parser)]
#[command(
    name = "cpsim",
    about = "Simulated data planes against a control plane"
)]
struct Args {
    /// The control plane, `http://127.0.0.1:PORT`.
    #[arg(long)]
    endpoint: String,
    /// The site's token file (written by the control plane next to its database).
    #[arg(long)]
    site_token_file: PathBuf,
    /// The admin token file.
    #[arg(long)]
    admin_token_file: PathBuf,
    #[arg(long, default_value = "default")]
    site: String,
    /// Two pools of the site's SHA-256 schedule to flip the override between.
    #[arg(long, default_value = "bench")]
    pool_a: String,
    #[arg(long, default_value = "bench2")]
    pool_b: String,
    #[arg(long, default_value_t = 10)]
    dataplanes: usize,
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Seconds of shipping batches.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long, default_value_t = 1000)]
    batch: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let site_token = read_token(&a.site_token_file)?;
    let admin_token = read_token(&a.admin_token_file)?;
    // One HTTP/2 connection per simulated data plane, as in production.
    let mut planes = Vec::with_capacity(a.dataplanes);
    for i in 0..a.dataplanes {
        let channel = Endpoint::from_shared(a.endpoint.clone())?.connect().await?;
        let client = DataPlaneClient::with_interceptor(channel, Bearer(site_token.clone()));
        planes.push(Plane::start(i, client).await?);
    }
    let channel = Endpoint::from_shared(a.endpoint.clone())?.connect().await?;
    let mut admin = AdminClient::with_interceptor(channel, AdminAuth(Bearer(admin_token)));

    // Plan push.
    let mut last_ms = Vec::new();
    let mut median_ms = Vec::new();
    for round in 0..a.rounds {
        let before = planes.iter().map(Plane::version).max().unwrap_or(0);
        let pool = if round % 2 == 0 { &a.pool_a } else { &a.pool_b };
        let t0 = Instant::now();
        admin
            .set_override(pb::SetOverrideRequest {
                site: a.site.clone(),
                algorithm: pb::Algorithm::Sha256 as i32,
                pool: pool.clone(),
                until_unix_ms: now_ms() + 3_600_000,
            })
            .await
            .context("SetOverride")?;
        let mut arrived = Vec::with_capacity(planes.len());
        for p in &planes {
            arrived.push(p.wait_beyond(before, t0).await?);
        }
        arrived.sort();
        last_ms.push(ms(*arrived.last().unwrap_or(&Duration::ZERO)));
        median_ms.push(ms(arrived[arrived.len() / 2]));
    }
    last_ms.sort_by(f64::total_cmp);
    median_ms.sort_by(f64::total_cmp);
    let push_p50_last = pct(&last_ms, 50);
    let push_max_last = pct(&last_ms, 100);
    let push_p50_median = pct(&median_ms, 50);
    println!(
        "plan push, {} data planes, {} rounds: every data plane has it after p50 {push_p50_last:.1} ms (worst round {push_max_last:.1} ms); the median data plane after {push_p50_median:.1} ms",
        a.dataplanes, a.rounds
    );

    // Ingest.
    let stored = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(a.duration);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for p in &planes {
        let (mut client, id, stored) = (p.client.clone(), p.id.clone(), stored.clone());
        let batch = a.batch;
        tasks.push(tokio::spawn(async move {
            let mut rtts = Vec::new();
            while Instant::now() < deadline {
                let events = (0..batch).map(|_| event()).collect();
                let t = Instant::now();
                let ack = client
                    .report_shares(pb::ShareBatch {
                        dataplane_id: id.clone(),
                        events,
                    })
                    .await?
                    .into_inner();
                rtts.push(ms(t.elapsed()));
                if !ack.rejected.is_empty() {
                    bail!("events refused: {:?}", ack.rejected.first());
                }
                stored.fetch_add(u64::from(ack.inserted), Relaxed);
            }
            anyhow::Ok(rtts)
        }));
    }
    let mut rtts = Vec::new();
    for t in tasks {
        rtts.extend(t.await??);
    }
    let secs = t0.elapsed().as_secs_f64();
    rtts.sort_by(f64::total_cmp);
    let stored = stored.load(Relaxed);
    let rate = stored as f64 / secs;
    println!(
        "ingest, {} data planes x batches of {}: {stored} events stored in {secs:.1} s = {rate:.0}/s; batch round trip p50 {:.1} ms p99 {:.1} ms",
        a.dataplanes,
        a.batch,
        pct(&rtts, 50),
        pct(&rtts, 99)
    );
    println!(
        "RESULT mode=cpsim dataplanes={} rounds={} push_p50_ms={push_p50_last:.2} push_max_ms={push_max_last:.2} push_median_dp_ms={push_p50_median:.2} batch={} stored={stored} ingest_per_s={rate:.0} batch_p50_ms={:.2} batch_p99_ms={:.2}",
        a.dataplanes,
        a.rounds,
        a.batch,
        pct(&rtts, 50),
        pct(&rtts, 99)
    );
    Ok(())
}

/// The admin token plus the contract version, as `ctl` sends them.
#[derive(Clone)]
struct AdminAuth(Bearer);

impl tonic::service::Interceptor for AdminAuth {
    fn call(&mut self, req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let mut req = self.0.call(req)?;
        req.metadata_mut().insert(
            tonic::metadata::MetadataKey::from_static(switchyard_proto::CONTRACT_METADATA),
            tonic::metadata::AsciiMetadataValue::from(switchyard_proto::CONTRACT_VERSION),
        );
        Ok(req)
    }
}

/// One simulated data plane: registered, watching plans (the latest version
/// it received, and when).
struct Plane {
    id: String,
    client: Client,
    latest: watch::Receiver<(u64, Instant)>,
}

impl Plane {
    async fn start(i: usize, mut client: Client) -> anyhow::Result<Plane> {
        let id = format!("{}-sim{i}", uuid::Uuid::now_v7());
        let reg = client
            .register(pb::RegisterRequest {
                dataplane_id: id.clone(),
                version: "cpsim".into(),
                hostname: format!("sim{i}"),
                plan_version: 0,
                contract_version: switchyard_proto::contract::CONTRACT_VERSION,
            })
            .await
            .context("Register")?
            .into_inner();
        let mut stream = client
            .watch_plans(pb::WatchPlansRequest {
                dataplane_id: id.clone(),
                plan_version: 0,
            })
            .await
            .context("WatchPlans")?
            .into_inner();
        let (tx, latest) = watch::channel((0, Instant::now()));
        let mut acker = client.clone();
        let dp = id.clone();
        tokio::spawn(async move {
            while let Ok(Some(plan)) = stream.message().await {
                let _ = tx.send((plan.version, Instant::now()));
                let _ = acker
                    .ack_plan(pb::PlanAck {
                        dataplane_id: dp.clone(),
                        plan_version: plan.version,
                        error: String::new(),
                    })
                    .await;
            }
        });
        let plane = Plane { id, client, latest };
        // The stream starts with the current plan.
        plane
            .wait_beyond(reg.plan_version.saturating_sub(1), Instant::now())
            .await?;
        Ok(plane)
    }

    fn version(&self) -> u64 {
        self.latest.borrow().0
    }

    /// How long after `t0` a plan newer than `v` arrived (waits for it, at
    /// most 30 s).
    async fn wait_beyond(&self, v: u64, t0: Instant) -> anyhow::Result<Duration> {
        let mut rx = self.latest.clone();
        let got = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|(n, _)| *n > v))
            .await
            .with_context(|| format!("{}: no plan beyond version {v} within 30 s", self.id))?
            .context("plan stream ended")?;
        Ok(got.1.saturating_duration_since(t0))
    }
}

fn event() -> pb::ShareEvent {
    pb::ShareEvent {
        id: uuid::Uuid::now_v7().to_string(),
        at_unix_ms: now_ms(),
        algorithm: pb::Algorithm::Sha256 as i32,
        pool: "bench".into(),
        worker: "bench-account.rig1".into(),
        job_id: "1a".into(),
        miner_difficulty: 1024.0,
        share_difficulty: 2048.0,
        local_verdict: pb::Verdict::Accepted as i32,
        forwarded: true,
        pool_verdict: pb::Verdict::Accepted as i32,
        pool_latency_us: 350,
        ..Default::default()
    }
}

fn read_token(path: &PathBuf) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))?
        .trim()
        .to_string())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p`th percentile of sorted values (0 when empty).
fn pct(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) * p).div_ceil(100);
    sorted[i.min(sorted.len() - 1)]
}
