//! The share maths from arbitrary job fields, for the three algorithms.
//!
//! The input is text, one field a line (a missing line is an empty field),
//! so that seeds are real jobs and shares written by hand:
//!
//! ```text
//!  0 job_id            SHA-256 mining.notify fields, as a pool sends them
//!  1 prevhash          (hex of any content and length)
//!  2 coinb1
//!  3 coinb2
//!  4 merkle branch     comma-separated hex
//!  5 version
//!  6 nbits
//!  7 ntime
//!  8 extranonce1       the pool's, hex
//!  9 extranonce2_size  the pool's, decimal
//! 10 prefix            the miner's extranonce1 (the proxy's prefix), hex
//! 11 extranonce2       the miner's mining.submit fields
//! 12 ntime
//! 13 nonce
//! 14 version_bits      (empty: none)
//! 15 masks             "MINER POOL" version masks, hex
//! 16 difficulties      "MINER POOL", decimal
//! 17 ntime_max_future  decimal
//! 18 blob              RandomX job: blob, pool target, miner target,
//! 19 target            seed hash (hex), submitted nonce and result (hex),
//! 20 miner target      the miner's NiceHash slot (decimal, empty: none),
//! 21 seed_hash         a difficulty (decimal)
//! 22 nonce
//! 23 result
//! 24 slot
//! 25 difficulty
//! 26 notify params     ALEO: mining.notify params (JSON), a subscribe
//! 27 subscribe result  result (JSON), mining.submit params (JSON), and
//! 28 submit params     "DIFFICULTY CLEAN ADDRESS" for the miner's copy
//! 29 miner copy
//! ```
//!
//! SHA-256: the notify and submit parse as the proxy parses them; coinbase,
//! merkle root, header, SHA256d and difficulties are computed from whatever
//! fields decode; a parsed job goes through the proxy's aggregation (the
//! miner's notify line) and its share check. RandomX: job, targets, blob
//! nonce and slot, submit and the share check. ALEO: notify, subscribe
//! result, submit, the miner's copy of a job and the target/difficulty
//! conversions. Nothing may panic, and the invariants below hold.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use switchyard_dataplane::aleo::{AleoJob, AleoSubscribed};
use switchyard_dataplane::config::{self, PoolMode};
use switchyard_dataplane::randomx::RxJob;
use switchyard_dataplane::sha256::job::Job;
use switchyard_dataplane::sha256::validate::{self, MinerView, Verdict};
use switchyard_dataplane::upstream::PoolInfo;
use switchyard_stratum::hexutil::{parse_hex_u32, parse_hex_vec};
use switchyard_stratum::share::{
    coinbase, hash_difficulty, header, merkle_root, nbits_difficulty, rolled_version, sha256d,
    share_hash, swap_words,
};
use switchyard_stratum::{Message, Request, aleo, randomx, v1};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    let f = |i: usize| lines.get(i).copied().unwrap_or("");
    sha256(&f);
    randomx_maths(&f);
    aleo_maths(&f);
});

fn pool_info(algorithm: config::Algorithm) -> Arc<PoolInfo> {
    let config = config::Pool {
        name: "fuzz".into(),
        url: "stratum+tcp://127.0.0.1:3333".into(),
        username: "acct".into(),
        password: "x".into(),
        mode: PoolMode::Aggregate,
        algorithm,
        enabled: true,
        buffer_percent: None,
        min_difficulty: None,
        max_difficulty: None,
        dialect: None,
    };
    Arc::new(PoolInfo {
        name: "fuzz".into(),
        index: 0,
        addr: config::parse_pool_url(&config.url).expect("a fixed url"),
        username: config.username.clone(),
        password: config.password.clone(),
        mode: config.mode,
        config,
        stats: Default::default(),
        learned_dialect: Default::default(),
    })
}

/// A difficulty is never NaN nor negative; infinite only for a zero hash.
fn sane_difficulty(d: f64, hash: Option<&[u8; 32]>) {
    assert!(!d.is_nan() && d >= 0.0, "difficulty {d}");
    if let Some(h) = hash {
        assert!(d.is_finite() || h.iter().all(|b| *b == 0), "difficulty {d}");
    }
}

fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

