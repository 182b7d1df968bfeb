//! The `/health` contract shared by every daemon: 200 `{"status":"ok"}` when
//! every check passes, 503 `{"status":"degraded"}` naming the failed checks.

use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    pub fn ok() -> Self {
        Check {
            ok: true,
            detail: None,
        }
    }
    pub fn failed(detail: impl Into<String>) -> Self {
        Check {
            ok: false,
            detail: Some(detail.into()),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HealthReport {
    pub checks: BTreeMap<String, Check>,
    /// Extra fields merged into the top level of the body (e.g. version).
    #[serde(skip)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl HealthReport {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn check(mut self, name: &str, check: Check) -> Self {
        self.checks.insert(name.to_string(), check);
        self
    }
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }
    pub fn is_ok(&self) -> bool {
        self.checks.values().all(|c| c.ok)
    }
    /// The JSON body: `status`, `checks`, and `failed` (names) when degraded.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert(
            "status".into(),
            if self.is_ok() { "ok" } else { "degraded" }.into(),
        );
        for (k, v) in &self.extra {
            body.insert(k.clone(), v.clone());
        }
        body.insert(
            "checks".into(),
            serde_json::to_value(&self.checks).expect("checks serialize"),
        );
        if !self.is_ok() {
            let failed: Vec<&String> = self
                .checks
                .iter()
                .filter(|(_, c)| !c.ok)
                .map(|(k, _)| k)
                .collect();
            body.insert("failed".into(), serde_json::json!(failed));
        }
        serde_json::Value::Object(body)
    }
}

/// How a daemon reports its health: an async function called per request.
pub type HealthFn =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = HealthReport> + Send>> + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degraded_report_names_failed_checks() {
        let r = HealthReport::new()
            .check("database", Check::failed("connection refused"))
            .check("disk", Check::ok());
        assert!(!r.is_ok());
        let b = r.body();
        assert_eq!(b["status"], "degraded");
        assert_eq!(b["failed"], serde_json::json!(["database"]));
        assert_eq!(b["checks"]["database"]["detail"], "connection refused");
    }

    #[test]
    fn ok_report_has_no_failed_list() {
        let b = HealthReport::new()
            .check("a", Check::ok())
            .with("version", "1")
            .body();
        assert_eq!(b["status"], "ok");
        assert_eq!(b["version"], "1");
        assert!(b.get("failed").is_none());
    }
}
