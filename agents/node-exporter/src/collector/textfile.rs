//! Metrics from `*.prom` files in `--collector.textfile.directory`, as
//! node_exporter's textfile collector: files are parsed in name order, a file
//! that does not parse (or carries client-side timestamps) is skipped whole
//! and sets `node_textfile_scrape_error 1`; `node_textfile_mtime_seconds{file}`
//! reports each file read.

use super::{CollectError, Collector};
use crate::exposition::{Exposition, MetricType};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Family {
    pub name: String,
    pub help: Option<String>,
    pub kind: MetricType,
    /// Sample lines as written in the file (validated), without newline.
    pub samples: Vec<String>,
}

fn valid_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_' || ch == ':')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':')
}

fn valid_value(s: &str) -> bool {
    matches!(s, "NaN" | "+Inf" | "-Inf" | "Inf") || s.parse::<f64>().is_ok()
}

/// Split `name{labels} value [ts]` into (name, rest after labels), checking
/// the label syntax on the way.
fn split_sample(line: &str) -> Result<(&str, &str), String> {
    let end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..end];
    if !valid_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[end..];
    if let Some(labels) = rest.strip_prefix('{') {
        let b = labels.as_bytes();
        let mut i = 0;
        loop {
            while i < b.len() && (b[i] == b' ' || b[i] == b',') {
                i += 1;
            }
            if i < b.len() && b[i] == b'}' {
                i += 1;
                break;
            }
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if start == i || i + 1 >= b.len() || b[i] != b'=' || b[i + 1] != b'"' {
                return Err(format!("bad label set in {line:?}"));
            }
            i += 2;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            if i >= b.len() {
                return Err(format!("unterminated label value in {line:?}"));
            }
            i += 1;
        }
        rest = &labels[i..];
    }
    Ok((name, rest))
}

/// Parse one file's text into families (sample order kept).
pub fn parse(text: &str) -> Result<Vec<Family>, String> {
    let mut fams: Vec<Family> = Vec::new();
    let find = |fams: &mut Vec<Family>, name: &str| -> usize {
        if let Some(i) = fams.iter().position(|f| f.name == name) {
            return i;
        }
        fams.push(Family {
            name: name.to_string(),
            help: None,
            kind: MetricType::Untyped,
            samples: Vec::new(),
        });
        fams.len() - 1
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            let mut parts = c.trim_start().splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), help) => {
                    if !valid_name(name) {
                        return Err(format!("line {}: invalid metric name", n + 1));
                    }
                    let i = find(&mut fams, name);
                    fams[i].help = Some(help.unwrap_or("").to_string());
                }
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !valid_name(name) {
                        return Err(format!("line {}: invalid metric name", n + 1));
                    }
                    let kind = MetricType::parse(kind.trim())
                        .ok_or_else(|| format!("line {}: unknown type {kind:?}", n + 1))?;
                    let i = find(&mut fams, name);
                    if !fams[i].samples.is_empty() {
                        return Err(format!("line {}: TYPE after samples of {name}", n + 1));
                    }
                    fams[i].kind = kind;
                }
                _ => {}
            }
            continue;
        }
        let (name, rest) = split_sample(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let mut vals = rest.split_whitespace();
        let value = vals.next().unwrap_or("");
        if !valid_value(value) {
            return Err(format!("line {}: invalid value {value:?}", n + 1));
        }
        if vals.next().is_some() {
            return Err(format!(
                "line {}: client-side timestamps are not supported",
                n + 1
            ));
        }
        // Histogram and summary samples belong to their base family.
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|s| name.strip_suffix(s))
            .find(|base| {
                fams.iter().any(|f| {
                    f.name == *base && matches!(f.kind, MetricType::Histogram | MetricType::Summary)
                })
            })
            .unwrap_or(name);
        let i = find(&mut fams, family);
        fams[i].samples.push(line.to_string());
    }
    fams.retain(|f| !f.samples.is_empty());
    Ok(fams)
}

pub struct Textfile {
    dir: Option<PathBuf>,
}

impl Textfile {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "prom"))
            .collect();
        files.sort();
        Ok(files)
    }
}

