//! The project record as stored and as served.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, SecondsFormat, SubsecRound, Timelike, Utc};
use serde::{Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub description: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// A validated project to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    pub name: String,
    pub description: String,
}

/// A validated change: fields left `None` keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectChange {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// Now, at the microsecond precision both SQLite (as text) and PostgreSQL
/// (timestamptz) keep, so a value reads back exactly as it was written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The one timestamp format the API speaks: RFC 3339, UTC, microseconds
/// (`2026-11-28T22:17:51.969078Z`).
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    let mut buf = [0u8; TIMESTAMP_LEN];
    match write_timestamp(t, &mut buf) {
        Some(s) => s.to_string(),
        None => t.to_rfc3339_opts(SecondsFormat::Micros, true),
    }
}

/// Parse what [`format_timestamp`] wrote (fast path), or any RFC 3339 time.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    read_timestamp(s).or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

const TIMESTAMP_LEN: usize = 27;

/// Formats into `buf` without allocating; `None` for years outside 0..=9999.
/// A list response holds two timestamps per project, so this is hot.
fn write_timestamp<'a>(t: &DateTime<Utc>, buf: &'a mut [u8; TIMESTAMP_LEN]) -> Option<&'a str> {
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let micros = t.nanosecond() % 1_000_000_000 / 1000;
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut v = value;
        for i in (0..digits).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, t.month(), 2);
    put(8, t.day(), 2);
    put(11, t.hour(), 2);
    put(14, t.minute(), 2);
    put(17, t.second(), 2);
    put(20, micros, 6);
    for (at, sep) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ] {
        buf[at] = sep;
    }
    std::str::from_utf8(buf).ok()
}

fn read_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() != TIMESTAMP_LEN
        || [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (26, b'Z'),
        ]
        .iter()
        .any(|&(at, sep)| b[at] != sep)
    {
        return None;
    }
    let num = |at: usize, digits: usize| -> Option<u32> {
        b[at..at + digits].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 2)?, num(8, 2)?)?;
    let time = NaiveTime::from_hms_micro_opt(num(11, 2)?, num(14, 2)?, num(17, 2)?, num(20, 6)?)?;
    Some(date.and_time(time).and_utc())
}

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; TIMESTAMP_LEN];
    match write_timestamp(t, &mut buf) {
        Some(text) => s.serialize_str(text),
        None => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_match_chrono() {
        for text in [
            "2026-11-28T22:17:51.969078Z",
            "1970-01-01T00:00:00.000000Z",
            "9999-12-31T23:59:59.999999Z",
            "2024-02-29T12:00:00.000001Z",
        ] {
            let t = parse_timestamp(text).unwrap();
            assert_eq!(format_timestamp(&t), text);
            assert_eq!(t.to_rfc3339_opts(SecondsFormat::Micros, true), text);
        }
        let now = now();
        assert_eq!(parse_timestamp(&format_timestamp(&now)), Some(now));
        // Other RFC 3339 spellings still parse (slow path); nonsense does not.
        let offset = parse_timestamp("2026-11-28T23:17:51.5+01:00").unwrap();
        assert_eq!(format_timestamp(&offset), "2026-11-28T22:17:51.500000Z");
        assert_eq!(parse_timestamp("2026-02-30T00:00:00.000000Z"), None);
        assert_eq!(parse_timestamp("2026-11-28T22:17:51.96907xZ"), None);
        assert_eq!(parse_timestamp(""), None);
    }
}