fn sha256<'a>(f: &impl Fn(usize) -> &'a str) {
    // The raw maths on whatever decodes.
    let hex_or_empty = |s: &str| parse_hex_vec(s).unwrap_or_default();
    let u32_or_zero = |s: &str| parse_hex_u32(s).unwrap_or(0);
    let cb = coinbase(
        &hex_or_empty(f(2)),
        &hex_or_empty(f(8)),
        &hex_or_empty(f(11)),
        &hex_or_empty(f(3)),
    );
    let branch: Vec<[u8; 32]> = f(4)
        .split(',')
        .filter_map(|s| parse_hex_vec(s).ok()?.try_into().ok())
        .collect();
    let root = merkle_root(sha256d(&cb), &branch);
    let prev: [u8; 32] = hex_or_empty(f(1)).try_into().unwrap_or([0; 32]);
    assert_eq!(swap_words(&swap_words(&prev)), prev);
    let (version, ntime, nbits, nonce) = (
        u32_or_zero(f(5)),
        u32_or_zero(f(12)),
        u32_or_zero(f(6)),
        u32_or_zero(f(13)),
    );
    let h = header(version, &swap_words(&prev), &root, ntime, nbits, nonce);
    assert_eq!(h.len(), 80);
    assert_eq!(h[0..4], version.to_le_bytes());
    assert_eq!(h[36..68], root);
    assert_eq!(h[76..80], nonce.to_le_bytes());
    let hash = sha256d(&h);
    sane_difficulty(hash_difficulty(&hash), Some(&hash));
    sane_difficulty(nbits_difficulty(nbits), None);

    // The fields as the proxy reads them from a pool and a miner.
    let branch_json: Vec<Value> = if f(4).is_empty() {
        Vec::new()
    } else {
        f(4).split(',').map(Value::from).collect()
    };
    let notify = Request::notification(
        "mining.notify",
        json!([f(0), f(1), f(2), f(3), branch_json, f(5), f(6), f(7), true]),
    );
    let Ok(v1::ServerMethod::Notify(notify)) = v1::ServerMethod::from_request(&notify) else {
        return;
    };
    let mut submit = vec![
        json!("worker"),
        json!(f(0)),
        json!(f(11)),
        json!(f(12)),
        json!(f(13)),
    ];
    if !f(14).is_empty() {
        submit.push(json!(f(14)));
    }
    let submit = Request::new(1, "mining.submit", Value::Array(submit));
    let Ok(v1::ClientMethod::Submit(submit)) = v1::ClientMethod::from_request(&submit) else {
        return;
    };
    let Ok(extranonce1) = parse_hex_vec(f(8)) else {
        return;
    };
    // As a pool may set them (subscribe: 1 to 32, set_extranonce: up to 32).
    let size = f(9).trim().parse::<usize>().unwrap_or(8).min(32);
    let prefix = hex_or_empty(f(10));
    let masks = words(f(15));
    let miner_mask = masks.first().and_then(|m| parse_hex_u32(m).ok()).unwrap_or(0);
    let pool_mask = masks.get(1).and_then(|m| parse_hex_u32(m).ok()).unwrap_or(0);
    let diffs = words(f(16));
    let miner_difficulty = diffs.first().and_then(|d| d.parse().ok()).unwrap_or(1.0);
    let pool_difficulty = diffs.get(1).and_then(|d| d.parse().ok()).unwrap_or(1.0);
    let ntime_max_future = f(17).trim().parse().unwrap_or(600);

    let job = Job::new(
        1,
        pool_info(config::Algorithm::Sha256),
        tokio::sync::mpsc::channel(1).0,
        notify.clone(),
        extranonce1.clone(),
        size,
        pool_difficulty,
        pool_mask,
    );
    let m = submit.extranonce2.len();
    let fits = job.fits(prefix.len(), m);
    let upstream_e2 = job.upstream_extranonce2(&prefix, &submit.extranonce2);
    assert!(upstream_e2.starts_with(&prefix));
    assert_eq!(upstream_e2[prefix.len()..][..m], submit.extranonce2[..]);
    if fits {
        assert_eq!(upstream_e2.len(), size);
    }

    // Aggregation: the miner's notify, hashed with the miner's extranonces,
    // is the share the pool rebuilds from its own.
    let version = rolled_version(notify.version, submit.version_bits, miner_mask & pool_mask);
    let pool_hash = share_hash(
        &notify,
        &extranonce1,
        &upstream_e2,
        submit.ntime,
        submit.nonce,
        version,
    );
    for force_clean in [false, true] {
        let line = job.miner_line(prefix.len(), m, force_clean);
        assert_eq!(line.is_some(), fits);
        let Some(line) = line else { continue };
        let miner_notify = match Message::parse(&line) {
            Ok(Message::Request(r)) => match v1::ServerMethod::from_request(&r) {
                Ok(v1::ServerMethod::Notify(n)) => n,
                other => panic!("the miner's notify does not read back: {other:?}"),
            },
            other => panic!("the miner's notify line does not parse: {other:?}"),
        };
        assert_eq!(miner_notify.job_id, *job.proxy_id);
        assert_eq!(miner_notify.prevhash, notify.prevhash);
        assert_eq!(miner_notify.merkle_branch, notify.merkle_branch);
        assert_eq!(
            (miner_notify.version, miner_notify.nbits, miner_notify.ntime),
            (notify.version, notify.nbits, notify.ntime)
        );
        assert!(miner_notify.clean_jobs || !force_clean);
        let miner_hash = share_hash(
            &miner_notify,
            &prefix,
            &submit.extranonce2,
            submit.ntime,
            submit.nonce,
            version,
        );
        assert_eq!(miner_hash, pool_hash, "the miner hashes another coinbase");
    }

    let miner = MinerView {
        prefix: &prefix,
        extranonce2_size: m,
        version_mask: miner_mask,
        difficulty: miner_difficulty,
        ntime_max_future,
    };
    match validate::check(&job, miner, &submit, pool_difficulty) {
        Verdict::Reject { message, .. } => assert!(!message.is_empty()),
        Verdict::Accept { difficulty } => {
            sane_difficulty(difficulty, None);
            assert_eq!(difficulty, hash_difficulty(&pool_hash));
        }
        Verdict::Forward {
            difficulty,
            extranonce2,
            version_bits,
        } => {
            sane_difficulty(difficulty, None);
            assert_eq!(difficulty, hash_difficulty(&pool_hash));
            assert_eq!(extranonce2, upstream_e2);
            if let Some(bits) = version_bits {
                assert_eq!(bits & !(miner_mask & pool_mask), 0);
            }
        }
    }
}

