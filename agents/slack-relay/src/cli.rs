//! Command line: `serve` (the default), `dlq list|replay|purge` and
//! `audit list`.

use clap::{ArgGroup, Args, Parser, Subcommand};
use srp_daemon::duration::parse_flag;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "srp-slack-relay",
    version,
    about = "Relays Alertmanager and Jenkins notifications to Slack through a durable SQLite outbox.",
    long_about = "Relays Alertmanager (webhook v4) and Jenkins notifications to Slack. Every notification \
is committed to SQLite before it is acknowledged, delivered with retries (Retry-After on 429, \
exponential backoff with jitter otherwise) at most one message per interval per destination, \
deduplicated, and dead-lettered when it cannot be delivered.\n\n\
Slack modes: --slack-webhook-url (incoming webhook), or --slack-token with --slack-channel \
(bot token: resolves are threaded under the firing message, which is edited). With no Slack \
settings the relay runs as a log sink and prints the formatted messages.\n\n\
High availability: --database-url puts the outbox in PostgreSQL, shared by two or three relays \
(each message posted by exactly one of them). Incidents: with --api-url, alerts carrying a \
`project` label are opened and closed as incidents in srp-api, through the same outbox.\n\n\
Without a subcommand the relay serves (same as `serve`).",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive notifications and deliver them (the default).
    Serve(Box<ServeArgs>),
    /// Inspect, replay and purge the dead-letter table.
    Dlq(DlqArgs),
    /// Actions taken from Slack (silences, acknowledgements).
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Directory holding the relay's database (as given to serve).
    #[arg(
        long,
        env = "SRP_DATA_DIR",
        default_value = "/var/lib/srp-slack-relay",
        global = true
    )]
    pub data_dir: PathBuf,
    /// The shared outbox, when the relays use one (as given to serve).
    #[arg(long, env = "SRP_DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub action: AuditAction,
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// List every action: when, who, what, silence id.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on for webhooks, /health and /metrics.
    #[arg(long, env = "SRP_LISTEN", default_value = "127.0.0.1:9742")]
    pub listen: SocketAddr,

    /// Directory for the SQLite outbox (relay.db); created if missing.
    #[arg(long, env = "SRP_DATA_DIR", default_value = "/var/lib/srp-slack-relay")]
    pub data_dir: PathBuf,

    /// Shared outbox in PostgreSQL (postgres://user@host/db), for two or
    /// three relays behind an Alertmanager cluster: each message is posted
    /// by exactly one of them (delivery leases). Without it the outbox is
    /// SQLite under --data-dir. Prefer the environment (a password in the
    /// URL is visible in ps).
    #[arg(long, env = "SRP_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// On the shared outbox: how long a message this relay took stays its
    /// own before another relay may take it over (after a crash). Must be
    /// longer than --slack-timeout, or a slow but live delivery would be
    /// taken over and posted twice.
    #[arg(long, env = "SRP_LEASE_DURATION", default_value = "30s", value_parser = parse_flag)]
    pub lease_duration: Duration,

    /// File holding the Slack app's signing secret (a systemd credential:
    /// $CREDENTIALS_DIRECTORY/slack-signing-secret). With it, firing
    /// messages in bot-token mode get silence/acknowledge buttons and
    /// POST /slack/interactions is served; requests not signed with it,
    /// older than 5 minutes or re-played are refused.
    #[arg(long, env = "SRP_SLACK_SIGNING_SECRET_FILE")]
    pub slack_signing_secret_file: Option<PathBuf>,

    /// Alertmanager base URL for silences made from Slack (API v2);
    /// repeat it once per cluster member, they are tried in turn.
    #[arg(
        long = "alertmanager-url",
        env = "SRP_ALERTMANAGER_URLS",
        value_delimiter = ','
    )]
    pub alertmanager_urls: Vec<url::Url>,

    /// srp-api base URL (http://api:8000): firing alerts with a `project`
    /// label are forwarded as incident opens, their resolves as closes,
    /// through the outbox (durable, retried, on a queue of their own).
    /// Off when unset.
    #[arg(long, env = "SRP_API_URL", requires = "api_token_file")]
    pub api_url: Option<url::Url>,

    /// File holding the srp-api token with scope incidents:write
    /// (`srp-api token create --name slack-relay --scope incidents:write`;
    /// a systemd credential: $CREDENTIALS_DIRECTORY/api-token).
    #[arg(long, env = "SRP_API_TOKEN_FILE", requires = "api_url")]
    pub api_token_file: Option<PathBuf>,

    /// Give up on one srp-api request after this long (then retry).
    #[arg(long, env = "SRP_API_TIMEOUT", default_value = "10s", value_parser = parse_flag)]
    pub api_timeout: Duration,

    /// Slack incoming-webhook URL for the default destination.
    #[arg(
        long,
        env = "SRP_SLACK_WEBHOOK_URL",
        hide_env_values = true,
        conflicts_with = "slack_channel"
    )]
    pub slack_webhook_url: Option<url::Url>,

    /// Slack bot token (xoxb-…) for chat.postMessage/chat.update. Prefer the
    /// environment or --slack-token-file over the flag (visible in ps).
    #[arg(long, env = "SRP_SLACK_TOKEN", hide_env_values = true)]
    pub slack_token: Option<String>,

    /// File holding the Slack bot token (wins over --slack-token).
    #[arg(long, env = "SRP_SLACK_TOKEN_FILE")]
    pub slack_token_file: Option<PathBuf>,

    /// Default channel (name or ID) for the bot token.
    #[arg(long, env = "SRP_SLACK_CHANNEL")]
    pub slack_channel: Option<String>,

    /// Slack Web API base URL (tests point it at a mock; http:// is allowed).
    #[arg(
        long,
        env = "SRP_SLACK_API_URL",
        default_value = "https://slack.com/api"
    )]
    pub slack_api_url: String,

    /// File holding the bearer token senders must present
    /// (Alertmanager: http_config.authorization.credentials_file).
    /// Wins over --auth-token / SRP_RELAY_TOKEN.
    #[arg(long, env = "SRP_RELAY_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,

    /// The inbound bearer token itself (prefer the environment variable or
    /// --auth-token-file).
    #[arg(long, env = "SRP_RELAY_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,

    /// User name for inbound basic auth (with --basic-auth-password-file).
    #[arg(
        long,
        env = "SRP_RELAY_BASIC_USER",
        requires = "basic_auth_password_file"
    )]
    pub basic_auth_user: Option<String>,

    /// File holding the inbound basic-auth password.
    #[arg(
        long,
        env = "SRP_RELAY_BASIC_PASSWORD_FILE",
        requires = "basic_auth_user"
    )]
    pub basic_auth_password_file: Option<PathBuf>,

    /// Routing file (TOML): label matchers choosing a channel or webhook per
    /// notification, plus a default. See the README.
    #[arg(long, env = "SRP_RELAY_ROUTES")]
    pub routes: Option<PathBuf>,

    /// In log-sink mode, append messages as JSON lines to this file instead
    /// of printing them to stdout.
    #[arg(long, env = "SRP_RELAY_SINK_FILE")]
    pub sink_file: Option<PathBuf>,

    /// Largest accepted request body, in bytes (larger gets 413).
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Minimum gap between two messages to one Slack channel or webhook
    /// (Slack allows about one per second).
    #[arg(long, default_value = "1s", value_parser = parse_flag)]
    pub per_destination_interval: Duration,

    /// Failed attempts (429s not counted) before a message is dead-lettered.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,

    /// Age after which an undelivered message is dead-lettered.
    #[arg(long, default_value = "24h", value_parser = parse_flag)]
    pub max_age: Duration,

    /// First retry delay; doubles per failure, with ±50 % jitter.
    #[arg(long, default_value = "2s", value_parser = parse_flag)]
    pub retry_base: Duration,

    /// Longest retry delay.
    #[arg(long, default_value = "5m", value_parser = parse_flag)]
    pub retry_max: Duration,

    /// Give up on one Slack request after this long (then retry).
    #[arg(long, default_value = "15s", value_parser = parse_flag)]
    pub slack_timeout: Duration,

    /// The same notification (group, status, alerts) received again within
    /// this window is a duplicate. Keep it longer than Alertmanager's retry
    /// horizon (group_interval) and shorter than repeat_interval.
    #[arg(long, default_value = "15m", value_parser = parse_flag)]
    pub dedupe_window: Duration,

    /// SQLite outbox: how long a commit may wait for inbound requests
    /// still on their way (the senders of the last commit, or requests being
    /// read) so that one fsync covers them; 0s commits at once. Adds at most
    /// about twice this to an acknowledgement, only under concurrent load.
    #[arg(long, env = "SRP_COMMIT_GATHER", default_value = "1ms", value_parser = parse_flag)]
    pub commit_gather: Duration,

    /// How long delivered messages stay in the database (for inspection).
    #[arg(long, default_value = "3d", value_parser = parse_flag)]
    pub keep_delivered: Duration,

    /// Longest one inbound request may take, body included, before it is
    /// answered 408. Alertmanager takes any 4xx as final, so this must stay
    /// above --request-body-timeout plus a commit's wait; the relay refuses
    /// to start otherwise.
    #[arg(long, env = "SRP_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_flag)]
    pub request_timeout: Duration,

    #[command(flatten)]
    pub http: srp_daemon::HttpArgs,

    #[command(flatten)]
    pub log: srp_daemon::LogArgs,
}

