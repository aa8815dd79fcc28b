//! Hostile pools first in the data plane's list: one that accepts the
//! connection and never answers, one that answers garbage, one that sends a
//! 10 MB line. The data plane fails over to the good pool and stays up, the
//! miners mine on it without a break while the data plane keeps retrying
//! the bad one, and its memory stays bounded (peak RSS).

use std::time::{Duration, Instant};

use switchyard_tests::netns::{ROOT, lab_or_skip};
use switchyard_tests::{PoolConfig, ScriptedMiner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Silent,
    Garbage,
    HugeLine,
}

/// Serves one connection the hostile way.
async fn serve(kind: Kind, mut s: tokio::net::TcpStream) {
    let mut buf = vec![0u8; 4096];
    match kind {
        Kind::Silent => {
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        }
        Kind::Garbage => {
            let junk: [&[u8]; 6] = [
                b"\x00\xff\xfe garbage \x07\n",
                b"{\"id\": 1, \"result\": [[[[[[\n",
                b"{\"id\": \"x\", \"result\": {\"a\": 1e999999}, \"error\": 7}\n",
                b"{\"method\": \"mining.notify\", \"params\": [1, 2, 3]}\n",
                b"{\"method\": \"mining.set_difficulty\", \"params\": [-1]}\n",
                b"HTTP/1.1 400 Bad Request\r\n\r\n",
            ];
            let mut i = 0;
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                for _ in 0..3 {
                    if s.write_all(junk[i % junk.len()]).await.is_err() {
                        return;
                    }
                    i += 1;
                }
            }
        }
        Kind::HugeLine => {
            let mut line = b"{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"".to_vec();
            line.resize(line.len() + 10 * 1024 * 1024, b'a');
            line.extend_from_slice(b"\"]}\n");
            let _ = s.write_all(&line).await;
            let _ = s.read(&mut buf).await;
        }
    }
}

async fn hostile(test: &str, kind: Kind) {
    let Some(mut lab) = lab_or_skip(test) else {
        return;
    };
    lab.host("dp");
    lab.host("bad");
    lab.host("good");
    let lm = lab.link(ROOT, "dp");
    let lbad = lab.link("dp", "bad");
    let lgood = lab.link("dp", "good");
    let listener = lab.listen("bad", (lbad.b_ip, STRATUM).into());
    let bad = tokio::spawn(async move {
        let mut connections = 0u64;
        while let Ok((s, _)) = listener.accept().await {
            connections += 1;
            tokio::spawn(serve(kind, s));
            if connections > 10_000 {
                break;
            }
        }
    });
    let good = pool_in(&lab, "good", lgood.b_ip, PoolConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dp.yaml");
    let pools = format!(
        "pools:\n{}{}",
        pool_yaml("bad", lbad.b_ip),
        pool_yaml("good", lgood.b_ip)
    );
    std::fs::write(&config, dp_yaml(lm.b_ip, &pools)).unwrap();
    let dp = Dp::start(&lab, "dp", &config, &dir.path().join("dp.log"), &[]).await;
    let rss_start = dp.rss_kib();
    let mut miners = Vec::new();
    for i in 0..3 {
        miners.push(
            ScriptedMiner::ready(dp.miners, "cgminer", &format!("farm.rig{i}"))
                .await
                .expect("the miner gets the good pool's job"),
        );
    }
    // Mine for a while: the data plane retries the bad pool meanwhile
    // (backoff at most 2 s, handshake timeout 5 s).
    let mining = Instant::now();
    let mut answered = 0;
    while mining.elapsed() < Duration::from_secs(12) {
        for m in miners.iter_mut() {
            let (_, _, ok) = mine(m).await.expect("every share is answered");
            assert!(ok, "a share on the good pool was rejected");
            answered += 1;
        }
    }
    good.wait_for_accepted(answered, T).await.unwrap();
    for m in &miners {
        assert!(!m.is_closed(), "a miner was disconnected");
    }
    let mut dp = dp;
    assert!(dp.running(), "the data plane is up");
    let peak = std::fs::read_to_string(format!("/proc/{}/status", dp.pid))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").map(str::to_owned))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap();
    eprintln!(
        "{kind:?}: {answered} shares answered; data plane RSS {rss_start} KiB at start, peak {peak} KiB, now {} KiB",
        dp.rss_kib(),
    );
    assert!(
        peak < rss_start + 32 * 1024,
        "memory not bounded: peak RSS {peak} KiB from {rss_start} KiB"
    );
    // The data plane really met the bad pool, again and again.
    let metrics = dp.metrics().await;
    let attempts: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("switchyard_upstream_connect_attempts_total")
                && l.contains("pool=\"bad\"")
        })
        .collect();
    eprintln!(
        "{kind:?}: connects to the bad pool: {}",
        attempts.join("; ")
    );
    let tries = switchyard_tests::http::sample_sum(
        &metrics,
        "switchyard_upstream_connect_attempts_total",
        &[("pool", "bad")],
    );
    assert!(tries >= 2.0, "the bad pool was tried {tries} times");
    dp.stop().await;
    bad.abort();
}

#[tokio::test]
async fn a_pool_that_never_answers() {
    hostile("a_pool_that_never_answers", Kind::Silent).await;
}

#[tokio::test]
async fn a_pool_that_answers_garbage() {
    hostile("a_pool_that_answers_garbage", Kind::Garbage).await;
}

#[tokio::test]
async fn a_pool_that_sends_a_10_mb_line() {
    hostile("a_pool_that_sends_a_10_mb_line", Kind::HugeLine).await;
}
