//! The exporter over real sockets: gzip, a failing collector, a hung mount,
//! TLS with basic auth from a web-config file, --help, SIGTERM.

mod common;

use common::{get, parse, start_ours};
use srp_node_exporter::collector::{self, Paths, Settings};
use srp_node_exporter::scrape::Scraper;
use srp_node_exporter::statfs::{FsStats, StatFs};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[test]
fn gzip_when_asked_and_plain_otherwise() {
    let ours = start_ours(&[]);
    let url = format!("http://{}/metrics", ours.addr);
    let out = Command::new("curl")
        .args([
            "-sS",
            "-D",
            "-",
            "-o",
            "-",
            "-H",
            "Accept-Encoding: gzip",
            &url,
        ])
        .output()
        .unwrap();
    let raw = out.stdout;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let headers = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    assert!(headers.contains("content-encoding: gzip"), "{headers}");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(&raw[split + 4..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("node_cpu_seconds_total{"), "decoded body");

    let plain = get(&url).unwrap();
    assert!(
        plain.starts_with("# HELP"),
        "uncompressed without Accept-Encoding"
    );
    let health = get(&format!("http://{}/health", ours.addr)).unwrap();
    assert!(health.contains("\"status\":\"ok\""), "{health}");
}

#[test]
fn a_failing_collector_reports_success_0_and_the_others_answer() {
    let d = tempfile::tempdir().unwrap();
    let proc = d.path().join("proc");
    std::fs::create_dir_all(&proc).unwrap();
    std::fs::write(proc.join("loadavg"), "not numbers at all\n").unwrap();
    std::fs::write(proc.join("meminfo"), "MemTotal: 1024 kB\nMemFree: 512 kB\n").unwrap();
    // no proc/stat: the cpu collector has nothing to read
    let procfs = format!("--path.procfs={}", proc.display());
    let ours = start_ours(&[
        "--collector.disable-defaults",
        "--collector.loadavg",
        "--collector.meminfo",
        "--collector.cpu",
        &procfs,
    ]);
    let s = parse(&get(&format!("http://{}/metrics", ours.addr)).unwrap());
    assert_eq!(
        s.value("node_scrape_collector_success{collector=\"loadavg\"}"),
        Some(0.0)
    );
    assert_eq!(
        s.value("node_scrape_collector_success{collector=\"cpu\"}"),
        Some(0.0)
    );
    assert_eq!(
        s.value("node_scrape_collector_success{collector=\"meminfo\"}"),
        Some(1.0)
    );
    assert_eq!(s.value("node_memory_MemTotal_bytes"), Some(1048576.0));
    assert!(
        s.value("node_load1").is_none(),
        "no partial output of a failed collector"
    );
    assert!(s
        .value("node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}")
        .is_none());
}

/// statfs that never answers for one path until released.
struct Hang {
    stuck: PathBuf,
    calls: AtomicUsize,
    released: Mutex<bool>,
    cv: Condvar,
}

impl StatFs for Hang {
    fn statfs(&self, path: &Path) -> std::io::Result<FsStats> {
        if path == self.stuck {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut r = self.released.lock().unwrap();
            while !*r {
                r = self.cv.wait(r).unwrap();
            }
        }
        srp_node_exporter::statfs::SysStatFs.statfs(Path::new("/"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_mount_does_not_hang_the_scrape_nor_pile_up_threads() {
    let d = tempfile::tempdir().unwrap();
    let proc = d.path().join("proc");
    std::fs::create_dir_all(proc.join("1")).unwrap();
    std::fs::write(
        proc.join("1/mounts"),
        "/dev/vda / ext4 rw 0 0\nnfs:/export /mnt/nfs nfs4 rw 0 0\nfuse /mnt/fuse fuse.sshfs rw 0 0\n",
    )
    .unwrap();
    std::fs::write(proc.join("loadavg"), "0.1 0.2 0.3 1/1 1\n").unwrap();
    let root = d.path().join("root");
    let hang = Arc::new(Hang {
        stuck: root.join("mnt/nfs"),
        calls: AtomicUsize::new(0),
        released: Mutex::new(false),
        cv: Condvar::new(),
    });
    let settings = Settings {
        paths: Paths {
            procfs: proc,
            rootfs: root,
            ..Paths::default()
        },
        statfs: hang.clone(),
        mount_timeout: Duration::from_millis(200),
        ..Settings::default()
    };
    let scraper = Arc::new(Scraper::new(
        collector::build(&["filesystem", "loadavg"], &settings),
        false,
    ));
    let app = srp_node_exporter::server::router(scraper, "/metrics", None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // The statfs never returns; a scrape that waited for it would hit the
    // client timeout instead of answering.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    for _ in 0..4 {
        let text = client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("scrape answers although a mount hangs")
            .text()
            .await
            .unwrap();
        let s = parse(&text);
        let nfs = "{device=\"nfs:/export\",fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"}";
        let fuse = "{device=\"fuse\",fstype=\"fuse.sshfs\",mountpoint=\"/mnt/fuse\"}";
        assert_eq!(
            s.value(&format!("node_filesystem_device_error{nfs}")),
            Some(1.0),
            "{text}"
        );
        assert!(s
            .value(&format!("node_filesystem_size_bytes{nfs}"))
            .is_none());
        assert_eq!(
            s.value(&format!("node_filesystem_device_error{fuse}")),
            Some(0.0)
        );
        assert!(
            s.value(&format!("node_filesystem_size_bytes{fuse}"))
                .unwrap()
                > 0.0
        );
        assert_eq!(
            s.value("node_scrape_collector_success{collector=\"filesystem\"}"),
            Some(1.0)
        );
        assert_eq!(s.value("node_load1"), Some(0.1));
    }
    assert_eq!(
        hang.calls.load(Ordering::SeqCst),
        1,
        "the stuck mount is not retried while stuck"
    );

    *hang.released.lock().unwrap() = true;
    hang.cv.notify_all();
    server.abort();
}

fn openssl_cert(dir: &Path) {
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
        ])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success());
}

fn curl_status(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
        ])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tls_and_basic_auth_from_web_config() {
    let d = tempfile::tempdir().unwrap();
    openssl_cert(d.path());
    let hash = bcrypt::hash("scrape-secret", 4).unwrap();
    let cfg = d.path().join("web.yml");
    std::fs::write(
        &cfg,
        format!(
            "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  prometheus: {hash}\n"
        ),
    )
    .unwrap();
    let ours = start_ours(&["--web.config.file", cfg.to_str().unwrap()]);
    let ca = d.path().join("cert.pem");
    let ca = ca.to_str().unwrap();
    let url = format!("https://{}/metrics", ours.addr);

    assert_eq!(
        curl_status(&["--cacert", ca, "-u", "prometheus:scrape-secret", &url]),
        "200"
    );
    assert_eq!(
        curl_status(&["--cacert", ca, "-u", "prometheus:wrong", &url]),
        "401"
    );
    assert_eq!(curl_status(&["--cacert", ca, &url]), "401");
    assert_eq!(
        curl_status(&["--cacert", ca, "-u", "other:scrape-secret", &url]),
        "401"
    );
    // Plain HTTP to the TLS port gets no metrics.
    assert_ne!(
        curl_status(&[
            "-u",
            "prometheus:scrape-secret",
            &format!("http://{}/metrics", ours.addr)
        ]),
        "200"
    );

    let body = Command::new("curl")
        .args([
            "-sS",
            "--compressed",
            "--cacert",
            ca,
            "-u",
            "prometheus:scrape-secret",
            &url,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&body.stdout);
    assert!(text.contains("node_memory_MemTotal_bytes "), "{text}");
}

#[test]
fn bad_web_config_is_refused_with_its_name() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("web.yml");
    std::fs::write(&cfg, "basic_auth_users:\n  prometheus: not-a-hash\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_srp-node-exporter"))
        .args(["--listen", "127.0.0.1:0", "--web.config.file"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("web.yml") && err.contains("bcrypt"), "{err}");
}

