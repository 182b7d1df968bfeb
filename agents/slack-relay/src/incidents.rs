//! Incidents in srp-api from real alerts (`--api-url`): a firing alert that
//! carries a `project` label opens an incident in the release ledger, its
//! resolve closes it, so the API measures time to restore (DORA) from what
//! actually paged.
//!
//! The calls are outbox rows like Slack messages (kinds `incident_open` and
//! `incident_close` on their own route, [`INCIDENT_ROUTE`]): committed with
//! the notification before Alertmanager gets its 2xx, delivered with the
//! same retries, backoff and dead letters, in order (an open before its
//! close), and on a queue of their own, so an API that is down never holds
//! up Slack.
//!
//! The API's contract (api/README.md, "Incidents from alerts"):
//! `GET /projects?name=` finds the id (no project: dropped, counted);
//! `POST /projects/{id}/incidents` opens (201 new, 200 already open: a
//! repeat changes nothing); `POST /projects/{id}/incidents/{key}/close`
//! closes (200, again 200; 404 when it never opened: dropped, counted).
//! Network errors, timeouts, 429 and 5xx are retried; other 4xx are final
//! (dead letter, replayable with `dlq replay` once fixed, e.g. the token).

use crate::deliver::Attempt;
use crate::payload::{AlertmanagerPayload, Status};
use crate::routes::INCIDENT_ROUTE;
use crate::store::{Kind, NewMessage};
use serde_json::{json, Value};
use std::time::Duration;

/// The label that names the project in srp-api.
pub const PROJECT_LABEL: &str = "project";
/// The environment when the alert has no `environment` label.
pub const DEFAULT_ENVIRONMENT: &str = "production";
/// The API's limit on an incident title (characters).
const TITLE_MAX: usize = 512;

/// The incident calls of one notification: an open per firing alert with a
/// `project` label, a close per resolved one.
pub fn messages(p: &AlertmanagerPayload) -> Vec<NewMessage> {
    let mut out = Vec::new();
    for a in &p.alerts {
        let Some(project) = a.labels.get(PROJECT_LABEL).filter(|v| !v.is_empty()) else {
            continue;
        };
        let key = a.identity();
        let alertname = a.labels.get("alertname").map(String::as_str).unwrap_or("");
        let (kind, body) = match a.status {
            Status::Firing => {
                let environment = a
                    .labels
                    .get("environment")
                    .filter(|v| !v.is_empty())
                    .map(String::as_str)
                    .unwrap_or(DEFAULT_ENVIRONMENT);
                let title = match a.annotations.get("summary").filter(|s| !s.is_empty()) {
                    Some(s) => format!("{alertname}: {s}"),
                    None => alertname.to_string(),
                };
                let incident = json!({
                    "key": key,
                    "environment": environment,
                    "title": clean_title(&title),
                    "opened_at": a.starts_at.to_rfc3339(),
                });
                (Kind::IncidentOpen, incident)
            }
            Status::Resolved => {
                let closed = a.ended_at().unwrap_or_else(chrono::Utc::now);
                (
                    Kind::IncidentClose,
                    json!({"closed_at": closed.to_rfc3339()}),
                )
            }
        };
        out.push(NewMessage {
            route: INCIDENT_ROUTE.into(),
            kind,
            group_key: format!("{project}/{key}"),
            title: format!("{} {project}/{key} {alertname}", kind.as_str()),
            message: json!({"project": project, "key": key, "body": body}).to_string(),
        });
    }
    out
}

/// The API refuses control characters and more than 512 characters.
fn clean_title(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(TITLE_MAX)
        .collect()
}

/// How one forwarded call ended, for `srp_relay_incidents_forwarded_total`.
pub fn action(kind: Kind) -> &'static str {
    match kind {
        Kind::IncidentClose => "close",
        _ => "open",
    }
}

/// The client for srp-api.
pub struct Api {
    base: url::Url,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: url::Url, token: String, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("srp-slack-relay/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Api { base, token, http })
    }

    fn endpoint(&self, segments: &[&str]) -> url::Url {
        let mut u = self.base.clone();
        if let Ok(mut path) = u.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        u
    }

