//! Every error the API answers, in srp-daemon's one JSON shape:
//! `{"error":{"code":"...","message":"...","field":"..."}}`.
//! `code` is for machines and stable; `message` is for people; `field` names
//! the offending input when there is one.

use crate::store::StoreError;
use axum::http::StatusCode;

/// The shared error type of every SRP daemon.
pub type ApiError = srp_daemon::HttpError;

pub fn project_not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("no project with id {id}")).with_field("id")
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::DuplicateName(_) => {
                ApiError::new(StatusCode::CONFLICT, "duplicate_name", e.to_string())
                    .with_field("name")
            }
            StoreError::DuplicateRelease(_) => {
                ApiError::new(StatusCode::CONFLICT, "duplicate_release", e.to_string())
                    .with_field("build")
            }
            StoreError::DuplicateDeployment => {
                ApiError::new(StatusCode::CONFLICT, "duplicate_deployment", e.to_string())
                    .with_field("started_at")
            }
            StoreError::UnknownRelease(_) => {
                ApiError::invalid("unknown_release", "build", e.to_string())
            }
            StoreError::ProjectGone(id) => project_not_found(id),
            StoreError::DuplicateToken(_) => {
                ApiError::new(StatusCode::CONFLICT, "duplicate_token", e.to_string())
                    .with_field("name")
            }
            StoreError::Unavailable(ref detail) => {
                tracing::warn!(error = %detail, "database operation failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database is unavailable; nothing was changed, retry later",
                )
            }
        }
    }
}
