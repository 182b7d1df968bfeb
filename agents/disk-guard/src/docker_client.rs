//! A minimal Docker Engine API client: HTTP/1.1 over the engine's unix
//! socket with hyper, for the handful of endpoints the policy needs. One
//! connection per request keeps it simple; a cleanup pass makes few calls.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot connect to the Docker engine at {socket}: {source}")]
    Connect {
        socket: String,
        source: std::io::Error,
    },
    #[error("Docker engine {method} {path}: {message}")]
    Http {
        method: String,
        path: String,
        message: String,
    },
    #[error("Docker engine {method} {path} answered {status}: {body}")]
    Status {
        method: String,
        path: String,
        status: StatusCode,
        body: String,
    },
    #[error("Docker engine {path}: unexpected JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
}

impl DockerError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            DockerError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Container {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Image", default)]
    pub image: String,
    #[serde(rename = "ImageID", default)]
    pub image_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Image {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    /// Unix seconds.
    #[serde(rename = "Created", default)]
    pub created: i64,
    #[serde(rename = "Size", default)]
    pub size: i64,
    /// -1 when the engine did not compute it.
    #[serde(rename = "SharedSize", default = "minus_one")]
    pub shared_size: i64,
}

fn minus_one() -> i64 {
    -1
}

impl Image {
    /// Tags other than the `<none>:<none>` placeholder.
    pub fn tags(&self) -> Vec<&str> {
        self.repo_tags
            .iter()
            .flatten()
            .map(String::as_str)
            .filter(|t| *t != "<none>:<none>")
            .collect()
    }