fn randomx_maths<'a>(f: &impl Fn(usize) -> &'a str) {
    // Blob helpers on whatever decodes.
    if let Ok(mut blob) = parse_hex_vec(f(18)) {
        let ok = randomx::parse_blob(f(18)).is_ok();
        assert_eq!(ok, blob.len() >= randomx::MIN_BLOB_LEN);
        let len = blob.len();
        let nonce = [1, 2, 3, 4];
        match randomx::set_blob_nonce(&mut blob, nonce) {
            Ok(()) => assert_eq!(randomx::blob_nonce(&blob), Ok(nonce)),
            Err(_) => assert!(!ok),
        }
        if randomx::set_nicehash_slot(&mut blob, 0xab).is_ok() {
            assert_eq!(randomx::nonce_slot(randomx::blob_nonce(&blob).unwrap()), 0xab);
        }
        assert_eq!(blob.len(), len);
    }
    let targets = [
        randomx::Target::parse(f(19)),
        randomx::Target::parse(f(20)),
    ];
    for t in targets.iter().flatten() {
        assert_eq!(randomx::Target::parse(&t.to_hex()).as_ref(), Ok(t));
        assert!(t.difficulty() >= 1);
        assert!(t.threshold() > 0);
    }
    let d = f(25).trim();
    if let Ok(d) = d.parse::<u64>() {
        let t = randomx::Target::from_difficulty(d);
        assert!(t.difficulty() >= d.max(1), "{d} -> {t:?}");
        assert_eq!(randomx::Target::parse(&t.to_hex()), Ok(t));
    }
    if let Ok(d) = d.parse::<f64>() {
        let t = randomx::Target::from_difficulty_f64(d);
        assert!(t.difficulty() as f64 >= d.min(u64::MAX as f64).ceil() || d.is_nan());
    }

    let mut job = serde_json::Map::new();
    job.insert("blob".into(), f(18).into());
    job.insert("job_id".into(), f(0).into());
    job.insert("target".into(), f(19).into());
    if !f(21).is_empty() {
        job.insert("seed_hash".into(), f(21).into());
    }
    let Ok(job) = randomx::Job::from_value(&Value::Object(job)) else {
        return;
    };
    assert!(job.blob.len() >= randomx::MIN_BLOB_LEN);
    assert!(job.difficulty() >= 1);
    assert_eq!(randomx::Job::from_value(&job.to_value()).as_ref(), Ok(&job));
    let slot: Option<u8> = f(24).trim().parse().ok();
    let copy = job.with_nicehash_slot(slot.unwrap_or(0));
    assert_eq!(copy.blob.len(), job.blob.len());
    assert_eq!(copy.blob[randomx::NICEHASH_OFFSET], slot.unwrap_or(0));
    let rx = RxJob {
        upstream_id: 0x1f,
        pool: pool_info(config::Algorithm::Randomx),
        cmd_tx: tokio::sync::mpsc::channel(1).0,
        job: job.clone(),
    };
    assert_eq!(
        RxJob::split_job_id(&rx.miner_job_id()),
        Some((0x1f, job.job_id.as_str()))
    );
    let _ = RxJob::split_job_id(f(0));
    let submit = json!({"id": "s", "job_id": rx.miner_job_id(), "nonce": f(22), "result": f(23)});
    let Ok(submit) = randomx::Submit::from_params(&submit) else {
        return;
    };
    let Ok(miner_target) = targets[1].clone() else {
        return;
    };
    let miner = switchyard_dataplane::randomx::validate::MinerView {
        slot,
        target: miner_target,
    };
    use switchyard_dataplane::randomx::validate::{Verdict as RxVerdict, check};
    let verdict = check(job.target, miner, &submit);
    if slot.is_some_and(|s| s != submit.slot()) {
        assert!(matches!(verdict, RxVerdict::Reject { .. }), "{verdict:?}");
    }
    match verdict {
        RxVerdict::Reject { message, .. } => assert!(!message.is_empty()),
        RxVerdict::Accept { difficulty } => {
            sane_difficulty(difficulty, None);
            assert!(miner_target.is_met_by(&submit.result));
            assert!(!job.target.is_met_by(&submit.result));
        }
        RxVerdict::Forward { difficulty } => {
            sane_difficulty(difficulty, None);
            assert!(job.target.is_met_by(&submit.result));
        }
    }
}

