//! `/projects`: create, list, get, replace, patch, delete.

use super::auth::{Projects, Write};
use super::body::JsonObject;
use super::error::ApiError;
use super::validate::{self, Mode};
use super::AppState;
use crate::store::{Project, ProjectStore};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// The `{id}` path segment, refused with a JSON error when not an integer.
pub struct ProjectId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for ProjectId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::invalid(
                "invalid_parameter",
                "id",
                "the project id in the path must be a positive integer",
            )
        };
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid())?;
        match raw.parse::<i64>() {
            Ok(id) if id > 0 => Ok(ProjectId(id)),
            _ => Err(invalid()),
        }
    }
}

/// `?limit=&offset=`, validated, and the filters `name` (projects) and
/// `environment` (deployments); unknown parameters are ignored.
pub struct PageParams {
    pub limit: u32,
    pub offset: u64,
    pub name: Option<String>,
    pub environment: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Query(pairs) =
            Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("unreadable query string: {e}"),
                )
            })?;
        let mut params = PageParams {
            limit: DEFAULT_LIMIT,
            offset: 0,
            name: None,
            environment: None,
        };
        for (key, value) in pairs {
            match key.as_str() {
                "limit" => {
                    params.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            ApiError::invalid(
                                "invalid_parameter",
                                "limit",
                                format!(
                                    "limit must be an integer from 1 to {MAX_LIMIT}, not {value:?}"
                                ),
                            )
                        })?
                }
                "offset" => {
                    params.offset = value.parse().map_err(|_| {
                        ApiError::invalid(
                            "invalid_parameter",
                            "offset",
                            format!("offset must be a non-negative integer, not {value:?}"),
                        )
                    })?
                }
                "name" => params.name = Some(value),
                "environment" => {
                    if !super::fields::is_name(&value, 64) {
                        return Err(ApiError::invalid(
                            "invalid_parameter",
                            "environment",
                            "environment must be 1 to 64 ASCII letters, digits, '.', '_', '-' or ':'",
                        ));
                    }
                    params.environment = Some(value)
                }
                _ => {}
            }
        }
        Ok(params)
    }
}

#[derive(Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub limit: u32,
    pub offset: u64,
    /// The `offset` of the next page, or null on the last page.
    pub next_offset: Option<u64>,
}

pub async fn list(State(s): State<AppState>, page: PageParams) -> Result<Response, ApiError> {
    // `?name=` finds one project by its unique name (how the pipeline and
    // the relay, which know names, find the id), as a page of 0 or 1.
    if let Some(name) = &page.name {
        let items: Vec<Project> = s.store.by_name(name).await?.into_iter().collect();
        return Ok(Json(Page {
            items,
            limit: page.limit,
            offset: page.offset,
            next_offset: None,
        })
        .into_response());
    }
    // One row more than asked tells whether another page exists, without a COUNT.
    let mut items = s.store.list(page.limit + 1, page.offset).await?;
    let more = items.len() > page.limit as usize;
    items.truncate(page.limit as usize);
    let page = Page {
        next_offset: more.then(|| page.offset + u64::from(page.limit)),
        items,
        limit: page.limit,
        offset: page.offset,
    };
    // Sized once for the whole page instead of grown by doubling from 128 bytes.
    let mut body = Vec::with_capacity(128 + 256 * page.items.len());
    serde_json::to_writer(&mut body, &page).expect("a page serializes");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

pub async fn create(
    _: Write<Projects>,
    State(s): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let new = validate::new_project(body)?;
    let project = s.store.create(new).await?;
    let location = format!("/projects/{}", project.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(project),
    )
        .into_response())
}

pub async fn get(
    State(s): State<AppState>,
    ProjectId(id): ProjectId,
) -> Result<Json<Project>, ApiError> {
    s.store
        .get(id)
        .await?
        .map(Json)
        .ok_or_else(|| super::error::project_not_found(id))
}

async fn update(
    s: AppState,
    id: i64,
    body: JsonObject,
    mode: Mode,
) -> Result<Json<Project>, ApiError> {
    let change = validate::project_change(body.0, mode)?;
    s.store
        .update(id, change)
        .await?
        .map(Json)
        .ok_or_else(|| super::error::project_not_found(id))
}

/// PUT: the body is the whole project (an absent description becomes empty).
pub async fn replace(
    _: Write<Projects>,
    State(s): State<AppState>,
    ProjectId(id): ProjectId,
    body: JsonObject,
) -> Result<Json<Project>, ApiError> {
    update(s, id, body, Mode::Full).await
}

/// PATCH: only the fields present change.
pub async fn patch(
    _: Write<Projects>,
    State(s): State<AppState>,
    ProjectId(id): ProjectId,
    body: JsonObject,
) -> Result<Json<Project>, ApiError> {
    update(s, id, body, Mode::Partial).await
}

pub async fn delete(
    _: Write<Projects>,
    State(s): State<AppState>,
    ProjectId(id): ProjectId,
) -> Result<StatusCode, ApiError> {
    if s.store.delete(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(super::error::project_not_found(id))
    }
}
