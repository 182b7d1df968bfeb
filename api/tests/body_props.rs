//! Property tests of the project request bodies (issue 12): the real
//! application (`Application::build`, as `main` starts it) on 127.0.0.1:0
//! over a fresh SQLite file per case.
//!
//! - arbitrary bytes, content types and JSON get a 2xx or a 4xx, never a 5xx
//!   or a panic, and a refused request changes nothing (README: "never a 500
//!   for bad input, and a refused request changes nothing");
//! - the answer agrees with an independent model of the README's rules, down
//!   to the error code and the field it names;
//! - accepted bodies are stored with their fields exactly as sent.
//!
//! Case counts are bounded so that each property runs in a few seconds in a
//! debug build; `PROPTEST_CASES=N` runs longer.

use clap::Parser;
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use srp_api::{Application, Config};
use srp_daemon::Shutdown;
use std::net::SocketAddr;

const CASES: u32 = 48;

fn config(cases: u32) -> ProptestConfig {
    let base = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            base.cases
        } else {
            cases
        },
        // Found cases become named regression tests instead of files written
        // into the shared tree.
        failure_persistence: None,
        ..base
    }
}

/// The flags as `srp-api` takes them, so the test starts what ships.
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    config: Config,
}

struct Api {
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    client: reqwest::Client,
    shutdown: Shutdown,
    rt: tokio::runtime::Runtime,
    /// An admin token: these properties are about bodies, not access.
    token: String,
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Api {
    fn start() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let db = format!("sqlite:{}", dir.path().join("srp.db").display());
        let config =
            Flags::parse_from(["srp-api", "--listen", "127.0.0.1:0", "--database-url", &db]).config;
        let shutdown = Shutdown::new();
        let (addr, token) = rt.block_on(async {
            let app = Application::build(&config).await.expect("srp-api starts");
            let addr = app.local_addr();
            tokio::spawn(app.run(shutdown.clone()));
            let store = srp_api::store::Store::open(&config.database().unwrap())
                .await
                .unwrap();
            let token = srp_api::auth::generate_token().unwrap();
            srp_api::store::TokenStore::create_token(
                &store,
                "props".into(),
                vec!["admin".into()],
                srp_api::auth::hash_token(&token),
            )
            .await
            .unwrap();
            (addr, token)
        });
        Api {
            _dir: dir,
            addr,
            client: reqwest::Client::new(),
            shutdown,
            rt,
            token,
        }
    }

    fn send(&self, method: &str, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .client
            .request(method, format!("http://{}{path}", self.addr))
            .bearer_auth(&self.token)
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        self.rt.block_on(async {
            let resp = req.send().await.expect("srp-api answers");
            let status = resp.status();
            let bytes = resp.bytes().await.unwrap();
            Answer {
                status,
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            }
        })
    }

    fn get_query(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        let req = self
            .client
            .get(format!("http://{}{path}", self.addr))
            .query(query);
        self.rt.block_on(async {
            let resp = req.send().await.expect("srp-api answers");
            let status = resp.status();
            let bytes = resp.bytes().await.unwrap();
            Answer {
                status,
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            }
        })
    }

