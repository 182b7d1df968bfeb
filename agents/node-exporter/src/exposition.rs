//! The Prometheus text exposition format, written straight into one buffer.
//!
//! node_exporter builds a registry of metric objects on every scrape and then
//! encodes it; most of its CPU per scrape goes there. Collectors here write
//! `# HELP`, `# TYPE` and sample lines directly, so a scrape costs little
//! more than reading /proc. Callers keep each family's samples together (the
//! format requires it) by writing one family at a time.

use std::fmt::Write as _;

/// The metric types node_exporter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Untyped,
    Histogram,
    Summary,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Untyped => "untyped",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "untyped" => MetricType::Untyped,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            _ => return None,
        })
    }
}

/// An exposition buffer. Cheap to create; `clear` keeps the allocation.
#[derive(Default)]
pub struct Exposition {
    buf: String,
}

impl Exposition {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: String::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drop everything written after `len` (a failed collector's partial output).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    pub fn as_str(&self) -> &str {
        &self.buf
    }

    pub fn into_string(self) -> String {
        self.buf
    }

    /// Start a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, help: &str, kind: MetricType) {
        self.buf.push_str("# HELP ");
        self.buf.push_str(name);
        self.buf.push(' ');
        escape_help(&mut self.buf, help);
        self.buf.push_str("\n# TYPE ");
        self.buf.push_str(name);
        self.buf.push(' ');
        self.buf.push_str(kind.as_str());
        self.buf.push('\n');
    }

    /// One sample of the family just started. `labels` are name/value pairs.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.buf.push_str(name);
        if !labels.is_empty() {
            self.buf.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.buf.push(',');
                }
                self.buf.push_str(k);
                self.buf.push_str("=\"");
                escape_label_value(&mut self.buf, v);
                self.buf.push('"');
            }
            self.buf.push('}');
        }
        self.buf.push(' ');
        push_value(&mut self.buf, value);
        self.buf.push('\n');
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, help: &str, kind: MetricType, value: f64) {
        self.family(name, help, kind);
        self.sample(name, &[], value);
    }

    /// Append pre-rendered exposition text (the textfile collector's output).
    pub fn push_raw(&mut self, text: &str) {
        self.buf.push_str(text);
    }

    /// Names of the families written so far (for clash checks).
    pub fn family_names(&self) -> impl Iterator<Item = &str> {
        self.buf.lines().filter_map(|l| {
            l.strip_prefix("# TYPE ")
                .and_then(|rest| rest.split(' ').next())
        })
    }
}

/// Whether Prometheus accepts `name` as a metric name. Collectors that build
/// names from file contents check it: one invalid name makes Prometheus
/// refuse the whole scrape, not just that series.
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut c = name.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Format a value the way Prometheus parses it: integers without a fraction,
/// the special values by their exposition names.
pub fn push_value(buf: &mut String, v: f64) {
    if v.is_nan() {
        buf.push_str("NaN");
    } else if v.is_infinite() {
        buf.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(buf, "{}", v as i64);
    } else {
        let _ = write!(buf, "{v}");
    }
}

fn escape_help(buf: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            c => buf.push(c),
        }
    }
}

pub fn escape_label_value(buf: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '"' => buf.push_str("\\\""),
            '\n' => buf.push_str("\\n"),
            c => buf.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_family_and_escaped_samples() {
        let mut e = Exposition::default();
        e.family("node_x", "A \\ help\nline.", MetricType::Gauge);
        e.sample("node_x", &[("a", "q\"b\\c\nd"), ("b", "")], 1.5);
        e.sample("node_x", &[], 3.0);
        assert_eq!(
            e.as_str(),
            "# HELP node_x A \\\\ help\\nline.\n# TYPE node_x gauge\n\
             node_x{a=\"q\\\"b\\\\c\\nd\",b=\"\"} 1.5\nnode_x 3\n"
        );
        assert_eq!(e.family_names().collect::<Vec<_>>(), vec!["node_x"]);
    }

    #[test]
    fn values_round_trip() {
        let mut s = String::new();
        for v in [0.0, 1e20, 121.46, f64::NAN, f64::INFINITY, -2.0] {
            push_value(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "0 100000000000000000000 121.46 NaN +Inf -2 ");
    }
}
