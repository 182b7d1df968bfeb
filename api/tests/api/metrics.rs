use crate::helpers::{
    both_stores, eventually, finish_request, sample, spawn_app, start_request, Backend,
};
use std::time::Duration;

async fn metrics_follow_the_design_and_pass_promtool(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let p = app.create("metered").await;
    assert_eq!(app.get(&format!("/projects/{}", p["id"])).await.status, 200);
    assert_eq!(app.get("/projects/424242").await.status, 404);
    assert_eq!(app.get("/no/such/route/31337").await.status, 404);
    assert_eq!(app.get("/health").await.status, 200);

    let r = app.get("/metrics").await;
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let m = r.text;
    srp_testkit::promtool::assert_clean(&m);

    for (series, want) in [
        (
            r#"http_requests_total{method="POST",route="/projects",status="201"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{method="GET",route="/projects/{id}",status="200"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{method="GET",route="/projects/{id}",status="404"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{method="GET",route="unmatched",status="404"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{method="GET",route="/health",status="200"}"#,
            1.0,
        ),
        (
            r#"http_request_duration_seconds_count{method="GET",route="/projects/{id}"}"#,
            2.0,
        ),
        (
            r#"http_request_duration_seconds_count{method="GET",route="unmatched"}"#,
            1.0,
        ),
        // Only this scrape is in flight.
        ("http_requests_in_flight", 1.0),
        ("srp_api_db_up", 1.0),
    ] {
        assert_eq!(sample(&m, series), Some(want), "{series} in:\n{m}");
    }
    // The buckets around the 1 s latency alert exist.
    for le in ["0.5", "1", "2.5", "10", "+Inf"] {
        let series = format!(
            r#"http_request_duration_seconds_bucket{{method="GET",route="/health",le="{le}"}}"#
        );
        assert_eq!(sample(&m, &series), Some(1.0), "{series}");
    }
    let build = srp_api::build_info::BUILD;
    let info = format!(
        r#"srp_build_info{{binary="srp-api",build="{}",commit="{}",version="{}"}}"#,
        build.build.unwrap_or("none"),
        build.commit,
        build.version
    );
    assert_eq!(sample(&m, &info), Some(1.0), "{info} in:\n{m}");
    for family in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_threads",
        "process_start_time_seconds",
        "srp_tokio_workers",
        "srp_tokio_alive_tasks",
        "srp_tokio_global_queue_depth",
        r#"srp_tokio_worker_busy_seconds_total{worker="0"}"#,
        "srp_sqlite_commit_duration_seconds_count",
    ] {
        assert!(sample(&m, family).is_some(), "{family} missing");
    }
    // The pool's state, on the store that has one.
    let pool = sample(&m, r#"srp_pg_pool_connections{state="idle"}"#);
    match backend {
        Backend::Postgres => assert!(pool.is_some_and(|n| n >= 1.0), "pool metrics in:\n{m}"),
        Backend::Sqlite => assert!(pool.is_none(), "no pool on SQLite"),
    }
    // Raw ids and paths never become label values: only templates.
    let allowed = [
        "/projects",
        "/projects/{id}",
        "/health",
        "/metrics",
        "unmatched",
    ];
    for route in m.split("route=\"").skip(1) {
        let value = route.split('"').next().unwrap();
        assert!(allowed.contains(&value), "route label {value:?}");
    }
}

async fn in_flight_counts_a_request_being_served(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let body = br#"{"name": "slow"}"#;
    let s = start_request(
        app.addr,
        "POST",
        "/projects",
        &format!(
            "{}Content-Type: application/json\r\nContent-Length: {}\r\n",
            app.auth_head(),
            body.len()
        ),
        &body[..4],
    )
    .await;
    // The stalled POST plus the scrape itself.
    let seen = eventually(Duration::from_secs(10), || async {
        sample(&app.metrics().await, "http_requests_in_flight") == Some(2.0)
    })
    .await;
    assert!(seen, "the stalled request never showed as in flight");
    let (status, _) = finish_request(s, &body[4..]).await;
    assert_eq!(status, 201);
    assert_eq!(
        sample(&app.metrics().await, "http_requests_in_flight"),
        Some(1.0)
    );
}

both_stores!(
    metrics_follow_the_design_and_pass_promtool,
    in_flight_counts_a_request_being_served,
);
