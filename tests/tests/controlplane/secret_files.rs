//! The files that hold secrets are readable by their owner only (unix
//! modes; SECURITY.md, "Files"): the admin token, the site tokens, the
//! SQLite database with its WAL (pool passwords in clear) and a linked data
//! plane's persisted plan (the pools' passwords too). A file created with
//! default permissions would show the umask's (0644 under the usual 022).

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use switchyard_controlplane::{admin_token_file, site_token_file};
use switchyard_tests::linked::{control_plane, linked_dataplane};

const TWO_SITES: &str = r#"
servers:
  sha256:
    - { name: apool, host: "127.0.0.1", port: 1, username: "a.user", password: "a-pool-secret", start: "00:00", end: "12:00" }
    - { name: bpool, host: "127.0.0.1", port: 2, username: "b.user", password: "b-pool-secret", start: "12:00", end: "24:00" }
sites:
  - { name: a, timezone: "UTC" }
  - { name: b, timezone: "UTC" }
"#;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn token_files_and_the_database_are_readable_by_their_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("switchyard.db");
    let cp = control_plane(dir.path(), TWO_SITES).await;
    // A write, so the WAL and its index exist.
    cp.store().check_writable().await.unwrap();
    let mut files = vec![admin_token_file(&db), db.clone()];
    files.extend(["a", "b"].map(|s| site_token_file(&db, s)));
    for suffix in ["-wal", "-shm"] {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        files.push(p.into());
    }
    let modes: Vec<(String, u32)> = files
        .iter()
        .map(|f| (f.display().to_string(), mode(f)))
        .collect();
    for (f, m) in &modes {
        assert_eq!(*m, 0o600, "{f} is {m:o}: {modes:?}");
    }
    cp.shutdown().await;
}

#[tokio::test]
async fn a_token_file_that_exists_with_a_looser_mode_is_made_private_when_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("switchyard.db");
    // Left from another database, world-readable.
    let stale = admin_token_file(&db);
    std::fs::write(&stale, "old\n").unwrap();
    std::fs::set_permissions(&stale, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cp = control_plane(dir.path(), TWO_SITES).await;
    let token = std::fs::read_to_string(&stale).unwrap();
    assert!(token.starts_with("syadmin_"), "rewritten: {token}");
    assert_eq!(mode(&stale), 0o600, "{:o}", mode(&stale));
    cp.shutdown().await;
}

#[tokio::test]
async fn a_linked_data_planes_persisted_plan_is_readable_by_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), TWO_SITES).await;
    let dp = linked_dataplane(dir.path(), cp.addr(), "a").await;
    let state = dir.path().join("dp-a");
    let plan = state.join("plan.pb");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !plan.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no plan.pb in {}",
            state.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bytes = std::fs::read(&plan).unwrap();
    assert!(
        bytes.windows(13).any(|w| w == b"a-pool-secret"),
        "the plan holds the pool's password"
    );
    assert_eq!(mode(&plan), 0o600, "plan.pb is {:o}", mode(&plan));
    assert_eq!(mode(&state.join("dataplane-id")), 0o600);
    dp.shutdown(Duration::from_secs(2)).await;
    cp.shutdown().await;
}

#[tokio::test]
async fn a_config_export_written_by_ctl_is_readable_by_its_owner_only() {
    let cp = switchyard_tests::cp::ControlPlane::start().await;
    let fresh = cp.path("export.yaml");
    // One that existed, world-readable.
    let old = cp.write("old-export.yaml", "old\n");
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    for file in [&fresh, &old] {
        cp.ctl(&["config", "export", "--file", file.to_str().unwrap()])
            .await
            .ok();
        let yaml = std::fs::read_to_string(file).unwrap();
        assert!(
            yaml.contains("password"),
            "the export holds passwords: {yaml}"
        );
        assert_eq!(mode(file), 0o600, "{}: {:o}", file.display(), mode(file));
    }
}

#[tokio::test]
async fn the_sample_config_written_by_init_is_readable_by_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchyard.yaml");
    let db = dir.path().join("switchyard.db");
    let out = switchyard_tests::cp::controlplane(&[
        "init",
        "--config",
        &config.display().to_string(),
        "--db",
        &db.display().to_string(),
    ])
    .await;
    out.ok();
    // It holds the pools' passwords once edited.
    assert_eq!(mode(&config), 0o600);
}
