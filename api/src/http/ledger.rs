//! The release ledger under `/projects/{id}`: releases and their gate
//! verdicts, deployments, what runs where, and incidents.

use super::auth::{Incidents, Releases, Write};
use super::body::JsonObject;
use super::error::{project_not_found, ApiError};
use super::fields::{is_name, Fields};
use super::projects::{Page, PageParams};
use super::AppState;
use crate::store::{
    Current, DeployResult, Deployment, Incident, LedgerStore, NewDeployment, NewIncident,
    NewRelease, NewVerdict, Opened, ProjectStore, Release, Smoke, Verdict,
};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

const NAME_MAX: usize = 64;
const KEY_MAX: usize = 128;
const TEXT_MAX: usize = 512;
const SUMMARY_MAX: usize = 4000;
const MAX_WAIVERS: usize = 200;
const WAIVER_MAX: usize = 512;

/// The path's parameters, each checked when asked for.
pub struct PathParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(pairs) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("invalid_path", "unreadable path parameters"))?;
        Ok(PathParams(pairs))
    }
}

impl PathParams {
    fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    /// A positive integer parameter (`id`, `build`).
    pub fn positive(&self, name: &str) -> Result<i64, ApiError> {
        match self.raw(name).parse::<i64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ApiError::invalid(
                "invalid_parameter",
                name,
                format!("the {name} in the path must be a positive integer"),
            )),
        }
    }

    pub fn name(&self, name: &str, max: usize) -> Result<String, ApiError> {
        let raw = self.raw(name);
        if is_name(raw, max) {
            Ok(raw.to_string())
        } else {
            Err(ApiError::invalid(
                "invalid_parameter",
                name,
                format!(
                    "the {name} in the path must be 1 to {max} ASCII letters, digits, '.', '_', \
                     '-' or ':', starting with a letter or digit"
                ),
            ))
        }
    }
}

/// The project of the path, which must exist.
async fn project(s: &AppState, path: &PathParams) -> Result<i64, ApiError> {
    let id = path.positive("id")?;
    match s.store.get(id).await? {
        Some(_) => Ok(id),
        None => Err(project_not_found(id)),
    }
}

fn release_not_found(build: i64) -> ApiError {
    ApiError::not_found(format!("this project has no release for build {build}"))
        .with_field("build")
}

fn created<T: serde::Serialize>(location: String, body: T) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response()
}

fn page<T>(mut items: Vec<T>, params: &PageParams) -> Page<T> {
    let more = items.len() > params.limit as usize;
    items.truncate(params.limit as usize);
    Page {
        next_offset: more.then(|| params.offset + u64::from(params.limit)),
        items,
        limit: params.limit,
        offset: params.offset,
    }
}

pub async fn create_release(
    _: Write<Releases>,
    State(s): State<AppState>,
    path: PathParams,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let id = project(&s, &path).await?;
    let f = Fields::new(
        body,
        "a release",
        &[
            "build",
            "commit_sha",
            "commit_time",
            "image",
            "digest",
            "sbom_components",
        ],
    )?;
    let commit_sha = f.required_text("commit_sha", 64)?;
    if !(7..=64).contains(&commit_sha.len()) || !commit_sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            "invalid_characters",
            "commit_sha",
            "the field \"commit_sha\" must be 7 to 64 hexadecimal digits",
        ));
    }
    let new = NewRelease {
        build: f.required_integer("build", 1)?,
        commit_sha: commit_sha.to_ascii_lowercase(),
        commit_time: f.required_time("commit_time")?,
        image: f.required_text("image", TEXT_MAX)?,
        digest: f.text("digest", TEXT_MAX, false)?,
        sbom_components: f.integer("sbom_components", 0)?,
    };
    let release = s.store.create_release(id, new).await?;
    Ok(created(
        format!("/projects/{id}/releases/{}", release.build),
        release,
    ))
}

pub async fn list_releases(
    State(s): State<AppState>,
    path: PathParams,
    params: PageParams,
) -> Result<Json<Page<Release>>, ApiError> {
    let id = project(&s, &path).await?;
    let items = s
        .store
        .list_releases(id, params.limit + 1, params.offset)
        .await?;
    Ok(Json(page(items, &params)))
}

pub async fn get_release(
    State(s): State<AppState>,
    path: PathParams,
) -> Result<Json<Release>, ApiError> {
    let id = project(&s, &path).await?;
    let build = path.positive("build")?;
    s.store
        .get_release(id, build)
        .await?
        .map(Json)
        .ok_or_else(|| release_not_found(build))
}

/// PUT, so that the pipeline's retry of a verdict replaces it.
pub async fn record_verdict(
    _: Write<Releases>,
    State(s): State<AppState>,
    path: PathParams,
    JsonObject(body): JsonObject,
) -> Result<Json<Verdict>, ApiError> {
    let id = project(&s, &path).await?;
    let build = path.positive("build")?;
    let stage = path.name("stage", NAME_MAX)?;
    let f = Fields::new(body, "a verdict", &["passed", "waivers", "summary"])?;
    let new = NewVerdict {
        stage,
        passed: f.boolean("passed")?.ok_or_else(|| {
            ApiError::invalid(
                "missing_field",
                "passed",
                "the field \"passed\" is required",
            )
        })?,
        // The gate's waiver selectors (`id=CVE-… path=…`), as it reports them.
        waivers: f.text_list("waivers", MAX_WAIVERS, WAIVER_MAX)?,
        summary: f.text("summary", SUMMARY_MAX, true)?.unwrap_or_default(),
    };
    s.store
        .record_verdict(id, build, new)
        .await?
        .map(Json)
        .ok_or_else(|| release_not_found(build))
}

