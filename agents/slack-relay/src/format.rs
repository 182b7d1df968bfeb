//! Block Kit rendering. Each message is one attachment (for the severity
//! colour bar) holding the blocks, plus a plain `text` fallback that Slack
//! shows in notifications. Everything is bounded by Slack's limits, which it
//! enforces with a 400 (`invalid_blocks`, `msg_blocks_too_long`).

use crate::payload::{Alert, AlertmanagerPayload, BuildResult, JenkinsPayload, Status};
use serde_json::{json, Value};

/// Slack: at most 50 blocks per message.
pub const MAX_BLOCKS: usize = 50;
/// Slack: at most 3000 characters in a section's text.
pub const MAX_SECTION_CHARS: usize = 3000;
/// Slack: header text is plain text of at most 150 characters.
const MAX_HEADER_CHARS: usize = 150;
/// Slack rejects long messages (`msg_blocks_too_long`) well before
/// 50 × 3000 characters; staying under this total has been safe.
pub const MAX_TOTAL_CHARS: usize = 12_000;
/// Blocks that are not alerts: header, labels, links, Alertmanager's cut,
/// and the silence matchers and buttons.
const FIXED_BLOCKS: usize = 6;

pub const COLOR_CRITICAL: &str = "#E01E5A";
pub const COLOR_WARNING: &str = "#ECB22E";
pub const COLOR_INFO: &str = "#36C5F0";
pub const COLOR_RESOLVED: &str = "#2EB67D";
pub const COLOR_NEUTRAL: &str = "#9E9EA6";

/// A rendered message: the title (for logs and the DLQ listing) and the
/// Slack message body (`text` + `attachments`).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub title: String,
    pub message: Value,
    /// Thread replies (title, body) listing the alerts of a group too large
    /// for one message; empty when the message holds them all.
    pub thread: Vec<(String, Value)>,
}

/// Slack mrkdwn needs only these three escaped.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cut at a character boundary, marking the cut.
pub fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn link(url: &str, label: &str) -> Option<String> {
    let u = url.trim();
    if u.is_empty() || u.contains('|') || u.contains('>') {
        return None;
    }
    Some(format!("<{u}|{label}>"))
}

fn severity_color(sev: &str) -> &'static str {
    match sev.to_ascii_lowercase().as_str() {
        "critical" | "error" | "page" | "high" => COLOR_CRITICAL,
        "warning" | "warn" | "medium" => COLOR_WARNING,
        "info" | "informational" | "low" | "none" => COLOR_INFO,
        _ => COLOR_NEUTRAL,
    }
}

fn severity_rank(sev: &str) -> u8 {
    match severity_color(sev) {
        COLOR_CRITICAL => 3,
        COLOR_WARNING => 2,
        COLOR_INFO => 1,
        _ => 0,
    }
}

/// The group's severity: the common label, else the worst among firing alerts.
fn group_severity(p: &AlertmanagerPayload) -> String {
    if let Some(s) = p.common_labels.get("severity") {
        return s.clone();
    }
    p.alerts
        .iter()
        .filter(|a| a.status == Status::Firing)
        .filter_map(|a| a.labels.get("severity"))
        .max_by_key(|s| severity_rank(s))
        .cloned()
        .unwrap_or_default()
}

/// Alertmanager's silence form, prefilled with the group's common labels.
pub fn silence_url(external_url: &str, labels: &crate::payload::Labels) -> Option<String> {
    let base = external_url.trim_end_matches('/');
    if base.is_empty() || labels.is_empty() {
        return None;
    }
    let matchers: Vec<String> = labels
        .iter()
        .filter(|(k, _)| !k.starts_with("__"))
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    let filter = format!("{{{}}}", matchers.join(","));
    let encoded: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    // The UI reads the filter from the fragment's query; `+` would stay literal there.
    Some(format!(
        "{base}/#/silences/new?filter={}",
        encoded.replace('+', "%20")
    ))
}

fn title_for(p: &AlertmanagerPayload) -> String {
    let firing = p
        .alerts
        .iter()
        .filter(|a| a.status == Status::Firing)
        .count() as u64;
    let name = p
        .group_labels
        .get("alertname")
        .or_else(|| p.common_labels.get("alertname"))
        .cloned()
        .unwrap_or_else(|| "alerts".into());
    let extra: Vec<&str> = p
        .group_labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut title = match p.status {
        Status::Firing => format!("[FIRING:{}] {name}", firing + p.truncated_alerts),
        Status::Resolved => format!("[RESOLVED] {name}"),
    };
    if !extra.is_empty() {
        title.push_str(&format!(" ({})", extra.join(" ")));
    }
    title
}

