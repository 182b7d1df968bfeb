//! The TOML configuration: which mount points to watch, their thresholds,
//! the cleanup policies (each with its allowed roots) and the escalation
//! command. Everything is validated at load time so a bad file is rejected as
//! a whole, with a message naming the offending key, before anything acts on it.

use serde::Deserialize;
use srp_daemon::Dur;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How often the mount points are sampled (and cleaned when needed).
    #[serde(default = "default_interval")]
    pub interval: Dur,
    /// How far back the linear fit for `srp_disk_predicted_full_seconds` looks.
    #[serde(default = "default_trend_window")]
    pub trend_window: Dur,
    /// Files (and trees) modified more recently than this are never deleted.
    #[serde(default = "default_grace")]
    pub grace_period: Dur,
    /// Report what would be deleted, delete nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Journal rows older than this are pruned.
    #[serde(default = "default_retention")]
    pub journal_retention: Dur,
    #[serde(default)]
    pub defaults: Thresholds,
    #[serde(rename = "mount", default)]
    pub mounts: Vec<MountConfig>,
    #[serde(default)]
    pub escalation: Option<EscalationConfig>,
    #[serde(rename = "policy", default)]
    pub policies: BTreeMap<String, PolicyConfig>,
    /// The Jenkins controller to ask what is running (and, for draining,
    /// the node this host is). Without it, Jenkins policies rely on local
    /// evidence only.
    #[serde(default)]
    pub jenkins: Option<JenkinsApiConfig>,
    /// Take this host's Jenkins agent offline before the disk fills.
    #[serde(default)]
    pub drain: Option<DrainConfig>,
    /// Last resort, off by default: grow the EBS volume behind a mount point.
    #[serde(default)]
    pub grow: Option<GrowConfig>,
}

/// Growing the EBS volume (ModifyVolume, then the partition and filesystem).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GrowConfig {
    /// Must be true: the section alone does not turn growing on.
    #[serde(default)]
    pub enabled: bool,
    /// Never grow a volume beyond this size (GiB).
    pub max_size_gib: u64,
    /// Each grow adds this many GiB (capped at `max_size_gib`).
    pub step_gib: u64,
    /// At most this many grows per mount point in 24 hours.
    #[serde(default = "default_max_per_day")]
    pub max_per_day: u32,
    /// At least this long between two grows of a mount point.
    #[serde(default = "default_grow_cooldown")]
    pub cooldown: Dur,
    /// How long to wait for the modification to reach `optimizing` and for
    /// the kernel to see the new size.
    #[serde(default = "default_grow_wait")]
    pub wait: Dur,
    /// The instance metadata service (IMDSv2 only).
    #[serde(default = "default_imds_url")]
    pub imds_url: String,
    /// The EC2 API endpoint; default `https://ec2.REGION.amazonaws.com`.
    pub ec2_endpoint: Option<String>,
    /// For a device without an NVMe serial (Xen `xvd*`): the volume id.
    pub volume_id: Option<String>,
}

fn default_max_per_day() -> u32 {
    2
}
fn default_grow_cooldown() -> Dur {
    Dur::secs(6 * 3600)
}
fn default_grow_wait() -> Dur {
    Dur::secs(10 * 60)
}
fn default_imds_url() -> String {
    "http://169.254.169.254".into()
}

/// Drain before full: the agent goes temporarily offline when the disk is
/// predicted full within `horizon` or is under `critical` after cleaning,
/// and comes back once every mount point is above its target.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DrainConfig {
    /// The Jenkins node this host is, as Jenkins names it (`(built-in)` for the controller).
    pub node: String,
    #[serde(default = "default_horizon")]
    pub horizon: Dur,
    /// srp-slack-relay's base URL; drains and undrains are posted to its `/jenkins`.
    pub relay_url: Option<String>,
    /// The relay's bearer token (required with `relay_url`).
    pub relay_token_file: Option<PathBuf>,
}

