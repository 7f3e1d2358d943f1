//! Sending to an SMTP server over connections kept open, one per job lane.
//!
//! lettre's own transport writes a message's body and its closing `.` in two writes; with
//! Nagle's algorithm on the socket and the server delaying its acknowledgement, every message
//! then waits about 40 ms, which capped a bulletin at about 180 messages a second. Here lettre
//! still parses the URL's meaning, speaks the protocol, does TLS and authentication
//! (`AsyncSmtpConnection`), but each message's content and its end go in one write, so
//! every write is answered before the next and nothing waits on a timer.
use std::{sync::Mutex, time::Duration};

use lettre::{
    address::Envelope,
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, Tls, TlsParameters},
        commands::{Data, Mail, Rcpt},
        extension::{ClientId, Extension, MailBodyParameter, MailParameter},
        Error as SmtpError,
    },
};

use crate::core::mail::MailError;

const TIMEOUT: Duration = Duration::from_secs(60);

/// Where and how to connect, read from `smtp://user:pass@host:port/helo-name?tls=…` or
/// `smtps://…`, with the same meaning and default ports as lettre gives them.
pub struct SmtpSettings {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl SmtpSettings {
    pub fn parse(url: &str) -> Result<SmtpSettings, String> {
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        let host = parsed.host_str().ok_or("the URL names no host")?.to_string();
        let tls_mode = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_string());
        let params = || TlsParameters::new(host.clone()).map_err(|e| e.to_string());
        let (port, tls) = match (parsed.scheme(), tls_mode.as_deref()) {
            ("smtp", None) => (25, Tls::None),
            ("smtp", Some("required")) => (587, Tls::Required(params()?)),
            ("smtp", Some("opportunistic")) => (587, Tls::Opportunistic(params()?)),
            ("smtps", _) => (465, Tls::Wrapper(params()?)),
            (scheme, tls) => return Err(format!("unknown scheme '{scheme}' or tls setting '{tls:?}'")),
        };
        let decode = |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        let credentials = match (parsed.username(), parsed.password()) {
            ("", None) => None,
            (user, password) => {
                Some(Credentials::new(decode(user).unwrap_or_default(), password.and_then(decode).unwrap_or_default()))
            }
        };
        let hello = match parsed.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        Ok(SmtpSettings { port: parsed.port().unwrap_or(port), host, tls, credentials, hello })
    }
}

/// Open connections waiting for the next message.
pub struct SmtpPool {
    settings: SmtpSettings,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    max_idle: usize,
}

fn classify(e: SmtpError) -> MailError {
    if e.is_permanent() {
        MailError::Permanent(e.to_string())
    } else {
        MailError::Temporary(e.to_string())
    }
}

impl SmtpPool {
    pub fn new(settings: SmtpSettings, max_idle: usize) -> SmtpPool {
        SmtpPool { settings, idle: Mutex::new(Vec::new()), max_idle: max_idle.max(1) }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        let s = &self.settings;
        let wrapper = match &s.tls {
            Tls::Wrapper(params) => Some(params.clone()),
            _ => None,
        };
        let mut conn =
            AsyncSmtpConnection::connect_tokio1((s.host.as_str(), s.port), Some(TIMEOUT), &s.hello, wrapper, None).await?;
        match &s.tls {
            Tls::Required(params) => conn.starttls(params.clone(), &s.hello).await?,
            Tls::Opportunistic(params) if conn.can_starttls() => conn.starttls(params.clone(), &s.hello).await?,
            _ => {}
        }
        if let Some(credentials) = &s.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await?;
        }
        Ok(conn)
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        self.idle.lock().ok()?.pop()
    }

    fn give_back(&self, conn: AsyncSmtpConnection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.max_idle {
                idle.push(conn);
            }
        }
    }

    /// Send one formatted message. A kept connection that the server has since closed is
    /// replaced once; any other failure drops the connection and says whether to retry later.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), MailError> {
        let mut conn = match self.take_idle() {
            Some(mut conn) => match self.transaction(&mut conn, envelope, message).await {
                Ok(()) => {
                    self.give_back(conn);
                    return Ok(());
                }
                // Closed while idle: nothing was accepted, so a fresh connection may try.
                Err(Stage::Opening(_)) => self.connect().await.map_err(classify)?,
                Err(Stage::Sending(e)) => return Err(classify(e)),
            },
            None => self.connect().await.map_err(classify)?,
        };
        match self.transaction(&mut conn, envelope, message).await {
            Ok(()) => {
                self.give_back(conn);
                Ok(())
            }
            Err(Stage::Opening(e) | Stage::Sending(e)) => Err(classify(e)),
        }
    }

    async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(), Stage> {
        let mut parameters = Vec::new();
        if !message.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mail = conn.command(Mail::new(envelope.from().cloned(), parameters)).await;
        mail.map_err(|e| if e.is_permanent() || e.is_transient() { Stage::Sending(e) } else { Stage::Opening(e) })?;
        for to in envelope.to() {
            conn.command(Rcpt::new(to.clone(), Vec::new())).await.map_err(Stage::Sending)?;
        }
        conn.command(Data).await.map_err(Stage::Sending)?;
        conn.command(Content(dot_stuffed(message))).await.map_err(Stage::Sending)?;
        Ok(())
    }
}

/// Where a transaction failed: before the server accepted anything (the connection may just
/// have gone stale) or after.
enum Stage {
    Opening(SmtpError),
    Sending(SmtpError),
}

/// A message's content and the `.` line that ends it, written at once.
struct Content(String);

impl std::fmt::Display for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 5321 transparency: a line starting with "." gets another; then the closing ".".
fn dot_stuffed(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_starting_with_a_dot_are_escaped_and_the_message_ends_with_a_dot_line() {
        assert_eq!(dot_stuffed(b"Hi\r\n.hidden\r\nbye"), "Hi\r\n..hidden\r\nbye\r\n.\r\n");
        assert_eq!(dot_stuffed(b".\r\n"), "..\r\n.\r\n");
    }

    #[test]
    fn urls_mean_what_lettre_says_they_mean() {
        let s = SmtpSettings::parse("smtp://user%40x:p%20ss@mail.example.org/helo.example.org?tls=required").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("mail.example.org", 587));
        assert!(matches!(s.tls, Tls::Required(_)));
        assert_eq!(s.credentials, Some(Credentials::new("user@x".into(), "p ss".into())));
        assert_eq!(s.hello, ClientId::Domain("helo.example.org".into()));
        assert_eq!(SmtpSettings::parse("smtp://127.0.0.1:2525").unwrap().port, 2525);
        assert!(matches!(SmtpSettings::parse("smtps://mail.example.org").unwrap().tls, Tls::Wrapper(_)));
        assert!(SmtpSettings::parse("ftp://x").is_err());
    }
}
