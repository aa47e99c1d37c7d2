//! The first request line of a connection, read (without taking it) before
//! hyper parses it: a request target that is not a valid URL (an unencoded
//! `>`, `"`, `{` or space, as a hand-typed `curl` URL has) would get
//! hyper's 400 with an empty body. It gets a 400 that says what is wrong
//! instead, and the connection is closed.

use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The longest request line looked at; a longer one is left to hyper.
const MAX_LINE: usize = 4 << 10;
/// How long the line may take to arrive before it is left to hyper (whose
/// header time limit then applies).
const WAIT: Duration = Duration::from_secs(2);

/// Why the request line `line` (without its CRLF) cannot be served, if it
/// cannot.
pub fn problem(line: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    let parts: Vec<&str> = text.split(' ').collect();
    let [_method, target, version] = parts.as_slice() else {
        return Some(
            "the request line has spaces in its URL: percent-encode them (%20, or + in a query)"
                .into(),
        );
    };
    if !version.starts_with("HTTP/") {
        return None;
    }
    if target.parse::<hyper::Uri>().is_ok() {
        return None;
    }
    let bad: String = target
        .chars()
        .filter(|c| !c.is_ascii_graphic() || "\"<>\\^`{|}".contains(*c))
        .collect::<std::collections::BTreeSet<char>>()
        .into_iter()
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    Some(format!(
        "the URL is not valid: percent-encode {} (e.g. %3E for >, %22 for \")",
        if bad.is_empty() {
            "its special characters".to_string()
        } else {
            bad
        }
    ))
}

/// The answer to a connection whose first request line has a problem.
fn answer(problem: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "error": {"code": "bad_request", "message": problem, "param": "url"}
    })
    .to_string();
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Looks at the first request line on `stream` without reading it; if its
/// URL is not valid, answers 400 with a message and returns `true` (the
/// caller drops the connection). Otherwise the stream is untouched.
pub async fn refused(stream: &mut TcpStream) -> bool {
    let started = Instant::now();
    let mut buf = vec![0u8; MAX_LINE];
    loop {
        let Some(left) = WAIT.checked_sub(started.elapsed()) else {
            return false;
        };
        let n = match tokio::time::timeout(left, stream.peek(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return false,
        };
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            let Some(problem) = problem(&buf[..end]) else {
                return false;
            };
            tracing::debug!("refused a request line: {problem}");
            let _ = stream.write_all(&answer(&problem)).await;
            let _ = stream.shutdown().await;
            return true;
        }
        if n == buf.len() {
            return false;
        }
        // More of the line is on its way (peek returns what has come).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn invalid_urls_are_named_and_valid_ones_pass() {
        assert!(problem(b"GET /api/search?q=a%3Eb HTTP/1.1").is_none());
        assert!(problem(b"GET /api/search?q=n+1&limit=2 HTTP/1.1").is_none());
        assert!(problem(b"PRI * HTTP/2.0").is_none());
        let p = problem(b"GET /api/search?q=a>b HTTP/1.1").unwrap();
        assert!(p.contains("'>'") && p.contains("%3E"), "{p}");
        let p = problem(b"GET /api/search?q=a b HTTP/1.1").unwrap();
        assert!(p.contains("spaces"), "{p}");
        let p = problem(b"GET /x?q=\"a\" HTTP/1.1").unwrap();
        assert!(p.contains("'\"'"), "{p}");
    }
}
