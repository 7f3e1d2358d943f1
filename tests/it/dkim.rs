//! DKIM verification of received messages with an independent, widely used implementation:
//! Python's dkimpy (installed by scripts/test), given the public key instead of a DNS lookup.
use std::{io::Write, process::Command};

const VERIFY: &str = r#"
import base64, sys
try:
    import dkim
except ImportError:
    sys.exit(3)  # not "does not verify": the verifier itself is missing
raw = open(sys.argv[1], 'rb').read()
pem = open(sys.argv[2]).read()
der = ''.join(l for l in pem.splitlines() if not l.startswith('-----'))
record = ('v=DKIM1; k=rsa; p=' + der).encode()
def dns(name, timeout=5):
    return record if name.startswith(b'test._domainkey.') else None
sys.exit(0 if dkim.verify(raw, dnsfunc=dns) else 1)
"#;

/// Fails the test unless `raw` carries a DKIM signature that verifies with `public_pem`.
pub fn assert_verifies(raw: &[u8], public_pem: &str) {
    assert!(run(raw, public_pem), "the DKIM signature does not verify");
    // And the check can fail: the same message with its body changed must not verify.
    let text = String::from_utf8_lossy(raw);
    let tampered = text.replacen("Hello ", "Hullo ", 1);
    assert!(!run(tampered.as_bytes(), public_pem), "a tampered message must not verify");
}

fn run(raw: &[u8], public_pem: &str) -> bool {
    let dir = tempdir();
    let message = dir.join("message.eml");
    let key = dir.join("key.pem");
    std::fs::File::create(&message).and_then(|mut f| f.write_all(raw)).unwrap();
    std::fs::write(&key, public_pem).unwrap();
    let out = Command::new("python3")
        .args(["-c", VERIFY])
        .arg(&message)
        .arg(&key)
        .output()
        .expect("python3 runs (scripts/test installs dkimpy)");
    let _ = std::fs::remove_dir_all(&dir);
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!(
            "the DKIM verifier could not run (is dkimpy installed? scripts/test installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dkim-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
