//! The database going away and coming back, for real: the process stays up,
//! reports degraded, refuses writes with 503, and recovers by itself.

use crate::helpers::{
    config, eventually, postgres_url, sample, spawn_on, with_search_path, Backend, TestApp, TestDb,
};
use serde_json::json;
use srp_api::Application;
use srp_api::DatabaseUrl;
use srp_daemon::Shutdown;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

async fn assert_degraded(app: &TestApp, detail_contains: &str) {
    let r = app.get("/health").await;
    assert_eq!(r.status, 503, "{}", r.text);
    let body = r.json();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["failed"], json!(["database"]));
    let detail = body["checks"]["database"]["detail"].as_str().unwrap();
    assert!(detail.contains(detail_contains), "{detail}");
    assert_eq!(sample(&app.metrics().await, "srp_api_db_up"), Some(0.0));
}

async fn assert_recovers(app: &TestApp) {
    let back = eventually(Duration::from_secs(20), || async {
        app.get("/health").await.status == 200
    })
    .await;
    assert!(
        back,
        "health did not recover: {}",
        app.get("/health").await.text
    );
    assert_eq!(sample(&app.metrics().await, "srp_api_db_up"), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_by_another_process_then_released() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let path = db.sqlite_path();
    let app = spawn_on(db, |_| {}).await;
    app.create("before").await;
    assert_eq!(app.get("/health").await.status, 200);

    // Another process (here: another connection) takes the write lock.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();

    assert_degraded(&app, "lock").await;
    let w = app
        .send_json("POST", "/projects", &json!({"name": "during"}))
        .await;
    assert_eq!(w.status, 503, "{}", w.text);
    assert_eq!(w.error().0, "database_unavailable");
    // Reads keep working in WAL mode.
    assert_eq!(app.get("/projects").await.status, 200);

    other.execute_batch("ROLLBACK").unwrap();
    assert_recovers(&app).await;
    app.create("after").await;
    let names: Vec<String> = app.get("/projects").await.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["before", "after"],
        "the refused write left nothing behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_moved_away_then_restored() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let path = db.sqlite_path();
    let app = spawn_on(db, |_| {}).await;
    assert_eq!(app.get("/health").await.status, 200);

    let aside = path.with_extension("aside");
    std::fs::rename(&path, &aside).unwrap();
    assert_degraded(&app, "No such file").await;

    // A different file at the path is not our database either.
    std::fs::write(&path, b"").unwrap();
    assert_degraded(&app, "replaced or moved").await;

    std::fs::rename(&aside, &path).unwrap();
    assert_recovers(&app).await;
}

/// A TCP proxy between the API and PostgreSQL that the test can cut and
/// restore, like a network failure or a database restart.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client); // refused: the "server" is down
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns2.lock().unwrap().push(task.abort_handle());
            }
        })
        .abort_handle();
        Proxy {
            addr,
            up,
            conns,
            accept,
        }
    }

    /// Break every open connection and refuse new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// Point `db` at its own server and schema through a new [`Proxy`].
async fn through_proxy(db: &mut TestDb) -> Proxy {
    let schema = db.schema.clone().unwrap();
    // Same server and schema, reached through the proxy.
    let url = postgres_url();
    let parsed: tokio_postgres::Config = url.parse().unwrap();
    let host = match parsed.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        other => panic!("the outage test needs a TCP PostgreSQL URL, not {other:?}"),
    };
    let port = parsed.get_ports().first().copied().unwrap_or(5432);
    let upstream = tokio::net::lookup_host((host.as_str(), port))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(upstream).await;
    let host_port = format!("{host}:{port}");
    assert!(
        url.contains(&host_port),
        "write the port explicitly in {url}"
    );
    let base = url.replacen(&host_port, &proxy.addr.to_string(), 1);
    db.url = DatabaseUrl::Postgres(with_search_path(&base, &schema));
    proxy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connection_cut_then_restored() {
    let Some(mut db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let proxy = through_proxy(&mut db).await;
    let app = spawn_on(db, |_| {}).await;
    app.create("before").await;
    assert_eq!(app.get("/health").await.status, 200);

    proxy.cut();
    assert_degraded(&app, "").await;
    let r = app.get("/projects").await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.error().0, "database_unavailable");
    let w = app
        .send_json("POST", "/projects", &json!({"name": "during"}))
        .await;
    assert_eq!(w.status, 503, "{}", w.text);

    proxy.restore();
    assert_recovers(&app).await;
    app.create("after").await;
    let items = app.get("/projects").await.json()["items"].clone();
    let names: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["before", "after"]);
}

/// A start while PostgreSQL does not answer yet waits for it
/// (`--database-start-wait`) instead of failing: a unit ordered after
/// postgresql.service still races the server's own start, and a loaded host's
/// first connection can be slow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_not_answering_at_start_is_waited_for() {
    let Some(mut db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let proxy = through_proxy(&mut db).await;
    proxy.cut();
    let cfg = config(&db.url);
    let start = tokio::spawn(async move { Application::build(&cfg).await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !start.is_finished(),
        "the start gave up while PostgreSQL did not answer: {:?}",
        start.await.unwrap().err()
    );
    proxy.restore();
    let app = tokio::time::timeout(Duration::from_secs(20), start)
        .await
        .expect("the start still waits after PostgreSQL answers again")
        .unwrap()
        .expect("the application starts once PostgreSQL answers");
    let addr = app.local_addr();
    let shutdown = Shutdown::new();
    let server = tokio::spawn(app.run(shutdown.clone()));
    let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    shutdown.trigger();
    server.await.unwrap().unwrap();
}

/// A server that never answers fails the start once the wait is over, with
/// an error naming the database (its password hidden).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_never_answering_fails_the_start_after_the_wait() {
    let Some(mut db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let proxy = through_proxy(&mut db).await;
    proxy.cut();
    let mut cfg = config(&db.url);
    cfg.database_start_wait = Duration::from_secs(1);
    let began = std::time::Instant::now();
    let err = match tokio::time::timeout(Duration::from_secs(20), Application::build(&cfg))
        .await
        .expect("the start gives up after its wait")
    {
        Ok(_) => panic!("the start succeeded with PostgreSQL unreachable"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        began.elapsed() >= Duration::from_millis(700),
        "gave up before the wait: {err}"
    );
    assert!(err.contains("cannot use the database postgres://"), "{err}");
}
