//! The one storage interface ([`ProjectStore`]) and its two backends:
//! embedded SQLite (the default) and PostgreSQL (production). Both run their
//! migrations when opened and map their errors to [`StoreError`], so the HTTP
//! layer never needs to know which one it talks to.

mod group_commit;
pub mod model;
pub mod postgres;
pub mod sqlite;

pub use model::{NewProject, Project, ProjectChange};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::config::DatabaseUrl;
use std::future::Future;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The unique constraint on `name` refused the write; nothing changed.
    #[error("a project named {0:?} already exists")]
    DuplicateName(String),
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
