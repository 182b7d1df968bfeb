//! The human summary srp-gate prints on stdout: counts per target and
//! severity, then every blocking finding with its reason, then waivers,
//! then what VEX suppressed.

use crate::summary::Summary;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Blocking findings listed in full before "… and N more".
pub const MAX_ROWS: usize = 200;

fn pad(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n > w {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let verdict = s.verdict.as_str().to_uppercase();
    let vex = if s.vex.statements > 0 {
        format!(", {} suppressed by VEX", s.vex.suppressed.len())
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "srp-gate: {verdict} — {} blocking, {} waived, {} suppressed by the scanner{vex} (policy: {})",
        s.blocking.len(),
        s.waived,
        s.suppressed,
        s.policy
    );
    for e in &s.errors {
        let _ = writeln!(out, "error: {e}");
    }
    for w in &s.warnings {
        let _ = writeln!(out, "warning: {w}");
    }

    // Counts: one row per scanner/target/class, a column per severity.
    let mut rows: BTreeMap<(&str, &str, &str), [u64; 5]> = BTreeMap::new();
    for c in &s.counts {
        let col = match c.severity.as_str() {
            "CRITICAL" => 0,
            "HIGH" => 1,
            "MEDIUM" => 2,
            "LOW" => 3,
            _ => 4,
        };
        rows.entry((&c.scanner, &c.target, &c.class)).or_default()[col] += c.count;
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} {} {} {:>8} {:>6} {:>6} {:>6} {:>7}",
        pad("SCANNER", 9),
        pad("TARGET", 44),
        pad("CLASS", 16),
        "CRITICAL",
        "HIGH",
        "MEDIUM",
        "LOW",
        "UNKNOWN"
    );
    if rows.is_empty() {
        let _ = writeln!(out, "(no findings)");
    }
    for ((scanner, target, class), n) in &rows {
        let _ = writeln!(
            out,
            "{} {} {} {:>8} {:>6} {:>6} {:>6} {:>7}",
            pad(scanner, 9),
            pad(target, 44),
            pad(class, 16),
            n[0],
            n[1],
            n[2],
            n[3],
            n[4]
        );
    }
    for sb in &s.sbom {
        let types: Vec<String> = sb
            .counts
            .by_type
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(
            out,
            "SBOM {}: {} components ({})",
            sb.target,
            sb.counts.components,
            types.join(", ")
        );
    }

    if !s.blocking.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Blocking findings:");
        let _ = writeln!(
            out,
            "{} {} {} {} {} WHY",
            pad("SEVERITY", 8),
            pad("ID", 20),
            pad("PACKAGE/PATH", 28),
            pad("INSTALLED", 16),
            pad("FIXED", 16),
        );
        for b in s.blocking.iter().take(MAX_ROWS) {
            let what = match (&b.pkg, &b.path, b.line) {
                (Some(p), _, _) => p.clone(),
                (None, Some(p), Some(l)) => format!("{p}:{l}"),
                (None, Some(p), None) => p.clone(),
                (None, None, _) => b.target.clone(),
            };
            let _ = writeln!(
                out,
                "{} {} {} {} {} {}",
                pad(&b.severity, 8),
                pad(&b.id, 20),
                pad(&what, 28),
                pad(b.installed.as_deref().unwrap_or("-"), 16),
                pad(b.fixed.as_deref().unwrap_or("-"), 16),
                b.why
            );
        }
        if s.blocking.len() > MAX_ROWS {
            let _ = writeln!(
                out,
                "… and {} more (all of them are in --summary-json and --junit)",
                s.blocking.len() - MAX_ROWS
            );
        }
    }

    if let Some(b) = &s.baseline {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Baseline {}: {} new, {} already known{}",
            b.source,
            b.new,
            b.known,
            if b.block_new_only {
                " (only new findings block)"
            } else {
                ""
            }
        );
    }
    let w = &s.waivers;
    if !(w.used.is_empty() && w.expired.is_empty() && w.unused.is_empty()) {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Waivers: {} used, {} expired, {} unused, {} expiring within 7 days",
            w.used.len(),
            w.expired.len(),
            w.unused.len(),
            w.expiring_within_7_days.len()
        );
        for (label, list) in [
            ("expired", &w.expired),
            ("unused", &w.unused),
            ("expiring soon", &w.expiring_within_7_days),
        ] {
            for e in list {
                let _ = writeln!(
                    out,
                    "  {label}: {} [{}] expires {} ({} matches): {}",
                    e.source,
                    e.selector,
                    e.expires.as_deref().unwrap_or("never"),
                    e.matches,
                    e.reason
                );
            }
        }
    }
    render_vex(&mut out, s);
    out
}

/// Findings suppressed by --vex, each one named, and the unused statements.
fn render_vex(out: &mut String, s: &Summary) {
    let v = &s.vex;
    if v.statements == 0 {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "VEX: {} statements, {} findings suppressed, {} statements unused",
        v.statements,
        v.suppressed.len(),
        v.unused.len()
    );
    for f in v.suppressed.iter().take(MAX_ROWS) {
        let _ = writeln!(
            out,
            "  suppressed: {} {} in {} ({}{}) by {}",
            f.id,
            f.pkg.as_deref().unwrap_or(""),
            f.target,
            f.status,
            f.justification
                .as_deref()
                .map(|j| format!(", {j}"))
                .unwrap_or_default(),
            f.statement
        );
    }
    if v.suppressed.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "  … and {} more suppressed (all of them are in --summary-json)",
            v.suppressed.len() - MAX_ROWS
        );
    }
    for u in &v.unused {
        let _ = writeln!(
            out,
            "  unused: {} {} ({})",
            u.statement, u.vulnerability, u.status
        );
    }
}
