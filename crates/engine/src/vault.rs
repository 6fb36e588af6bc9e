//! The token vault: secrets are sealed with ChaCha20-Poly1305 under a 256-bit key. Each
//! ciphertext names its key id (`tbv1:{kid}:{base64(nonce ‖ ciphertext)}`) and is bound to
//! where it is stored through the associated data, so a ciphertext copied to another row or
//! column does not decrypt. The embedded default keeps the key in a 0600 file in the data
//! directory; production passes `TILLBRIDGE_MASTER_KEY`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::collections::HashMap;
use std::path::Path;
use tillbridge_lightspeed::Secret;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the master key is not valid: {0} (expected 32 bytes, base64-encoded, e.g. from `openssl rand -base64 32`)")]
    BadKey(String),
    #[error("the key file {path} could not be used: {detail}")]
    KeyFile { path: String, detail: String },
    #[error("a stored secret could not be decrypted (wrong master key, or the value was moved or altered)")]
    Decrypt,
    #[error("a stored secret was sealed with key `{0}`, which this installation does not have")]
    UnknownKey(String),
}

#[derive(Clone)]
pub struct Vault {
    keys: HashMap<String, [u8; 32]>,
    current: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

const PREFIX: &str = "tbv1";

impl Vault {
    /// A vault with one key, given as base64; its id is derived from the key itself.
    pub fn from_base64(encoded: &str) -> Result<Vault, VaultError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(encoded.trim()))
            .map_err(|e| VaultError::BadKey(e.to_string()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| VaultError::BadKey(format!("{} bytes", b.len())))?;
        let id = key_id(&key);
        Ok(Vault {
            keys: HashMap::from([(id.clone(), key)]),
            current: id,
        })
    }

    /// Reads the key file at `path`, creating it (mode 0600) with a fresh random key if absent.
    /// The file holds one base64 key per line: the current one first, then older ones that
    /// still open what they sealed (after [`Vault::rotate_key_file`]).
    pub fn load_or_create(path: &Path) -> Result<Vault, VaultError> {
        let err = |detail: String| VaultError::KeyFile {
            path: path.display().to_string(),
            detail,
        };
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let current = lines
                .next()
                .ok_or_else(|| err("the file holds no key".into()))?;
            let mut vault = Vault::from_base64(current)?;
            for older in lines {
                vault = vault.with_previous(older)?;
            }
            return Ok(vault);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let encoded = STANDARD.encode(key);
        write_private(path, &encoded).map_err(|e| err(e.to_string()))?;
        Vault::from_base64(&encoded)
    }

    /// Adds an older key so ciphertexts sealed with it still open (during rotation).
    pub fn with_previous(mut self, encoded: &str) -> Result<Vault, VaultError> {
        let old = Vault::from_base64(encoded)?;
        self.keys.extend(old.keys);
        Ok(self)
    }

    /// Puts a fresh key first in the key file at `path`, keeping the others after it, and
    /// returns the vault it describes. The file is replaced atomically (mode 0600).
    pub fn rotate_key_file(path: &Path) -> Result<Vault, VaultError> {
        let err = |detail: String| VaultError::KeyFile {
            path: path.display().to_string(),
            detail,
        };
        let old = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let mut text = STANDARD.encode(key);
        for line in old.lines().map(str::trim).filter(|l| !l.is_empty()) {
            text.push('\n');
            text.push_str(line);
        }
        text.push('\n');
        let tmp = path.with_extension("rotating");
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, &text).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
        Vault::load_or_create(path)
    }

    /// Whether `sealed` was sealed with the current key (a value to leave alone on rotation).
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed
            .split(':')
            .nth(1)
            .is_some_and(|kid| kid == self.current)
    }

    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    pub fn seal(&self, plaintext: &str, aad: &str) -> String {
        let key = &self.keys[&self.current];
        let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{PREFIX}:{}:{}", self.current, URL_SAFE_NO_PAD.encode(out))
    }

    pub fn open(&self, sealed: &str, aad: &str) -> Result<Secret, VaultError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some(PREFIX), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(VaultError::Decrypt);
        };
        let key = self
            .keys
            .get(kid)
            .ok_or_else(|| VaultError::UnknownKey(kid.to_owned()))?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| VaultError::Decrypt)?;
        if raw.len() < 12 + 16 {
            return Err(VaultError::Decrypt);
        }
        let (nonce, ct) = raw.split_at(12);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
        let pt = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Decrypt)?;
        String::from_utf8(pt)
            .map(Secret::new)
            .map_err(|_| VaultError::Decrypt)
    }

    /// A subkey for a purpose (e.g. signing OAuth state), so the master key signs nothing itself.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let key = &self.keys[&self.current];
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn key_id(key: &[u8; 32]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(b"tillbridge key id");
    let digest = mac.finalize().into_bytes();
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::from_base64(&STANDARD.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn round_trips_and_binds_to_its_place() {
        let v = vault();
        let sealed = v.seal("refresh-token-value", "conn_1/refresh");
        assert!(!sealed.contains("refresh-token-value"));
        assert_eq!(
            v.open(&sealed, "conn_1/refresh").unwrap().expose(),
            "refresh-token-value"
        );
        assert!(matches!(
            v.open(&sealed, "conn_2/refresh"),
            Err(VaultError::Decrypt)
        ));
    }

    #[test]
    fn tampering_and_unknown_keys_fail() {
        let v = vault();
        // Change one character of the ciphertext to a different one (the last character of
        // unpadded base64 can carry unused bits, so a change there may decode the same).
        let sealed = v.seal("x", "a");
        let at = sealed.len() - 8;
        let mut tampered = sealed.clone().into_bytes();
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_ne!(tampered, sealed);
        assert!(v.open(&tampered, "a").is_err());
        let other = Vault::from_base64(&STANDARD.encode([9u8; 32])).unwrap();
        assert!(matches!(
            other.open(&v.seal("x", "a"), "a"),
            Err(VaultError::UnknownKey(_))
        ));
        let both = other.with_previous(&STANDARD.encode([7u8; 32])).unwrap();
        assert_eq!(both.open(&v.seal("x", "a"), "a").unwrap().expose(), "x");
    }

    #[test]
    fn a_rotated_key_file_keeps_opening_what_older_keys_sealed() {
        let dir = std::env::temp_dir().join(format!("tb-vault-{}", crate::ids::new_id("t")));
        let path = dir.join("master.key");
        let first = Vault::load_or_create(&path).unwrap();
        let sealed = first.seal("token", "conn_1/access");
        let rotated = Vault::rotate_key_file(&path).unwrap();
        assert_ne!(rotated.current_key_id(), first.current_key_id());
        assert!(!rotated.is_current(&sealed));
        assert_eq!(
            rotated.open(&sealed, "conn_1/access").unwrap().expose(),
            "token"
        );
        let again = Vault::load_or_create(&path).unwrap();
        assert_eq!(again.current_key_id(), rotated.current_key_id());
        assert!(again.is_current(&again.seal("x", "a")));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rejects_short_keys() {
        assert!(matches!(
            Vault::from_base64(&STANDARD.encode([1u8; 16])),
            Err(VaultError::BadKey(_))
        ));
    }

    #[test]
    fn creates_a_private_key_file() {
        let dir = std::env::temp_dir().join(format!("tb-vault-{}", crate::ids::new_id("t")));
        let path = dir.join("master.key");
        let a = Vault::load_or_create(&path).unwrap();
        let b = Vault::load_or_create(&path).unwrap();
        assert_eq!(a.current_key_id(), b.current_key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
