//! Master key rotation: every stored secret sealed under an older key is opened and sealed
//! again under the current one. Run it after every process knows the new key (it is the
//! current key, the old ones are still configured to open older values); it is safe to run
//! while they work, since each value is replaced only if it is still the one that was read.

use crate::error::EngineError;
use crate::Engine;
use serde::Serialize;
use tillbridge_store::sealed::{self, SealedColumn, SealedValue, SEALED};

/// What a rotation did to one sealed column.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ResealCount {
    pub column: String,
    /// Sealed again under the current key.
    pub resealed: u64,
    /// Already under the current key.
    pub current: u64,
    /// Changed by someone else while being re-sealed (the new value is sealed by them).
    pub raced: u64,
    /// Could not be opened with any configured key: left as it is.
    pub unreadable: u64,
}

/// The associated data each column's values are sealed with.
fn aad_of(col: &SealedColumn, v: &SealedValue) -> Result<String, EngineError> {
    use crate::connections::aad;
    Ok(match (col.table, col.column) {
        ("connections", "access_token_enc") => aad(&v.id, "access"),
        ("connections", "refresh_token_enc") => aad(&v.id, "refresh"),
        ("connections", "webhook_secret_enc") => aad(&v.id, "webhook"),
        ("oauth_attempts", "verifier_enc") => format!("attempt/{}/verifier", v.id),
        ("outbound_endpoints", "secret_enc" | "previous_secret_enc") => crate::outbound::aad(&v.id),
        (table, column) => {
            return Err(EngineError::Invalid(format!(
                "no associated data is known for sealed column {table}.{column}"
            )))
        }
    })
}

impl Engine {
    /// Re-seals every stored secret that is not under the current key.
    pub async fn reseal_secrets(&self) -> Result<Vec<ResealCount>, EngineError> {
        let vault = self.vault();
        let mut out = Vec::new();
        for col in SEALED {
            let mut count = ResealCount {
                column: format!("{}.{}", col.table, col.column),
                resealed: 0,
                current: 0,
                raced: 0,
                unreadable: 0,
            };
            let values = {
                let mut c = self.conn().await?;
                sealed::values(&mut c, col).await?
            };
            for v in values {
                if vault.is_current(&v.sealed) {
                    count.current += 1;
                    continue;
                }
                let aad = aad_of(col, &v)?;
                let Ok(plain) = vault.open(&v.sealed, &aad) else {
                    count.unreadable += 1;
                    continue;
                };
                let resealed = vault.seal(plain.expose(), &aad);
                let mut c = self.conn().await?;
                if sealed::replace(&mut c, col, &v, &resealed).await? {
                    count.resealed += 1;
                } else {
                    count.raced += 1;
                }
            }
            out.push(count);
        }
        Ok(out)
    }
}
