//! Unit tests of the platform-independent daemon logic: pid file parsing,
//! stale pid files, stop requests and the Windows `tasklist` reading.

use super::*;

#[test]
fn a_pid_file_holds_one_positive_pid() {
    assert_eq!(parse_pid("4242\n"), Some(4242));
    assert_eq!(parse_pid(" 4242\r\n"), Some(4242));
    // 0 and negatives name process groups or every process to kill(2).
    assert_eq!(parse_pid("0\n"), None);
    assert_eq!(parse_pid("-1\n"), None);
    assert_eq!(parse_pid("-4242"), None);
    assert_eq!(parse_pid(""), None);
    assert_eq!(parse_pid("pid 4242"), None);
    assert_eq!(parse_pid("99999999999"), None);
}

#[test]
fn a_damaged_pid_file_is_not_running_and_a_stale_one_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("cp.pid");
    for text in ["-1\n", "0\n", "garbage\n"] {
        std::fs::write(&pid_file, text).unwrap();
        assert_eq!(read_pid(&pid_file), None, "{text:?}");
        assert_eq!(running(&pid_file), None, "{text:?}");
    }
    assert!(!alive(-1) && !alive(0));
    // A pid no process has: a child (this binary listing its tests) that
    // has exited and been reaped.
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--list")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let dead = child.id() as i32;
    child.wait().unwrap();
    std::fs::write(&pid_file, format!("{dead}\n")).unwrap();
    assert_eq!(running(&pid_file), None);
    assert!(!pid_file.exists(), "a stale pid file is removed");
    assert_eq!(stop(&pid_file, Duration::from_secs(1)).unwrap(), None);
}

#[test]
fn our_own_pid_file_runs_and_is_removed_with_its_stop_request_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("run").join("cp.pid");
    let me = std::process::id() as i32;
    let guard = write_pid_file(&pid_file).unwrap();
    assert_eq!(read_pid(&pid_file), Some(me));
    assert_eq!(running(&pid_file), Some(me));
    request_stop(&pid_file, me).unwrap();
    drop(guard);
    assert!(!pid_file.exists());
    assert!(!stop_request_file(&pid_file).exists());
}

#[test]
fn a_stop_request_is_for_one_pid_and_a_new_instance_clears_a_stale_one() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("cp.pid");
    let me = std::process::id() as i32;
    assert_eq!(stop_request_file(&pid_file), dir.path().join("cp.pid.stop"));
    assert!(!stop_requested(&pid_file));
    request_stop(&pid_file, me + 1).unwrap();
    assert!(!stop_requested(&pid_file), "meant for another process");
    let _guard = write_pid_file(&pid_file).unwrap();
    assert!(
        !stop_request_file(&pid_file).exists(),
        "a start removes a request left behind"
    );
    request_stop(&pid_file, me).unwrap();
    assert!(stop_requested(&pid_file));
}

// Paused time: the poll's sleeps and the wait below advance a virtual
// clock, so "not before the request" is checked over many polls at once.
#[tokio::test(start_paused = true)]
async fn stop_request_resolves_once_the_request_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("cp.pid");
    let waiting = tokio::spawn({
        let pid_file = pid_file.clone();
        async move { stop_request(&pid_file).await }
    });
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!waiting.is_finished(), "no request, no stop (40 polls)");
    request_stop(&pid_file, std::process::id() as i32).unwrap();
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the request is seen")
        .unwrap();
}

#[test]
fn tasklist_rows_give_the_image_of_one_pid_in_any_language() {
    let out = "\r\n\"controlplane.exe\",\"4242\",\"Console\",\"1\",\"12,345 K\"\r\n\
               \"svchost.exe\",\"42\",\"Services\",\"0\",\"9,000 K\"\r\n";
    assert_eq!(
        tasklist::image_of(out, 4242).as_deref(),
        Some("controlplane.exe")
    );
    assert_eq!(tasklist::image_of(out, 42).as_deref(), Some("svchost.exe"));
    assert_eq!(tasklist::image_of(out, 424), None);
    assert_eq!(
        tasklist::image_of(
            "INFO: No tasks are running which match the specified criteria.\r\n",
            4242
        ),
        None
    );
    assert_eq!(
        tasklist::image_of(
            "INFORMATION: Es werden keine Aufgaben ausgeführt.\r\n",
            4242
        ),
        None
    );
    assert_eq!(
        tasklist::image_of("\"a,\"\"b\"\".exe\",\"7\",\"Console\"\r\n", 7).as_deref(),
        Some("a,\"b\".exe")
    );
    assert!(tasklist::same_image("ControlPlane.EXE", "controlplane.exe"));
    assert!(!tasklist::same_image("cmd.exe", "controlplane.exe"));
}

#[cfg(unix)]
#[test]
fn the_pid_files_private_dir_is_created_closed_and_refused_when_open_or_foreign() {
    use std::os::unix::fs::PermissionsExt;
    let base = tempfile::tempdir().unwrap();
    // Missing: created 0700.
    let d = base.path().join("switchyard-test");
    platform::private_dir(&d).unwrap();
    let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    platform::private_dir(&d).unwrap();
    // Open to others: refused, naming the mode.
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = platform::private_dir(&d).unwrap_err().to_string();
    assert!(
        e.contains("open to other users") && e.contains("755"),
        "{e}"
    );
    // A symlink planted in its place: refused.
    let link = base.path().join("planted");
    std::os::unix::fs::symlink(base.path(), &link).unwrap();
    let e = platform::private_dir(&link).unwrap_err().to_string();
    assert!(e.contains("not a directory"), "{e}");
    // Another user's (only root can make one here): refused.
    if rustix::process::getuid().is_root() {
        let theirs = base.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let e = platform::private_dir(&theirs).unwrap_err().to_string();
        assert!(e.contains("belongs to uid 65534"), "{e}");
    } else {
        eprintln!("not root: the foreign-owner case needs chown, not checked in this run");
    }
}
