//! Compressed responses, negotiated: brotli or gzip when the browser asks for them, for text of
//! every kind the product sends (pages, CSS, JavaScript, JSON, CSV, feeds, calendars).
//!
//! Most pages are the same for everyone who is not signed in (the home page, the archive, a
//! letter), so the compressed form of a body is kept for a while, keyed by a hash of the body
//! itself: a page seen again costs a hash, not a compression. Static files arrive compressed
//! already (made at build time, see `build.rs`), and anything already encoded is left alone.
use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    io::Write,
    sync::{Arc, Mutex},
};

use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::Response,
};

/// Bodies smaller than this go as they are: compression would not pay for its own header.
const MIN_SIZE: usize = 512;
/// Bodies larger than this are compressed but not kept.
const KEEP_UP_TO: usize = 256 * 1024;
/// How many compressed bodies are kept; the whole set is dropped when it is full.
const KEEP: usize = 256;
/// Brotli's quality for what is compressed as it is sent: 5 is several times faster than its
/// best and within a few percent of its size on HTML.
const BROTLI_QUALITY: u32 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        }
    }
}

/// The encoding to use for a request's `Accept-Encoding`: brotli, then gzip, whichever the
/// client accepts (a `q=0` refuses one).
pub fn negotiate(accept: &str) -> Option<Encoding> {
    let accepts = |name: &str| {
        accept.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (coding.eq_ignore_ascii_case(name) || coding == "*") && q > 0.0
        })
    };
    if accepts("br") {
        Some(Encoding::Brotli)
    } else if accepts("gzip") {
        Some(Encoding::Gzip)
    } else {
        None
    }
}

pub fn compress(encoding: Encoding, body: &[u8]) -> Vec<u8> {
    match encoding {
        Encoding::Brotli => {
            let mut out = Vec::with_capacity(body.len() / 3);
            let params = brotli::enc::BrotliEncoderParams { quality: BROTLI_QUALITY as i32, ..Default::default() };
            // Writing into memory cannot fail.
            let _ = brotli::BrotliCompress(&mut &body[..], &mut out, &params);
            out
        }
        Encoding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 3), flate2::Compression::new(6));
            let _ = encoder.write_all(body);
            encoder.finish().unwrap_or_default()
        }
    }
}

fn compressible(content_type: &str) -> bool {
    let t = content_type.split(';').next().unwrap_or("").trim();
    t.starts_with("text/")
        || matches!(
            t,
            "application/json"
                | "application/problem+json"
                | "application/atom+xml"
                | "application/xml"
                | "image/svg+xml"
        )
}

/// Compressed bodies, by encoding and a hash of the uncompressed body.
#[derive(Clone, Default)]
pub struct Kept(Arc<Mutex<HashMap<(Encoding, u64, usize), Bytes>>>);

impl Kept {
    fn get_or_make(&self, encoding: Encoding, body: &Bytes) -> Bytes {
        if body.len() > KEEP_UP_TO {
            return Bytes::from(compress(encoding, body));
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut hasher);
        let key = (encoding, hasher.finish(), body.len());
        if let Some(found) = self.0.lock().ok().and_then(|k| k.get(&key).cloned()) {
            return found;
        }
        let made = Bytes::from(compress(encoding, body));
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() >= KEEP {
                kept.clear();
            }
            kept.insert(key, made.clone());
        }
        made
    }
}

/// The middleware: compress a compressible response when the client asked for it.
pub async fn middleware(kept: Kept, req: Request, next: Next) -> Response {
    let encoding = req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).and_then(negotiate);
    let head = req.method() == Method::HEAD;
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !compressible(content_type) {
        return response;
    }
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let Some(encoding) = encoding else { return response };
    if head
        || headers.contains_key(header::CONTENT_ENCODING)
        || matches!(response.status(), StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if bytes.len() < MIN_SIZE {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let compressed = kept.get_or_make(encoding, &bytes);
    parts.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding.name()));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(compressed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brotli_is_preferred_and_a_refused_coding_is_not_used() {
        assert_eq!(negotiate("gzip, deflate, br, zstd"), Some(Encoding::Brotli));
        assert_eq!(negotiate("gzip;q=1.0, br;q=0"), Some(Encoding::Gzip));
        assert_eq!(negotiate("identity"), None);
        assert_eq!(negotiate(""), None);
        assert_eq!(negotiate("*"), Some(Encoding::Brotli));
    }

    #[test]
    fn compressed_bodies_come_back_whole() {
        use std::io::Read;
        let page = "<p>The weekly bulletin</p>".repeat(200);
        let gz = compress(Encoding::Gzip, page.as_bytes());
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut back).unwrap();
        assert_eq!(back, page);
        let br = compress(Encoding::Brotli, page.as_bytes());
        let mut back = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut back).unwrap();
        assert_eq!(back, page.as_bytes());
        assert!(br.len() < page.len() / 10 && gz.len() < page.len() / 10);
    }

    #[test]
    fn only_text_is_compressed() {
        assert!(
            compressible("text/html; charset=utf-8") && compressible("text/csv") && compressible("application/json")
        );
        assert!(!compressible("image/png") && !compressible("application/pdf") && !compressible(""));
    }
}
