//! `ctl schedule set|show|preview` against a real control plane: whole-day
//! validation naming pools and times (a refused day changes nothing), and
//! previews with each switch in the site's zone and in UTC.

use chrono::{DateTime, Duration, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::json;
use switchyard_tests::cp::ControlPlane;

/// The instants in `(from, to]` where a site in `tz` with a day split at
/// 00:00 and 12:00 local switches.
fn local_switches(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<i64> {
    let mut out = Vec::new();
    let first = from.with_timezone(&tz).date_naive() - Duration::days(1);
    for d in 0..5 {
        let day = first + Duration::days(d);
        for h in [0, 12] {
            let local = day.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap());
            if let Some(t) = tz.from_local_datetime(&local).earliest() {
                let t = t.with_timezone(&Utc);
                if t > from && t <= to {
                    out.push(t.timestamp_millis());
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn a_day_is_set_whole_and_a_bad_one_names_pools_times_and_leaves_it() {
    let cp = ControlPlane::start().await;
    cp.ctl(&["site", "add", "farm-a", "--timezone", "America/Chicago"])
        .await
        .ok();
    let set = cp
        .ctl(&[
            "schedule",
            "set",
            "--site",
            "farm-a",
            "--algo",
            "sha256",
            "bch@22:00-6:00",
            "btc@06:00-22:00",
        ])
        .await;
    let text = set.ok();
    assert!(
        text.starts_with("schedule of farm-a sha256 set (plan version"),
        "{text}"
    );
    assert!(text.contains("bch   22:00  06:00"), "{text}");

    let show = cp.ctl(&["schedule", "show", "--site", "farm-a"]).await;
    let table = show.ok();
    assert!(table.contains("SCHEDULE (SITE TIME)"), "{table}");
    assert!(
        table.contains("farm-a  America/Chicago  sha256  btc@06:00-22:00 bch@22:00-06:00"),
        "{table}"
    );

    // A gap and an overlap: every problem, with the pools and the times.
    let bad = cp
        .ctl(&[
            "schedule",
            "set",
            "--site",
            "farm-a",
            "--algo",
            "sha256",
            "btc@00:00-13:00",
            "bch@12:00-20:00",
        ])
        .await;
    let err = bad.fails(1);
    assert!(
        err.contains("btc 00:00-13:00 overlaps bch 12:00-20:00 (12:00-13:00 covered by both)"),
        "{err}"
    );
    assert!(err.contains("gap 20:00-24:00"), "{err}");
    assert!(err.contains("schedule of site farm-a (sha256)"), "{err}");

    let unknown = cp
        .ctl(&[
            "schedule",
            "set",
            "--site",
            "farm-a",
            "--algo",
            "sha256",
            "btc@00:00-12:00",
            "ghost@12:00-24:00",
        ])
        .await;
    let err = unknown.fails(1);
    assert!(
        err.contains("entries[1] (ghost@12:00-24:00): no pool named \"ghost\""),
        "{err}"
    );

    cp.ctl(&["pool", "disable", "bch"]).await.ok();
    let disabled = cp
        .ctl(&[
            "schedule",
            "set",
            "--site",
            "farm-a",
            "--algo",
            "sha256",
            "btc@00:00-12:00",
            "bch@12:00-24:00",
        ])
        .await;
    assert!(
        disabled.fails(1).contains("pool bch is disabled"),
        "{disabled:?}"
    );
    cp.ctl(&["pool", "enable", "bch"]).await.ok();

    let nosite = cp
        .ctl(&[
            "schedule",
            "set",
            "--site",
            "ghost",
            "--algo",
            "sha256",
            "btc@00:00-24:00",
        ])
        .await;
    assert!(nosite.fails(1).contains("ghost"), "{nosite:?}");
    // Checked by ctl before any call: exit 2 with the entry syntax.
    let syntax = cp
        .ctl(&[
            "schedule",
            "set",
            "--site",
            "farm-a",
            "--algo",
            "sha256",
            "btc@25:00-24:00",
        ])
        .await;
    assert!(syntax.fails(2).contains("POOL@HH:MM-HH:MM"), "{syntax:?}");

    // None of the refused days replaced the stored one.
    let show = cp
        .ctl(&[
            "-o", "json", "schedule", "show", "--site", "farm-a", "--algo", "sha256",
        ])
        .await
        .json();
    assert_eq!(show.as_array().unwrap().len(), 1);
    assert_eq!(
        show[0]["entries"],
        json!([{"pool": "btc", "start": "06:00", "end": "22:00"}, {"pool": "bch", "start": "22:00", "end": "06:00"}])
    );
    assert_eq!(show[0]["timezone"], "America/Chicago");

    let csv = cp.ctl(&["-o", "csv", "schedule", "show"]).await.csv();
    let sites: Vec<&str> = csv.iter().map(|r| r["site"].as_str()).collect();
    assert_eq!(sites, ["default", "farm-a"]);
    assert_eq!(csv[0]["entries"], "btc@00:00-12:00 bch@12:00-24:00");
}

#[tokio::test]
async fn preview_shows_local_and_utc_times_of_each_switch_for_sites_in_other_zones() {
    let cp = ControlPlane::start().await;
    for (site, zone) in [
        ("farm-chi", "America/Chicago"),
        ("farm-ber", "Europe/Berlin"),
    ] {
        cp.ctl(&["site", "add", site, "--timezone", zone])
            .await
            .ok();
        cp.ctl(&[
            "schedule",
            "set",
            "--site",
            site,
            "--algo",
            "sha256",
            "btc@00:00-12:00",
            "bch@12:00-24:00",
        ])
        .await
        .ok();
    }

    for (site, tz) in [
        ("farm-chi", chrono_tz::America::Chicago),
        ("farm-ber", chrono_tz::Europe::Berlin),
    ] {
        let before = Utc::now();
        let preview = cp
            .ctl(&[
                "-o", "json", "schedule", "preview", "--site", site, "--hours", "48",
            ])
            .await
            .json();
        let expected = local_switches(tz, before, before + Duration::hours(48));
        let rows = preview.as_array().unwrap();
        let at: Vec<i64> = rows
            .iter()
            .map(|r| r["at_unix_ms"].as_i64().unwrap())
            .collect();
        assert_eq!(at, expected, "{site}: {preview:#}");
        let offset = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix();
        if offset(before) == offset(before + Duration::hours(48)) {
            assert_eq!(at.len(), 4, "a two-pool day switches four times in 48 h");
        }
        for r in rows {
            let t = Utc
                .timestamp_millis_opt(r["at_unix_ms"].as_i64().unwrap())
                .unwrap();
            let local = t.with_timezone(&tz);
            assert_eq!(r["site"], site);
            assert_eq!(
                r["local_time"],
                local.format("%Y-%m-%d %H:%M %Z (%:z)").to_string()
            );
            assert!(
                r["local_time"].as_str().unwrap().contains(" 00:00 ")
                    || r["local_time"].as_str().unwrap().contains(" 12:00 ")
            );
            assert_eq!(r["utc_time"], t.format("%Y-%m-%d %H:%M UTC").to_string());
            assert_eq!(r["at"], t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            assert_eq!(r["reason"], "schedule");
            let to = if r["local_time"].as_str().unwrap().contains(" 00:00 ") {
                "btc"
            } else {
                "bch"
            };
            let from = if to == "btc" { "bch" } else { "btc" };
            assert_eq!(
                (r["from_pool"].as_str(), r["to_pool"].as_str()),
                (Some(from), Some(to))
            );
        }
    }

    let table = cp
        .ctl(&["schedule", "preview", "--site", "farm-chi", "--hours", "48"])
        .await;
    let text = table.ok();
    let header = text.lines().next().unwrap();
    assert!(
        header.contains("LOCAL TIME") && header.contains("UTC TIME") && header.contains("REASON"),
        "{text}"
    );
    let first = text.lines().nth(1).unwrap();
    assert!(
        first.contains("CST (-06:00)") || first.contains("CDT (-05:00)"),
        "{text}"
    );
    assert!(first.contains(" UTC "), "{text}");

    // Every site at once, in time order.
    let all = cp
        .ctl(&["-o", "json", "schedule", "preview", "--hours", "48"])
        .await
        .json();
    let all = all.as_array().unwrap();
    let mut sites: Vec<&str> = all.iter().map(|r| r["site"].as_str().unwrap()).collect();
    let times: Vec<i64> = all
        .iter()
        .map(|r| r["at_unix_ms"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    sites.sort();
    sites.dedup();
    assert_eq!(sites, ["default", "farm-ber", "farm-chi"]);

    let short = cp
        .ctl(&["schedule", "preview", "--site", "farm-ber", "--hours", "0"])
        .await;
    assert!(short.fails(2).contains("--hours"), "{short:?}");
}