fn alert_section(a: &Alert, common: &crate::payload::Labels) -> String {
    let icon = match a.status {
        Status::Firing => ":red_circle:",
        Status::Resolved => ":large_green_circle:",
    };
    let name = a
        .labels
        .get("alertname")
        .map(String::as_str)
        .unwrap_or("alert");
    let headline = a
        .annotations
        .get("summary")
        .or_else(|| a.annotations.get("message"))
        .map(String::as_str)
        .unwrap_or(name);
    let mut text = format!("{icon} *{}*", escape(&truncate(headline, 300)));
    if let Some(d) = a.annotations.get("description") {
        text.push('\n');
        text.push_str(&escape(&truncate(d, 1500)));
    }
    let own: Vec<String> = a
        .labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname" && !common.contains_key(*k))
        .take(12)
        .map(|(k, v)| format!("`{}={}`", escape(k), escape(&truncate(v, 120))))
        .collect();
    if !own.is_empty() {
        text.push('\n');
        text.push_str(&own.join(" "));
    }
    let mut links = Vec::new();
    if let Some(r) = a
        .annotations
        .get("runbook_url")
        .or_else(|| a.annotations.get("runbook"))
    {
        links.extend(link(r, ":book: Runbook"));
    }
    links.extend(link(&a.generator_url, ":chart_with_upwards_trend: Source"));
    let since = a.starts_at.timestamp();
    let when = match (a.status, a.ended_at()) {
        (Status::Resolved, Some(end)) => {
            let mins = (end - a.starts_at).num_minutes().max(0);
            format!("resolved after {mins} min")
        }
        _ => format!(
            "since <!date^{since}^{{date_short_pretty}} {{time}}|{}>",
            a.starts_at.format("%Y-%m-%d %H:%M UTC")
        ),
    };
    links.push(when);
    if !a.fingerprint.is_empty() {
        // Identifies the alert in Alertmanager (and in the thread of a
        // large group) without repeating its labels.
        links.push(format!("`{}`", escape(&truncate(&a.fingerprint, 64))));
    }
    text.push('\n');
    text.push_str(&links.join(" · "));
    truncate(&text, MAX_SECTION_CHARS)
}

pub(crate) fn wrap(color: &str, fallback: &str, blocks: Vec<Value>) -> Value {
    json!({
        "text": truncate(fallback, MAX_SECTION_CHARS),
        "attachments": [{ "color": color, "blocks": blocks }],
    })
}

pub(crate) fn header(title: &str) -> Value {
    json!({"type": "header", "text": {"type": "plain_text", "text": truncate(title, MAX_HEADER_CHARS), "emoji": true}})
}

pub(crate) fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_SECTION_CHARS)}]})
}

pub(crate) fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_CHARS)}})
}