    fn json(&self, method: &str, path: &str, body: &Value) -> Answer {
        self.send(
            method,
            path,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
    }

    /// Everything stored (as served), to compare before and after a request.
    fn all(&self) -> Vec<Value> {
        let a = self.send("GET", "/projects?limit=100", None, Vec::new());
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body["items"].as_array().unwrap().clone()
    }

    fn create(&self, name: &str, description: &str) -> Value {
        let a = self.json(
            "POST",
            "/projects",
            &json!({"name": name, "description": description}),
        );
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// The shared error shape: `{"error":{"code","message"[,"field"]}}`.
fn error_of(a: &Answer) -> Result<(String, Option<String>), TestCaseError> {
    let e = &a.body["error"];
    prop_assert!(
        e["code"].is_string() && e["message"].is_string(),
        "{}",
        a.body
    );
    Ok((
        e["code"].as_str().unwrap().to_string(),
        e["field"].as_str().map(String::from),
    ))
}

/// Any request: a 2xx or a 4xx in the error shape; a 4xx changes nothing.
fn check_any(api: &Api, send: impl FnOnce(&Api) -> Answer) -> Result<Answer, TestCaseError> {
    let before = api.all();
    let a = send(api);
    prop_assert!(
        a.status.is_success() || a.status.is_client_error(),
        "{} {}",
        a.status,
        a.body
    );
    if !a.status.is_success() {
        error_of(&a)?;
        prop_assert_eq!(api.all(), before, "a refused request changed the store");
    }
    Ok(a)
}

// ---------------------------------------------------------------- the model

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Full,
    Partial,
}

/// What the README promises for a project body: `Ok(name, description)` as
/// they should be stored (None: unchanged), or the 422 code and field.
type Verdict = Result<(Option<String>, Option<String>), (&'static str, &'static str)>;

fn expected(body: &Map<String, Value>, mode: Mode) -> Verdict {
    if body.keys().any(|k| k != "name" && k != "description") {
        return Err(("unknown_field", ""));
    }
    let name = match body.get("name") {
        None if mode == Mode::Full => return Err(("missing_field", "name")),
        None => None,
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n == 0 {
                return Err(("too_short", "name"));
            }
            if n > 64 {
                return Err(("too_long", "name"));
            }
            let ok = s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return Err(("invalid_characters", "name"));
            }
            Some(s.clone())
        }
        Some(_) => return Err(("wrong_type", "name")),
    };
    let description = match body.get("description") {
        None if mode == Mode::Full => Some(String::new()),
        None => None,
        Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) => {
            if s.chars().count() > 1000 {
                return Err(("too_long", "description"));
            }
            if s.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                return Err(("invalid_characters", "description"));
            }
            Some(s.clone())
        }
        Some(_) => return Err(("wrong_type", "description")),
    };
    Ok((name, description))
}

/// The answer matches the model: the status, the code and the field.
fn matches_model(a: &Answer, verdict: &Verdict, ok: StatusCode) -> Result<(), TestCaseError> {
    match verdict {
        Ok(_) => prop_assert_eq!(a.status, ok, "{}", a.body),
        Err((code, field)) => {
            prop_assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
            let (got_code, got_field) = error_of(a)?;
            prop_assert_eq!(got_code.as_str(), *code, "{}", a.body);
            if !field.is_empty() {
                prop_assert_eq!(got_field.as_deref(), Some(*field), "{}", a.body);
            } else {
                prop_assert!(
                    got_field.is_some(),
                    "the unknown field is named: {}",
                    a.body
                );
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- generators

/// Names around every rule: valid ones, the limits, bad first characters,
/// spaces, non-ASCII, empty, anything.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
        1 => "[A-Za-z0-9][A-Za-z0-9._-]{64,70}",
        1 => "[._-][A-Za-z0-9._-]{0,10}",
        1 => "[A-Za-z0-9]{1,5}[ /\\\\:@é\u{0}\n][a-z]{0,5}",
        1 => Just(String::new()),
        1 => (60usize..70).prop_map(|n| "é".repeat(n)),
        1 => "\\PC{0,12}",
        1 => any::<String>(),
    ]
}

/// Descriptions around the rules: ordinary text with newlines and tabs, the
/// 1000-character limit in multi-byte characters, control characters.
fn description() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~\n\t\r]{0,60}",
        1 => (995usize..1005).prop_map(|n| "ü".repeat(n)),
        1 => "[a-z]{0,5}[\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{7f}\u{80}-\u{9f}][a-z]{0,5}",
        1 => "\\PC{0,30}",
        1 => any::<String>(),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{0,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A field's value: mostly the right type, sometimes any JSON.
fn field(text: impl Strategy<Value = String>) -> impl Strategy<Value = Value> {
    prop_oneof![4 => text.prop_map(Value::String), 1 => any_json()]
}

/// A project body: `name` and `description` each present or not, of the
/// right type or not, and sometimes a field that does not exist.
fn body() -> impl Strategy<Value = Map<String, Value>> {
    (
        proptest::option::weighted(0.85, field(name())),
        proptest::option::weighted(0.6, field(description())),
        proptest::option::weighted(0.1, ("[a-z_]{1,10}", any_json())),
    )
        .prop_map(|(name, description, extra)| {
            let mut m = Map::new();
            if let Some(n) = name {
                m.insert("name".into(), n);
            }
            if let Some(d) = description {
                m.insert("description".into(), d);
            }
            if let Some((k, v)) = extra {
                m.insert(k, v);
            }
            m
        })
}

/// Bytes a client could send as a body, never a JSON object (an empty
/// object is a valid PATCH).
fn noise() -> impl Strategy<Value = Vec<u8>> {
    let not_an_object = |b: &Vec<u8>| serde_json::from_slice::<Map<String, Value>>(b).is_err();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        "[\\[\\]{}\":,0-9a-z \\\\]{0,64}".prop_map(String::into_bytes),
        any_json().prop_map(|v| v.to_string().into_bytes()),
    ]
    .prop_filter("not a JSON object", not_an_object)
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(Some("application/json".to_string())),
        1 => Just(Some("application/merge-patch+json; charset=utf-8".to_string())),
        1 => Just(None),
        1 => "[ -~]{0,30}".prop_map(Some),
    ]
}

