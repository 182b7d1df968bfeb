//! Turning bytes (a pushed body or a dropped file) into a stored summary, or
//! into a counted, logged ingest error that leaves the last good figures as
//! they were.

use super::labels::{self, check_label, FieldError};
use super::ledger::FileLedger;
use super::metrics::ScanMetrics;
use super::open::Refusal;
use super::store::{IngestMeta, Store, StoreError};
use crate::evaluate::{evaluate, Input, Options};
use crate::formats::{self, ParseError, Parsed};
use crate::input::{self, InputError};
use crate::policy::Policy;
use crate::summary::{Summary, KIND};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Input(#[from] InputError),
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    BadRequest(String),
    /// A query parameter of `POST /reports` missing or unusable.
    #[error("{message}")]
    Param { name: &'static str, message: String },
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("{0}")]
    Field(#[from] FieldError),
    #[error("{0} reports are being ingested already, the most --max-concurrent-ingests allows; retry later")]
    Busy(usize),
}

impl IngestError {
    /// The `reason` label of srp_scan_ingest_errors_total.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Input(e) => e.reason(),
            IngestError::Parse(e) => e.reason(),
            IngestError::Store(_) => "storage",
            IngestError::BadRequest(_) | IngestError::Param { .. } => "bad_request",
            IngestError::Refused(r) => r.reason(),
            IngestError::Field(_) => "invalid_field",
            IngestError::Busy(_) => "busy",
        }
    }
}

/// Where a report came from; `target` unset means "from the report".
#[derive(Debug, Clone)]
pub struct Origin {
    pub pipeline: String,
    pub build: String,
    pub target: Option<String>,
    pub source: String,
    /// Used when neither the caller nor the report names a target.
    pub fallback_target: String,
}

/// The target a report names for itself: for an image, its repository
/// without tag or digest, so `app:41` and `app:42` are one target.
fn stable_target(artifact: &str, image: bool) -> String {
    if image {
        crate::model::image_repository(artifact).to_string()
    } else {
        artifact.to_string()
    }
}

/// Where a report keeps the artifact name, for an error that says which
/// field to fix.
fn artifact_field(format: crate::model::Format) -> &'static str {
    match format {
        crate::model::Format::Trivy => "ArtifactName",
        crate::model::Format::Cyclonedx => "metadata.component.name",
        _ => "artifact",
    }
}

/// Every string of the summary that becomes a label (scanner names, SBOM
/// component types) is checked; the rest of the summary is only stored.
fn check_summary_labels(s: &Summary) -> Result<(), FieldError> {
    for r in &s.reports {
        if let Some(scanner) = &r.scanner {
            check_label("scanner (tool name)", scanner)?;
        }
    }
    for row in &s.sbom {
        for t in row.counts.by_type.keys() {
            check_label("SBOM component type (purl type)", t)?;
        }
    }
    Ok(())
}

pub struct Exporter {
    pub store: Store,
    /// The reports directory's files already handled.
    pub ledger: FileLedger,
    pub metrics: ScanMetrics,
    pub policy: Policy,
    pub max_bytes: u64,
}

pub type Shared = Arc<Exporter>;

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl Exporter {
    /// Parse, judge (raw reports with the exporter's policy; an srp-gate
    /// summary keeps the gate's own verdict), store, and refresh the gauges.
    ///
    /// The returned summary's `finding_keys` have moved into the store.
    pub fn ingest<B: AsRef<[u8]>>(
        &self,
        bytes: B,
        origin: &Origin,
    ) -> Result<(i64, Summary), IngestError> {
        input::check_bytes(bytes.as_ref())?;
        let parsed = formats::parse(bytes.as_ref())?;
        // An SBOM's components, for the diff with the target's next SBOM.
        let components = match &parsed {
            Parsed::Report(r) if r.sbom.is_some() => {
                Some(crate::sbom_diff::components(bytes.as_ref())?)
            }
            _ => None,
        };
        // The raw report is the largest thing in memory: free it before
        // judging and storing.
        drop(bytes);
        let (mut summary, artifact) = match parsed {
            Parsed::Report(report) => {
                let artifact = report
                    .artifact
                    .as_deref()
                    .map(|a| stable_target(a, report.image));
                if let Some(a) = &artifact {
                    check_label(artifact_field(report.format), a)?;
                }
                let opts = Options::new(self.policy.clone(), chrono::Utc::now().date_naive());
                let s = evaluate(
                    &[Input {
                        path: origin.source.clone(),
                        report: Ok(report),
                    }],
                    &opts,
                );
                (s, artifact)
            }
            Parsed::Summary(s) => {
                if s.kind != KIND {
                    return Err(IngestError::BadRequest(format!(
                        "unknown kind \"{}\"",
                        labels::for_log(&s.kind)
                    )));
                }
                let artifact = s
                    .reports
                    .iter()
                    .find_map(|r| r.artifact.as_deref().map(|a| stable_target(a, r.image)));
                if let Some(a) = &artifact {
                    check_label("reports[].artifact", a)?;
                }
                (*s, artifact)
            }
        };
        let target = origin
            .target
            .clone()
            .filter(|t| !t.is_empty())
            .or(artifact)
            .unwrap_or_else(|| origin.fallback_target.clone());
        check_summary_labels(&summary)?;
        // The origin's names come from a query or from directory names: a
        // directory named with a newline must not become a label either.
        check_label("pipeline", &origin.pipeline)?;
        check_label("build", &origin.build)?;
        check_label("target", &target)?;
        let meta = IngestMeta {
            pipeline: origin.pipeline.clone(),
            build: origin.build.clone(),
            target,
            source: origin.source.clone(),
        };
        let id = self
            .store
            .insert(&meta, &mut summary, components.as_ref(), now())?;
        tracing::info!(
            pipeline = %meta.pipeline,
            build = %meta.build,
            target = %meta.target,
            source = %labels::for_log(&meta.source),
            verdict = summary.verdict.as_str(),
            blocking = summary.blocking.len(),
            "report ingested"
        );
        self.refresh()?;
        Ok((id, summary))
    }

    /// Count and log a refused report.
    pub fn record_error(&self, err: &IngestError, source: &str) {
        let reason = err.reason();
        self.metrics
            .ingest_errors
            .with_label_values(&[reason])
            .inc();
        tracing::warn!(
            source = %labels::for_log(source),
            reason,
            error = %labels::for_log(&err.to_string()),
            "report refused"
        );
    }

    /// Rebuild the gauges from the database.
    pub fn refresh(&self) -> Result<(), StoreError> {
        let snap = self.store.snapshot()?;
        self.metrics.apply(&snap, chrono::Utc::now().date_naive());
        Ok(())
    }
}
