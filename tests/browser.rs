//! Headless-Chromium tests of the widget and the demo page against the real
//! binary: starts `postsearch serve` over `data/` on a free port, then runs
//! `node tests/browser/run.mjs` (see tests/browser/README.md).
//!
//! Needs `node`, `node_modules/playwright-core` (`npm ci`) and Chromium at
//! `/usr/bin/chromium` (or `$CHROMIUM`). Without them the test is skipped
//! loudly, or fails when `POSTSEARCH_REQUIRE_BROWSER=1`.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server when the test ends, however it ends.
struct ServerGuard(Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// What is missing to run the browser tests, if anything.
fn missing_prerequisites(root: &Path, node: &str, chromium: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if !root
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
    let node_ok = Command::new(node)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !node_ok {
        missing.push(format!("Node.js (`{node}` on PATH, or set NODE)"));
    }
    missing
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[test]
fn browser_widget_and_demo_page() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));

    let missing = missing_prerequisites(&root, &node, &chromium);
    if !missing.is_empty() {
        let msg = format!("missing {}", missing.join("; "));
        if std::env::var("POSTSEARCH_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("browser tests required (POSTSEARCH_REQUIRE_BROWSER=1) but {msg}");
        }
        eprintln!("\n!!!!!!!!!!\nSKIPPED browser tests: {msg}\n(set POSTSEARCH_REQUIRE_BROWSER=1 to make this a failure)\n!!!!!!!!!!\n");
        return;
    }

    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let embed_port = free_port();
    let log_path = tmp.path().join("server.log");
    let log = File::create(&log_path).expect("server log");
    let child = Command::new(env!("CARGO_BIN_EXE_postsearch"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--index"])
        .arg(tmp.path().join("index"))
        .env(
            "POSTSEARCH_SERVER_CORS_ORIGINS",
            format!("http://127.0.0.1:{embed_port}"),
        )
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("start postsearch serve");
    let mut server = ServerGuard(child);

    // Wait for /readyz (the index is built from data/ first).
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(status) = server.0.try_wait().expect("try_wait") {
            panic!(
                "postsearch serve exited early ({status}):\n{}",
                tail(&log_path, 40)
            );
        }
        let ready = ureq::get(&format!("{base}/readyz"))
            .timeout(Duration::from_secs(2))
            .call()
            .map(|r| r.status() == 200)
            .unwrap_or(false);
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server not ready after 180 s:\n{}",
            tail(&log_path, 40)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let started = Instant::now();
    let status = Command::new(&node)
        .arg(root.join("tests/browser/run.mjs"))
        .arg(&base)
        .env("EMBED_PORT", embed_port.to_string())
        .env("CHROMIUM", &chromium)
        .current_dir(&root)
        .stdin(Stdio::null())
        .status()
        .expect("run node tests/browser/run.mjs");
    eprintln!(
        "browser tests took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        status.success(),
        "browser tests failed ({status}); server log tail:\n{}",
        tail(&log_path, 30)
    );
}
