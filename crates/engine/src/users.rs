//! Dashboard users: an e-mail and a password hashed with Argon2id (memory-hard, 19 MiB, two
//! passes: the OWASP baseline), scoped to one merchant or, for administrators, to the whole
//! installation. A sign-in starts a session whose random token lives only in the browser's
//! cookie; the database keeps its SHA-256. Each session's form token (against cross-site
//! request forgery) is derived from the session token, so it needs no storage of its own and
//! cannot be computed from the database.

use crate::api_keys::hash_key;
use crate::error::EngineError;
use crate::ids::new_id;
use crate::Engine;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;
use sha2::{Digest, Sha256};
use tillbridge_model::Email;
use tillbridge_store::dashboard::{self, UserRow};

/// How long a sign-in lasts.
pub const SESSION_MS: i64 = 12 * 3600 * 1000;
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Failed sign-ins of one e-mail before it has to wait.
pub const FAILURES_BEFORE_WAIT: i64 = 5;
/// How long an e-mail waits after too many failures; failures older than this are forgotten.
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// A signed-in browser: the token for its cookie (shown nowhere else) and who it is.
pub struct Session {
    pub token: String,
    pub user: UserRow,
}

/// What a sign-in attempt got.
pub enum SignIn {
    Session(Session),
    /// The e-mail and password do not match (which of the two is not said).
    Refused,
    /// Too many failures for this e-mail: no password is checked until the wait is over.
    Wait {
        minutes: i64,
    },
}

fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A password for a generated account (the demo's administrator): 20 characters, ~119 bits.
pub fn generate_password() -> String {
    random_token(20)
}

/// The form token of the session with this cookie token.
pub fn csrf_token(session_token: &str) -> String {
    let digest = Sha256::digest(format!("tillbridge-csrf\0{session_token}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_password(password: &str) -> Result<(), EngineError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(EngineError::Invalid(format!(
            "the password is {n} characters long; use at least {MIN_PASSWORD_CHARS}"
        )));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(EngineError::Invalid(format!(
            "the password is {n} characters long; use at most {MAX_PASSWORD_CHARS}"
        )));
    }
    Ok(())
}

/// Hashing and verifying take tens of milliseconds of CPU each: off the async workers.
async fn hash_password(password: String) -> Result<String, EngineError> {
    tokio::task::spawn_blocking(move || {
        let salt: [u8; 16] = rand::thread_rng().gen();
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| EngineError::Internal(format!("password salt: {e}")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| EngineError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| EngineError::Internal(format!("password hashing stopped: {e}")))?
}

async fn verify_password(password: String, phc: String) -> Result<bool, EngineError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&phc).map_err(|e| {
            EngineError::Internal(format!("a stored password hash is unreadable: {e}"))
        })?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| EngineError::Internal(format!("password check stopped: {e}")))?
}

/// Verified against when nobody has the e-mail, so that an unknown address takes as long to
/// refuse as a wrong password.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2lnbi1pbi1kZWNveS0x$2Vd3oXw1N8S2u3sJfQ1oV8pXqU2t9JzD3zQ7m5B1y0E";

