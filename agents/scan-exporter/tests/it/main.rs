//! Integration tests: the real `srp-gate` and `srp-scan-exporter` binaries
//! against the real scanner outputs in ../shared/fixtures.

mod broken_reports;
mod exploit;
mod exporter;
mod exporter_daemon;
mod exporter_safety;
mod fingerprints;
mod fixtures;
mod malformed;
mod parser_props;
mod policy;
mod sarif_out;
mod syft;
mod vex;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

pub fn fixture(rel: &str) -> PathBuf {
    let p = srp_testkit::fixtures().join(rel);
    assert!(p.exists(), "fixture missing: {}", p.display());
    p
}

pub struct GateRun {
    pub code: i32,
    pub summary: Value,
    pub junit: String,
    pub stdout: String,
    pub stderr: String,
}

/// Run srp-gate with `args`, always asking for the JSON summary and JUnit.
pub fn gate<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> GateRun {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let junit = dir.path().join("junit.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_srp-gate"))
        .args(args)
        .arg("--summary-json")
        .arg(&summary)
        .arg("--junit")
        .arg(&junit)
        .output()
        .expect("srp-gate runs");
    let code = out.status.code().expect("exit code, not a signal");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap_or_default()).unwrap_or(Value::Null);
    GateRun {
        code,
        summary,
        junit: std::fs::read_to_string(&junit).unwrap_or_default(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl GateRun {
    /// Total findings of a class with a severity, over every target.
    pub fn count(&self, class: &str, severity: &str) -> u64 {
        self.summary["counts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["class"] == class && c["severity"] == severity)
            .map(|c| c["count"].as_u64().unwrap())
            .sum()
    }
    pub fn total(&self) -> u64 {
        self.summary["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["count"].as_u64().unwrap())
            .sum()
    }
    pub fn blocking(&self) -> usize {
        self.summary["blocking"].as_array().unwrap().len()
    }
    pub fn blocking_ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self.summary["blocking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    }
    pub fn debug(&self) -> String {
        format!(
            "code {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}
