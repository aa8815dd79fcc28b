//! An in-process fake of the `Admin` service with canned answers (no
//! database), and helpers that run the `ctl` binary against it.

#![allow(dead_code)]

use std::process::Output;
use std::sync::OnceLock;

use switchyard_proto::v1::admin_server::{Admin, AdminServer};
use switchyard_proto::v1::*;
use tonic::{Request, Response, Status};

type R<T> = Result<Response<T>, Status>;

struct Fake;

fn check<T>(req: &Request<T>) -> Result<(), Status> {
    let contract = req
        .metadata()
        .get(switchyard_proto::CONTRACT_METADATA)
        .and_then(|v| v.to_str().ok());
    if contract != Some(&switchyard_proto::CONTRACT_VERSION.to_string()) {
        return Err(Status::failed_precondition("ctl sent no contract version"));
    }
    match req
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        Some("Bearer secret") => Ok(()),
        _ => Err(Status::unauthenticated("invalid admin token")),
    }
}

const NOW_ISH: i64 = 1_795_456_800_000;
/// A lab pool share's difficulty: JSON must keep every digit.
pub const LAB_SHARE_DIFFICULTY: f64 = 0.000421234567891;

fn settings(name: &str) -> PoolSettings {
    PoolSettings {
        name: name.into(),
        algorithm: Algorithm::Sha256.into(),
        host: "btc.example.com".into(),
        port: 3333,
        username: "wallet".into(),
        password: String::new(),
        tls: false,
        mode: PoolMode::Aggregate.into(),
        enabled: true,
        ..Default::default()
    }
}

fn pool(name: &str) -> Pool {
    Pool {
        settings: Some(settings(name)),
        password_set: true,
    }
}

