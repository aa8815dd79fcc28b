//! Lines that are not requests, the same for every algorithm and both ALEO
//! dialects: truncated JSON, JSON that is not a request, words, binary
//! bytes. Each gets an error answer with a null id saying the message is
//! invalid (in the dialect's shape, with its code), never a close; the same connection
//! then logs in and mines, and a well-behaved miner on the same data plane
//! mines on.

use std::time::Duration;

use serde_json::Value;
use switchyard_tests::Pool;
use switchyard_tests::algo::{Algo, RefusalKind, start, test_config};

const T: Duration = Duration::from_secs(20);

async fn lines_that_are_not_requests_get_an_error_and_the_session_goes_on<A: Algo>() {
    let pool = Pool::<A::State>::start(A::pool_config()).await.unwrap();
    let (dp, addr) = start::<A>(test_config::<A>(vec![A::pool_entry("p", pool.addr())])).await;
    let mut good = A::ready(addr, "farm.good").await.unwrap();
    let mut m = A::connect(addr).await;
    for bad in [
        &b"this is not json"[..],
        br#"{"id":1,"method":"mining.subscribe","#,
        b"[1,2,3]",
        br#"{"id":4}"#,
        b"\x00\xff\xfe",
        // Binary inside an otherwise plausible line, and a carriage return.
        b"{\"id\":\xff\xfe}\r",
    ] {
        A::send_raw(&mut m, bad).await;
        let r = A::next_answer(&mut m).await;
        assert_eq!(r.id, Value::Null, "{r:?}");
        A::check_error(&r);
        let (code, text) = r.error_parts().expect("an error answer");
        assert!(
            text.starts_with("Invalid message"),
            "the answer says the message is invalid: {text}"
        );
        if let Some(want) = A::code(RefusalKind::Invalid) {
            assert_eq!(code, Some(want), "{r:?}");
        }
    }
    // The same connection still logs in and mines, and so does the other.
    A::log_in(&mut m, "farm.clumsy").await.unwrap();
    A::mine(&mut m).await;
    A::mine(&mut good).await;
    pool.wait_for_accepted(2, T).await.unwrap();
    A::check_pool(&pool);
    dp.shutdown(Duration::from_secs(2)).await;
}

switchyard_tests::for_each_algorithm!(
    lines_that_are_not_requests_get_an_error_and_the_session_goes_on,
    iceriver
);
