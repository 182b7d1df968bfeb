//! Where a notification goes: label matchers (Alertmanager syntax) choose a
//! route; each route names a Slack channel (bot token), an incoming webhook,
//! or the log sink. Routes are matched in order; the first match wins unless
//! it says `continue = true`; nothing matched means the default.

use crate::payload::Labels;
use regex::Regex;
use serde::Deserialize;
use std::path::Path;

pub const DEFAULT_ROUTE: &str = "default";
/// The outbox route of incident calls to srp-api (`--api-url`): its own
/// queue, so an API that is down never holds up Slack deliveries.
pub const INCIDENT_ROUTE: &str = "srp-api";

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("cannot read routes file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("routes file {path}: {source}")]
    Toml {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("route {route:?}: {msg}")]
    Invalid { route: String, msg: String },
}

/// Where messages are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// chat.postMessage with the bot token: threads and edits on resolve.
    Channel(String),
    /// An incoming webhook: new message each time, no thread.
    Webhook(url::Url),
    /// No Slack: print (or append to a file) the formatted message.
    Log,
}

impl Destination {
    /// Slack's rate limit is per channel/webhook, so this is the key the
    /// 1-message-per-second pacing uses. The log sink is not paced.
    pub fn rate_key(&self) -> Option<String> {
        match self {
            Destination::Channel(c) => Some(format!("channel:{c}")),
            Destination::Webhook(u) => Some(format!("webhook:{u}")),
            Destination::Log => None,
        }
    }

    /// The key message references (for threads) are stored under.
    pub fn ref_key(&self) -> String {
        self.rate_key().unwrap_or_else(|| "log".into())
    }

    pub fn threads(&self) -> bool {
        matches!(self, Destination::Channel(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Re,
    NotRe,
}

/// One `name="value"` / `!=` / `=~` / `!~` matcher, as in Alertmanager.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: Op,
    value: String,
    re: Option<Regex>,
}

impl Matcher {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let pos = t
            .find(['=', '!'])
            .ok_or_else(|| format!("matcher {text:?} has no operator (=, !=, =~, !~)"))?;
        let name = t[..pos].trim().to_string();
        let rest = &t[pos..];
        let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
            (Op::Re, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (Op::NotRe, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (Op::Ne, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (Op::Eq, v)
        } else {
            return Err(format!("matcher {text:?} has no operator (=, !=, =~, !~)"));
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("matcher {text:?}: invalid label name {name:?}"));
        }
        let v = value.trim();
        let value = if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
            v[1..v.len() - 1].replace("\\\"", "\"")
        } else {
            v.to_string()
        };
        let re = match op {
            Op::Re | Op::NotRe => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("matcher {text:?}: bad regex: {e}"))?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name,
            op,
            value,
            re,
        })
    }

    /// A missing label counts as the empty string, as in Alertmanager.
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.name).map(String::as_str).unwrap_or("");
        match self.op {
            Op::Eq => v == self.value,
            Op::Ne => v != self.value,
            Op::Re => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            Op::NotRe => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFile {
    channel: Option<String>,
    webhook_url: Option<String>,
    #[serde(default)]
    log: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    name: String,
    #[serde(default)]
    matchers: Vec<String>,
    #[serde(default, rename = "continue")]
    continue_: bool,
    #[serde(flatten)]
    target: TargetFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesFile {
    default: Option<TargetFile>,
    #[serde(default)]
    routes: Vec<RouteFile>,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    matchers: Vec<Matcher>,
    continue_: bool,
    pub destination: Destination,
}

#[derive(Debug, Clone)]
pub struct Routes {
    routes: Vec<Route>,
    pub default: Destination,
    has_token: bool,
}

impl Routes {
    /// Only the default destination (from the command line).
    pub fn single(default: Destination, has_token: bool) -> Self {
        Routes {
            routes: Vec::new(),
            default,
            has_token,
        }
    }

    pub fn load(path: &Path, default: Destination, has_token: bool) -> Result<Self, RouteError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RouteError::Read {
            path: p.clone(),
            source,
        })?;
        Self::from_toml(&text, &p, default, has_token)
    }

    pub fn from_toml(
        text: &str,
        path: &str,
        default: Destination,
        has_token: bool,
    ) -> Result<Self, RouteError> {
        let file: RoutesFile = toml::from_str(text).map_err(|source| RouteError::Toml {
            path: path.into(),
            source: Box::new(source),
        })?;
        let mut out = Routes::single(default, has_token);
        if let Some(d) = file.default {
            out.default = out.target(DEFAULT_ROUTE, d)?;
        }
        for r in file.routes {
            let invalid = |msg: String| RouteError::Invalid {
                route: r.name.clone(),
                msg,
            };
            if r.name.is_empty() || r.name == DEFAULT_ROUTE {
                return Err(invalid("needs a name other than \"default\"".into()));
            }
            if r.name == INCIDENT_ROUTE {
                return Err(invalid(format!(
                    "the name {INCIDENT_ROUTE:?} is the queue of incident calls to srp-api"
                )));
            }
            if out.routes.iter().any(|x| x.name == r.name) {
                return Err(invalid("name used twice".into()));
            }
            let matchers = r
                .matchers
                .iter()
                .map(|m| Matcher::parse(m))
                .collect::<Result<Vec<_>, _>>()
                .map_err(invalid)?;
            let destination = out.target(&r.name, r.target)?;
            out.routes.push(Route {
                name: r.name,
                matchers,
                continue_: r.continue_,
                destination,
            });
        }
        Ok(out)
    }

    fn target(&self, route: &str, t: TargetFile) -> Result<Destination, RouteError> {
        let invalid = |msg: &str| RouteError::Invalid {
            route: route.into(),
            msg: msg.into(),
        };
        match (t.channel, t.webhook_url, t.log) {
            (Some(c), None, false) => {
                if !self.has_token {
                    return Err(invalid(
                        "sends to a channel but no --slack-token / SRP_SLACK_TOKEN is set",
                    ));
                }
                Ok(Destination::Channel(c))
            }
            (None, Some(u), false) => url::Url::parse(&u)
                .map(Destination::Webhook)
                .map_err(|e| invalid(&format!("webhook_url is not a URL: {e}"))),
            (None, None, true) => Ok(Destination::Log),
            _ => Err(invalid(
                "needs exactly one of channel = \"…\", webhook_url = \"…\" or log = true",
            )),
        }
    }

    /// Route names for these labels (at least one: the default).
    pub fn select(&self, labels: &Labels) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.routes {
            if r.matchers.iter().all(|m| m.matches(labels)) {
                out.push(r.name.clone());
                if !r.continue_ {
                    return out;
                }
            }
        }
        if out.is_empty() {
            out.push(DEFAULT_ROUTE.into());
        }
        out
    }

    /// A stored message's route, resolved against the current configuration;
    /// a route that no longer exists falls back to the default.
    pub fn destination(&self, route: &str) -> &Destination {
        self.routes
            .iter()
            .find(|r| r.name == route)
            .map(|r| &r.destination)
            .unwrap_or(&self.default)
    }

    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.routes.iter().map(|r| r.name.clone()).collect();
        v.push(DEFAULT_ROUTE.into());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const FILE: &str = r##"
