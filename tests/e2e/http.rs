//! End-to-end tests of the HTTP service: the real binary on a free port.

use crate::common::{call, get, send, Req, Server};
use serde_json::Value;

#[test]
fn every_read_route_answers_its_shape() {
    let s = Server::start(&[]);
    let (code, body) = get(&s.url("/healthz"));
    assert_eq!((code, body["status"].as_str()), (200, Some("ok")));
    let (code, body) = get(&s.url("/readyz"));
    assert_eq!(code, 200);
    assert!(body["documents"].as_u64().unwrap() > 900);

    let (code, r) =
        get(&s.url("/api/search?q=memory+leaks&limit=3&facet=difficulty:advanced&explain=true"));
    assert_eq!(code, 200, "{r}");
    assert!(r["total"].as_u64().unwrap() > 0);
    assert_eq!(r["hits"].as_array().unwrap().len(), 3);
    assert!(r["hits"][0]["explain"]["final_score"].is_f64());
    assert!(r["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["difficulty"] == "advanced"));
    assert!(
        r["facets"]["difficulty"]["beginner"].as_u64().unwrap() > 0,
        "disjunctive counts"
    );

    let id = r["hits"][0]["id"].as_str().unwrap().to_string();
    let (code, post) = get(&s.url(&format!("/api/posts/{id}")));
    assert_eq!(code, 200);
    assert_eq!(post["id"], id.as_str());
    assert!(post["body"].is_string());

    let (code, sim) = get(&s.url(&format!("/api/posts/{id}/similar?limit=4")));
    assert_eq!(code, 200);
    assert_eq!(sim["hits"].as_array().unwrap().len(), 4);
    assert!(sim["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["id"] != id.as_str()));

    let (code, sug) = get(&s.url("/api/suggest?q=memo"));
    assert_eq!(code, 200);
    assert!(sug["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["text"] == "memory"));

    let (code, facets) = get(&s.url("/api/facets"));
    assert_eq!(code, 200);
    assert!(facets["stack"].as_object().unwrap().len() > 10);

    let page = Req::get(&s.url("/")).call().unwrap();
    assert!(page.content_type().starts_with("text/html"));
    let js = Req::get(&s.url("/widget.js")).call().unwrap();
    assert!(js.content_type().contains("javascript"));
}

#[test]
fn the_cli_json_and_the_api_answer_the_same_object() {
    let s = Server::start(&[]);
    let (_, api) = get(&s.url("/api/search?q=kubernetes+rollout&limit=5&facet=stack:kubernetes"));
    // The CLI on the same index directory (the server holds no writer).
    let out = crate::common::run(
        s.index.path(),
        &[
            "search",
            "kubernetes rollout",
            "--limit",
            "5",
            "--facet",
            "stack=kubernetes",
            "--json",
        ],
    );
    let mut cli: Value = serde_json::from_str(&crate::common::stdout(&out)).unwrap();
    let mut api = api;
    cli["took_ms"] = Value::Null;
    api["took_ms"] = Value::Null;
    assert_eq!(cli, api);
}

#[test]
fn bad_requests_are_4xx_naming_the_parameter() {
    let s = Server::start(&[]);
    for (query, param) in [
        ("sort=sideways", "sort"),
        ("offset=-1", "offset"),
        ("limit=abc", "limit"),
        ("limit=101", "limit"),
        ("match=most", "match"),
        ("facet=colour:red", "facet"),
        ("q=quality:%3E%3Dlots", "q"),
        ("bogus=1", "bogus"),
    ] {
        let (code, body) = get(&s.url(&format!("/api/search?{query}")));
        assert_eq!(code, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
        assert_eq!(body["error"]["param"], param, "{query}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 5);
    }
    let long = "a".repeat(1100);
    let (code, body) = get(&s.url(&format!("/api/search?q={long}")));
    assert_eq!((code, body["error"]["param"].as_str()), (400, Some("q")));
    let (code, body) = get(&s.url("/no/such/route"));
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (code, _) = get(&s.url("/api/posts/no-such-post"));
    assert_eq!(code, 404);
    let (code, _) = call(Req::delete(&s.url("/api/search")));
    assert_eq!(code, 405);
    // Odd queries are searched, never a 500.
    for q in [
        "%22unbalanced",
        "---",
        "%00%01%02",
        "(((",
        "stack%3A",
        "*%3F%5C",
    ] {
        let (code, body) = get(&s.url(&format!("/api/search?q={q}")));
        assert_eq!(code, 200, "{q}: {body}");
    }
}

#[test]
fn writes_need_the_token_and_are_seen_by_the_next_search() {
    let s = Server::start(&[("POSTSEARCH_SERVER_WRITE_TOKEN", "s3cret")]);
    let post = r#"{"id":"new-1","title":"quokka deployment notes","body":"a quokka appears"}"#;
    let (code, body) = send(Req::post(&s.url("/api/posts")), post);
    assert_eq!(code, 401, "{body}");
    let (code, _) = send(
        Req::post(&s.url("/api/posts")).set("Authorization", "Bearer wrong"),
        post,
    );
    assert_eq!(code, 401);
    let auth = |r: Req| r.set("Authorization", "Bearer s3cret");
    let body = format!("{post}\nnot json\n{{\"id\":\"new-2\",\"title\":\"second quokka\"}}\n");
    let (code, summary) = send(auth(Req::post(&s.url("/api/posts"))), &body);
    assert_eq!(code, 200, "{summary}");
    assert_eq!(summary["added"], 2);
    assert_eq!(summary["rejected"][0]["line"], 2);
    let (_, r) = get(&s.url("/api/search?q=quokka"));
    assert_eq!(r["total"], 2);
    // A JSON array too, upserting.
    let (code, summary) = send(
        auth(Req::post(&s.url("/api/posts"))),
        r#"[{"id":"new-1","title":"renamed wombat"}]"#,
    );
    assert_eq!((code, summary["updated"].as_u64()), (200, Some(1)));
    let (code, _) = call(auth(Req::delete(&s.url("/api/posts/new-2"))));
    assert_eq!(code, 200);
    let (code, _) = call(auth(Req::delete(&s.url("/api/posts/new-2"))));
    assert_eq!(code, 404);
    let (_, r) = get(&s.url("/api/search?q=quokka"));
    assert_eq!(r["total"], 0);
    let (_, metrics) = get(&s.url("/metrics"));
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains("postsearch_index_commits_total 3"),
        "{metrics}"
    );
}

/// A write while another process holds the index's write lock (an
/// import) waits for it until the request's time limit: it goes through
/// when the lock is let go in time, and is refused otherwise, 503
/// `index_busy` with `Retry-After`, nothing applied.
#[test]
fn writes_wait_for_an_import_holding_the_index_until_their_time_limit() {
    use postsearch_store::indexer::{Writer, WriterOptions};
    use std::time::{Duration, Instant};
    let s = Server::start(&[
        ("POSTSEARCH_SERVER_WRITE_TOKEN", "t"),
        ("POSTSEARCH_LIMITS_REQUEST_TIMEOUT_MS", "1500"),
    ]);
    let auth = |r: Req| r.set("Authorization", "Bearer t");
    let post = r#"{"id":"busy-1","title":"numbat sightings"}"#;
    let (_, r) = get(&s.url("/api/search?q=kubernetes"));
    let existing = r["hits"][0]["id"].as_str().unwrap().to_string();
    let index = postsearch_store::PostIndex::open(s.index.path()).unwrap();
    let import = || Writer::new(&index, WriterOptions::one_thread()).unwrap();

    // Held past the time limit: refused, nothing applied.
    let held = import();
    let started = Instant::now();
    let resp = auth(Req::post(&s.url("/api/posts"))).send(post).unwrap();
    let body = resp.json();
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (503, Some("index_busy")),
        "{body}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "it waited"
    );
    assert_eq!(resp.header("retry-after"), Some("5"));
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("another process is writing"), "{message}");
    let (code, body) = call(auth(Req::delete(&s.url(&format!("/api/posts/{existing}")))));
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (503, Some("index_busy"))
    );
    let (_, r) = get(&s.url("/api/search?q=numbat"));
    assert_eq!(r["total"], 0);
    drop(held);

    // Let go within the time limit: the write waits, then goes through.
    for send_it in [
        |url: &str, auth: &dyn Fn(Req) -> Req| {
            let post = r#"{"id":"busy-1","title":"numbat sightings"}"#;
            auth(Req::post(&format!("{url}/api/posts")))
                .send(post)
                .unwrap()
        },
        |url: &str, auth: &dyn Fn(Req) -> Req| {
            let (_, r) = get(&format!("{url}/api/search?q=kubernetes"));
            let id = r["hits"][0]["id"].as_str().unwrap().to_string();
            auth(Req::delete(&format!("{url}/api/posts/{id}")))
                .call()
                .unwrap()
        },
    ] {
        let held = import();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        let resp = send_it(&s.base, &auth);
        release.join().unwrap();
        assert_eq!(resp.status, 200, "{}", resp.json());
    }
    let (_, r) = get(&s.url("/api/search?q=numbat"));
    assert_eq!(r["total"], 1);
}

#[test]
fn writes_are_disabled_without_a_token_and_bodies_are_limited() {
    let s = Server::start(&[
        ("POSTSEARCH_LIMITS_MAX_BODY_BYTES", "1000"),
        ("POSTSEARCH_SERVER_WRITE_TOKEN", "t"),
    ]);
    let big = format!(r#"{{"id":"big","title":"{}"}}"#, "x".repeat(5000));
    let (code, body) = send(
        Req::post(&s.url("/api/posts")).set("Authorization", "Bearer t"),
        &big,
    );
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    drop(s);
    let s = Server::start(&[]);
    let (code, body) = send(
        Req::post(&s.url("/api/posts")).set("Authorization", "Bearer t"),
        "{}",
    );
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (403, Some("writes_disabled"))
    );
}

#[test]
fn cors_headers_only_for_configured_origins() {
    let s = Server::start(&[("POSTSEARCH_SERVER_CORS_ORIGINS", "http://good.example")]);
    let r = Req::get(&s.url("/api/search?q=cache"))
        .set("Origin", "http://good.example")
        .call()
        .unwrap();
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://good.example")
    );
    let r = Req::get(&s.url("/api/search?q=cache"))
        .set("Origin", "http://evil.example")
        .call()
        .unwrap();
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = Req::new("OPTIONS", &s.url("/api/search"))
        .set("Origin", "http://good.example")
        .call()
        .unwrap();
    assert_eq!(r.status, 204);
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("GET"));
    let evil = Req::new("OPTIONS", &s.url("/api/search"))
        .set("Origin", "http://evil.example")
        .call()
        .unwrap();
    assert_eq!(evil.status, 403);
    drop(s);
    let s = Server::start(&[("POSTSEARCH_SERVER_CORS_ORIGINS", "*")]);
    let r = Req::get(&s.url("/healthz"))
        .set("Origin", "http://any.example")
        .call()
        .unwrap();
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

#[test]
fn metrics_count_requests_by_route_and_status() {
    let s = Server::start(&[]);
    for _ in 0..3 {
        get(&s.url("/api/search?q=cache"));
    }
    get(&s.url("/api/search?limit=abc"));
    let text = Req::get(&s.url("/metrics")).call().unwrap().into_string();
    assert!(
        text.contains(
            r#"postsearch_http_requests_total{route="/api/search",method="GET",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"postsearch_http_requests_total{route="/api/search",method="GET",status="400"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("postsearch_http_request_duration_seconds_bucket"));
    assert!(text.contains("postsearch_index_documents "));
}

#[test]
fn a_commit_by_another_process_is_seen_without_a_restart() {
    let s = Server::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("p.jsonl");
    std::fs::write(
        &file,
        "{\"id\":\"ext-1\",\"title\":\"platypus from the cli\"}\n",
    )
    .unwrap();
    let out = crate::common::run(s.index.path(), &["index", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, r) = get(&s.url("/api/search?q=platypus"));
        if r["total"] == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server never saw the commit"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The nice value of each thread of process `pid` (Linux `/proc`).
#[cfg(target_os = "linux")]
fn thread_nice_values(pid: u32) -> Vec<i64> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
        .map(|stat| {
            // Fields after the command's closing parenthesis start at the
            // state (field 3); the nice value is field 19.
            let rest = &stat[stat.rfind(')').unwrap() + 1..];
            rest.split_whitespace().nth(16).unwrap().parse().unwrap()
        })
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn searches_run_below_the_priority_of_the_request_tasks() {
    let server = Server::start(&[]);
    for q in ["kubernetes", "\"connection pool\"", "rust"] {
        let (status, _) = get(&server.url(&format!("/api/search?q={q}")));
        assert_eq!(status, 200);
    }
    let nice = thread_nice_values(server.child.id());
    // The threads that ran searches are nicer than the process started;
    // the main thread and the request tasks' threads are not.
    let base = thread_nice_values(std::process::id())[0];
    let searches = (base + 5).min(19);
    assert!(nice.contains(&searches), "{base} {nice:?}");
    assert!(nice.contains(&base), "{base} {nice:?}");
    assert!(
        nice.iter().all(|n| *n == base || *n == searches),
        "{base} {nice:?}"
    );
}

#[test]
fn a_raised_limit_holds_on_every_route_and_quoted_filter_values_work() {
    let s = Server::start(&[("POSTSEARCH_LIMITS_MAX_LIMIT", "300")]);
    let (code, r) = get(&s.url("/api/search?q=the&limit=250"));
    assert_eq!(code, 200, "{r}");
    assert!(r["hits"].as_array().unwrap().len() > 100);
    let id = r["hits"][0]["id"].as_str().unwrap().to_string();
    let (code, r) = get(&s.url(&format!("/api/posts/{id}/similar?limit=250")));
    assert_eq!(code, 200, "{r}");
    let (code, r) = get(&s.url("/api/search?q=the&limit=301"));
    assert_eq!((code, r["error"]["param"].as_str()), (400, Some("limit")));
    let search = |body: &str| send(Req::post(&s.url("/meili/indexes/posts/search")), body);
    let (code, r) = search(r#"{"q":"the","limit":250}"#);
    assert_eq!(code, 200, "{r}");
    assert!(r["hits"].as_array().unwrap().len() > 100);
    let (code, r) = search(r#"{"q":"the","limit":301}"#);
    assert_eq!(
        (code, r["code"].as_str()),
        (400, Some("invalid_search_limit"))
    );
    let (_, settings) = get(&s.url("/meili/indexes/posts/settings"));
    assert_eq!(settings["pagination"]["maxTotalHits"], 10_300);
    // A filter value holding a double quote is a value like any other.
    let (code, r) = search(r#"{"q":"","filter":"stack = 'say \"hi\"' OR stack = python"}"#);
    assert_eq!(code, 200, "{r}");
    assert!(r["estimatedTotalHits"].as_u64().unwrap() > 0, "{r}");
}

/// The raw bytes of an answer to `req` (status, headers, body), not decoded.
fn raw(req: Req) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let resp = req.call().unwrap_or_else(|e| panic!("request failed: {e}"));
    (resp.status, resp.headers, resp.body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn answers_are_compressed_for_clients_that_accept_it() {
    use std::io::Read;
    let s = Server::start(&[]);
    let url = s.url("/api/search?q=docker&limit=20");
    let (_, plain_headers, plain) = raw(Req::get(&url));
    assert!(header(&plain_headers, "content-encoding").is_empty());
    assert!(header(&plain_headers, "vary").contains(&"Accept-Encoding"));
    let decoded = |encoding: &str, body: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        match encoding {
            "gzip" => flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap(),
            "br" => brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap(),
            e => panic!("{e}"),
        };
        out
    };
    let without_took = |bytes: &[u8]| {
        let mut v: Value = serde_json::from_slice(bytes).unwrap();
        v.as_object_mut().unwrap().remove("took_ms");
        v
    };
    for (accept, encoding) in [
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("br;q=0, gzip", "gzip"),
    ] {
        let (status, headers, body) = raw(Req::get(&url).set("accept-encoding", accept));
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "content-encoding"), [encoding], "{accept}");
        assert!(
            body.len() * 3 < plain.len(),
            "{accept}: {} vs {}",
            body.len(),
            plain.len()
        );
        assert_eq!(
            without_took(&decoded(encoding, &body)),
            without_took(&plain)
        );
    }
    // Refused, or too short to be worth it: as is.
    let (_, headers, _) = raw(Req::get(&url).set("accept-encoding", "identity"));
    assert!(header(&headers, "content-encoding").is_empty());
    let (_, headers, _) = raw(Req::get(&s.url("/healthz")).set("accept-encoding", "gzip"));
    assert!(header(&headers, "content-encoding").is_empty());
    // A page and a script too.
    let (_, headers, _) = raw(Req::get(&s.url("/widget.js")).set("accept-encoding", "br"));
    assert_eq!(header(&headers, "content-encoding"), ["br"]);
    // A long answer (compressed off the request tasks) decodes whole.
    let big = Req::post(&s.url("/meili/indexes/posts/search"))
        .set("accept-encoding", "br")
        .set("content-type", "application/json")
        .send(r#"{"q":"the","limit":100}"#)
        .unwrap();
    assert_eq!(big.header("content-encoding"), Some("br"));
    let answer: Value = serde_json::from_slice(&decoded("br", &big.body)).unwrap();
    assert_eq!(answer["hits"].as_array().unwrap().len(), 100);
    assert!(big.body.len() > 10_000, "a long answer: {}", big.body.len());
}

#[test]
fn methods_paths_auth_and_numbers_follow_http() {
    let s = Server::start(&[("POSTSEARCH_SERVER_WRITE_TOKEN", "tok")]);
    let (status, headers, _) = raw(Req::new("PUT", &s.url("/api/search")));
    assert_eq!(
        (status, header(&headers, "allow")),
        (405, vec!["GET, HEAD"])
    );
    let (status, headers, _) = raw(Req::new("PATCH", &s.url("/api/posts/x")));
    assert_eq!(
        (status, header(&headers, "allow")),
        (405, vec!["GET, HEAD, DELETE"])
    );
    let (status, _, _) = raw(Req::get(&s.url("/vendor/no-such-file.js")));
    assert_eq!(status, 404);
    // Meilisearch's read-only routes: 405 with Allow, as Meilisearch answers.
    let (status, headers, body) = raw(Req::new("DELETE", &s.url("/meili/indexes/posts/search")));
    assert_eq!(
        (status, header(&headers, "allow")),
        (405, vec!["GET, HEAD, POST"])
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "method_not_allowed");
    let (status, headers, _) = raw(Req::get(&s.url("/meili/multi-search")));
    assert_eq!((status, header(&headers, "allow")), (405, vec!["POST"]));
    // The auth scheme is case-insensitive.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let (code, r) = send(
            Req::post(&s.url("/api/posts")).set("authorization", &format!("{scheme} tok")),
            r#"{"id":"auth-1","title":"t"}"#,
        );
        assert_eq!(code, 200, "{scheme}: {r}");
    }
    let (code, _) = send(
        Req::post(&s.url("/api/posts")).set("authorization", "Basic tok"),
        r#"{"id":"auth-1","title":"t"}"#,
    );
    assert_eq!(code, 401);
    // took_ms to the microsecond, without float noise.
    for _ in 0..20 {
        let (_, _, body) = raw(Req::get(&s.url("/api/search?q=queries")));
        let text = String::from_utf8(body).unwrap();
        let took = text
            .split("\"took_ms\":")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        let decimals = took.split('.').nth(1).map_or(0, str::len);
        assert!(decimals <= 3, "took_ms {took}");
    }
    // The OpenAPI description.
    let (code, spec) = get(&s.url("/openapi.json"));
    assert_eq!(code, 200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[test]
fn http2_is_not_served() {
    use std::io::{Read, Write};
    let s = Server::start(&[]);
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    // The HTTP/2 connection preface, then an empty SETTINGS frame.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    // An HTTP/2 server would answer with a SETTINGS frame (type 4 at byte 3).
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
        "answered {:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(40)])
    );
}

#[test]
fn an_unencoded_url_gets_a_400_that_says_what_to_encode() {
    use std::io::{Read, Write};
    let server = crate::common::Server::start(&[]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let send = |raw: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let out = send("GET /api/search?q=a>b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    let body: serde_json::Value =
        serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["param"], "url");
    assert!(body["error"]["message"].as_str().unwrap().contains("%3E"));
    let out = send("GET /api/search?q=a b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(
        out.starts_with("HTTP/1.1 400") && out.contains("spaces"),
        "{out}"
    );
    // A valid URL on the same kind of connection is served.
    let out = send("GET /api/search?q=a%3Eb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

/// Whether process `pid` may have transparent huge pages (`THP_enabled` of
/// Linux `/proc/PID/status`).
#[cfg(target_os = "linux")]
fn thp_enabled(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .expect("THP_enabled in /proc/PID/status (Linux 5.0+)");
    line.trim() == "1"
}

#[cfg(target_os = "linux")]
#[test]
fn the_server_runs_without_transparent_huge_pages_unless_told() {
    let s = Server::start(&[]);
    assert!(!thp_enabled(s.child.id()), "huge pages left on");
    let allowed = Server::start(&[("MIMALLOC_ALLOW_THP", "1")]);
    // This test's own process has them unless the system turns them off.
    assert_eq!(
        thp_enabled(allowed.child.id()),
        thp_enabled(std::process::id())
    );
}

/// The first `n` posts of `data/sample.jsonl`, each title ending in `tail`,
/// as one JSON-lines body.
fn retitled_sample_posts(n: usize, tail: &str) -> String {
    let sample = std::fs::read_to_string(crate::common::root().join("data/sample.jsonl")).unwrap();
    sample
        .lines()
        .take(n)
        .map(|line| {
            let mut post: Value = serde_json::from_str(line).unwrap();
            let title = format!("{} {tail}", post["title"].as_str().unwrap());
            post["title"] = Value::from(title);
            post.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An update leaves the post's old copy deleted in the segment it was in.
/// Once such copies are a fifth of a segment, the server rewrites it
/// without them after the write, and writes go on meanwhile.
#[test]
fn the_old_copies_of_updated_posts_are_purged_after_the_writes() {
    use postsearch_store::PostIndex;
    use std::time::{Duration, Instant};
    let s = Server::start(&[("POSTSEARCH_SERVER_WRITE_TOKEN", "t")]);
    let auth = |r: Req| r.set("Authorization", "Bearer t");
    let index = PostIndex::open(s.index.path()).unwrap();
    let posts = index.searcher().num_docs();
    let deleted = || {
        index.reload().unwrap();
        postsearch_store::index::deleted_posts(&index.searcher())
    };
    assert_eq!(deleted(), 0);

    let (code, body) = send(
        auth(Req::post(&s.url("/api/posts"))),
        &retitled_sample_posts(400, "zebrafish"),
    );
    assert_eq!((code, body["updated"].as_u64()), (200, Some(400)), "{body}");
    // A write right behind it goes through, purge or not.
    let (code, body) = send(
        auth(Req::post(&s.url("/api/posts"))),
        r#"{"id":"purge-1","title":"numbat sightings"}"#,
    );
    assert_eq!((code, body["added"].as_u64()), (200, Some(1)), "{body}");

    let waited = Instant::now();
    while deleted() > 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "{} deleted posts still in the index",
            deleted()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(postsearch_store::indexer::segments_to_purge(&index)
        .unwrap()
        .segments
        .is_empty());
    assert_eq!(index.searcher().num_docs(), posts + 1);
    let (_, r) = get(&s.url("/api/search?q=zebrafish&limit=1"));
    assert_eq!(r["total"], 400);
    let (_, r) = get(&s.url("/api/search?q=numbat"));
    assert_eq!(r["total"], 1);
    // And writes after it still go through.
    let (code, _) = call(auth(Req::delete(&s.url("/api/posts/purge-1"))));
    assert_eq!(code, 200);
    let (_, r) = get(&s.url("/api/search?q=numbat"));
    assert_eq!(r["total"], 0);
}
