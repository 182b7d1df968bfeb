//! Escalation: when cleaning cannot bring a mount point back above its
//! critical threshold, run the configured command (no shell) with the mount
//! point and figures as arguments, at most once per cooldown per mount point.
//! The attempt is recorded in the journal *before* the command starts, so a
//! hanging or crashing command still starts the cooldown.

use crate::config::EscalationConfig;
use crate::journal::{now_ms, Journal, JournalError};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    NotConfigured,
    /// Dry-run: reported, not run.
    WouldRun,
    CoolingDown {
        remaining_secs: u64,
    },
    Ran {
        success: bool,
        detail: String,
    },
}

pub struct Figures<'a> {
    pub mountpoint: &'a str,
    pub free_bytes: u64,
    pub size_bytes: u64,
    pub free_ratio: f64,
    pub critical: f64,
}

pub fn escalate(
    cfg: Option<&EscalationConfig>,
    journal: &Journal,
    f: &Figures,
    dry_run: bool,
) -> Result<Outcome, JournalError> {
    let Some(cfg) = cfg else {
        return Ok(Outcome::NotConfigured);
    };
    if let Some(last) = journal.last_escalation_ms(f.mountpoint)? {
        let elapsed = (now_ms() - last).max(0) as u64 / 1000;
        if elapsed < cfg.cooldown.get().as_secs() {
            return Ok(Outcome::CoolingDown {
                remaining_secs: cfg.cooldown.get().as_secs() - elapsed,
            });
        }
    }
    if dry_run {
        return Ok(Outcome::WouldRun);
    }
    journal.record_escalation(f.mountpoint, "started")?;
    let args = [
        f.mountpoint.to_string(),
        f.free_bytes.to_string(),
        f.size_bytes.to_string(),
        format!("{:.4}", f.free_ratio),
        format!("{:.4}", f.critical),
    ];
    let (success, detail) = run(&cfg.command, &args, cfg.timeout.0);
    journal.record_escalation(f.mountpoint, &detail)?;
    Ok(Outcome::Ran { success, detail })
}

/// Run `command + args` with a timeout. Its stdout and stderr go to the
/// guard's stderr (the service journal), never into `--once`'s report.
fn run(command: &[String], args: &[String], timeout: Duration) -> (bool, String) {
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let stderr2 = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let mut child = match Command::new(&command[0])
        .args(&command[1..])
        .args(args)
        .stdin(Stdio::null())
        .stdout(stderr)
        .stderr(stderr2)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return (false, format!("cannot start {}: {e}", command[0])),
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (status.success(), format!("{status}")),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return (
                    false,
                    // Spelled in the config grammar, so sub-second timeouts read right.
                    format!("killed after the {} timeout", srp_daemon::Dur(timeout)),
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return (false, format!("waiting for the command: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use srp_daemon::Dur;

    #[test]
    fn runs_with_figures_as_arguments_then_cools_down() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::open_in(d.path()).unwrap();
        let out = d.path().join("args");
        let script = d.path().join("grow.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$@\" > {}\n", out.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cfg = EscalationConfig {
            command: vec![script.display().to_string(), "--yes".into()],
            cooldown: Dur::secs(3600),
            timeout: Dur::secs(30),
        };
        let f = Figures {
            mountpoint: "/data",
            free_bytes: 5,
            size_bytes: 100,
            free_ratio: 0.05,
            critical: 0.1,
        };
        let first = escalate(Some(&cfg), &j, &f, false).unwrap();
        assert!(
            matches!(first, Outcome::Ran { success: true, .. }),
            "{first:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&out).unwrap().trim(),
            "--yes /data 5 100 0.0500 0.1000"
        );
        let second = escalate(Some(&cfg), &j, &f, false).unwrap();
        assert!(matches!(second, Outcome::CoolingDown { .. }), "{second:?}");
        // Another mount point has its own cooldown; dry-run only reports.
        let other = Figures {
            mountpoint: "/other",
            ..f
        };
        assert_eq!(
            escalate(Some(&cfg), &j, &other, true).unwrap(),
            Outcome::WouldRun
        );
    }

    #[test]
    fn a_hanging_command_is_killed() {
        let (ok, detail) = run(
            &["/bin/sleep".into()],
            &["30".into()],
            Duration::from_millis(200),
        );
        assert!(!ok);
        assert_eq!(detail, "killed after the 200ms timeout");
    }
}
