//! The inbound side: `POST /alertmanager`, `POST /jenkins`, authentication
//! and the answers Alertmanager acts on (2xx done, 4xx final, 5xx retry).
//! Every refusal is srp-daemon's one error body
//! (`{"error":{"code","message"}}`).

use crate::format;
use crate::metrics::Metrics;
use crate::payload::{AlertmanagerPayload, JenkinsPayload, PayloadError, Status};
use crate::routes::Routes;
use crate::store::{Accepted, Ingest, Kind, NewMessage, NewNotification};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde_json::json;
use srp_daemon::HttpError;
use std::sync::Arc;

/// Accepted inbound credentials; none configured means no check.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub bearer: Option<String>,
    pub basic: Option<(String, String)>,
}

impl Auth {
    pub fn is_enabled(&self) -> bool {
        self.bearer.is_some() || self.basic.is_some()
    }

    fn allows(&self, header: Option<&str>) -> bool {
        if !self.is_enabled() {
            return true;
        }
        let Some(h) = header else { return false };
        let (scheme, value) = h.split_once(' ').unwrap_or((h, ""));
        let value = value.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            if let Some(t) = &self.bearer {
                return constant_time_eq(value.as_bytes(), t.as_bytes());
            }
        }
        if scheme.eq_ignore_ascii_case("basic") {
            if let Some((u, p)) = &self.basic {
                let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(value) else {
                    return false;
                };
                let expected = format!("{u}:{p}");
                return constant_time_eq(&raw, expected.as_bytes());
            }
        }
        false
    }
}

/// Compare secrets without leaking where they differ through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub struct AppState {
    pub ingest: Ingest,
    pub routes: Arc<Routes>,
    pub metrics: Metrics,
    pub auth: Auth,
    /// Firing messages to bot-token destinations get silence and
    /// acknowledge buttons (a signing secret is configured).
    pub interactive: bool,
    /// Alerts with a `project` label are forwarded to srp-api as incidents
    /// (`--api-url` is set).
    pub incidents: bool,
}

pub fn router(state: Arc<AppState>, max_body: usize) -> Router {
    Router::new()
        .route("/alertmanager", post(alertmanager))
        .route("/jenkins", post(jenkins))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_auth))
        // Outside the auth check and before the body is read: a stopping
        // relay keeps its writer until every such request is answered.
        .route_layer(middleware::from_fn_with_state(state.clone(), hold_writer))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

async fn hold_writer(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let _open = s.ingest.open_request();
    next.run(req).await
}

async fn require_auth(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let h = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if s.auth.allows(h) {
        return next.run(req).await;
    }
    let mut challenges = Vec::new();
    if s.auth.bearer.is_some() {
        challenges.push("Bearer realm=\"srp-slack-relay\"");
    }
    if s.auth.basic.is_some() {
        challenges.push("Basic realm=\"srp-slack-relay\"");
    }
    let mut response = HttpError::unauthorized(
        "missing or wrong credentials (Authorization: Bearer <token> or Basic)",
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&challenges.join(", ")) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

fn bad_request(e: PayloadError) -> Response {
    let code = match e {
        PayloadError::Json(_) => "invalid_json",
        PayloadError::Invalid(_) => "invalid_payload",
    };
    HttpError::bad_request(code, e.to_string()).into_response()
}

/// A body that could not be read: too large (413), or cut off.
fn unreadable(e: BytesRejection) -> Response {
    let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        "body_too_large"
    } else {
        "unreadable_body"
    };
    HttpError::new(e.status(), code, e.body_text()).into_response()
}

async fn store(s: &AppState, n: NewNotification) -> Response {
    let source = n.source;
    match s.ingest.submit(n).await {
        Ok(Accepted::Stored { messages }) => {
            s.metrics.received.with_label_values(&[source]).inc();
            (
                StatusCode::OK,
                Json(json!({"status": "accepted", "messages": messages})),
            )
                .into_response()
        }
        Ok(Accepted::Duplicate) => {
            s.metrics.received.with_label_values(&[source]).inc();
            s.metrics.duplicates.inc();
            (StatusCode::OK, Json(json!({"status": "duplicate"}))).into_response()
        }
        Err(e) => {
            tracing::error!("cannot store a {source} notification: {e}");
            // 5xx: Alertmanager keeps retrying, so nothing is lost.
            HttpError::unavailable("not_stored", format!("not stored, retry: {e}")).into_response()
        }
    }
}

