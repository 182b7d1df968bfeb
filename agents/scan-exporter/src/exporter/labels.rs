//! Strings that arrive from outside (a report's content, a query parameter,
//! a directory or file name) and become a metric label, a log field or a
//! store key. A report can carry a 100 kB `ArtifactName` with newlines; as a
//! label it would bloat every scrape, in a text log line it would forge
//! lines. So labels are checked (refused, naming the field) and everything
//! logged is escaped.

/// The longest label value accepted, in characters: far above any real
/// pipeline, image or target name.
pub const MAX_LABEL_CHARS: usize = 256;

/// The longest string written into a log field; the rest is cut.
pub const MAX_LOG_CHARS: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    /// Where the value came from, e.g. `ArtifactName` or `target parameter`.
    pub field: String,
    pub problem: String,
}

/// A value that will be a label: at most [`MAX_LABEL_CHARS`] characters and
/// no control characters (newline, tab, escape ...).
pub fn check_label(field: &str, value: &str) -> Result<(), FieldError> {
    let problem = if value.chars().count() > MAX_LABEL_CHARS {
        format!(
            "{} characters, at most {MAX_LABEL_CHARS} are allowed",
            value.chars().count()
        )
    } else if let Some(c) = value.chars().find(|c| c.is_control()) {
        format!("control character {:?} not allowed", c)
    } else {
        return Ok(());
    };
    Err(FieldError {
        field: field.to_string(),
        problem,
    })
}

/// `s` made safe for one log line: control characters escaped (`\n`,
/// `\u{1b}` ...) and cut after [`MAX_LOG_CHARS`] characters.
pub fn for_log(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_LOG_CHARS + 16));
    for (i, c) in s.chars().enumerate() {
        if i == MAX_LOG_CHARS {
            out.push_str("…(cut)");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_long_and_control_characters() {
        assert!(check_label("target", "srp-api").is_ok());
        assert!(check_label("target", "registry:5000/srp/api").is_ok());
        assert!(check_label("target", &"é".repeat(MAX_LABEL_CHARS)).is_ok());
        let e = check_label("ArtifactName", &"a".repeat(100_000)).unwrap_err();
        assert_eq!(e.field, "ArtifactName");
        assert!(e.to_string().contains("100000 characters"), "{e}");
        let e = check_label("ArtifactName", "app\nlevel=error forged").unwrap_err();
        assert!(e.to_string().contains("control character"), "{e}");
    }

    #[test]
    fn log_fields_are_one_short_line() {
        assert_eq!(for_log("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(for_log("ünïcode ok"), "ünïcode ok");
        assert!(for_log(&"x".repeat(10_000)).chars().count() < MAX_LOG_CHARS + 10);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn escaped_text_has_no_control_characters(s in any::<String>()) {
            let e = for_log(&s);
            prop_assert!(!e.chars().any(char::is_control));
            prop_assert!(e.chars().count() <= MAX_LOG_CHARS + 10);
        }

        #[test]
        fn a_checked_label_is_short_and_clean(s in any::<String>()) {
            let ok = check_label("f", &s).is_ok();
            let clean = s.chars().count() <= MAX_LABEL_CHARS && !s.chars().any(char::is_control);
            prop_assert_eq!(ok, clean);
        }
    }
}
