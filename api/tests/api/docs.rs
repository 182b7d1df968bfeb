use crate::helpers::{spawn_app, Backend};
use serde_json::Value;
use std::collections::BTreeSet;

const ROUTES: &[(&str, &str)] = &[
    ("/health", "get"),
    ("/version", "get"),
    ("/metrics", "get"),
    ("/openapi.json", "get"),
    ("/docs", "get"),
    ("/projects", "get"),
    ("/projects", "post"),
    ("/projects/{id}", "get"),
    ("/projects/{id}", "put"),
    ("/projects/{id}", "patch"),
    ("/projects/{id}", "delete"),
    ("/projects/{id}/releases", "get"),
    ("/projects/{id}/releases", "post"),
    ("/projects/{id}/releases/{build}", "get"),
    ("/projects/{id}/releases/{build}/verdicts/{stage}", "put"),
    ("/projects/{id}/deployments", "get"),
    ("/projects/{id}/deployments", "post"),
    ("/projects/{id}/environments", "get"),
    ("/projects/{id}/environments/{env}", "get"),
    ("/projects/{id}/incidents", "get"),
    ("/projects/{id}/incidents", "post"),
    ("/projects/{id}/incidents/{key}/close", "post"),
];

#[tokio::test]
async fn openapi_describes_exactly_the_served_routes() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let r = app.get("/openapi.json").await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.insert((path.clone(), method.to_string()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(documented, expected);

    // Every documented operation is really routed (no 405, no unmatched 404).
    let p = app.create("doc-check").await;
    for (path, method) in ROUTES {
        let concrete = path
            .replace("{id}", &p["id"].to_string())
            .replace("{build}", "1")
            .replace("{stage}", "build")
            .replace("{env}", "production")
            .replace("{key}", "k");
        let r = app
            .send_raw(
                &method.to_uppercase(),
                &concrete,
                Some("application/json"),
                "{}",
            )
            .await;
        assert_ne!(r.status, 405, "{method} {path}");
        if r.status == 404 {
            // A 404 for a missing record names it; an unrouted path names nothing.
            let field = r.error().1;
            assert!(
                matches!(field.as_deref(), Some("id" | "build" | "env" | "key")),
                "{method} {path} is not routed"
            );
        }
    }

    // Every write declares the bearer token and its 401/403; no read does.
    for (path, method) in ROUTES {
        let op = &doc["paths"][path][method];
        let secured = op.get("security").is_some();
        let write = *method != "get";
        assert_eq!(secured, write, "{method} {path}: security");
        if write {
            assert_eq!(
                op["security"][0]["bearer"],
                serde_json::json!([]),
                "{method} {path}"
            );
            for status in ["401", "403"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{method} {path} lacks {status}"
                );
            }
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // Every $ref points at a schema that exists.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .expect("local schema ref");
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling {r}"
        );
    }
}

#[tokio::test]
async fn docs_page_is_self_contained() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let r = app.get("/docs").await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(
        r.text.contains("openapi.json"),
        "the page renders the document"
    );
    for external in ["<script src", "<link", "http://", "https://", "@import"] {
        assert!(
            !r.text.contains(external),
            "docs page loads something external: {external}"
        );
    }
}
