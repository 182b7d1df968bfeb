//! One delivery attempt to one destination, and what its outcome means for
//! the message: sent, try again (when), or give up.
//!
//! Slack calls go through slack-morphism: `chat.postMessage` / `chat.update`
//! with the bot token, `post_webhook_message` for incoming webhooks. Its
//! connector is built HTTPS-or-HTTP so `--slack-api-url` and webhook URLs can
//! point at a plain-HTTP mock in tests; its own in-memory rate control stays
//! off because pacing and retries are ours (durable, in the outbox).

use crate::routes::Destination;
use crate::store::{Kind, MessageRef};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Client = SlackClient<SlackClientHyperConnector<HttpsConnector<HttpConnector>>>;

/// When Slack gives a 429 without Retry-After (it should not), wait this long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum Attempt {
    /// Delivered; `Some` when this message can anchor a thread.
    Sent(Option<MessageRef>),
    /// Nothing to do (an edit with no original, or a destination that
    /// cannot edit).
    Skipped,
    RateLimited(Duration),
    /// Transient: back off and try again.
    Retry {
        reason: &'static str,
        detail: String,
    },
    /// Permanent: retrying the same request cannot succeed.
    Reject {
        reason: &'static str,
        detail: String,
    },
}

impl Attempt {
    /// A refused HTTP answer, for Slack and srp-api alike: 5xx, 408 (the
    /// server timed the request out) and 429 are worth another try, any
    /// other 4xx would fail the same way again.
    pub fn refused(code: u16, detail: String) -> Attempt {
        if code >= 500 || code == 408 || code == 429 {
            Attempt::Retry {
                reason: "server_error",
                detail,
            }
        } else {
            Attempt::Reject {
                reason: "rejected",
                detail,
            }
        }
    }
}

pub struct Sender {
    client: Option<Arc<Client>>,
    token: Option<SlackApiToken>,
    timeout: Duration,
    sink: Mutex<Option<std::fs::File>>,
    sink_path: Option<PathBuf>,
}