/// Bot-token destinations get the thread treatment on resolve; others a
/// new message.
fn messages_for(
    routes: &Routes,
    labels: &crate::payload::Labels,
    group_key: &str,
    ends_thread: bool,
    rendered: &format::Rendered,
    buttons: Option<&crate::payload::Labels>,
) -> Vec<NewMessage> {
    let plain = rendered.message.to_string();
    let with_buttons = buttons.map(|m| {
        let mut v = rendered.message.clone();
        crate::buttons::add(&mut v, m);
        v.to_string()
    });
    let mut out = Vec::new();
    for route in routes.select(labels) {
        let threads = routes.destination(&route).threads();
        // Buttons need a message that can be edited: bot-token mode.
        let body = match (&with_buttons, threads) {
            (Some(b), true) => b.clone(),
            _ => plain.clone(),
        };
        let kinds: &[Kind] = if ends_thread && threads {
            &[Kind::Reply, Kind::Update]
        } else {
            &[Kind::Post]
        };
        for k in kinds {
            out.push(NewMessage {
                route: route.clone(),
                kind: *k,
                group_key: group_key.to_string(),
                title: rendered.title.clone(),
                message: body.clone(),
            });
        }
        // After the parent in the route's order, so they thread under it
        // (a webhook has no threads: they follow it as messages).
        for (title, reply) in &rendered.thread {
            out.push(NewMessage {
                route: route.clone(),
                kind: Kind::Reply,
                group_key: group_key.to_string(),
                title: title.clone(),
                message: reply.to_string(),
            });
        }
    }
    out
}

async fn alertmanager(
    State(s): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return unreadable(e),
    };
    let p = match AlertmanagerPayload::parse(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    let rendered = format::alertmanager(&p);
    let matchers = crate::buttons::matchers(&p.group_labels, &p.common_labels);
    let firing = p.status == Status::Firing;
    let mut messages = messages_for(
        &s.routes,
        &p.routing_labels(),
        &p.group_key,
        !firing,
        &rendered,
        (s.interactive && firing).then_some(&matchers),
    );
    if s.incidents {
        // In the same commit as the Slack messages, on their own queue.
        messages.extend(crate::incidents::messages(&p));
    }
    let n = NewNotification {
        source: "alertmanager",
        dedupe_key: p.dedupe_key(),
        messages,
    };
    store(&s, n).await
}

async fn jenkins(State(s): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return unreadable(e),
    };
    let p = match JenkinsPayload::parse(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    let rendered = format::jenkins(&p);
    let ends = p.result != crate::payload::BuildResult::Started;
    let messages = messages_for(
        &s.routes,
        &p.routing_labels(),
        &p.group_key(),
        ends,
        &rendered,
        None,
    );
    let n = NewNotification {
        source: "jenkins",
        dedupe_key: p.dedupe_key(),
        messages,
    };
    store(&s, n).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_accepts_configured_schemes_only() {
        let a = Auth {
            bearer: Some("s3cret".into()),
            basic: Some(("am".into(), "pw".into())),
        };
        assert!(a.allows(Some("Bearer s3cret")));
        assert!(a.allows(Some("bearer s3cret")));
        assert!(!a.allows(Some("Bearer s3cre")));
        assert!(!a.allows(None));
        let b64 = base64::engine::general_purpose::STANDARD.encode("am:pw");
        assert!(a.allows(Some(&format!("Basic {b64}"))));
        assert!(!a.allows(Some("Basic !!!")));
        let only_bearer = Auth {
            bearer: Some("t".into()),
            basic: None,
        };
        assert!(!only_bearer.allows(Some(&format!("Basic {b64}"))));
        assert!(Auth::default().allows(None));
    }
}
