//! Whole groups: a notification whose alerts do not fit one Slack message
//! becomes a parent summary (counts by severity; the common labels stay in
//! the parent's context line) and thread replies that list every alert,
//! each reply within Slack's block and character limits. Nothing is cut:
//! Alertmanager's own cut (`truncatedAlerts`) is the only one, and the
//! parent says so.

use crate::format::{context, section, wrap, MAX_BLOCKS, MAX_TOTAL_CHARS};
use crate::payload::{Alert, Status};
use serde_json::Value;
use std::collections::BTreeMap;

/// Alert sections one reply carries at most: the rest of the 50 blocks is
/// left for the reply's own context line.
const SECTIONS_PER_REPLY: usize = MAX_BLOCKS - 10;

/// The parent's text in place of the alerts: how many, by severity, and
/// where they are.
pub fn summary(alerts: &[&Alert], replies: usize) -> String {
    let mut by_severity: BTreeMap<&str, usize> = BTreeMap::new();
    let mut resolved = 0usize;
    for a in alerts {
        if a.status == Status::Resolved {
            resolved += 1;
            continue;
        }
        let sev = a
            .labels
            .get("severity")
            .map_or("no severity", String::as_str);
        *by_severity.entry(sev).or_default() += 1;
    }
    let mut parts: Vec<String> = by_severity
        .iter()
        .map(|(sev, n)| format!("{n} {}", crate::format::escape(sev)))
        .collect();
    if resolved > 0 {
        parts.push(format!("{resolved} resolved"));
    }
    format!(
        "*{} alerts*: {}\nEvery alert is listed in the thread ({replies} {}).",
        alerts.len(),
        parts.join(" · "),
        if replies == 1 { "reply" } else { "replies" }
    )
}

/// Group the rendered alert sections into replies, in order, each under
/// [`SECTIONS_PER_REPLY`] sections and [`MAX_TOTAL_CHARS`] characters.
pub fn chunks(sections: &[String]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = 0;
    for (i, s) in sections.iter().enumerate() {
        let full = i - start >= SECTIONS_PER_REPLY;
        // A reply always takes at least one section (each is under 3000).
        if i > start && (full || chars + s.len() > MAX_TOTAL_CHARS) {
            out.push(start..i);
            start = i;
            chars = 0;
        }
        chars += s.len();
    }
    if start < sections.len() {
        out.push(start..sections.len());
    }
    out
}

/// One message per chunk, numbered so a reader sees nothing is missing.
pub fn replies(title: &str, color: &str, sections: &[String]) -> Vec<(String, Value)> {
    let total = sections.len();
    chunks(sections)
        .into_iter()
        .map(|r| {
            let label = format!("{title}: alerts {}–{} of {total}", r.start + 1, r.end);
            let mut blocks = vec![context(&crate::format::escape(&label))];
            blocks.extend(sections[r].iter().map(|s| section(s)));
            (label.clone(), wrap(color, &label, blocks))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_section_once_within_the_limits() {
        let sections: Vec<String> = (0..2000)
            .map(|i| format!("alert {i} {}", "x".repeat(i % 2900)))
            .collect();
        let ranges = chunks(&sections);
        let mut next = 0;
        for r in &ranges {
            assert_eq!(r.start, next, "in order, no gap");
            assert!(r.len() <= SECTIONS_PER_REPLY);
            let chars: usize = sections[r.clone()].iter().map(String::len).sum();
            assert!(r.len() == 1 || chars <= MAX_TOTAL_CHARS, "{chars}");
            next = r.end;
        }
        assert_eq!(next, sections.len());
    }
}