impl Engine {
    /// Adds a dashboard user for a merchant, or an administrator with `None`.
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        merchant_id: Option<&str>,
    ) -> Result<UserRow, EngineError> {
        let email = Email::parse(email).map_err(|e| EngineError::Invalid(e.to_string()))?;
        check_password(password)?;
        if let Some(m) = merchant_id {
            self.merchant(m).await?;
        }
        let mut c = self.conn().await?;
        if dashboard::user_by_email(&mut c, email.as_str())
            .await?
            .is_some()
        {
            return Err(EngineError::Conflict(format!(
                "a dashboard user with the e-mail `{}` already exists; sign in as them or pick another address",
                email.as_str()
            )));
        }
        let row = UserRow {
            id: new_id("usr"),
            merchant_id: merchant_id.map(str::to_owned),
            email: email.as_str().to_owned(),
            password_hash: hash_password(password.to_owned()).await?,
            created_at: self.now_ms(),
            last_sign_in_at: None,
        };
        dashboard::insert_user(&mut c, &row).await?;
        Ok(row)
    }

    pub async fn users(&self, merchant_id: Option<&str>) -> Result<Vec<UserRow>, EngineError> {
        let mut c = self.conn().await?;
        Ok(dashboard::users(&mut c, merchant_id).await?)
    }

    /// Sets a user's password and signs them out everywhere.
    pub async fn set_user_password(&self, email: &str, password: &str) -> Result<(), EngineError> {
        check_password(password)?;
        let email = Email::parse(email).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let hash = hash_password(password.to_owned()).await?;
        let mut c = self.conn().await?;
        let user = dashboard::user_by_email(&mut c, email.as_str())
            .await?
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "no dashboard user with the e-mail `{}`",
                    email.as_str()
                ))
            })?;
        dashboard::set_password(&mut c, &user.id, &hash).await?;
        dashboard::delete_sessions_of(&mut c, &user.id).await?;
        dashboard::clear_sign_in_failures(&mut c, email.as_str()).await?;
        Ok(())
    }

    /// Starts a session when the e-mail and password match. After
    /// [`FAILURES_BEFORE_WAIT`] failures for an e-mail (known or not, so the answer says
    /// nothing about which exist), it waits [`FAILURE_WINDOW_MS`] from the last failure.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<SignIn, EngineError> {
        let key = Email::parse(email)
            .map(|e| e.as_str().to_owned())
            .unwrap_or_else(|_| email.trim().to_lowercase());
        let now = self.now_ms();
        let mut c = self.conn().await?;
        if let Some((failures, last)) = dashboard::sign_in_failures(&mut c, &key).await? {
            let until = last + FAILURE_WINDOW_MS;
            if failures >= FAILURES_BEFORE_WAIT && now < until {
                let minutes = (until - now + 59_999) / 60_000;
                return Ok(SignIn::Wait { minutes });
            }
        }
        let found = dashboard::user_by_email(&mut c, &key).await?;
        drop(c);
        let phc = found
            .as_ref()
            .map_or_else(|| DECOY.to_owned(), |u| u.password_hash.clone());
        let matches = verify_password(password.to_owned(), phc).await?;
        let mut c = self.conn().await?;
        let Some(user) = found.filter(|_| matches) else {
            dashboard::record_sign_in_failure(&mut c, &key, now, FAILURE_WINDOW_MS).await?;
            return Ok(SignIn::Refused);
        };
        dashboard::clear_sign_in_failures(&mut c, &key).await?;
        let token = random_token(43);
        dashboard::insert_session(&mut c, &hash_key(&token), &user.id, now, now + SESSION_MS)
            .await?;
        Ok(SignIn::Session(Session { token, user }))
    }

    /// The dashboard's first-run steps the merchant finished or skipped: (step, state).
    pub async fn onboarding(
        &self,
        merchant_id: &str,
    ) -> Result<Vec<(String, String)>, EngineError> {
        self.merchant(merchant_id).await?;
        let mut c = self.conn().await?;
        Ok(dashboard::onboarding(&mut c, merchant_id).await?)
    }

    /// Records a first-run step as `done` or `skipped`.
    pub async fn set_onboarding(
        &self,
        merchant_id: &str,
        step: &str,
        state: &str,
        user_email: &str,
    ) -> Result<(), EngineError> {
        self.merchant(merchant_id).await?;
        let mut c = self.conn().await?;
        let now = self.now_ms();
        Ok(dashboard::set_onboarding(&mut c, merchant_id, step, state, user_email, now).await?)
    }

    /// The user of a live session.
    pub async fn session_user(&self, token: &str) -> Result<Option<UserRow>, EngineError> {
        let mut c = self.conn().await?;
        Ok(dashboard::session_user(&mut c, &hash_key(token), self.now_ms()).await?)
    }

    pub async fn sign_out(&self, token: &str) -> Result<(), EngineError> {
        let mut c = self.conn().await?;
        Ok(dashboard::delete_session(&mut c, &hash_key(token)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoy_is_a_readable_argon2id_hash() {
        let parsed = PasswordHash::new(DECOY).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(Argon2::default()
            .verify_password(b"anything", &parsed)
            .is_err());
    }

    #[test]
    fn form_tokens_differ_per_session_and_are_stable() {
        assert_eq!(csrf_token("a"), csrf_token("a"));
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a").len(), 64);
    }

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let phc = hash_password("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery".into(), phc.clone())
            .await
            .unwrap());
        assert!(!verify_password("correct horse batterY".into(), phc)
            .await
            .unwrap());
    }
}