fn default_horizon() -> Dur {
    Dur::secs(2 * 3600)
}

/// How to reach Jenkins's REST API.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JenkinsApiConfig {
    /// Base URL, e.g. `http://127.0.0.1:8080` (with the context path, if any).
    pub url: String,
    /// The Jenkins user whose API token is used.
    pub user: String,
    /// File holding the API token.
    pub token_file: Option<PathBuf>,
    /// Or: the name of a systemd credential (`LoadCredential=NAME:…`), read
    /// from `$CREDENTIALS_DIRECTORY/NAME`.
    pub token_credential: Option<String>,
    /// Each request to Jenkins gives up after this long.
    #[serde(default = "default_jenkins_timeout")]
    pub timeout: Dur,
}

fn default_jenkins_timeout() -> Dur {
    Dur::secs(5)
}

fn default_interval() -> Dur {
    Dur::secs(60)
}
fn default_trend_window() -> Dur {
    Dur::secs(6 * 3600)
}
fn default_grace() -> Dur {
    Dur::secs(15 * 60)
}
fn default_retention() -> Dur {
    Dur::secs(90 * 86_400)
}

/// Free-space ratios (available / size), aligned with the alerts:
/// DiskSpaceWarning fires under 20 %, DiskSpaceCritical under 10 %.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Start cleaning when the free ratio goes under this.
    #[serde(default = "default_act")]
    pub act_below: f64,
    /// Clean until the free ratio is at least this, then stop.
    #[serde(default = "default_target")]
    pub target: f64,
    /// Escalate when cleaning cannot bring the ratio back above this.
    #[serde(default = "default_critical")]
    pub critical: f64,
}

