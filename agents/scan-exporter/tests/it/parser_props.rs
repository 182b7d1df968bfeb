//! Property tests of the four report parsers, on the real fixtures: cut,
//! mutated (a value replaced by random JSON, or a key deleted) and wholly
//! random documents. The parser must never panic, and a document it accepts
//! must be one it could fully read: an independent reading of the same JSON
//! (the oracle below, written from NOTES.md and the SARIF/CycloneDX specs)
//! finds it readable and counts the same findings.

use crate::fixture;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;
use srp_scan::formats::{parse, Parsed};
use srp_scan::model::Format;

/// Mutations per format; cut documents need fewer, since every strict
/// prefix must fail alike.
const CASES: u32 = 128;
const CUTS: u32 = 32;

fn load(files: &[&str]) -> Vec<(String, Value)> {
    files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(fixture(f)).unwrap();
            (f.to_string(), serde_json::from_slice(&bytes).unwrap())
        })
        .collect()
}

const TRIVY: &[&str] = &[
    "trivy/alpine-39.json.golden",
    "trivy/alpine-39-skip.json.golden",
    "trivy/debian-buster.json.golden",
    "trivy/gomod.json.golden",
    "trivy/helm.json.golden",
    "trivy/npm-with-suppressed.json.golden",
    "trivy/secrets.json.golden",
    "trivy/cargo.lock.json.golden",
];
const SARIF: &[&str] = &[
    "trivy/alpine-310.sarif.golden",
    "gitleaks/sarif_simple.sarif",
];
const GITLEAKS: &[&str] = &[
    "gitleaks/json_simple.json",
    "gitleaks/baseline.json",
    "gitleaks/empty.json",
];
const CYCLONEDX: &[&str] = &[
    "sbom/npm-cyclonedx.json.golden",
    "sbom/fluentd-multiple-lockfiles.cdx.json.golden",
];

/// Words from every vocabulary the gate reads, their near misses, and
/// nothing: what a broken or hostile report would hold.
const WORDS: &[&str] = &[
    "",
    "CRITICAL",
    "HIGH",
    "MEDIUM",
    "LOW",
    "UNKNOWN",
    "critical",
    "high",
    "none",
    "info",
    "severe",
    "FAIL",
    "fail",
    "FAILED",
    "PASS",
    "EXCEPTION",
    "fixed",
    "affected",
    "not_affected",
    "FIXED",
    "error",
    "warning",
    "note",
    "pass",
    "open",
    "review",
    "informational",
    "notApplicable",
    "2.1.0",
    "CycloneDX",
    "1.5",
    "library",
    "os-pkgs",
    "gitleaks",
    "Trivy",
    "9.8",
    "NaN",
    "srp-gate-summary",
];
/// Keys the gate reads, so random objects can collide with real fields.
const KEYS: &[&str] = &[
    "SchemaVersion",
    "Results",
    "Target",
    "Class",
    "Vulnerabilities",
    "Severity",
    "Status",
    "VulnerabilityID",
    "Misconfigurations",
    "ID",
    "RuleID",
    "File",
    "StartLine",
    "runs",
    "results",
    "version",
    "tool",
    "driver",
    "name",
    "ruleId",
    "kind",
    "level",
    "invocations",
    "executionSuccessful",
    "bomFormat",
    "specVersion",
    "components",
    "vulnerabilities",
    "ratings",
    "severity",
    "type",
    "id",
    "kind",
    "x",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..12).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-20.0f64..20.0).prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
        "[a-z0-9 .:-]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..3).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

// ---- mutation ----

/// Every node of a document, as JSON pointers, with the key it sits under.
fn pointers(v: &Value, at: &mut String, out: &mut Vec<(String, String)>, key: &str) {
    out.push((at.clone(), key.to_string()));
    let len = at.len();
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                at.push('/');
                at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                pointers(child, at, out, k);
                at.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                at.push_str(&format!("/{i}"));
                pointers(child, at, out, key);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Op {
    Replace(Value),
    Delete,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => json_value().prop_map(Op::Replace),
        1 => Just(Op::Delete),
    ]
}

/// A fixture with its nodes, listed once (a large SBOM has thousands).
struct Doc {
    value: Value,
    /// (JSON pointer, key above it) of every node.
    nodes: Vec<(String, String)>,
}

