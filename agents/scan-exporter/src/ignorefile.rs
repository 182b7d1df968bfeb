//! The scanners' own ignore files, read as waivers so they are reported the
//! same way (used, expired, unused):
//! - `.trivyignore`: one id per line, `#` comments, optional `exp:YYYY-MM-DD`;
//!   other fields are ignored; a bad date is a warning and the line is skipped
//!   (Trivy's behaviour). An expired entry stops applying.
//! - `.gitleaksignore`: one fingerprint per line, the commit form
//!   `commit:file:rule:line` or the global form `file:rule:line`, or
//!   srp-gate's stable form `file:rule:hmac-HEX`; any other shape is a
//!   warning and is skipped (Gitleaks' behaviour).

use crate::policy::Waiver;
use chrono::NaiveDate;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is a YAML ignore file (trivy --ignorefile x.yaml, experimental); srp-gate reads the plain .trivyignore format: write these entries as policy waivers instead")]
    Yaml { path: String },
}

pub struct Parsed {
    pub waivers: Vec<Waiver>,
    pub warnings: Vec<String>,
}

fn read(path: &Path) -> Result<String, IgnoreError> {
    crate::input::read_text_file(path).map_err(|source| IgnoreError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

pub fn load_trivyignore(path: &Path) -> Result<Parsed, IgnoreError> {
    let text = read(path)?;
    let name = file_name(path);
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    ) || text.lines().any(|l| {
        matches!(
            l.trim_end(),
            "vulnerabilities:" | "misconfigurations:" | "secrets:" | "licenses:"
        )
    });
    if is_yaml {
        return Err(IgnoreError::Yaml {
            path: path.display().to_string(),
        });
    }
    Ok(parse_trivyignore(&text, &name))
}

pub fn parse_trivyignore(text: &str, name: &str) -> Parsed {
    let mut out = Parsed {
        waivers: Vec::new(),
        warnings: Vec::new(),
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let id = fields.next().unwrap_or_default().to_string();
        let mut expires = None;
        let mut bad = false;
        for f in fields {
            if let Some(d) = f.strip_prefix("exp:") {
                match NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .ok()
                    .filter(|_| d.len() == 10)
                    .ok_or(())
                {
                    Ok(d) => expires = Some(d),
                    Err(_) => bad = true,
                }
            }
        }
        if bad {
            out.warnings.push(format!(
                "{name}:{}: bad exp: date, line skipped: {line}",
                i + 1
            ));
            continue;
        }
        out.waivers.push(Waiver {
            source: format!("{name}:{}", i + 1),
            id: Some(id),
            purl: None,
            path: None,
            fingerprint: None,
            reason: format!("listed in {name}"),
            justification: None,
            expires,
        });
    }
    out
}

pub fn load_gitleaksignore(path: &Path) -> Result<Parsed, IgnoreError> {
    let text = read(path)?;
    Ok(parse_gitleaksignore(&text, &file_name(path)))
}

pub fn parse_gitleaksignore(text: &str, name: &str) -> Parsed {
    let mut out = Parsed {
        waivers: Vec::new(),
        warnings: Vec::new(),
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts = line.split(':').count();
        // Gitleaks' forms end in a line number; srp-gate's stable form
        // (`file:rule:hmac-…`, see `fingerprint`) in the secret's keyed hash.
        let line_no_ok = line.rsplit(':').next().is_some_and(|n| {
            n.parse::<u64>().is_ok() || (parts == 3 && crate::fingerprint::is_stable_hash(n))
        });
        if !(parts == 3 || parts == 4) || !line_no_ok {
            out.warnings.push(format!(
                "{name}:{}: invalid .gitleaksignore entry, skipped: {line}",
                i + 1
            ));
            continue;
        }
        out.waivers.push(Waiver {
            source: format!("{name}:{}", i + 1),
            id: None,
            purl: None,
            path: None,
            fingerprint: Some(line.to_string()),
            reason: format!("listed in {name}"),
            justification: None,
            expires: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivyignore_fields() {
        let p = parse_trivyignore(
            "# c\nCVE-1\nCVE-2 exp:2020-01-01 k:v\nCVE-3 exp:20-1-1\n",
            "t",
        );
        assert_eq!(p.waivers.len(), 2);
        assert_eq!(p.waivers[1].expires, NaiveDate::from_ymd_opt(2020, 1, 1));
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn gitleaksignore_shapes() {
        let p = parse_gitleaksignore("a.go:rule:20\nc:a.go:rule:20\nnonsense\na:b\n", "g");
        assert_eq!(p.waivers.len(), 2);
        assert_eq!(p.warnings.len(), 2);
    }
}
