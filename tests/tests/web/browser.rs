//! The web view in a real Chromium (headless, through ChromeDriver): the
//! real control plane in single-machine mode with a scripted pool and a
//! mining miner; sign in; the overview shows the current pool, a hashrate
//! and the worker counts; an override set through the site page moves the
//! hashrate (`ctl schedule show` and `ctl status` agree); a schedule with
//! a gap is refused under its field; a breaker opened and reset from the
//! pools page (`ctl breaker list` agrees); the pages fit a phone's width.
//! A screenshot of each page is saved under `target/tmp/web-screenshots/`. Without Chromium or ChromeDriver the test
//! says SKIPPED, and fails under `SWITCHYARD_CI`. The same test runs in
//! Firefox with `SWITCHYARD_WEB_BROWSER=firefox`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use switchyard_tests::tools::tool;
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};
use tokio::process::{Child, Command};

use crate::access::farm;

const T: Duration = Duration::from_secs(60);

/// The browser: Chromium through ChromeDriver (what CI runs), or with
/// `SWITCHYARD_WEB_BROWSER=firefox` Firefox through geckodriver
/// (`apt-get install firefox-esr`, `cargo install geckodriver`).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chromium,
    Firefox,
}

/// The WebDriver server on a free loopback port, killed on drop.
struct Driver {
    _child: Child,
    url: String,
    kind: Kind,
    browser: PathBuf,
    profile: tempfile::TempDir,
}

async fn driver() -> Option<Driver> {
    let kind = match std::env::var("SWITCHYARD_WEB_BROWSER").as_deref() {
        Ok("firefox") => Kind::Firefox,
        _ => Kind::Chromium,
    };
    let (server, browser) = match kind {
        Kind::Chromium => (
            tool("chromedriver", "chromium-driver")?,
            tool("chromium", "chromium")?,
        ),
        Kind::Firefox => (
            tool("geckodriver", "geckodriver (cargo install geckodriver)")?,
            tool("firefox-esr", "firefox-esr")?,
        ),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&server)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the WebDriver server");
    // Ready when it accepts a connection.
    tokio::time::timeout(T, async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the WebDriver server listens");
    Some(Driver {
        _child: child,
        url: format!("http://127.0.0.1:{port}"),
        kind,
        browser,
        profile: tempfile::tempdir().expect("profile dir"),
    })
}

/// A browser session; `width`x`height` CSS pixels (a phone: 390x844).
async fn browser(d: &Driver, width: u32, height: u32) -> Client {
    let profile = d.profile.path().join(format!("p{width}"));
    let mut caps = serde_json::Map::new();
    match d.kind {
        Kind::Chromium => caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": d.browser,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={width},{height}"),
                ],
                // Below 500 pixels the window is not narrowed: a phone's
                // viewport is emulated instead.
                "mobileEmulation": {
                    "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0 },
                },
            }),
        ),
        Kind::Firefox => {
            std::fs::create_dir_all(&profile).expect("profile dir");
            caps.insert(
                "moz:firefoxOptions".into(),
                json!({
                    "binary": d.browser,
                    "args": [
                        "-headless", "-profile", profile,
                        format!("--width={width}"), format!("--height={height}"),
                    ],
                }),
            )
        }
    };
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&d.url)
        .await
        .expect("a browser session through the WebDriver server");
    if d.kind == Kind::Firefox {
        c.set_window_size(width, height).await.expect("window size");
    }
    c
}

fn shots() -> PathBuf {
    let mut dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    if std::env::var("SWITCHYARD_WEB_BROWSER").as_deref() == Ok("firefox") {
        dir.push("firefox");
    }
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = shots().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("save the screenshot");
    eprintln!("screenshot: {}", path.display());
}

