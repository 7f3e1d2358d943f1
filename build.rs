//! Static files are compressed once, here, at their best settings (brotli 11, gzip 9), so the
//! server hands out the compressed bytes without compressing anything; and their version (a
//! hash of their content) goes into their URLs, so browsers can keep them for a year.
use std::{
    env, fs,
    hash::{Hash, Hasher},
    io::Write,
    path::PathBuf,
};

const FILES: [&str; 2] = ["site.css", "site.js"];

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut version = std::collections::hash_map::DefaultHasher::new();
    for name in FILES {
        let path = PathBuf::from("static").join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        let body = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        body.hash(&mut version);
        let mut br = Vec::new();
        let params = brotli::enc::BrotliEncoderParams { quality: 11, ..Default::default() };
        brotli::BrotliCompress(&mut &body[..], &mut br, &params).expect("brotli into memory");
        fs::write(out.join(format!("{name}.br")), br).expect("write to OUT_DIR");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&body).expect("gzip into memory");
        fs::write(out.join(format!("{name}.gz")), gz.finish().expect("gzip into memory")).expect("write to OUT_DIR");
    }
    println!("cargo:rustc-env=CONSTELLATE_ASSET_VERSION={:x}", version.finish() & 0xff_ffff_ffff);
}
