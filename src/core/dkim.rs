//! DKIM signatures (RFC 6376), relaxed/relaxed, with RSA-SHA256 and Ed25519-SHA256 (RFC 8463),
//! signed by ring (assembly-backed; the pure-Rust RSA that lettre uses signed about a quarter as
//! fast). When both kinds of key are configured every message carries both signatures: receivers
//! that know Ed25519 use it, the rest the RSA one.
//!
//! Signing is plain CPU work on the finished message's bytes; the mailer runs it on the blocking
//! pool, off the threads that serve requests.
use ring::{
    digest::{digest, SHA256},
    rand::SystemRandom,
    rsa::KeyPair as RsaKeyPair,
    signature::{Ed25519KeyPair, RSA_PKCS1_SHA256},
};
use rustls_pki_types::{pem::PemObject, PrivateKeyDer};

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};

/// Headers a signature covers, when the message has them: the ones a reader sees, and the
/// unsubscribe headers that RFC 8058 requires to be signed.
const SIGNED_HEADERS: [&str; 10] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
];

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("cannot read the key file {0}: {1}")]
    Read(String, std::io::Error),
    #[error(
        "{0} is not a private key this can sign with: an RSA key (2048 to 4096 bits) in PEM, PKCS#1 \
         or PKCS#8, or an Ed25519 key in PKCS#8 PEM or as the base64 of its 32-byte seed ({1})"
    )]
    Key(String, String),
    #[error("dkim_selector names {0} selectors but dkim_key_file names {1} files: give one selector per key")]
    Mismatch(usize, usize),
}

enum Key {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Key {
    fn algorithm(&self) -> &'static str {
        match self {
            Key::Rsa(_) => "rsa-sha256",
            Key::Ed25519(_) => "ed25519-sha256",
        }
    }

    /// The signature over the canonical header data: RSA signs it with SHA-256; Ed25519 signs
    /// its SHA-256 digest (RFC 8463 §3).
    fn sign(&self, data: &[u8], rng: &SystemRandom) -> Vec<u8> {
        match self {
            Key::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                // Fails only for a modulus ring would not have loaded.
                key.sign(&RSA_PKCS1_SHA256, rng, data, &mut signature).expect("RSA signing with a loaded key");
                signature
            }
            Key::Ed25519(key) => key.sign(digest(&SHA256, data).as_ref()).as_ref().to_vec(),
        }
    }

    /// Reads a key file's text: PEM (RSA PKCS#1, RSA or Ed25519 PKCS#8) or a bare base64 seed.
    fn parse(text: &str) -> Result<Key, String> {
        let text = text.trim();
        if text.starts_with("-----BEGIN") {
            return match PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| e.to_string())? {
                PrivateKeyDer::Pkcs1(der) => {
                    RsaKeyPair::from_der(der.secret_pkcs1_der()).map(Key::Rsa).map_err(|e| e.to_string())
                }
                PrivateKeyDer::Pkcs8(der) => {
                    let der = der.secret_pkcs8_der();
                    RsaKeyPair::from_pkcs8(der).map(Key::Rsa).or_else(|rsa| {
                        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                            .map(Key::Ed25519)
                            .map_err(|ed| format!("not RSA ({rsa}), not Ed25519 ({ed})"))
                    })
                }
                _ => Err("an elliptic-curve (SEC1) key; DKIM signs with RSA or Ed25519".into()),
            };
        }
        let bytes = BASE64.decode(text).map_err(|e| format!("not PEM, and not base64: {e}"))?;
        // Some tools write the 32-byte seed followed by the 32-byte public key.
        let seed = bytes.get(..32).filter(|_| bytes.len() == 32 || bytes.len() == 64);
        let seed = seed.ok_or_else(|| format!("{} bytes, where an Ed25519 seed has 32", bytes.len()))?;
        Ed25519KeyPair::from_seed_unchecked(seed).map(Key::Ed25519).map_err(|e| e.to_string())
    }
}

/// Signs messages for one domain with one or two keys (each under its own selector).
pub struct DkimSigner {
    domain: String,
    keys: Vec<(String, Key)>,
    rng: SystemRandom,
}

