//! Hostile requests against the real server: each gets a clear answer
//! (status and error code) and the server keeps serving everyone else.

use crate::common::{call, get, send, Req, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const TOKEN: &str = "abuse";

fn server() -> Server {
    Server::start(&[
        ("POSTSEARCH_SERVER_WRITE_TOKEN", TOKEN),
        ("POSTSEARCH_LIMITS_MAX_BODY_BYTES", "1000000"),
    ])
}

fn post(s: &Server, body: &str) -> (u16, serde_json::Value) {
    send(
        Req::post(&s.url("/api/posts")).set("authorization", &format!("Bearer {TOKEN}")),
        body,
    )
}

/// A normal search answers 200, quickly.
fn assert_responsive(s: &Server) {
    let started = Instant::now();
    let (status, body) = get(&s.url("/api/search?q=django"));
    assert_eq!(status, 200, "{body}");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "a normal search took {took:?}"
    );
}

fn error_code(body: &serde_json::Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Sends raw bytes (from another thread, so the answer is read even while
/// the server refuses the rest) and returns the head of the answer.
fn raw_answer(s: &Server, request: Vec<u8>) -> String {
    let addr = s.base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = conn.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Until the JSON error body has arrived (or the connection ends).
    while !String::from_utf8_lossy(&answer).contains("}}") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let _ = conn.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn deeply_nested_json_is_rejected_not_a_crash() {
    let s = server();
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let depth = 100_000;
        let body = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let (status, answer) = post(&s, &body);
        // A body is an answer per post: the nested thing is one rejected
        // "post", reported with its reason.
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["added"], 0);
        let reason = answer["rejected"][0]["reason"].as_str().unwrap();
        assert!(reason.contains("recursion limit"), "{reason}");
    }
    // Nested inside an otherwise valid post.
    let body = format!(
        "{{\"id\":\"n\",\"title\":\"t\",\"deep\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (status, answer) = post(&s, &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rejected"].as_array().unwrap().len(), 1, "{answer}");
    assert_responsive(&s);
}

#[test]
fn a_body_over_the_limit_is_413() {
    let s = server();
    // Announced by Content-Length: answered from the headers alone, before
    // any of the body is sent.
    let head = format!(
        "POST /api/posts HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: 2000000\r\n\r\n"
    );
    let started = Instant::now();
    let answer = raw_answer(&s, head.into_bytes());
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Chunked (no Content-Length): cut off once past the limit.
    let line = format!(
        "{{\"id\":\"big\",\"title\":\"t\",\"body\":\"{}\"}}",
        "x".repeat(1_200_000)
    );
    let head = format!(
        "POST /api/posts HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let mut req = head.into_bytes();
    for chunk in line.as_bytes().chunks(64 * 1024) {
        req.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend(chunk);
        req.extend(b"\r\n");
    }
    req.extend(b"0\r\n\r\n");
    let answer = raw_answer(&s, req);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    assert_eq!(get(&s.url("/api/posts/big")).0, 404);
    assert_responsive(&s);
}

#[test]
fn ten_thousand_facets_are_refused() {
    let s = server();
    // 10,000 minimal `facet` parameters fit in a URI: 400 naming `facet`.
    let query = "facet&".repeat(10_000);
    let (status, answer) = get(&s.url(&format!("/api/search?q=a&{query}")));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(error_code(&answer), "bad_request");
    assert_eq!(answer["error"]["param"], "facet");
    // Valid selections past the limit of 64: 400 naming `facet`.
    let query = "facet=stack:x&".repeat(65);
    let (status, answer) = get(&s.url(&format!("/api/search?q=a&{query}")));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "facet");
    // 10,000 real selections make a URI over 64 KiB, which the HTTP layer
    // refuses before any handler runs: 414.
    // (Sent raw: an HTTP client library refuses to build such a URI.)
    let query = "facet=stack:x&".repeat(10_000);
    let answer = raw_answer(
        &s,
        format!("GET /api/search?q=a&{query} HTTP/1.1\r\nhost: x\r\n\r\n").into_bytes(),
    );
    assert!(
        answer.starts_with("HTTP/1.1 414"),
        "{}",
        &answer[..answer.len().min(80)]
    );
    assert_responsive(&s);
}

#[test]
fn deep_pages_up_to_the_offset_limit() {
    let s = server();
    let (status, answer) = get(&s.url("/api/search?q=&limit=100&offset=10000"));
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = get(&s.url("/api/search?q=&limit=100&offset=10001"));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "offset");
    let (status, answer) = get(&s.url("/api/search?q=&limit=101"));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "limit");
}

#[test]
fn a_slow_client_does_not_hold_up_others_and_is_cut_off() {
    let s = server();
    let addr = s.base.trim_start_matches("http://").to_string();
    let slow = std::thread::spawn(move || {
        let mut conn = TcpStream::connect(&addr).unwrap();
        conn.set_write_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let started = Instant::now();
        // One byte a second, never finishing the headers.
        for b in b"GET /api/search?q=slow HTTP/1.1\r\nhost: x\r\nx-slow: "
            .iter()
            .cycle()
        {
            if conn.write_all(&[*b]).is_err() || started.elapsed() > Duration::from_secs(25) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        started.elapsed()
    });
    std::thread::sleep(Duration::from_millis(1500));
    for _ in 0..5 {
        assert_responsive(&s);
    }
    // The server gives up on the headers after its 10 s header timeout.
    let cut_after = slow.join().unwrap();
    assert!(
        cut_after < Duration::from_secs(20),
        "the slow connection was kept open for {cut_after:?}"
    );
    assert_responsive(&s);
}

#[test]
fn many_idle_connections_do_not_block_a_request() {
    let s = server();
    let addr = s.base.trim_start_matches("http://");
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    // Some of them half-way through a request.
    for conn in idle.iter().take(100) {
        let mut c = conn;
        c.write_all(b"GET /api/search?q=x HTTP/1.1\r\n").unwrap();
    }
    assert_responsive(&s);
    let (status, _) = call(Req::get(&s.url("/healthz")));
    assert_eq!(status, 200);
    drop(idle);
    assert_responsive(&s);
}

#[test]
fn a_slow_body_does_not_block_other_writes() {
    let s = server();
    let addr = s.base.trim_start_matches("http://").to_string();
    // A write whose body trickles in.
    let slow = std::thread::spawn(move || {
        let mut conn = TcpStream::connect(&addr).unwrap();
        let head = format!(
            "POST /api/posts HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: 1000\r\n\r\n{{"
        );
        conn.write_all(head.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_secs(6));
    });
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let (status, answer) = post(&s, "{\"id\":\"quick\",\"title\":\"a quick write\"}");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["added"], 1);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "a write waited {took:?} behind a slow body"
    );
    slow.join().unwrap();
}
