//! spawn_app and friends: start the real server on port 0 over a fresh
//! database, and talk to it.

#![allow(dead_code)]

use serde_json::Value;
use srp_api::{Application, Config, DatabaseUrl};
use srp_daemon::Shutdown;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend from `async fn name(backend: Backend)`.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}
pub(crate) use both_stores;

pub fn postgres_url() -> String {
    std::env::var("SRP_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A client to the test server, or `None` (after saying so loudly) when
/// PostgreSQL is unreachable outside CI. In CI an unreachable server fails.
pub async fn postgres_admin() -> Option<tokio_postgres::Client> {
    let url = postgres_url();
    let attempt = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_postgres::connect(&url, tokio_postgres::NoTls),
    )
    .await;
    let error = match attempt {
        Ok(Ok((client, connection))) => {
            tokio::spawn(connection);
            return Some(client);
        }
        Ok(Err(e)) => format!("{e}: {:?}", std::error::Error::source(&e)),
        Err(_) => "timed out after 5s".to_string(),
    };
    if std::env::var_os("CI").is_some() {
        panic!("PostgreSQL at {url} is unreachable ({error}) and CI is set: the PostgreSQL tests must run in CI");
    }
    eprintln!(
        "\n**********************************************************************\n\
         SKIPPED: PostgreSQL test: {url} is unreachable ({error}).\n\
         Start PostgreSQL (scripts/setup.sh does) or set CI=1 to make this fail.\n\
         **********************************************************************\n"
    );
    None
}

/// A database for one test: a temp SQLite file, or a PostgreSQL schema of
/// its own that is dropped when this is dropped.
pub struct TestDb {
    pub url: DatabaseUrl,
    pub dir: Option<TempDir>,
    pub schema: Option<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_schema() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "srp_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// `base` with `search_path` set to `schema` for every connection.
pub fn with_search_path(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

impl TestDb {
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("srp.db");
                Some(TestDb {
                    url: DatabaseUrl::Sqlite(path),
                    dir: Some(dir),
                    schema: None,
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin().await?;
                let schema = unique_schema();
                admin
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .unwrap();
                Some(TestDb {
                    url: DatabaseUrl::Postgres(with_search_path(&postgres_url(), &schema)),
                    dir: None,
                    schema: Some(schema),
                })
            }
        }
    }

    pub fn sqlite_path(&self) -> std::path::PathBuf {
        match &self.url {
            DatabaseUrl::Sqlite(p) => p.clone(),
            _ => panic!("not a SQLite database"),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on;
        // a short-lived thread with its own runtime does the cleanup.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&postgres_url(), tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await;
                }
            });
        })
        .join()
        .unwrap();
    }
}

/// A new token with `scopes` in the database at `url` (as `srp-api token
/// create` makes one); returns the secret.
pub async fn create_token(url: &DatabaseUrl, name: &str, scopes: &[&str]) -> String {
    use srp_api::store::{Store, TokenStore};
    let store = Store::open(url).await.expect("the database opens");
    let token = srp_api::auth::generate_token().unwrap();
    store
        .create_token(
            name.into(),
            scopes.iter().map(|s| s.to_string()).collect(),
            srp_api::auth::hash_token(&token),
        )
        .await
        .expect("the token is created");
    token
}

pub fn config(db: &DatabaseUrl) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(db.to_url()),
        request_timeout: Duration::from_secs(10),
        max_body_bytes: 64 * 1024,
        require_token_for_reads: false,
        token_cache_ttl: Duration::from_secs(1),
        change_failure_window: Duration::from_secs(3600),
        database_start_wait: Duration::from_secs(30),
        log: srp_daemon::LogArgs {
            log_format: srp_daemon::LogFormat::Text,
            log_level: "warn".into(),
        },
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub shutdown: Shutdown,
    pub server: Option<JoinHandle<anyhow::Result<()>>>,
    pub db: TestDb,
    /// An `admin` token, sent by every helper that writes.
    pub token: String,
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let db = TestDb::new(backend).await?;
    Some(spawn_on(db, tweak).await)
}

pub async fn spawn_on(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut cfg = config(&db.url);
    tweak(&mut cfg);
    cfg.log.init();
    let token = create_token(&db.url, "test-admin", &["admin"]).await;
    let app = Application::build(&cfg)
        .await
        .expect("the application starts");
    let addr = app.local_addr();
    let shutdown = Shutdown::new();
    let server = tokio::spawn(app.run(shutdown.clone()));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        shutdown,
        server: Some(server),
        db,
        token,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// A response reduced to what the tests look at.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text))
    }
    /// Asserts the JSON error shape and returns (code, field).
    pub fn error(&self) -> (String, Option<String>) {
        let body = self.json();
        let err = &body["error"];
        let code = err["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error.code in {body}"));
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "no error.message in {body}"
        );
        (code.to_string(), err["field"].as_str().map(str::to_string))
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn reply(resp: reqwest::Response) -> Reply {
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            text: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        Self::reply(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        Self::reply(
            self.client
                .delete(self.url(path))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The admin token's header, for requests written by hand (`start_request`).
    pub fn auth_head(&self) -> String {
        format!("Authorization: Bearer {}\r\n", self.token)
    }

    /// `method` `path` with `authorization` as given (or none), JSON `body`.
    pub async fn send_with_auth(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: &Value,
    ) -> Reply {
        let mut req = self
            .client
            .request(method.parse().unwrap(), self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(value) = authorization {
            req = req.header("authorization", value);
        }
        Self::reply(req.send().await.unwrap()).await
    }

    /// `method` `path` with a JSON body.
    pub async fn send_json(&self, method: &str, path: &str, body: &Value) -> Reply {
        self.send_raw(method, path, Some("application/json"), body.to_string())
            .await
    }

    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method.parse().unwrap(), self.url(path))
            .bearer_auth(&self.token)
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        Self::reply(req.send().await.unwrap()).await
    }

    pub async fn create(&self, name: &str) -> Value {
        let r = self
            .send_json("POST", "/projects", &serde_json::json!({"name": name}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()
    }

    pub async fn metrics(&self) -> String {
        let r = self.get("/metrics").await;
        assert_eq!(r.status, 200);
        r.text
    }
}

/// The value of the sample `series` (name with labels, exactly as printed).
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().unwrap())
    })
}

/// Poll `probe` until it returns true or `deadline` passes. For state that
/// changes asynchronously (recovery); never used to assert on speed.
pub async fn eventually<F, Fut>(deadline: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if probe().await {
            return true;
        }
        if tokio::time::Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Open a connection and send a request's head and the first part of its
/// body, leaving the request in flight.
pub async fn start_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    head: &str,
    body_part: &[u8],
) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{head}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body_part).await.unwrap();
    s.flush().await.unwrap();
    s
}

/// Send the rest (if any) and read the whole response: (status, body).
pub async fn finish_request(mut s: TcpStream, rest: &[u8]) -> (u16, String) {
    if !rest.is_empty() {
        s.write_all(rest).await.unwrap();
    }
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf))
        .await
        .expect("the server answers")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
