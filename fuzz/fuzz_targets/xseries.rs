#![no_main]
//! Every X-Series payload and webhook body the hub reads (see `tillbridge_fuzz`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| tillbridge_fuzz::run("x", data));