#[tonic::async_trait]
impl Admin for Fake {
    async fn status(&self, r: Request<StatusRequest>) -> R<StatusResponse> {
        check(&r)?;
        Ok(Response::new(StatusResponse {
            version: "0.1.0".into(),
            started_at_unix_ms: NOW_ISH,
            database: "sqlite:switchyard.db".into(),
            sites: 1,
            pools: 2,
            dataplanes_connected: 1,
            share_events: 42,
            plans: vec![SitePlanSummary {
                site: "farm-a".into(),
                plan_version: 7,
                active: vec![ActiveAssignment {
                    algorithm: Algorithm::Sha256.into(),
                    current_pool: "btc".into(),
                    scheduled_pool: "btc".into(),
                    next_switch_unix_ms: NOW_ISH,
                    next_pool: "btc2".into(),
                }],
            }],
        }))
    }
    async fn add_site(&self, r: Request<AddSiteRequest>) -> R<AddSiteResponse> {
        check(&r)?;
        let r = r.into_inner();
        if r.name.contains(' ') {
            return Err(Status::invalid_argument("name: must not contain spaces"));
        }
        let site = Site {
            name: r.name,
            timezone: r.timezone,
            plan_version: 1,
            created_at_unix_ms: NOW_ISH,
        };
        Ok(Response::new(AddSiteResponse {
            site: Some(site),
            token: "dp-token-123".into(),
        }))
    }
    async fn list_sites(&self, r: Request<ListSitesRequest>) -> R<ListSitesResponse> {
        check(&r)?;
        Ok(Response::new(ListSitesResponse::default()))
    }
    async fn remove_site(&self, r: Request<RemoveSiteRequest>) -> R<Empty> {
        check(&r)?;
        Err(Status::not_found(format!(
            "site {} not found",
            r.into_inner().name
        )))
    }
    async fn rotate_site_token(&self, r: Request<RotateSiteTokenRequest>) -> R<AddSiteResponse> {
        check(&r)?;
        Err(Status::not_found(format!(
            "site {} not found",
            r.into_inner().name
        )))
    }
    async fn add_pool(&self, r: Request<PoolSettings>) -> R<Pool> {
        check(&r)?;
        let p = r.into_inner();
        Ok(Response::new(Pool {
            settings: Some(PoolSettings {
                password: String::new(),
                ..p
            }),
            password_set: true,
        }))
    }
    async fn update_pool(&self, r: Request<UpdatePoolRequest>) -> R<Pool> {
        check(&r)?;
        Ok(Response::new(pool(&r.into_inner().name)))
    }
    async fn remove_pool(&self, r: Request<PoolName>) -> R<Empty> {
        check(&r)?;
        Ok(Response::new(Empty {}))
    }
    async fn set_pool_enabled(&self, r: Request<SetPoolEnabledRequest>) -> R<Pool> {
        check(&r)?;
        let r = r.into_inner();
        Ok(Response::new(Pool {
            settings: Some(PoolSettings {
                enabled: r.enabled,
                ..settings(&r.name)
            }),
            password_set: true,
        }))
    }
    async fn list_pools(&self, r: Request<ListPoolsRequest>) -> R<ListPoolsResponse> {
        check(&r)?;
        let second = Pool {
            settings: Some(PoolSettings {
                tls: true,
                min_difficulty: Some(65536.0),
                ..settings("btc-tls")
            }),
            password_set: false,
        };
        Ok(Response::new(ListPoolsResponse {
            pools: vec![pool("btc"), second],
        }))
    }
    async fn set_schedule(&self, r: Request<SetScheduleRequest>) -> R<ScheduleResponse> {
        check(&r)?;
        let r = r.into_inner();
        // An ALEO schedule comes back with the real service's warning.
        let warnings = if r.algorithm() == Algorithm::Zksnark {
            vec![Problem {
                field: format!("site {} (zksnark)", r.site),
                message: "mixes ALEO dialects: iceriver (a) and aleostratum3 (b)".into(),
            }]
        } else {
            Vec::new()
        };
        Ok(Response::new(ScheduleResponse {
            site: r.site,
            algorithm: r.algorithm,
            entries: r.entries,
            plan_version: 8,
            warnings,
        }))
    }
    async fn show_schedule(&self, r: Request<ShowScheduleRequest>) -> R<ShowScheduleResponse> {
        check(&r)?;
        let entry = |p: &str, s: &str, e: &str| ScheduleEntry {
            pool: p.into(),
            start: s.into(),
            end: e.into(),
            weight: 0,
        };
        Ok(Response::new(ShowScheduleResponse {
            schedules: vec![SiteSchedule {
                site: "farm-a".into(),
                timezone: "Europe/Berlin".into(),
                algorithm: Algorithm::Sha256.into(),
                entries: vec![
                    entry("btc", "00:00", "12:00"),
                    entry("btc2", "12:00", "24:00"),
                ],
                failover: vec!["btc2".into(), "btc".into()],
                r#override: Some(Override {
                    pool: "btc2".into(),
                    until_unix_ms: NOW_ISH,
                }),
            }],
        }))
    }
    async fn preview_schedule(
        &self,
        r: Request<PreviewScheduleRequest>,
    ) -> R<PreviewScheduleResponse> {
        check(&r)?;
        Ok(Response::new(PreviewScheduleResponse::default()))
    }
    async fn set_failover(&self, r: Request<SetFailoverRequest>) -> R<FailoverResponse> {
        check(&r)?;
        Ok(Response::new(FailoverResponse::default()))
    }
    async fn set_override(&self, r: Request<SetOverrideRequest>) -> R<Empty> {
        check(&r)?;
        Ok(Response::new(Empty {}))
    }
    async fn clear_override(&self, r: Request<ClearOverrideRequest>) -> R<Empty> {
        check(&r)?;
        Ok(Response::new(Empty {}))
    }
    async fn list_breakers(&self, r: Request<ListBreakersRequest>) -> R<ListBreakersResponse> {
        check(&r)?;
        Err(Status::unimplemented("not yet"))
    }
    async fn reset_breaker(&self, r: Request<BreakerTarget>) -> R<Breaker> {
        check(&r)?;
        let t = r.into_inner();
        Ok(Response::new(Breaker {
            site: t.site,
            pool: t.pool,
            state: "closed".into(),
            ..Default::default()
        }))
    }
    async fn open_breaker(&self, r: Request<BreakerTarget>) -> R<Breaker> {
        self.reset_breaker(r).await
    }
    async fn list_switches(&self, r: Request<ListSwitchesRequest>) -> R<ListSwitchesResponse> {
        check(&r)?;
        Ok(Response::new(ListSwitchesResponse::default()))
    }

    async fn list_data_planes(
        &self,
        r: Request<ListDataPlanesRequest>,
    ) -> R<ListDataPlanesResponse> {
        check(&r)?;
        let now = chrono::Utc::now().timestamp_millis();
        Ok(Response::new(ListDataPlanesResponse {
            dataplanes: vec![DataPlaneInfo {
                id: "dp-1".into(),
                site: "farm-a".into(),
                version: "0.1.0".into(),
                hostname: "rig-gw".into(),
                last_seen_unix_ms: now - 3_000,
                acked_plan_version: 6,
                site_plan_version: 7,
                connected: true,
                ack_error: String::new(),
                miners: 12,
                spool_events: 340,
                spool_bytes: 65_536,
                events_dropped: 0,
            }],
        }))
    }
    async fn query_shares(&self, r: Request<QuerySharesRequest>) -> R<QuerySharesResponse> {
        check(&r)?;
        let limit = r.into_inner().limit as usize;
        let row = ShareRow {
            id: "s1".into(),
            at_unix_ms: NOW_ISH,
            site: "farm-a".into(),
            pool: "btc".into(),
            worker: "rig1".into(),
            share_difficulty: 131072.0,
            miner_difficulty: 65536.0,
            verdict: Verdict::Accepted.into(),
            forwarded: true,
            pool_latency_us: 12_345,
            ..Default::default()
        };
        // The second share is from a lab pool at a tiny difficulty.
        let lab = ShareRow {
            id: "s2".into(),
            share_difficulty: LAB_SHARE_DIFFICULTY,
            miner_difficulty: 0.00001,
            ..row.clone()
        };
        let mut shares = vec![row, lab];
        shares.truncate(limit.min(2));
        Ok(Response::new(QuerySharesResponse {
            shares,
            truncated: limit < 3,
        }))
    }
    async fn stats(&self, r: Request<StatsRequest>) -> R<StatsResponse> {
        check(&r)?;
        let f = r.into_inner().filter.unwrap_or_default();
        if f.since_unix_ms == 0 {
            return Err(Status::invalid_argument("filter.since_unix_ms: required"));
        }
        let reasons = vec![ReasonCount {
            reason: Reason::Other.into(),
            reason_text: "stale".into(),
            count: 1,
        }];
        Ok(Response::new(StatsResponse {
            pools: vec![PoolStats {
                window_start_unix_ms: f.since_unix_ms,
                site: "farm-a".into(),
                algorithm: Algorithm::Sha256.into(),
                pool: "btc".into(),
                accepted: 2,
                rejected: 1,
                reasons,
                local_only: 5,
                accepted_difficulty: 2.0 * 65536.0,
                hashrate_hs: 112.4e12,
            }],
            splits: vec![SplitStats {
                site: "farm-a".into(),
                algorithm: Algorithm::Sha256.into(),
                since_unix_ms: f.since_unix_ms,
                pools: [("btc", 70, 69.14), ("bch", 30, 30.86)]
                    .map(|(pool, weight, achieved)| SplitPoolStats {
                        pool: pool.into(),
                        weight,
                        target_percent: f64::from(weight),
                        achieved_percent: achieved,
                        accepted_difficulty: achieved,
                    })
                    .to_vec(),
            }],
        }))
    }
    async fn list_workers(&self, r: Request<ListWorkersRequest>) -> R<ListWorkersResponse> {
        check(&r)?;
        let r = r.into_inner();
        let now = chrono::Utc::now().timestamp_millis();
        if r.since_unix_ms != 0 && now - r.since_unix_ms > 48 * 3_600_000 {
            return Err(Status::invalid_argument("since: too far back"));
        }
        let rig = WorkerRow {
            site: "farm-a".into(),
            algorithm: Algorithm::Sha256.into(),
            worker: "acct.rig1".into(),
            state: WorkerState::Online.into(),
            last_share_unix_ms: now - 3_000,
            hashrate_15m_hs: 112.4e12,
            hashrate_1h_hs: 110.0e12,
            hashrate_24h_hs: 8.1e3,
            accepted: 1234,
            rejected: 5,
            dataplane_id: "dp-1".into(),
            difficulty: 65536.0,
        };
        let prover = WorkerRow {
            algorithm: Algorithm::Zksnark.into(),
            worker: "prover7".into(),
            state: WorkerState::Idle.into(),
            last_share_unix_ms: 0,
            hashrate_15m_hs: 0.0,
            hashrate_1h_hs: 3.0e6,
            hashrate_24h_hs: 0.042,
            accepted: 0,
            rejected: 0,
            difficulty: 0.0,
            dataplane_id: String::new(),
            ..rig.clone()
        };
        let workers = [rig, prover]
            .into_iter()
            .filter(|w| r.state == 0 || w.state == r.state)
            .filter(|w| r.algorithm == 0 || w.algorithm == r.algorithm)
            .collect();
        Ok(Response::new(ListWorkersResponse {
            workers,
            now_unix_ms: now,
            since_unix_ms: now - 86_400_000,
            counts_from_unix_ms: now - 86_400_000,
        }))
    }
    async fn import_config(&self, r: Request<ImportConfigRequest>) -> R<ImportConfigResponse> {
        check(&r)?;
        let new_site_tokens = vec![SiteToken {
            site: "farm-b".into(),
            token: "tok-b".into(),
        }];
        Ok(Response::new(ImportConfigResponse {
            sites: 1,
            pools: 2,
            schedules: 3,
            new_site_tokens,
            warnings: Vec::new(),
        }))
    }
    async fn export_config(&self, r: Request<ExportConfigRequest>) -> R<ExportConfigResponse> {
        check(&r)?;
        Ok(Response::new(ExportConfigResponse {
            yaml: "pools: []".into(),
        }))
    }
    async fn validate_config(
        &self,
        r: Request<ValidateConfigRequest>,
    ) -> R<ValidateConfigResponse> {
        check(&r)?;
        let problems = if r.into_inner().yaml.contains("bad") {
            vec![Problem {
                field: "pools[0].port".into(),
                message: "must be 1-65535".into(),
            }]
        } else {
            vec![]
        };
        Ok(Response::new(ValidateConfigResponse {
            problems,
            warnings: Vec::new(),
        }))
    }
}

/// The fake server's endpoint, started once for all tests.
pub fn endpoint() -> &'static str {
    static EP: OnceLock<String> = OnceLock::new();
    EP.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                tx.send(listener.local_addr().expect("addr")).expect("send");
                tonic::transport::Server::builder()
                    .add_service(AdminServer::new(Fake))
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                    .await
                    .expect("serve");
            });
        });
        format!("http://{}", rx.recv().expect("server address"))
    })
}

pub fn ctl_env(args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ctl"));
    cmd.args(args)
        .env_remove("SWITCHYARD_TOKEN")
        .env_remove("SWITCHYARD_ENDPOINT")
        .envs(envs.iter().copied());
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn ctl");
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.unwrap_or("").as_bytes())
            .expect("stdin");
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("ctl output");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into(),
        String::from_utf8_lossy(&stderr).into(),
    )
}

/// Runs ctl against the fake server with the right token.
pub fn ctl(args: &[&str]) -> (i32, String, String) {
    let all = [&["--endpoint", endpoint()][..], args].concat();
    ctl_env(&all, &[("SWITCHYARD_TOKEN", "secret")], None)
}