impl Sender {
    /// `api_url` is the Slack Web API base (default `https://slack.com/api`).
    /// The HTTP client is only built when something will use it.
    pub fn new(
        api_url: &str,
        token: Option<String>,
        needs_client: bool,
        timeout: Duration,
        sink_path: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let client = if needs_client {
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|e| {
                    anyhow::anyhow!("cannot load the system's TLS root certificates: {e}")
                })?
                .https_or_http()
                .enable_http1()
                .enable_http2()
                .build();
            let connector = SlackClientHyperConnector::with_connector(https)
                .with_slack_api_url(api_url.trim_end_matches('/'));
            Some(Arc::new(SlackClient::new(connector)))
        } else {
            None
        };
        let sink = match &sink_path {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| anyhow::anyhow!("cannot open sink file {}: {e}", p.display()))?,
            ),
            None => None,
        };
        Ok(Sender {
            client,
            token: token.map(|t| SlackApiToken::new(t.into())),
            timeout,
            sink: Mutex::new(sink),
            sink_path,
        })
    }

    /// Send once. `anchor` is the group's earlier message, for replies/edits.
    pub async fn send(
        &self,
        dest: &Destination,
        kind: Kind,
        route: &str,
        title: &str,
        message: &Value,
        anchor: Option<MessageRef>,
    ) -> Attempt {
        let content: SlackMessageContent = match serde_json::from_value(message.clone()) {
            Ok(c) => c,
            Err(e) => {
                return Attempt::Reject {
                    reason: "rejected",
                    detail: format!("stored message does not decode: {e}"),
                }
            }
        };
        match dest {
            Destination::Log => match kind {
                Kind::Update => Attempt::Skipped,
                _ => self.log(route, title, message),
            },
            Destination::Webhook(url) => match kind {
                Kind::Update => Attempt::Skipped,
                _ => {
                    let Some(client) = &self.client else {
                        return no_client();
                    };
                    let req = SlackApiPostWebhookMessageRequest::new(content);
                    let r = self.timed(client.post_webhook_message(url, &req)).await;
                    r.map(|_| Attempt::Sent(None)).unwrap_or_else(|a| a)
                }
            },
            Destination::Channel(channel) => {
                let (Some(client), Some(token)) = (&self.client, &self.token) else {
                    return no_client();
                };
                let session = client.open_session(token);
                match (kind, anchor) {
                    (Kind::Update, None) => Attempt::Skipped,
                    (Kind::Update, Some(a)) => {
                        let req = SlackApiChatUpdateRequest::new(
                            a.channel.clone().into(),
                            content,
                            a.ts.clone().into(),
                        );
                        self.timed(session.chat_update(&req))
                            .await
                            .map(|_| Attempt::Sent(None))
                            .unwrap_or_else(|a| a)
                    }
                    (Kind::Reply, Some(a)) => {
                        let req =
                            SlackApiChatPostMessageRequest::new(a.channel.clone().into(), content)
                                .with_thread_ts(a.ts.clone().into())
                                .with_unfurl_links(false);
                        self.timed(session.chat_post_message(&req))
                            .await
                            .map(|_| Attempt::Sent(None))
                            .unwrap_or_else(|a| a)
                    }
                    (_, _) => {
                        let req =
                            SlackApiChatPostMessageRequest::new(channel.clone().into(), content)
                                .with_unfurl_links(false);
                        self.timed(session.chat_post_message(&req))
                            .await
                            .map(|r| {
                                Attempt::Sent(Some(MessageRef {
                                    channel: r.channel.0,
                                    ts: r.ts.0,
                                }))
                            })
                            .unwrap_or_else(|a| a)
                    }
                }
            }
        }
    }

    async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = ClientResult<T>>,
    ) -> Result<T, Attempt> {
        match tokio::time::timeout(self.timeout, f).await {
            Err(_) => Err(Attempt::Retry {
                reason: "timeout",
                detail: format!("no answer from Slack within {:?}", self.timeout),
            }),
            Ok(Err(e)) => Err(classify(e)),
            Ok(Ok(v)) => Ok(v),
        }
    }

    fn log(&self, route: &str, title: &str, message: &Value) -> Attempt {
        let text = crate::format::plain_text(message);
        let mut sink = self.sink.lock().expect("sink lock");
        let r = match sink.as_mut() {
            Some(f) => {
                let mut line = serde_json::json!({
                    "time": chrono::Utc::now().to_rfc3339(),
                    "route": route,
                    "title": title,
                    "text": text,
                    "message": message,
                })
                .to_string();
                line.push('\n');
                // One write per line, so a reader tailing the file never
                // sees half a message.
                f.write_all(line.as_bytes())
            }
            None => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "--- [{route}] {title}\n{text}\n").and_then(|_| out.flush())
            }
        };
        match r {
            Ok(()) => Attempt::Sent(None),
            Err(e) => Attempt::Retry {
                reason: "network",
                detail: format!(
                    "cannot write to the log sink {}: {e}",
                    self.sink_path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "stdout".into())
                ),
            },
        }
    }
}

fn no_client() -> Attempt {
    Attempt::Reject {
        reason: "rejected",
        detail: "destination needs Slack credentials that are not configured".into(),
    }
}

/// Slack `error` codes that are worth retrying.
const TRANSIENT_API_ERRORS: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "ratelimited",
    "team_added_to_org",
];

pub fn classify(e: SlackClientError) -> Attempt {
    match e {
        SlackClientError::RateLimitError(r) => {
            Attempt::RateLimited(r.retry_after.unwrap_or(DEFAULT_RETRY_AFTER))
        }
        SlackClientError::HttpError(h) => {
            let code = h.status_code.as_u16();
            let body = h.http_response_body.unwrap_or_default();
            let detail = format!("HTTP {code}: {}", crate::format::truncate(body.trim(), 200));
            Attempt::refused(code, detail)
        }
        SlackClientError::ApiError(a) => {
            let detail = format!("Slack error {}", a.code);
            if TRANSIENT_API_ERRORS.contains(&a.code.as_str()) {
                Attempt::Retry {
                    reason: "slack_error",
                    detail,
                }
            } else {
                Attempt::Reject {
                    reason: "slack_error",
                    detail,
                }
            }
        }
        other => Attempt::Retry {
            reason: "network",
            detail: crate::format::truncate(&other.to_string(), 300),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::Attempt;

    #[test]
    fn refused_answers_are_retried_only_when_another_try_can_succeed() {
        for code in [500, 502, 503, 408, 429] {
            assert!(
                matches!(Attempt::refused(code, String::new()), Attempt::Retry { .. }),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 409, 413, 422] {
            assert!(
                matches!(
                    Attempt::refused(code, String::new()),
                    Attempt::Reject { .. }
                ),
                "{code}"
            );
        }
    }
}
