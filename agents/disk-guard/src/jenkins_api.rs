//! Jenkins's REST API, as far as the guard needs it: which builds are running
//! (`/computer/api/json`, every executor of every node), the crumb Jenkins
//! may demand for a POST (`/crumbIssuer/api/json`), and taking an agent
//! offline and back (`/computer/NAME/toggleOffline`). Authenticated with a
//! user's API token (HTTP basic), read from a file or a systemd credential.

use crate::config::JenkinsApiConfig;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum JenkinsError {
    #[error("cannot read the Jenkins API token from {path}: {source}")]
    Token {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the Jenkins API token in {0} is empty")]
    EmptyToken(PathBuf),
    #[error("Jenkins credential {0:?}: CREDENTIALS_DIRECTORY is not set (not started by systemd with LoadCredential=)")]
    NoCredentialsDirectory(String),
    #[error("Jenkins at {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("Jenkins at {url} answered {status}")]
    Status { url: String, status: u16 },
}

/// One build an executor is running: the job's full name (folder segments,
/// decoded) and the build number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunningBuild {
    pub job: Vec<String>,
    pub number: Option<u64>,
    pub node: String,
}

pub struct JenkinsApi {
    base: String,
    user: String,
    token: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Computers {
    #[serde(default)]
    computer: Vec<Computer>,
}

#[derive(Deserialize)]
struct Computer {
    #[serde(rename = "displayName", default)]
    display_name: String,
    #[serde(default)]
    executors: Vec<Executor>,
    #[serde(rename = "oneOffExecutors", default)]
    one_off_executors: Vec<Executor>,
}

#[derive(Deserialize)]
struct Executor {
    #[serde(rename = "currentExecutable")]
    current: Option<Executable>,
}

#[derive(Deserialize)]
struct Executable {
    #[serde(default)]
    url: String,
    number: Option<u64>,
}

#[derive(Deserialize)]
struct Crumb {
    #[serde(rename = "crumbRequestField")]
    field: String,
    crumb: String,
}

const COMPUTERS: &str = "computer/api/json?tree=computer[displayName,executors[currentExecutable[url,number]],oneOffExecutors[currentExecutable[url,number]]]";

impl JenkinsApi {
    pub fn new(cfg: &JenkinsApiConfig) -> Result<JenkinsApi, JenkinsError> {
        let path = match (&cfg.token_file, &cfg.token_credential) {
            (Some(p), _) => p.clone(),
            (None, Some(name)) => std::env::var_os("CREDENTIALS_DIRECTORY")
                .map(|d| PathBuf::from(d).join(name))
                .ok_or_else(|| JenkinsError::NoCredentialsDirectory(name.clone()))?,
            // Validation requires one of the two.
            (None, None) => PathBuf::new(),
        };
        let token = std::fs::read_to_string(&path)
            .map_err(|source| JenkinsError::Token {
                path: path.clone(),
                source,
            })?
            .trim()
            .to_string();
        if token.is_empty() {
            return Err(JenkinsError::EmptyToken(path));
        }
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout.get())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| JenkinsError::Http {
                url: cfg.url.clone(),
                source,
            })?;
        Ok(JenkinsApi {
            base: format!("{}/", cfg.url.trim_end_matches('/')),
            user: cfg.user.clone(),
            token,
            http,
        })
    }

    fn url(&self, rel: &str) -> String {
        format!("{}{rel}", self.base)
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, rel: &str) -> Result<T, JenkinsError> {
        let url = self.url(rel);
        let http = |source| JenkinsError::Http {
            url: url.clone(),
            source,
        };
        let resp = self
            .http
            .get(&url)
            .basic_auth(&self.user, Some(&self.token))
            .send()
            .await
            .map_err(http)?;
        if !resp.status().is_success() {
            return Err(JenkinsError::Status {
                url,
                status: resp.status().as_u16(),
            });
        }
        resp.json().await.map_err(http)
    }

    /// Every build running on any executor of any node.
    pub async fn running_builds(&self) -> Result<Vec<RunningBuild>, JenkinsError> {
        let computers: Computers = self.get_json(COMPUTERS).await?;
        let mut out = Vec::new();
        for c in computers.computer {
            for e in c.executors.iter().chain(&c.one_off_executors) {
                if let Some(x) = &e.current {
                    out.push(RunningBuild {
                        job: job_from_url(&x.url),
                        number: x.number,
                        node: c.display_name.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The crumb header Jenkins wants on a POST, or None when CSRF
    /// protection is off (the issuer answers 404).
    async fn crumb(&self) -> Result<Option<(String, String)>, JenkinsError> {
        match self.get_json::<Crumb>("crumbIssuer/api/json").await {
            Ok(c) => Ok(Some((c.field, c.crumb))),
            Err(JenkinsError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether Jenkins shows the node as (temporarily) offline.
    pub async fn is_offline(&self, node: &str) -> Result<bool, JenkinsError> {
        #[derive(Deserialize)]
        struct Node {
            #[serde(rename = "temporarilyOffline", default)]
            temporarily_offline: bool,
            #[serde(default)]
            offline: bool,
        }
        let n: Node = self
            .get_json(&format!(
                "computer/{}/api/json?tree=offline,temporarilyOffline",
                segment(node)
            ))
            .await?;
        Ok(n.temporarily_offline || n.offline)
    }

    /// `toggleOffline` flips the node's state, so callers check
    /// [`Self::is_offline`] first; the message shows on the node's page.
    pub async fn toggle_offline(&self, node: &str, message: &str) -> Result<(), JenkinsError> {
        let crumb = self.crumb().await?;
        let url = self.url(&format!("computer/{}/toggleOffline", segment(node)));
        let mut req = self
            .http
            .post(&url)
            .basic_auth(&self.user, Some(&self.token))
            .query(&[("offlineMessage", message)]);
        if let Some((field, value)) = crumb {
            req = req.header(field, value);
        }
        let resp = req.send().await.map_err(|source| JenkinsError::Http {
            url: url.clone(),
            source,
        })?;
        // Jenkins answers a form POST with a redirect to the node's page.
        if resp.status().is_success() || resp.status().is_redirection() {
            Ok(())
        } else {
            Err(JenkinsError::Status {
                url,
                status: resp.status().as_u16(),
            })
        }
    }
}

/// One URL path segment (node names may hold spaces and parentheses).
fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `http://j/job/folder/job/app/job/main/12/` → ["folder", "app", "main"]:
/// the segments that follow each `job/`, percent-decoded (multibranch
/// branch names arrive as `feature%2Fx`).
pub fn job_from_url(url: &str) -> Vec<String> {
    let path = url
        .split_once("://")
        .map(|(_, rest)| rest.split_once('/').map(|(_, p)| p).unwrap_or(""))
        .unwrap_or(url);
    let parts: Vec<&str> = path.split('/').collect();
    let mut job = Vec::new();
    let mut i = 0;
    while i + 1 < parts.len() {
        if parts[i] == "job" {
            job.push(
                percent_encoding::percent_decode_str(parts[i + 1])
                    .decode_utf8_lossy()
                    .into_owned(),
            );
            i += 2;
        } else {
            i += 1;
        }
    }
    job
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_come_from_every_job_segment_decoded() {
        assert_eq!(
            job_from_url("http://j:8080/job/folder/job/app/job/feature%2Fx/12/"),
            vec!["folder", "app", "feature/x"]
        );
        assert_eq!(job_from_url("http://j/jenkins/job/plain/3/"), vec!["plain"]);
        assert!(job_from_url("http://j/computer/x/").is_empty());
    }
}
