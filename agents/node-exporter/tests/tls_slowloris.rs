//! Behind TLS (exporter-toolkit web config) the exporter used its own accept
//! loop with no header-read timeout: a client that finished the handshake and
//! then dribbled its headers held the connection for good. TLS now goes
//! through srp-daemon's one serving path, so it is cut off like plain HTTP.

mod common;

use common::start_ours;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::rustls::{self, pki_types::pem::PemObject, pki_types::CertificateDer};

/// A self-signed end-entity certificate for 127.0.0.1 (rustls refuses a CA
/// certificate as the server's own).
fn make_cert(dir: &Path) {
    let st = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success());
}

#[test]
fn tls_slow_headers_are_cut_off_like_plain_ones() {
    let d = tempfile::tempdir().unwrap();
    make_cert(d.path());
    let cfg = d.path().join("web.yml");
    std::fs::write(
        &cfg,
        "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n",
    )
    .unwrap();
    let ours = start_ours(&["--web.config.file", cfg.to_str().unwrap()]);
    assert_eq!(ours.scheme, "https");

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(d.path().join("cert.pem")).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(client), name).unwrap();
    let tcp = TcpStream::connect(ours.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(900)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);

    // One header byte a second, as the probe did; the shipped header-read
    // timeout is 10 s, so the server must hang up well before 40 bytes.
    let started = Instant::now();
    let request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa";
    let mut cut = false;
    for byte in request {
        if tls.write_all(&[*byte]).is_err() || tls.flush().is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 512];
        match tls.read(&mut buf) {
            // EOF, a 408, or a reset: the server gave up on us.
            Ok(_) => {
                cut = true;
                break;
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue
            }
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    let held = started.elapsed();
    assert!(cut, "the TLS connection was still open after {held:?}");
    assert!(
        held < Duration::from_secs(30),
        "cut only after {held:?} (the header timeout is 10 s)"
    );
}
