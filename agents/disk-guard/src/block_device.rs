//! The block device behind a mount point, from sysfs: its name, whether it
//! is a partition (and of which disk), the disk's size as the kernel sees
//! it, and the NVMe serial, which on EC2 holds the EBS volume id
//! (`vol0123…` for `vol-0123…`).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct BlockDevice {
    /// The device the filesystem is on: `nvme0n1p1`, `loop3`.
    pub name: String,
    /// The whole disk and the partition number, when `name` is a partition.
    pub partition_of: Option<(String, u32)>,
}

impl BlockDevice {
    /// Identify the device a mount point's filesystem lives on.
    pub fn of_mount(mountpoint: &Path) -> std::io::Result<BlockDevice> {
        let st = rustix::fs::stat(mountpoint)?;
        let (major, minor) = (rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev));
        let sys = std::fs::canonicalize(format!("/sys/dev/block/{major}:{minor}"))?;
        let name = file_name(&sys)?;
        let partition_of = match std::fs::read_to_string(sys.join("partition")) {
            Ok(n) => {
                let disk = file_name(sys.parent().unwrap_or(&sys))?;
                Some((disk, n.trim().parse().unwrap_or(0)))
            }
            Err(_) => None,
        };
        Ok(BlockDevice { name, partition_of })
    }

    pub fn disk(&self) -> &str {
        self.partition_of
            .as_ref()
            .map(|(d, _)| d.as_str())
            .unwrap_or(&self.name)
    }

    pub fn dev_path(&self) -> PathBuf {
        PathBuf::from("/dev").join(&self.name)
    }

    /// Bytes of the whole disk, as the kernel sees it now.
    pub fn disk_size_bytes(&self) -> std::io::Result<u64> {
        let sectors = std::fs::read_to_string(format!("/sys/class/block/{}/size", self.disk()))?;
        Ok(sectors.trim().parse::<u64>().unwrap_or(0) * 512)
    }

    /// The EBS volume id from the NVMe serial, if the disk has one.
    pub fn ebs_volume_id(&self) -> Option<String> {
        let serial =
            std::fs::read_to_string(format!("/sys/class/block/{}/device/serial", self.disk()))
                .ok()?;
        volume_id_from_serial(&serial)
    }
}

fn file_name(p: &Path) -> std::io::Result<String> {
    p.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| std::io::Error::other(format!("no device name in {}", p.display())))
}

/// `vol0123456789abcdef0` (Nitro NVMe serial) → `vol-0123456789abcdef0`.
pub fn volume_id_from_serial(serial: &str) -> Option<String> {
    let s = serial.trim();
    let hex = s.strip_prefix("vol-").or_else(|| s.strip_prefix("vol"))?;
    (!hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| format!("vol-{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvme_serials_name_the_volume_and_nothing_else_does() {
        assert_eq!(
            volume_id_from_serial("vol0123456789abcdef0\n").as_deref(),
            Some("vol-0123456789abcdef0")
        );
        assert_eq!(
            volume_id_from_serial("vol-0abc").as_deref(),
            Some("vol-0abc")
        );
        assert_eq!(volume_id_from_serial("S3EVNX0K123456"), None);
        assert_eq!(volume_id_from_serial("vol"), None);
    }

    #[test]
    fn the_root_filesystem_has_a_device_or_a_clear_error() {
        // Containers put / on overlay (no block device); either answer is fine,
        // but it must not panic.
        let _ = BlockDevice::of_mount(Path::new("/"));
    }
}
