//! The `controlplane` binary's own commands: `init` (sample config, database
//! and an admin token kept across runs), `validate`, and a background
//! `start` managed with `status` and `stop` through the pid file alone.

use std::path::Path;

use switchyard_tests::cp::{PidGuard, alive, controlplane, ctl_raw, sample_config};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The line after `admin token (shown once; ...):`.
fn printed_token(stdout: &str) -> Option<String> {
    let mut lines = stdout.lines();
    lines.find(|l| l.starts_with("admin token (shown once"))?;
    lines.next().map(|t| t.trim().to_string())
}

#[tokio::test]
async fn init_writes_the_sample_and_a_token_once_and_keeps_both_on_a_second_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let token_file = dir.path().join("switchyard.db.admin-token");

    let first = controlplane(&["init", "--config", s(&config)]).await;
    let text = first.ok();
    assert!(
        text.contains(&format!("wrote a sample config to {}", config.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "database: {}",
            dir.path().join("switchyard.db").display()
        )),
        "{text}"
    );
    let token = printed_token(text).unwrap_or_else(|| panic!("no token in {text}"));
    assert!(token.starts_with("syadmin_"), "{token}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), sample_config());
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    std::fs::write(&config, sample_config().replace("port: 3401", "port: 3999")).unwrap();
    let second = controlplane(&["init", "--config", s(&config)]).await;
    let text = second.ok();
    assert!(text.contains("exists; left as it is"), "{text}");
    assert!(
        text.contains("the database already has an admin token"),
        "{text}"
    );
    assert!(
        printed_token(text).is_none() && !text.contains(&token),
        "{text}"
    );
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("port: 3999"),
        "the edited config stays"
    );
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), token);

    let rotated = controlplane(&["init", "--config", s(&config), "--new-admin-token"]).await;
    let new = printed_token(rotated.ok()).expect("a new token");
    assert_ne!(new, token);
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), new);

    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "servers:\n  sha256:\n    - name: a\n      port: 70000\n",
    )
    .unwrap();
    let out = controlplane(&[
        "init",
        "--config",
        s(&broken),
        "--db",
        s(&dir.path().join("other.db")),
    ])
    .await;
    let err = out.fails(1);
    assert!(
        err.contains("problem(s)") && err.contains("servers.sha256[0].port"),
        "{err}"
    );
}

#[tokio::test]
async fn validate_exits_0_for_the_sample_and_2_listing_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, sample_config()).unwrap();
    let out = controlplane(&["validate", s(&good)]).await;
    assert_eq!(out.ok(), format!("{}: ok\n", good.display()));

    let bad = dir.path().join("bad.yaml");
    let text = sample_config()
        .replace("port: 3401", "port: 0")
        .replace("start: \"12:00\"", "start: \"13:00\"")
        .replace("level: \"INFO\"", "level: \"CHATTY\"");
    std::fs::write(&bad, text).unwrap();
    let out = controlplane(&["validate", s(&bad)]).await;
    let err = out.fails(2);
    assert_eq!(err, format!("{}: 3 problem(s)\n", bad.display()));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("servers.sha256[0].port:")),
        "{}",
        out.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("logging.level:") && l.contains("CHATTY")),
        "{}",
        out.stdout
    );
    assert!(
        lines.iter().any(|l| l.contains("gap 12:00-13:00")
            && l.contains("btc 00:00-12:00")
            && l.contains("bch 13:00-24:00")),
        "{}",
        out.stdout
    );

    // start checks the file the same way, before anything runs.
    let start = controlplane(&[
        "start",
        "--config",
        s(&bad),
        "--db",
        s(&dir.path().join("x.db")),
        "--pid-file",
        s(&dir.path().join("x.pid")),
    ])
    .await;
    let err = start.fails(1);
    assert!(
        err.contains("3 problem(s)") && err.contains("servers.sha256[0].port"),
        "{err}"
    );
    assert!(!dir.path().join("x.pid").exists() && !dir.path().join("x.db").exists());

    let missing = controlplane(&["validate", s(&dir.path().join("nope.yaml"))]).await;
    assert!(missing.fails(1).contains("cannot read"), "{missing:?}");
}