    /// Make one stored call. `Sent` when the API recorded it, `Skipped`
    /// when there is nothing to record it against (unknown project, or a
    /// close of an incident that never opened).
    pub async fn forward(&self, kind: Kind, stored: &Value) -> Attempt {
        let (Some(project), Some(key)) = (stored["project"].as_str(), stored["key"].as_str())
        else {
            return Attempt::Reject {
                reason: "rejected",
                detail: "stored incident call without project or key".into(),
            };
        };
        let id = match self.project_id(project).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                tracing::info!(
                    project,
                    "incident not forwarded: no such project in srp-api"
                );
                return Attempt::Skipped;
            }
            Err(a) => return a,
        };
        let id = id.to_string();
        let url = match kind {
            Kind::IncidentClose => self.endpoint(&["projects", &id, "incidents", key, "close"]),
            _ => self.endpoint(&["projects", &id, "incidents"]),
        };
        let r = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(&stored["body"])
            .send()
            .await;
        match r {
            Err(e) => network(e),
            Ok(r) if r.status().is_success() => Attempt::Sent(None),
            Ok(r)
                if kind == Kind::IncidentClose && r.status() == reqwest::StatusCode::NOT_FOUND =>
            {
                tracing::info!(
                    project,
                    key,
                    "incident close not forwarded: it never opened in srp-api"
                );
                Attempt::Skipped
            }
            Ok(r) => refused(r).await,
        }
    }

    /// The id of the project named `name`, `None` when there is none.
    async fn project_id(&self, name: &str) -> Result<Option<i64>, Attempt> {
        let mut url = self.endpoint(&["projects"]);
        url.query_pairs_mut().append_pair("name", name);
        let r = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(network)?;
        if !r.status().is_success() {
            return Err(refused(r).await);
        }
        let page: Value = r.json().await.map_err(|e| Attempt::Retry {
            reason: "server_error",
            detail: format!("srp-api answered a project lookup with something not JSON: {e}"),
        })?;
        Ok(page["items"]
            .as_array()
            .and_then(|items| items.iter().find(|p| p["name"] == name))
            .and_then(|p| p["id"].as_i64()))
    }
}

fn network(e: reqwest::Error) -> Attempt {
    Attempt::Retry {
        reason: if e.is_timeout() { "timeout" } else { "network" },
        detail: format!("srp-api: {e}"),
    }
}

/// A non-2xx answer: 408, 429 and 5xx are worth retrying, other 4xx are final.
async fn refused(r: reqwest::Response) -> Attempt {
    let status = r.status();
    let text: String = r
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    let detail = format!("srp-api HTTP {}: {text}", status.as_u16());
    Attempt::refused(status.as_u16(), detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(alerts: Value) -> AlertmanagerPayload {
        let v = json!({
            "version": "4", "groupKey": "{}:{alertname=\"APIDown\"}", "status": "firing",
            "receiver": "relay", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://am", "alerts": alerts
        });
        AlertmanagerPayload::parse(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn only_alerts_with_a_project_become_incident_calls() {
        let p = payload(json!([
            {"status": "firing", "labels": {"alertname": "APIDown", "project": "shop"},
             "annotations": {"summary": "api down\nfor real"},
             "startsAt": "2026-12-01T10:00:00Z", "fingerprint": "f1"},
            {"status": "resolved", "labels": {"alertname": "APIDown", "project": "shop", "environment": "staging"},
             "startsAt": "2026-12-01T09:00:00Z", "endsAt": "2026-12-01T09:30:00Z", "fingerprint": "f2"},
            {"status": "firing", "labels": {"alertname": "DiskFull"},
             "startsAt": "2026-12-01T10:00:00Z", "fingerprint": "f3"}
        ]));
        let m = messages(&p);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].route, INCIDENT_ROUTE);
        assert_eq!(m[0].kind, Kind::IncidentOpen);
        assert_eq!(m[0].group_key, "shop/f1");
        let open: Value = serde_json::from_str(&m[0].message).unwrap();
        assert_eq!(
            open,
            json!({"project": "shop", "key": "f1", "body": {
                "key": "f1", "environment": "production",
                "title": "APIDown: api down for real",
                "opened_at": "2026-12-01T10:00:00+00:00"}})
        );
        assert_eq!(m[1].kind, Kind::IncidentClose);
        let close: Value = serde_json::from_str(&m[1].message).unwrap();
        assert_eq!(
            close["body"],
            json!({"closed_at": "2026-12-01T09:30:00+00:00"})
        );
    }

    #[test]
    fn titles_fit_the_api() {
        let t = clean_title(&"x\t".repeat(400));
        assert_eq!(t.chars().count(), TITLE_MAX);
        assert!(!t.chars().any(char::is_control));
    }

    #[test]
    fn paths_are_escaped_segments() {
        let api = Api::new(
            "http://api:8000/base/".parse().unwrap(),
            "t".into(),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            api.endpoint(&["projects", "3", "incidents", "a/b", "close"])
                .as_str(),
            "http://api:8000/base/projects/3/incidents/a%2Fb/close"
        );
    }
}
