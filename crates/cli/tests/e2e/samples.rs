//! The sandbox's payload samples (the fuzz targets' seed corpus) against the adapters: every
//! sample reads with the reader of its kind, and every kind the adapters read has samples.

use std::collections::BTreeSet;
use tillbridge_lightspeed::payload;
use tillbridge_sandbox::samples::samples;

#[tokio::test]
async fn the_adapters_read_every_sample() {
    let samples = samples(11).await.expect("samples");
    let mut seen = BTreeSet::new();
    for s in &samples {
        let read = payload::read(&s.kind, &s.body)
            .unwrap_or_else(|| panic!("{} is not a kind the adapters know", s.kind));
        let records = read.unwrap_or_else(|e| {
            panic!(
                "{} does not read: {e}\n{}",
                s.kind,
                String::from_utf8_lossy(&s.body)
            )
        });
        assert!(
            records > 0,
            "{} holds nothing: {}",
            s.kind,
            String::from_utf8_lossy(&s.body)
        );
        let file = s.file_bytes();
        let (kind, body) = payload::split(&file).expect("file splits");
        assert_eq!((kind, body), (s.kind.as_str(), s.body.as_slice()));
        seen.insert(s.kind.as_str());
    }
    for kind in payload::KINDS {
        assert!(seen.contains(kind), "no sample of {kind}");
    }
}