impl Doc {
    fn new(value: Value) -> Doc {
        let mut nodes = Vec::new();
        pointers(&value, &mut String::new(), &mut nodes, "");
        Doc { value, nodes }
    }
}

/// Apply `op` at the `pick`-th node; when `read_keys_only`, only among the
/// nodes under a key the gate reads, where a mutation matters most.
fn mutate(doc: &Doc, pick: prop::sample::Index, read_keys_only: bool, op: &Op) -> Value {
    let mut nodes: Vec<&String> = doc
        .nodes
        .iter()
        .filter(|(_, k)| !read_keys_only || KEYS.contains(&k.as_str()))
        .map(|(p, _)| p)
        .collect();
    if nodes.is_empty() {
        nodes = doc.nodes.iter().map(|(p, _)| p).collect();
    }
    let ptr = nodes[pick.index(nodes.len())].clone();
    let mut out = doc.value.clone();
    match op {
        Op::Replace(v) => match out.pointer_mut(&ptr) {
            Some(slot) => *slot = v.clone(),
            None => unreachable!("pointer from the same document"),
        },
        Op::Delete if ptr.is_empty() => out = Value::Null,
        Op::Delete => {
            let (parent, last) = ptr.rsplit_once('/').unwrap();
            let last = last.replace("~1", "/").replace("~0", "~");
            match out.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.remove(&last);
                }
                Some(Value::Array(a)) => {
                    a.remove(last.parse::<usize>().unwrap());
                }
                _ => unreachable!("a parent is a container"),
            }
        }
    }
    out
}

// ---- the oracle: an independent reading of what the gate must understand ----

/// What an independent reader makes of a document: whether every field the
/// gate decides on is present and within its vocabulary, and the findings.
#[derive(Debug, PartialEq)]
struct Reading {
    findings: usize,
    suppressed: u64,
}

type Oracle = Result<Reading, String>;

fn arr<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a [Value], String> {
    match v.get(key) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(format!("{at}.{key} is {other}")),
    }
}

fn word_in(v: Option<&Value>, words: &[&str], at: &str) -> Result<(), String> {
    match v.and_then(Value::as_str) {
        Some(s) if words.contains(&s) => Ok(()),
        _ => Err(format!("{at} = {v:?}")),
    }
}

