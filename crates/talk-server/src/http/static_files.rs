//! Built files as they travel: the brotli or gzip copy the build wrote beside each one
//! (`scripts/compress-assets.mjs`), chosen by `Accept-Encoding` and never compressed per
//! request, and cached for a year when the name carries a hash of the content.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::path::Path;
use tower_http::services::ServeDir;

/// A content-hashed name always holds the same bytes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("accept-encoding");

/// A built directory's files, each sent as its `.br` or `.gz` copy when the client takes it.
pub fn built_files(dir: &Path) -> ServeDir {
    ServeDir::new(dir).precompressed_br().precompressed_gzip()
}

/// Middleware around [`built_files`]: a year, without revalidation, for content-hashed names;
/// revalidation for the rest. Answers that set their own `Cache-Control` (the pages a fallback
/// renders) are left alone.
pub async fn cache_by_name(request: Request, next: Next) -> Response {
    let hashed = is_content_hashed(request.uri().path());
    let mut response = next.run(request).await;
    let served = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    if served && !headers.contains_key(header::CACHE_CONTROL) {
        let cache = if hashed { IMMUTABLE } else { "no-cache" };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.append(header::VARY, ACCEPT_ENCODING);
    }
    response
}

/// Trunk's and the loader build's names: `talk-widget-<hex>.js`, `talk-widget-<hex>_bg.wasm`,
/// `embed-<hex>.js`. Trunk prints its 64-bit hash without leading zeros, hence 8 to 16 digits.
fn is_content_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let stem = file.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (8..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[derive(Clone, Copy)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The `Content-Encoding` token; none for the bytes as they are.
    fn token(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }
}

/// How much the client wants `coding` (`Accept-Encoding`'s q, `*` standing in for codings it
/// does not name); 0 when not at all.
fn weight(headers: &HeaderMap, coding: &str) -> f32 {
    let mut named = None;
    let mut any = None;
    let offers = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for offer in offers {
        let mut parts = offer.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let q = parts
            .find_map(|param| param.trim().strip_prefix("q="))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
            .unwrap_or(0.0);
        if name.eq_ignore_ascii_case(coding) {
            named = Some(q);
        } else if name == "*" {
            any = Some(q);
        }
    }
    named.or(any).unwrap_or(0.0)
}

/// One file held in memory with the copies the build compressed (`/app.js`): the variant the
/// request accepts, revalidated by its ETag.
#[derive(Debug)]
pub struct Precompressed {
    identity: Bytes,
    brotli: Option<Bytes>,
    gzip: Option<Bytes>,
    /// The quoted tag, `"<16 hex digits of the SHA-256>"`, as `If-None-Match` names it.
    tag: String,
    /// `W/` and the tag, the `ETag` header every answer carries: built once, not per request.
    etag: HeaderValue,
}

impl Precompressed {
    /// `path` with the `.br` and `.gz` copies beside it, if `path` exists.
    pub fn read(path: &Path) -> Option<Self> {
        let identity = std::fs::read(path).ok()?;
        let copy = |suffix: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::read(name).ok().map(Bytes::from)
        };
        Some(Precompressed {
            brotli: copy(".br"),
            gzip: copy(".gz"),
            ..Precompressed::identity(Bytes::from(identity))
        })
    }

    /// Bytes with no compressed copy (e.g. a readable source compiled in).
    pub fn identity(identity: Bytes) -> Self {
        let tag = format!("\"{}\"", hex::encode(&Sha256::digest(&identity)[..8]));
        // Weak: the encodings differ in bytes, not in meaning, so one tag revalidates each.
        let etag = HeaderValue::from_str(&format!("W/{tag}")).expect("hex in quotes");
        Precompressed {
            identity,
            brotli: None,
            gzip: None,
            tag,
            etag,
        }
    }

    /// Bytes rendered at run time (a workspace's launcher stylesheet), compressed once here
    /// as the build compresses files (brotli 11, gzip 9); a copy that isn't smaller is dropped.
    pub fn compress(identity: Bytes) -> Self {
        let smaller = |copy: Vec<u8>| (copy.len() < identity.len()).then(|| Bytes::from(copy));
        let mut brotli = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            size_hint: identity.len(),
            ..Default::default()
        };
        let brotli = brotli::BrotliCompress(&mut &identity[..], &mut brotli, &params)
            .ok()
            .and_then(|_| smaller(brotli));
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzip = std::io::Write::write_all(&mut gzip, &identity)
            .and_then(|()| gzip.finish())
            .ok()
            .and_then(smaller);
        Precompressed {
            brotli,
            gzip,
            ..Precompressed::identity(identity)
        }
    }

    /// The bytes as they are.
    pub fn identity_bytes(&self) -> &Bytes {
        &self.identity
    }

    /// `304 Not Modified` when `If-None-Match` names this content, else the best variant the
    /// request accepts.
    pub fn respond(
        &self,
        request: &HeaderMap,
        content_type: &'static str,
        cache_control: &'static str,
    ) -> Response {
        let mut response = if self.is_known_to(request) {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            let (encoding, body) = self.variant(request);
            let mut response = Response::new(Body::from(body.clone()));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            if let Some(token) = encoding.token() {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
            }
            response
        };
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::VARY, ACCEPT_ENCODING);
        response
    }

    /// `If-None-Match` compares weakly: `W/` prefixes don't count.
    fn is_known_to(&self, request: &HeaderMap) -> bool {
        request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|tag| tag.trim())
            .any(|tag| tag == "*" || tag.trim_start_matches("W/") == self.tag)
    }

    /// Brotli before gzip when the client wants both as much.
    fn variant(&self, request: &HeaderMap) -> (Encoding, &Bytes) {
        let mut best = (Encoding::Identity, &self.identity, 0.0);
        for (encoding, body) in [
            (Encoding::Gzip, &self.gzip),
            (Encoding::Brotli, &self.brotli),
        ] {
            let (Some(body), Some(token)) = (body, encoding.token()) else {
                continue;
            };
            let weight = weight(request, token);
            if weight > 0.0 && weight >= best.2 {
                best = (encoding, body, weight);
            }
        }
        (best.0, best.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_recognised() {
        for hashed in [
            "/widget/talk-widget-6db7ebe318d2c3c9.js",
            "/widget/talk-widget-6db7ebe318d2c3c9_bg.wasm",
            "/widget/embed-0123456789abcdef.js",
            "/inbox/inbox-b6eca21812fa4c5.css",
        ] {
            assert!(is_content_hashed(hashed), "{hashed}");
        }
        for plain in [
            "/widget/index.html",
            "/widget/loader/app.js",
            "/widget/talk-widget.js",
            "/widget/embed-decade.js",
            "/inbox/talk-inbox-6db7ebe318d2c3c9z.js",
        ] {
            assert!(!is_content_hashed(plain), "{plain}");
        }
    }

    #[test]
    fn accept_encoding_weights() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            headers
        };
        assert_eq!(weight(&headers("gzip, deflate, br, zstd"), "br"), 1.0);
        assert_eq!(weight(&headers("gzip;q=0.5, br;q=0"), "br"), 0.0);
        assert_eq!(weight(&headers("gzip;q=0.5, br;q=0"), "gzip"), 0.5);
        assert_eq!(weight(&headers("*;q=0.2"), "gzip"), 0.2);
        assert_eq!(weight(&headers("identity"), "gzip"), 0.0);
        assert_eq!(weight(&HeaderMap::new(), "br"), 0.0);
    }
}