fn default_act() -> f64 {
    0.20
}
fn default_target() -> f64 {
    0.30
}
fn default_critical() -> f64 {
    0.10
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            act_below: default_act(),
            target: default_target(),
            critical: default_critical(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MountConfig {
    /// The mount point (any path on the filesystem works; its filesystem is watched).
    pub path: PathBuf,
    /// Policy names, run in this order, stopping once the target is reached.
    #[serde(default)]
    pub policies: Vec<String>,
    pub act_below: Option<f64>,
    pub target: Option<f64>,
    pub critical: Option<f64>,
}

impl MountConfig {
    pub fn thresholds(&self, defaults: &Thresholds) -> Thresholds {
        Thresholds {
            act_below: self.act_below.unwrap_or(defaults.act_below),
            target: self.target.unwrap_or(defaults.target),
            critical: self.critical.unwrap_or(defaults.critical),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Program and fixed arguments; run without a shell. The guard appends:
    /// MOUNTPOINT FREE_BYTES SIZE_BYTES FREE_RATIO CRITICAL_RATIO.
    pub command: Vec<String>,
    /// At most one escalation per mount point within this period.
    #[serde(default = "default_cooldown")]
    pub cooldown: Dur,
    /// The command is killed after this long.
    #[serde(default = "default_escalation_timeout")]
    pub timeout: Dur,
}

fn default_cooldown() -> Dur {
    Dur::secs(6 * 3600)
}
fn default_escalation_timeout() -> Dur {
    Dur::secs(15 * 60)
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PolicyConfig {
    Files(FilesPolicy),
    Jenkins(JenkinsPolicy),
    Docker(DockerPolicy),
}

/// Files matching globs (relative to a root) and older than `min_age`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FilesPolicy {
    /// Allowed roots: nothing outside them is ever deleted.
    pub roots: Vec<PathBuf>,
    /// Glob patterns relative to each root (`*` stays within one directory,
    /// `**` crosses directories).
    pub globs: Vec<String>,
    #[serde(default = "default_files_min_age")]
    pub min_age: Dur,
}

fn default_files_min_age() -> Dur {
    Dur::secs(7 * 86_400)
}

/// Build records and idle workspaces under one JENKINS_HOME (the allowed root).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JenkinsPolicy {
    pub jenkins_home: PathBuf,
    /// Keep the newest N build records of every job (permalinked and
    /// keep-forever builds are kept on top of these).
    #[serde(default = "default_keep_builds")]
    pub keep_builds: usize,
    /// Delete `workspace/NAME*` when nothing in it changed for this long.
    #[serde(default = "default_workspace_idle")]
    pub workspace_idle: Dur,
}

fn default_keep_builds() -> usize {
    20
}
fn default_workspace_idle() -> Dur {
    Dur::secs(3 * 86_400)
}

/// Images and build cache through the Docker Engine API.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DockerPolicy {
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// Remove untagged (dangling) images.
    #[serde(default = "yes")]
    pub dangling: bool,
    /// Prune the build cache (POST /build/prune).
    #[serde(default = "yes")]
    pub build_cache: bool,
    /// Keep the newest K tagged images of every repository (by creation time).
    #[serde(default = "default_keep_tags")]
    pub keep_tags: usize,
    /// Only these repositories get the keep-K treatment; empty means all.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Images (and cache) younger than this are left alone.
    #[serde(default = "default_docker_min_age")]
    pub min_age: Dur,
}

fn yes() -> bool {
    true
}
fn default_socket() -> PathBuf {
    PathBuf::from("/var/run/docker.sock")
}
fn default_keep_tags() -> usize {
    5
}
fn default_docker_min_age() -> Dur {
    Dur::secs(3600)
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg = Config::parse(&text).map_err(|e| match e {
            ParseProblem::Syntax(message) => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            ParseProblem::Invalid(message) => ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            },
        })?;
        cfg.check_mount_ids()
            .map_err(|message| ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            })?;
        Ok(cfg)
    }

    /// Every root whose mount cannot be identified by mount id is refused
    /// here, at start and on reload, rather than cleaned blind: see
    /// [`crate::mount_id`]. (Parsing alone never touches the filesystem.)
    pub fn check_mount_ids(&self) -> Result<(), String> {
        for (name, p) in &self.policies {
            let roots: &[PathBuf] = match p {
                PolicyConfig::Files(f) => &f.roots,
                PolicyConfig::Jenkins(j) => std::slice::from_ref(&j.jenkins_home),
                PolicyConfig::Docker(_) => &[],
            };
            for root in roots {
                crate::mount_id::check_root(root).map_err(|e| format!("policy {name}: {e}"))?;
            }
        }
        Ok(())
    }

    pub fn parse(text: &str) -> Result<Config, ParseProblem> {
        let cfg: Config = toml::from_str(text).map_err(|e| ParseProblem::Syntax(e.to_string()))?;
        cfg.validate().map_err(ParseProblem::Invalid)?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        if self.interval.get() < std::time::Duration::from_secs(1) {
            return Err("interval must be at least 1s".into());
        }
        if self.trend_window < self.interval {
            return Err("trend_window must be at least one interval".into());
        }
        check_thresholds("defaults", &self.defaults)?;
        if self.mounts.is_empty() {
            return Err("no [[mount]] configured: nothing to watch".into());
        }
        let mut seen = std::collections::HashSet::new();
        for m in &self.mounts {
            let at = format!("mount {}", m.path.display());
            if !m.path.is_absolute() {
                return Err(format!("{at}: path must be absolute"));
            }
            if !seen.insert(&m.path) {
                return Err(format!("{at}: configured twice"));
            }
            check_thresholds(&at, &m.thresholds(&self.defaults))?;
            for p in &m.policies {
                if !self.policies.contains_key(p) {
                    return Err(format!("{at}: unknown policy {p:?} (no [policy.{p}])"));
                }
            }
        }
        for (name, p) in &self.policies {
            validate_policy(name, p)?;
        }
        if let Some(j) = &self.jenkins {
            validate_jenkins(j)?;
        }
        if let Some(g) = &self.grow {
            if g.step_gib == 0 || g.max_size_gib == 0 {
                return Err("grow: step_gib and max_size_gib must be at least 1".into());
            }
            if g.max_per_day == 0 {
                return Err("grow.max_per_day must be at least 1 (or set enabled = false)".into());
            }
            for (k, u) in [
                ("imds_url", Some(&g.imds_url)),
                ("ec2_endpoint", g.ec2_endpoint.as_ref()),
            ] {
                if let Some(u) = u {
                    if !(u.starts_with("http://") || u.starts_with("https://")) {
                        return Err(format!("grow.{k} {u:?} must be an http:// or https:// URL"));
                    }
                }
            }
            if let Some(v) = &g.volume_id {
                if !v.starts_with("vol-") || !v[4..].chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(format!(
                        "grow.volume_id {v:?} is not an EBS volume id (vol-…)"
                    ));
                }
            }
        }
        if let Some(d) = &self.drain {
            if self.jenkins.is_none() {
                return Err("drain needs a [jenkins] section to reach the controller".into());
            }
            if d.node.trim().is_empty() {
                return Err("drain.node is empty".into());
            }
            match (&d.relay_url, &d.relay_token_file) {
                (Some(u), _) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                    return Err(format!(
                        "drain.relay_url {u:?} must be an http:// or https:// URL"
                    ))
                }
                (Some(_), None) => {
                    return Err("drain.relay_url needs drain.relay_token_file".into())
                }
                (None, Some(_)) => {
                    return Err("drain.relay_token_file without drain.relay_url".into())
                }
                _ => {}
            }
        }
        if let Some(e) = &self.escalation {
            match e.command.first() {
                None => return Err("escalation.command is empty".into()),
                Some(prog) if !Path::new(prog).is_absolute() => {
                    return Err(format!(
                        "escalation.command: program {prog:?} must be an absolute path"
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Thresholds of one configured mount point.
    pub fn thresholds_for(&self, m: &MountConfig) -> Thresholds {
        m.thresholds(&self.defaults)
    }
}

#[derive(Debug)]
pub enum ParseProblem {
    Syntax(String),
    Invalid(String),
}

impl std::fmt::Display for ParseProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseProblem::Syntax(m) | ParseProblem::Invalid(m) => f.write_str(m),
        }
    }
}

fn check_thresholds(at: &str, t: &Thresholds) -> Result<(), String> {
    for (k, v) in [
        ("act_below", t.act_below),
        ("target", t.target),
        ("critical", t.critical),
    ] {
        if !(v > 0.0 && v < 1.0) {
            return Err(format!(
                "{at}: {k} = {v} must be a ratio between 0 and 1 (0.2 means 20 % free)"
            ));
        }
    }
    if !(t.critical <= t.act_below && t.act_below <= t.target) {
        return Err(format!(
            "{at}: thresholds must satisfy critical ({}) <= act_below ({}) <= target ({})",
            t.critical, t.act_below, t.target
        ));
    }
    Ok(())
}

/// A root must be absolute and not `/` itself: "everything" is not a root.
fn check_root(at: &str, root: &Path) -> Result<(), String> {
    if !root.is_absolute() {
        return Err(format!("{at}: root {} must be absolute", root.display()));
    }
    if root.parent().is_none() {
        return Err(format!(
            "{at}: root / is too broad; name the directories cleanup may touch"
        ));
    }
    if root
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!("{at}: root {} must not contain ..", root.display()));
    }
    Ok(())
}