impl DkimSigner {
    /// `selectors` and `key_files` are comma-separated and paired in order, so that
    /// `ed,rsa` with `ed.key,rsa.pem` signs twice.
    pub fn load(domain: &str, selectors: &str, key_files: &str) -> Result<DkimSigner, DkimError> {
        let selectors: Vec<&str> = selectors.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        let files: Vec<&str> = key_files.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if selectors.len() != files.len() {
            return Err(DkimError::Mismatch(selectors.len(), files.len()));
        }
        let mut keys = Vec::with_capacity(files.len());
        for (selector, file) in selectors.into_iter().zip(files) {
            let text = std::fs::read_to_string(file).map_err(|e| DkimError::Read(file.to_string(), e))?;
            keys.push((selector.to_string(), Key::parse(&text).map_err(|e| DkimError::Key(file.to_string(), e))?));
        }
        // Ed25519 first: receivers read signatures top down, and it is the stronger.
        keys.sort_by_key(|(_, key)| matches!(key, Key::Rsa(_)));
        Ok(DkimSigner { domain: domain.to_string(), keys, rng: SystemRandom::new() })
    }

    /// The signer the settings describe, or None when DKIM is not configured.
    pub fn configured(config: &crate::core::config::Config) -> Result<Option<DkimSigner>, DkimError> {
        let (Some(domain), Some(selector), Some(files)) =
            (&config.dkim_domain, &config.dkim_selector, &config.dkim_key_file)
        else {
            return Ok(None);
        };
        DkimSigner::load(domain, selector, &files.to_string_lossy()).map(Some)
    }

    /// The message with a `DKIM-Signature` header per key put in front of its headers.
    /// `timestamp` is the signature's `t=` (seconds since 1970).
    pub fn sign(&self, message: &[u8], timestamp: i64) -> Vec<u8> {
        let (head, body) = split(message);
        let body_hash = BASE64.encode(digest(&SHA256, &relaxed_body(body)));
        let fields = header_fields(head);
        let mut canonical = Vec::with_capacity(head.len());
        let mut names = Vec::new();
        for wanted in SIGNED_HEADERS {
            if let Some(field) = fields.iter().rev().find(|f| f.name().eq_ignore_ascii_case(wanted)) {
                relaxed_header(field, &mut canonical);
                canonical.extend_from_slice(b"\r\n");
                names.push(wanted.to_ascii_lowercase());
            }
        }
        let names = names.join(":");
        let mut signed = Vec::with_capacity(message.len() + 600 * self.keys.len());
        for (selector, key) in &self.keys {
            // Folded between tags; the signature covers exactly this text with `b=` empty.
            let unsigned = format!(
                "DKIM-Signature: v=1; a={}; c=relaxed/relaxed; d={}; s={selector};\r\n\tt={timestamp}; h={names};\r\n\tbh={body_hash};\r\n\tb=",
                key.algorithm(),
                self.domain,
            );
            let mut data = canonical.clone();
            relaxed_header(unsigned.as_bytes(), &mut data);
            let signature = BASE64.encode(key.sign(&data, &self.rng));
            signed.extend_from_slice(unsigned.as_bytes());
            signed.extend_from_slice(signature.as_bytes());
            signed.extend_from_slice(b"\r\n");
        }
        signed.extend_from_slice(message);
        signed
    }
}

/// The header block (with its final CRLF) and the body, split at the first empty line.
fn split(message: &[u8]) -> (&[u8], &[u8]) {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&message[..at + 2], &message[at + 4..]),
        None => (message, &[]),
    }
}