const TRIVY_SEV: &[&str] = &["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

fn read_trivy(doc: &Value) -> Oracle {
    if doc.get("SchemaVersion") != Some(&Value::from(2)) {
        return Err("SchemaVersion".into());
    }
    let (mut findings, mut suppressed) = (0, 0);
    for r in arr(doc, "Results", "$")? {
        for v in arr(r, "Vulnerabilities", "r")? {
            word_in(v.get("Severity"), TRIVY_SEV, "vuln severity")?;
            match v.get("Status") {
                None => findings += 1,
                Some(s) => {
                    let ok = [
                        "unknown",
                        "not_affected",
                        "affected",
                        "fixed",
                        "under_investigation",
                        "will_not_fix",
                        "fix_deferred",
                        "end_of_life",
                    ];
                    word_in(Some(s), &ok, "vuln status")?;
                    if s == "not_affected" {
                        suppressed += 1;
                    } else {
                        findings += 1;
                    }
                }
            }
        }
        for s in arr(r, "Secrets", "r")? {
            word_in(s.get("Severity"), TRIVY_SEV, "secret severity")?;
            findings += 1;
        }
        for m in arr(r, "Misconfigurations", "r")? {
            word_in(m.get("Severity"), TRIVY_SEV, "misconf severity")?;
            word_in(
                m.get("Status"),
                &["PASS", "FAIL", "EXCEPTION"],
                "misconf status",
            )?;
            match m["Status"].as_str() {
                Some("FAIL") => findings += 1,
                Some("EXCEPTION") => suppressed += 1,
                _ => {}
            }
        }
        for l in arr(r, "Licenses", "r")? {
            word_in(l.get("Severity"), TRIVY_SEV, "licence severity")?;
            findings += 1;
        }
        suppressed += arr(r, "ExperimentalModifiedFindings", "r")?.len() as u64;
    }
    Ok(Reading {
        findings,
        suppressed,
    })
}

fn read_gitleaks(doc: &Value) -> Oracle {
    let list = doc.as_array().ok_or("not an array")?;
    for f in list {
        match f.get("RuleID").and_then(Value::as_str) {
            Some(r) if !r.is_empty() => {}
            _ => return Err("RuleID".into()),
        }
    }
    Ok(Reading {
        findings: list.len(),
        suppressed: 0,
    })
}

fn read_sarif(doc: &Value) -> Oracle {
    let runs = arr(doc, "runs", "$")?;
    if runs.is_empty() {
        return Err("no runs".into());
    }
    let mut findings = 0;
    for run in runs {
        for inv in arr(run, "invocations", "run")? {
            if inv.get("executionSuccessful") != Some(&Value::Bool(true)) {
                return Err("executionSuccessful".into());
            }
        }
        let Some(Value::Array(results)) = run.get("results") else {
            return Err("results missing".into());
        };
        for res in results {
            if let Some(l) = res.get("level") {
                word_in(Some(l), &["error", "warning", "note", "none"], "level")?;
            }
            match res.get("kind") {
                None => findings += 1,
                Some(k) => {
                    let all = [
                        "fail",
                        "open",
                        "review",
                        "pass",
                        "notApplicable",
                        "informational",
                    ];
                    word_in(Some(k), &all, "kind")?;
                    if all[..3].contains(&k.as_str().unwrap()) {
                        findings += 1;
                    }
                }
            }
        }
    }
    Ok(Reading {
        findings,
        suppressed: 0,
    })
}

fn read_cyclonedx(doc: &Value) -> Oracle {
    let mut findings = 0;
    for v in arr(doc, "vulnerabilities", "$")? {
        let ratings = arr(v, "ratings", "vuln")?;
        let mut rated = false;
        for r in ratings {
            if let Some(s) = r.get("severity") {
                let ok = [
                    "critical", "high", "medium", "low", "info", "none", "unknown",
                ];
                word_in(Some(s), &ok, "rating severity")?;
                rated = true;
            }
        }
        if !rated {
            return Err("no rated severity".into());
        }
        findings += arr(v, "affects", "vuln")?.len().max(1);
    }
    Ok(Reading {
        findings,
        suppressed: 0,
    })
}

/// A document holding the keys of two formats reads as neither.
fn ambiguous(doc: &Value) -> bool {
    let Some(m) = doc.as_object() else {
        return false;
    };
    let has = |keys: &[&str]| keys.iter().any(|k| m.contains_key(*k));
    let groups = [
        has(&[
            "SchemaVersion",
            "ArtifactName",
            "ArtifactType",
            "CreatedAt",
            "Results",
        ]),
        has(&[
            "bomFormat",
            "specVersion",
            "metadata",
            "components",
            "vulnerabilities",
        ]),
        has(&["runs"]),
        has(&["kind"]),
    ];
    groups.iter().filter(|g| **g).count() > 1
}

/// The property: no panic (a panic fails the case), and an accepted report
/// is one the oracle finds readable, with the same findings, each with a
/// class and a severity.
fn check(doc_bytes: &[u8], doc: Option<&Value>) -> Result<(), TestCaseError> {
    let parsed = parse(doc_bytes);
    let (Ok(Parsed::Report(report)), Some(doc)) = (parsed, doc) else {
        return Ok(());
    };
    prop_assert!(!ambiguous(doc), "ambiguous document accepted");
    let oracle = match report.format {
        Format::Trivy => read_trivy(doc),
        Format::Gitleaks => read_gitleaks(doc),
        Format::Sarif => read_sarif(doc),
        Format::Cyclonedx => read_cyclonedx(doc),
    };
    let reading = match oracle {
        Ok(r) => r,
        Err(why) => {
            return Err(TestCaseError::fail(format!(
                "accepted as {:?} a document the oracle cannot read ({why})",
                report.format
            )))
        }
    };
    for f in &report.findings {
        prop_assert!(f.severity.is_some() && f.class.is_some(), "{f:?}");
    }
    prop_assert_eq!(report.findings.len(), reading.findings, "findings");
    if report.format == Format::Trivy {
        prop_assert_eq!(report.suppressed, reading.suppressed, "suppressed");
    }
    Ok(())
}

fn mutation_property(files: &[&str], cases: u32) {
    let docs: Vec<Doc> = load(files).into_iter().map(|(_, v)| Doc::new(v)).collect();
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        which in any::<prop::sample::Index>(),
        pick in any::<prop::sample::Index>(),
        read_keys_only in any::<bool>(),
        op in op(),
    )| {
        let doc = &docs[which.index(docs.len())];
        let mutated = mutate(doc, pick, read_keys_only, &op);
        let bytes = serde_json::to_vec(&mutated).unwrap();
        check(&bytes, Some(&mutated))?;
    });
}

