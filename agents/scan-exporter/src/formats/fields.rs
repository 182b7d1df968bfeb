//! Readers for the fields the gate decides on. Every one is typed and
//! closed: a scanner either writes a value from its vocabulary or leaves the
//! key out, so `null`, `""` and unknown words are a broken report, never a
//! default. A serde error raised here carries its JSON path (see
//! [`super::from_slice`]).

use crate::model::Severity;
use serde::{Deserialize, Deserializer};
use std::fmt::Write;

/// For `#[serde(default, deserialize_with = "non_null")]` on an `Option`:
/// an absent key is `None`, `null` is an error (no scanner writes `null`
/// for a key it has nothing for; Go's `omitempty` leaves it out).
pub(crate) fn non_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// A string that must be present and not empty (an id, a rule, a name).
pub(crate) fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Err(serde::de::Error::custom(
            "empty string where a value is required",
        ));
    }
    Ok(s)
}

/// Trivy's severity: exactly one of its five words, as Trivy writes them
/// (upper case). Required: `null`, `""` or another word is an error, never
/// UNKNOWN, because UNKNOWN does not block under a HIGH threshold.
pub(crate) fn trivy_severity<'de, D: Deserializer<'de>>(d: D) -> Result<Severity, D::Error> {
    let s = String::deserialize(d)?;
    match s.as_str() {
        "UNKNOWN" => Ok(Severity::Unknown),
        "LOW" => Ok(Severity::Low),
        "MEDIUM" => Ok(Severity::Medium),
        "HIGH" => Ok(Severity::High),
        "CRITICAL" => Ok(Severity::Critical),
        "" => Err(serde::de::Error::custom(
            "empty severity: expected one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL",
        )),
        other => Err(serde::de::Error::custom(format!(
            "unknown severity {other:?}: expected one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL"
        ))),
    }
}

/// A JSON path as users read it: `$.Results[0].Vulnerabilities[3].Severity`.
pub(crate) fn json_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::from("$");
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => {
                let _ = write!(out, "[{index}]");
            }
            Segment::Map { key } => {
                let _ = write!(out, ".{key}");
            }
            Segment::Enum { variant } => {
                let _ = write!(out, ".{variant}");
            }
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// For `#[serde(default, deserialize_with = "objects")]` on an
/// `Option<Vec<T>>` of records: like [`non_null`], and each element must be
/// a JSON object. serde's derived structs also accept a JSON array (their
/// fields by position), so `["x", "pass"]` in place of a SARIF result would
/// read as a result of kind `pass`, skipped as no finding: a broken report
/// read as a clean one.
pub(crate) fn objects<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Vec::<ObjectOnly<T>>::deserialize(d).map(|v| Some(v.into_iter().map(|o| o.0).collect()))
}

/// A `T` read from a JSON object only.
pub(crate) struct ObjectOnly<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Only<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Only<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Only(std::marker::PhantomData))
            .map(ObjectOnly)
    }
}