pub async fn create_deployment(
    _: Write<Releases>,
    State(s): State<AppState>,
    path: PathParams,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let id = project(&s, &path).await?;
    let f = Fields::new(
        body,
        "a deployment",
        &[
            "environment",
            "build",
            "started_at",
            "finished_at",
            "result",
            "smoke",
            "rollback",
            "triggered_by",
        ],
    )?;
    let started_at = f.required_time("started_at")?;
    let finished_at = f.required_time("finished_at")?;
    if finished_at < started_at {
        return Err(ApiError::invalid(
            "invalid_value",
            "finished_at",
            "the field \"finished_at\" must not be before \"started_at\"",
        ));
    }
    let new = NewDeployment {
        environment: f.name("environment", NAME_MAX)?,
        build: f.required_integer("build", 1)?,
        started_at,
        finished_at,
        result: f
            .choice("result", DeployResult::ALL, DeployResult::parse)?
            .ok_or_else(|| {
                ApiError::invalid(
                    "missing_field",
                    "result",
                    "the field \"result\" is required",
                )
            })?,
        smoke: f
            .choice("smoke", Smoke::ALL, Smoke::parse)?
            .unwrap_or(Smoke::Skipped),
        rollback: f.boolean("rollback")?.unwrap_or(false),
        triggered_by: f.required_text("triggered_by", TEXT_MAX)?,
    };
    let deployment = s.store.create_deployment(id, new).await?;
    s.dora.refresh(&s.store).await;
    Ok(created(
        format!(
            "/projects/{id}/deployments?environment={}",
            deployment.environment
        ),
        deployment,
    ))
}

pub async fn list_deployments(
    State(s): State<AppState>,
    path: PathParams,
    params: PageParams,
) -> Result<Json<Page<Deployment>>, ApiError> {
    let id = project(&s, &path).await?;
    let items = s
        .store
        .list_deployments(
            id,
            params.environment.clone(),
            params.limit + 1,
            params.offset,
        )
        .await?;
    Ok(Json(page(items, &params)))
}

#[derive(serde::Serialize)]
pub struct Environments {
    pub items: Vec<Current>,
}

pub async fn environments(
    State(s): State<AppState>,
    path: PathParams,
) -> Result<Json<Environments>, ApiError> {
    let id = project(&s, &path).await?;
    Ok(Json(Environments {
        items: s.store.environments(id).await?,
    }))
}

pub async fn current(
    State(s): State<AppState>,
    path: PathParams,
) -> Result<Json<Current>, ApiError> {
    let id = project(&s, &path).await?;
    let env = path.name("env", NAME_MAX)?;
    s.store
        .current(id, env.clone())
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "nothing of this project runs in {env:?}: no successful deployment there"
            ))
            .with_field("env")
        })
}

/// 201 for a new incident; 200 with the open one when the alert fires again.
pub async fn open_incident(
    _: Write<Incidents>,
    State(s): State<AppState>,
    path: PathParams,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let id = project(&s, &path).await?;
    let f = Fields::new(
        body,
        "an incident",
        &["key", "environment", "title", "opened_at"],
    )?;
    let new = NewIncident {
        key: f.name("key", KEY_MAX)?,
        environment: f.name("environment", NAME_MAX)?,
        title: f.text("title", TEXT_MAX, false)?.unwrap_or_default(),
        opened_at: f
            .time("opened_at")?
            .unwrap_or_else(crate::store::model::now),
    };
    let answer = match s.store.open_incident(id, new).await? {
        Opened::New(incident) => created(
            format!("/projects/{id}/incidents/{}", incident.key),
            incident,
        ),
        Opened::AlreadyOpen(incident) => Json(incident).into_response(),
    };
    s.dora.refresh(&s.store).await;
    Ok(answer)
}

pub async fn close_incident(
    _: Write<Incidents>,
    State(s): State<AppState>,
    path: PathParams,
    JsonObject(body): JsonObject,
) -> Result<Json<Incident>, ApiError> {
    let id = project(&s, &path).await?;
    let key = path.name("key", KEY_MAX)?;
    let f = Fields::new(body, "an incident close", &["closed_at"])?;
    let closed_at = f
        .time("closed_at")?
        .unwrap_or_else(crate::store::model::now);
    let incident = s
        .store
        .close_incident(id, key.clone(), closed_at)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("no incident with key {key:?}")).with_field("key")
        })?;
    s.dora.refresh(&s.store).await;
    Ok(Json(incident))
}

pub async fn list_incidents(
    State(s): State<AppState>,
    path: PathParams,
    params: PageParams,
) -> Result<Json<Page<Incident>>, ApiError> {
    let id = project(&s, &path).await?;
    let items = s
        .store
        .list_incidents(id, params.limit + 1, params.offset)
        .await?;
    Ok(Json(page(items, &params)))
}