fn truncation_property(files: &[&str]) {
    let docs: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(fixture(f)).unwrap())
        .collect();
    let config = ProptestConfig {
        cases: CUTS,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(which in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>())| {
        let doc = &docs[which.index(docs.len())];
        let end = doc.iter().rposition(|b| !b.is_ascii_whitespace()).unwrap();
        // A strict prefix of a JSON object or array is never a whole document.
        let prefix = &doc[..cut.index(end + 1)];
        prop_assert!(parse(prefix).is_err(), "a cut document was accepted: {} bytes", prefix.len());
    });
}

/// The fields a verdict depends on, as JSON pointer patterns (`*` is any
/// index), with values that are never valid there. Breaking any one of them
/// (or deleting it) must make the whole document an error.
struct Required {
    pattern: &'static str,
    bad: fn() -> Vec<Value>,
    /// False where the key may be left out (a CycloneDX rating may carry
    /// only a score).
    required: bool,
}

fn matches(pattern: &str, ptr: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), ptr.split('/').collect());
    p.len() == q.len()
        && p.iter()
            .zip(&q)
            .all(|(a, b)| a == b || (*a == "*" && b.parse::<usize>().is_ok()))
}

fn broken_words(words: &[&str]) -> Vec<Value> {
    let mut v: Vec<Value> = words.iter().map(|w| Value::from(*w)).collect();
    v.extend([
        Value::Null,
        Value::from(""),
        Value::from(4),
        Value::Array(vec![]),
    ]);
    v
}

fn broken_field_property(files: &[&str], required: &[Required], cases: u32) {
    let docs: Vec<Doc> = load(files).into_iter().map(|(_, v)| Doc::new(v)).collect();
    // Every (document, pointer, bad values) that exists in the fixtures.
    let mut targets = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        for (ptr, _) in &doc.nodes {
            for r in required {
                if matches(r.pattern, ptr) {
                    targets.push((d, ptr.clone(), (r.bad)(), r.required));
                }
            }
        }
    }
    assert!(!targets.is_empty(), "no required field in {files:?}");
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(t in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(), delete in any::<bool>())| {
        let (d, ptr, bad, required) = &targets[t.index(targets.len())];
        let mut doc = docs[*d].value.clone();
        let what = if delete && *required {
            let (parent, last) = ptr.rsplit_once('/').unwrap();
            match doc.pointer_mut(parent) {
                Some(Value::Object(m)) => { m.remove(last); }
                _ => unreachable!("required fields are object keys"),
            }
            "deleted".to_string()
        } else {
            let v = bad[b.index(bad.len())].clone();
            *doc.pointer_mut(ptr).unwrap() = v.clone();
            format!("set to {v}")
        };
        let bytes = serde_json::to_vec(&doc).unwrap();
        prop_assert!(parse(&bytes).is_err(), "{}: {ptr} {what}, and the report was accepted", files[*d]);
    });
}

fn trivy_severities() -> Vec<Value> {
    broken_words(&["critical", "High", "SEVERE", "NONE"])
}

