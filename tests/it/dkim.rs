//! DKIM verification of received messages with an independent, widely used implementation:
//! Python's dkimpy (installed by scripts/test, with PyNaCl for Ed25519), given the public key instead of a DNS lookup.
use std::{io::Write, process::Command};

const VERIFY: &str = r#"
import base64, re, sys
try:
    import dkim
except ImportError:
    sys.exit(3)  # not "does not verify": the verifier itself is missing
raw = open(sys.argv[1], 'rb').read()
records = {}
for pair in sys.argv[2:]:
    selector, path = pair.split('=', 1)
    der = base64.b64decode(''.join(l for l in open(path).read().splitlines() if not l.startswith('-----')))
    if len(der) == 44:  # an Ed25519 SubjectPublicKeyInfo: the record holds the bare 32-byte key
        records[selector] = b'v=DKIM1; k=ed25519; p=' + base64.b64encode(der[12:])
    else:
        records[selector] = b'v=DKIM1; k=rsa; p=' + base64.b64encode(der)
def dns(name, timeout=5):
    return records.get(name.split(b'._domainkey.')[0].decode())
# Every signature must verify, and there must be one per key.
count = len(re.findall(rb'^DKIM-Signature:', raw, re.M | re.I))
if count != len(records):
    sys.exit(1)
d = dkim.DKIM(raw)
sys.exit(0 if all(d.verify(idx=i, dnsfunc=dns) for i in range(count)) else 1)
"#;

/// Fails the test unless `raw` carries a DKIM signature, one per key, each verifying with its
/// public key: `keys` pairs a selector with the public key's PEM (RSA or Ed25519).
pub fn assert_verifies(raw: &[u8], keys: &[(&str, &str)]) {
    assert!(run(raw, keys), "the DKIM signatures do not verify");
    // And the check can fail: the same message with its body changed must not verify.
    let text = String::from_utf8_lossy(raw);
    let tampered = text.replacen("Hello ", "Hullo ", 1);
    assert!(!run(tampered.as_bytes(), keys), "a tampered message must not verify");
}

fn run(raw: &[u8], keys: &[(&str, &str)]) -> bool {
    let dir = tempdir();
    let message = dir.join("message.eml");
    std::fs::File::create(&message).and_then(|mut f| f.write_all(raw)).unwrap();
    let mut command = Command::new("python3");
    command.args(["-c", VERIFY]).arg(&message);
    for (n, (selector, pem)) in keys.iter().enumerate() {
        let key = dir.join(format!("key{n}.pem"));
        std::fs::write(&key, pem).unwrap();
        command.arg(format!("{selector}={}", key.display()));
    }
    let out = command
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
