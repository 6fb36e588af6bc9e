//! Sends the queued alert mails: through an SMTP relay, or as `.eml` files into a directory
//! (the demo's outbox). A mail is marked sent only after the relay accepted it (or the file
//! was written); a failed one is retried with a growing delay, up to a day apart.

use crate::config::MailTransport;
use crate::error::EngineError;
use crate::Engine;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tillbridge_store::outbox::{self, MailRow};

/// Mails handled per look.
const BATCH: i64 = 50;

fn message(from: &str, mail: &MailRow) -> Result<Message, String> {
    let from = from
        .parse()
        .map_err(|e| format!("the sender `{from}` is not an address: {e}"))?;
    let to = mail
        .recipient
        .parse()
        .map_err(|e| format!("the recipient `{}` is not an address: {e}", mail.recipient))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| format!("the mail could not be built: {e}"))
}

async fn deliver(transport: &MailTransport, from: &str, mail: &MailRow) -> Result<(), String> {
    match transport {
        MailTransport::None => Err("no mail transport is configured".into()),
        MailTransport::Directory(dir) => {
            let m = message(from, mail)?;
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let path = dir.join(format!("{}-{}.eml", mail.created_at, mail.id));
            // Written under a temporary name and renamed, so a reader never sees half a mail.
            let partial = path.with_extension("eml.partial");
            tokio::fs::write(&partial, m.formatted())
                .await
                .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
            tokio::fs::rename(&partial, &path)
                .await
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        MailTransport::Smtp { url } => {
            let m = message(from, mail)?;
            let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                // The URL may hold credentials: never echo it.
                .map_err(|e| {
                    format!(
                        "the SMTP URL is not usable: {}",
                        redact(&e.to_string(), url.expose())
                    )
                })?
                .timeout(Some(std::time::Duration::from_secs(20)))
                .build();
            smtp.send(m).await.map(drop).map_err(|e| {
                format!(
                    "the SMTP relay refused the mail: {}",
                    redact(&e.to_string(), url.expose())
                )
            })
        }
    }
}

fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "[smtp url]")
    }
}

impl Engine {
    /// Sends (or writes out) the mails that are due; returns how many went out.
    pub async fn deliver_mails(&self) -> Result<usize, EngineError> {
        let transport = self.config().mail.clone();
        if matches!(transport, MailTransport::None) {
            return Ok(0);
        }
        let due = {
            let mut c = self.conn().await?;
            outbox::due(&mut c, self.now_ms(), BATCH).await?
        };
        let mut sent = 0;
        for mail in &due {
            let result = deliver(&transport, &self.config().mail_from, mail).await;
            let now = self.now_ms();
            let mut c = self.conn().await?;
            match result {
                Ok(()) => {
                    outbox::mark_sent(&mut c, &mail.merchant_id, &mail.id, now).await?;
                    sent += 1;
                }
                Err(error) => {
                    tracing::warn!(mail = %mail.id, %error, "an alert mail could not be sent; retrying later");
                    let delay = (30_000i64 << mail.attempts.min(12)).min(86_400_000);
                    outbox::mark_failed(&mut c, &mail.merchant_id, &mail.id, &error, now + delay)
                        .await?;
                }
            }
        }
        Ok(sent)
    }
}
