//! HTTP plumbing shared by every route: the answer type, JSON and asset
//! answers, reading a request body within a limit, and compressing answers
//! for clients that accept it.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;
use std::io::Write;

/// An answer, its body in memory (every answer of the API is): compressed
/// as a whole at the end, then handed to hyper.
pub type Reply = Response<Bytes>;

/// An answer of `body` with `content_type`, cached by browsers for five
/// minutes (the embedded pages and scripts).
pub fn asset(body: &'static str, content_type: &'static str) -> Reply {
    let mut resp = Response::new(Bytes::from_static(body.as_bytes()));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    resp.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// `value` as a JSON answer.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Reply {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    bytes_response(status, body)
}

/// A JSON body already written.
pub fn bytes_response(status: StatusCode, body: Vec<u8>) -> Reply {
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

/// An empty answer.
pub fn empty(status: StatusCode) -> Reply {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = status;
    resp
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Read(hyper::Error),
}

/// Reads a request body up to `limit` bytes.
pub async fn collect_body(
    mut body: hyper::body::Incoming,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            if (out.len() + data.len()) as u64 > limit {
                return Err(BodyError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// Bodies shorter than this go out as they are (compressing them saves
/// less than its headers cost).
const MIN_COMPRESSED_BYTES: usize = 1024;

/// gzip level: fast, within a few percent of the best ratio on JSON.
const GZIP_LEVEL: u32 = 5;
/// brotli quality: fast (≈ gzip's speed), smaller than gzip on JSON.
const BROTLI_QUALITY: u32 = 4;
/// brotli window, as a power of two.
const BROTLI_WINDOW: u32 = 22;

/// An encoding the server can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        }
    }
}

/// The encoding to answer with for `Accept-Encoding` `accept`: brotli when
/// accepted, else gzip, else none (`q=0` refuses an encoding; `*` accepts
/// any not named).
pub fn negotiate(accept: &str) -> Option<Encoding> {
    let mut br = None;
    let mut gzip = None;
    let mut any = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        let accepted = q > 0.0;
        match name.as_str() {
            "br" => br = Some(accepted),
            "gzip" | "x-gzip" => gzip = Some(accepted),
            "*" => any = Some(accepted),
            _ => {}
        }
    }
    if br.or(any) == Some(true) {
        Some(Encoding::Brotli)
    } else if gzip.or(any) == Some(true) {
        Some(Encoding::Gzip)
    } else {
        None
    }
}

/// Whether answers of `content_type` are worth compressing (text).
fn compressible(content_type: &str) -> bool {
    let t = content_type.split(';').next().unwrap_or("").trim();
    matches!(
        t,
        "application/json"
            | "application/javascript"
            | "text/javascript"
            | "text/html"
            | "text/plain"
    )
}

/// The encoding to answer a request with `headers` in (its
/// `Accept-Encoding`, see [`negotiate`]).
pub fn accepted(headers: &HeaderMap) -> Option<Encoding> {
    let accept = headers
        .get_all("accept-encoding")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    negotiate(&accept)
}

/// Compresses `resp` with `encoding` (the client's, see [`accepted`]) when
/// the body is text and long enough. Text answers vary with
/// `Accept-Encoding`, compressed or not.
pub fn compress(encoding: Option<Encoding>, resp: &mut Reply) {
    let Some(content_type) = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    if !compressible(content_type) || resp.headers().contains_key("content-encoding") {
        return;
    }
    resp.headers_mut()
        .append("vary", HeaderValue::from_static("Accept-Encoding"));
    if resp.body().len() < MIN_COMPRESSED_BYTES {
        return;
    }
    let Some(encoding) = encoding else {
        return;
    };
    let body = resp.body();
    let compressed = match encoding {
        Encoding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::new(GZIP_LEVEL),
            );
            enc.write_all(body).and_then(|_| enc.finish())
        }
        Encoding::Brotli => {
            let mut out = Vec::with_capacity(body.len() / 4);
            let mut enc =
                brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, BROTLI_WINDOW);
            let written = enc.write_all(body).and_then(|_| enc.flush());
            drop(enc);
            written.map(|_| out)
        }
    };
    // Writing to memory does not fail; if it did, the answer goes out as is.
    if let Ok(compressed) = compressed {
        *resp.body_mut() = Bytes::from(compressed);
        resp.headers_mut().insert(
            "content-encoding",
            HeaderValue::from_static(encoding.name()),
        );
        resp.headers_mut().remove("content-length");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn negotiation_prefers_brotli_and_honours_q_zero() {
        assert_eq!(negotiate("gzip, deflate, br"), Some(Encoding::Brotli));
        assert_eq!(negotiate("gzip"), Some(Encoding::Gzip));
        assert_eq!(negotiate("br;q=0, gzip;q=0.5"), Some(Encoding::Gzip));
        assert_eq!(negotiate("BR"), Some(Encoding::Brotli));
        assert_eq!(negotiate("*"), Some(Encoding::Brotli));
        assert_eq!(negotiate("*;q=0"), None);
        assert_eq!(negotiate("identity"), None);
        assert_eq!(negotiate(""), None);
        assert_eq!(negotiate("gzip;q=0"), None);
    }

    fn answer(body: &str, content_type: &'static str, accept: &str) -> Reply {
        let mut resp = asset(Box::leak(body.to_string().into_boxed_str()), content_type);
        let mut headers = HeaderMap::new();
        headers.insert("accept-encoding", HeaderValue::from_str(accept).unwrap());
        compress(accepted(&headers), &mut resp);
        resp
    }

    #[test]
    fn text_answers_are_compressed_and_decompress_to_themselves() {
        let json = format!(
            "[{}]",
            vec!["{\"title\":\"n+1 queries in django\"}"; 200].join(",")
        );
        let gz = answer(&json, "application/json", "gzip");
        assert_eq!(gz.headers()["content-encoding"], "gzip");
        assert!(gz.body().len() < json.len() / 5);
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz.body()[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, json);

        let br = answer(&json, "application/json", "br, gzip");
        assert_eq!(br.headers()["content-encoding"], "br");
        let mut back = String::new();
        brotli::Decompressor::new(&br.body()[..], 4096)
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, json);
        assert_eq!(br.headers()["vary"], "Accept-Encoding");

        // Short, binary or refused: as is (short text still varies).
        let short = answer("{}", "application/json", "gzip");
        assert!(!short.headers().contains_key("content-encoding"));
        assert_eq!(short.headers()["vary"], "Accept-Encoding");
        let png = answer(&json, "image/png", "gzip");
        assert!(!png.headers().contains_key("content-encoding"));
        let plain = answer(&json, "text/html; charset=utf-8", "identity");
        assert!(!plain.headers().contains_key("content-encoding"));
    }
}
