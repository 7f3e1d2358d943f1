//! Secrets: random tokens, token hashes, passwords, and field encryption at rest.
//!
//! Sensitive fields (access needs, notes about a person) are sealed with XChaCha20-Poly1305
//! under a key kept outside the database: a key file in the data folder or an environment
//! variable. The key file is a key ring, newest first, so `constellate keys rotate` can
//! re-encrypt everything and old ciphertexts stay readable until it has.
use std::path::{Path, PathBuf};

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use chacha20poly1305::{
    aead::{Aead, KeyInit},
    XChaCha20Poly1305, XNonce,
};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh unguessable token for links and sessions (256 bits, URL-safe).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    B64.encode(bytes)
}

/// What the database keeps instead of a token: its SHA-256, so a leaked table grants nothing.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::Password(e.to_string()))
}

/// Password checks this process has made (shown in /metrics; a sudden rise is an attack).
static PASSWORD_CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn password_checks() -> u64 {
    PASSWORD_CHECKS.load(std::sync::atomic::Ordering::Relaxed)
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    PASSWORD_CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    PasswordHash::new(stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash of no one's password, made once per process with the same parameters as real ones:
/// checking a password against it takes as long as checking a real one.
pub fn dummy_password_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// Constant-time comparison for tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("cannot read or write the key file {path}: {source}")]
    KeyFile { path: PathBuf, source: std::io::Error },
    #[error("the encryption key is not valid: {0}")]
    BadKey(String),
    #[error("a stored value was encrypted with key '{0}', which is not in the key ring")]
    UnknownKey(String),
    #[error("a stored value could not be decrypted (wrong key or damaged data)")]
    Decrypt,
    #[error(
        "there is no key file at {0}, and the database already holds values sealed with another instance's key: \
         give this instance the same key (copy that instance's encryption.key here, or set encryption_key / \
         CONSTELLATE_ENCRYPTION_KEY to the line in it)"
    )]
    NoKey(PathBuf),
    #[error("password hashing failed: {0}")]
    Password(String),
}

#[derive(Clone)]
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
    raw: [u8; 32],
}

/// The encryption keys, newest (the one used to encrypt) first.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Key>,
    file: Option<PathBuf>,
}

impl Keyring {
    /// Use the key given in settings, or the key file in the data folder, creating it on first
    /// start when `create` allows (not when the database already holds data sealed by another
    /// instance's key). A key in settings is either the bare base64 key (its id is then `env`)
    /// or a line copied from a key file (`id key`), which keeps that file's id.
    pub fn load(configured: Option<&str>, data_dir: &Path, create: bool) -> Result<Keyring, CryptoError> {
        if let Some(given) = configured {
            let given = given.trim();
            let line = if given.contains(' ') { given.to_string() } else { format!("env {given}") };
            return Ok(Keyring { keys: vec![parse_key_line(&line)?], file: None });
        }
        let path = data_dir.join("encryption.key");
        if !path.exists() {
            if !create {
                return Err(CryptoError::NoKey(path));
            }
            std::fs::create_dir_all(data_dir).map_err(|source| CryptoError::KeyFile { path: path.clone(), source })?;
            write_private(&path, &format!("{}\n", new_key_line()))?;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|source| CryptoError::KeyFile { path: path.clone(), source })?;
        let keys = text.lines().filter(|l| !l.trim().is_empty()).map(parse_key_line).collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(CryptoError::BadKey(format!("{} holds no key", path.display())));
        }
        Ok(Keyring { keys, file: Some(path) })
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let key = &self.keys[0];
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        let ct = key.cipher.encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes()).unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("v1.{}.{}", key.id, B64.encode(blob))
    }

    pub fn decrypt(&self, sealed: &str) -> Result<String, CryptoError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Decrypt);
        };
        let key = self.keys.iter().find(|k| k.id == id).ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
        let blob = B64.decode(body).map_err(|_| CryptoError::Decrypt)?;
        if blob.len() < 24 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ct) = blob.split_at(24);
        let plain = key.cipher.decrypt(XNonce::from_slice(nonce), ct).map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }

    /// The id of the key new values are sealed with.
    pub fn newest_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Whether the ring holds a key with this id.
    pub fn has(&self, id: &str) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    /// The ids of the keys retired by [`Keyring::retire_old`]: every one but the newest.
    pub fn older_ids(&self) -> Vec<String> {
        self.keys[1..].iter().map(|k| k.id.clone()).collect()
    }

    /// Whether a sealed value was made with an older key and should be re-encrypted.
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) == Some(self.keys[0].id.as_str())
    }

    /// Put a new key in front of the ring and save it; old keys stay until [`Keyring::retire_old`].
    pub fn add_new_key(&mut self) -> Result<(), CryptoError> {
        let path = self.file.clone().ok_or_else(|| {
            CryptoError::BadKey(
                "the key comes from settings; rotate it by changing the setting after re-encrypting".into(),
            )
        })?;
        self.keys.insert(0, parse_key_line(&new_key_line())?);
        self.save(&path)
    }

    /// Drop every key but the newest, once nothing is sealed with them any more.
    pub fn retire_old(&mut self) -> Result<(), CryptoError> {
        self.keys.truncate(1);
        match self.file.clone() {
            Some(path) => self.save(&path),
            None => Ok(()),
        }
    }

    fn save(&self, path: &Path) -> Result<(), CryptoError> {
        let text: String = self.keys.iter().map(|k| format!("{} {}\n", k.id, B64.encode(k.raw))).collect();
        write_private(path, &text)
    }
}

