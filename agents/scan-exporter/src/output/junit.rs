//! JUnit XML for Jenkins' `junit` step: one test case per policy check and
//! one failing test case per blocking finding, so the build page lists
//! exactly what blocked and why.

use crate::summary::Summary;
use std::fmt::Write;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 forbids most control characters (Trivy's highlighted
            // code carries ANSI escapes).
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => o.push(c),
        }
    }
    o
}

/// Checks that failed because something could not be read are JUnit
/// errors; the rest are failures.
fn is_error(name: &str) -> bool {
    name.starts_with("read ") || name.starts_with("configuration")
}

pub fn render(s: &Summary) -> String {
    let errors = s
        .checks
        .iter()
        .filter(|c| !c.passed && is_error(&c.name))
        .count();
    let failures = s.checks.iter().filter(|c| !c.passed).count() - errors;
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<testsuites name="srp-gate" tests="{}" failures="{}" errors="{}">"#,
        s.checks.len() + s.blocking.len(),
        failures + s.blocking.len(),
        errors
    );
    let _ = writeln!(
        out,
        r#"  <testsuite name="srp-gate policy" tests="{}" failures="{}" errors="{}">"#,
        s.checks.len(),
        failures,
        errors
    );
    for c in &s.checks {
        let _ = write!(
            out,
            r#"    <testcase classname="srp-gate.policy" name="{}">"#,
            esc(&c.name)
        );
        if !c.passed {
            let tag = if is_error(&c.name) {
                "error"
            } else {
                "failure"
            };
            let _ = write!(
                out,
                r#"<{tag} message="{}">{}</{tag}>"#,
                esc(&c.detail),
                esc(&c.detail)
            );
        } else {
            let _ = write!(out, "<system-out>{}</system-out>", esc(&c.detail));
        }
        let _ = writeln!(out, "</testcase>");
    }
    let _ = writeln!(out, "  </testsuite>");
    let _ = writeln!(
        out,
        r#"  <testsuite name="srp-gate blocking findings" tests="{}" failures="{}">"#,
        s.blocking.len(),
        s.blocking.len()
    );
    for b in &s.blocking {
        let name = format!(
            "[{}] {} {}",
            b.severity,
            b.id,
            b.pkg.as_deref().or(b.path.as_deref()).unwrap_or("")
        );
        let body = format!(
            "target: {}\nclass: {}\npackage: {}\ninstalled: {}\nfixed: {}\npath: {}\ntitle: {}\nwhy: {}",
            b.target,
            b.class,
            b.pkg.as_deref().unwrap_or("-"),
            b.installed.as_deref().unwrap_or("-"),
            b.fixed.as_deref().unwrap_or("-"),
            match (&b.path, b.line) {
                (Some(p), Some(l)) => format!("{p}:{l}"),
                (Some(p), None) => p.clone(),
                (None, _) => "-".into(),
            },
            b.title.as_deref().unwrap_or("-"),
            b.why
        );
        let _ = writeln!(
            out,
            r#"    <testcase classname="srp-gate.{}.{}" name="{}"><failure message="{}" type="{}">{}</failure></testcase>"#,
            esc(&b.scanner),
            esc(&b.class),
            esc(name.trim_end()),
            esc(&b.why),
            esc(&b.severity),
            esc(&body)
        );
    }
    let _ = writeln!(out, "  </testsuite>");
    let _ = writeln!(out, "</testsuites>");
    out
}
