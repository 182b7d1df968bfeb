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

/// Format a value exactly as client_golang does (Go's
/// `strconv.FormatFloat(v, 'g', -1, 64)`): the shortest digits that read back
/// to the same float, in exponent form (`1.418183276e+09`, `1e-05`) when the
/// decimal exponent is below -4 or at least 6, so a byte diff against
/// node_exporter's scrape can be empty.
pub fn push_value(buf: &mut String, v: f64) {
    if v.is_nan() {
        buf.push_str("NaN");
    } else if v.is_infinite() {
        buf.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e6 {
        // The common case (small counts), without the digit shuffling below.
        if v == 0.0 && v.is_sign_negative() {
            buf.push('-');
        }
        let _ = write!(buf, "{}", v as i64);
    } else {
        push_go_g(buf, v);
    }
}

fn push_go_g(buf: &mut String, v: f64) {
    // Rust's `{:e}` gives the same shortest round-trip digits as Go, as
    // `d.ddde<exp>`; only the layout differs.
    let mut tmp = [0u8; 40];
    let n = {
        let mut w = std::io::Cursor::new(&mut tmp[..]);
        let _ = std::io::Write::write_fmt(&mut w, format_args!("{v:e}"));
        w.position() as usize
    };
    let sci = std::str::from_utf8(&tmp[..n]).unwrap_or("0e0");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    if neg {
        buf.push('-');
    }
    if !(-4..6).contains(&exp) {
        buf.push_str(mantissa);
        buf.push('e');
        buf.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(buf, "{:02}", exp.unsigned_abs());
        return;
    }
    let mut digits = [0u8; 24];
    let mut nd = 0;
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        if nd < digits.len() {
            digits[nd] = b;
            nd += 1;
        }
    }
    let digits = std::str::from_utf8(&digits[..nd]).unwrap_or("0");
    if exp < 0 {
        buf.push_str("0.");
        for _ in 0..(-exp - 1) {
            buf.push('0');
        }
        buf.push_str(digits);
    } else {
        let int_len = exp as usize + 1;
        if nd <= int_len {
            buf.push_str(digits);
            for _ in nd..int_len {
                buf.push('0');
            }
        } else {
            buf.push_str(&digits[..int_len]);
            buf.push('.');
            buf.push_str(&digits[int_len..]);
        }
    }
}

