//! Alertmanager's API v2, for silences made from Slack: tried on each
//! `--alertmanager-url` in turn (members of one cluster gossip silences, so
//! one that answers is enough).

use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    #[error("no --alertmanager-url is configured")]
    NoAlertmanager,
    #[error("no Alertmanager accepted the request: {0}")]
    Refused(String),
}

#[derive(Clone)]
pub struct Alertmanagers {
    urls: Vec<url::Url>,
    http: reqwest::Client,
}

impl Alertmanagers {
    pub fn new(urls: Vec<url::Url>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("HTTP client");
        Alertmanagers { urls, http }
    }

    fn endpoint(base: &url::Url, path: &str) -> String {
        format!("{}{path}", base.as_str().trim_end_matches('/'))
    }

    /// Create a silence of `matchers` (equality) for `duration`; its id.
    pub async fn silence(
        &self,
        matchers: &BTreeMap<String, String>,
        duration: Duration,
        created_by: &str,
        comment: &str,
    ) -> Result<(String, chrono::DateTime<chrono::Utc>), SilenceError> {
        let now = chrono::Utc::now();
        let ends = now + chrono::Duration::from_std(duration).unwrap_or_default();
        let body = json!({
            "matchers": matchers.iter().map(|(k, v)| json!({
                "name": k, "value": v, "isRegex": false, "isEqual": true
            })).collect::<Vec<_>>(),
            "startsAt": now.to_rfc3339(),
            "endsAt": ends.to_rfc3339(),
            "createdBy": created_by,
            "comment": comment,
        });
        let mut errors = Vec::new();
        for base in &self.urls {
            let r = self
                .http
                .post(Self::endpoint(base, "/api/v2/silences"))
                .json(&body)
                .send()
                .await;
            match r {
                Ok(r) if r.status().is_success() => {
                    let v: serde_json::Value = r.json().await.unwrap_or_default();
                    if let Some(id) = v["silenceID"].as_str() {
                        return Ok((id.to_string(), ends));
                    }
                    errors.push(format!("{base}: answer without silenceID"));
                }
                Ok(r) => errors.push(format!("{base}: HTTP {}", r.status())),
                Err(e) => errors.push(format!("{base}: {e}")),
            }
        }
        if self.urls.is_empty() {
            return Err(SilenceError::NoAlertmanager);
        }
        Err(SilenceError::Refused(errors.join("; ")))
    }

    /// Expire a silence now.
    pub async fn expire(&self, id: &str) -> Result<(), SilenceError> {
        if self.urls.is_empty() {
            return Err(SilenceError::NoAlertmanager);
        }
        let mut errors = Vec::new();
        for base in &self.urls {
            let path = format!("/api/v2/silence/{}", urlencode(id));
            match self.http.delete(Self::endpoint(base, &path)).send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => errors.push(format!("{base}: HTTP {}", r.status())),
                Err(e) => errors.push(format!("{base}: {e}")),
            }
        }
        Err(SilenceError::Refused(errors.join("; ")))
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