#[tokio::test]
async fn a_background_start_is_managed_by_status_and_stop_through_the_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let db = dir.path().join("switchyard.db");
    let pid_file = dir.path().join("cp.pid");
    let log = dir.path().join("cp.log");
    let init = controlplane(&["init", "--config", s(&config)]).await;
    let token = printed_token(init.ok()).expect("token");

    let start_args = [
        "start",
        "--config",
        s(&config),
        "--db",
        s(&db),
        "--listen",
        "127.0.0.1:0",
        "--no-dataplane",
        "--pid-file",
        s(&pid_file),
        "--log-file",
        s(&log),
    ];
    let started = controlplane(&start_args).await;
    let text = started.ok().to_string();
    let pid: i32 = text
        .strip_prefix("controlplane started in the background (pid ")
        .and_then(|r| r.split_once(')'))
        .and_then(|(p, _)| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {text:?}"));
    let _guard = PidGuard(pid);
    assert!(
        text.contains(&format!("logging to {}", log.display())),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );
    assert!(
        alive(pid),
        "the background control plane runs after start returned"
    );

    // It serves: its address is in the log before the pid file is written.
    let logged = std::fs::read_to_string(&log).unwrap();
    let addr = logged
        .split("control plane listening addr=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in the log:\n{logged}"))
        .to_string();
    let status = ctl_raw(
        &[
            "--endpoint",
            &addr,
            "--token",
            &token,
            "-o",
            "json",
            "status",
        ],
        &[],
    )
    .await
    .json();
    assert_eq!(status["database"], db.display().to_string());

    // stop and status need only the pid file, no config.
    let running = controlplane(&["status", "--pid-file", s(&pid_file)]).await;
    assert_eq!(running.ok(), format!("running (pid {pid})\n"));

    let again = controlplane(&start_args).await;
    let err = again.fails(1);
    assert!(
        err.contains("already running") && err.contains(&pid.to_string()),
        "{err}"
    );
    assert!(alive(pid));
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );

    let stopped = controlplane(&["stop", "--pid-file", s(&pid_file)]).await;
    assert_eq!(stopped.ok(), format!("stopped (pid {pid})\n"));
    assert!(!alive(pid), "the process is gone once stop returns");
    assert!(!pid_file.exists());
    let status = controlplane(&["status", "--pid-file", s(&pid_file)]).await;
    assert_eq!(status.code, 3, "{status:?}");
    assert_eq!(status.stdout, "not running\n");
    let idle = controlplane(&["stop", "--pid-file", s(&pid_file)]).await;
    assert_eq!(idle.ok(), "not running\n");

    // The final statistics report is in the log, written at shutdown.
    let logged = std::fs::read_to_string(&log).unwrap();
    let report = logged
        .rfind("PROXY STATISTICS site default sha256")
        .expect("the final report");
    assert!(
        report > logged.find("stopping").expect("the stop is logged"),
        "{logged}"
    );
    assert!(
        logged[report..].contains("Server: btc") && logged[report..].contains("Server: bch"),
        "{logged}"
    );
}

#[tokio::test]
async fn status_and_stop_treat_a_damaged_or_stale_pid_file_as_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("cp.pid");
    // 0 and negative numbers are no process (to kill(2), -1 is every
    // process the user may signal): not running, and nothing is signalled.
    for text in ["-1\n", "0\n", "not a pid\n"] {
        std::fs::write(&pid_file, text).unwrap();
        let status = controlplane(&["status", "--pid-file", s(&pid_file)]).await;
        assert_eq!(status.code, 3, "{text:?}: {status:?}");
        assert_eq!(status.stdout, "not running\n", "{text:?}");
    }

    // A pid that has exited: the stale pid file is removed.
    let mut gone = std::process::Command::new(switchyard_tests::cp::bin("controlplane"))
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    std::fs::write(&pid_file, format!("{pid}\n")).unwrap();
    let stop = controlplane(&["stop", "--pid-file", s(&pid_file)]).await;
    assert_eq!(stop.ok(), "not running\n");
    assert!(!pid_file.exists(), "the stale pid file is removed");
}
