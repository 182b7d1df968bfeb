//! Shared by the integration tests: start the real binaries on loopback,
//! scrape them, and parse the exposition text.

#![allow(dead_code)]

use srp_testkit::Daemon;
use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process we started; killed (by its pid) when dropped.
pub struct Proc {
    pub child: Child,
    pub addr: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start srp-node-exporter with `--listen 127.0.0.1:0` plus `args`; the port
/// comes from its `listening on http(s)://ADDR` log line. Its log is echoed
/// behind `[ours]` so a failing test shows it.
pub fn start_ours(args: &[&str]) -> Daemon {
    Daemon::spawn_echoing(
        Command::new(env!("CARGO_BIN_EXE_srp-node-exporter"))
            .args(["--listen", "127.0.0.1:0", "--log-format", "text"])
            .args(args)
            .env_remove("SRP_LISTEN")
            .env_remove("RUST_LOG"),
        "[ours]",
    )
}

pub fn peer_binary() -> PathBuf {
    let p = std::env::var_os("SRP_NODE_EXPORTER_PEER")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/prometheus-node-exporter".into());
    assert!(
        p.exists(),
        "{} not found: install Debian's prometheus-node-exporter (apt-get install prometheus-node-exporter)",
        p.display()
    );
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start Debian's node_exporter on a free loopback port and wait until it answers.
pub fn start_peer(args: &[String]) -> Proc {
    for _attempt in 0..3 {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(peer_binary())
            .arg(format!("--web.listen-address={addr}"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus-node-exporter");
        let mut p = Proc { child, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = p.child.try_wait() {
                break; // lost the port race; try another
            }
            if get(&format!("http://{}/metrics", p.addr)).is_ok() {
                return p;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = p.child.kill();
    }
    panic!("prometheus-node-exporter did not start");
}

/// A plain blocking GET (tests stay runtime-free where they can).
pub fn get(url: &str) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "30", url])
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One scrape, parsed.
#[derive(Debug, Default)]
pub struct Scrape {
    pub types: HashMap<String, String>,
    pub helps: HashMap<String, String>,
    /// `name{k="v",...}` with labels sorted → value.
    pub series: BTreeMap<String, f64>,
}

impl Scrape {
    pub fn value(&self, key: &str) -> Option<f64> {
        self.series.get(key).copied()
    }

    /// Series of one metric name: (sorted labels, value).
    pub fn of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        self.series.iter().filter_map(move |(k, v)| {
            let rest = k.strip_prefix(name)?;
            (rest.is_empty() || rest.starts_with('{')).then_some((rest, *v))
        })
    }

    pub fn names(&self) -> std::collections::BTreeSet<&str> {
        self.series
            .keys()
            .map(|k| k.split('{').next().unwrap())
            .collect()
    }
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == ',' || b[i] == ' ') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while b[i] != '=' {
            i += 1;
        }
        let name: String = b[start..i].iter().collect();
        i += 2; // ="
        let mut v = String::new();
        while b[i] != '"' {
            if b[i] == '\\' {
                i += 1;
                v.push(match b[i] {
                    'n' => '\n',
                    c => c,
                });
            } else {
                v.push(b[i]);
            }
            i += 1;
        }
        i += 1;
        out.push((name, v));
    }
    out.sort();
    out
}

pub fn parse(text: &str) -> Scrape {
    let mut s = Scrape::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (n, t) = rest.split_once(' ').unwrap();
            s.types.insert(n.into(), t.into());
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (n, h) = rest.split_once(' ').unwrap_or((rest, ""));
            s.helps.insert(n.into(), h.into());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n, parse_labels(l.trim_end_matches('}'))),
                None => (series, vec![]),
            };
            let mut key = name.to_string();
            if !labels.is_empty() {
                key.push('{');
                let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                key.push_str(&parts.join(","));
                key.push('}');
            }
            let v = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or(f64::NAN),
            };
            s.series.insert(key, v);
        }
    }
    s
}
