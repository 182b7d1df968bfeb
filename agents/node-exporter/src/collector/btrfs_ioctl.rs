//! Per-device figures of a mounted btrfs filesystem, from its ioctls
//! (`BTRFS_IOC_FS_INFO`, `BTRFS_IOC_DEV_INFO`, `BTRFS_IOC_GET_DEV_STATS`, as
//! `btrfs device stats` reads them): each member's path, UUID, size, bytes
//! allocated and its five error counters. sysfs has the sizes but neither the
//! device UUIDs nor the error counters. None of these ioctls needs
//! CAP_SYS_ADMIN (only resetting the counters would).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// btrfs' statfs `f_type`.
const BTRFS_SUPER_MAGIC: i64 = 0x9123_683E;
const BTRFS_IOCTL_MAGIC: u64 = 0x94;

/// `_IOR`/`_IOWR` as <asm-generic/ioctl.h> builds them.
const fn ioc(dir: u64, nr: u64, size: usize) -> u64 {
    (dir << 30) | ((size as u64) << 16) | (BTRFS_IOCTL_MAGIC << 8) | nr
}
const IOC_READ: u64 = 2;
const IOC_READ_WRITE: u64 = 3;

/// `struct btrfs_ioctl_fs_info_args` (1 KiB; the fields past `fsid` are
/// not used here).
#[repr(C)]
struct FsInfoArgs {
    max_id: u64,
    num_devices: u64,
    fsid: [u8; 16],
    rest: [u8; 1024 - 32],
}

/// `struct btrfs_ioctl_dev_info_args` (4 KiB).
#[repr(C)]
struct DevInfoArgs {
    devid: u64,
    uuid: [u8; 16],
    bytes_used: u64,
    total_bytes: u64,
    unused: [u64; 379],
    path: [u8; 1024],
}

/// The number of error counters the kernel keeps per device: write, read,
/// flush, corruption, generation.
pub const DEV_STAT_VALUES: usize = 5;

/// `struct btrfs_ioctl_get_dev_stats`.
#[repr(C)]
struct DevStatsArgs {
    devid: u64,
    nr_items: u64,
    flags: u64,
    values: [u64; DEV_STAT_VALUES],
    unused: [u64; 128 - 2 - DEV_STAT_VALUES],
}

const IOC_FS_INFO: u64 = ioc(IOC_READ, 31, std::mem::size_of::<FsInfoArgs>());
const IOC_DEV_INFO: u64 = ioc(IOC_READ_WRITE, 30, std::mem::size_of::<DevInfoArgs>());
const IOC_GET_DEV_STATS: u64 = ioc(IOC_READ_WRITE, 52, std::mem::size_of::<DevStatsArgs>());

/// One member device.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// As the kernel has it, e.g. `/dev/sda1`.
    pub path: String,
    pub uuid: [u8; 16],
    pub bytes_used: u64,
    pub total_bytes: u64,
    /// write, read, flush, corruption, generation.
    pub errors: [u64; DEV_STAT_VALUES],
}

/// A filesystem's id (as sysfs names it, without dashes) and its members.
#[derive(Debug, Clone, PartialEq)]
pub struct Filesystem {
    pub fsid: [u8; 16],
    pub devices: Vec<Device>,
}

/// `hex` of 16 bytes, optionally as 8-4-4-4-12.
pub fn uuid_text(b: &[u8; 16], dashes: bool) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if dashes && matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

fn ioctl<T>(fd: &OwnedFd, req: u64, arg: &mut T) -> std::io::Result<()> {
    // SAFETY: `arg` is a #[repr(C)] struct of exactly the size encoded in
    // `req`, which the kernel reads and writes within those bounds.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg as *mut T) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Query the filesystem mounted at `mountpoint`. `Ok(None)` when it is not
/// btrfs (e.g. a stale mount table entry).
pub fn query(mountpoint: &Path) -> std::io::Result<Option<Filesystem>> {
    let c = CString::new(mountpoint.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: open(2) of a NUL-terminated path; the fd is owned right below.
    let raw = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOATIME,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: fstatfs fills the zeroed struct we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if st.f_type as i64 != BTRFS_SUPER_MAGIC {
        return Ok(None);
    }
    // SAFETY (zeroed): all-integer structs, for which zero is valid.
    let mut info: FsInfoArgs = unsafe { std::mem::zeroed() };
    ioctl(&fd, IOC_FS_INFO, &mut info)?;
    let mut devices = Vec::with_capacity(info.num_devices as usize);
    // Device ids need not start at 0 nor be contiguous (removed devices).
    for devid in 0..=info.max_id {
        let mut dev: DevInfoArgs = unsafe { std::mem::zeroed() };
        dev.devid = devid;
        match ioctl(&fd, IOC_DEV_INFO, &mut dev) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => continue,
            Err(e) => return Err(e),
        }
        let mut stats: DevStatsArgs = unsafe { std::mem::zeroed() };
        stats.devid = devid;
        // The kernel fills only as many counters as asked for.
        stats.nr_items = DEV_STAT_VALUES as u64;
        ioctl(&fd, IOC_GET_DEV_STATS, &mut stats)?;
        let end = dev
            .path
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(dev.path.len());
        devices.push(Device {
            path: String::from_utf8_lossy(&dev.path[..end]).into_owned(),
            uuid: dev.uuid,
            bytes_used: dev.bytes_used,
            total_bytes: dev.total_bytes,
            errors: stats.values,
        });
        if devices.len() as u64 == info.num_devices {
            break;
        }
    }
    Ok(Some(Filesystem {
        fsid: info.fsid,
        devices,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_structs_have_the_kernels_sizes() {
        assert_eq!(std::mem::size_of::<FsInfoArgs>(), 1024);
        assert_eq!(std::mem::size_of::<DevInfoArgs>(), 4096);
        assert_eq!(std::mem::size_of::<DevStatsArgs>(), 1032);
        // The request numbers btrfs-progs uses (x86_64, arm64).
        assert_eq!(IOC_FS_INFO, 0x8400_941f);
        assert_eq!(IOC_DEV_INFO, 0xd000_941e);
        assert_eq!(IOC_GET_DEV_STATS, 0xc408_9434);
    }

    #[test]
    fn uuids_as_sysfs_and_btrfs_progs_write_them() {
        let b = [
            0x7f, 0x07, 0xc5, 0x9f, 0x61, 0x36, 0x44, 0x9c, 0xab, 0x87, 0xe1, 0xcf, 0x23, 0x28,
            0x73, 0x1b,
        ];
        assert_eq!(uuid_text(&b, true), "7f07c59f-6136-449c-ab87-e1cf2328731b");
        assert_eq!(uuid_text(&b, false), "7f07c59f6136449cab87e1cf2328731b");
    }

    #[test]
    fn a_directory_that_is_not_btrfs_is_none_and_a_missing_one_an_error() {
        let d = tempfile::tempdir().unwrap();
        // The temp dir is on tmpfs/ext4/overlay here, never btrfs in CI; if
        // it were btrfs, FS_INFO would answer and the members be listed.
        match query(d.path()).unwrap() {
            None => {}
            Some(fs) => assert!(!fs.devices.is_empty()),
        }
        assert!(query(&d.path().join("absent")).is_err());
    }
}
