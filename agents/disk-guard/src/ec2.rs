//! The EC2 Query API calls growing a volume needs: `DescribeVolumes`,
//! `ModifyVolume` and `DescribeVolumesModifications`, signed with SigV4.

use crate::sigv4::{self, Credentials};

#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    #[error("EC2 {action} at {url}: {source}")]
    Http {
        action: String,
        url: String,
        source: reqwest::Error,
    },
    #[error("EC2 {action} answered {status}: {body}")]
    Api {
        action: String,
        status: u16,
        body: String,
    },
    #[error("EC2 {action}: unexpected answer: {detail}")]
    Parse { action: String, detail: String },
}

const VERSION: &str = "2016-11-15";

/// RFC 3986 unreserved characters stay as they are: the encoding SigV4 and
/// the AWS SDKs use, so a server that re-encodes the parsed form (moto
/// does) computes the same payload hash.
const FORM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub struct Ec2 {
    pub endpoint: String,
    pub region: String,
    creds: Credentials,
    http: reqwest::Client,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub id: String,
    pub size_gib: u64,
    /// Instance ids it is attached to.
    pub attached_to: Vec<String>,
}

impl Ec2 {
    pub fn new(endpoint: &str, region: &str, creds: Credentials) -> Ec2 {
        Ec2 {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            creds,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("a client with a timeout builds"),
        }
    }

    /// The form body of a call, exactly as sent (also what dry-run prints).
    pub fn body(action: &str, params: &[(&str, String)]) -> String {
        let mut pairs = vec![("Action", action.to_string()), ("Version", VERSION.into())];
        pairs.extend(params.iter().map(|(k, v)| (*k, v.clone())));
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", k, percent_encoding::utf8_percent_encode(v, FORM)))
            .collect::<Vec<_>>()
            .join("&")
    }

    async fn call(&self, action: &str, params: &[(&str, String)]) -> Result<String, Ec2Error> {
        let body = Self::body(action, params);
        let url = format!("{}/", self.endpoint);
        let host = self
            .endpoint
            .split_once("://")
            .map(|(_, h)| h)
            .unwrap_or(&self.endpoint)
            .trim_end_matches('/')
            .to_string();
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut headers = vec![
            (
                "content-type".to_string(),
                "application/x-www-form-urlencoded; charset=utf-8".to_string(),
            ),
            ("host".to_string(), host),
            ("x-amz-date".to_string(), amz_date.clone()),
        ];
        if let Some(t) = &self.creds.session_token {
            headers.push(("x-amz-security-token".to_string(), t.clone()));
        }
        let auth = sigv4::authorization(
            &sigv4::Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body: body.as_bytes(),
            },
            &self.creds,
            &self.region,
            "ec2",
            &amz_date,
        );
        let mut req = self.http.post(&url).header("authorization", auth);
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            req = req.header(k, v);
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|source| Ec2Error::Http {
                action: action.into(),
                url: url.clone(),
                source,
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|source| Ec2Error::Http {
            action: action.into(),
            url,
            source,
        })?;
        if !(200..300).contains(&status) {
            return Err(Ec2Error::Api {
                action: action.into(),
                status,
                body: text.chars().take(500).collect(),
            });
        }
        Ok(text)
    }

    pub async fn describe_volume(&self, id: &str) -> Result<Volume, Ec2Error> {
        let action = "DescribeVolumes";
        let xml = self.call(action, &[("VolumeId.1", id.to_string())]).await?;
        let parse = |detail: String| Ec2Error::Parse {
            action: action.into(),
            detail,
        };
        let doc = roxmltree::Document::parse(&xml).map_err(|e| parse(e.to_string()))?;
        let item = doc
            .descendants()
            .find(|n| n.has_tag_name("volumeId") && n.text() == Some(id))
            .and_then(|n| n.parent())
            .ok_or_else(|| parse(format!("volume {id} not in the answer")))?;
        let child = |name: &str| {
            item.children()
                .find(|c| c.has_tag_name(name))
                .and_then(|c| c.text())
        };
        let size_gib = child("size")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| parse("no size".into()))?;
        let attached_to = item
            .descendants()
            .filter(|n| n.has_tag_name("instanceId"))
            .filter_map(|n| n.text().map(str::to_string))
            .collect();
        Ok(Volume {
            id: id.to_string(),
            size_gib,
            attached_to,
        })
    }

    pub async fn modify_volume(&self, id: &str, size_gib: u64) -> Result<(), Ec2Error> {
        self.call(
            "ModifyVolume",
            &[("VolumeId", id.to_string()), ("Size", size_gib.to_string())],
        )
        .await
        .map(|_| ())
    }

    /// The state of the volume's latest modification (`modifying`,
    /// `optimizing`, `completed`, `failed`), if any.
    pub async fn modification_state(&self, id: &str) -> Result<Option<String>, Ec2Error> {
        let action = "DescribeVolumesModifications";
        let xml = self.call(action, &[("VolumeId.1", id.to_string())]).await?;
        let doc = roxmltree::Document::parse(&xml).map_err(|e| Ec2Error::Parse {
            action: action.into(),
            detail: e.to_string(),
        })?;
        Ok(doc
            .descendants()
            .filter(|n| n.has_tag_name("modificationState"))
            .filter_map(|n| n.text().map(str::to_string))
            .next_back())
    }
}
