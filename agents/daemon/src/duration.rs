//! The one duration grammar of every SRP flag and config key: a number and a
//! unit, `500ms`, `10s`, `1.5m`, `6h`, `7d`, `2w`. A bare number is refused
//! on the command line and in strings, because one reader would take `7` as
//! seconds and another as days; a TOML/JSON integer is seconds, the only
//! reading an integer key has ever had in SRP's configs.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A [`Duration`] that parses from the SRP grammar (clap and serde).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Duration);

impl Dur {
    pub const fn secs(s: u64) -> Self {
        Dur(Duration::from_secs(s))
    }
    pub const fn get(self) -> Duration {
        self.0
    }
}

impl From<Dur> for Duration {
    fn from(d: Dur) -> Duration {
        d.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(String);

/// Parse `<number><unit>`, unit one of ms, s, m, h, d, w.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let err = |why: &str| DurationError(format!("duration {text:?} {why}"));
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(|| err("needs a unit (ms, s, m, h, d or w), e.g. 10s"))?;
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(err("must start with a number"));
    }
    let n: f64 = num.parse().map_err(|_| err("must start with a number"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 7.0 * 86_400.0,
        _ => return Err(err("has an unknown unit (use ms, s, m, h, d or w)")),
    };
    Duration::try_from_secs_f64(n * scale).map_err(|_| err("is out of range"))
}

/// clap's `value_parser` for plain [`Duration`] fields.
pub fn parse_flag(text: &str) -> Result<Duration, String> {
    parse(text).map_err(|e| e.to_string())
}

impl FromStr for Dur {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map(Dur)
    }
}

/// Shortest exact spelling in the same grammar, so a value printed by one
/// tool reads back identically.
impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        let secs = self.0.as_secs();
        if !self.0.subsec_nanos().is_multiple_of(1_000_000) {
            return write!(f, "{}s", self.0.as_secs_f64());
        }
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
            if secs != 0 && secs.is_multiple_of(size) {
                return write!(f, "{}{unit}", secs / size);
            }
        }
        write!(f, "{secs}s")
    }
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
            Raw::Secs(s) => Ok(Dur::secs(s)),
            Raw::Text(t) => parse(&t).map(Dur).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_fractions() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse("6h").unwrap(), Duration::from_secs(21_600));
        assert_eq!(parse("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse("2w").unwrap(), Duration::from_secs(1_209_600));
        assert_eq!(parse(" 0s ").unwrap(), Duration::ZERO);
    }

    #[test]
    fn refuses_what_could_be_misread() {
        assert!(parse("10")
            .unwrap_err()
            .to_string()
            .contains("needs a unit"));
        assert!(parse("10y")
            .unwrap_err()
            .to_string()
            .contains("unknown unit"));
        assert!(parse("s").unwrap_err().to_string().contains("number"));
        assert!(parse("1.2.3s").is_err());
        assert!(parse("-1s").is_err());
        assert!(parse("1e400s").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn display_reads_back() {
        for text in [
            "500ms", "10s", "90s", "15m", "6h", "7d", "2w", "1500ms", "0s",
        ] {
            let d: Dur = text.parse().unwrap();
            assert_eq!(d.to_string().parse::<Dur>().unwrap(), d, "{text}");
        }
        assert_eq!(Dur::secs(90).to_string(), "90s");
        assert_eq!(Dur::secs(3600).to_string(), "1h");
    }

    #[test]
    fn serde_takes_strings_and_integer_seconds() {
        #[derive(Deserialize)]
        struct C {
            a: Dur,
            b: Dur,
        }
        let c: C = serde_json::from_str(r#"{"a":"1.5m","b":30}"#).unwrap();
        assert_eq!(c.a, Dur::secs(90));
        assert_eq!(c.b, Dur::secs(30));
        let bad = serde_json::from_str::<C>(r#"{"a":"7","b":1}"#)
            .err()
            .unwrap();
        assert!(bad.to_string().contains("needs a unit"), "{bad}");
    }
}