/// Reorder a whole exposition as client_golang's `Gather` does: families by
/// name, and the samples of a counter, gauge or untyped family by their label
/// values (label by label, as written). Collectors write in the order their
/// sources list things; upstream sorts, and a byte diff must not differ on
/// order alone. Histogram and summary samples keep their order (bucket, sum,
/// count belong together per series).
pub fn sort_families(text: &str) -> String {
    // One pass over the lines, keeping (start, end) offsets instead of
    // per-family vectors, and no sorting where the order already holds (most
    // families are written sorted, or have one sample): this runs on every
    // scrape, over ~1,000 lines.
    struct Family<'a> {
        name: &'a str,
        histogram: bool,
        /// Range into `lines`: header lines first, then `samples` samples.
        first: usize,
        headers: usize,
        samples: usize,
    }
    let mut lines: Vec<&str> = Vec::with_capacity(text.len() / 48);
    let mut families: Vec<Family> = Vec::with_capacity(256);
    for line in text.split('\n') {
        let b = line.as_bytes();
        let comment = if b.starts_with(b"# HELP ") {
            Some((&line[7..], false))
        } else if b.starts_with(b"# TYPE ") {
            Some((&line[7..], true))
        } else {
            None
        };
        if let Some((rest, is_type)) = comment {
            let (name, after) = rest.split_once(' ').unwrap_or((rest, ""));
            let same = families
                .last()
                .is_some_and(|f| f.name == name && f.samples == 0);
            if !same {
                families.push(Family {
                    name,
                    histogram: false,
                    first: lines.len(),
                    headers: 0,
                    samples: 0,
                });
            }
            let f = families.last_mut().expect("pushed above");
            if is_type {
                f.histogram = matches!(after.trim(), "histogram" | "summary");
            }
            f.headers += 1;
            lines.push(line);
            continue;
        }
        if b.is_empty() || b[0] == b'#' {
            continue;
        }
        let name_end = b
            .iter()
            .position(|&c| c == b'{' || c == b' ')
            .unwrap_or(b.len());
        let name = &line[..name_end];
        let belongs = families.last().is_some_and(|f| {
            name == f.name
                || (f.histogram
                    && name
                        .strip_prefix(f.name)
                        .is_some_and(|s| matches!(s, "_bucket" | "_sum" | "_count")))
        });
        if !belongs {
            families.push(Family {
                name,
                histogram: false,
                first: lines.len(),
                headers: 0,
                samples: 0,
            });
        }
        families.last_mut().expect("pushed above").samples += 1;
        lines.push(line);
    }
    if !families.is_sorted_by(|a, b| a.name <= b.name) {
        families.sort_by(|a, b| a.name.cmp(b.name));
    }
    let mut out = String::with_capacity(text.len() + 1);
    for f in &families {
        let all = &mut lines[f.first..f.first + f.headers + f.samples];
        let samples = &mut all[f.headers..];
        let by_labels = |a: &&str, b: &&str| label_values(a).cmp(label_values(b));
        if !f.histogram
            && samples.len() > 1
            && !samples.is_sorted_by(|a, b| by_labels(a, b).is_le())
        {
            samples.sort_by(by_labels);
        }
        for l in all.iter() {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// The label values of a sample line, in the order written, still escaped
/// (Go compares unescaped values; the two orders differ only for values
/// holding `\\`, `"` or a newline, which node metrics hardly have).
fn label_values(line: &str) -> impl Iterator<Item = &str> + Clone {
    let labels = match (line.find('{'), line.rfind('}')) {
        (Some(a), Some(b)) if a < b => &line[a + 1..b],
        _ => "",
    };
    let mut rest = labels;
    std::iter::from_fn(move || {
        // Label names hold no quote, so the next `"` opens the next value.
        let bytes = rest.as_bytes();
        let start = bytes.iter().position(|&c| c == b'"')? + 1;
        let mut i = start;
        while i < bytes.len() && bytes[i] != b'"' {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        let v = &rest[start..i.min(rest.len())];
        rest = rest.get(i + 1..).unwrap_or("");
        Some(v)
    })
}

fn escape_help(buf: &mut String, s: &str) {
    if !s.bytes().any(|c| c == b'\\' || c == b'\n') {
        buf.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            c => buf.push(c),
        }
    }
}

pub fn escape_label_value(buf: &mut String, s: &str) {
    if !s.bytes().any(|c| c == b'\\' || c == b'"' || c == b'\n') {
        buf.push_str(s);
        return;
    }
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

    fn fmt(v: f64) -> String {
        let mut s = String::new();
        push_value(&mut s, v);
        s
    }

    /// Expected strings are Go's `strconv.FormatFloat(v, 'g', -1, 64)`,
    /// as they appear in node_exporter's e2e-output.txt.
    #[test]
    fn floats_are_formatted_like_go() {
        for (v, go) in [
            (1418183276.0, "1.418183276e+09"),
            (38014093.0, "3.8014093e+07"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (123456.5, "123456.5"),
            (1.305e-6, "1.305e-06"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1e-5, "1e-05"),
            (-3.5e7, "-3.5e+07"),
            (-0.0, "-0"),
            (0.1, "0.1"),
            (118821.284256, "118821.284256"),
            (1.8446744073709552e19, "1.8446744073709552e+19"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(fmt(v), go, "{v:?}");
        }
    }

    #[test]
    fn families_sorted_by_name_and_samples_by_label_values() {
        let text = "# HELP node_b B.\n# TYPE node_b gauge\nnode_b{cpu=\"2\",mode=\"x\"} 1\nnode_b{cpu=\"10\",mode=\"a\"} 2\nnode_b{cpu=\"10\",mode=\"\\\"q\"} 3\n\
            # HELP node_a A.\n# TYPE node_a counter\nnode_a 1\n\
            # HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n";
        assert_eq!(
            sort_families(text),
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n\
             # HELP node_a A.\n# TYPE node_a counter\nnode_a 1\n\
             # HELP node_b B.\n# TYPE node_b gauge\nnode_b{cpu=\"10\",mode=\"\\\"q\"} 3\nnode_b{cpu=\"10\",mode=\"a\"} 2\nnode_b{cpu=\"2\",mode=\"x\"} 1\n"
        );
    }

    /// Any formatted value reads back as the same float.
    #[test]
    fn formatting_round_trips() {
        use proptest::prelude::*;
        proptest!(ProptestConfig { cases: 2000, ..ProptestConfig::default() }, |(v in any::<f64>())| {
            let s = fmt(v);
            let back: f64 = match s.as_str() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                s => s.parse().unwrap(),
            };
            prop_assert!(back == v || (v.is_nan() && back.is_nan()), "{v:?} -> {s}");
        });
    }

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
        assert_eq!(s, "0 1e+20 121.46 NaN +Inf -2 ");
    }
}
