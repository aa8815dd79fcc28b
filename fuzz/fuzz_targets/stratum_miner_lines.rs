//! A line from a miner, in each dialect: the envelope, then the method and
//! its params as SHA-256, RandomX and ALEO (both dialects) sessions read
//! them. Nothing may panic; a request that parses writes a line that
//! parses back to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_stratum::{Message, aleo, randomx, v1};

fuzz_target!(|data: &[u8]| {
    let Ok(Message::Request(req)) = Message::parse(data) else {
        return;
    };
    let _ = v1::ClientMethod::from_request(&req);
    let _ = randomx::ClientMethod::from_request(&req);
    for d in [
        None,
        Some(aleo::Dialect::AleoStratum3),
        Some(aleo::Dialect::IceRiver),
    ] {
        let _ = aleo::ClientMethod::from_request(&req, d);
    }
    let line = req.to_line();
    match Message::parse(&line) {
        Ok(Message::Request(again)) => assert_eq!(again.method, req.method),
        other => panic!("a written request does not parse back: {other:?}"),
    }
});