/// Render an Alertmanager notification.
pub fn alertmanager(p: &AlertmanagerPayload) -> Rendered {
    let title = title_for(p);
    let color = match p.status {
        Status::Resolved => COLOR_RESOLVED,
        Status::Firing => severity_color(&group_severity(p)),
    };
    let mut blocks = vec![header(&title)];

    let mut about: Vec<String> = p
        .common_labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname")
        .take(15)
        .map(|(k, v)| format!("`{}={}`", escape(k), escape(&truncate(v, 120))))
        .collect();
    if let Some(s) = p.common_annotations.get("summary") {
        if p.alerts.len() > 1 {
            about.insert(0, format!("*{}*", escape(&truncate(s, 300))));
        }
    }
    if let Some(reason) = &p.notification_reason {
        about.push(format!("reason: {}", escape(reason)));
    }
    if !about.is_empty() {
        blocks.push(context(&about.join("  ")));
    }

    // Firing first: that is what someone has to act on.
    let mut ordered: Vec<&Alert> = p.alerts.iter().collect();
    ordered.sort_by_key(|a| a.status != Status::Firing);
    let sections: Vec<String> = ordered
        .iter()
        .map(|a| alert_section(a, &p.common_labels))
        .collect();
    let fits = sections.len() <= MAX_BLOCKS - FIXED_BLOCKS
        && title.len() + sections.iter().map(String::len).sum::<usize>() <= MAX_TOTAL_CHARS;
    let thread = if fits {
        blocks.extend(sections.iter().map(|s| section(s)));
        Vec::new()
    } else {
        let replies = crate::thread::replies(&title, color, &sections);
        blocks.push(section(&crate::thread::summary(&ordered, replies.len())));
        replies
    };

    let mut links = Vec::new();
    if p.status == Status::Firing {
        if let Some(u) = silence_url(&p.external_url, &p.common_labels) {
            links.extend(link(&u, ":no_bell: Silence"));
        }
    }
    links.extend(link(&p.external_url, "Alertmanager"));
    if !links.is_empty() {
        blocks.push(context(&links.join(" · ")));
    }

    let mut notes = Vec::new();
    if p.truncated_alerts > 0 {
        notes.push(format!(
            "Alertmanager truncated {} more alerts from this notification (receiver max_alerts)",
            p.truncated_alerts
        ));
    }
    if !notes.is_empty() {
        blocks.push(context(&notes.join(" · ")));
    }

    let fallback = match p
        .common_annotations
        .get("summary")
        .or_else(|| ordered.first().and_then(|a| a.annotations.get("summary")))
    {
        Some(s) => format!("{title}: {s}"),
        None => title.clone(),
    };
    Rendered {
        message: wrap(color, &fallback, blocks),
        title,
        thread,
    }
}

/// Render a Jenkins build notification.
pub fn jenkins(p: &JenkinsPayload) -> Rendered {
    let (icon, color) = match p.result {
        BuildResult::Started => (":arrow_forward:", COLOR_INFO),
        BuildResult::Success => (":white_check_mark:", COLOR_RESOLVED),
        BuildResult::Failure => (":x:", COLOR_CRITICAL),
        BuildResult::Unstable => (":warning:", COLOR_WARNING),
        BuildResult::Aborted | BuildResult::NotBuilt => (":black_square_for_stop:", COLOR_NEUTRAL),
    };
    let mut title = format!("{} #{} {}", p.job, p.build, p.result.as_str());
    if let (Some(stage), BuildResult::Failure | BuildResult::Unstable) = (&p.stage, p.result) {
        title.push_str(&format!(" in {stage}"));
    }
    let mut lines = vec![format!("{icon} *{}*", escape(&title))];
    let mut facts = Vec::new();
    if let Some(s) = &p.stage {
        facts.push(format!("stage `{}`", escape(&truncate(s, 100))));
    }
    if let Some(b) = &p.branch {
        facts.push(format!("branch `{}`", escape(&truncate(b, 100))));
    }
    if let Some(c) = &p.commit {
        facts.push(format!("commit `{}`", escape(&truncate(c, 40))));
    }
    if let Some(d) = p.duration_seconds {
        facts.push(format!("took {:.0}s", d));
    }
    if !facts.is_empty() {
        lines.push(facts.join(" · "));
    }
    if let Some(m) = &p.message {
        lines.push(escape(&truncate(m, 2000)));
    }
    let mut blocks = vec![header(&title), section(&lines.join("\n"))];
    if let Some(u) = p
        .url
        .as_deref()
        .and_then(|u| link(u, ":jenkins: Open build"))
    {
        blocks.push(context(&u));
    }
    Rendered {
        message: wrap(color, &title, blocks),
        title,
        thread: Vec::new(),
    }
}

