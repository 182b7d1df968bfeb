//! Bearer tokens on the way in: every write route takes a [`Write`] guard as
//! its first extractor, so a request without the right token is refused
//! before its body is read or anything is looked up, let alone written.

use super::error::ApiError;
use super::AppState;
use crate::auth::{hash_token, Scope};
use crate::store::TokenStore;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::marker::PhantomData;
use std::sync::Arc;

/// The scope a guarded route needs.
pub trait Needs: Send + Sync + 'static {
    const SCOPE: Scope;
}

pub struct Projects;
pub struct Releases;
pub struct Incidents;

impl Needs for Projects {
    const SCOPE: Scope = Scope::ProjectsWrite;
}
impl Needs for Releases {
    const SCOPE: Scope = Scope::ReleasesWrite;
}
impl Needs for Incidents {
    const SCOPE: Scope = Scope::IncidentsWrite;
}

/// Proof that the request carried an active token holding `N::SCOPE`.
pub struct Write<N>(PhantomData<N>);

/// Why a request was refused: 401 (with `WWW-Authenticate`, RFC 6750) when
/// the token is missing, malformed, unknown or revoked; 403 when it is valid
/// but lacks the scope.
pub struct Refused(ApiError, Option<&'static str>);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = match self.1 {
                Some(error) => format!("Bearer realm=\"srp-api\", error=\"{error}\""),
                None => "Bearer realm=\"srp-api\"".to_string(),
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_str(&challenge).expect("an ASCII challenge"),
            );
        }
        response
    }
}

fn bearer(headers: &HeaderMap) -> Result<&str, Refused> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Refused(
            ApiError::unauthorized("this route needs Authorization: Bearer TOKEN")
                .with_field("Authorization"),
            None,
        ));
    };
    let malformed = || {
        Refused(
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the Authorization header must be \"Bearer TOKEN\"",
            )
            .with_field("Authorization"),
            Some("invalid_request"),
        )
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

/// Checks the request's token against `scope`.
pub async fn authorize(state: &AppState, headers: &HeaderMap, scope: Scope) -> Result<(), Refused> {
    let token = bearer(headers)?;
    let hash = hash_token(token);
    let scopes = match state.tokens.get(&hash) {
        Some(scopes) => scopes,
        None => {
            let found = state
                .store
                .token_scopes(hash.clone())
                .await
                .map_err(|e| Refused(ApiError::from(e), None))?;
            let Some(found) = found else {
                state.tokens.remove(&hash);
                return Err(Refused(
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "invalid_token",
                        "the token is unknown or revoked",
                    )
                    .with_field("Authorization"),
                    Some("invalid_token"),
                ));
            };
            let found: Arc<[String]> = Arc::from(found);
            state.tokens.insert(hash, found.clone());
            found
        }
    };
    if !scope.granted_by(&scopes) {
        return Err(Refused(
            ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!(
                    "this token may not do this: it needs the scope {:?}",
                    scope.as_str()
                ),
            )
            .with_field("Authorization"),
            None,
        ));
    }
    Ok(())
}

impl<N: Needs> FromRequestParts<AppState> for Write<N> {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        authorize(state, &parts.headers, N::SCOPE).await?;
        Ok(Write(PhantomData))
    }
}

/// Middleware for the data routes: when reads are closed
/// (`--require-token-for-reads`), a GET needs any active token.
pub async fn reads(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    if state.reads_need_token && is_read {
        if let Err(refused) = authorize(&state, request.headers(), Scope::Read).await {
            return refused.into_response();
        }
    }
    next.run(request).await
}
