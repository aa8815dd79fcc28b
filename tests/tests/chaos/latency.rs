//! 300 ms of latency each way and 5% loss each way on the link to the pool
//! (`chaos/wire.py` between the data plane and the pool host): every share
//! is answered, none times out, and each miner is told exactly the verdict
//! the pool gave (accepted while the pool accepts, then its reject reason
//! while it rejects everything).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use switchyard_tests::netns::{Impairment, ROOT, lab_or_skip};
use switchyard_tests::{Fault, PoolConfig};

use crate::common::*;

const SHARES_PER_PHASE: usize = 10;

#[tokio::test]
async fn latency_and_loss_to_the_pool_keep_every_verdict() {
    let test = "latency_and_loss_to_the_pool";
    if std::process::Command::new("python3")
        .arg("-V")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os(switchyard_tests::netns::CI_ENV).is_none(),
            "{test}: python3 is missing"
        );
        eprintln!("SKIPPED: {test}: python3 is missing (chaos/wire.py)");
        return;
    }
    let Some(mut lab) = lab_or_skip(test) else {
        return;
    };
    lab.host("dp");
    lab.host("pool");
    let lm = lab.link(ROOT, "dp");
    let (lp, wire) = lab.wired_link("dp", "pool");
    wire.set(Impairment {
        delay: Duration::from_millis(300),
        loss: 0.05,
    });
    let pool = pool_in(&lab, "pool", lp.b_ip, PoolConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dp.yaml");
    std::fs::write(
        &config,
        dp_yaml(lm.b_ip, &format!("pools:\n{}", pool_yaml("a", lp.b_ip))),
    )
    .unwrap();
    let dp = Dp::start(&lab, "dp", &config, &dir.path().join("dp.log"), &[]).await;
    let mut miners = miners(dp.miners).await;
    for m in miners.iter_mut() {
        m.set_timeout(Duration::from_secs(60));
    }
    // The miner's extranonce1 + extranonce2 (a part of the pool's extranonce1
    // + extranonce2, which the proxy's own bytes surround), nonce and ntime
    // -> what the miner was told. Nonce and ntime alone repeat across
    // extranonce2s at the scripted pool's low difficulty.
    type Key = (Vec<u8>, u32, u32);
    let mut told: HashMap<Key, (Result<(), String>, Duration)> = HashMap::new();
    for phase in ["accept", "reject"] {
        if phase == "reject" {
            pool.set_fault(Fault::RejectAll("Chaos says no".into()));
        }
        for _ in 0..SHARES_PER_PHASE {
            for m in miners.iter_mut() {
                let share = m.find_share().await.unwrap();
                let sent = Instant::now();
                let r = m
                    .submit(&share)
                    .await
                    .expect("every share is answered (not unanswered, not dropped)");
                let latency = sent.elapsed();
                let verdict = if r.is_ok() {
                    Ok(())
                } else {
                    Err(format!("{:?}", r.error))
                };
                let extranonce = [m.extranonce1.as_slice(), &share.extranonce2].concat();
                let previous =
                    told.insert((extranonce, share.nonce, share.ntime), (verdict, latency));
                assert!(previous.is_none(), "two shares with one key");
            }
        }
    }
    // Every share the pool judged: the miner got the pool's verdict.
    let judged = pool.shares();
    let mut latencies = Vec::new();
    for rec in &judged {
        let conn = pool
            .connection(rec.conn)
            .expect("the pool knows its connection");
        let whole = [conn.extranonce1.as_slice(), &rec.extranonce2].concat();
        let mut same = told.iter().filter(|((extranonce, nonce, ntime), _)| {
            (*nonce, *ntime) == (rec.nonce, rec.ntime)
                && whole
                    .windows(extranonce.len())
                    .any(|w| w == extranonce.as_slice())
        });
        let (_, (v, latency)) = same
            .next()
            .expect("every share the pool judged is one a miner sent");
        assert!(
            same.next().is_none(),
            "a pool's share matches two miners' shares"
        );
        latencies.push(*latency);
        match (rec.accepted, v) {
            (true, Ok(())) => {}
            (false, Err(e)) => {
                assert!(
                    e.contains("Chaos says no"),
                    "the pool's reason reaches the miner: {e}"
                );
            }
            (pool_ok, miner) => {
                panic!("verdict changed on the way: pool accepted={pool_ok}, miner told {miner:?}")
            }
        }
    }
    for (v, _) in told.values() {
        if let Err(e) = v {
            assert!(
                !e.contains("did not answer") && !e.contains("Not connected"),
                "a share went unanswered by the pool: {e}"
            );
        }
    }
    assert!(!latencies.is_empty(), "no share reached the pool");
    latencies.sort();
    let (relayed, dropped) = wire.counts();
    eprintln!(
        "300 ms + 5% loss each way: {} shares answered, {} judged by the pool, their answer latency min {:?} p50 {:?} max {:?}; the wire relayed {relayed} frames and dropped {dropped}",
        told.len(),
        latencies.len(),
        latencies[0],
        latencies[latencies.len() / 2],
        latencies.last().unwrap()
    );
    assert!(
        latencies[0] >= Duration::from_millis(600),
        "a pool's answer came back faster than the link's round trip"
    );
    assert!(dropped > 0, "the wire dropped nothing");
    dp.stop().await;
}
