//! The request timeout: covers reading the body and producing the answer, so
//! a stalled handler cannot hold a connection and a task forever.

use crate::error::HttpError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

pub async fn enforce(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = HttpError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the request did not complete within {limit:?} and was abandoned"),
            )
            .into_response();
            // Part of the body may be unread; the connection cannot be reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}
