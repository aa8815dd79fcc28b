//! The control plane's link cut (blackholed) across a scheduled switch: the
//! data plane switches at the instant on its own clock, its spool grows
//! while the link is down, and after the link returns every share event
//! reaches the ledger exactly once. The cut lasts 60 s, or the 10
//! minutes with `SWITCHYARD_CHAOS_FULL=1` (`chaos/run.sh --full`).

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use switchyard_tests::netns::lab_or_skip;

use crate::common::*;

/// How long the control plane's link stays cut.
fn cut_length() -> Duration {
    if std::env::var_os("SWITCHYARD_CHAOS_FULL").is_some() {
        Duration::from_secs(600)
    } else {
        Duration::from_secs(60)
    }
}

#[tokio::test]
async fn control_plane_link_cut_across_a_scheduled_switch() {
    let test = "control_plane_link_cut_across_a_scheduled_switch";
    let Some(lab) = lab_or_skip(test) else {
        return;
    };
    // Build first, so the shifted clocks are not eaten by a build.
    switchyard_tests::cp::bin("dataplane");
    // Both children see 11:59:35 UTC about now; the switch is at 12:00.
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 11, 59, 35).unwrap();
    let offset_ms = (start - Utc::now()).num_milliseconds();
    let child_now = move || Utc::now() + chrono::Duration::milliseconds(offset_ms);
    let noon = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    let offset = offset_ms.to_string();
    let env = [("SWITCHYARD_CLOCK_OFFSET_MS", offset.as_str())];
    let servers = |ips: &[std::net::Ipv4Addr]| {
        format!(
            "    - {{ name: a, host: \"{}\", port: {STRATUM}, username: \"farm.a\", password: \"x\", start: \"00:00\", end: \"12:00\" }}\n    - {{ name: b, host: \"{}\", port: {STRATUM}, username: \"farm.b\", password: \"x\", start: \"12:00\", end: \"24:00\" }}\n",
            ips[0], ips[1]
        )
    };
    let s = Linked::start(
        lab,
        &["a", "b"],
        "timezone: \"UTC\", grace_period: 20, switch_lead: 2",
        servers,
        None,
        "",
        &env,
    )
    .await;
    let (a, b) = (&s.pools[0], &s.pools[1]);
    let work = Workload::start(miners(s.dp().miners).await);
    work.wait_for(30, T).await;
    a.wait_for_accepted(1, T).await.unwrap();
    // Cut 5 s before the switch (the data plane already has the plan).
    let cut_at = noon - chrono::Duration::seconds(5);
    let to_cut = (cut_at - child_now())
        .to_std()
        .expect("the setup took too long: past 11:59:55");
    tokio::time::sleep(to_cut).await;
    let spool_before = s.dp().status().await["spool"]["events"]
        .as_u64()
        .unwrap_or(0);
    s.lab.blackhole("dp", s.cp_ip);
    let cut = Instant::now();
    eprintln!(
        "control plane link cut at {} (data plane clock)",
        child_now()
    );

    // The switch, on time, with the control plane unreachable.
    b.wait_for_accepted(1, Duration::from_secs(30))
        .await
        .unwrap();
    let switched = child_now();
    eprintln!("first share on pool b at {switched} (switch at {noon})");
    assert!(switched >= noon, "switched before the instant: {switched}");
    assert!(
        switched < noon + chrono::Duration::seconds(3),
        "switch late: {switched}"
    );

    // The spool grows while the link is down.
    let grown = until("the spool grows", T, || async {
        let n = s.dp().status().await["spool"]["events"]
            .as_u64()
            .unwrap_or(0);
        (n > spool_before + 50).then_some(n)
    })
    .await;
    eprintln!("spool: {spool_before} events at the cut, {grown} later");
    let length = cut_length();
    tokio::time::sleep(length.saturating_sub(cut.elapsed())).await;
    let spooled = s.dp().status().await["spool"].clone();
    eprintln!("after {:?} cut: spool {spooled}", cut.elapsed());
    s.lab.nft_clear("dp");
    let restored = Instant::now();
    let n = work.count();
    work.wait_for(n + 30, T).await;
    let (answers, _miners) = work.finish().await;
    // TCP's retransmission backoff after a long blackhole can be two
    // minutes; the bound allows for it.
    let rows = s
        .wait_ledger_equals(&answers, Duration::from_secs(240))
        .await;
    eprintln!(
        "after the link returned: {} shares answered, all {} in the ledger within {:.1} s",
        answers.len(),
        rows.len(),
        restored.elapsed().as_secs_f64()
    );
    let on_b = rows.iter().filter(|r| r["pool"] == "b").count();
    assert!(on_b > 0, "shares after the switch are credited to b");
    let status = s.dp().status().await;
    assert_eq!(status["spool"]["lost"], 0, "{}", status["spool"]);
    until("the spool drains", T, || async {
        let st = s.dp().status().await;
        (st["spool"]["events"].as_u64() == Some(0)).then_some(())
    })
    .await;
}
