//! The exporter-toolkit web configuration file (`--web.config.file`), so the
//! same file node_exporter uses keeps working: `tls_server_config` (server
//! certificate and key, TLS version bounds) and `basic_auth_users` (bcrypt
//! hashes). Settings we cannot honour (client certificates, cipher lists) are
//! refused at start-up rather than silently ignored.

use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Yaml {
        path: PathBuf,
        source: serde_yaml_ng::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    pub tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    pub basic_auth_users: HashMap<String, String>,
    /// Accepted for compatibility; HTTP/2 and headers are not configurable here.
    pub http_server_config: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    /// Only `NoClientCert` (the default) is supported.
    pub client_auth_type: Option<String>,
}

impl WebConfig {
    /// Read and check a web config; relative paths are relative to its directory,
    /// as in exporter-toolkit.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg: WebConfig = if text.trim().is_empty() {
            WebConfig::default()
        } else {
            serde_yaml_ng::from_str(&text).map_err(|source| WebConfigError::Yaml {
                path: path.to_path_buf(),
                source,
            })?
        };
        let invalid = |reason: String| WebConfigError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        if let Some(tls) = &mut cfg.tls_server_config {
            tls.cert_file = dir.join(&tls.cert_file);
            tls.key_file = dir.join(&tls.key_file);
            if let Some(t) = tls.client_auth_type.as_deref() {
                if t != "NoClientCert" {
                    return Err(invalid(format!(
                        "client_auth_type {t:?} is not supported (only NoClientCert)"
                    )));
                }
            }
            for v in [&tls.min_version, &tls.max_version].into_iter().flatten() {
                if v != "TLS12" && v != "TLS13" {
                    return Err(invalid(format!("TLS version {v:?}: use TLS12 or TLS13")));
                }
            }
        }
        for (user, hash) in &cfg.basic_auth_users {
            if !hash.starts_with("$2") {
                return Err(invalid(format!(
                    "basic_auth_users.{user}: not a bcrypt hash (expected $2a$/$2b$/$2y$…)"
                )));
            }
        }
        Ok(cfg)
    }

    pub fn tls(&self) -> Result<Option<Arc<tokio_rustls::rustls::ServerConfig>>, WebConfigError> {
        let Some(t) = &self.tls_server_config else {
            return Ok(None);
        };
        use tokio_rustls::rustls::{
            self,
            pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
        };
        let bad = |path: &Path, e: String| WebConfigError::Invalid {
            path: path.to_path_buf(),
            reason: e,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&t.cert_file)
            .and_then(|it| it.collect())
            .map_err(|e| bad(&t.cert_file, format!("certificate: {e}")))?;
        if certs.is_empty() {
            return Err(bad(&t.cert_file, "no certificate in file".into()));
        }
        let key = PrivateKeyDer::from_pem_file(&t.key_file)
            .map_err(|e| bad(&t.key_file, format!("private key: {e}")))?;
        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
        let min13 = t.min_version.as_deref() == Some("TLS13");
        let max12 = t.max_version.as_deref() == Some("TLS12");
        if !min13 {
            versions.push(&rustls::version::TLS12);
        }
        if !max12 {
            versions.push(&rustls::version::TLS13);
        }
        if versions.is_empty() {
            return Err(bad(&t.cert_file, "min_version is above max_version".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| bad(&t.cert_file, e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| bad(&t.key_file, format!("certificate and key: {e}")))?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Arc::new(cfg)))
    }

    pub fn basic_auth(&self) -> Option<Arc<BasicAuth>> {
        (!self.basic_auth_users.is_empty()).then(|| {
            Arc::new(BasicAuth {
                users: self.basic_auth_users.clone(),
                verified: Mutex::new(Vec::new()),
            })
        })
    }
}

/// Basic-auth users with bcrypt hashes. bcrypt is deliberately slow (tens of
/// milliseconds), so credentials that verified once are remembered, as
/// exporter-toolkit does; otherwise every scrape would pay for it.
pub struct BasicAuth {
    users: HashMap<String, String>,
    verified: Mutex<Vec<(String, String)>>,
}

/// A valid hash to compare against for unknown users, so a wrong user name
/// takes as long as a wrong password.
const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
const CACHE_MAX: usize = 64;

impl BasicAuth {
    /// Check an `Authorization` header value. Blocking (bcrypt): call from a
    /// blocking thread.
    pub fn check(&self, header: Option<&str>) -> bool {
        use base64::Engine;
        let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, pass)) = decoded.split_once(':') else {
            return false;
        };
        {
            let cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if cache.iter().any(|(u, p)| u == user && p == pass) {
                return true;
            }
        }
        let (hash, known) = match self.users.get(user) {
            Some(h) => (h.as_str(), true),
            None => (DUMMY_HASH, false),
        };
        let ok = bcrypt::verify(pass, hash).unwrap_or(false) && known;
        if ok {
            let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= CACHE_MAX {
                cache.remove(0);
            }
            cache.push((user.to_string(), pass.to_string()));
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn header(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    #[test]
    fn bcrypt_basic_auth() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("web.yml");
        std::fs::write(&p, format!("basic_auth_users:\n  prometheus: '{hash}'\n")).unwrap();
        let auth = WebConfig::load(&p).unwrap().basic_auth().unwrap();
        assert!(auth.check(Some(&header("prometheus", "s3cret"))));
        assert!(auth.check(Some(&header("prometheus", "s3cret"))), "cached");
        assert!(!auth.check(Some(&header("prometheus", "wrong"))));
        assert!(!auth.check(Some(&header("nobody", "s3cret"))));
        assert!(!auth.check(Some("Bearer x")));
        assert!(!auth.check(None));
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("web.yml");
        std::fs::write(&p, "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_auth_type: RequireAndVerifyClientCert\n").unwrap();
        assert!(WebConfig::load(&p)
            .unwrap_err()
            .to_string()
            .contains("client_auth_type"));
        std::fs::write(
            &p,
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  cipher_suites: [x]\n",
        )
        .unwrap();
        assert!(WebConfig::load(&p)
            .unwrap_err()
            .to_string()
            .contains("cipher_suites"));
        std::fs::write(&p, "basic_auth_users:\n  a: plaintext\n").unwrap();
        assert!(WebConfig::load(&p)
            .unwrap_err()
            .to_string()
            .contains("bcrypt"));
    }

    #[test]
    fn relative_paths_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("web.yml");
        std::fs::write(
            &p,
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n",
        )
        .unwrap();
        let cfg = WebConfig::load(&p).unwrap();
        assert_eq!(
            cfg.tls_server_config.as_ref().unwrap().cert_file,
            dir.path().join("c.pem")
        );
        let e = cfg.tls().unwrap_err().to_string();
        assert!(e.contains("c.pem"), "{e}");
    }
}
