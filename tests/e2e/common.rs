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
        let port = free_port();
        let mut cmd = Command::new(bin());
        cmd.current_dir(root())
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--index"])
            .arg(index.path())
            .env("RUST_LOG", "warn")
            .env_remove("POSTSEARCH_INDEX")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
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
        if let Ok(r) = ureq::get(&format!("{base}/readyz")).call() {
            if r.status() == 200 {
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
    let port = free_port();
    let mut cmd = Command::new(bin());
    cmd.current_dir(root())
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--index"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .env_remove("POSTSEARCH_INDEX")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("start server");
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base);
    (child, base)
}

/// A GET: (status, body as JSON or text in "text").
pub fn get(url: &str) -> (u16, serde_json::Value) {
    call(ureq::get(url))
}

/// Any request, answered as (status, JSON body).
pub fn call(req: ureq::Request) -> (u16, serde_json::Value) {
    match req.call() {
        Ok(r) => (r.status(), body_json(r)),
        Err(ureq::Error::Status(code, r)) => (code, body_json(r)),
        Err(e) => panic!("request failed: {e}"),
    }
}

pub fn send(req: ureq::Request, body: &str) -> (u16, serde_json::Value) {
    match req.send_string(body) {
        Ok(r) => (r.status(), body_json(r)),
        Err(ureq::Error::Status(code, r)) => (code, body_json(r)),
        Err(e) => panic!("request failed: {e}"),
    }
}

fn body_json(r: ureq::Response) -> serde_json::Value {
    let text = r.into_string().unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

/// Node and Chromium for a browser test, as `(node, chromium)`. When one is
/// missing the test is skipped with a loud message — or fails, when
/// `POSTSEARCH_REQUIRE_BROWSER=1` (as in CI).
pub fn browser_prerequisites(test: &str) -> Option<(String, PathBuf)> {
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
        return Some((node, chromium));
    }
    let msg = format!("missing {}", missing.join("; "));
    if std::env::var("POSTSEARCH_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("{test} required (POSTSEARCH_REQUIRE_BROWSER=1) but {msg}");
    }
    eprintln!("\n!!!!!!!!!!\nSKIPPED {test}: {msg}\n(set POSTSEARCH_REQUIRE_BROWSER=1 to make this a failure)\n!!!!!!!!!!\n");
    None
}
