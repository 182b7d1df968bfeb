//! `POST /slack/interactions`: button presses from Slack. In order: the
//! signature (refused 401 when missing, wrong or older than 5 minutes),
//! the payload (400 when it is not a button press of ours), the signature
//! not seen before (409 for a replay); only then is anything done: a
//! silence created through Alertmanager's API v2, an acknowledgement, or a
//! silence expired. Every action is recorded (who, what, when, silence id)
//! and the message is edited to say who did it and until when.

use crate::buttons::{self, SILENCE_CHOICES};
use crate::deliver::{Attempt, Sender};
use crate::metrics::Metrics;
use crate::payload::Labels;
use crate::routes::Destination;
use crate::signature;
use crate::silences::Alertmanagers;
use crate::store::{now, AuditEntry, Kind, MessageRef, Outbox};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use srp_daemon::HttpError;
use std::sync::Arc;
use std::time::Duration;

pub struct Interactions {
    pub signing_secret: Vec<u8>,
    pub alertmanagers: Alertmanagers,
    pub outbox: Outbox,
    pub sender: Arc<Sender>,
    pub metrics: Metrics,
}

pub fn router(state: Arc<Interactions>) -> Router {
    Router::new()
        .route("/slack/interactions", post(interaction))
        .with_state(state)
}

/// A button press, as far as the relay needs it.
struct Press {
    action: String,
    value: Value,
    user_id: String,
    user_name: String,
    channel: String,
    ts: String,
    message: Value,
}

fn parse(body: &[u8]) -> Result<Press, String> {
    let payload = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or("no payload field")?;
    let p: Value = serde_json::from_str(&payload).map_err(|e| format!("payload: {e}"))?;
    if p["type"] != "block_actions" {
        return Err("not a block_actions payload".into());
    }
    let action = &p["actions"][0];
    let text = |v: &Value, what: &str| -> Result<String, String> {
        v.as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(format!("missing {what}"))
    };
    let action_id = text(&action["action_id"], "actions[0].action_id")?;
    let value: Value = serde_json::from_str(action["value"].as_str().unwrap_or("{}"))
        .map_err(|e| format!("actions[0].value: {e}"))?;
    let user_id = text(&p["user"]["id"], "user.id")?;
    let user_name = p["user"]["username"]
        .as_str()
        .or(p["user"]["name"].as_str())
        .unwrap_or(&user_id)
        .to_string();
    let channel = text(&p["channel"]["id"], "channel.id")
        .or_else(|_| text(&p["container"]["channel_id"], "container.channel_id"))?;
    let ts = text(&p["message"]["ts"], "message.ts")
        .or_else(|_| text(&p["container"]["message_ts"], "container.message_ts"))?;
    Ok(Press {
        action: action_id,
        value,
        user_id,
        user_name,
        channel,
        ts,
        message: p["message"].clone(),
    })
}

