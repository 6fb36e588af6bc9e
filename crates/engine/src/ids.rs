//! Identifiers: a short prefix that says what it names, then 20 random base-32 characters.

use rand::Rng;

const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let body: String = (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}_{body}")
}

/// A random string over the PKCE unreserved alphabet (`A-Z a-z 0-9 - . _ ~`).
pub fn pkce_verifier(len: usize) -> String {
    const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| UNRESERVED[rng.gen_range(0..UNRESERVED.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_unique() {
        let a = new_id("mer");
        assert!(a.starts_with("mer_") && a.len() == 24);
        assert_ne!(a, new_id("mer"));
    }

    #[test]
    fn verifier_has_the_required_shape() {
        let v = pkce_verifier(86);
        assert_eq!(v.len(), 86);
        assert!(v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)));
    }
}