[default]
channel = "#alerts"

[[routes]]
name = "critical"
matchers = ['severity="critical"']
channel = "#alerts-critical"
continue = true

[[routes]]
name = "db"
matchers = ['team=~"db|storage"', 'env!="dev"']
webhook_url = "https://hooks.slack.com/services/T/B/X"

[[routes]]
name = "builds"
matchers = ['__source__="jenkins"']
log = true
"##;

    #[test]
    fn first_match_wins_unless_continue() {
        let r = Routes::from_toml(FILE, "t", Destination::Log, true).unwrap();
        assert_eq!(
            r.select(&labels(&[("severity", "critical"), ("team", "db")])),
            vec!["critical", "db"]
        );
        assert_eq!(
            r.select(&labels(&[("team", "storage"), ("env", "dev")])),
            vec!["default"]
        );
        assert_eq!(r.select(&labels(&[("team", "db")])), vec!["db"]);
        assert_eq!(
            r.select(&labels(&[("__source__", "jenkins")])),
            vec!["builds"]
        );
        assert_eq!(r.default, Destination::Channel("#alerts".into()));
        assert_eq!(r.destination("gone"), &r.default);
    }

    #[test]
    fn config_errors_name_the_route() {
        let e = Routes::from_toml(FILE, "t", Destination::Log, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("default") && e.contains("--slack-token"), "{e}");
        let bad = "[[routes]]\nname = \"x\"\nmatchers = ['a=~\"(\"']\nlog = true\n";
        let e = Routes::from_toml(bad, "t", Destination::Log, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"x\"") && e.contains("bad regex"), "{e}");
        let both = "[[routes]]\nname = \"y\"\nlog = true\nchannel = \"#a\"\n";
        assert!(Routes::from_toml(both, "t", Destination::Log, true).is_err());
        let typo = "[[routes]]\nname = \"z\"\nmatcher = []\nlog = true\n";
        assert!(Routes::from_toml(typo, "t", Destination::Log, true).is_err());
    }

    #[test]
    fn matcher_syntax() {
        let m = Matcher::parse("severity=critical").unwrap();
        assert!(m.matches(&labels(&[("severity", "critical")])));
        let m = Matcher::parse("team!~\"db.*\"").unwrap();
        assert!(m.matches(&labels(&[("team", "web")])));
        assert!(!m.matches(&labels(&[("team", "dbx")])));
        assert!(Matcher::parse("novalue").is_err());
    }
}
