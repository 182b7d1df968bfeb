//! The release ledger's records: releases with their gate verdicts,
//! deployments per environment, incidents, and the write tokens.

use super::model::format_timestamp;
use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(t))
}

fn rfc3339_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_timestamp(t)),
        None => s.serialize_none(),
    }
}

/// One build of a project, as the pipeline's Build stage records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelease {
    pub build: i64,
    pub commit_sha: String,
    pub commit_time: DateTime<Utc>,
    pub image: String,
    pub digest: Option<String>,
    pub sbom_components: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub project_id: i64,
    pub build: i64,
    pub commit_sha: String,
    #[serde(serialize_with = "rfc3339")]
    pub commit_time: DateTime<Utc>,
    pub image: String,
    pub digest: Option<String>,
    pub sbom_components: Option<i64>,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Ordered by stage name.
    pub verdicts: Vec<Verdict>,
}

/// A security gate's answer for one stage of one release. Recording a stage
/// again replaces its verdict (the pipeline retries at the end of a run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub stage: String,
    pub passed: bool,
    /// The waiver ids the gate applied to let findings through.
    pub waivers: Vec<String>,
    pub summary: String,
    #[serde(serialize_with = "rfc3339")]
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVerdict {
    pub stage: String,
    pub passed: bool,
    pub waivers: Vec<String>,
    pub summary: String,
}

/// How a deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployResult {
    Succeeded,
    Failed,
}

/// The smoke test after a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Smoke {
    Passed,
    Failed,
    Skipped,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [&'static str] = &[$($text),*];
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($ty::$variant),)* _ => None }
            }
        }
    };
}
text_enum!(DeployResult { Succeeded = "succeeded", Failed = "failed" });
text_enum!(Smoke { Passed = "passed", Failed = "failed", Skipped = "skipped" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeployment {
    pub environment: String,
    pub build: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub result: DeployResult,
    pub smoke: Smoke,
    /// This deployment undoes the previous one in its environment (which
    /// then counts as a change failure).
    pub rollback: bool,
    pub triggered_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    pub id: i64,
    pub project_id: i64,
    pub environment: String,
    pub build: i64,
    #[serde(serialize_with = "rfc3339")]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub finished_at: DateTime<Utc>,
    pub result: DeployResult,
    pub smoke: Smoke,
    pub rollback: bool,
    pub triggered_by: String,
}

/// What runs in an environment: its last deployment that succeeded and
/// whose smoke test did not fail, and the release it deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Current {
    pub environment: String,
    pub deployment: Deployment,
    pub release: Release,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    pub environment: String,
    /// The alert's identity (Alertmanager's fingerprint): one open incident
    /// per key, so repeated notifications of a firing alert change nothing.
    pub key: String,
    pub title: String,
    pub opened_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub id: i64,
    pub project_id: i64,
    pub environment: String,
    pub key: String,
    pub title: String,
    #[serde(serialize_with = "rfc3339")]
    pub opened_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub closed_at: Option<DateTime<Utc>>,
}

/// Whether an open found the incident already open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    New(Incident),
    AlreadyOpen(Incident),
}

/// One deployment as the DORA computation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentFact {
    pub project: String,
    pub environment: String,
    pub build: i64,
    pub commit_time: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub result: DeployResult,
    pub smoke: Smoke,
    pub rollback: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFact {
    pub project: String,
    pub environment: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Everything the DORA metrics are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub deployments: Vec<DeploymentFact>,
    pub incidents: Vec<IncidentFact>,
}

/// A write token as listed (never its secret, which is stored only hashed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub name: String,
    pub scopes: Vec<String>,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub revoked_at: Option<DateTime<Utc>>,
}
