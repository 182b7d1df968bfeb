//! `node_dmi_info{bios_*,board_*,chassis_*,product_*,system_vendor}` from
//! /sys/class/dmi/id: one label per attribute the kernel lets us read (the
//! serials are root-only on most kernels), invalid UTF-8 replaced as Go's
//! `strings.ToValidUTF8(s, "\uFFFD")` does.

use super::{CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::PathBuf;

/// (file, label), in label order.
const FIELDS: [(&str, &str); 20] = [
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

pub struct Dmi {
    dir: PathBuf,
}

impl Dmi {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("class/dmi/id"),
        }
    }
}

/// Go's ToValidUTF8: each run of invalid bytes becomes one U+FFFD.
pub(crate) fn to_valid_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut prev_invalid = false;
    for chunk in bytes.utf8_chunks() {
        if !chunk.valid().is_empty() {
            out.push_str(chunk.valid());
            prev_invalid = false;
        }
        if !chunk.invalid().is_empty() {
            if !prev_invalid {
                out.push('\u{FFFD}');
            }
            prev_invalid = true;
        }
    }
    out
}

impl Collector for Dmi {
    fn name(&self) -> &'static str {
        "dmi"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        if !self.dir.is_dir() {
            return Err(CollectError::NoData(format!(
                "{} not found",
                self.dir.display()
            )));
        }
        let values: Vec<(&str, String)> = FIELDS
            .iter()
            .filter_map(|(file, label)| {
                let raw = std::fs::read(self.dir.join(file)).ok()?;
                Some((*label, to_valid_utf8(raw.trim_ascii())))
            })
            .collect();
        let labels: Vec<(&str, &str)> = values.iter().map(|(l, v)| (*l, v.as_str())).collect();
        let name = "node_dmi_info";
        out.family(
            name,
            "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.",
            Gauge,
        );
        out.sample(name, &labels, 1.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn readable_fields_with_invalid_utf8_replaced() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/class/dmi/id/bios_vendor", "Amazon EC2\n"),
                ("sys/class/dmi/id/chassis_asset_tag", "\n"),
                ("sys/class/dmi/id/sys_vendor", "Amazon EC2\n"),
            ],
        );
        std::fs::write(
            p.sysfs.join("class/dmi/id/product_version"),
            b"\xc0\x1c[\x87\n",
        )
        .unwrap();
        let t = render(&Dmi::new(&p));
        assert!(t.contains("node_dmi_info{bios_vendor=\"Amazon EC2\",chassis_asset_tag=\"\",product_version=\"\u{FFFD}\x1c[\u{FFFD}\",system_vendor=\"Amazon EC2\"} 1\n"), "{t}");
        assert_eq!(to_valid_utf8(b"a\xff\xfeb"), "a\u{FFFD}b");
    }
}
