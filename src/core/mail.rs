//! Outgoing mail: SMTP when configured, otherwise an outbox folder of .eml files, so a fresh
//! install works with no mail server. Mail is only ever sent by the job worker.
use std::path::PathBuf;

use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use serde::{Deserialize, Serialize};

/// One message to one person. Stored as a job payload until it is sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
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
pub enum Mailer {
    Outbox { dir: PathBuf, from: Mailbox },
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox },
}

impl Mailer {
    pub fn new(smtp_url: Option<&str>, outbox: PathBuf, from: &str) -> Result<Mailer, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("mail_from '{from}' is not an address: {e}"))?;
        Ok(match smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("smtp_url is not valid: {e}"))?
                    .build();
                Mailer::Smtp { transport, from }
            }
            None => Mailer::Outbox { dir: outbox, from },
        })
    }

    fn from(&self) -> &Mailbox {
        match self {
            Mailer::Outbox { from, .. } | Mailer::Smtp { from, .. } => from,
        }
    }

    pub fn build(&self, email: &Email) -> Result<Message, MailError> {
        let to: Mailbox = email.to.parse().map_err(|e| MailError::Permanent(format!("bad recipient address: {e}")))?;
        let builder = Message::builder().from(self.from().clone()).to(to).subject(email.subject.clone());
        let plain = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(email.text.clone());
        let message = match &email.html {
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(plain)
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
            ),
            None => builder.singlepart(plain),
        };
        message.map_err(|e| MailError::Permanent(e.to_string()))
    }

    pub async fn send(&self, email: &Email, job_id: i64) -> Result<(), MailError> {
        let message = self.build(email)?;
        match self {
            Mailer::Outbox { dir, .. } => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| MailError::Temporary(e.to_string()))?;
                let path = dir.join(format!("{}-{job_id}.eml", crate::core::time::now()));
                tokio::fs::write(&path, message.formatted()).await.map_err(|e| MailError::Temporary(e.to_string()))
            }
            Mailer::Smtp { transport, .. } => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
                Err(e) => Err(MailError::Temporary(e.to_string())),
            },
        }
    }

    /// Remove outbox files addressed to someone being erased. SMTP keeps no copies here.
    pub async fn forget_recipient(&self, address: &str) -> std::io::Result<usize> {
        let Mailer::Outbox { dir, .. } = self else { return Ok(0) };
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
