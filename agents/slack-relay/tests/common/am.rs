//! Real Alertmanagers (Debian's prometheus-alertmanager), alone or
//! clustered on loopback, each stopped by its pid when dropped.

use super::{free_port, write_file};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Alertmanager {
    child: Child,
    pub url: String,
    pub cluster_addr: String,
    log: std::path::PathBuf,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

pub fn alertmanager_bin() -> &'static str {
    ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("prometheus-alertmanager is installed (scripts/setup.sh)")
}

pub fn amtool_bin() -> &'static str {
    ["/usr/bin/prometheus-amtool", "/usr/bin/amtool"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("amtool is installed (prometheus-alertmanager)")
}

impl Alertmanager {
    /// Start one member with `config` (YAML) in `dir/name`, peering with
    /// `peers` (their cluster addresses); ready when `/-/ready` answers.
    pub async fn start(dir: &Path, name: &str, config: &str, peers: &[&str]) -> Alertmanager {
        Self::start_full(dir, name, config, peers, free_port()).await
    }

    /// One member on a chosen web port, not clustered.
    pub async fn start_on(dir: &Path, name: &str, config: &str, port: u16) -> Alertmanager {
        Self::start_full(dir, name, config, &[], port).await
    }

    async fn start_full(
        dir: &Path,
        name: &str,
        config: &str,
        peers: &[&str],
        port: u16,
    ) -> Alertmanager {
        let home = dir.join(name);
        std::fs::create_dir_all(home.join("data")).unwrap();
        let cfg = write_file(&home, "alertmanager.yml", config);
        let cluster_addr = format!("127.0.0.1:{}", free_port());
        let log = home.join("am.log");
        let mut cmd = Command::new(alertmanager_bin());
        cmd.arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", home.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--web.external-url=http://127.0.0.1:{port}"))
            .arg(format!("--cluster.listen-address={cluster_addr}"))
            .arg(format!("--cluster.advertise-address={cluster_addr}"))
            // A member waits position × peer-timeout before sending what
            // the first one did not; short, to keep the test short.
            .arg("--cluster.peer-timeout=2s")
            .arg("--cluster.gossip-interval=100ms")
            .arg("--cluster.pushpull-interval=2s");
        for p in peers {
            cmd.arg(format!("--cluster.peer={p}"));
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start alertmanager");
        let am = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            cluster_addr,
            log,
        };
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/-/ready", am.url)).await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < end, "alertmanager not ready: {}", am.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        am
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// POST alerts to API v2 (as Prometheus does, to every member).
    pub async fn post_alerts(&self, alerts: &serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v2/alerts", self.url))
            .json(alerts)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    /// How many peers this member sees (itself included).
    pub async fn peers(&self) -> usize {
        let v: serde_json::Value = reqwest::get(format!("{}/api/v2/status", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["cluster"]["peers"].as_array().map_or(0, |p| p.len())
    }
}
