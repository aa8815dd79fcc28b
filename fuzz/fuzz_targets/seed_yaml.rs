//! The control plane's config in the seed's format: loaded and validated
//! with every problem named. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = switchyard_model::config::load(text, chrono_tz::UTC);
    }
});
