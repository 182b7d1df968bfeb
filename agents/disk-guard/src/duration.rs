//! Human durations in the config file: `"90s"`, `"15m"`, `"6h"`, `"7d"`,
//! `"2w"`, or a bare integer meaning seconds. A unit is required for strings
//! so that `"7"` cannot be misread as days by one reader and seconds by another.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    pub const fn secs(s: u64) -> Self {
        Dur(Duration::from_secs(s))
    }
    pub fn as_secs(&self) -> u64 {
        self.0.as_secs()
    }
}

/// Parse `<integer><unit>` with unit one of s, m, h, d, w.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration {text:?} needs a unit (s, m, h, d or w)"))?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("duration {text:?} must start with a whole number"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "duration {text:?}: unknown unit {unit:?} (use s, m, h, d or w)"
            ))
        }
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("duration {text:?} is too large"))
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(Dur(Duration::from_secs(s))),
            Raw::Text(t) => parse(&t).map(Dur).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse("6h").unwrap(), Duration::from_secs(21_600));
        assert_eq!(parse("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse("2w").unwrap(), Duration::from_secs(1_209_600));
    }

    #[test]
    fn rejects_missing_or_unknown_units() {
        assert!(parse("7").unwrap_err().contains("needs a unit"));
        assert!(parse("7y").unwrap_err().contains("unknown unit"));
        assert!(parse("d").is_err());
        assert!(parse("1.5h").is_err());
    }

    use proptest::prelude::*;

    const UNITS: [(&str, u64); 5] = [
        ("s", 1),
        ("m", 60),
        ("h", 3600),
        ("d", 86_400),
        ("w", 7 * 86_400),
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Whatever an operator types, the parser answers (no panic), and an
        /// answer is never zero-width garbage: it came from a whole number.
        #[test]
        fn any_text_is_answered_without_panicking(text in any::<String>()) {
            if let Ok(d) = parse(&text) {
                prop_assert!(text.trim().starts_with(|c: char| c.is_ascii_digit()), "{text:?} -> {d:?}");
            }
        }

        #[test]
        fn number_and_unit_mean_exactly_that_or_are_too_large(
            n in any::<u64>(),
            unit in 0usize..5,
            pad in "[ \t]{0,2}",
        ) {
            let (suffix, mult) = UNITS[unit];
            let got = parse(&format!("{pad}{n}{suffix}{pad}"));
            match n.checked_mul(mult) {
                Some(secs) => prop_assert_eq!(got, Ok(Duration::from_secs(secs))),
                None => prop_assert!(got.unwrap_err().contains("too large")),
            }
        }
    }
}