    /// Bytes its removal frees at most: layers shared with other images stay.
    pub fn unique_bytes(&self) -> u64 {
        let shared = self.shared_size.max(0);
        (self.size - shared).max(0) as u64
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct BuildCacheRecord {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "InUse", default)]
    pub in_use: bool,
    #[serde(rename = "Size", default)]
    pub size: i64,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct SystemDf {
    #[serde(rename = "BuildCache", default)]
    pub build_cache: Option<Vec<BuildCacheRecord>>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct BuildPrune {
    #[serde(rename = "SpaceReclaimed", default)]
    pub space_reclaimed: u64,
}

/// One element of DELETE /images/{name}'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct DeleteItem {
    #[serde(rename = "Untagged")]
    pub untagged: Option<String>,
    #[serde(rename = "Deleted")]
    pub deleted: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DockerClient {
    socket: PathBuf,
    timeout: Duration,
}

impl DockerClient {
    pub fn new(socket: &Path) -> Self {
        DockerClient {
            socket: socket.to_path_buf(),
            timeout: Duration::from_secs(600),
        }
    }

    async fn call(&self, method: Method, path: &str) -> Result<Bytes, DockerError> {
        let http = |message: String| DockerError::Http {
            method: method.to_string(),
            path: path.to_string(),
            message,
        };
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|source| DockerError::Connect {
                socket: self.socket.display().to_string(),
                source,
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| http(e.to_string()))?;
        tokio::spawn(conn);
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(hyper::header::HOST, "docker")
            .header(hyper::header::USER_AGENT, "srp-disk-guard")
            .body(Full::new(Bytes::new()))
            .map_err(|e| http(e.to_string()))?;
        let resp = tokio::time::timeout(self.timeout, sender.send_request(req))
            .await
            .map_err(|_| http("timed out".into()))?
            .map_err(|e| http(e.to_string()))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| http(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            return Err(DockerError::Status {
                method: method.to_string(),
                path: path.to_string(),
                status,
                body: String::from_utf8_lossy(&body)
                    .trim()
                    .chars()
                    .take(300)
                    .collect(),
            });
        }
        Ok(body)
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
    ) -> Result<T, DockerError> {
        let body = self.call(method, path).await?;
        serde_json::from_slice(&body).map_err(|source| DockerError::Json {
            path: path.to_string(),
            source,
        })
    }

    pub async fn containers(&self) -> Result<Vec<Container>, DockerError> {
        self.json(Method::GET, "/containers/json?all=1").await
    }

    pub async fn images(&self) -> Result<Vec<Image>, DockerError> {
        self.json(Method::GET, "/images/json?shared-size=1").await
    }

    /// The image id a name (repo:tag or id) resolves to right now.
    pub async fn image_id(&self, name: &str) -> Result<String, DockerError> {
        #[derive(Deserialize)]
        struct Inspect {
            #[serde(rename = "Id")]
            id: String,
        }
        let i: Inspect = self
            .json(Method::GET, &format!("/images/{}/json", encode_path(name)))
            .await?;
        Ok(i.id)
    }

    /// Remove (untag) by name, never forced: the engine itself refuses (409)
    /// an image a container uses.
    pub async fn remove_image(&self, name: &str) -> Result<Vec<DeleteItem>, DockerError> {
        self.json(
            Method::DELETE,
            &format!("/images/{}?force=false&noprune=false", encode_path(name)),
        )
        .await
    }

    /// Bytes of build cache not in use, and the ids of the records a
    /// running build holds (the prune leaves those; the guard counts them).
    pub async fn build_cache_usage(&self) -> Result<(u64, Vec<String>), DockerError> {
        let df: SystemDf = self
            .json(Method::GET, "/system/df?type=build-cache")
            .await?;
        let records = df.build_cache.unwrap_or_default();
        let unused = records
            .iter()
            .filter(|r| !r.in_use)
            .map(|r| r.size.max(0) as u64)
            .sum();
        let in_use = records
            .iter()
            .filter(|r| r.in_use)
            .map(|r| r.id.clone())
            .collect();
        Ok((unused, in_use))
    }

    pub async fn prune_build_cache(&self, older_than: Duration) -> Result<u64, DockerError> {
        let filters = format!("{{\"until\":[\"{}s\"]}}", older_than.as_secs());
        let r: BuildPrune = self
            .json(
                Method::POST,
                &format!("/build/prune?filters={}", encode(&filters)),
            )
            .await?;
        Ok(r.space_reclaimed)
    }
}

/// Percent-encode a query value.
pub fn encode(s: &str) -> String {
    encode_keeping(s, b"")
}

/// Percent-encode an image name for the path, keeping `/` and `:` as the
/// docker CLI sends them (the engine's route is `/images/{name:.*}`).
pub fn encode_path(s: &str) -> String {
    encode_keeping(s, b"/:@")
}

fn encode_keeping(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b if keep.contains(&b) => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Split `registry:5000/team/app:42` into (`registry:5000/team/app`, `42`).
pub fn split_tag(repo_tag: &str) -> Option<(&str, &str)> {
    let (repo, tag) = repo_tag.rsplit_once(':')?;
    if tag.contains('/') {
        return None;
    }
    Some((repo, tag))
}

/// Image ids that some container (running or not) uses.
pub fn images_in_use(
    containers: &[Container],
    images: &[Image],
) -> std::collections::HashSet<String> {
    let by_name: HashMap<&str, &str> = images
        .iter()
        .flat_map(|i| i.tags().into_iter().map(move |t| (t, i.id.as_str())))
        .collect();
    let mut used = std::collections::HashSet::new();
    for c in containers {
        if !c.image_id.is_empty() {
            used.insert(c.image_id.clone());
        }
        // Belt and braces: also resolve the name the container was created from.
        if let Some(id) = by_name.get(c.image.as_str()) {
            used.insert(id.to_string());
        }
        if c.image.starts_with("sha256:") {
            used.insert(c.image.clone());
        }
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_tags_with_registry_ports() {
        assert_eq!(split_tag("app:42"), Some(("app", "42")));
        assert_eq!(
            split_tag("reg:5000/team/app:42"),
            Some(("reg:5000/team/app", "42"))
        );
        assert_eq!(split_tag("reg:5000/app"), None);
    }

    #[test]
    fn encodes_names() {
        assert_eq!(encode("reg:5000/app:1"), "reg%3A5000%2Fapp%3A1");
        assert_eq!(encode_path("reg:5000/app:1"), "reg:5000/app:1");
        assert_eq!(encode_path("a b?"), "a%20b%3F");
    }
}
