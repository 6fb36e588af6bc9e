//! API keys: `tbk_` + 40 random characters, shown once; stored as a SHA-256 hash (keys are
//! high-entropy, so a fast hash is the right tool). A key is scoped to one merchant or to the
//! whole installation.

use crate::error::EngineError;
use crate::ids::new_id;
use crate::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};
use tillbridge_store::api_keys::{self, ApiKeyRow};

pub const PREFIX: &str = "tbk_";

pub fn hash_key(plaintext: &str) -> String {
    Sha256::digest(plaintext.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A newly created key: the plaintext exists only here.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: ApiKeyRow,
    /// The key itself; it cannot be shown again.
    pub secret: String,
}

impl Engine {
    pub async fn create_api_key(
        &self,
        name: &str,
        merchant_id: Option<&str>,
    ) -> Result<CreatedKey, EngineError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(EngineError::Invalid(
                "an API key name must be 1 to 100 characters".into(),
            ));
        }
        if let Some(m) = merchant_id {
            self.merchant(m).await?;
        }
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let body: String = {
            let mut rng = rand::thread_rng();
            (0..40)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect()
        };
        let secret = format!("{PREFIX}{body}");
        let row = ApiKeyRow {
            id: new_id("key"),
            merchant_id: merchant_id.map(str::to_owned),
            name: name.to_owned(),
            prefix: secret.chars().take(PREFIX.len() + 6).collect(),
            hash: hash_key(&secret),
            created_at: self.now_ms(),
            last_used_at: None,
            revoked_at: None,
        };
        let mut c = self.conn().await?;
        api_keys::insert(&mut c, &row).await?;
        Ok(CreatedKey { key: row, secret })
    }

    /// The active key matching `plaintext`, if any.
    pub async fn authenticate(&self, plaintext: &str) -> Result<Option<ApiKeyRow>, EngineError> {
        if !plaintext.starts_with(PREFIX) {
            return Ok(None);
        }
        let mut c = self.conn().await?;
        let found = api_keys::find_active(&mut c, &hash_key(plaintext)).await?;
        // Last use is kept to the minute, so reads do not queue behind writers on SQLite.
        let now = self.now_ms();
        if let Some(k) = found
            .as_ref()
            .filter(|k| k.last_used_at.is_none_or(|at| now - at > 60_000))
        {
            api_keys::touch(&mut c, &k.id, now).await?;
        }
        Ok(found)
    }

    pub async fn api_keys(&self, merchant_id: Option<&str>) -> Result<Vec<ApiKeyRow>, EngineError> {
        let mut c = self.conn().await?;
        Ok(api_keys::list(&mut c, merchant_id).await?)
    }

    pub async fn revoke_api_key(&self, id: &str) -> Result<(), EngineError> {
        let mut c = self.conn().await?;
        if api_keys::revoke(&mut c, id, self.now_ms()).await? {
            Ok(())
        } else {
            Err(EngineError::NotFound(format!("no active API key `{id}`")))
        }
    }
}
