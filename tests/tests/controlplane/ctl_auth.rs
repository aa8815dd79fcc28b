//! How `ctl` finds its token and endpoint against a real control plane: the
//! three token sources and their precedence, a missing, wrong or site token,
//! and an endpoint nobody listens on (exit 3).

use switchyard_tests::cp::{ControlPlane, ctl_raw};

#[tokio::test]
async fn every_token_source_works_and_a_missing_or_wrong_one_is_explained() {
    let cp = ControlPlane::start().await;
    let token = cp.admin_token();
    assert!(token.starts_with("syadmin_"), "{token}");

    let missing = cp.ctl_env(&["status"], &[]).await;
    let err = missing.fails(2);
    assert!(
        err.contains("no admin token")
            && err.contains("--token")
            && err.contains("SWITCHYARD_TOKEN"),
        "{err}"
    );
    assert_eq!(missing.stdout, "");

    let env = cp
        .ctl_env(&["-o", "json", "status"], &[("SWITCHYARD_TOKEN", &token)])
        .await;
    assert_eq!(env.json()["sites"], 1);
    let flag = cp.ctl_env(&["site", "list", "--token", &token], &[]).await;
    assert!(flag.ok().contains("default"), "{flag:?}");
    let padded = cp.write("padded.token", &format!("\n  {token}  \n"));
    let file = cp
        .ctl_env(
            &["--token-file", padded.to_str().unwrap(), "pool", "list"],
            &[],
        )
        .await;
    assert!(file.ok().contains("btc"), "{file:?}");

    // --token wins over --token-file, which wins over the environment.
    let wrong_file = cp.write("wrong.token", "syadmin_wrong\n");
    let wins = cp
        .ctl_env(
            &[
                "--token",
                &token,
                "--token-file",
                wrong_file.to_str().unwrap(),
                "status",
            ],
            &[("SWITCHYARD_TOKEN", "x")],
        )
        .await;
    wins.ok();
    let file_wins = cp
        .ctl_env(
            &["--token-file", padded.to_str().unwrap(), "status"],
            &[("SWITCHYARD_TOKEN", "syadmin_wrong")],
        )
        .await;
    file_wins.ok();

    let wrong = cp
        .ctl_env(&["status"], &[("SWITCHYARD_TOKEN", "syadmin_wrong")])
        .await;
    let err = wrong.fails(1);
    assert!(
        err.starts_with("error: invalid admin token") && err.contains("--token-file"),
        "{err}"
    );
    let wrong = cp
        .ctl_env(
            &[
                "--token-file",
                wrong_file.to_str().unwrap(),
                "site",
                "add",
                "x",
                "--timezone",
                "UTC",
            ],
            &[],
        )
        .await;
    assert!(wrong.fails(1).contains("invalid admin token"), "{wrong:?}");
    // A site's data-plane token is not an admin token.
    let site = cp
        .ctl_env(&["status", "--token", &cp.site_token("default")], &[])
        .await;
    assert!(site.fails(1).contains("invalid admin token"), "{site:?}");
    let sites = cp.ctl(&["-o", "json", "site", "list"]).await.json();
    assert_eq!(
        sites.as_array().unwrap().len(),
        1,
        "the refused add changed nothing"
    );

    let nofile = cp
        .ctl_env(&["status", "--token-file", "/nonexistent/admin.token"], &[])
        .await;
    assert!(
        nofile
            .fails(2)
            .contains("cannot read --token-file /nonexistent/admin.token"),
        "{nofile:?}"
    );
    let empty = cp.write("empty.token", "  \n");
    let empty = cp
        .ctl_env(&["status", "--token-file", empty.to_str().unwrap()], &[])
        .await;
    assert!(empty.fails(2).contains("is empty"), "{empty:?}");
}

#[tokio::test]
async fn the_endpoint_comes_from_the_flag_or_the_environment_and_an_unreachable_one_exits_3() {
    let mut cp = ControlPlane::start().await;
    let token = cp.admin_token();
    // host:port without a scheme means http://.
    let bare = cp.addr.to_string();
    let out = ctl_raw(&["--endpoint", &bare, "--token", &token, "status"], &[]).await;
    assert!(
        out.ok().contains(&format!("endpoint      http://{bare}")),
        "{out:?}"
    );
    let out = ctl_raw(
        &["status"],
        &[
            ("SWITCHYARD_ENDPOINT", &cp.endpoint),
            ("SWITCHYARD_TOKEN", &token),
        ],
    )
    .await;
    out.ok();

    let bad = ctl_raw(
        &[
            "--endpoint",
            "ftp://127.0.0.1:1",
            "--token",
            &token,
            "status",
        ],
        &[],
    )
    .await;
    assert!(bad.fails(2).contains("--endpoint"), "{bad:?}");

    assert!(cp.stop().await.success());
    let endpoint = cp.endpoint.clone();
    let down = ctl_raw(
        &["--endpoint", &endpoint, "--token", &token, "site", "list"],
        &[],
    )
    .await;
    let err = down.fails(3);
    assert!(
        err.contains(&format!("cannot reach the control plane at {endpoint}")),
        "{err}"
    );
    assert!(err.contains("SWITCHYARD_ENDPOINT"), "{err}");
    let down = ctl_raw(
        &["-o", "json", "shares"],
        &[
            ("SWITCHYARD_ENDPOINT", &endpoint),
            ("SWITCHYARD_TOKEN", &token),
        ],
    )
    .await;
    down.fails(3);
}
