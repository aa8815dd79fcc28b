//! A line from a pool, in each dialect: notifications (jobs, difficulty,
//! targets, reconnects) and answers (verdicts). Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_stratum::{Message, aleo, randomx, v1};

fuzz_target!(|data: &[u8]| {
    match Message::parse(data) {
        Ok(Message::Request(req)) => {
            let _ = v1::ServerMethod::from_request(&req);
            let _ = randomx::ServerMethod::from_request(&req);
            for d in [
                None,
                Some(aleo::Dialect::AleoStratum3),
                Some(aleo::Dialect::IceRiver),
            ] {
                let _ = aleo::ServerMethod::from_request(&req, d);
            }
        }
        Ok(Message::Response(resp)) => {
            let _ = resp.error_parts();
            let _ = randomx::submit_result(&resp);
            let _ = randomx::reply_status(&resp);
            let _ = aleo::submit_result(&resp);
        }
        Err(_) => {}
    }
});
