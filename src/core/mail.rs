//! Outgoing mail: SMTP when configured, otherwise an outbox folder of .eml files, so a fresh
//! install works with no mail server. Mail is only ever sent by the job worker. Every message
//! is DKIM-signed when a key is configured.
use std::{path::PathBuf, sync::Arc};

use lettre::{
    address::Envelope,
    message::{
        header::{ContentType, HeaderName, HeaderValue},
        Mailbox, MultiPart, SinglePart,
    },
    Message,
};
use serde::{Deserialize, Serialize};

use crate::core::{
    config::Config,
    dkim::DkimSigner,
    smtp::{SmtpPool, SmtpSettings},
};

/// One message to one person. Stored as a job payload until it is sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
    /// Extra headers, e.g. `List-Unsubscribe`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
}

impl Email {
    /// A plain-text message.
    pub fn text(to: &str, subject: impl Into<String>, text: impl Into<String>) -> Email {
        Email { to: to.to_string(), subject: subject.into(), text: text.into(), html: None, headers: Vec::new() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The server refused for good (unknown mailbox, bad address): retrying will not help.
    #[error("permanent failure: {0}")]
    Permanent(String),
    #[error("temporary failure: {0}")]
    Temporary(String),
}

#[derive(Clone)]
enum Transport {
    Outbox(PathBuf),
    Smtp(Arc<SmtpPool>),
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    dkim: Option<Arc<DkimSigner>>,
}

impl Mailer {
    /// SMTP keeps up to one connection per job lane open, so lanes send side by side.
    pub fn new(config: &Config) -> Result<Mailer, String> {
        let from: Mailbox =
            config.mail_from.parse().map_err(|e| format!("mail_from '{}' is not an address: {e}", config.mail_from))?;
        let transport = match config.smtp_url.as_deref() {
            Some(url) => Transport::Smtp(Arc::new(SmtpPool::new(
                SmtpSettings::parse(url).map_err(|e| format!("smtp_url is not valid: {e}"))?,
                config.job_workers,
            ))),
            None => Transport::Outbox(config.outbox_dir()),
        };
        let dkim = DkimSigner::configured(config).map_err(|e| format!("DKIM: {e}"))?.map(Arc::new);
        Ok(Mailer { transport, from, dkim })
    }

    /// The message's envelope and its bytes as sent, signed when a DKIM key is configured.
    pub fn build(&self, email: &Email) -> Result<(Envelope, Vec<u8>), MailError> {
        let to: Mailbox = email.to.parse().map_err(|e| MailError::Permanent(format!("bad recipient address: {e}")))?;
        // A Message-ID in our own domain: mail without one is more likely to be taken for spam.
        let message_id = format!("<{}@{}>", crate::core::crypto::random_token(), self.from.email.domain());
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(message_id));
        for (name, value) in &email.headers {
            let name = HeaderName::new_from_ascii(name.clone())
                .map_err(|e| MailError::Permanent(format!("bad header name {name}: {e}")))?;
            builder = builder.raw_header(HeaderValue::new(name, value.clone()));
        }
        let plain = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(email.text.clone());
        let message = match &email.html {
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(plain)
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
            ),
            None => builder.singlepart(plain),
        };
        let message = message.map_err(|e| MailError::Permanent(e.to_string()))?;
        let bytes = match &self.dkim {
            Some(dkim) => dkim.sign(&message.formatted(), crate::core::time::now()),
            None => message.formatted(),
        };
        Ok((message.envelope().clone(), bytes))
    }

    /// Builds and signs on the blocking pool (an RSA signature is about a millisecond of CPU;
    /// on the runtime's threads it would hold up requests), then hands the message over.
    pub async fn send(&self, email: Email, job_id: i64) -> Result<(), MailError> {
        let mailer = self.clone();
        let (envelope, message) = tokio::task::spawn_blocking(move || mailer.build(&email))
            .await
            .map_err(|e| MailError::Temporary(format!("building the message stopped: {e}")))??;
        match &self.transport {
            Transport::Outbox(dir) => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| MailError::Temporary(e.to_string()))?;
                let path = dir.join(format!("{}-{job_id}.eml", crate::core::time::now()));
                tokio::fs::write(&path, message).await.map_err(|e| MailError::Temporary(e.to_string()))
            }
            Transport::Smtp(pool) => pool.send(&envelope, &message).await,
        }
    }

    /// Remove outbox files addressed to someone being erased. SMTP keeps no copies here.
    pub async fn forget_recipient(&self, address: &str) -> std::io::Result<usize> {
        let Transport::Outbox(dir) = &self.transport else { return Ok(0) };
        let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return Ok(0) };
        let needle = address.to_ascii_lowercase();
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await? {
            let content = tokio::fs::read(entry.path()).await.unwrap_or_default();
            if String::from_utf8_lossy(&content).to_ascii_lowercase().contains(&needle) {
                tokio::fs::remove_file(entry.path()).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
