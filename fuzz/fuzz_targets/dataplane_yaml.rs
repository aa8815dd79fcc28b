//! A data plane's own config file: parsed, then validated. Bad input is an
//! error naming the field, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_dataplane::config::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(cfg) = serde_yaml_ng::from_slice::<Config>(data) {
        let _ = cfg.validate();
    }
});
