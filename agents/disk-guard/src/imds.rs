//! The EC2 instance metadata service, IMDSv2 only: a session token from
//! `PUT /latest/api/token` accompanies every read, so a request forged
//! through an SSRF-style GET proxy cannot reach it.

use crate::sigv4::Credentials;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ImdsError {
    #[error("instance metadata at {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("instance metadata at {url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("instance metadata role credentials: {0}")]
    Credentials(String),
}

pub struct Imds {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Imds {
    pub async fn connect(base: &str) -> Result<Imds, ImdsError> {
        let base = base.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .no_proxy()
            .build()
            .map_err(|source| ImdsError::Http {
                url: base.clone(),
                source,
            })?;
        let url = format!("{base}/latest/api/token");
        let resp = http
            .put(&url)
            .header("X-aws-ec2-metadata-token-ttl-seconds", "300")
            .send()
            .await
            .map_err(|source| ImdsError::Http {
                url: url.clone(),
                source,
            })?;
        let token = text(resp, &url).await?;
        Ok(Imds { base, token, http })
    }

    pub async fn get(&self, path: &str) -> Result<String, ImdsError> {
        let url = format!("{}/latest/meta-data/{path}", self.base);
        let resp = self
            .http
            .get(&url)
            .header("X-aws-ec2-metadata-token", &self.token)
            .send()
            .await
            .map_err(|source| ImdsError::Http {
                url: url.clone(),
                source,
            })?;
        Ok(text(resp, &url).await?.trim().to_string())
    }

    /// The instance role's temporary credentials.
    pub async fn role_credentials(&self) -> Result<Credentials, ImdsError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Role {
            access_key_id: String,
            secret_access_key: String,
            token: Option<String>,
        }
        let roles = self.get("iam/security-credentials/").await?;
        let role = roles
            .lines()
            .next()
            .ok_or_else(|| ImdsError::Credentials("the instance has no role".into()))?;
        let body = self
            .get(&format!("iam/security-credentials/{role}"))
            .await?;
        let r: Role =
            serde_json::from_str(&body).map_err(|e| ImdsError::Credentials(e.to_string()))?;
        Ok(Credentials {
            access_key: r.access_key_id,
            secret_key: r.secret_access_key,
            session_token: r.token,
        })
    }
}

async fn text(resp: reqwest::Response, url: &str) -> Result<String, ImdsError> {
    if !resp.status().is_success() {
        return Err(ImdsError::Status {
            url: url.to_string(),
            status: resp.status().as_u16(),
        });
    }
    resp.text().await.map_err(|source| ImdsError::Http {
        url: url.to_string(),
        source,
    })
}
