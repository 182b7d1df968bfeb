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