fn new_key_line() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let mut id = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut id);
    format!("{} {}", B64.encode(id), B64.encode(raw))
}

fn parse_key_line(line: &str) -> Result<Key, CryptoError> {
    let (id, encoded) = line.trim().split_once(' ').ok_or_else(|| CryptoError::BadKey("expected 'id key'".into()))?;
    let bytes = B64
        .decode(encoded.trim().trim_end_matches('='))
        .map_err(|e| CryptoError::BadKey(format!("not base64: {e}")))?;
    let raw: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey("a key must be 32 bytes".into()))?;
    Ok(Key { id: id.to_string(), cipher: XChaCha20Poly1305::new((&raw).into()), raw })
}

fn write_private(path: &Path, text: &str) -> Result<(), CryptoError> {
    let err = |source| CryptoError::KeyFile { path: path.to_path_buf(), source };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)
}

/// Signs what a link says about itself ("list 1, member 42"), so a link works without being
/// stored anywhere and nobody can make one for someone else: unsubscribe links, confirmation
/// links. The key is kept in the database, so every instance shares it.
#[derive(Clone)]
pub struct LinkSigner {
    key: [u8; 32],
}

impl LinkSigner {
    /// A fresh key, base64 (for storing).
    pub fn new_key() -> String {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        B64.encode(key)
    }

