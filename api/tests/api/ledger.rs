//! The release ledger over HTTP: a release with its verdicts, deployments,
//! what runs where, incidents, and DORA's four keys on /metrics.

use crate::helpers::{both_stores, sample, spawn_app, Backend, TestApp};
use serde_json::{json, Value};

async fn release(app: &TestApp, id: &Value, build: i64, commit_time: &str) -> Value {
    let r = app
        .send_json(
            "POST",
            &format!("/projects/{id}/releases"),
            &json!({"build": build, "commit_sha": format!("{build:07x}abc"), "commit_time": commit_time,
                    "image": format!("registry.local/srp-api:{build}"), "digest": "sha256:0123",
                    "sbom_components": 42}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.headers["location"],
        format!("/projects/{id}/releases/{build}").as_str()
    );
    r.json()
}

async fn deploy(app: &TestApp, id: &Value, body: Value) -> Value {
    let r = app
        .send_json("POST", &format!("/projects/{id}/deployments"), &body)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

fn deployment(build: i64, start: &str, end: &str, result: &str, smoke: &str) -> Value {
    json!({"environment": "production", "build": build, "started_at": start, "finished_at": end,
           "result": result, "smoke": smoke, "triggered_by": "jenkins #7"})
}

async fn a_release_its_verdicts_and_deployments_are_recorded(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let p = app.create("srp-api").await;
    let id = p["id"].clone();
    // How the pipeline and the relay find the id from the name.
    let found = app.get("/projects?name=srp-api").await.json();
    assert_eq!(found["items"][0]["id"], id);
    assert_eq!(
        app.get("/projects?name=nope").await.json()["items"],
        json!([])
    );

    let r1 = release(&app, &id, 1, "2026-12-01T10:00:00+01:00").await;
    assert_eq!(r1["commit_time"], "2026-12-01T09:00:00.000000Z");
    assert_eq!(r1["verdicts"], json!([]));
    let dup = app
        .send_json("POST", &format!("/projects/{id}/releases"), &json!({"build": 1, "commit_sha": "abcdef1", "commit_time": "2026-12-01T10:00:00Z", "image": "x"}))
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(
        dup.error(),
        ("duplicate_release".into(), Some("build".into()))
    );

    // Verdicts per stage; recording a stage again replaces it (retries).
    for (stage, passed, waivers) in [
        ("security-secrets", false, json!([])),
        ("security-secrets", true, json!(["GL-0001"])),
        (
            "security-container",
            true,
            json!(["CVE-2024-0001", "CVE-2024-0002"]),
        ),
    ] {
        let r = app
            .send_json(
                "PUT",
                &format!("/projects/{id}/releases/1/verdicts/{stage}"),
                &json!({"passed": passed, "waivers": waivers, "summary": "gate summary"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let got = app.get(&format!("/projects/{id}/releases/1")).await.json();
    let verdicts = got["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 2);
    assert_eq!(verdicts[0]["stage"], "security-container");
    assert_eq!(verdicts[1]["stage"], "security-secrets");
    assert_eq!(verdicts[1]["passed"], true);
    assert_eq!(verdicts[1]["waivers"], json!(["GL-0001"]));
    assert_eq!(got["sbom_components"], 42);
    let missing = app
        .send_json(
            "PUT",
            &format!("/projects/{id}/releases/9/verdicts/build"),
            &json!({"passed": true}),
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error(), ("not_found".into(), Some("build".into())));

    // Nothing deployed yet.
    let none = app
        .get(&format!("/projects/{id}/environments/production"))
        .await;
    assert_eq!(none.status, 404);
    assert_eq!(none.error(), ("not_found".into(), Some("env".into())));

    deploy(
        &app,
        &id,
        deployment(
            1,
            "2026-12-01T09:20:00Z",
            "2026-12-01T09:30:00Z",
            "succeeded",
            "passed",
        ),
    )
    .await;
    release(&app, &id, 2, "2026-12-01T11:00:00Z").await;
    // A deployment whose smoke test failed does not become what runs.
    deploy(
        &app,
        &id,
        deployment(
            2,
            "2026-12-01T11:10:00Z",
            "2026-12-01T11:15:00Z",
            "succeeded",
            "failed",
        ),
    )
    .await;
    let current = app
        .get(&format!("/projects/{id}/environments/production"))
        .await;
    assert_eq!(current.status, 200, "{}", current.text);
    let current = current.json();
    assert_eq!(current["release"]["build"], 1);
    assert_eq!(current["release"]["verdicts"].as_array().unwrap().len(), 2);
    assert_eq!(current["deployment"]["smoke"], "passed");
    let envs = app
        .get(&format!("/projects/{id}/environments"))
        .await
        .json();
    assert_eq!(envs["items"].as_array().unwrap().len(), 1);

    // A retried deployment write is refused as a duplicate, not stored twice.
    let again = app
        .send_json(
            "POST",
            &format!("/projects/{id}/deployments"),
            &deployment(
                2,
                "2026-12-01T11:10:00Z",
                "2026-12-01T11:15:00Z",
                "succeeded",
                "failed",
            ),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.error().0, "duplicate_deployment");
    let unknown = app
        .send_json(
            "POST",
            &format!("/projects/{id}/deployments"),
            &deployment(
                77,
                "2026-12-01T12:00:00Z",
                "2026-12-01T12:01:00Z",
                "succeeded",
                "passed",
            ),
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert_eq!(
        unknown.error(),
        ("unknown_release".into(), Some("build".into()))
    );
    let backwards = app
        .send_json(
            "POST",
            &format!("/projects/{id}/deployments"),
            &deployment(
                1,
                "2026-12-01T12:00:00Z",
                "2026-12-01T11:00:00Z",
                "succeeded",
                "passed",
            ),
        )
        .await;
    assert_eq!(
        backwards.error(),
        ("invalid_value".into(), Some("finished_at".into()))
    );
    let listed = app
        .get(&format!(
            "/projects/{id}/deployments?environment=production"
        ))
        .await
        .json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    assert_eq!(listed["items"][0]["build"], 2, "newest first");
    let releases = app
        .get(&format!("/projects/{id}/releases?limit=1"))
        .await
        .json();
    assert_eq!(releases["items"][0]["build"], 2);
    assert_eq!(releases["next_offset"], 1);

    // Sub-resources of an unknown project are 404 naming the id.
    let r = app.get("/projects/999999/releases").await;
    assert_eq!((r.status, r.error().1), (404, Some("id".into())));
}

/// An alert that fires opens an incident (again: no-op), its resolve closes
/// it (again: the same answer).
async fn incidents_open_and_close_idempotently(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let id = app.create("srp-api").await["id"].clone();
    let open = json!({"key": "4f2a9c", "environment": "production", "title": "APIDown",
                      "opened_at": "2026-12-01T12:00:00Z"});
    let first = app
        .send_json("POST", &format!("/projects/{id}/incidents"), &open)
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let repeat = app
        .send_json("POST", &format!("/projects/{id}/incidents"), &open)
        .await;
    assert_eq!(repeat.status, 200, "{}", repeat.text);
    assert_eq!(repeat.json()["id"], first.json()["id"]);
    let close = json!({"closed_at": "2026-12-01T12:07:30Z"});
    let path = format!("/projects/{id}/incidents/4f2a9c/close");
    let closed = app.send_json("POST", &path, &close).await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    assert_eq!(closed.json()["closed_at"], "2026-12-01T12:07:30.000000Z");
    let twice = app.send_json("POST", &path, &json!({})).await;
    assert_eq!(twice.json()["closed_at"], "2026-12-01T12:07:30.000000Z");
    let unknown = app
        .send_json(
            "POST",
            &format!("/projects/{id}/incidents/nope/close"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.error().1),
        (404, Some("key".into()))
    );
    // The same alert firing later is a new incident.
    let later = json!({"key": "4f2a9c", "environment": "production", "title": "APIDown",
                       "opened_at": "2026-12-01T15:00:00Z"});
    let again = app
        .send_json("POST", &format!("/projects/{id}/incidents"), &later)
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    let list = app.get(&format!("/projects/{id}/incidents")).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["items"][0]["closed_at"], Value::Null);
}

/// DORA's four keys, from what was recorded, on /metrics (promtool clean).
async fn dora_metrics_follow_the_ledger(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let id = app.create("srp-api").await["id"].clone();
    release(&app, &id, 1, "2026-12-01T10:00:00Z").await;
    release(&app, &id, 2, "2026-12-01T11:00:00Z").await;
    // Lead time 30 min; then build 2 at 11:40 (lead time 40 min), followed
    // by an incident 5 min later (a change failure) that took 10 min.
    deploy(
        &app,
        &id,
        deployment(
            1,
            "2026-12-01T10:25:00Z",
            "2026-12-01T10:30:00Z",
            "succeeded",
            "passed",
        ),
    )
    .await;
    deploy(
        &app,
        &id,
        deployment(
            2,
            "2026-12-01T11:35:00Z",
            "2026-12-01T11:40:00Z",
            "succeeded",
            "passed",
        ),
    )
    .await;
    let r = app
        .send_json(
            "POST",
            &format!("/projects/{id}/incidents"),
            &json!({"key": "k1", "environment": "production", "title": "APIDown",
                    "opened_at": "2026-12-01T11:45:00Z"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = app
        .send_json(
            "POST",
            &format!("/projects/{id}/incidents/k1/close"),
            &json!({"closed_at": "2026-12-01T11:55:00Z"}),
        )
        .await;
    assert_eq!(r.status, 200);
    // A failed deploy.
    deploy(
        &app,
        &id,
        deployment(
            2,
            "2026-12-01T13:00:00Z",
            "2026-12-01T13:01:00Z",
            "failed",
            "skipped",
        ),
    )
    .await;

    let m = app.metrics().await;
    let place = r#"environment="production",project="srp-api""#;
    let get = |series: String| sample(&m, &series).unwrap_or_else(|| panic!("no {series} in\n{m}"));
    assert_eq!(
        get(format!(
            r#"srp_dora_deployments_total{{{place},result="succeeded"}}"#
        )),
        2.0
    );
    assert_eq!(
        get(format!(
            r#"srp_dora_deployments_total{{{place},result="failed"}}"#
        )),
        1.0
    );
    assert_eq!(
        get(format!("srp_dora_change_failures_total{{{place}}}")),
        2.0
    );
    assert_eq!(
        get(format!("srp_dora_lead_time_seconds_count{{{place}}}")),
        2.0
    );
    assert_eq!(
        get(format!("srp_dora_lead_time_seconds_sum{{{place}}}")),
        1800.0 + 2400.0
    );
    assert_eq!(
        get(format!(
            r#"srp_dora_lead_time_seconds_bucket{{{place},le="1800"}}"#
        )),
        1.0
    );
    assert_eq!(
        get(format!("srp_dora_time_to_restore_seconds_count{{{place}}}")),
        1.0
    );
    assert_eq!(
        get(format!("srp_dora_time_to_restore_seconds_sum{{{place}}}")),
        600.0
    );
    srp_testkit::promtool::assert_clean(&m);
}

both_stores!(
    a_release_its_verdicts_and_deployments_are_recorded,
    incidents_open_and_close_idempotently,
    dora_metrics_follow_the_ledger
);
