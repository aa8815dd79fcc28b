//! A config whose ALEO schedule or failover list mixes the two pool
//! dialects is valid but warned about; one dialect (or pools left to
//! detection) gives no warning.

use chrono_tz::Tz;
use switchyard_model::config;
use switchyard_model::dialects::import_warnings;

const UTC: Tz = chrono_tz::UTC;

fn aleo_config(second_dialect: &str, failover: &str) -> String {
    format!(
        r#"
proxy:
  sha256: {{ enabled: false }}
  zksnark: {{ enabled: true, bind_port: 3335 }}
servers:
  zksnark:
    - {{ name: zk-ice, host: ice.example, port: 3335, username: aleo1farm, dialect: iceriver, start: "00:00", end: "12:00" }}
    - {{ name: zk-two, host: two.example, port: 3335, username: aleo1farm, {second_dialect} start: "12:00", end: "24:00" }}
    - {{ name: zk-spare, host: spare.example, port: 3335, username: aleo1farm, dialect: aleostratum3 }}
{failover}"#
    )
}

fn warnings(yaml: &str) -> Vec<String> {
    let import = config::load(yaml, UTC)
        .unwrap_or_else(|p| panic!("{}", switchyard_model::problem::render(&p)));
    import_warnings(&import)
        .into_iter()
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn a_schedule_mixing_dialects_is_valid_and_warned_about() {
    let yaml = aleo_config("dialect: aleostratum3,", "");
    assert_eq!(config::validate(&yaml, UTC), [], "a warning, not a problem");
    let w = warnings(&yaml);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(
            "sites.default.zksnark: mixes ALEO dialects: iceriver (zk-ice) and aleostratum3 (zk-two)"
        ),
        "{w:?}"
    );
}

#[test]
fn a_failover_list_mixing_dialects_is_warned_about() {
    let sites = "sites:\n  - name: farm-a\n    timezone: UTC\n    failover:\n      zksnark: [zk-ice, zk-two, zk-spare]\n";
    let yaml = aleo_config("dialect: iceriver,", sites);
    assert_eq!(config::validate(&yaml, UTC), []);
    let w = warnings(&yaml);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(
            "sites.farm-a.zksnark: mixes ALEO dialects: iceriver (zk-ice, zk-two) and aleostratum3 (zk-spare)"
        ),
        "{w:?}"
    );
}

#[test]
fn one_dialect_or_detected_pools_give_no_warning() {
    assert_eq!(
        warnings(&aleo_config("dialect: iceriver,", "")),
        Vec::<String>::new()
    );
    assert_eq!(
        warnings(&aleo_config("", "")),
        Vec::<String>::new(),
        "zk-two is detected"
    );
}
