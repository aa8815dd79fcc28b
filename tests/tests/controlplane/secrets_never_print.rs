//! Pool passwords and auth tokens never show in `Debug` output: every struct
//! that holds one (model config, data-plane config and pool info,
//! control-plane store rows and options, gRPC messages) is built with a
//! distinctive secret and formatted with `{:?}` and `{:#?}`. ctl's argument
//! structs have the same test in ctl/tests/secrets_never_print.rs.

use std::path::PathBuf;

use switchyard_controlplane::store::{PoolPatch, PoolRow};
use switchyard_dataplane::config::{Config, ControlPlaneLink, PoolMode, parse_pool_url};
use switchyard_dataplane::upstream::PoolInfo;
use switchyard_model::Secret;
use switchyard_model::config::PoolDef;
use switchyard_proto::v1 as pb;

const PASSWORD: &str = "pw-Zq8vKx3-never-printed";
const TOKEN: &str = "sysite_tok-7Hd2Qm9-never-printed";

/// Asserts neither secret appears in either `Debug` form, and `***` does.
fn masked(what: &str, value: &dyn std::fmt::Debug) {
    for text in [format!("{value:?}"), format!("{value:#?}")] {
        for secret in [PASSWORD, TOKEN] {
            assert!(!text.contains(secret), "{what} shows a secret: {text}");
        }
        assert!(text.contains("***"), "{what} has no mask: {text}");
    }
}

fn dataplane_yaml() -> String {
    format!(
        "pools:\n  - name: p\n    url: stratum+tcp://127.0.0.1:1\n    username: u\n    password: {PASSWORD}\n\
         controlplane:\n  endpoint: http://127.0.0.1:1\n  token: {TOKEN}\n"
    )
}

fn seed_yaml() -> String {
    format!(
        "controlplane:\n  timezone: \"UTC\"\nservers:\n  sha256:\n    - {{ name: main, host: \"127.0.0.1\", port: 1, username: u, password: \"{PASSWORD}\", start: \"00:00\", end: \"24:00\" }}\n"
    )
}

#[test]
fn model_config_never_prints_a_password() {
    masked("Secret", &Secret::from(PASSWORD));
    let import = switchyard_model::config::load(&seed_yaml(), chrono_tz::UTC).expect("valid seed");
    assert_eq!(import.pools[0].password.expose(), PASSWORD);
    masked("PoolDef", &import.pools[0]);
    let server = import.pools[0].to_server(None, None, None);
    masked("Server", &server);
    masked(
        "PoolDef::from_server",
        &PoolDef::from_server(import.pools[0].algorithm, &server),
    );
    masked("Import", &import);
    let options = switchyard_controlplane::Options {
        config: import,
        database: PathBuf::from("x.db"),
        listen: None,
        local_tz: chrono_tz::UTC,
        tls: None,
    };
    masked("controlplane Options", &options);
}

#[test]
fn dataplane_config_and_pool_info_never_print_a_secret() {
    let config = Config::from_yaml(&dataplane_yaml()).expect("valid config");
    assert_eq!(config.pools[0].password.expose(), PASSWORD);
    assert_eq!(
        config.controlplane.resolve_token().unwrap().as_deref(),
        Some(TOKEN)
    );
    masked("dataplane Config", &config);
    masked("dataplane Pool", &config.pools[0]);
    masked("ControlPlaneLink", &config.controlplane);
    let link = ControlPlaneLink {
        token: Some(TOKEN.into()),
        ..Default::default()
    };
    masked("ControlPlaneLink (built)", &link);
    let p = config.pools[0].clone();
    let info = PoolInfo {
        name: p.name.as_str().into(),
        index: 0,
        addr: parse_pool_url(&p.url).unwrap(),
        username: p.username.clone(),
        password: p.password.clone(),
        mode: PoolMode::Aggregate,
        config: p,
        stats: Default::default(),
        learned_dialect: Default::default(),
    };
    masked("PoolInfo", &info);
}

#[test]
fn controlplane_store_rows_never_print_a_password() {
    let row = PoolRow {
        id: 1,
        name: "p".into(),
        algorithm: "sha256".into(),
        host: "127.0.0.1".into(),
        port: 1,
        username: "u".into(),
        password: PASSWORD.into(),
        tls: false,
        mode: "aggregate".into(),
        enabled: true,
        connect_timeout_s: 30,
        retry_interval_s: 5,
        buffer_percent: None,
        min_difficulty: None,
        max_difficulty: None,
        dialect: None,
        sites: Default::default(),
    };
    masked("PoolRow", &row);
    let patch = PoolPatch {
        password: Some(PASSWORD.into()),
        ..Default::default()
    };
    masked("PoolPatch", &patch);
}

#[test]
fn grpc_messages_never_print_a_secret() {
    let pool = pb::Pool {
        settings: Some(pb::PoolSettings {
            name: "p".into(),
            password: PASSWORD.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    masked("Pool", &pool);
    masked(
        "ListPoolsResponse",
        &pb::ListPoolsResponse { pools: vec![pool] },
    );
    masked(
        "UpdatePoolRequest",
        &pb::UpdatePoolRequest {
            name: "p".into(),
            password: Some(PASSWORD.into()),
            ..Default::default()
        },
    );
    let settings = pb::PoolSettings {
        name: "p".into(),
        password: PASSWORD.into(),
        ..Default::default()
    };
    masked("PoolSettings", &settings);
    masked(
        "RoutingPlan",
        &pb::RoutingPlan {
            pools: vec![settings],
            ..Default::default()
        },
    );
    masked(
        "AddSiteResponse",
        &pb::AddSiteResponse {
            site: Some(pb::Site::default()),
            token: TOKEN.into(),
        },
    );
    let site_token = pb::SiteToken {
        site: "s".into(),
        token: TOKEN.into(),
    };
    masked("SiteToken", &site_token);
    masked(
        "ImportConfigResponse",
        &pb::ImportConfigResponse {
            new_site_tokens: vec![site_token],
            ..Default::default()
        },
    );
    masked(
        "ImportConfigRequest",
        &pb::ImportConfigRequest {
            yaml: seed_yaml(),
            replace: true,
        },
    );
    masked(
        "ExportConfigResponse",
        &pb::ExportConfigResponse { yaml: seed_yaml() },
    );
    masked(
        "ValidateConfigRequest",
        &pb::ValidateConfigRequest { yaml: seed_yaml() },
    );
}
