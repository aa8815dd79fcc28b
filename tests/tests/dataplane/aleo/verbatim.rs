//! An ALEO share reaches the pool exactly as the miner wrote it, in both
//! dialects: counters decimal, hex (either case) and zero-padded, as strings
//! or JSON numbers, the nonce and proof as sent, extra params and their
//! spacing kept. Only the job id (the pool's own, as the proxy renamed it)
//! and an AleoStratum3 submit's worker (the pool account, passthrough) are
//! replaced. Nothing is refused for the form of a field the proxy does not
//! read; the duplicate key is the raw text.

use std::time::Duration;

use switchyard_stratum::RawJson;
use switchyard_stratum::aleo::{Dialect, submit_result};
use switchyard_stratum::raw::raw_params;
use switchyard_tests::aleo_miner::{Prover, pool_job_id};
use switchyard_tests::dp::{aleo_pool, aleo_test_config, start_aleo};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig};

const T: Duration = Duration::from_secs(20);

fn texts(line: &[u8]) -> Vec<String> {
    raw_params(line)
        .unwrap()
        .iter()
        .map(|p| p.text().to_owned())
        .collect()
}

/// Sends each params text (with `{job}` and `{e1}` filled in) as a submit,
/// checks the pool's verdict came back, and that the pool received the
/// params byte for byte but for `replaced` (param index -> text the pool
/// must see instead).
async fn relay_verbatim(prover: Prover, pool: AleoPoolConfig, forms: &[&str]) {
    let dialect = prover.dialect().unwrap();
    let pool = AleoPool::start(pool).await.unwrap();
    let cfg = aleo_test_config(vec![aleo_pool("p", pool.addr(), Some(dialect))]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    let mut m = AleoMiner::ready_as(addr, prover, "farm.rig7")
        .await
        .unwrap();
    let job = m.current_job().unwrap().job_id().to_owned();
    let e1 = hex::encode(m.extranonce1());
    for (i, form) in forms.iter().enumerate() {
        let params = form.replace("{job}", &job).replace("{e1}", &e1);
        let id = 100 + i;
        let jsonrpc = if dialect.jsonrpc() {
            r#","jsonrpc":"2.0""#
        } else {
            ""
        };
        let line = format!(r#"{{"id":{id}{jsonrpc},"method":"mining.submit","params":{params}}}"#);
        m.send_raw(format!("{line}\n").as_bytes()).await.unwrap();
        let r = m.wait_response(&id.into()).await.unwrap();
        assert_eq!(submit_result(&r), Ok(()), "{dialect} {params}: {r:?}");
        pool.wait_for_shares(i + 1, T).await.unwrap();
        let got = pool.shares().pop().unwrap();
        let mut want = texts(line.as_bytes());
        let (job_at, worker_at) = match dialect {
            Dialect::AleoStratum3 => (1, Some(0)),
            Dialect::IceRiver => (0, None),
        };
        want[job_at] = RawJson::string(pool_job_id(&job)).text().to_owned();
        if let Some(w) = worker_at {
            want[w] = r#""p-account.rig7""#.to_owned();
        }
        assert_eq!(texts(got.line.as_bytes()), want, "{dialect}: {}", got.line);
        // The pool got the rest of the line untouched too: the params are
        // written out in one piece.
        let tail = want[job_at + 1..].join(",");
        assert!(
            got.line.contains(&tail),
            "{dialect}: {} lacks {tail}",
            got.line
        );
    }
    assert_eq!(pool.accepted(), forms.len(), "every form reached the pool");
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn aleostratum3_counters_reach_the_pool_as_the_miner_wrote_them() {
    relay_verbatim(
        Prover::AleoStratum3,
        AleoPoolConfig::aleo_stratum3(),
        &[
            r#"["farm.rig7","{job}","123456"]"#,
            r#"["farm.rig7","{job}","0000000000000001"]"#,
            r#"["farm.rig7","{job}","00ab12ff"]"#,
            r#"["farm.rig7","{job}","ABCDEF0123"]"#,
            r#"["farm.rig7","{job}","0x1f"]"#,
            r#"["farm.rig7","{job}",42]"#,
            r#"["farm.rig7","{job}",18446744073709551615]"#,
            r#"["farm.rig7","{job}","1", {"proof" : "ab1", "n":[1, 2]},null]"#,
            // The same counter zero-padded: another text, another share.
            r#"["farm.rig7","{job}","01"]"#,
            r#"["farm.rig7","{job}","001"]"#,
        ],
    )
    .await;
}

#[tokio::test]
async fn iceriver_shares_reach_the_pool_as_the_asic_wrote_them() {
    relay_verbatim(
        Prover::IceRiverAsic,
        AleoPoolConfig::iceriver(),
        &[
            r#"["{job}","0000000000000001","ab1proof","{e1}0000abcd"]"#,
            r#"["{job}","1a2B","ab1proof","{e1}00000001"]"#,
            r#"["{job}","123456789","ab1proof","{e1}00000002"]"#,
            r#"["{job}","00000000000000FF","AB1PROOF","{e1}00000003"]"#,
            r#"["{job}",7,"ab1proof","{e1}00000004"]"#,
            r#"["{job}","0x10","","{e1}00000005"]"#,
            r#"["{job}","05","ab1proof","{e1}00000006", "extra" ,{"k":true}]"#,
        ],
    )
    .await;
}

#[tokio::test]
async fn the_duplicate_key_is_the_raw_text() {
    let pool = AleoPool::start(AleoPoolConfig::iceriver()).await.unwrap();
    let cfg = aleo_test_config(vec![aleo_pool("p", pool.addr(), Some(Dialect::IceRiver))]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    let mut m = AleoMiner::ready_as(addr, Prover::IceRiverAsic, "farm.rig7")
        .await
        .unwrap();
    let job = m.current_job().unwrap().job_id().to_owned();
    let e1 = hex::encode(m.extranonce1());
    let send = |id: u32, counter: &str| {
        format!(
            r#"{{"id":{id},"method":"mining.submit","params":["{job}","{counter}","ab1p","{e1}00000009"]}}"#
        ) + "\n"
    };
    for (id, counter) in [(1, "0a"), (2, "0A"), (3, "000a")] {
        m.send_raw(send(id, counter).as_bytes()).await.unwrap();
        let r = m.wait_response(&id.into()).await.unwrap();
        assert_eq!(submit_result(&r), Ok(()), "{counter}: the pool judges");
    }
    m.send_raw(send(4, "0A").as_bytes()).await.unwrap();
    let r = m.wait_response(&4.into()).await.unwrap();
    let e = submit_result(&r).unwrap_err();
    assert_eq!(e.reason, "Duplicate share", "the same text again: {r:?}");
    assert_eq!(
        pool.shares().len(),
        3,
        "the duplicate never reached the pool"
    );
    dp.shutdown(Duration::from_secs(2)).await;
}