/// The header fields, each with its continuation lines, without the final CRLF.
fn header_fields(head: &[u8]) -> Vec<&[u8]> {
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < head.len() {
        if head[i] == b'\r' && head[i + 1] == b'\n' {
            let continues = head.get(i + 2).is_some_and(|c| *c == b' ' || *c == b'\t');
            if !continues {
                fields.push(&head[start..i]);
                start = i + 2;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    if start < head.len() {
        fields.push(&head[start..]);
    }
    fields
}

trait FieldName {
    fn name(&self) -> &str;
}

impl FieldName for &[u8] {
    fn name(&self) -> &str {
        let end = self.iter().position(|c| *c == b':').unwrap_or(self.len());
        std::str::from_utf8(&self[..end]).unwrap_or("").trim()
    }
}

fn is_wsp(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// RFC 6376 §3.4.2: name in lower case, unfolded, runs of white space as one space, none around
/// the colon or at the end. Appended to `out` without a CRLF.
fn relaxed_header(field: &[u8], out: &mut Vec<u8>) {
    let colon = field.iter().position(|c| *c == b':').unwrap_or(field.len());
    let name = &field[..colon];
    out.extend(name.iter().filter(|c| !is_wsp(**c)).map(u8::to_ascii_lowercase));
    out.push(b':');
    let value = field.get(colon + 1..).unwrap_or(&[]);
    let mut pending_space = false;
    let mut started = false;
    for &c in value {
        if c == b'\r' || c == b'\n' {
            continue;
        }
        if is_wsp(c) {
            pending_space = started;
            continue;
        }
        if pending_space {
            out.push(b' ');
            pending_space = false;
        }
        started = true;
        out.push(c);
    }
}

/// RFC 6376 §3.4.4: runs of white space in a line as one space, none at a line's end, no empty
/// lines at the end of the body, and a final CRLF unless the body is empty.
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut empty_lines = 0;
    let mut lines = body.split(|c| *c == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if lines.peek().is_none() && line.is_empty() {
            break; // what follows the last CRLF
        }
        let mut canonical = Vec::with_capacity(line.len());
        let mut space = false;
        for &c in line {
            if is_wsp(c) {
                space = true;
            } else {
                if space {
                    canonical.push(b' ');
                    space = false;
                }
                canonical.push(c);
            }
        }
        if canonical.is_empty() {
            empty_lines += 1;
            continue;
        }
        for _ in 0..empty_lines {
            out.extend_from_slice(b"\r\n");
        }
        empty_lines = 0;
        out.extend_from_slice(&canonical);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_header_canonicalization_follows_the_rfc_example() {
        // RFC 6376 §3.4.5: "A: X" / "B : Y\t\r\n\tZ  " become "a:X" / "b:Y Z".
        let mut out = Vec::new();
        relaxed_header(b"A: X", &mut out);
        out.extend_from_slice(b"\r\n");
        relaxed_header(b"B : Y\t\r\n\tZ  ", &mut out);
        assert_eq!(out, b"a:X\r\nb:Y Z");
    }

    #[test]
    fn relaxed_body_canonicalization_follows_the_rfc_example() {
        // RFC 6376 §3.4.5's body " C \r\nD \t E\r\n\r\n\r\n" becomes " C\r\nD E\r\n".
        assert_eq!(relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n"), b" C\r\nD E\r\n");
        assert_eq!(relaxed_body(b""), b"");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
        assert_eq!(relaxed_body(b"no end"), b"no end\r\n");
        assert_eq!(relaxed_body(b"a\r\n\r\nb\r\n"), b"a\r\n\r\nb\r\n");
    }

    #[test]
    fn folded_header_fields_stay_whole() {
        let fields = header_fields(b"From: a\r\nSubject: long\r\n folded\r\nTo: b\r\n");
        assert_eq!(fields, [&b"From: a"[..], b"Subject: long\r\n folded", b"To: b"]);
        assert_eq!(fields[1].name(), "Subject");
    }

    #[test]
    fn a_seed_in_base64_is_an_ed25519_key_and_anything_else_is_refused_with_the_reason() {
        assert!(matches!(Key::parse(&BASE64.encode([7u8; 32])), Ok(Key::Ed25519(_))));
        assert!(matches!(Key::parse(&BASE64.encode([7u8; 64])), Ok(Key::Ed25519(_))));
        let Err(e) = Key::parse(&BASE64.encode([7u8; 20])) else { panic!("a 20-byte seed was taken") };
        assert!(e.contains("20 bytes"), "{e}");
        assert!(Key::parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
    }
}
