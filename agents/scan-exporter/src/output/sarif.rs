//! `--sarif-out`: every finding of every input in one SARIF 2.1.0 log, one
//! run per report. Waived and VEX-suppressed findings stay in the log with
//! SARIF `suppressions` (kind `external`, status `accepted`, the
//! justification, the expiry), so warnings-ng and code-scanning UIs show
//! what was waived instead of losing it (trivy #7382).

use crate::evaluate::{Decision, Input, Options, Outcome};
use crate::model::{Finding, Severity};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Unknown => "note",
    }
}

/// GitHub's `security-severity` score for a severity word.
fn score(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Unknown => "0.0",
    }
}

fn message(f: &Finding) -> String {
    let mut m = f.title.clone().unwrap_or_else(|| f.id.clone());
    if let Some(p) = f.pkg.as_deref().filter(|p| !p.is_empty()) {
        m.push_str(&format!(" ({p}"));
        if let Some(v) = &f.installed {
            m.push_str(&format!(" {v}"));
        }
        if let Some(v) = &f.fixed {
            m.push_str(&format!(", fixed in {v}"));
        }
        m.push(')');
    }
    m
}

fn suppression(outcome: Outcome, opts: &Options) -> Option<Value> {
    match outcome {
        Outcome::Waived(i) => {
            let w = opts.waivers()[i];
            let mut props = json!({ "waiver": w.source });
            if let Some(d) = w.expires {
                props["expires"] = json!(d.to_string());
            }
            if let Some(j) = w.justification {
                props["vexJustification"] = json!(j.as_str());
            }
            Some(json!({
                "kind": "external",
                "status": "accepted",
                "justification": w.reason,
                "properties": props,
            }))
        }
        Outcome::Suppressed(i) => {
            let s = &opts.vex[i];
            let mut props = json!({ "vexStatement": s.source, "vexStatus": s.status.as_str() });
            if let Some(d) = s.expires {
                props["expires"] = json!(d.to_string());
            }
            let why = match (&s.justification, s.note.is_empty()) {
                (Some(j), true) => j.clone(),
                (Some(j), false) => format!("{j}: {}", s.note),
                (None, false) => s.note.clone(),
                (None, true) => format!("VEX {}", s.status.as_str()),
            };
            Some(json!({
                "kind": "external",
                "status": "accepted",
                "justification": why,
                "properties": props,
            }))
        }
        _ => None,
    }
}

/// SARIF's `uri` is a URI reference: a Trivy target such as
/// `img.tar (photon 3.0)` has spaces and parentheses, percent-encoded here
/// (`/` and the other RFC 3986 reserved characters are kept).
fn uri_reference(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$&'*+,;=?#[]%".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn result(f: &Finding, outcome: Outcome) -> Value {
    let mut r = json!({
        "ruleId": f.id,
        "level": level(f.severity()),
        "message": { "text": message(f) },
        "partialFingerprints": { "srpFindingKey/v1": f.key() },
    });
    let uri = uri_reference(f.path.as_deref().unwrap_or(&f.target));
    if !uri.is_empty() {
        let mut physical = json!({ "artifactLocation": { "uri": uri } });
        if let Some(l) = f.line.filter(|l| *l > 0) {
            physical["region"] = json!({ "startLine": l });
        }
        r["locations"] = json!([{ "physicalLocation": physical }]);
    }
    if let Some(fp) = &f.stable_fingerprint {
        r["partialFingerprints"]["srpSecret/v1"] = json!(fp);
    }
    let mut props = Map::new();
    props.insert("class".into(), json!(f.class().as_str()));
    props.insert("severity".into(), json!(f.severity().as_str()));
    props.insert("target".into(), json!(f.target));
    for (k, v) in [
        ("pkg", &f.pkg),
        ("purl", &f.purl),
        ("installed", &f.installed),
        ("fixed", &f.fixed),
    ] {
        if let Some(v) = v {
            props.insert(k.into(), json!(v));
        }
    }
    props.insert(
        "blocking".into(),
        json!(matches!(outcome, Outcome::Blocked(_))),
    );
    r["properties"] = Value::Object(props);
    r
}

pub fn render(inputs: &[Input], decisions: &[Decision], opts: &Options) -> Vec<u8> {
    let mut by_input: BTreeMap<usize, Vec<&Decision>> = BTreeMap::new();
    for d in decisions {
        by_input.entry(d.input).or_default().push(d);
    }
    let mut runs = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let Ok(report) = &input.report else {
            // An unreadable report is a run that did not succeed, not a
            // clean one.
            runs.push(json!({
                "tool": { "driver": { "name": "srp-gate", "version": env!("CARGO_PKG_VERSION") } },
                "invocations": [{ "executionSuccessful": false,
                    "toolExecutionNotifications": [{ "level": "error",
                        "message": { "text": format!("{}: {}", input.path, input.report.as_ref().err().unwrap()) } }] }],
                "results": [],
            }));
            continue;
        };
        let mut rules: BTreeMap<&str, Severity> = BTreeMap::new();
        let mut results = Vec::new();
        for d in by_input.get(&i).into_iter().flatten() {
            let f = &report.findings[d.finding];
            let sev = rules.entry(f.id.as_str()).or_insert(f.severity());
            *sev = (*sev).max(f.severity());
            let mut r = result(f, d.outcome);
            if let Some(s) = suppression(d.outcome, opts) {
                r["suppressions"] = json!([s]);
            }
            results.push(r);
        }
        let rules: Vec<Value> = rules
            .into_iter()
            .map(|(id, sev)| {
                json!({
                    "id": id,
                    "properties": { "tags": [sev.as_str()], "security-severity": score(sev) },
                })
            })
            .collect();
        runs.push(json!({
            "tool": { "driver": {
                "name": report.scanner,
                "rules": rules,
            }},
            "invocations": [{ "executionSuccessful": true }],
            "properties": { "srpReport": input.path, "format": report.format.as_str() },
            "results": results,
        }));
    }
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": runs,
    });
    serde_json::to_vec_pretty(&log).expect("SARIF serializes")
}
