//! ctl's argument structs (`Cli`, `Settings`) never show the admin token or
//! a pool password in `Debug` output (the other crates' structs:
//! tests/tests/controlplane/secrets_never_print.rs in switchyard-tests).

use clap::Parser;
use switchyard_ctl::cli::Cli;
use switchyard_ctl::client::Settings;
use switchyard_model::Secret;

const PASSWORD: &str = "pw-Zq8vKx3-never-printed";
const TOKEN: &str = "syadmin_tok-7Hd2Qm9-never-printed";

/// Asserts neither secret appears in either `Debug` form, and `***` does.
fn masked(what: &str, value: &dyn std::fmt::Debug) {
    for text in [format!("{value:?}"), format!("{value:#?}")] {
        for secret in [PASSWORD, TOKEN] {
            assert!(!text.contains(secret), "{what} shows a secret: {text}");
        }
        assert!(text.contains("***"), "{what} has no mask: {text}");
    }
}

#[test]
fn ctl_arguments_never_print_a_secret() {
    let cli = Cli::try_parse_from([
        "ctl",
        "--token",
        TOKEN,
        "pool",
        "add",
        "p",
        "--algo",
        "sha256",
        "--url",
        "stratum+tcp://127.0.0.1:1",
        "--username",
        "u",
        "--password",
        PASSWORD,
    ])
    .expect("valid arguments");
    masked("ctl Cli (pool add)", &cli);
    let cli = Cli::try_parse_from([
        "ctl",
        "pool",
        "update",
        "p",
        "--password",
        PASSWORD,
        "--token",
        TOKEN,
    ])
    .expect("valid arguments");
    masked("ctl Cli (pool update)", &cli);
    assert_eq!(
        cli.globals.token.as_ref().map(Secret::expose),
        Some(TOKEN),
        "the parsed token is still usable"
    );
    let settings = Settings {
        endpoint: "http://127.0.0.1:1".into(),
        token: cli.globals.token,
        token_file: None,
        ca_file: None,
    };
    masked("ctl Settings", &settings);
}
