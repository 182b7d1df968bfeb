//! Write access by token: every write route tried with no token, a
//! malformed header, an unknown token, a revoked token, a token of the wrong
//! scope and the right one. Only the last gets through; the others get 401
//! or 403 in the shared error shape and change nothing.

use crate::helpers::{both_stores, create_token, spawn_app, spawn_app_with, Backend, TestApp};
use serde_json::{json, Value};
use srp_api::store::{Store, TokenStore};
use std::time::Duration;

struct Route {
    method: &'static str,
    path: String,
    body: Value,
    scope: &'static str,
    ok: u16,
}

/// Everything a write could change, as served.
async fn state(app: &TestApp, id: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/projects?limit=100".to_string(),
        format!("/projects/{id}/releases"),
        format!("/projects/{id}/deployments"),
        format!("/projects/{id}/incidents"),
        format!("/projects/{id}/environments"),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        out.push(r.json());
    }
    out
}

async fn every_write_route_needs_the_right_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let p = app.create("ledger").await;
    let doomed = app.create("doomed").await;
    let id = p["id"].clone();
    let seeded = app
        .send_json(
            "POST",
            &format!("/projects/{id}/releases"),
            &json!({"build": 1, "commit_sha": "abcdef1", "commit_time": "2026-12-01T10:00:00Z", "image": "srp-api:1"}),
        )
        .await;
    assert_eq!(seeded.status, 201, "{}", seeded.text);
    let opened = app
        .send_json(
            "POST",
            &format!("/projects/{id}/incidents"),
            &json!({"key": "seeded", "environment": "production", "title": "APIDown"}),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);

    let routes = vec![
        Route {
            method: "POST",
            path: "/projects".into(),
            body: json!({"name": "new"}),
            scope: "projects:write",
            ok: 201,
        },
        Route {
            method: "PUT",
            path: format!("/projects/{id}"),
            body: json!({"name": "renamed"}),
            scope: "projects:write",
            ok: 200,
        },
        Route {
            method: "PATCH",
            path: format!("/projects/{id}"),
            body: json!({"description": "x"}),
            scope: "projects:write",
            ok: 200,
        },
        Route {
            method: "DELETE",
            path: format!("/projects/{}", doomed["id"]),
            body: json!({}),
            scope: "projects:write",
            ok: 204,
        },
        Route {
            method: "POST",
            path: format!("/projects/{id}/releases"),
            body: json!({"build": 2, "commit_sha": "abcdef2", "commit_time": "2026-12-01T10:05:00Z", "image": "srp-api:2"}),
            scope: "releases:write",
            ok: 201,
        },
        Route {
            method: "PUT",
            path: format!("/projects/{id}/releases/1/verdicts/security-secrets"),
            body: json!({"passed": true}),
            scope: "releases:write",
            ok: 200,
        },
        Route {
            method: "POST",
            path: format!("/projects/{id}/deployments"),
            body: json!({"environment": "production", "build": 1, "started_at": "2026-12-01T10:10:00Z",
                         "finished_at": "2026-12-01T10:12:00Z", "result": "succeeded", "smoke": "passed",
                         "triggered_by": "jenkins"}),
            scope: "releases:write",
            ok: 201,
        },
        Route {
            method: "POST",
            path: format!("/projects/{id}/incidents"),
            body: json!({"key": "fresh", "environment": "production", "title": "APIDown"}),
            scope: "incidents:write",
            ok: 201,
        },
        Route {
            method: "POST",
            path: format!("/projects/{id}/incidents/seeded/close"),
            body: json!({}),
            scope: "incidents:write",
            ok: 200,
        },
    ];

    let projects = create_token(&app.db.url, "projects", &["projects:write"]).await;
    let releases = create_token(&app.db.url, "releases", &["releases:write"]).await;
    let incidents = create_token(&app.db.url, "incidents", &["incidents:write"]).await;
    let revoked = create_token(&app.db.url, "revoked", &["admin"]).await;
    let store = Store::open(&app.db.url).await.unwrap();
    assert!(store.revoke_token("revoked".into()).await.unwrap());
    let right = |scope: &str| match scope {
        "projects:write" => projects.clone(),
        "releases:write" => releases.clone(),
        _ => incidents.clone(),
    };
    let wrong = |scope: &str| match scope {
        "projects:write" => releases.clone(),
        _ => projects.clone(),
    };

    let before = state(&app, &id).await;
    for route in &routes {
        let refused = [
            (None, 401, "unauthorized"),
            (Some("Basic dXNlcjpwYXNz".to_string()), 401, "invalid_token"),
            (Some("Bearer".to_string()), 401, "invalid_token"),
            (
                Some("Bearer srp_not-a-token".to_string()),
                401,
                "invalid_token",
            ),
            (Some(format!("Bearer {revoked}")), 401, "invalid_token"),
            (
                Some(format!("Bearer {}", wrong(route.scope))),
                403,
                "insufficient_scope",
            ),
        ];
        for (header, status, code) in refused {
            let r = app
                .send_with_auth(route.method, &route.path, header.as_deref(), &route.body)
                .await;
            let what = format!("{} {} with {header:?}", route.method, route.path);
            assert_eq!(r.status, status, "{what}: {}", r.text);
            assert_eq!(
                r.error(),
                (code.to_string(), Some("Authorization".to_string())),
                "{what}"
            );
            if status == 401 {
                assert!(
                    r.headers["www-authenticate"]
                        .to_str()
                        .unwrap()
                        .starts_with("Bearer"),
                    "{what}: no challenge"
                );
            }
        }
    }
    assert_eq!(
        state(&app, &id).await,
        before,
        "a refused write changed something"
    );

    for route in &routes {
        let r = app
            .send_with_auth(
                route.method,
                &route.path,
                Some(&format!("Bearer {}", right(route.scope))),
                &route.body,
            )
            .await;
        assert_eq!(
            r.status, route.ok,
            "{} {}: {}",
            route.method, route.path, r.text
        );
    }
    assert_ne!(state(&app, &id).await, before);
}