fn json_list(s: &str) -> Option<Vec<Value>> {
    match serde_json::from_str(s) {
        Ok(Value::Array(items)) => Some(items),
        _ => None,
    }
}

fn aleo_maths<'a>(f: &impl Fn(usize) -> &'a str) {
    use aleo::Dialect;
    let dialects = [None, Some(Dialect::AleoStratum3), Some(Dialect::IceRiver)];
    let copy = words(f(29));
    let difficulty: Option<u64> = copy.first().and_then(|d| d.parse().ok());
    let clean = copy.get(1).is_some_and(|c| *c == "1");
    let address = copy.get(2).copied();
    for dialect in [Dialect::AleoStratum3, Dialect::IceRiver] {
        if let Some(d) = difficulty {
            let t = dialect.target_for_difficulty(d);
            let back = dialect.difficulty_of_target(t).expect("a target from 1");
            assert!(back >= d.max(1), "{dialect}: {d} -> {t} -> {back}");
            if d < 1 << 32 {
                assert_eq!(back, d.max(1), "{dialect}: {d} -> {t}");
            }
        }
    }
    if let Some(p) = json_list(f(26)) {
        for d in dialects {
            let Ok(notify) = aleo::Notify::from_params(&p, d) else {
                continue;
            };
            let again = aleo::Notify::from_params(
                notify.to_params().as_array().unwrap(),
                Some(notify.dialect()),
            );
            assert_eq!(again.as_ref(), Ok(&notify));
            if let Some(d) = notify.difficulty() {
                assert!(d >= 1);
            }
            let job = AleoJob {
                upstream_id: 7,
                pool: pool_info(config::Algorithm::Zksnark),
                cmd_tx: tokio::sync::mpsc::channel(1).0,
                notify: notify.clone(),
                params: p.clone(),
                address: None,
            };
            let params = job.miner_params(difficulty, clean, address);
            let params = params.as_array().expect("a list");
            assert_eq!(params.len(), p.len());
            let copy = aleo::Notify::from_params(params, Some(notify.dialect()))
                .expect("the miner's copy of a job reads back");
            assert_eq!(copy.job_id(), job.miner_job_id());
            assert!(copy.clean_jobs() || !clean);
            assert_eq!(copy.clean_jobs(), notify.clean_jobs() || clean);
            if let (aleo::Notify::IceRiver(mine), aleo::Notify::IceRiver(pool)) = (&copy, &notify) {
                assert!(mine.target <= pool.target, "an easier target than the pool's");
            }
            let _ = job.miner_line(difficulty, clean, address);
        }
    }
    if let Ok(result) = serde_json::from_str::<Value>(f(27)) {
        for d in dialects {
            if let Ok(r) = aleo::SubscribeResult::from_result(&result, d) {
                let again = aleo::SubscribeResult::from_result(&r.to_result(), Some(r.dialect()));
                assert_eq!(again.as_ref(), Ok(&r));
            }
        }
        for dialect in [Dialect::AleoStratum3, Dialect::IceRiver] {
            let sub = AleoSubscribed {
                dialect,
                result: result.clone(),
            };
            let space = sub.nonce_space();
            assert!(space.allows(&space));
            let _ = sub.pool_address();
        }
    }
    if let Some(p) = json_list(f(28)) {
        for d in dialects {
            if let Ok(s) = aleo::Submit::from_params(&p, d) {
                let _ = s.share_key();
                let again = aleo::Submit::from_raw(&s.to_params(), Some(s.dialect()));
                assert_eq!(again.as_ref(), Ok(&s));
            }
        }
    }
}