#[test]
fn help_lists_every_flag_and_collector() {
    let out = Command::new(env!("CARGO_BIN_EXE_srp-node-exporter"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--web.listen-address",
        "--web.config.file",
        "--collector.filesystem.mount-points-exclude",
        "--collector.filesystem.fs-types-exclude",
        "--collector.filesystem.mount-timeout",
        "--collector.diskstats.device-exclude",
        "--collector.textfile.directory",
        "--collector.disable-defaults",
        "--log-format",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    for spec in collector::ALL {
        assert!(
            help.contains(&format!("--collector.{} ", spec.name))
                || help.contains(&format!("--collector.{}\n", spec.name)),
            "{}",
            spec.name
        );
        assert!(
            help.contains(&format!("--no-collector.{}", spec.name)),
            "{}",
            spec.name
        );
    }
}

#[test]
fn stops_cleanly_on_sigterm() {
    let mut ours = start_ours(&[]);
    get(&format!("http://{}/metrics", ours.addr)).unwrap();
    // SAFETY: signalling the child we started, by its pid.
    unsafe { libc::kill(ours.child.id() as i32, libc::SIGTERM) };
    let mut status = None;
    for _ in 0..300 {
        if let Some(s) = ours.child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = status.expect("exited after SIGTERM");
    assert!(status.success(), "{status}");
}
