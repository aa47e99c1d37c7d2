//! Helpers shared by the end-to-end tests: the real binary, a real server on
//! a free port, and small HTTP calls.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The built `postsearch` binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_postsearch"))
}

/// The repository root (where `data/` and `tests/fixtures/` live).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `postsearch ARGS` with `--index INDEX` from the repo root.
pub fn run(index: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(root())
        .arg("--index")
        .arg(index)
        .args(args)
        .env_remove("POSTSEARCH_INDEX")
        .output()
        .expect("run postsearch")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `postsearch serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub index: tempfile::TempDir,
}

impl Server {
    /// Starts the server on the bundled `data/` with extra environment.
    pub fn start(env: &[(&str, &str)]) -> Server {
        let index = tempfile::tempdir().unwrap();
        Self::start_on(index, env)
    }

    /// Starts the server on an existing index directory.
    pub fn start_on(index: tempfile::TempDir, env: &[(&str, &str)]) -> Server {
        let (mut cmd, port) = serve_command(index.path(), &[]);
        cmd.stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start server");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            index,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        wait_ready(&self.base);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the server at `base` answers `/readyz` (at most 120 s).
pub fn wait_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(r) = Req::get(&format!("{base}/readyz")).call() {
            if r.status == 200 {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server at {base} did not become ready");
}

/// Starts `postsearch serve` on the index in `dir` (which outlives it, so
/// it can be killed and restarted on the same index); returns the child and
/// its base URL once it is ready. The caller kills it.
pub fn spawn_server(dir: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let (mut cmd, port) = serve_command(dir, &[]);
    cmd.stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("start server");
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base);
    (child, base)
}

/// `postsearch serve` on the index in `dir` with `args`, on a free port
/// of 127.0.0.1 (returned), from the repository root (its `data/`), logging
/// warnings only; stdout discarded, stderr for the caller to set. Search
/// analytics are off (they would leave a folder beside each temporary
/// index); tests/e2e/analytics.rs turns them on.
pub fn serve_command(dir: &Path, args: &[&str]) -> (Command, u16) {
    let port = free_port();
    let mut cmd = Command::new(bin());
    cmd.current_dir(root())
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--index"])
        .arg(dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .env("POSTSEARCH_ANALYTICS_ENABLED", "false")
        .env_remove("POSTSEARCH_INDEX")
        .stdout(Stdio::null());
    (cmd, port)
}

/// A prerequisite of `test` is missing (`what`, with how to get it): the
/// test fails saying so. Tests with prerequisites outside Rust are
/// `#[ignore]`d, so `cargo test` reports them as not run; `cargo test --
/// --ignored` (as `.ci/run` does) runs them, and a missing prerequisite is
/// then a failure that names the fix, never a silent pass.
pub fn missing_prerequisite(test: &str, what: &str) -> ! {
    panic!("{test} cannot run: {what}");
}

/// A GET: (status, body as JSON or text in "text").
pub fn get(url: &str) -> (u16, serde_json::Value) {
    call(Req::get(url))
}

/// Any request, answered as (status, JSON body).
pub fn call(req: Req) -> (u16, serde_json::Value) {
    let r = req.call().unwrap_or_else(|e| panic!("request failed: {e}"));
    (r.status, r.json())
}

/// A request with `body`, answered as (status, JSON body).
pub fn send(req: Req, body: &str) -> (u16, serde_json::Value) {
    let r = req
        .send(body)
        .unwrap_or_else(|e| panic!("request failed: {e}"));
    (r.status, r.json())
}

/// A request being built: method, URL and headers, sent with ureq (every
/// status is an answer, not an error; bodies are read whole).
pub struct Req {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
}

/// An answer: status, headers (names lower-case) and body, as received.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    /// A request of `method` to `url`; characters a URI cannot hold
    /// (spaces, quotes, non-ASCII...) are percent-encoded, as browsers do.
    pub fn new(method: &str, url: &str) -> Req {
        let mut encoded = String::with_capacity(url.len());
        for b in url.bytes() {
            if b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b) {
                encoded.push(b as char);
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        Req {
            method: method.to_string(),
            url: encoded,
            headers: Vec::new(),
            timeout: None,
        }
    }

    pub fn get(url: &str) -> Req {
        Req::new("GET", url)
    }

    pub fn post(url: &str) -> Req {
        Req::new("POST", url)
    }

    pub fn delete(url: &str) -> Req {
        Req::new("DELETE", url)
    }

    /// Adds a header.
    pub fn set(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Gives up after `t`.
    pub fn timeout(mut self, t: Duration) -> Req {
        self.timeout = Some(t);
        self
    }

    /// Sends the request without a body.
    pub fn call(self) -> Result<Resp, ureq::Error> {
        self.run(Vec::new())
    }

    /// Sends the request with `body`.
    pub fn send(self, body: &str) -> Result<Resp, ureq::Error> {
        self.run(body.as_bytes().to_vec())
    }

    fn run(self, body: Vec<u8>) -> Result<Resp, ureq::Error> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .timeout_global(self.timeout)
            .build()
            .into();
        let mut request = ureq::http::Request::builder()
            .method(self.method.as_str())
            .uri(&self.url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = request.body(body).map_err(ureq::Error::from)?;
        let mut resp = agent.run(request)?;
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut resp.body_mut().as_reader(), &mut body)
            .map_err(ureq::Error::from)?;
        Ok(Resp {
            status: resp.status().as_u16(),
            headers,
            body,
        })
    }
}

impl Resp {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }

    /// Every value of header `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `content-type` header ("" when absent).
    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// The body as text.
    pub fn into_string(self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (a string value when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        let text = String::from_utf8_lossy(&self.body);
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.into_owned()))
    }
}

/// Runs a Node.js test script to its end and fails the test when it fails.
/// Its output is printed in one block (tests running beside it do not cut
/// into it), and the failure message repeats what failed: each `not ok`
/// line with its indented explanation, and the end of what it wrote to
/// stderr, so a CI summary that keeps only the panic names the failing step.
pub fn run_node_script(mut command: Command, what: &str) {
    let started = std::time::Instant::now();
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "---- {what} ({:.1} s) ----\n{stdout}{stderr}---- end of {what} ----",
        started.elapsed().as_secs_f64()
    );
    if out.status.success() {
        return;
    }
    let mut failed = Vec::new();
    let mut in_failure = false;
    for line in stdout.lines() {
        if line.starts_with("not ok") {
            in_failure = true;
        } else if !line.starts_with("  ") {
            in_failure = false;
        }
        if in_failure {
            failed.push(line);
        }
    }
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    panic!(
        "{what} failed ({}):\n{}\n{tail}",
        out.status,
        failed.join("\n")
    );
}

/// Node and Chromium for a browser test, as `(node, chromium)`; the test
/// fails naming what is missing and how to get it.
pub fn browser_prerequisites(test: &str) -> (String, PathBuf) {
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    let mut missing = Vec::new();
    if !root()
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        missing.push("node_modules/playwright-core (run `npm ci` in the repository root)".into());
    }
    if !chromium.is_file() {
        missing.push(format!(
            "Chromium at {} (apt-get install chromium, or set CHROMIUM)",
            chromium.display()
        ));
    }
    let node_ok = Command::new(&node)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_ok {
        missing.push(format!("Node.js (`{node}` on PATH, or set NODE)"));
    }
    if missing.is_empty() {
        return (node, chromium);
    }
    let msg = format!("missing {}", missing.join("; "));
    missing_prerequisite(test, &msg);
}
