//! The service files of deploy/: the systemd unit passes `systemd-analyze
//! verify` (with the binary at the path it names replaced by the built one).

use crate::common::{bin, missing_prerequisite, root, stderr};
use std::process::Command;

#[test]
#[ignore = "needs systemd-analyze (apt-get install systemd); run with --ignored"]
fn the_systemd_unit_verifies() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        missing_prerequisite(
            "the systemd unit check",
            "systemd-analyze is missing (apt-get install systemd)",
        );
    }
    let unit = std::fs::read_to_string(root().join("deploy/postsearch.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/postsearch serve"));
    assert!(unit.contains("LoadCredential=write_token:"));
    assert!(unit.contains("POSTSEARCH_SERVER_WRITE_TOKEN_FILE=%d/write_token"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postsearch.service");
    let here = unit.replace("/usr/local/bin/postsearch", &bin().display().to_string());
    std::fs::write(&path, here).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}