    pub fn parse_key(encoded: &str) -> Result<LinkSigner, CryptoError> {
        let bytes = B64.decode(encoded.trim()).map_err(|e| CryptoError::BadKey(e.to_string()))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey("link key must be 32 bytes".into()))?;
        Ok(LinkSigner { key })
    }

    fn mac(&self, purpose: &str, data: &str) -> String {
        use hmac::{Mac, SimpleHmac};
        let mut mac = <SimpleHmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(data.as_bytes());
        // 128 bits is plenty for a link and keeps it short.
        B64.encode(&mac.finalize().into_bytes()[..16])
    }

    /// A stable identifier for `data` that reveals nothing about it (16 hex digits): the same
    /// data always gives the same identifier, and without the key nobody can tell which data
    /// gave it. Open data names records this way rather than by internal ids.
    pub fn opaque_id(&self, purpose: &str, data: &str) -> String {
        use hmac::{Mac, SimpleHmac};
        let mut mac = <SimpleHmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"opaque\0");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes()[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `data` (which must not contain '.') followed by its signature for `purpose`.
    pub fn sign(&self, purpose: &str, data: &str) -> String {
        format!("{data}.{}", self.mac(purpose, data))
    }

    /// The data of a token signed for `purpose`, if the signature holds.
    pub fn verify<'t>(&self, purpose: &str, token: &'t str) -> Option<&'t str> {
        let (data, mac) = token.rsplit_once('.')?;
        same_token(mac, &self.mac(purpose, data)).then_some(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("keyring-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn sealed_values_open_again_and_do_not_contain_the_plaintext() {
        let ring = Keyring::load(None, &temp_dir("roundtrip"), true).unwrap();
        let sealed = ring.encrypt("uses a wheelchair");
        assert!(!sealed.contains("wheelchair"));
        assert_eq!(ring.decrypt(&sealed).unwrap(), "uses a wheelchair");
    }

    #[test]
    fn rotation_keeps_old_values_readable_until_retired() {
        let dir = temp_dir("rotate");
        let mut ring = Keyring::load(None, &dir, true).unwrap();
        let old = ring.encrypt("note");
        ring.add_new_key().unwrap();
        let reloaded = Keyring::load(None, &dir, true).unwrap();
        assert_eq!(reloaded.decrypt(&old).unwrap(), "note");
        assert!(!reloaded.is_current(&old));
        let fresh = reloaded.encrypt("note");
        assert!(reloaded.is_current(&fresh));
        ring.retire_old().unwrap();
        let retired = Keyring::load(None, &dir, true).unwrap();
        assert!(matches!(retired.decrypt(&old), Err(CryptoError::UnknownKey(_))));
        assert_eq!(retired.decrypt(&fresh).unwrap(), "note");
    }

    #[test]
    fn a_key_file_is_made_only_when_allowed_and_a_copied_line_keeps_its_id() {
        let dir = temp_dir("nocreate");
        assert!(matches!(Keyring::load(None, &dir, false), Err(CryptoError::NoKey(_))));
        assert!(!dir.join("encryption.key").exists());
        let ring = Keyring::load(None, &dir, true).unwrap();
        let sealed = ring.encrypt("quiet room");
        let line = std::fs::read_to_string(dir.join("encryption.key")).unwrap();
        let copied = Keyring::load(Some(line.trim()), &temp_dir("elsewhere"), false).unwrap();
        assert_eq!(copied.newest_id(), ring.newest_id());
        assert_eq!(copied.decrypt(&sealed).unwrap(), "quiet room");
        let bare = line.split_whitespace().nth(1).unwrap();
        assert_eq!(Keyring::load(Some(bare), &dir, false).unwrap().newest_id(), "env");
    }

    #[test]
    fn tampered_ciphertext_is_rejected() {
        let ring = Keyring::load(None, &temp_dir("tamper"), true).unwrap();
        let sealed = ring.encrypt("secret");
        let (head, body) = sealed.rsplit_once('.').unwrap();
        let mut blob = B64.decode(body).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        assert!(ring.decrypt(&format!("{head}.{}", B64.encode(blob))).is_err());
    }

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
    }

    #[test]
    fn a_signed_link_verifies_only_for_its_purpose_and_data() {
        let signer = LinkSigner::parse_key(&LinkSigner::new_key()).unwrap();
        let token = signer.sign("unsubscribe", "1-m42");
        assert_eq!(signer.verify("unsubscribe", &token), Some("1-m42"));
        assert_eq!(signer.verify("confirm", &token), None, "another purpose");
        assert_eq!(signer.verify("unsubscribe", &token.replace("1-m42", "1-m43")), None, "other data");
        assert_eq!(signer.verify("unsubscribe", "garbage"), None);
        let other = LinkSigner::parse_key(&LinkSigner::new_key()).unwrap();
        assert_eq!(other.verify("unsubscribe", &token), None, "another key");
    }
}