/// `{id}` path segments, mostly not a usable id.
fn id_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("9223372036854775807".to_string()),
        Just("1e3".to_string()),
        Just("%20".to_string()),
        Just("%ZZ".to_string()),
        Just("%FF".to_string()),
        "[a-zA-Z0-9._~-]{1,12}",
    ]
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(config(CASES))]

    /// Whatever the body and content type, POST /projects answers 201 or a
    /// 4xx; a 4xx stores nothing.
    #[test]
    fn create_with_any_bytes_is_201_or_4xx(body in noise(), ct in content_type()) {
        let api = Api::start();
        let a = check_any(&api, |api| api.send("POST", "/projects", ct.as_deref(), body))?;
        prop_assert!(a.status.is_client_error(), "not a JSON object, still {}", a.status);
    }

    /// POST /projects agrees with the model of the README's rules, and what
    /// it stores is what was sent.
    #[test]
    fn create_follows_the_rules(body in body()) {
        let api = Api::start();
        let verdict = expected(&body, Mode::Full);
        let a = check_any(&api, |api| api.json("POST", "/projects", &Value::Object(body)))?;
        matches_model(&a, &verdict, StatusCode::CREATED)?;
        if let Ok((Some(name), Some(description))) = verdict {
            let stored = api.all();
            prop_assert_eq!(stored.len(), 1);
            prop_assert_eq!(&stored[0]["name"], &json!(name));
            prop_assert_eq!(&stored[0]["description"], &json!(description));
            prop_assert_eq!(&a.body, &stored[0]);
        }
    }

    /// PUT (whole project) and PATCH (only the fields given) on an existing
    /// project: the model decides, a refusal leaves the project untouched,
    /// and an update changes exactly what the body says.
    #[test]
    fn update_follows_the_rules(body in body(), patch in any::<bool>()) {
        let api = Api::start();
        let old = api.create("existing", "old text");
        let (method, mode) = if patch { ("PATCH", Mode::Partial) } else { ("PUT", Mode::Full) };
        let verdict = expected(&body, mode);
        let path = format!("/projects/{}", old["id"]);
        let a = check_any(&api, |api| api.json(method, &path, &Value::Object(body)))?;
        matches_model(&a, &verdict, StatusCode::OK)?;
        if let Ok((name, description)) = verdict {
            let now = api.all();
            prop_assert_eq!(now.len(), 1);
            let want_name = name.map(Value::String).unwrap_or_else(|| old["name"].clone());
            let want_description =
                description.map(Value::String).unwrap_or_else(|| old["description"].clone());
            prop_assert_eq!(&now[0]["name"], &want_name);
            prop_assert_eq!(&now[0]["description"], &want_description);
            prop_assert_eq!(&now[0]["created_at"], &old["created_at"]);
            prop_assert_eq!(&a.body, &now[0]);
        }
    }

    /// A name another project has is a 409 naming the field, on create and
    /// on update, and nothing changes.
    #[test]
    fn taken_names_are_refused_with_409(name in "[A-Za-z0-9][A-Za-z0-9._-]{0,63}", patch in any::<bool>()) {
        let api = Api::start();
        api.create(&name, "");
        let other = api.create(if name == "other" { "another" } else { "other" }, "");
        let body = json!({"name": name});
        let a = check_any(&api, |api| api.json("POST", "/projects", &body))?;
        prop_assert_eq!(a.status, StatusCode::CONFLICT);
        prop_assert_eq!(error_of(&a)?, ("duplicate_name".to_string(), Some("name".to_string())));
        let method = if patch { "PATCH" } else { "PUT" };
        let a = check_any(&api, |api| api.json(method, &format!("/projects/{}", other["id"]), &body))?;
        prop_assert_eq!(a.status, StatusCode::CONFLICT);
    }

    /// Any bytes as a PUT/PATCH body, or any id segment: a 4xx, the store
    /// untouched.
    #[test]
    fn update_with_any_bytes_or_id_is_4xx(
        body in noise(),
        ct in content_type(),
        id in prop_oneof![Just(None), id_segment().prop_map(Some)],
        patch in any::<bool>(),
    ) {
        let api = Api::start();
        let old = api.create("existing", "old text");
        let path = format!("/projects/{}", id.unwrap_or_else(|| old["id"].to_string()));
        let method = if patch { "PATCH" } else { "PUT" };
        let a = check_any(&api, |api| api.send(method, &path, ct.as_deref(), body))?;
        prop_assert!(a.status.is_client_error(), "{} {}", a.status, a.body);
    }
}

