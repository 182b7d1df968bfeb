//! Grow the EBS volume behind a mount point: the last resort, off by
//! default, within the configured limits (maximum size, step, grows per
//! day, cooldown). The volume is found from the NVMe serial (or named in the
//! config) and must be attached to this instance (IMDSv2). Then:
//! `ModifyVolume`, wait for `optimizing`, wait for the kernel to see the
//! new size, `growpart` when the filesystem is on a partition, and
//! `resize2fs` (ext4) or `xfs_growfs` (XFS) online.

use crate::block_device::BlockDevice;
use crate::config::GrowConfig;
use crate::ec2::{Ec2, Ec2Error};
use crate::imds::{Imds, ImdsError};
use crate::journal::{now_ms, Journal, JournalError};
use crate::sigv4::Credentials;
use std::path::Path;
use std::time::{Duration, Instant};

const GIB: u64 = 1 << 30;
const EXT4_MAGIC: i64 = 0xEF53;
const XFS_MAGIC: i64 = 0x5846_5342;

#[derive(Debug, thiserror::Error)]
pub enum GrowError {
    #[error("cannot find the block device of {mount}: {source}")]
    Device {
        mount: String,
        source: std::io::Error,
    },
    #[error("no EBS volume id: {0} has no NVMe serial naming one; set grow.volume_id")]
    NoVolumeId(String),
    #[error(transparent)]
    Imds(#[from] ImdsError),
    #[error(transparent)]
    Ec2(#[from] Ec2Error),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

/// What a grow step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Grown {
    Grown {
        volume: String,
        from_gib: u64,
        to_gib: u64,
        /// How long each step took: the lookup (IMDS, credentials,
        /// DescribeVolumes), ModifyVolume, waiting for optimizing,
        /// waiting for the kernel's new size, growpart, the filesystem grow.
        steps: Vec<(String, Duration)>,
    },
    WouldGrow(Vec<String>),
    /// Limits say no for now (cooldown, per-day, at maximum size).
    Limited(String),
}

impl Grown {
    pub fn label(&self) -> &'static str {
        match self {
            Grown::Grown { .. } => "grown",
            Grown::WouldGrow(_) => "would_grow",
            Grown::Limited(_) => "limited",
        }
    }
}

pub struct Grower<'a> {
    pub cfg: &'a GrowConfig,
    pub journal: &'a Journal,
    pub rt: &'a tokio::runtime::Handle,
    pub dry_run: bool,
}

/// Credentials: the environment's (AWS_ACCESS_KEY_ID, …) if set, else the
/// instance role's from IMDS, like the AWS SDKs' default chain.
async fn credentials(imds: &Imds) -> Result<Credentials, GrowError> {
    if let (Ok(a), Ok(s)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        return Ok(Credentials {
            access_key: a,
            secret_key: s,
            session_token: std::env::var("AWS_SESSION_TOKEN").ok(),
        });
    }
    Ok(imds.role_credentials().await?)
}

