//! The real `meilisearch` Python client (PyPI) against `/meili`, checked
//! field by field against `/api/search`: runs
//! `python3 tests/meili/test_client.py BASE/meili`.
//!
//! Needs `python3` with the `meilisearch` module (`pip install
//! meilisearch`): `#[ignore]`d, run by `cargo test -- --ignored` (and
//! `.ci/run`), failing with what is missing.

use std::process::{Command, Stdio};

#[test]
#[ignore = "needs the Meilisearch Python client (pip install meilisearch==0.43.0); run with --ignored"]
fn meilisearch_python_client() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let has_client = Command::new(&python)
        .args(["-c", "import meilisearch"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_client {
        let msg =
            format!("`{python}` cannot import the `meilisearch` module (pip install meilisearch)");
        crate::common::missing_prerequisite("the Meilisearch Python client test", &msg);
    }
    let server = crate::common::Server::start(&[]);
    let out = Command::new(&python)
        .arg(crate::common::root().join("tests/meili/test_client.py"))
        .arg(server.url("/meili"))
        .current_dir(crate::common::root())
        .stdin(Stdio::null())
        .output()
        .expect("run python3 tests/meili/test_client.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "the Python client test failed ({})",
        out.status
    );
}
