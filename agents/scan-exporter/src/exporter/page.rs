//! One page of a stored summary's blocking findings, read from a stream.
//!
//! A report with a million findings has a summary of hundreds of MB; loading
//! it as a `serde_json::Value` per `/latest` request took four parallel
//! requests to 5.5 GB. Here the summary is deserialised from a reader, every
//! field but `blocking` kept as it is (they are small: counts per target,
//! waivers, checks), and of `blocking` only the requested window is kept;
//! the rest is skipped and counted.

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Blocking findings per page when the request names no limit.
pub const DEFAULT_PAGE: usize = 100;
/// The largest page a request can ask for.
pub const MAX_PAGE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

/// The summary read from `reader`, with `blocking` cut to `page` and these
/// fields added: `blocking_total`, `blocking_offset`, `blocking_limit`,
/// `truncated` (true when findings exist outside the page), and
/// `next_offset` when more follow.
pub fn read_paged<R: std::io::Read>(reader: R, page: Page) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let (mut map, window) = PagedSummary(page).deserialize(&mut de)?;
    de.end()?;
    let (items, total) = window.unwrap_or_default();
    let shown = items.len();
    map.insert("blocking".into(), Value::Array(items));
    map.insert("blocking_total".into(), total.into());
    map.insert("blocking_offset".into(), page.offset.into());
    map.insert("blocking_limit".into(), page.limit.into());
    map.insert("truncated".into(), (shown < total).into());
    let next = page.offset.saturating_add(shown);
    if next < total {
        map.insert("next_offset".into(), next.into());
    }
    Ok(Value::Object(map))
}

struct PagedSummary(Page);

type Window = (Vec<Value>, usize);

impl<'de> DeserializeSeed<'de> for PagedSummary {
    type Value = (Map<String, Value>, Option<Window>);
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PagedSummary {
    type Value = (Map<String, Value>, Option<Window>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an srp-gate summary object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        let mut window = None;
        while let Some(key) = m.next_key::<String>()? {
            if key == "blocking" {
                window = Some(m.next_value_seed(PageOf(self.0))?);
            } else {
                let v: Value = m.next_value()?;
                out.insert(key, v);
            }
        }
        Ok((out, window))
    }
}

struct PageOf(Page);

impl<'de> DeserializeSeed<'de> for PageOf {
    type Value = Window;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PageOf {
    type Value = Window;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of blocking findings")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        let Page { offset, limit } = self.0;
        let mut items = Vec::with_capacity(limit.min(MAX_PAGE));
        let mut total = 0usize;
        loop {
            let in_page = total >= offset && total - offset < limit;
            if in_page {
                match s.next_element::<Value>()? {
                    Some(v) => items.push(v),
                    None => break,
                }
            } else if s.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            total += 1;
        }
        Ok((items, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn summary(n: usize) -> String {
        let blocking: Vec<Value> = (0..n).map(|i| json!({"id": format!("CVE-{i}")})).collect();
        json!({"kind": "srp-gate-summary", "verdict": "block", "blocking": blocking, "waived": 0})
            .to_string()
    }

    fn ids(v: &Value) -> Vec<String> {
        v["blocking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn first_middle_and_last_pages() {
        let s = summary(250);
        let v = read_paged(
            s.as_bytes(),
            Page {
                offset: 0,
                limit: 100,
            },
        )
        .unwrap();
        assert_eq!(ids(&v).len(), 100);
        assert_eq!(
            (&v["blocking_total"], &v["truncated"], &v["next_offset"]),
            (&json!(250), &json!(true), &json!(100))
        );
        assert_eq!((&v["verdict"], &v["waived"]), (&json!("block"), &json!(0)));
        let v = read_paged(
            s.as_bytes(),
            Page {
                offset: 245,
                limit: 100,
            },
        )
        .unwrap();
        assert_eq!(
            ids(&v),
            ["CVE-245", "CVE-246", "CVE-247", "CVE-248", "CVE-249"]
        );
        assert_eq!(v["truncated"], json!(true));
        assert!(v.get("next_offset").is_none());
        let v = read_paged(
            summary(3).as_bytes(),
            Page {
                offset: 0,
                limit: 100,
            },
        )
        .unwrap();
        assert_eq!((ids(&v).len(), &v["truncated"]), (3, &json!(false)));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn a_page_is_the_slice_of_the_whole(n in 0usize..60, offset in 0usize..70, limit in 0usize..30) {
            let v = read_paged(summary(n).as_bytes(), Page { offset, limit }).unwrap();
            let want: Vec<String> = (0..n).skip(offset).take(limit).map(|i| format!("CVE-{i}")).collect();
            prop_assert_eq!(ids(&v), want);
            prop_assert_eq!(v["blocking_total"].as_u64(), Some(n as u64));
        }
    }
}
