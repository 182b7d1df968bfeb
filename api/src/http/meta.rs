//! What the API says about itself: `/version`, `/openapi.json`, `/docs`.

use crate::build_info::{BuildInfo, BUILD};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use std::sync::LazyLock;

pub async fn version() -> Json<BuildInfo> {
    Json(BUILD)
}

/// The hand-written document, with `info.version` set to this build's version
/// so the two cannot drift.
static OPENAPI: LazyLock<String> = LazyLock::new(|| {
    let mut doc: serde_json::Value =
        serde_json::from_str(include_str!("openapi.json")).expect("openapi.json is valid JSON");
    doc["info"]["version"] = BUILD.version.into();
    serde_json::to_string_pretty(&doc).expect("serializing a JSON value")
});

pub fn openapi_document() -> &'static str {
    &OPENAPI
}

pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi_document(),
    )
        .into_response()
}

/// A self-contained page (inline script and style, no CDN) that renders
/// /openapi.json and can send requests.
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
