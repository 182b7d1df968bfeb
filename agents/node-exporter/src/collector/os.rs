//! `node_os_info` and `node_os_version` from os-release
//! (/etc/os-release, falling back to /usr/lib/os-release, under --path.rootfs).

use super::{read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::collections::HashMap;
use std::path::PathBuf;

/// KEY=value lines; values may be quoted with ' or " and use \ escapes.
pub fn parse(text: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let unquoted = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            &v[1..v.len() - 1]
        } else {
            v
        };
        let mut s = String::with_capacity(unquoted.len());
        let mut esc = false;
        for c in unquoted.chars() {
            if esc {
                s.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                s.push(c);
            }
        }
        m.insert(k.trim().to_string(), s);
    }
    m
}

/// The major.minor part of VERSION_ID as a number (0 when there is none).
pub fn version_number(version_id: &str) -> f64 {
    let mut end = 0;
    let mut dots = 0;
    for (i, c) in version_id.char_indices() {
        if c.is_ascii_digit() {
            end = i + 1;
        } else if c == '.' && dots == 0 && end == i {
            dots += 1;
        } else {
            break;
        }
    }
    version_id[..end].parse().unwrap_or(0.0)
}

pub struct Os {
    files: [PathBuf; 2],
}

impl Os {
    pub fn new(paths: &Paths) -> Self {
        Self {
            files: [
                paths.root("etc/os-release"),
                paths.root("usr/lib/os-release"),
            ],
        }
    }
}

impl Collector for Os {
    fn name(&self) -> &'static str {
        "os"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = match read(&self.files[0]) {
            Ok(t) => t,
            Err(_) => read(&self.files[1])?,
        };
        let m = parse(&text);
        let g = |k: &str| m.get(k).map(String::as_str).unwrap_or("");
        let name = "node_os_info";
        out.family(
            name,
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
            Gauge,
        );
        out.sample(
            name,
            &[
                ("build_id", g("BUILD_ID")),
                ("id", g("ID")),
                ("id_like", g("ID_LIKE")),
                ("image_id", g("IMAGE_ID")),
                ("image_version", g("IMAGE_VERSION")),
                ("name", g("NAME")),
                ("pretty_name", g("PRETTY_NAME")),
                ("variant", g("VARIANT")),
                ("variant_id", g("VARIANT_ID")),
                ("version", g("VERSION")),
                ("version_codename", g("VERSION_CODENAME")),
                ("version_id", g("VERSION_ID")),
            ],
            1.0,
        );
        let name = "node_os_version";
        out.family(
            name,
            "Metric containing the major.minor part of the OS version.",
            Gauge,
        );
        out.sample(
            name,
            &[
                ("id", g("ID")),
                ("id_like", g("ID_LIKE")),
                ("name", g("NAME")),
            ],
            version_number(g("VERSION_ID")),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    const DEBIAN: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

    #[test]
    fn info_and_version() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("root/usr/lib/os-release", DEBIAN)]);
        let t = render(&Os::new(&p));
        assert!(
            t.contains("pretty_name=\"Debian GNU/Linux 12 (bookworm)\""),
            "{t}"
        );
        assert!(t.contains("version_codename=\"bookworm\""), "{t}");
        assert!(
            t.contains(
                "node_os_version{id=\"debian\",id_like=\"\",name=\"Debian GNU/Linux\"} 12\n"
            ),
            "{t}"
        );
    }

    #[test]
    fn versions() {
        assert_eq!(version_number("22.04"), 22.04);
        assert_eq!(version_number("3.18.4"), 3.18);
        assert_eq!(version_number("rolling"), 0.0);
        assert_eq!(parse("A='x \\\"y'\n")["A"], "x \"y");
    }
}