#[derive(Debug, Args)]
pub struct DlqArgs {
    /// Directory holding the relay's database (as given to serve).
    #[arg(
        long,
        env = "SRP_DATA_DIR",
        default_value = "/var/lib/srp-slack-relay",
        global = true
    )]
    pub data_dir: PathBuf,
    /// The shared outbox, when the relays use one (as given to serve).
    #[arg(long, env = "SRP_DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub action: DlqAction,
}

#[derive(Debug, Subcommand)]
pub enum DlqAction {
    /// List dead letters: id, when, route, attempts, title, last error.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Queue dead letters for delivery again (fresh attempts and age). A
    /// running relay picks them up within a second.
    #[command(group(ArgGroup::new("which").required(true).args(["ids", "all"])))]
    Replay {
        /// Dead-letter IDs (from `dlq list`).
        ids: Vec<i64>,
        /// Replay every dead letter.
        #[arg(long)]
        all: bool,
    },
    /// Delete dead letters for good (after reading them: nothing is kept).
    #[command(group(ArgGroup::new("which").required(true).args(["ids", "all"])))]
    Purge {
        /// Dead-letter IDs (from `dlq list`).
        ids: Vec<i64>,
        /// Delete every dead letter.
        #[arg(long)]
        all: bool,
    },
}