fn validate_jenkins(j: &JenkinsApiConfig) -> Result<(), String> {
    if !(j.url.starts_with("http://") || j.url.starts_with("https://")) {
        return Err(format!(
            "jenkins.url {:?} must be an http:// or https:// URL",
            j.url
        ));
    }
    if j.user.is_empty() {
        return Err("jenkins.user is empty".into());
    }
    match (&j.token_file, &j.token_credential) {
        (Some(_), Some(_)) => Err("jenkins: give token_file or token_credential, not both".into()),
        (None, None) => Err("jenkins: token_file or token_credential is required".into()),
        (Some(p), None) if !p.is_absolute() => Err(format!(
            "jenkins.token_file {} must be absolute",
            p.display()
        )),
        (None, Some(c)) if c.is_empty() || c.contains('/') => Err(format!(
            "jenkins.token_credential {c:?} must be a credential name (no /)"
        )),
        _ => Ok(()),
    }
}

fn validate_policy(name: &str, p: &PolicyConfig) -> Result<(), String> {
    let at = format!("policy {name}");
    match p {
        PolicyConfig::Files(f) => {
            if f.roots.is_empty() {
                return Err(format!("{at}: roots is empty"));
            }
            for r in &f.roots {
                check_root(&at, r)?;
            }
            if f.globs.is_empty() {
                return Err(format!("{at}: globs is empty"));
            }
            for g in &f.globs {
                if g.starts_with('/') || g.split('/').any(|c| c == "..") {
                    return Err(format!(
                        "{at}: glob {g:?} must be relative to the roots and stay inside them"
                    ));
                }
                if g.contains(char::REPLACEMENT_CHARACTER) {
                    // It is what a byte that is not UTF-8 turns into when a name
                    // is matched (policy::files), so it would match those bytes.
                    return Err(format!(
                        "{at}: glob {g:?} contains U+FFFD; to match bytes that are not UTF-8, use ? or *"
                    ));
                }
                glob::Pattern::new(g).map_err(|e| format!("{at}: glob {g:?}: {e}"))?;
            }
        }
        PolicyConfig::Jenkins(j) => {
            check_root(&at, &j.jenkins_home)?;
            if j.keep_builds == 0 {
                return Err(format!("{at}: keep_builds must be at least 1"));
            }
        }
        PolicyConfig::Docker(d) => {
            if d.keep_tags == 0 {
                return Err(format!("{at}: keep_tags must be at least 1"));
            }
            if !d.socket.is_absolute() {
                return Err(format!("{at}: socket must be an absolute path"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../disk-guard.example.toml");

    #[test]
    fn shipped_example_is_valid_and_has_the_alert_aligned_defaults() {
        let c = Config::parse(EXAMPLE).unwrap();
        assert_eq!(c.defaults.act_below, 0.20);
        assert_eq!(c.defaults.target, 0.30);
        assert_eq!(c.defaults.critical, 0.10);
        assert!(!c.dry_run);
        assert!(matches!(c.policies["docker"], PolicyConfig::Docker(_)));
        assert!(matches!(c.policies["jenkins"], PolicyConfig::Jenkins(_)));
        assert!(matches!(c.policies["logs"], PolicyConfig::Files(_)));
        assert!(c.escalation.is_some());
    }

    #[test]
    fn the_examples_commented_drain_and_grow_sections_are_valid_too() {
        let text: String = EXAMPLE
            .lines()
            .map(|l| l.strip_prefix("#: ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let c = Config::parse(&text).unwrap();
        assert_eq!(
            c.jenkins.unwrap().token_credential.as_deref(),
            Some("jenkins-token")
        );
        assert_eq!(c.drain.unwrap().horizon.get().as_secs(), 7200);
        let g = c.grow.unwrap();
        assert!(!g.enabled, "growing is off by default");
        assert_eq!(g.imds_url, "http://169.254.169.254");
        assert!(Config::parse(EXAMPLE).unwrap().grow.is_none());
    }

    #[test]
    fn drain_needs_jenkins_and_grow_refuses_what_it_cannot_use() {
        let base = "[[mount]]\npath = \"/\"\n";
        assert!(err(&format!("{base}[drain]\nnode = \"a\"\n")).contains("needs a [jenkins]"));
        let j = "[jenkins]\nurl = \"http://j\"\nuser = \"u\"\n";
        assert!(err(&format!("{base}{j}")).contains("token_file or token_credential"));
        assert!(
            err(&format!("{base}[grow]\nmax_size_gib = 8\nstep_gib = 0\n")).contains("step_gib")
        );
        assert!(err(&format!(
            "{base}[grow]\nmax_size_gib = 8\nstep_gib = 1\nvolume_id = \"/dev/xvdf\"\n"
        ))
        .contains("not an EBS volume id"));
    }

    fn err(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn rejects_unknown_keys_and_policies() {
        assert!(err("[[mount]]\npath = \"/\"\nbogus = 1\n").contains("bogus"));
        assert!(err("[[mount]]\npath = \"/\"\npolicies = [\"nope\"]\n").contains("unknown policy"));
        let e = err("[[mount]]\npath=\"/\"\n[policy.x]\nkind=\"files\"\nroots=[\"/tmp\"]\nglobs=[\"*\"]\nextra=1\n");
        assert!(e.contains("extra"), "{e}");
    }

    #[test]
    fn rejects_bad_thresholds_and_roots() {
        assert!(err("[defaults]\nact_below = 20\n[[mount]]\npath=\"/\"\n").contains("ratio"));
        assert!(err("[defaults]\ncritical = 0.3\n[[mount]]\npath=\"/\"\n").contains("critical"));
        let root = err(
            "[[mount]]\npath=\"/\"\n[policy.x]\nkind=\"files\"\nroots=[\"/\"]\nglobs=[\"*\"]\n",
        );
        assert!(root.contains("too broad"), "{root}");
        let rel = err(
            "[[mount]]\npath=\"/\"\n[policy.x]\nkind=\"files\"\nroots=[\"tmp\"]\nglobs=[\"*\"]\n",
        );
        assert!(rel.contains("absolute"), "{rel}");
        let esc = err("[[mount]]\npath=\"/\"\n[escalation]\ncommand=[\"grow.sh\"]\n");
        assert!(esc.contains("absolute"), "{esc}");
        let up = err("[[mount]]\npath=\"/\"\n[policy.x]\nkind=\"files\"\nroots=[\"/tmp\"]\nglobs=[\"../*\"]\n");
        assert!(up.contains("inside"), "{up}");
        let fffd = err("[[mount]]\npath=\"/\"\n[policy.x]\nkind=\"files\"\nroots=[\"/tmp\"]\nglobs=[\"caf\u{fffd}.log\"]\n");
        assert!(fffd.contains("U+FFFD"), "{fffd}");
    }

    #[test]
    fn needs_a_mount() {
        assert!(err("dry_run = true\n").contains("nothing to watch"));
    }

    #[test]
    fn per_mount_thresholds_override_defaults() {
        let c = Config::parse("[[mount]]\npath=\"/\"\ntarget=0.5\n").unwrap();
        let t = c.thresholds_for(&c.mounts[0]);
        assert_eq!((t.act_below, t.target, t.critical), (0.2, 0.5, 0.1));
    }

    #[test]
    fn durations_use_the_shared_grammar_and_integer_seconds_keep_working() {
        let c = Config::parse(
            "interval = 30\ntrend_window = \"1.5h\"\ngrace_period = \"90s\"\n[[mount]]\npath=\"/\"\n",
        )
        .unwrap();
        assert_eq!(c.interval, Dur::secs(30), "an integer is seconds");
        assert_eq!(c.trend_window, Dur::secs(5400), "fractions are taken");
        assert_eq!(c.grace_period, Dur::secs(90));
        let bare = err("grace_period = \"15\"\n[[mount]]\npath=\"/\"\n");
        assert!(bare.contains("needs a unit"), "{bare}");
        let sub = err("interval = \"500ms\"\n[[mount]]\npath=\"/\"\n");
        assert!(sub.contains("at least 1s"), "{sub}");
    }

    /// The `srp_agents_disk_guard_config: |` block of an Ansible vars file.
    fn ansible_config(vars_file: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../ansible")
            .join(vars_file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let mut lines = text
            .lines()
            .skip_while(|l| !l.starts_with("srp_agents_disk_guard_config: |"));
        assert!(
            lines.next().is_some(),
            "no disk guard config in {vars_file}"
        );
        lines
            .take_while(|l| l.is_empty() || l.starts_with("  "))
            .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
            .collect()
    }

    #[test]
    fn shipped_ansible_configs_still_parse() {
        let staging = ansible_config("inventories/staging/group_vars/app/main.yml");
        let c = Config::parse(&staging).unwrap_or_else(|e| panic!("{e}\n{staging}"));
        assert_eq!(c.interval, Dur::secs(60));
        assert_eq!(c.journal_retention, Dur::secs(90 * 86_400));
        // The role's default has keys and durations only (no [[mount]] yet):
        // it must at least read with the shared grammar.
        let default = ansible_config("roles/srp_agents/defaults/main.yml");
        let c: Config = toml::from_str(&default).unwrap_or_else(|e| panic!("{e}\n{default}"));
        assert_eq!(c.interval, Dur::secs(60));
    }

    use proptest::prelude::*;

    /// TOML basic-string form of any text (toml escapes what it must).
    fn toml_str(s: &str) -> String {
        toml::Value::String(s.to_string()).to_string()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        /// What validation lets through is what the cleanup code relies on:
        /// ordered ratios inside (0, 1), absolute roots other than `/`, and
        /// globs that are relative, stay inside the roots, compile, and hold
        /// no U+FFFD. Anything else is an error, never a panic.
        #[test]
        fn an_accepted_config_keeps_every_promise_the_cleanup_relies_on(
            ratios in proptest::array::uniform3(0.0f64..1.05),
            ordered in proptest::bool::weighted(0.8),
            root in prop_oneof![
                4 => "/[a-z.]{1,3}(/[a-z.]{0,3}){0,3}",
                1 => "(/|[a-z]{1,3})(/[a-z.]{0,3}){0,2}",
            ],
            glob in "([a-z.*?]{0,4}|\\[!?[a-z]\\]?|\u{fffd})(/[a-z.*?]{0,4}){0,3}",
            min_age in "[0-9]{1,3}[smhdw]",
        ) {
            // Mostly ordered, so that a good share of the cases is accepted.
            let mut r = ratios;
            if ordered {
                r.sort_by(f64::total_cmp);
            }
            let [critical, act, target] = r;
            let text = format!(
                "[defaults]\nact_below = {act:?}\ntarget = {target:?}\ncritical = {critical:?}\n\
                 [[mount]]\npath = \"/\"\npolicies = [\"p\"]\n\
                 [policy.p]\nkind = \"files\"\nroots = [{}]\nglobs = [{}]\nmin_age = {}\n",
                toml_str(&root),
                toml_str(&glob),
                toml_str(&min_age),
            );
            let Ok(c) = Config::parse(&text) else {
                return Ok(());
            };
            let t = c.defaults;
            prop_assert!(0.0 < t.critical && t.critical <= t.act_below);
            prop_assert!(t.act_below <= t.target && t.target < 1.0);
            let PolicyConfig::Files(f) = &c.policies["p"] else {
                unreachable!("kind is files");
            };
            let r = &f.roots[0];
            prop_assert!(r.is_absolute() && r.parent().is_some(), "{r:?}");
            prop_assert!(!r.components().any(|c| c == std::path::Component::ParentDir));
            let g = &f.globs[0];
            prop_assert!(!g.starts_with('/') && !g.split('/').any(|c| c == ".."), "{g:?}");
            prop_assert!(!g.contains('\u{fffd}') && glob::Pattern::new(g).is_ok(), "{g:?}");
        }
    }
}