const TRIVY_REQUIRED: &[Required] = &[
    Required {
        pattern: "/Results/*/Vulnerabilities/*/Severity",
        bad: trivy_severities,
        required: true,
    },
    Required {
        pattern: "/Results/*/Secrets/*/Severity",
        bad: trivy_severities,
        required: true,
    },
    Required {
        pattern: "/Results/*/Misconfigurations/*/Severity",
        bad: trivy_severities,
        required: true,
    },
    Required {
        pattern: "/Results/*/Misconfigurations/*/Status",
        bad: || broken_words(&["fail", "FAILED", "pass", "ERROR"]),
        required: true,
    },
    Required {
        pattern: "/Results/*/Vulnerabilities/*/VulnerabilityID",
        bad: || broken_words(&[]),
        required: true,
    },
    Required {
        pattern: "/Results/*/Target",
        bad: || vec![Value::Null, Value::from(1)],
        required: true,
    },
];
const SARIF_REQUIRED: &[Required] = &[
    Required {
        pattern: "/runs/*/results",
        bad: || vec![Value::Null, Value::from("none")],
        required: true,
    },
    Required {
        pattern: "/runs/*/tool/driver/name",
        bad: || broken_words(&[]),
        required: true,
    },
    Required {
        pattern: "/runs/*/results/*/ruleId",
        bad: || broken_words(&[]),
        required: true,
    },
];
const GITLEAKS_REQUIRED: &[Required] = &[
    Required {
        pattern: "/*/RuleID",
        bad: || broken_words(&[]),
        required: true,
    },
    Required {
        pattern: "/*/File",
        bad: || vec![Value::Null, Value::from(1)],
        required: true,
    },
    Required {
        pattern: "/*/StartLine",
        bad: || vec![Value::Null, Value::from("1"), Value::from(-1)],
        required: true,
    },
];
const CYCLONEDX_REQUIRED: &[Required] = &[
    Required {
        pattern: "/vulnerabilities/*/ratings/*/severity",
        bad: || {
            vec![
                Value::Null,
                Value::from(""),
                Value::from("CRITICAL"),
                Value::from("severe"),
            ]
        },
        required: false,
    },
    Required {
        pattern: "/vulnerabilities/*/ratings",
        bad: || vec![Value::Null, Value::Array(vec![])],
        required: true,
    },
    Required {
        pattern: "/vulnerabilities/*/id",
        bad: || broken_words(&[]),
        required: true,
    },
    Required {
        pattern: "/components/*/type",
        bad: || broken_words(&["lib", "Library"]),
        required: true,
    },
    Required {
        pattern: "/specVersion",
        bad: || broken_words(&["2.0", "1.1"]),
        required: true,
    },
];

#[test]
fn trivy_parser_never_accepts_a_broken_or_cut_report() {
    mutation_property(TRIVY, CASES);
    truncation_property(TRIVY);
    broken_field_property(TRIVY, TRIVY_REQUIRED, CASES);
}

#[test]
fn sarif_parser_never_accepts_a_broken_or_cut_report() {
    mutation_property(SARIF, CASES);
    truncation_property(SARIF);
    broken_field_property(SARIF, SARIF_REQUIRED, CASES);
}

#[test]
fn gitleaks_parser_never_accepts_a_broken_or_cut_report() {
    mutation_property(GITLEAKS, CASES);
    truncation_property(GITLEAKS);
    broken_field_property(GITLEAKS, GITLEAKS_REQUIRED, CASES);
}

/// Half the cases: the 263 kB fluentd SBOM makes each one slow in debug.
#[test]
fn cyclonedx_parser_never_accepts_a_broken_or_cut_report() {
    mutation_property(CYCLONEDX, CASES / 2);
    truncation_property(CYCLONEDX);
    broken_field_property(CYCLONEDX, CYCLONEDX_REQUIRED, CASES / 2);
}

/// Wholly random documents and bytes: never a panic, never an unreadable
/// document accepted.
#[test]
fn random_documents_and_bytes() {
    let config = ProptestConfig {
        cases: CASES * 4,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(doc in json_value(), bytes in prop::collection::vec(any::<u8>(), 0..64))| {
        let text = serde_json::to_vec(&doc).unwrap();
        check(&text, Some(&doc))?;
        check(&bytes, serde_json::from_slice::<Value>(&bytes).ok().as_ref())?;
    });
}

/// Every real fixture still parses, as the format it is.
#[test]
fn every_fixture_parses() {
    for (files, format) in [
        (TRIVY, Format::Trivy),
        (SARIF, Format::Sarif),
        (GITLEAKS, Format::Gitleaks),
        (CYCLONEDX, Format::Cyclonedx),
    ] {
        for (name, doc) in load(files) {
            let bytes = serde_json::to_vec(&doc).unwrap();
            match parse(&bytes) {
                Ok(Parsed::Report(r)) => assert_eq!(r.format, format, "{name}"),
                Ok(Parsed::Summary(_)) => panic!("{name}: read as a summary"),
                Err(e) => panic!("{name}: {e}"),
            }
            check(&bytes, Some(&doc)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