/// Plain text of a rendered message, for the log sink and the DLQ listing.
pub fn plain_text(message: &Value) -> String {
    let mut out = Vec::new();
    for att in message["attachments"].as_array().into_iter().flatten() {
        for b in att["blocks"].as_array().into_iter().flatten() {
            if let Some(t) = b["text"]["text"].as_str() {
                out.push(t.to_string());
            }
            for e in b["elements"].as_array().into_iter().flatten() {
                if let Some(t) = e["text"].as_str() {
                    out.push(t.to_string());
                }
            }
        }
    }
    if out.is_empty() {
        if let Some(t) = message["text"].as_str() {
            out.push(t.to_string());
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::tests::sample;

    fn render(v: serde_json::Value) -> Rendered {
        alertmanager(&AlertmanagerPayload::parse(v.to_string().as_bytes()).unwrap())
    }

    fn blocks(r: &Rendered) -> Vec<Value> {
        r.message["attachments"][0]["blocks"]
            .as_array()
            .unwrap()
            .clone()
    }

    #[test]
    fn firing_has_title_colour_links_and_silence() {
        let r = render(sample("g", "firing"));
        assert_eq!(r.title, "[FIRING:1] DiskSpaceWarning");
        assert_eq!(r.message["attachments"][0]["color"], COLOR_WARNING);
        let text = plain_text(&r.message);
        assert!(text.contains("Disk almost full"), "{text}");
        assert!(text.contains("15% left"), "{text}");
        assert!(
            text.contains("<https://runbooks/disk|:book: Runbook>"),
            "{text}"
        );
        assert!(text.contains("`instance=web-1`"), "{text}");
        assert!(
            text.contains("http://am:9093/#/silences/new?filter=%7Balertname%3D%22DiskSpaceWarning%22%2Cseverity%3D%22warning%22%7D"),
            "{text}"
        );
    }

    #[test]
    fn resolved_is_green_without_silence() {
        let r = render(sample("g", "resolved"));
        assert_eq!(r.title, "[RESOLVED] DiskSpaceWarning");
        assert_eq!(r.message["attachments"][0]["color"], COLOR_RESOLVED);
        assert!(!plain_text(&r.message).contains("Silence"));
    }

    #[test]
    fn escapes_mrkdwn_control_characters() {
        let mut v = sample("g", "firing");
        v["alerts"][0]["annotations"]["summary"] = "a <b> & c".into();
        let text = plain_text(&render(v).message);
        assert!(text.contains("a &lt;b&gt; &amp; c"), "{text}");
    }

    #[test]
    fn large_groups_fit_slack_limits() {
        let mut v = sample("g", "firing");
        let one = v["alerts"][0].clone();
        let mut alerts = Vec::new();
        for i in 0..200 {
            let mut a = one.clone();
            a["labels"]["instance"] = format!("web-{i}").into();
            a["annotations"]["description"] = "x".repeat(5000).into();
            alerts.push(a);
        }
        v["alerts"] = Value::Array(alerts);
        v["truncatedAlerts"] = 7.into();
        let r = render(v);
        let b = blocks(&r);
        assert!(b.len() <= MAX_BLOCKS);
        for block in &b {
            let t = block["text"]["text"].as_str().unwrap_or("");
            assert!(t.chars().count() <= MAX_SECTION_CHARS);
        }
        let text = plain_text(&r.message);
        assert!(text.contains("*200 alerts*: 200 warning"), "{text}");
        assert!(text.contains("truncated 7 more alerts"), "{text}");
        assert_eq!(r.title, "[FIRING:207] DiskSpaceWarning");
        let total: usize = text.len();
        assert!(total < MAX_TOTAL_CHARS + 4000, "{total}");
        // Every alert is in the thread, each reply within the limits.
        let mut listed = 0;
        for (_, reply) in &r.thread {
            let b = blocks(&Rendered {
                title: String::new(),
                message: reply.clone(),
                thread: Vec::new(),
            });
            assert!(b.len() <= MAX_BLOCKS);
            let text = plain_text(reply);
            assert!(text.len() <= MAX_TOTAL_CHARS + 200, "{}", text.len());
            listed += (0..200)
                .filter(|i| text.contains(&format!("`instance=web-{i}`")))
                .count();
        }
        assert_eq!(listed, 200);
    }

    #[test]
    fn converts_into_slack_morphism_content() {
        let r = render(sample("g", "firing"));
        let content: slack_morphism::prelude::SlackMessageContent =
            serde_json::from_value(r.message.clone()).unwrap();
        let back = serde_json::to_value(&content).unwrap();
        assert_eq!(back["attachments"], r.message["attachments"]);
    }

    #[test]
    fn jenkins_failure_names_the_stage() {
        let p = JenkinsPayload::parse(
            br#"{"job":"srp","build":7,"result":"FAILURE","stage":"Security Container","url":"http://j/job/srp/7/"}"#,
        )
        .unwrap();
        let r = jenkins(&p);
        assert_eq!(r.title, "srp #7 FAILURE in Security Container");
        assert_eq!(r.message["attachments"][0]["color"], COLOR_CRITICAL);
        assert!(plain_text(&r.message).contains("<http://j/job/srp/7/|"));
    }
}
