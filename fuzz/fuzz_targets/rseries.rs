#![no_main]
//! Every R-Series payload the hub reads (R-Series sends no webhooks) (see `tillbridge_fuzz`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| tillbridge_fuzz::run("r", data));