/// What a press asks for, checked against what our buttons can carry.
enum Ask {
    Silence(Labels, &'static str),
    Acknowledge,
    Expire(String),
}

fn ask(p: &Press) -> Result<Ask, String> {
    if let Some((_, d)) = SILENCE_CHOICES.iter().find(|(id, _)| *id == p.action) {
        let m: Labels =
            serde_json::from_value(p.value["m"].clone()).map_err(|e| format!("matchers: {e}"))?;
        if m.is_empty() || p.value["d"] != *d {
            return Err("matchers or duration do not match the button".into());
        }
        return Ok(Ask::Silence(m, d));
    }
    match p.action.as_str() {
        "acknowledge" => Ok(Ask::Acknowledge),
        "expire" => p.value["s"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(|s| Ask::Expire(s.to_string()))
            .ok_or_else(|| "expire without a silence id".into()),
        other => Err(format!("unknown action {other:?}")),
    }
}

fn label(a: &Ask) -> &'static str {
    match a {
        Ask::Silence(..) => "silence",
        Ask::Acknowledge => "acknowledge",
        Ask::Expire(_) => "expire",
    }
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

async fn interaction(
    State(s): State<Arc<Interactions>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let count = |action: &str, result: &str| {
        s.metrics
            .interactions
            .with_label_values(&[action, result])
            .inc()
    };
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let sig = header("x-slack-signature");
    if let Err(e) = signature::verify(
        &s.signing_secret,
        header("x-slack-request-timestamp"),
        sig,
        &body,
        chrono::Utc::now().timestamp(),
    ) {
        count("unknown", e.label());
        tracing::warn!("refused a Slack interaction: {e}");
        return HttpError::unauthorized(e.to_string()).into_response();
    }
    let (press, asked) = match parse(&body).and_then(|p| ask(&p).map(|a| (p, a))) {
        Ok(x) => x,
        Err(e) => {
            count("unknown", "malformed");
            return HttpError::bad_request("malformed_interaction", e).into_response();
        }
    };
    let action = label(&asked);
    match s
        .outbox
        .first_use(sig.unwrap_or_default().to_string())
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            count(action, "replayed");
            return HttpError::new(
                StatusCode::CONFLICT,
                "replayed",
                "this signed request was already handled",
            )
            .into_response();
        }
        Err(e) => {
            count(action, "failed");
            return HttpError::unavailable("not_stored", e.to_string()).into_response();
        }
    }
    let user = format!("<@{}>", press.user_id);
    let (status, entry, expire) = match &asked {
        Ask::Silence(m, d) => {
            let duration = srp_daemon::duration::parse(d).unwrap_or(Duration::from_secs(3600));
            let matchers: Vec<String> = m.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            let comment = format!("from Slack by {}", press.user_name);
            match s
                .alertmanagers
                .silence(m, duration, &press.user_name, &comment)
                .await
            {
                Ok((id, until)) => (
                    format!(
                        ":no_bell: Silenced by {user} for {d}, until {} (silence `{id}`)",
                        when(until)
                    ),
                    AuditEntry {
                        at: now(),
                        user: press.user_name.clone(),
                        action: "silence".into(),
                        detail: format!("{{{}}} for {d}", matchers.join(",")),
                        silence_id: Some(id.clone()),
                    },
                    Some(id),
                ),
                Err(e) => {
                    count(action, "failed");
                    tracing::error!("cannot create a silence: {e}");
                    return HttpError::new(
                        StatusCode::BAD_GATEWAY,
                        "alertmanager_failed",
                        e.to_string(),
                    )
                    .into_response();
                }
            }
        }
        Ask::Acknowledge => (
            format!(
                ":eyes: Acknowledged by {user} at {}",
                when(chrono::Utc::now())
            ),
            AuditEntry {
                at: now(),
                user: press.user_name.clone(),
                action: "acknowledge".into(),
                detail: format!("message {} in {}", press.ts, press.channel),
                silence_id: None,
            },
            None,
        ),
        Ask::Expire(id) => {
            if let Err(e) = s.alertmanagers.expire(id).await {
                count(action, "failed");
                return HttpError::new(
                    StatusCode::BAD_GATEWAY,
                    "alertmanager_failed",
                    e.to_string(),
                )
                .into_response();
            }
            (
                format!(
                    ":bell: Silence `{id}` expired by {user} at {}",
                    when(chrono::Utc::now())
                ),
                AuditEntry {
                    at: now(),
                    user: press.user_name.clone(),
                    action: "expire".into(),
                    detail: format!("silence {id}"),
                    silence_id: Some(id.clone()),
                },
                None,
            )
        }
    };
    if let Err(e) = s.outbox.record_action(entry).await {
        tracing::error!("cannot record a Slack action in the audit list: {e}");
    }
    count(action, "done");
    edit(&s, &press, &status, expire.as_deref()).await;
    StatusCode::OK.into_response()
}

/// Say on the message who did what (best effort: the action is done and
/// recorded either way).
async fn edit(s: &Interactions, press: &Press, status: &str, expire: Option<&str>) {
    let mut message = serde_json::json!({
        "text": press.message["text"],
        "attachments": press.message["attachments"],
    });
    buttons::replace(&mut message, status, expire);
    let anchor = MessageRef {
        channel: press.channel.clone(),
        ts: press.ts.clone(),
    };
    let dest = Destination::Channel(press.channel.clone());
    match s
        .sender
        .send(
            &dest,
            Kind::Update,
            "interactions",
            status,
            &message,
            Some(anchor),
        )
        .await
    {
        Attempt::Sent(_) | Attempt::Skipped => {}
        other => tracing::warn!("cannot edit the message after a Slack action: {other:?}"),
    }
}
