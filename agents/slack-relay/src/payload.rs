//! The two inbound payloads: Alertmanager's webhook (version 4) and our Jenkins
//! build notification. Parsing is strict about what we rely on and lenient
//! about fields we do not use, so newer senders keep working.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

/// Why an inbound body was refused (always a 4xx: resending it cannot help).
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> PayloadError {
    PayloadError::Invalid(msg.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerPayload {
    pub version: String,
    pub group_key: String,
    #[serde(default)]
    pub truncated_alerts: u64,
    pub status: Status,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub group_labels: Labels,
    #[serde(default)]
    pub common_labels: Labels,
    #[serde(default)]
    pub common_annotations: Labels,
    #[serde(rename = "externalURL", default)]
    pub external_url: String,
    pub alerts: Vec<Alert>,
    #[serde(rename = "notification_reason", default)]
    pub notification_reason: Option<String>,
    #[serde(default)]
    pub route_labels: Option<Labels>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: Status,
    pub labels: Labels,
    #[serde(default)]
    pub annotations: Labels,
    pub starts_at: DateTime<Utc>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

impl Alert {
    /// Alertmanager sends `0001-01-01T00:00:00Z` for "no end yet".
    pub fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.ends_at.filter(|t| t.timestamp() > 0)
    }

    /// Alertmanager's fingerprint, or a stable stand-in from the labels for
    /// senders that omit it.
    pub fn identity(&self) -> String {
        if !self.fingerprint.is_empty() {
            return self.fingerprint.clone();
        }
        let mut h = Sha256::new();
        for (k, v) in &self.labels {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..8])
    }
}

impl AlertmanagerPayload {
    pub fn parse(body: &[u8]) -> Result<Self, PayloadError> {
        let p: AlertmanagerPayload = serde_json::from_slice(body)?;
        if p.version != "4" {
            return Err(invalid(format!(
                "unsupported payload version {:?} (Alertmanager webhook version \"4\" expected)",
                p.version
            )));
        }
        if p.group_key.trim().is_empty() {
            return Err(invalid("groupKey is empty"));
        }
        if p.alerts.is_empty() {
            return Err(invalid("alerts is empty: nothing to notify"));
        }
        for (i, a) in p.alerts.iter().enumerate() {
            if a.labels.is_empty() {
                return Err(invalid(format!("alerts[{i}].labels is empty")));
            }
        }
        Ok(p)
    }

    /// The same group, status and alerts (by identity, start and status) give
    /// the same key, whichever Alertmanager of an HA pair sent it and however
    /// often it was retried.
    pub fn dedupe_key(&self) -> String {
        let mut alerts: Vec<String> = self
            .alerts
            .iter()
            .map(|a| {
                format!(
                    "{}@{}:{}",
                    a.identity(),
                    a.starts_at.timestamp_millis(),
                    a.status.as_str()
                )
            })
            .collect();
        alerts.sort();
        alerts.dedup();
        let mut h = Sha256::new();
        for part in ["alertmanager", &self.group_key, self.status.as_str()] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for a in &alerts {
            h.update(a.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// Labels that routes match against: the labels every alert shares.
    pub fn routing_labels(&self) -> Labels {
        let mut l = self.common_labels.clone();
        for (k, v) in &self.group_labels {
            l.entry(k.clone()).or_insert_with(|| v.clone());
        }
        l.insert("__source__".into(), "alertmanager".into());
        l
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BuildResult {
    Started,
    Success,
    Failure,
    Unstable,
    Aborted,
    NotBuilt,
}

impl BuildResult {
    pub fn as_str(self) -> &'static str {
        match self {
            BuildResult::Started => "STARTED",
            BuildResult::Success => "SUCCESS",
            BuildResult::Failure => "FAILURE",
            BuildResult::Unstable => "UNSTABLE",
            BuildResult::Aborted => "ABORTED",
            BuildResult::NotBuilt => "NOT_BUILT",
        }
    }
}

/// What a Jenkinsfile posts (see the README for the `post {}` snippet).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JenkinsPayload {
    pub job: String,
    pub build: u64,
    pub result: BuildResult,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub duration_seconds: Option<f64>,
}

impl JenkinsPayload {
    pub fn parse(body: &[u8]) -> Result<Self, PayloadError> {
        let p: JenkinsPayload = serde_json::from_slice(body)?;
        if p.job.trim().is_empty() {
            return Err(invalid("job is empty"));
        }
        if let Some(u) = &p.url {
            url::Url::parse(u).map_err(|e| invalid(format!("url {u:?} is not a URL: {e}")))?;
        }
        if p.duration_seconds
            .is_some_and(|d| !d.is_finite() || d < 0.0)
        {
            return Err(invalid("duration_seconds must be a non-negative number"));
        }
        Ok(p)
    }

    /// One build's messages thread together under this key.
    pub fn group_key(&self) -> String {
        format!("jenkins/{}/{}", self.job, self.build)
    }

    pub fn dedupe_key(&self) -> String {
        let mut h = Sha256::new();
        let build = self.build.to_string();
        let stage = self.stage.clone().unwrap_or_default();
        for part in ["jenkins", &self.job, &build, self.result.as_str(), &stage] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    pub fn routing_labels(&self) -> Labels {
        let mut l = Labels::new();
        l.insert("__source__".into(), "jenkins".into());
        l.insert("job".into(), self.job.clone());
        l.insert("result".into(), self.result.as_str().into());
        if let Some(s) = &self.stage {
            l.insert("stage".into(), s.clone());
        }
        if let Some(b) = &self.branch {
            l.insert("branch".into(), b.clone());
        }
        l
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample(group: &str, status: &str) -> serde_json::Value {
        serde_json::json!({
            "version": "4",
            "groupKey": group,
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "slack",
            "groupLabels": {"alertname": "DiskSpaceWarning"},
            "commonLabels": {"alertname": "DiskSpaceWarning", "severity": "warning"},
            "commonAnnotations": {},
            "externalURL": "http://am:9093",
            "alerts": [{
                "status": status,
                "labels": {"alertname": "DiskSpaceWarning", "severity": "warning", "instance": "web-1"},
                "annotations": {"summary": "Disk almost full", "description": "15% left", "runbook_url": "https://runbooks/disk"},
                "startsAt": "2026-11-28T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom:9090/graph?g0.expr=up",
                "fingerprint": "abc123"
            }]
        })
    }

    fn parse(v: &serde_json::Value) -> Result<AlertmanagerPayload, PayloadError> {
        AlertmanagerPayload::parse(v.to_string().as_bytes())
    }

    #[test]
    fn parses_v4_with_zero_end_time() {
        let p = parse(&sample("g1", "firing")).unwrap();
        assert_eq!(p.alerts[0].ended_at(), None);
        assert_eq!(p.status, Status::Firing);
    }

    #[test]
    fn dedupe_key_ignores_order_and_sender_but_not_status() {
        let mut a = sample("g1", "firing");
        let mut second = a["alerts"][0].clone();
        second["fingerprint"] = "def".into();
        a["alerts"].as_array_mut().unwrap().push(second);
        let mut b = a.clone();
        b["alerts"].as_array_mut().unwrap().reverse();
        b["receiver"] = "other-am".into();
        assert_eq!(
            parse(&a).unwrap().dedupe_key(),
            parse(&b).unwrap().dedupe_key()
        );
        let mut c = a.clone();
        c["status"] = "resolved".into();
        assert_ne!(
            parse(&a).unwrap().dedupe_key(),
            parse(&c).unwrap().dedupe_key()
        );
        let mut d = a.clone();
        d["alerts"][1]["status"] = "resolved".into();
        assert_ne!(
            parse(&a).unwrap().dedupe_key(),
            parse(&d).unwrap().dedupe_key()
        );
    }

    #[test]
    fn rejects_what_we_cannot_use() {
        let mut v = sample("g", "firing");
        v["version"] = "3".into();
        assert!(parse(&v).unwrap_err().to_string().contains("version"));
        let mut v = sample("g", "firing");
        v["alerts"] = serde_json::json!([]);
        assert!(parse(&v)
            .unwrap_err()
            .to_string()
            .contains("alerts is empty"));
        let mut v = sample("g", "firing");
        v["status"] = "burning".into();
        assert!(parse(&v)
            .unwrap_err()
            .to_string()
            .contains("unknown variant"));
        let mut v = sample("g", "firing");
        v.as_object_mut().unwrap().remove("groupKey");
        assert!(parse(&v).unwrap_err().to_string().contains("groupKey"));
        let mut v = sample("g", "firing");
        v["alerts"][0]["startsAt"] = "yesterday".into();
        assert!(parse(&v).is_err());
    }

    #[test]
    fn jenkins_payload_checks_fields() {
        let ok = br#"{"job":"srp","build":7,"result":"FAILURE","stage":"Build","url":"http://j/job/srp/7/"}"#;
        let p = JenkinsPayload::parse(ok).unwrap();
        assert_eq!(p.group_key(), "jenkins/srp/7");
        assert!(JenkinsPayload::parse(br#"{"job":"srp","build":7,"result":"MAYBE"}"#).is_err());
        assert!(JenkinsPayload::parse(br#"{"job":"srp","build":-1,"result":"SUCCESS"}"#).is_err());
        assert!(JenkinsPayload::parse(
            br#"{"job":"srp","build":1,"result":"SUCCESS","url":"not a url"}"#
        )
        .is_err());
        assert!(
            JenkinsPayload::parse(br#"{"job":"srp","build":1,"result":"SUCCESS","jbo":1}"#)
                .is_err()
        );
    }
}
