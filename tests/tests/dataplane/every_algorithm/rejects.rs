//! Shares the data plane refuses by itself, the same for every algorithm
//! and both ALEO dialects: in the miner's dialect (its reply shape checked
//! by `Algo::submit`) and never sent to the pool: a duplicate, a job id the
//! miner was never given, a job pushed out of the miner's job cache. A
//! pool's own refusal comes back to the miner as the pool worded it.

use std::time::Duration;

use switchyard_tests::algo::{Algo, RefusalKind, start, test_config};
use switchyard_tests::{Fault, Pool};

const T: Duration = Duration::from_secs(20);

/// Checks a refusal's code where the dialect has one for `kind`.
fn check_code<A: Algo>(code: Option<i64>, kind: RefusalKind) {
    if let Some(want) = A::code(kind) {
        assert_eq!(code, Some(want), "{} {kind:?}", A::NAME);
    }
}

async fn duplicates_and_unknown_or_pushed_out_jobs_are_refused_locally<A: Algo>() {
    let pool = Pool::<A::State>::start(A::pool_config()).await.unwrap();
    let mut cfg = test_config::<A>(vec![A::pool_entry("p", pool.addr())]);
    cfg.validation.job_cache_size = 2;
    let (dp, addr) = start::<A>(cfg).await;
    let mut m = A::ready(addr, "farm.r1").await.unwrap();

    let share = A::share(&mut m).await;
    assert_eq!(A::submit(&mut m, &share).await, Ok(()));
    pool.wait_for_accepted(1, T).await.unwrap();

    // The same share again.
    let e = A::submit(&mut m, &share).await.unwrap_err();
    assert_eq!(e.text, "Duplicate share");
    check_code::<A>(e.code, RefusalKind::Duplicate);

    // A job id the miner was never given.
    let unknown = A::with_job(&share, "ff.nope");
    let e = A::submit(&mut m, &unknown).await.unwrap_err();
    assert!(e.text.starts_with("Job not found (stale)"), "{e:?}");
    check_code::<A>(e.code, RefusalKind::JobNotFound);

    // A job pushed out of the miner's job cache by two newer ones.
    let kept = A::latest_job(&m).unwrap();
    for _ in 0..2 {
        let before = A::latest_job(&m).unwrap();
        A::push_job(&pool, false);
        A::wait_for_new_job(&mut m, &before).await;
    }
    let pushed_out = A::share_for(&mut m, &kept).await;
    let e = A::submit(&mut m, &pushed_out).await.unwrap_err();
    assert!(e.text.starts_with("Job not found (stale)"), "{e:?}");

    // None of those reached the pool.
    assert_eq!(pool.shares().len(), 1, "none of those reached the pool");
    let s = dp.pool_stats("p").unwrap();
    assert_eq!((s.forwarded, s.local_rejected), (1, 3), "{s:?}");

    // The pool's own refusal, relayed as the pool worded it.
    pool.set_fault(Fault::RejectAll("Invalid proof".into()));
    let share = A::share(&mut m).await;
    let e = A::submit(&mut m, &share).await.unwrap_err();
    assert_eq!(e.text, "Invalid proof");
    pool.wait_for_shares(2, T).await.unwrap();
    assert_eq!(dp.pool_stats("p").unwrap().pool_rejected, 1);
    A::check_pool(&pool);
    dp.shutdown(Duration::from_secs(2)).await;
}

switchyard_tests::for_each_algorithm!(
    duplicates_and_unknown_or_pushed_out_jobs_are_refused_locally,
    iceriver
);