/// `limit` / `offset` values around their rules.
fn page_param() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..8).prop_map(|n| n.to_string()),
        (95u64..105).prop_map(|n| n.to_string()),
        Just("18446744073709551615".to_string()),
        Just("18446744073709551616".to_string()),
        Just("-1".to_string()),
        Just("+3".to_string()),
        Just("1.0".to_string()),
        Just(String::new()),
        "\\PC{0,8}",
    ]
}

proptest! {
    #![proptest_config(config(CASES))]

    /// `GET /projects?limit=&offset=` over three projects: 200 with the page
    /// the parameters describe, or 422 naming the parameter; never a 5xx.
    #[test]
    fn list_pages_follow_the_parameters(limit in proptest::option::of(page_param()), offset in proptest::option::of(page_param())) {
        let api = Api::start();
        for n in ["a", "b", "c"] {
            api.create(n, "");
        }
        let mut query = Vec::new();
        if let Some(l) = &limit {
            query.push(("limit", l.as_str()));
        }
        if let Some(o) = &offset {
            query.push(("offset", o.as_str()));
        }
        let a = api.get_query("/projects", &query);
        let l = match &limit {
            None => Ok(20u64),
            Some(l) => l.parse::<u32>().ok().filter(|n| (1..=100).contains(n)).map(u64::from).ok_or("limit"),
        };
        let o = match &offset {
            None => Ok(0u64),
            Some(o) => o.parse::<u64>().map_err(|_| "offset"),
        };
        match (l, o) {
            (Ok(l), Ok(o)) => {
                prop_assert_eq!(a.status, StatusCode::OK, "{}", a.body);
                let want = 3u64.saturating_sub(o).min(l);
                prop_assert_eq!(a.body["items"].as_array().unwrap().len() as u64, want);
                let next = (o.saturating_add(l) < 3).then(|| o + l);
                prop_assert_eq!(a.body["next_offset"].as_u64(), next, "{}", a.body);
            }
            (Err(field), _) | (Ok(_), Err(field)) => {
                prop_assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
                prop_assert_eq!(error_of(&a)?, ("invalid_parameter".to_string(), Some(field.to_string())));
            }
        }
    }
}
