//! Command-line flags (each with an environment fallback) and the database URL.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "SRP_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Database: `sqlite:PATH` (default `sqlite:srp.db` in the working
    /// directory) or `postgres://USER@HOST:PORT/DB` for PostgreSQL.
    // Kept as text until `database()`: clap would echo a refused value,
    // password included, in its error.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Longest a request may take, body upload included, before it is
    /// answered 408 (e.g. `10s`, `500ms`: srp-daemon's duration grammar).
    #[arg(long, env = "SRP_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Largest request body accepted; larger ones are answered 413.
    #[arg(long, env = "SRP_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Close the data reads too: GET /projects… then needs an active token
    /// (any scope). /health, /version, /metrics, /openapi.json and /docs stay
    /// open. Writes always need a token with the right scope.
    #[arg(long, env = "SRP_REQUIRE_TOKEN_FOR_READS")]
    pub require_token_for_reads: bool,

    /// How long a token the database confirmed is trusted without asking
    /// again: a revoked token stops working within this long.
    #[arg(long, env = "SRP_TOKEN_CACHE_TTL", default_value = "1s", value_parser = parse_duration)]
    pub token_cache_ttl: Duration,

    /// How long after a deployment an incident in its environment counts it
    /// as a change failure (DORA's change failure rate).
    #[arg(long, env = "SRP_CHANGE_FAILURE_WINDOW", default_value = "1h", value_parser = parse_duration)]
    pub change_failure_window: Duration,

    /// How long a start waits for PostgreSQL to accept connections before
    /// it gives up: the server may still be starting (`After=postgresql.service`
    /// orders the start, it does not wait for the server to listen) or slow on
    /// a loaded host. SQLite is never waited for.
    #[arg(long, env = "SRP_DATABASE_START_WAIT", default_value = "30s", value_parser = parse_duration)]
    pub database_start_wait: Duration,

    #[command(flatten)]
    pub log: srp_daemon::LogArgs,
}

impl Config {
    /// The database to use: the flag, or the default SQLite file.
    pub fn database(&self) -> Result<DatabaseUrl, DatabaseUrlError> {
        match &self.database_url {
            Some(url) => url.parse(),
            None => Ok(DatabaseUrl::Sqlite(PathBuf::from("srp.db"))),
        }
    }
}

/// Where the projects live.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    /// A libpq-style URL, passed to tokio-postgres as is.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    /// The URL as given to `--database-url` (password included).
    pub fn to_url(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite:{}", p.display()),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }

    /// The URL with any password replaced, fit for logs and error messages.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite:{}", p.display()),
            DatabaseUrl::Postgres(url) => redact_password(url),
        }
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("the SQLite URL has no path (expected sqlite:PATH, e.g. sqlite:srp.db)")]
    EmptySqlitePath,
    #[error(
        "unsupported database URL {0:?}: expected sqlite:PATH or postgres://USER@HOST:PORT/DB"
    )]
    Unsupported(String),
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(s.to_string()));
        }
        if let Some(rest) = s.strip_prefix("sqlite:") {
            // sqlite://relative, sqlite:///absolute and sqlite:path all mean a file path.
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(DatabaseUrlError::EmptySqlitePath);
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        Err(DatabaseUrlError::Unsupported(redact_password(s)))
    }
}

/// srp-daemon's duration grammar, refusing zero: a zero timeout or window
/// would refuse every request or count nothing.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = srp_daemon::duration::parse_flag(s)?;
    if d.is_zero() {
        return Err(format!("duration {s:?} must be greater than zero"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            "sqlite:srp.db".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite("srp.db".into())
        );
        assert_eq!(
            "sqlite:///var/lib/srp/srp.db"
                .parse::<DatabaseUrl>()
                .unwrap(),
            DatabaseUrl::Sqlite("/var/lib/srp/srp.db".into())
        );
        assert_eq!(
            "sqlite:".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::EmptySqlitePath)
        );
        assert!(matches!(
            "postgresql://u@h/db".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        let err = "mysql://u:secret@h/db"
            .parse::<DatabaseUrl>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("mysql://u:***@h/db"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn redacts_passwords_only() {
        let url = DatabaseUrl::Postgres("postgres://srp:hunter2@db:5432/srp".into());
        assert_eq!(url.redacted(), "postgres://srp:***@db:5432/srp");
        assert!(!format!("{url:?}").contains("hunter2"));
        let url = DatabaseUrl::Postgres("postgres://srp@db/srp".into());
        assert_eq!(url.redacted(), "postgres://srp@db/srp");
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn flags_parse_and_default() {
        use clap::Parser;
        let c = Cli::try_parse_from([
            "srp-api",
            "--listen",
            "0.0.0.0:9000",
            "--database-url",
            "postgres://srp@db/srp",
            "--request-timeout",
            "500ms",
            "--max-body-bytes",
            "1024",
            "--log-format",
            "json",
        ])
        .unwrap()
        .config;
        assert_eq!(c.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(
            c.database().unwrap(),
            DatabaseUrl::Postgres("postgres://srp@db/srp".into())
        );
        assert_eq!(c.request_timeout, Duration::from_millis(500));
        assert_eq!(c.max_body_bytes, 1024);
        assert_eq!(c.log.log_format, srp_daemon::LogFormat::Json);
        assert!(Cli::try_parse_from(["srp-api", "--request-timeout", "soon"]).is_err());
        assert!(Cli::try_parse_from(["srp-api", "--listen", "localhost"]).is_err());

        // Defaults (when the environment does not set them).
        if std::env::var_os("SRP_LISTEN").is_none() && std::env::var_os("DATABASE_URL").is_none() {
            let c = Cli::try_parse_from(["srp-api"]).unwrap().config;
            assert_eq!(c.listen, "127.0.0.1:8000".parse().unwrap());
            assert_eq!(c.database().unwrap(), DatabaseUrl::Sqlite("srp.db".into()));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        // The shared grammar: a bare number is refused, whatever it means.
        assert!(parse_duration("10").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("0s")
            .unwrap_err()
            .contains("greater than zero"));
        assert!(parse_duration("ten").is_err());
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(
            parse_duration("3d").unwrap(),
            Duration::from_secs(3 * 86_400)
        );
        assert!(parse_duration("3y").is_err());
    }
}