/// Evaluates `expr` in the page until `ok` holds for its value (the page
/// redraws on its own timer: there is nothing to await but the DOM).
async fn until(c: &Client, expr: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let v = c
            .execute(&format!("return {expr};"), vec![])
            .await
            .unwrap_or(Value::Null);
        if ok(&v) {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            shot(c, "until-failed").await;
            let page = c
                .execute("return document.body.innerText;", vec![])
                .await
                .unwrap_or(Value::Null);
            panic!("the page never showed what {expr} waits for; last: {v}; the page:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn text(sel: &str) -> String {
    format!("(document.querySelector({sel:?})||{{}}).textContent||''")
}

async fn click(c: &Client, sel: &str) {
    c.find(Locator::Css(sel))
        .await
        .unwrap_or_else(|e| panic!("{sel}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {sel}: {e}"));
}

async fn select(c: &Client, sel: &str, value: &str) {
    c.find(Locator::Css(sel))
        .await
        .unwrap_or_else(|e| panic!("{sel}: {e}"))
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("select {value} in {sel}: {e}"));
}

async fn present(c: &Client, sel: &str, what: &str) {
    c.wait()
        .at_most(T)
        .for_element(Locator::Css(sel))
        .await
        .unwrap_or_else(|e| panic!("{what} ({sel}): {e}"));
}

async fn sign_in(c: &Client, http: SocketAddr, token: &str) {
    c.goto(&format!("http://{http}/"))
        .await
        .expect("open the page");
    present(c, "#token", "the sign-in page").await;
    c.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    click(c, "form.signin button").await;
    // Polled, errors and all: while the form's POST and its redirect
    // navigate, a lookup can fail for reasons other than absence.
    until(c, "!!document.querySelector('#problems')", |v| v == true).await;
}

#[tokio::test]
async fn an_operator_sees_the_farm_and_moves_its_hashrate_from_the_page() {
    let Some(d) = driver().await else { return };
    let (_pool, _dir, sm) = farm().await;
    let http = sm.http.expect("http_listen is set");
    // A second pool to move the hashrate to.
    let backup = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let port = backup.addr().port().to_string();
    sm.ctl_json(&[
        "pool",
        "add",
        "backup",
        "--algo",
        "sha256",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--username",
        "farm.backup",
        "--password",
        "x",
    ])
    .await;
    // A miner mines; its shares reach the history.
    let mut m = ScriptedMiner::ready(sm.miners("sha256"), "cgminer/4.11.1", "farm.rig1")
        .await
        .unwrap();
    for _ in 0..5 {
        let share = m.find_share().await.unwrap();
        assert!(m.submit(&share).await.unwrap().is_ok());
    }
    sm.wait_for_shares().await;

    let c = browser(&d, 1280, 1000).await;
    sign_in(&c, http, &sm.admin_token()).await;
    // The overview: the current pool and why, a hashrate, one worker online.
    let site = "section.site[data-site=default] tr[data-algorithm=ALGORITHM_SHA256]";
    let pool = until(&c, &text(&format!("{site} .current-pool")), |v| v == "main").await;
    assert_eq!(pool, "main");
    let rate = until(&c, &text(&format!("{site} .hashrate-15m")), |v| {
        v.as_str()
            .is_some_and(|s| s.ends_with("H/s") && !s.starts_with("0 "))
    })
    .await;
    eprintln!("overview hashrate: {rate}");
    until(&c, &text(&format!("{site} .miners")), |v| v == "1 / 0 / 0").await;
    let why = until(&c, &text(&format!("{site} .pill")), |v| v != "").await;
    assert_eq!(why, "schedule");
    shot(&c, "overview").await;

    // The site page: the timeline, then an override to the backup pool.
    c.goto(&format!("http://{http}/#/site/default"))
        .await
        .unwrap();
    present(&c, "#timeline svg rect.segment", "the 48-hour timeline").await;
    present(&c, "#workers table.workers", "the workers table").await;
    let workers = until(&c, &text("#workers table.workers tbody"), |v| {
        v.as_str().is_some_and(|s| s.contains("farm.rig1"))
    })
    .await;
    assert!(workers.as_str().unwrap().contains("online"), "{workers}");
    shot(&c, "site").await;
    select(&c, "#override-pool-sha256", "backup").await;
    click(&c, "#override-sha256 button[type=submit]").await;
    // The site page's own state row follows the new plan.
    let row = "tr[data-algorithm=ALGORITHM_SHA256] .current-pool";
    until(&c, &text(row), |v| v == "backup").await;
    // ctl agrees.
    let show = sm
        .ctl_json(&["schedule", "show", "--site", "default"])
        .await;
    assert!(show.to_string().contains("backup"), "the override: {show}");
    let status = sm.ctl_json(&["status"]).await;
    assert!(status.to_string().contains("\"backup\""), "{status}");
    shot(&c, "site-override").await;

    // A schedule with a gap: refused with the same validation as ctl, the
    // error shown under the field, the schedule unchanged.
    let input = c.find(Locator::Css("#schedule-sha256")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("main@00:00-12:00").await.unwrap();
    click(&c, "#schedule-form-sha256 button[type=submit]").await;
    c.accept_alert().await.expect("the confirmation dialog");
    let err = until(&c, &text("#schedule-error-sha256"), |v| {
        v.as_str().is_some_and(|s| s.contains("12:00"))
    })
    .await;
    eprintln!("schedule error under the field: {err}");
    let show = sm
        .ctl_json(&["schedule", "show", "--site", "default"])
        .await;
    assert!(show.to_string().contains("24:00"), "unchanged: {show}");

    // A 70/30 window set from the page (the override cleared first): the
    // plan splits, and the page shows each pool's target and achieved part.
    click(&c, "#override-clear-sha256").await;
    until(&c, &text(row), |v| v == "main").await;
    let input = c.find(Locator::Css("#schedule-sha256")).await.unwrap();
    input.clear().await.unwrap();
    input
        .send_keys("main:70,backup:30@00:00-24:00")
        .await
        .unwrap();
    click(&c, "#schedule-form-sha256 button[type=submit]").await;
    c.accept_alert().await.expect("the confirmation dialog");
    let target = until(&c, &text("#split-sha256 tr[data-pool=main] .target"), |v| {
        v == "70.0 %"
    })
    .await;
    assert_eq!(target, "70.0 %");
    until(
        &c,
        &text("#split-sha256 tr[data-pool=backup] .target"),
        |v| v == "30.0 %",
    )
    .await;
    let field = c
        .execute(
            "return document.querySelector('#schedule-sha256').value;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(field, "main:70,backup:30@00:00-24:00");
    let show = sm
        .ctl_json(&["schedule", "show", "--site", "default"])
        .await;
    assert_eq!(show[0]["entries"][1]["weight"], 30, "{show}");
    shot(&c, "site-split").await;

    // The pools page: both pools, the breaker table.
    c.goto(&format!("http://{http}/#/pools")).await.unwrap();
    let pools = until(&c, &text("#pools tbody"), |v| {
        v.as_str()
            .is_some_and(|s| s.contains("main") && s.contains("backup"))
    })
    .await;
    assert!(pools.as_str().unwrap().contains("enabled"), "{pools}");
    // Neither pool is granted to particular sites.
    assert!(pools.as_str().unwrap().contains("all sites"), "{pools}");
    shot(&c, "pools").await;

    // Take main out of the site's rotation, then put it back.
    select(&c, "#breaker-pool", "main").await;
    click(&c, "#breaker-open button[type=submit]").await;
    c.accept_alert().await.expect("the confirmation dialog");
    let row = "#breakers tr[data-pool=main]";
    until(&c, &text(row), |v| {
        v.as_str().is_some_and(|s| s.contains("open"))
    })
    .await;
    let list = sm.ctl_json(&["breaker", "list"]).await;
    assert!(
        list.to_string().contains("\"open\""),
        "ctl sees it open: {list}"
    );
    shot(&c, "pools-breaker-open").await;
    click(&c, "#breaker-reset-default-main").await;
    until(&c, &text(row), |v| {
        v.as_str().is_some_and(|s| s.contains("closed"))
    })
    .await;
    let list = sm.ctl_json(&["breaker", "list"]).await;
    assert!(
        !list.to_string().contains("\"open\""),
        "ctl sees it closed: {list}"
    );
    // The data plane's connection to main, from its health report.
    let connects = until(&c, &text(&format!("{row} .connects")), |v| {
        v.as_str()
            .is_some_and(|s| !s.is_empty() && !s.starts_with("0 "))
    })
    .await;
    assert!(connects.as_str().unwrap().ends_with("/ 0"), "{connects}");
    c.close().await.unwrap();

    // At a phone's width the page fits: wide tables scroll in their card.
    let c = browser(&d, 390, 844).await;
    sign_in(&c, http, &sm.admin_token()).await;
    until(&c, &text(&format!("{site} .current-pool")), |v| v == "main").await;
    let fits = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        fits,
        Value::Bool(true),
        "the overview overflows a phone's width"
    );
    shot(&c, "overview-phone").await;
    c.close().await.unwrap();
    sm.stop().await;
}
