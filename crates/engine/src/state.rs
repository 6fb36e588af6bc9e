//! The OAuth `state` parameter: `base64url(payload).base64url(HMAC-SHA256(payload))`, carrying
//! the merchant, the connection attempt and the time it was made. Verified in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct StatePayload {
    /// Merchant id.
    pub m: String,
    /// Connection attempt id.
    pub a: String,
    /// Issued at, epoch milliseconds.
    pub t: i64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the state parameter is missing or malformed")]
    Malformed,
    #[error("the state parameter's signature does not match")]
    BadSignature,
}

fn mac(key: &[u8; 32]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

pub fn sign(key: &[u8; 32], payload: &StatePayload) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap_or_default());
    let mut m = mac(key);
    m.update(body.as_bytes());
    format!(
        "{body}.{}",
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    )
}

pub fn verify(key: &[u8; 32], state: &str) -> Result<StatePayload, StateError> {
    let (body, sig) = state.split_once('.').ok_or(StateError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| StateError::Malformed)?;
    let mut m = mac(key);
    m.update(body.as_bytes());
    m.verify_slice(&sig).map_err(|_| StateError::BadSignature)?;
    let raw = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| StateError::Malformed)?;
    serde_json::from_slice(&raw).map_err(|_| StateError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let key = [3u8; 32];
        let p = StatePayload {
            m: "mer_1".into(),
            a: "att_1".into(),
            t: 1,
        };
        let s = sign(&key, &p);
        assert_eq!(verify(&key, &s).unwrap(), p);
        assert_eq!(verify(&[4u8; 32], &s), Err(StateError::BadSignature));
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"m":"mer_2","a":"att_1","t":1}"#),
            s.split_once('.').unwrap().1
        );
        assert_eq!(verify(&key, &forged), Err(StateError::BadSignature));
        assert_eq!(verify(&key, "nonsense"), Err(StateError::Malformed));
    }
}