impl Collector for Textfile {
    fn name(&self) -> &'static str {
        "textfile"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut error = false;
        let mut merged: Vec<(Family, Vec<String>)> = Vec::new();
        let mut mtimes: Vec<(String, f64)> = Vec::new();
        if let Some(dir) = &self.dir {
            match Self::files(dir) {
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), "reading textfile directory: {e}");
                    error = true;
                }
                Ok(files) => {
                    for f in files {
                        let read = std::fs::read_to_string(&f).and_then(|t| {
                            let mtime = std::fs::metadata(&f)?
                                .modified()?
                                .duration_since(std::time::UNIX_EPOCH)
                                .map(|d| d.as_secs_f64())
                                .unwrap_or(0.0);
                            Ok((t, mtime))
                        });
                        let (text, mtime) = match read {
                            Ok(x) => x,
                            Err(e) => {
                                tracing::warn!(file = %f.display(), "reading textfile: {e}");
                                error = true;
                                continue;
                            }
                        };
                        let fams = match parse(&text) {
                            Ok(x) => x,
                            Err(e) => {
                                tracing::warn!(file = %f.display(), "skipping textfile: {e}");
                                error = true;
                                continue;
                            }
                        };
                        let shown = f.display().to_string();
                        for fam in fams {
                            match merged.iter_mut().find(|(m, _)| m.name == fam.name) {
                                Some((m, _)) if m.kind != fam.kind => {
                                    tracing::warn!(file = %shown, metric = %fam.name, "type differs from an earlier file; skipped");
                                    error = true;
                                }
                                Some((m, files)) => {
                                    m.samples.extend(fam.samples);
                                    if m.help.is_none() {
                                        m.help = fam.help;
                                    }
                                    files.push(shown.clone());
                                }
                                None => merged.push((fam, vec![shown.clone()])),
                            }
                        }
                        mtimes.push((shown, mtime));
                    }
                }
            }
        }

        let taken: HashSet<String> = if merged.is_empty() {
            HashSet::new()
        } else {
            out.family_names().map(String::from).collect()
        };
        for (fam, files) in &merged {
            if taken.contains(&fam.name) {
                tracing::warn!(metric = %fam.name, "textfile metric clashes with a collector's; skipped");
                error = true;
                continue;
            }
            let help = fam
                .help
                .clone()
                .unwrap_or_else(|| format!("Metric read from {}", files.join(", ")));
            let mut text = String::with_capacity(64 + fam.samples.len() * 48);
            text.push_str("# HELP ");
            text.push_str(&fam.name);
            text.push(' ');
            text.push_str(&help);
            text.push_str("\n# TYPE ");
            text.push_str(&fam.name);
            text.push(' ');
            text.push_str(fam.kind.as_str());
            text.push('\n');
            for s in &fam.samples {
                text.push_str(s);
                text.push('\n');
            }
            out.push_raw(&text);
        }
        if !mtimes.is_empty() {
            let name = "node_textfile_mtime_seconds";
            out.family(
                name,
                "Unixtime mtime of textfiles successfully read.",
                MetricType::Gauge,
            );
            for (f, m) in &mtimes {
                out.sample(name, &[("file", f)], *m);
            }
        }
        out.single(
            "node_textfile_scrape_error",
            "1 if there was an error opening or reading a file, 0 otherwise",
            MetricType::Gauge,
            if error { 1.0 } else { 0.0 },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::render;

    #[test]
    fn parses_families_histograms_and_defaults() {
        let f = parse(
            "# HELP job_ok Whether the job succeeded.\n# TYPE job_ok gauge\njob_ok{job=\"backup\",host=\"a b\"} 1\n\
             # TYPE lat histogram\nlat_bucket{le=\"1\"} 2\nlat_bucket{le=\"+Inf\"} 3\nlat_sum 4.5\nlat_count 3\n\
             plain_metric 7\n",
        )
        .unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].kind, MetricType::Gauge);
        assert_eq!(f[1].name, "lat");
        assert_eq!(f[1].samples.len(), 4);
        assert_eq!(f[2].kind, MetricType::Untyped);
    }

    #[test]
    fn rejects_bad_files() {
        assert!(parse("x 1 1700000000000\n")
            .unwrap_err()
            .contains("timestamps"));
        assert!(parse("1x 1\n").is_err());
        assert!(parse("x{a=\"b} 1\n").is_err());
        assert!(parse("x abc\n").is_err());
    }

    #[test]
    fn directory_with_good_and_bad_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("a.prom"),
            "# HELP job_ok Fine.\n# TYPE job_ok gauge\njob_ok 1\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("b.prom"),
            "# TYPE job_ok gauge\njob_ok{x=\"y\"} 2\nother 3\n",
        )
        .unwrap();
        std::fs::write(d.path().join("bad.prom"), "broken{ 1\n").unwrap();
        std::fs::write(d.path().join("ignored.txt"), "zzz 1\n").unwrap();
        let t = render(&Textfile::new(Some(d.path().to_path_buf())));
        assert!(
            t.contains("# HELP job_ok Fine.\n# TYPE job_ok gauge\njob_ok 1\njob_ok{x=\"y\"} 2\n"),
            "{t}"
        );
        assert!(t.contains("# TYPE other untyped\nother 3\n"), "{t}");
        assert!(!t.contains("zzz"), "{t}");
        assert!(
            t.contains(&format!(
                "node_textfile_mtime_seconds{{file=\"{}\"}}",
                d.path().join("a.prom").display()
            )),
            "{t}"
        );
        assert!(!t.contains("bad.prom\"}"), "{t}");
        assert!(t.ends_with("node_textfile_scrape_error 1\n"), "{t}");
    }

    #[test]
    fn no_directory_is_not_an_error() {
        let t = render(&Textfile::new(None));
        assert!(t.ends_with("node_textfile_scrape_error 0\n"), "{t}");
    }
}
