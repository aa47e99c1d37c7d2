//! A writer and two read-only replicas behind nginx, fed by
//! `deploy/ship.sh` (snapshot + rsync), on loopback (issue 23): a post
//! written on the writer is found through nginx once shipped; killing a
//! replica under load loses no request at the balancer; a replica on a
//! read-only folder serves.
//!
//! Needs `nginx` and `rsync` on the PATH, and root for the bind mount:
//! `#[ignore]`d, run by `cargo test -- --ignored` (and `.ci/run`, which
//! installs them), failing with what is missing.

use crate::common::{
    bin, free_port, missing_prerequisite, root, serve_command, spawn_server, wait_ready, Req,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "replicas";

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `postsearch serve --read-only` on `dir`, ready.
fn replica(dir: &Path) -> (Child, u16) {
    let (mut cmd, port) = serve_command(dir, &["--read-only"]);
    let child = cmd.stderr(Stdio::inherit()).spawn().unwrap();
    wait_ready(&format!("http://127.0.0.1:{port}"));
    (child, port)
}

fn ship(writer: &Path, replicas: &[&Path]) {
    let status = Command::new(root().join("deploy/ship.sh"))
        .arg(writer)
        .args(replicas)
        .env("POSTSEARCH_BIN", bin())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "deploy/ship.sh failed");
}

/// nginx with deploy/postsearch.nginx.conf, its addresses replaced.
struct Nginx {
    child: Child,
    base: String,
}

impl Nginx {
    fn start(dir: &Path, writer: u16, replicas: [u16; 2]) -> Nginx {
        let port = free_port();
        let site = std::fs::read_to_string(root().join("deploy/postsearch.nginx.conf"))
            .unwrap()
            .replace("127.0.0.1:7700", &format!("127.0.0.1:{writer}"))
            .replace("127.0.0.1:7701", &format!("127.0.0.1:{}", replicas[0]))
            .replace("127.0.0.1:7702", &format!("127.0.0.1:{}", replicas[1]))
            .replace("listen 8080", &format!("listen 127.0.0.1:{port}"));
        std::fs::write(dir.join("postsearch.conf"), site).unwrap();
        let d = dir.display();
        let main = format!(
            "user root;\ndaemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n \
             fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n \
             include {d}/postsearch.conf;\n}}\n"
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, main).unwrap();
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir)
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&base);
        Nginx { child, base }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn status_of(url: &str) -> u16 {
    Req::get(url)
        .timeout(Duration::from_secs(20))
        .call()
        .map_or(0, |r| r.status)
}

#[test]
#[ignore = "needs nginx, rsync and root (apt-get install nginx rsync); run with --ignored"]
fn replicas_behind_nginx_serve_what_the_writer_ships() {
    if !(have("nginx") && have("rsync")) {
        missing_prerequisite(
            "the replicas test",
            "missing nginx or rsync (apt-get install nginx rsync)",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| -> PathBuf {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let (writer_dir, r1, r2, web) = (dir("writer"), dir("r1"), dir("r2"), dir("nginx"));
    std::fs::remove_dir(&writer_dir).unwrap();
    let (mut writer, writer_base) =
        spawn_server(&writer_dir, &[("POSTSEARCH_SERVER_WRITE_TOKEN", TOKEN)]);
    ship(&writer_dir, &[&r1, &r2]);
    let (mut rep1, p1) = replica(&r1);
    let (mut rep2, p2) = replica(&r2);
    let writer_port: u16 = writer_base.rsplit(':').next().unwrap().parse().unwrap();
    let nginx = Nginx::start(&web, writer_port, [p1, p2]);

    // A write through the balancer reaches the writer; once shipped, the
    // replicas find it without a restart.
    let post = r#"{"id":"shipped-1","title":"a post shipped to the replicas"}"#;
    let written = Req::post(&format!("{}/api/posts", nginx.base))
        .set("authorization", &format!("Bearer {TOKEN}"))
        .send(post)
        .unwrap();
    assert_eq!(written.status, 200, "{}", written.json());
    let url = format!("{}/api/posts/shipped-1", nginx.base);
    assert_eq!(status_of(&url), 404, "not shipped yet");
    let started = Instant::now();
    ship(&writer_dir, &[&r1, &r2]);
    for port in [p1, p2] {
        let one = format!("http://127.0.0.1:{port}/api/posts/shipped-1");
        while status_of(&one) != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "replica {port} never saw the post"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    eprintln!(
        "write to visible on both replicas (ship included): {:?}",
        started.elapsed()
    );
    assert_eq!(status_of(&url), 200);

    // Load through the balancer while a replica is killed: no request lost.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            let url = format!("{}/api/search?q=python&limit=5", nginx.base);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    sent.fetch_add(1, Ordering::Relaxed);
                    if status_of(&url) != 200 {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    rep1.kill().unwrap();
    rep1.wait().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("{sent} searches through nginx while a replica was killed: {failed} failed");
    assert!(sent > 20, "only {sent} searches sent");
    assert_eq!(failed, 0);

    let _ = rep2.kill();
    let _ = rep2.wait();
    let _ = writer.kill();
    let _ = writer.wait();

    // A replica on a read-only folder (a read-only bind mount of r2).
    let ro = dir("r2-read-only");
    let mounted = Command::new("mount")
        .arg("--bind")
        .arg(&r2)
        .arg(&ro)
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        missing_prerequisite(
            "the read-only replica",
            "a bind mount is not allowed here (run as root)",
        );
    }
    let remounted = Command::new("mount")
        .args(["-o", "remount,bind,ro"])
        .arg(&ro)
        .status()
        .unwrap();
    let served = remounted.success().then(|| {
        let (mut rep, port) = replica(&ro);
        let status = status_of(&format!("http://127.0.0.1:{port}/api/posts/shipped-1"));
        let _ = rep.kill();
        let _ = rep.wait();
        status
    });
    let _ = Command::new("umount").arg(&ro).status();
    assert!(remounted.success(), "remounting read-only failed");
    assert_eq!(served, Some(200), "the replica on a read-only folder");
}
