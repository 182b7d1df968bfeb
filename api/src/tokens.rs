//! `srp-api token create|list|revoke`: token administration straight on the
//! database (no running server needed, and no admin route to protect).

use crate::auth::{generate_token, hash_token, parse_scopes, valid_name};
use crate::config::DatabaseUrl;
use crate::store::model::format_timestamp;
use crate::store::{Store, TokenStore};
use anyhow::{bail, Context};
use clap::Subcommand;

#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once, as the last line of stdout. Only
    /// its SHA-256 is stored.
    Create {
        /// Who holds it (e.g. jenkins, slack-relay); unique among active tokens.
        #[arg(long)]
        name: String,
        /// projects:write, releases:write, incidents:write, read or admin;
        /// repeat the flag or separate with commas.
        #[arg(long, required = true)]
        scope: Vec<String>,
    },
    /// List tokens (names, scopes, dates; never the secrets).
    List,
    /// Revoke the active token of that name; it stops working at once.
    Revoke { name: String },
}

/// Runs `command` against `database`; returns what to print on stdout.
pub async fn run(database: &DatabaseUrl, command: &TokenCommand) -> anyhow::Result<Vec<String>> {
    // Checked before the database is touched, so a typo creates nothing.
    if let TokenCommand::Create { name, scope } = command {
        if !valid_name(name) {
            bail!("invalid token name {name:?}: 1 to 64 ASCII letters, digits, '.', '_' or '-'");
        }
        parse_scopes(scope).map_err(anyhow::Error::msg)?;
    }
    let store = Store::open(database)
        .await
        .with_context(|| format!("cannot use the database {}", database.redacted()))?;
    match command {
        TokenCommand::Create { name, scope } => {
            let scopes = parse_scopes(scope).map_err(anyhow::Error::msg)?;
            let token = generate_token().context("reading /dev/urandom")?;
            let info = store
                .create_token(name.clone(), scopes, hash_token(&token))
                .await?;
            Ok(vec![
                format!(
                    "created token {:?} with scopes {}; it is shown once, store it now:",
                    info.name,
                    info.scopes.join(",")
                ),
                token,
            ])
        }
        TokenCommand::List => {
            let mut lines = vec!["NAME\tSCOPES\tCREATED\tREVOKED".to_string()];
            for t in store.list_tokens().await? {
                lines.push(format!(
                    "{}\t{}\t{}\t{}",
                    t.name,
                    t.scopes.join(","),
                    format_timestamp(&t.created_at),
                    t.revoked_at
                        .map(|r| format_timestamp(&r))
                        .unwrap_or_else(|| "-".into())
                ));
            }
            Ok(lines)
        }
        TokenCommand::Revoke { name } => {
            if !store.revoke_token(name.clone()).await? {
                bail!("no active token named {name:?}");
            }
            Ok(vec![format!("revoked token {name:?}")])
        }
    }
}