impl Grower<'_> {
    fn limits(&self, mount: &str) -> Result<Option<String>, GrowError> {
        let day_ago = now_ms() - 86_400_000;
        let recent = self.journal.grows_since(mount, day_ago)?;
        if recent.len() >= self.cfg.max_per_day as usize {
            return Ok(Some(format!(
                "{} grows in the last 24 h (max_per_day {})",
                recent.len(),
                self.cfg.max_per_day
            )));
        }
        if let Some(last) = recent.first() {
            let cooldown = self.cfg.cooldown.get().as_millis() as i64;
            if now_ms() - last < cooldown {
                return Ok(Some(format!(
                    "last grow {} s ago (cooldown {} s)",
                    (now_ms() - last) / 1000,
                    cooldown / 1000
                )));
            }
        }
        Ok(None)
    }

    pub fn grow(&self, mountpoint: &Path) -> Result<Grown, GrowError> {
        let mount = mountpoint.display().to_string();
        if let Some(why) = self.limits(&mount)? {
            return Ok(Grown::Limited(why));
        }
        let dev = BlockDevice::of_mount(mountpoint).map_err(|source| GrowError::Device {
            mount: mount.clone(),
            source,
        })?;
        let volume = match (&self.cfg.volume_id, dev.ebs_volume_id()) {
            (_, Some(v)) => v,
            (Some(v), None) => v.clone(),
            (None, None) => return Err(GrowError::NoVolumeId(dev.disk().to_string())),
        };
        self.rt
            .block_on(self.grow_volume(mountpoint, &mount, &dev, &volume))
    }

    async fn grow_volume(
        &self,
        mountpoint: &Path,
        mount: &str,
        dev: &BlockDevice,
        volume: &str,
    ) -> Result<Grown, GrowError> {
        let lookup = Instant::now();
        let imds = Imds::connect(&self.cfg.imds_url).await?;
        let instance = imds.get("instance-id").await?;
        let region = imds.get("placement/region").await?;
        let endpoint = self
            .cfg
            .ec2_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://ec2.{region}.amazonaws.com"));
        let ec2 = Ec2::new(&endpoint, &region, credentials(&imds).await?);
        let v = ec2.describe_volume(volume).await?;
        if !v.attached_to.is_empty() && !v.attached_to.contains(&instance) {
            return Err(GrowError::Refused(format!(
                "{volume} is attached to {:?}, not to this instance {instance}",
                v.attached_to
            )));
        }
        if v.attached_to.is_empty() && self.cfg.volume_id.as_deref() != Some(volume) {
            return Err(GrowError::Refused(format!(
                "{volume} is attached to no instance; not growing a volume that may not be this one"
            )));
        }
        let to = (v.size_gib + self.cfg.step_gib).min(self.cfg.max_size_gib);
        if to <= v.size_gib {
            return Ok(Grown::Limited(format!(
                "{volume} is {} GiB, at max_size_gib {}",
                v.size_gib, self.cfg.max_size_gib
            )));
        }
        let fs = fs_grow_command(mountpoint, dev)?;
        let mut calls = vec![format!(
            "POST {endpoint}/ {}",
            Ec2::body(
                "ModifyVolume",
                &[("VolumeId", volume.to_string()), ("Size", to.to_string())]
            )
        )];
        calls.push(format!(
            "wait for DescribeVolumesModifications VolumeId.1={volume} to say optimizing, and /sys/class/block/{}/size to show {to} GiB",
            dev.disk()
        ));
        if let Some((disk, n)) = &dev.partition_of {
            calls.push(format!("growpart /dev/{disk} {n}"));
        }
        calls.push(fs.join(" "));
        if self.dry_run {
            for c in &calls {
                tracing::warn!(mountpoint = %mount, "dry-run: would call: {c}");
            }
            return Ok(Grown::WouldGrow(calls));
        }
        let id = self.journal.begin_grow(mount, volume, v.size_gib, to)?;
        let lookup = lookup.elapsed();
        let result = self
            .modify_and_resize(&ec2, volume, to, dev, &fs, lookup)
            .await;
        let outcome = match &result {
            Ok(_) => "done".to_string(),
            Err(e) => format!("failed: {e}"),
        };
        self.journal.finish_grow(id, &outcome)?;
        let steps = result?;
        Ok(Grown::Grown {
            volume: volume.to_string(),
            from_gib: v.size_gib,
            to_gib: to,
            steps,
        })
    }

    async fn modify_and_resize(
        &self,
        ec2: &Ec2,
        volume: &str,
        to: u64,
        dev: &BlockDevice,
        fs: &[String],
        lookup: Duration,
    ) -> Result<Vec<(String, Duration)>, GrowError> {
        // IMDS, the credentials and DescribeVolumes, before anything changes.
        let mut steps = vec![("lookup".to_string(), lookup)];
        let mut t = Instant::now();
        let mut step = |name: &str, steps: &mut Vec<(String, Duration)>| {
            let took = t.elapsed();
            tracing::info!(
                volume,
                step = name,
                seconds = took.as_secs_f64(),
                "grow step done"
            );
            steps.push((name.to_string(), took));
            t = Instant::now();
        };
        ec2.modify_volume(volume, to).await?;
        step("ModifyVolume", &mut steps);
        let deadline = Instant::now() + self.cfg.wait.get();
        // The filesystem may only grow once the modification is optimizing.
        loop {
            match ec2.modification_state(volume).await?.as_deref() {
                Some("optimizing") | Some("completed") => break,
                Some("failed") => {
                    return Err(GrowError::Failed(format!(
                        "the modification of {volume} failed"
                    )))
                }
                _ if Instant::now() > deadline => {
                    return Err(GrowError::Failed(format!(
                        "{volume} did not reach optimizing within {:?}",
                        self.cfg.wait.get()
                    )))
                }
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        step("optimizing", &mut steps);
        // …and once the kernel sees the bigger disk.
        while dev.disk_size_bytes().unwrap_or(0) < to * GIB {
            if Instant::now() > deadline {
                return Err(GrowError::Failed(format!(
                    "/dev/{} still shows {} bytes, not {to} GiB",
                    dev.disk(),
                    dev.disk_size_bytes().unwrap_or(0)
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        step("kernel_size", &mut steps);
        if let Some((disk, n)) = &dev.partition_of {
            run(&["growpart".into(), format!("/dev/{disk}"), n.to_string()]).await?;
            step("growpart", &mut steps);
        }
        run(fs).await?;
        step(&fs[0], &mut steps);
        Ok(steps)
    }
}

/// The online grow command for the mount's filesystem type.
fn fs_grow_command(mountpoint: &Path, dev: &BlockDevice) -> Result<Vec<String>, GrowError> {
    let st = rustix::fs::statfs(mountpoint)
        .map_err(|e| GrowError::Failed(format!("statfs {}: {e}", mountpoint.display())))?;
    match st.f_type as i64 {
        EXT4_MAGIC => Ok(vec![
            "resize2fs".into(),
            dev.dev_path().display().to_string(),
        ]),
        XFS_MAGIC => Ok(vec!["xfs_growfs".into(), mountpoint.display().to_string()]),
        other => Err(GrowError::Refused(format!(
            "filesystem type {other:#x} on {} is neither ext4 nor XFS",
            mountpoint.display()
        ))),
    }
}

async fn run(argv: &[String]) -> Result<(), GrowError> {
    let out = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .await
        .map_err(|e| GrowError::Failed(format!("{}: {e}", argv[0])))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(GrowError::Failed(format!(
            "{} failed ({}): {}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
