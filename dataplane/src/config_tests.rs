//! Tests of config parsing and validation.

use super::*;

const MINIMAL: &str = r#"
pools:
  - name: a
    url: "stratum+tcp://127.0.0.1:3333"
    username: "w"
"#;

#[test]
fn minimal_config_gets_farm_defaults() {
    let c = Config::from_yaml(MINIMAL).expect("valid");
    assert_eq!(
        c.listeners.sha256.first().map(|l| l.max_connections),
        Some(10_000)
    );
    assert_eq!(c.pools[0].password.expose(), "x");
    assert_eq!(c.pools[0].mode, PoolMode::Aggregate);
    assert!(
        c.limits.miner_idle_timeout >= 300.0,
        "slow ASICs must not be dropped"
    );
    assert_eq!(c.validation.share_cache_size, 1000);
    assert_eq!(c.validation.job_cache_size, 10);
}

#[test]
fn the_example_config_is_valid() {
    let text = include_str!("../../examples/dataplane.yaml");
    let c = Config::from_yaml(text).expect("examples/dataplane.yaml must validate");
    assert_eq!(c.pools.len(), 2);
    assert_eq!(c.pools[1].mode, PoolMode::Passthrough);
}

#[test]
fn unknown_fields_are_named() {
    let err = Config::from_yaml("limits:\n  max_conections_per_ip: 5\n").unwrap_err();
    assert!(err.to_string().contains("max_conections_per_ip"), "{err}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let yaml = r#"
limits:
  allow: ["10.0.0.0/33"]
  miner_idle_timeout: 180
aggregation:
  miner_extranonce2_size: 1
  version_mask: "xyz"
pools:
  - name: a
    url: "http://pool:1"
    username: ""
    buffer_percent: 0.9
  - name: a
    url: "stratum+tcp://pool"
    username: "w"
    min_difficulty: 10
    max_difficulty: 5
"#;
    let err = Config::from_yaml(yaml).unwrap_err();
    let text = err.to_string();
    for needle in [
        "limits.allow",
        "limits.miner_idle_timeout",
        "aggregation.miner_extranonce2_size",
        "aggregation.version_mask",
        "pools[0] (\"a\").url",
        "pools[0] (\"a\").username",
        "pools[0] (\"a\").buffer_percent",
        "duplicate pool name",
        "pools[1] (\"a\").url",
        "pools[1] (\"a\").min_difficulty",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(err.0.len() >= 10, "{text}");
}

#[test]
fn no_enabled_pool_is_an_error() {
    let err = Config::from_yaml("pools: []\n").unwrap_err();
    assert!(err.to_string().contains("at least one enabled pool"));
}

#[test]
fn pool_urls() {
    assert_eq!(
        parse_pool_url("stratum+tcp://pool.example.com:3333"),
        Ok(PoolAddr {
            host: "pool.example.com".into(),
            port: 3333,
            tls: false
        })
    );
    assert!(parse_pool_url("stratum+ssl://pool:443").is_ok_and(|a| a.tls));
    assert_eq!(parse_pool_url("127.0.0.1:1").map(|a| a.port), Ok(1));
    assert!(parse_pool_url("pool.example.com").is_err());
    assert!(parse_pool_url("stratum+tcp://:3333").is_err());
    assert!(parse_pool_url("stratum+tcp://h:0").is_err());
}

#[test]
fn passwords_never_appear_in_debug_output() {
    let mut c = Config::from_yaml(MINIMAL).expect("valid");
    c.pools[0].password = "hunter2".into();
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn the_randomx_listener_is_off_unless_configured_and_then_on_3334() {
    let c = Config::from_yaml(MINIMAL).expect("valid");
    assert!(c.listeners.randomx.is_empty());
    let yaml = format!("listeners:\n  randomx: {{}}\n{MINIMAL}");
    let c = Config::from_yaml(&yaml).expect("valid");
    let rx = c.listeners.randomx.first().expect("on");
    assert_eq!(
        (rx.bind.as_str(), rx.max_connections),
        ("0.0.0.0:3334", 10_000)
    );
    assert_eq!(
        c.listeners.algorithms(),
        [Algorithm::Randomx],
        "a listeners: map opens only what it names"
    );
    let yaml = format!("listeners:\n  randomx:\n    max_connections: 5\n{MINIMAL}");
    let c = Config::from_yaml(&yaml).expect("valid");
    assert_eq!(c.listeners.randomx[0].max_connections, 5);
}

fn opened(yaml: &str) -> Vec<String> {
    Config::from_yaml(yaml)
        .unwrap_or_else(|e| panic!("{yaml}\n{e}"))
        .listeners
        .describe()
}

#[test]
fn a_listeners_map_opens_exactly_the_listeners_it_names() {
    let only_rx = format!("listeners:\n  randomx: {{}}\n{MINIMAL}");
    assert_eq!(opened(&only_rx), ["randomx on 0.0.0.0:3334"]);
    let only_zk = format!("listeners:\n  zksnark:\n    bind: \"127.0.0.1:4035\"\n{MINIMAL}");
    assert_eq!(opened(&only_zk), ["zksnark on 127.0.0.1:4035"]);
    let only_sha = format!("listeners:\n  sha256: {{}}\n{MINIMAL}");
    assert_eq!(opened(&only_sha), ["sha256 on 0.0.0.0:3333"]);
    let all = format!(
        "listeners:\n  sha256: {{ bind: \"127.0.0.1:4033\" }}\n  randomx: {{}}\n  zksnark: {{}}\n{MINIMAL}"
    );
    assert_eq!(
        opened(&all),
        [
            "sha256 on 127.0.0.1:4033",
            "randomx on 0.0.0.0:3334",
            "zksnark on 0.0.0.0:3335"
        ]
    );
}

#[test]
fn an_algorithm_may_have_several_listeners_plain_and_tls() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["proxy.test".into()]).unwrap();
    let (crt, key) = (dir.path().join("a.crt"), dir.path().join("a.key"));
    std::fs::write(&crt, cert.cert.pem()).unwrap();
    std::fs::write(&key, cert.signing_key.serialize_pem()).unwrap();
    let (crt, key) = (crt.display(), key.display());
    let yaml = format!(
        "listeners:\n  sha256:\n    - {{ bind: \"127.0.0.1:4033\" }}\n    - {{ bind: \"127.0.0.1:4433\", tls: {{ cert_file: \"{crt}\", key_file: \"{key}\" }} }}\n  randomx: [ {{}} ]\n{MINIMAL}"
    );
    assert_eq!(
        opened(&yaml),
        [
            "sha256 on 127.0.0.1:4033",
            "sha256 on 127.0.0.1:4433 (TLS)",
            "randomx on 0.0.0.0:3334"
        ]
    );
    // Problems name the entry; a typo inside a list keeps serde's message.
    let dup = format!(
        "listeners:\n  sha256:\n    - {{ bind: \"127.0.0.1:4033\" }}\n    - {{ bind: \"127.0.0.1:4033\", max_connections: 0 }}\n{MINIMAL}"
    );
    let text = Config::from_yaml(&dup).unwrap_err().to_string();
    assert!(
        text.contains("listeners.sha256[1].max_connections: must be at least 1")
            && text.contains(
                "listeners.sha256[1].bind: \"127.0.0.1:4033\" is already the address of listeners.sha256[0]"
            ),
        "{text}"
    );
    let typo = format!("listeners:\n  sha256:\n    - {{ bnd: \"127.0.0.1:4033\" }}\n{MINIMAL}");
    let text = Config::from_yaml(&typo).unwrap_err().to_string();
    assert!(text.contains("unknown field `bnd`"), "{text}");
    let empty_list = format!("listeners:\n  sha256: []\n{MINIMAL}");
    let text = Config::from_yaml(&empty_list).unwrap_err().to_string();
    assert!(text.contains("no listener configured"), "{text}");
}

#[test]
fn without_listeners_sha256_opens_on_3333() {
    assert_eq!(opened(MINIMAL), ["sha256 on 0.0.0.0:3333"]);
}

#[test]
fn an_empty_listeners_map_is_an_error_naming_the_field() {
    for empty in ["listeners: {}", "listeners:\n  sha256: null"] {
        let yaml = format!("{empty}\n{MINIMAL}");
        let text = Config::from_yaml(&yaml).unwrap_err().to_string();
        assert!(
            text.contains("listeners: no listener configured")
                && text.contains("listeners.sha256, listeners.randomx or listeners.zksnark"),
            "{empty}: {text}"
        );
    }
}

#[test]
fn randomx_listener_problems_name_their_field() {
    let yaml = format!(
        "listeners:\n  sha256:\n    bind: \"127.0.0.1:4000\"\n  randomx:\n    bind: \"127.0.0.1:4000\"\n    max_connections: 0\n{MINIMAL}"
    );
    let text = Config::from_yaml(&yaml).unwrap_err().to_string();
    for needle in [
        "listeners.randomx.max_connections",
        "listeners.randomx.bind: \"127.0.0.1:4000\" is already the address of listeners.sha256",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let yaml = format!("listeners:\n  randomx:\n    bind: \"nowhere\"\n{MINIMAL}");
    let text = Config::from_yaml(&yaml).unwrap_err().to_string();
    assert!(
        text.contains("listeners.randomx.bind: \"nowhere\" is not an address like 0.0.0.0:3334"),
        "{text}"
    );
    let yaml = format!("listeners:\n  randomx:\n    bnd: \"x\"\n{MINIMAL}");
    let text = Config::from_yaml(&yaml).unwrap_err().to_string();
    assert!(text.contains("bnd"), "{text}");
    let yaml = format!("listeners:\n  sha256: null\n{MINIMAL}");
    let text = Config::from_yaml(&yaml).unwrap_err().to_string();
    assert!(text.contains("listeners: no listener configured"), "{text}");
}

#[test]
fn the_zksnark_listener_is_off_unless_configured_and_pools_may_name_a_dialect() {
    let c = Config::from_yaml(MINIMAL).expect("valid");
    assert!(c.listeners.zksnark.is_empty());
    let yaml = r#"
listeners:
  zksnark: {}
pools:
  - name: aleo
    url: "stratum+tcp://127.0.0.1:4040"
    username: "aleo1acct"
    algorithm: zksnark
    dialect: iceriver
  - name: aleo3
    url: "stratum+tcp://127.0.0.1:4041"
    username: "aleo1acct"
    algorithm: zksnark
"#;
    let c = Config::from_yaml(yaml).expect("valid");
    let zk = c.listeners.zksnark.first().expect("on");
    assert_eq!(zk.bind, "0.0.0.0:3335");
    assert_eq!(
        c.pools[0].dialect,
        Some(switchyard_stratum::aleo::Dialect::IceRiver)
    );
    assert_eq!(c.pools[1].dialect, None, "left out: detected");
    let bad = yaml.replace("dialect: iceriver", "dialect: cgminer");
    let text = Config::from_yaml(&bad).unwrap_err().to_string();
    assert!(text.contains("unknown ALEO dialect \"cgminer\""), "{text}");
    let yaml = format!(
        "listeners:\n  randomx:\n    bind: \"127.0.0.1:4000\"\n  zksnark:\n    bind: \"127.0.0.1:4000\"\n{MINIMAL}"
    );
    let text = Config::from_yaml(&yaml).unwrap_err().to_string();
    assert!(
        text.contains(
            "listeners.zksnark.bind: \"127.0.0.1:4000\" is already the address of listeners.randomx"
        ),
        "{text}"
    );
    let sha_dialect = MINIMAL.replace("username: \"w\"", "username: \"w\"\n    dialect: iceriver");
    let text = Config::from_yaml(&sha_dialect).unwrap_err().to_string();
    assert!(text.contains("pools[0] (\"a\").dialect"), "{text}");
}

#[test]
fn logging_rotation_retention_and_format_are_checked_and_named() {
    let c = Config::from_yaml(MINIMAL).expect("valid");
    assert_eq!(
        (
            c.logging.rotation.as_str(),
            c.logging.retention,
            c.logging.format.as_str()
        ),
        ("50 MB", 10, "text"),
        "the seed's defaults"
    );
    let yaml = format!(
        "{MINIMAL}logging:\n  file: dp.log\n  rotation: \"10 parsecs\"\n  retention: 0\n  format: xml\n"
    );
    let err = Config::from_yaml(&yaml).unwrap_err().to_string();
    for field in ["logging.rotation", "logging.retention", "logging.format"] {
        assert!(err.contains(field), "{field} not named in: {err}");
    }
    let ok = format!("{MINIMAL}logging:\n  file: dp.log\n  rotation: daily\n  format: json\n");
    let c = Config::from_yaml(&ok).expect("valid");
    assert_eq!(c.logging.file.as_deref(), Some("dp.log"));
}
