//! The one storage interface ([`ProjectStore`]) and its two backends:
//! embedded SQLite (the default) and PostgreSQL (production). Both run their
//! migrations when opened and map their errors to [`StoreError`], so the HTTP
//! layer never needs to know which one it talks to.

mod group_commit;
pub mod ledger;
pub mod model;
pub mod postgres;
pub mod sqlite;

pub use ledger::{
    Current, DeployResult, Deployment, Facts, Incident, NewDeployment, NewIncident, NewRelease,
    NewVerdict, Opened, Release, Smoke, TokenInfo, Verdict,
};
pub use model::{NewProject, Project, ProjectChange};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::config::DatabaseUrl;
use chrono::{DateTime, Utc};
use std::future::Future;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The unique constraint on `name` refused the write; nothing changed.
    #[error("a project named {0:?} already exists")]
    DuplicateName(String),
    /// The project already has a release with that build number.
    #[error("this project already has a release for build {0}")]
    DuplicateRelease(i64),
    /// The project has no release with that build number.
    #[error("this project has no release for build {0}")]
    UnknownRelease(i64),
    /// A deployment of this project to this environment started at the same
    /// instant is already recorded (a retried write).
    #[error("a deployment to this environment starting at that time is already recorded")]
    DuplicateDeployment,
    /// The project was deleted while the write was under way.
    #[error("no project with id {0}")]
    ProjectGone(i64),
    /// An active token already has that name.
    #[error("an active token named {0:?} already exists; revoke it first")]
    DuplicateToken(String),
    /// The database could not be reached or refused the operation.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

/// Everything the API asks of its database. Each call is atomic: it either
/// happens completely or not at all.
pub trait ProjectStore: Send + Sync + 'static {
    fn create(&self, new: NewProject) -> impl Future<Output = Result<Project, StoreError>> + Send;
    /// Up to `limit` projects ordered by id, skipping the first `offset`.
    fn list(
        &self,
        limit: u32,
        offset: u64,
    ) -> impl Future<Output = Result<Vec<Project>, StoreError>> + Send;
    fn get(&self, id: i64) -> impl Future<Output = Result<Option<Project>, StoreError>> + Send;
    /// The project with that (unique) name.
    fn by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Project>, StoreError>> + Send;
    /// Applies the fields set in `change`; `None` when no project has that id.
    fn update(
        &self,
        id: i64,
        change: ProjectChange,
    ) -> impl Future<Output = Result<Option<Project>, StoreError>> + Send;
    /// `false` when no project has that id.
    fn delete(&self, id: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Can the database serve reads and writes right now? The error says why not.
    fn check(&self) -> impl Future<Output = Result<(), String>> + Send;
}

type Answer<T> = Result<T, StoreError>;

/// The release ledger under each project. Lists are newest first.
pub trait LedgerStore: Send + Sync + 'static {
    fn create_release(
        &self,
        project_id: i64,
        new: NewRelease,
    ) -> impl Future<Output = Answer<Release>> + Send;
    fn list_releases(
        &self,
        project_id: i64,
        limit: u32,
        offset: u64,
    ) -> impl Future<Output = Answer<Vec<Release>>> + Send;
    fn get_release(
        &self,
        project_id: i64,
        build: i64,
    ) -> impl Future<Output = Answer<Option<Release>>> + Send;
    /// Records (or replaces) one stage's verdict; `None` when the release is unknown.
    fn record_verdict(
        &self,
        project_id: i64,
        build: i64,
        new: NewVerdict,
    ) -> impl Future<Output = Answer<Option<Verdict>>> + Send;
    fn create_deployment(
        &self,
        project_id: i64,
        new: NewDeployment,
    ) -> impl Future<Output = Answer<Deployment>> + Send;
    fn list_deployments(
        &self,
        project_id: i64,
        environment: Option<String>,
        limit: u32,
        offset: u64,
    ) -> impl Future<Output = Answer<Vec<Deployment>>> + Send;
    /// What runs in `environment`; `None` when nothing was ever deployed there.
    fn current(
        &self,
        project_id: i64,
        environment: String,
    ) -> impl Future<Output = Answer<Option<Current>>> + Send;
    /// What runs in each environment the project was deployed to.
    fn environments(&self, project_id: i64) -> impl Future<Output = Answer<Vec<Current>>> + Send;
    /// Opens an incident, or finds the one already open under `new.key`.
    fn open_incident(
        &self,
        project_id: i64,
        new: NewIncident,
    ) -> impl Future<Output = Answer<Opened>> + Send;
    /// Closes the open incident under `key` (at no earlier than its opening);
    /// when none is open, answers the last one under `key`, or `None`.
    fn close_incident(
        &self,
        project_id: i64,
        key: String,
        closed_at: DateTime<Utc>,
    ) -> impl Future<Output = Answer<Option<Incident>>> + Send;
    fn list_incidents(
        &self,
        project_id: i64,
        limit: u32,
        offset: u64,
    ) -> impl Future<Output = Answer<Vec<Incident>>> + Send;
    /// Every deployment and incident, for the DORA metrics.
    fn facts(&self) -> impl Future<Output = Answer<Facts>> + Send;
}

