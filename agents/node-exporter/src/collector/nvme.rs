//! `node_nvme_info{device,firmware_revision,model,serial,state}` from
//! /sys/class/nvme (on EC2: the Nitro EBS and instance-store controllers).

use super::{attr, entries, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::PathBuf;

pub struct Nvme {
    dir: PathBuf,
}

impl Nvme {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("class/nvme"),
        }
    }
}

impl Collector for Nvme {
    fn name(&self) -> &'static str {
        "nvme"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let devices = entries(&self.dir, "")?;
        let name = "node_nvme_info";
        if devices.is_empty() {
            return Ok(());
        }
        out.family(
            name,
            "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
            Gauge,
        );
        for (dev, p) in &devices {
            let a = |f: &str| attr(&p.join(f)).unwrap_or_default();
            out.sample(
                name,
                &[
                    ("device", dev),
                    ("firmware_revision", &a("firmware_rev")),
                    ("model", &a("model")),
                    ("serial", &a("serial")),
                    ("state", &a("state")),
                ],
                1.0,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn info_per_controller() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/class/nvme/nvme0/firmware_rev", "1B2QEXP7\n"),
                (
                    "sys/class/nvme/nvme0/model",
                    "Amazon Elastic Block Store              \n",
                ),
                ("sys/class/nvme/nvme0/serial", "vol0123\n"),
                ("sys/class/nvme/nvme0/state", "live\n"),
            ],
        );
        let t = render(&Nvme::new(&p));
        assert!(t.contains("node_nvme_info{device=\"nvme0\",firmware_revision=\"1B2QEXP7\",model=\"Amazon Elastic Block Store\",serial=\"vol0123\",state=\"live\"} 1\n"), "{t}");
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[]);
        let mut out = Exposition::default();
        assert!(Nvme::new(&p).collect(&mut out).unwrap_err().is_no_data());
    }
}
