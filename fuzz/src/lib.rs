//! What every fuzz target runs: one input is `kind\nbody` (the shape of the sandbox's samples,
//! which seed the corpus), read with the adapters' reader of that kind. An input without a
//! kind of the target's series picks one by its first byte. Reading may fail; it must not
//! panic, hang or exhaust memory.

use tillbridge_lightspeed::payload;

pub fn run(series: &str, data: &[u8]) {
    let prefix = format!("{series}.");
    if let Some((kind, body)) = payload::split(data) {
        if kind.starts_with(&prefix) && payload::read(kind, body).is_some() {
            return;
        }
    }
    let kinds: Vec<&str> = payload::KINDS
        .iter()
        .copied()
        .filter(|k| k.starts_with(&prefix))
        .collect();
    if let (Some(&first), false) = (data.first(), kinds.is_empty()) {
        let kind = kinds[usize::from(first) % kinds.len()];
        let _ = payload::read(kind, &data[1..]);
    }
}