/// Write tokens: stored as the SHA-256 of the secret, never the secret.
pub trait TokenStore: Send + Sync + 'static {
    fn create_token(
        &self,
        name: String,
        scopes: Vec<String>,
        hash: String,
    ) -> impl Future<Output = Answer<TokenInfo>> + Send;
    fn list_tokens(&self) -> impl Future<Output = Answer<Vec<TokenInfo>>> + Send;
    /// `false` when no active token has that name.
    fn revoke_token(&self, name: String) -> impl Future<Output = Answer<bool>> + Send;
    /// The scopes of the active token with that hash.
    fn token_scopes(
        &self,
        hash: String,
    ) -> impl Future<Output = Answer<Option<Vec<String>>>> + Send;
}

/// The backend chosen by `DATABASE_URL`.
// One per process, behind an Arc: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Open the database and bring its schema up to date.
    pub async fn open(url: &DatabaseUrl) -> Result<Store, StoreError> {
        Ok(match url {
            DatabaseUrl::Sqlite(path) => Store::Sqlite(SqliteStore::open(path)?),
            DatabaseUrl::Postgres(url) => Store::Postgres(PgStore::connect(url).await?),
        })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Sqlite($s) => $call.await,
            Store::Postgres($s) => $call.await,
        }
    };
}

impl ProjectStore for Store {
    async fn create(&self, new: NewProject) -> Result<Project, StoreError> {
        delegate!(self, s => s.create(new))
    }
    async fn list(&self, limit: u32, offset: u64) -> Result<Vec<Project>, StoreError> {
        delegate!(self, s => s.list(limit, offset))
    }
    async fn get(&self, id: i64) -> Result<Option<Project>, StoreError> {
        delegate!(self, s => s.get(id))
    }
    async fn by_name(&self, name: &str) -> Result<Option<Project>, StoreError> {
        delegate!(self, s => s.by_name(name))
    }
    async fn update(&self, id: i64, change: ProjectChange) -> Result<Option<Project>, StoreError> {
        delegate!(self, s => s.update(id, change))
    }
    async fn delete(&self, id: i64) -> Result<bool, StoreError> {
        delegate!(self, s => s.delete(id))
    }
    async fn check(&self) -> Result<(), String> {
        delegate!(self, s => s.check())
    }
}

impl LedgerStore for Store {
    async fn create_release(&self, project_id: i64, new: NewRelease) -> Answer<Release> {
        delegate!(self, s => s.create_release(project_id, new))
    }
    async fn list_releases(
        &self,
        project_id: i64,
        limit: u32,
        offset: u64,
    ) -> Answer<Vec<Release>> {
        delegate!(self, s => s.list_releases(project_id, limit, offset))
    }
    async fn get_release(&self, project_id: i64, build: i64) -> Answer<Option<Release>> {
        delegate!(self, s => s.get_release(project_id, build))
    }
    async fn record_verdict(
        &self,
        project_id: i64,
        build: i64,
        new: NewVerdict,
    ) -> Answer<Option<Verdict>> {
        delegate!(self, s => s.record_verdict(project_id, build, new))
    }
    async fn create_deployment(&self, project_id: i64, new: NewDeployment) -> Answer<Deployment> {
        delegate!(self, s => s.create_deployment(project_id, new))
    }
    async fn list_deployments(
        &self,
        project_id: i64,
        environment: Option<String>,
        limit: u32,
        offset: u64,
    ) -> Answer<Vec<Deployment>> {
        delegate!(self, s => s.list_deployments(project_id, environment, limit, offset))
    }
    async fn current(&self, project_id: i64, environment: String) -> Answer<Option<Current>> {
        delegate!(self, s => s.current(project_id, environment))
    }
    async fn environments(&self, project_id: i64) -> Answer<Vec<Current>> {
        delegate!(self, s => s.environments(project_id))
    }
    async fn open_incident(&self, project_id: i64, new: NewIncident) -> Answer<Opened> {
        delegate!(self, s => s.open_incident(project_id, new))
    }
    async fn close_incident(
        &self,
        project_id: i64,
        key: String,
        closed_at: DateTime<Utc>,
    ) -> Answer<Option<Incident>> {
        delegate!(self, s => s.close_incident(project_id, key, closed_at))
    }
    async fn list_incidents(
        &self,
        project_id: i64,
        limit: u32,
        offset: u64,
    ) -> Answer<Vec<Incident>> {
        delegate!(self, s => s.list_incidents(project_id, limit, offset))
    }
    async fn facts(&self) -> Answer<Facts> {
        delegate!(self, s => s.facts())
    }
}

impl TokenStore for Store {
    async fn create_token(
        &self,
        name: String,
        scopes: Vec<String>,
        hash: String,
    ) -> Answer<TokenInfo> {
        delegate!(self, s => s.create_token(name, scopes, hash))
    }
    async fn list_tokens(&self) -> Answer<Vec<TokenInfo>> {
        delegate!(self, s => s.list_tokens())
    }
    async fn revoke_token(&self, name: String) -> Answer<bool> {
        delegate!(self, s => s.revoke_token(name))
    }
    async fn token_scopes(&self, hash: String) -> Answer<Option<Vec<String>>> {
        delegate!(self, s => s.token_scopes(hash))
    }
}