/// Reads are open by default; `--require-token-for-reads` closes the data
/// routes (any active token will do) and leaves health, version, metrics and
/// the documents open.
async fn reads_can_be_closed_by_a_flag(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.require_token_for_reads = true).await else {
        return;
    };
    let p = app.create("closed").await;
    for path in [
        "/projects".to_string(),
        format!("/projects/{}", p["id"]),
        format!("/projects/{}/releases", p["id"]),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text);
        assert_eq!(r.error().0, "unauthorized");
        let r = app
            .client
            .get(app.url(&path))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let reader = create_token(&app.db.url, "reader", &["read"]).await;
    let r = app
        .client
        .get(app.url("/projects"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A read token writes nothing.
    let r = app
        .send_with_auth(
            "POST",
            "/projects",
            Some(&format!("Bearer {reader}")),
            &json!({"name": "x"}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    for path in ["/health", "/version", "/metrics", "/openapi.json", "/docs"] {
        assert_eq!(app.get(path).await.status, 200, "{path}");
    }
}

/// A token the API has just verified is trusted from memory for
/// `--token-cache-ttl`; once revoked (by another process: the CLI) it stops
/// working within that time, and a token never seen is always looked up.
async fn a_cached_token_stops_working_once_revoked(backend: Backend) {
    let ttl = Duration::from_millis(300);
    let Some(app) = spawn_app_with(backend, |c| c.token_cache_ttl = ttl).await else {
        return;
    };
    let secret = create_token(&app.db.url, "relay", &["projects:write"]).await;
    let post = |name: &'static str| {
        let auth = format!("Bearer {secret}");
        let app = &app;
        async move {
            app.send_with_auth("POST", "/projects", Some(&auth), &json!({ "name": name }))
                .await
                .status
        }
    };
    assert_eq!(post("first").await, 201, "a new token works at once");
    let store = Store::open(&app.db.url).await.unwrap();
    assert!(store.revoke_token("relay".into()).await.unwrap());
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(post("after").await, 401, "revoked and past the TTL");
    let listed = app.get("/projects?name=after").await;
    assert!(
        !listed.text.contains("\"after\""),
        "nothing written: {}",
        listed.text
    );
}

/// Tokens are stored hashed; a revoked name can be given to a new token,
/// an active one cannot be taken twice.
async fn tokens_are_hashed_listed_and_revocable(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let store = Store::open(&app.db.url).await.unwrap();
    let secret = create_token(&app.db.url, "jenkins", &["releases:write"]).await;
    let listed = store.list_tokens().await.unwrap();
    let jenkins = listed.iter().find(|t| t.name == "jenkins").unwrap();
    assert_eq!(jenkins.scopes, vec!["releases:write"]);
    assert!(jenkins.revoked_at.is_none());
    assert!(
        store.token_scopes(secret.clone()).await.unwrap().is_none(),
        "the secret itself is not what is stored"
    );
    let again = store
        .create_token("jenkins".into(), vec!["admin".into()], "other".into())
        .await;
    assert!(
        matches!(again, Err(srp_api::store::StoreError::DuplicateToken(_))),
        "{again:?}"
    );
    assert!(store.revoke_token("jenkins".into()).await.unwrap());
    assert!(!store.revoke_token("jenkins".into()).await.unwrap());
    let r = app
        .send_with_auth(
            "POST",
            "/projects",
            Some(&format!("Bearer {secret}")),
            &json!({"name": "x"}),
        )
        .await;
    assert_eq!(r.status, 401);
    let replacement = create_token(&app.db.url, "jenkins", &["projects:write"]).await;
    let r = app
        .send_with_auth(
            "POST",
            "/projects",
            Some(&format!("Bearer {replacement}")),
            &json!({"name": "x"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

both_stores!(
    every_write_route_needs_the_right_token,
    reads_can_be_closed_by_a_flag,
    tokens_are_hashed_listed_and_revocable,
    a_cached_token_stops_working_once_revoked
);
