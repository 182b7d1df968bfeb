//! Property tests of the inbound payloads (issue 12): the real router, in
//! process (`tower::ServiceExt::oneshot`), over a real SQLite outbox in a
//! temp dir.
//!
//! - arbitrary bytes and mutated payloads get 200 or a 4xx, never a 5xx or a
//!   panic, and a refused body stores nothing (Alertmanager does not retry a
//!   4xx, so a 4xx for something valid would lose it, and a 5xx for something
//!   invalid would make it retry forever);
//! - mutations known to break the webhook v4 / Jenkins contract are refused;
//! - valid generated payloads are accepted with their fields preserved.
//!
//! Case counts are bounded so that each property runs in a few seconds in a
//! debug build; `PROPTEST_CASES=N` runs longer.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use srp_daemon::Shutdown;
use srp_slack_relay::http::{self, AppState, Auth};
use srp_slack_relay::metrics::Metrics;
use srp_slack_relay::payload::{AlertmanagerPayload, JenkinsPayload};
use srp_slack_relay::routes::{Destination, Matcher, Routes};
use srp_slack_relay::store::{self, DbHealth, Ingest};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tower::ServiceExt;

const CASES: u32 = 40;
const MAX_BODY: usize = 1 << 20;

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

/// A relay without a dispatcher: whatever is accepted stays in the outbox,
/// so the rows tell exactly what each request stored.
struct Relay {
    _dir: tempfile::TempDir,
    db: rusqlite::Connection,
    router: Router,
    rt: tokio::runtime::Runtime,
}

struct Answer {
    status: StatusCode,
    body: Value,
}

impl Relay {
    fn start() -> Relay {
        Self::with_routes(Routes::single(Destination::Log, false))
    }

    fn with_routes(routes: Routes) -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let registry = prometheus::Registry::new();
        let metrics = Metrics::register(&registry, &routes.names()).unwrap();
        // The writer is a task of the runtime; it is never told to stop here.
        let _in_runtime = rt.enter();
        let ingest = Ingest::spawn(
            dir.path(),
            Duration::from_secs(900),
            Arc::new(Notify::new()),
            Arc::new(DbHealth::default()),
            &Shutdown::new(),
        )
        .unwrap();
        let state = Arc::new(AppState {
            ingest,
            routes: Arc::new(routes),
            metrics,
            auth: Auth::default(),
            interactive: false,
            incidents: false,
        });
        let router = http::router(state, MAX_BODY);
        let db = store::open(dir.path()).unwrap();
        Relay {
            _dir: dir,
            db,
            router,
            rt,
        }
    }

    fn post(&self, path: &str, body: Vec<u8>) -> Answer {
        let req = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        self.rt.block_on(async {
            let resp = self.router.clone().oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), MAX_BODY)
                .await
                .unwrap();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Answer { status, body }
        })
    }

    /// (outbox rows, dedupe keys): everything a request can leave behind.
    fn stored(&self) -> (i64, i64) {
        let count = |sql: &str| self.db.query_row(sql, [], |r| r.get(0)).unwrap();
        (
            count("SELECT COUNT(*) FROM outbox"),
            count("SELECT COUNT(*) FROM dedupe"),
        )
    }

    /// The group keys of the outbox rows after `after_id`.
    fn group_keys_after(&self, after_id: i64) -> Vec<String> {
        self.column_after("group_key", after_id)
    }

    fn column_after(&self, column: &str, after_id: i64) -> Vec<String> {
        let mut q = self
            .db
            .prepare(&format!(
                "SELECT {column} FROM outbox WHERE id > ?1 ORDER BY id"
            ))
            .unwrap();
        q.query_map([after_id], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn last_id(&self) -> i64 {
        self.db
            .query_row("SELECT COALESCE(MAX(id), 0) FROM outbox", [], |r| r.get(0))
            .unwrap()
    }
}

/// The contract for any body: 200 or a 4xx; a 4xx stores nothing.
fn check_any(relay: &Relay, path: &str, body: Vec<u8>) -> Result<Answer, TestCaseError> {
    let before = relay.stored();
    let a = relay.post(path, body);
    prop_assert!(
        a.status == StatusCode::OK || a.status.is_client_error(),
        "{path}: {} {}",
        a.status,
        a.body
    );
    if a.status != StatusCode::OK {
        prop_assert_eq!(relay.stored(), before, "a refused body stored something");
        // srp-daemon's one error body: {"error":{"code","message"}}.
        prop_assert!(
            a.body["error"]["code"].is_string(),
            "a 4xx has a code: {}",
            a.body
        );
        prop_assert!(
            a.body["error"]["message"].is_string(),
            "a 4xx says why: {}",
            a.body
        );
    }
    Ok(a)
}

/// Unique per case, so generated payloads are never duplicates of each other.
fn unique() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------- generators

/// Label and annotation text: short anything, or long non-ASCII text around
/// Slack's 3000- and 150-character cuts (a cut inside a character panics).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,24}",
        1 => (140usize..160).prop_map(|n| "é".repeat(n)),
        1 => (2990usize..3010).prop_map(|n| "ü".repeat(n)),
        1 => Just("<@here> & <!channel> | `x` *y* \" \\".to_string()),
    ]
}

fn label_name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,12}"
}

fn labels(min: usize) -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map(label_name(), text(), min..5)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

/// RFC 3339 times, including Alertmanager's zero time and far futures.
fn timestamp() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0001-01-01T00:00:00Z".to_string()),
        (
            1970i32..2200,
            1u32..13,
            1u32..29,
            0u32..24,
            0u32..60,
            0u32..1_000_000
        )
            .prop_map(|(y, mo, d, h, mi, us)| format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:17.{us:06}Z"
            )),
        Just("9999-12-31T23:59:59+14:00".to_string()),
    ]
}

fn status() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("firing"), Just("resolved")]
}

fn alert() -> impl Strategy<Value = Value> {
    (
        status(),
        labels(1),
        labels(0),
        timestamp(),
        timestamp(),
        "[ -~]{0,40}",
        "[0-9a-f]{0,16}",
    )
        .prop_map(|(status, labels, annotations, starts, ends, gen, fp)| {
            json!({
                "status": status, "labels": labels, "annotations": annotations,
                "startsAt": starts, "endsAt": ends, "generatorURL": gen, "fingerprint": fp,
            })
        })
}

/// A webhook v4 body as Alertmanager 0.25+ sends it.
fn alertmanager_payload() -> impl Strategy<Value = Value> {
    (
        "[ -~]{1,40}",
        status(),
        labels(0),
        labels(0),
        labels(0),
        proptest::collection::vec(alert(), 1..4),
        0u64..1000,
        "[ -~]{0,40}",
        proptest::option::of(prop_oneof![
            Just("firing"),
            Just("resolved"),
            Just("repeat")
        ]),
    )
        .prop_map(
            |(group_key, status, group, common, annotations, alerts, truncated, url, reason)| {
                let mut v = json!({
                    "version": "4",
                    "groupKey": format!("{{}}:{group_key}#{}", unique()),
                    "truncatedAlerts": truncated,
                    "status": status,
                    "receiver": "slack-relay",
                    "groupLabels": group,
                    "commonLabels": common,
                    "commonAnnotations": annotations,
                    "externalURL": url,
                    "alerts": alerts,
                });
                if let Some(r) = reason {
                    v["notification_reason"] = r.into();
                }
                v
            },
        )
}

fn build_result() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("STARTED"),
        Just("SUCCESS"),
        Just("FAILURE"),
        Just("UNSTABLE"),
        Just("ABORTED"),
        Just("NOT_BUILT"),
    ]
}

/// The body `jenkins/notify.sh` posts, every optional field present or not.
fn jenkins_payload() -> impl Strategy<Value = Value> {
    (
        "[A-Za-z0-9][ -~]{0,30}",
        any::<u64>(),
        build_result(),
        proptest::option::of(text()),
        proptest::option::of("https?://[a-z]{1,10}(:[0-9]{2,4})?/[ -~]{0,20}"),
        proptest::option::of("\\PC{0,20}"),
        proptest::option::of("[0-9a-f]{7,40}"),
        proptest::option::of(text()),
        proptest::option::of(0.0f64..1e7),
    )
        .prop_map(
            |(job, build, result, stage, url, branch, commit, message, dur)| {
                let mut v =
                    json!({"job": format!("{job}-{}", unique()), "build": build, "result": result});
                let o = v.as_object_mut().unwrap();
                for (k, f) in [
                    ("stage", stage),
                    ("url", url),
                    ("branch", branch),
                    ("commit", commit),
                    ("message", message),
                ] {
                    if let Some(f) = f {
                        o.insert(k.into(), f.into());
                    }
                }
                if let Some(d) = dur {
                    o.insert("duration_seconds".into(), d.into());
                }
                v
            },
        )
}

/// Any JSON value, small.
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
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One structural change somewhere in a JSON document: the path is chosen by
/// the indices (modulo what exists at each level).
#[derive(Debug, Clone)]
enum Mutation {
    Remove(Vec<usize>),
    Replace(Vec<usize>, Value),
    AddField(Vec<usize>, String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let path = proptest::collection::vec(any::<usize>(), 1..4);
    prop_oneof![
        path.clone().prop_map(Mutation::Remove),
        (path.clone(), any_json()).prop_map(|(p, v)| Mutation::Replace(p, v)),
        (path, "[a-zA-Z_]{1,12}", any_json()).prop_map(|(p, k, v)| Mutation::AddField(p, k, v)),
    ]
}

/// The container at `path` (the last index picks a child of it).
fn walk<'a>(v: &'a mut Value, path: &[usize]) -> &'a mut Value {
    let Some((first, rest)) = path.split_first() else {
        return v;
    };
    let container = |c: &Value| c.is_object() || c.is_array();
    let descend = !rest.is_empty()
        && match &*v {
            Value::Object(m) if !m.is_empty() => {
                container(m.values().nth(first % m.len()).unwrap())
            }
            Value::Array(a) if !a.is_empty() => container(&a[first % a.len()]),
            _ => false,
        };
    if !descend {
        return v;
    }
    match v {
        Value::Object(m) => {
            let n = m.len();
            walk(m.values_mut().nth(first % n).unwrap(), rest)
        }
        Value::Array(a) => {
            let n = a.len();
            walk(&mut a[first % n], rest)
        }
        _ => unreachable!(),
    }
}

fn apply(doc: &mut Value, m: &Mutation) {
    let (path, last) = match m {
        Mutation::Remove(p) | Mutation::Replace(p, _) | Mutation::AddField(p, ..) => {
            (p.as_slice(), *p.last().unwrap())
        }
    };
    let target = walk(doc, path);
    match (target, m) {
        (Value::Object(o), Mutation::AddField(_, k, v)) => {
            o.insert(k.clone(), v.clone());
        }
        (Value::Object(o), Mutation::Remove(_)) if !o.is_empty() => {
            let k = o.keys().nth(last % o.len()).unwrap().clone();
            o.remove(&k);
        }
        (Value::Object(o), Mutation::Replace(_, v)) if !o.is_empty() => {
            let n = o.len();
            *o.values_mut().nth(last % n).unwrap() = v.clone();
        }
        (Value::Array(a), Mutation::Remove(_)) if !a.is_empty() => {
            let n = a.len();
            a.remove(last % n);
        }
        (Value::Array(a), Mutation::Replace(_, v)) if !a.is_empty() => {
            let n = a.len();
            a[last % n] = v.clone();
        }
        (Value::Array(a), Mutation::AddField(_, _, v)) => a.push(v.clone()),
        _ => {}
    }
}

/// Bytes a sender could put in a body: raw noise, JSON-ish text, any JSON.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        "[\\[\\]{}\":,0-9a-z \\\\]{0,128}".prop_map(String::into_bytes),
        any_json().prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// Edits that make a webhook v4 body one the relay must refuse, each
/// breaking a field the README says is required or typed: a JSON pointer and
/// the value to put there (`None`: remove it).
fn breaking_alertmanager_edit() -> impl Strategy<Value = (&'static str, Option<Value>)> {
    let set = |ptr: &'static str, v: Value| (ptr, Some(v));
    prop_oneof![
        any_json()
            .prop_filter("not the string 4", |v| v != &json!("4"))
            .prop_map(move |v| set("/version", v)),
        Just(("/version", None)),
        prop_oneof![
            Just(json!("")),
            Just(json!("  \t")),
            Just(json!(null)),
            Just(json!(7))
        ]
        .prop_map(move |v| set("/groupKey", v)),
        Just(("/groupKey", None)),
        "[a-zA-Z]{0,10}"
            .prop_filter("not a status", |s| s != "firing" && s != "resolved")
            .prop_map(move |s| set("/status", s.into())),
        Just(set("/alerts", json!([]))),
        Just(set("/alerts", json!({"a": 1}))),
        Just(("/alerts", None)),
        Just(set("/alerts/0/labels", json!({}))),
        Just(("/alerts/0/labels", None)),
        any_json()
            .prop_filter("not a string", |v| !v.is_string())
            .prop_map(move |v| set("/alerts/0/labels/x", v)),
        "[ -~]{0,20}"
            .prop_filter("not a time", |s| chrono::DateTime::parse_from_rfc3339(s)
                .is_err())
            .prop_map(move |s| set("/alerts/0/startsAt", s.into())),
        Just(("/alerts/0/startsAt", None)),
        Just(set("/truncatedAlerts", json!(-1))),
        Just(set("/alerts/0/status", json!("burning"))),
    ]
}

/// Set (or remove) what a JSON pointer names; the parent must exist.
fn edit_at(doc: &mut Value, ptr: &str, v: Option<Value>) {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    let parent = doc.pointer_mut(parent).expect("the parent exists");
    match (parent, v) {
        (Value::Object(o), Some(v)) => {
            o.insert(key.to_string(), v);
        }
        (Value::Object(o), None) => {
            o.remove(key);
        }
        (Value::Array(a), Some(v)) => a[key.parse::<usize>().unwrap()] = v,
        (Value::Array(a), None) => {
            a.remove(key.parse::<usize>().unwrap());
        }
        _ => panic!("{ptr}: not a container"),
    }
}

fn breaking_jenkins_edit() -> impl Strategy<Value = (String, Value)> {
    prop_oneof![
        ("[a-z_]{1,10}", any_json())
            .prop_filter("an unknown field", |(k, _)| !matches!(
                k.as_str(),
                "job" | "build" | "result" | "stage" | "url" | "branch" | "commit" | "message"
            ))
            .prop_map(|(k, v)| (k, v)),
        prop_oneof![
            Just(json!(-1)),
            Just(json!(1.5)),
            Just(json!("7")),
            Just(json!(null)),
            Just(json!(18446744073709551616.0))
        ]
        .prop_map(|v| ("build".to_string(), v)),
        "[A-Za-z_]{0,10}"
            .prop_filter("not a result", |s| !matches!(
                s.as_str(),
                "STARTED" | "SUCCESS" | "FAILURE" | "UNSTABLE" | "ABORTED" | "NOT_BUILT"
            ))
            .prop_map(|s| ("result".to_string(), json!(s))),
        prop_oneof![Just(json!("")), Just(json!("   ")), Just(json!(3))]
            .prop_map(|v| ("job".to_string(), v)),
        prop_oneof![
            Just(json!("not a url")),
            Just(json!("/relative/path")),
            Just(json!(5))
        ]
        .prop_map(|v| ("url".to_string(), v)),
        prop_oneof![Just(json!(-0.5)), Just(json!("12")), Just(json!(-1e300))]
            .prop_map(|v| ("duration_seconds".to_string(), v)),
        prop_oneof![Just(json!(1)), Just(json!([])), Just(json!({}))]
            .prop_map(|v| ("stage".to_string(), v)),
    ]
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn alertmanager_noise_is_refused_with_a_4xx_and_stores_nothing(body in noise()) {
        let relay = Relay::start();
        let a = check_any(&relay, "/alertmanager", body)?;
        prop_assert!(a.status.is_client_error());
    }

    #[test]
    fn jenkins_noise_is_refused_with_a_4xx_and_stores_nothing(body in noise()) {
        let relay = Relay::start();
        let a = check_any(&relay, "/jenkins", body)?;
        prop_assert!(a.status.is_client_error());
    }

    /// Random structural damage: whatever the answer, it agrees with the
    /// parser, and a refusal stores nothing.
    #[test]
    fn mutated_alertmanager_payloads_get_200_or_4xx(
        mut doc in alertmanager_payload(),
        edits in proptest::collection::vec(mutation(), 1..4),
    ) {
        for m in &edits {
            apply(&mut doc, m);
        }
        let relay = Relay::start();
        let body = doc.to_string().into_bytes();
        let parsed = AlertmanagerPayload::parse(&body);
        let a = check_any(&relay, "/alertmanager", body)?;
        prop_assert_eq!(a.status == StatusCode::OK, parsed.is_ok(), "{}", a.body);
    }

    #[test]
    fn mutated_jenkins_payloads_get_200_or_4xx(
        mut doc in jenkins_payload(),
        edits in proptest::collection::vec(mutation(), 1..3),
    ) {
        for m in &edits {
            apply(&mut doc, m);
        }
        let relay = Relay::start();
        let body = doc.to_string().into_bytes();
        let parsed = JenkinsPayload::parse(&body);
        let a = check_any(&relay, "/jenkins", body)?;
        prop_assert_eq!(a.status == StatusCode::OK, parsed.is_ok(), "{}", a.body);
    }

    #[test]
    fn alertmanager_contract_breaks_are_refused(
        mut doc in alertmanager_payload(),
        (what, value) in breaking_alertmanager_edit(),
    ) {
        edit_at(&mut doc, what, value);
        let relay = Relay::start();
        let a = check_any(&relay, "/alertmanager", doc.to_string().into_bytes())?;
        prop_assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}: {}", what, a.body);
    }

    #[test]
    fn jenkins_contract_breaks_are_refused(
        mut doc in jenkins_payload(),
        (field, value) in breaking_jenkins_edit(),
    ) {
        doc[field.as_str()] = value;
        let relay = Relay::start();
        let a = check_any(&relay, "/jenkins", doc.to_string().into_bytes())?;
        prop_assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}: {}", field, a.body);
    }

    /// What Alertmanager sends is accepted, with unknown fields ignored, and
    /// every field the relay uses comes through unchanged.
    #[test]
    fn valid_alertmanager_payloads_are_accepted_with_their_fields(
        mut doc in alertmanager_payload(),
        extra in proptest::option::of(("[a-z]{1,8}", any_json())),
    ) {
        if let Some((k, v)) = extra {
            // Newer Alertmanagers add fields; the README says they are ignored.
            doc.as_object_mut().unwrap().entry(format!("x_{k}")).or_insert(v);
        }
        let relay = Relay::start();
        let before = relay.last_id();
        let body = doc.to_string().into_bytes();
        let a = check_any(&relay, "/alertmanager", body.clone())?;
        prop_assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        prop_assert_eq!(&a.body["status"], "accepted");
        // One message, plus thread replies when the group is too large
        // for one (every alert is posted).
        let p = AlertmanagerPayload::parse(&body).unwrap();
        let messages = 1 + srp_slack_relay::format::alertmanager(&p).thread.len();
        prop_assert_eq!(a.body["messages"].as_u64(), Some(messages as u64));
        let group_key = doc["groupKey"].as_str().unwrap();
        prop_assert_eq!(relay.group_keys_after(before), vec![group_key.to_string(); messages]);

        prop_assert_eq!(p.group_key.as_str(), group_key);
        prop_assert_eq!(p.status.as_str(), doc["status"].as_str().unwrap());
        prop_assert_eq!(p.truncated_alerts, doc["truncatedAlerts"].as_u64().unwrap());
        prop_assert_eq!(&json!(p.common_labels), &doc["commonLabels"]);
        prop_assert_eq!(&json!(p.group_labels), &doc["groupLabels"]);
        prop_assert_eq!(&json!(p.common_annotations), &doc["commonAnnotations"]);
        prop_assert_eq!(p.external_url.as_str(), doc["externalURL"].as_str().unwrap());
        prop_assert_eq!(p.alerts.len(), doc["alerts"].as_array().unwrap().len());
        for (got, sent) in p.alerts.iter().zip(doc["alerts"].as_array().unwrap()) {
            prop_assert_eq!(got.status.as_str(), sent["status"].as_str().unwrap());
            prop_assert_eq!(&json!(got.labels), &sent["labels"]);
            prop_assert_eq!(&json!(got.annotations), &sent["annotations"]);
            let starts = chrono::DateTime::parse_from_rfc3339(sent["startsAt"].as_str().unwrap()).unwrap();
            prop_assert_eq!(got.starts_at, starts);
            prop_assert_eq!(got.fingerprint.as_str(), sent["fingerprint"].as_str().unwrap());
            prop_assert_eq!(got.generator_url.as_str(), sent["generatorURL"].as_str().unwrap());
        }

        // The same notification again (an Alertmanager retry) is a duplicate.
        let stored = relay.stored();
        let again = relay.post("/alertmanager", body);
        prop_assert_eq!(again.status, StatusCode::OK);
        prop_assert_eq!(&again.body["status"], "duplicate");
        prop_assert_eq!(relay.stored().0, stored.0);
    }

    #[test]
    fn valid_jenkins_payloads_are_accepted_with_their_fields(doc in jenkins_payload()) {
        let relay = Relay::start();
        let before = relay.last_id();
        let body = doc.to_string().into_bytes();
        let a = check_any(&relay, "/jenkins", body.clone())?;
        prop_assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        prop_assert_eq!(&a.body["status"], "accepted");
        let group_key = format!("jenkins/{}/{}", doc["job"].as_str().unwrap(), doc["build"]);
        prop_assert_eq!(relay.group_keys_after(before), vec![group_key]);

        let p = JenkinsPayload::parse(&body).unwrap();
        prop_assert_eq!(p.job.as_str(), doc["job"].as_str().unwrap());
        prop_assert_eq!(p.build, doc["build"].as_u64().unwrap());
        prop_assert_eq!(p.result.as_str(), doc["result"].as_str().unwrap());
        for (got, key) in [
            (&p.stage, "stage"),
            (&p.url, "url"),
            (&p.branch, "branch"),
            (&p.commit, "commit"),
            (&p.message, "message"),
        ] {
            prop_assert_eq!(got.as_deref(), doc.get(key).and_then(Value::as_str), "{}", key);
        }
        // Compared with the body as parsed back: serde_json's float parsing is
        // not an exact round trip of its own printing (a last-digit difference).
        let sent: Value = serde_json::from_slice(&body).unwrap();
        prop_assert_eq!(p.duration_seconds, sent.get("duration_seconds").and_then(Value::as_f64));
    }
}

// ---------------------------------------------------------------- routing

/// The README's example routes, all to the log sink.
const ROUTES: &str = r#"
[[routes]]
name = "critical"
matchers = ['severity="critical"']
log = true
continue = true

[[routes]]
name = "databases"
matchers = ['team=~"db|storage"', 'env!="dev"']
log = true

[[routes]]
name = "builds"
matchers = ['__source__="jenkins"', 'result=~"FAILURE|UNSTABLE"']
log = true
"#;

/// Which routes the README says these labels take: in order, the first
/// match ends the walk unless it says `continue`; none is `default`.
fn expected_routes(labels: &Map<String, Value>) -> Vec<String> {
    let get = |k: &str| labels.get(k).and_then(Value::as_str).unwrap_or("");
    let mut out = Vec::new();
    if get("severity") == "critical" {
        out.push("critical");
    }
    if matches!(get("team"), "db" | "storage") && get("env") != "dev" {
        out.push("databases");
    } else if get("__source__") == "jenkins" && matches!(get("result"), "FAILURE" | "UNSTABLE") {
        out.push("builds");
    }
    if out.is_empty() {
        out.push("default");
    }
    out.into_iter().map(String::from).collect()
}

/// Labels drawn from values just inside and outside the matchers.
fn routing_labels() -> impl Strategy<Value = Map<String, Value>> {
    let pick = |vals: &'static [&'static str]| proptest::option::of(proptest::sample::select(vals));
    (
        pick(&["critical", "Critical", "warning", "critical "]),
        pick(&["db", "storage", "dbx", "db|storage", "web"]),
        pick(&["dev", "prod", ""]),
        pick(&["jenkins", "alertmanager"]),
    )
        .prop_map(|(sev, team, env, source)| {
            let mut m = Map::new();
            for (k, v) in [
                ("severity", sev),
                ("team", team),
                ("env", env),
                ("__source__", source),
            ] {
                if let Some(v) = v {
                    m.insert(k.into(), v.into());
                }
            }
            m
        })
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Alertmanager notifications are stored under the routes the group's
    /// common labels (then group labels) select, whatever a sender puts in
    /// `__source__`.
    #[test]
    fn alertmanager_notifications_take_the_routes_their_labels_select(
        mut doc in alertmanager_payload(),
        common in routing_labels(),
        group in routing_labels(),
    ) {
        doc["commonLabels"] = Value::Object(common.clone());
        doc["groupLabels"] = Value::Object(group.clone());
        let mut labels = group;
        labels.extend(common);
        labels.insert("__source__".into(), "alertmanager".into());
        let relay = Relay::with_routes(
            Routes::from_toml(ROUTES, "routes.toml", Destination::Log, false).unwrap(),
        );
        let before = relay.last_id();
        let a = check_any(&relay, "/alertmanager", doc.to_string().into_bytes())?;
        prop_assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        prop_assert_eq!(relay.column_after("route", before), expected_routes(&labels));
    }

    /// Jenkins notifications route on job, result, stage and branch, and are
    /// always `__source__="jenkins"`.
    #[test]
    fn jenkins_notifications_take_the_routes_their_fields_select(doc in jenkins_payload()) {
        let relay = Relay::with_routes(
            Routes::from_toml(ROUTES, "routes.toml", Destination::Log, false).unwrap(),
        );
        let mut labels = Map::new();
        labels.insert("__source__".into(), "jenkins".into());
        labels.insert("result".into(), doc["result"].clone());
        let before = relay.last_id();
        let a = check_any(&relay, "/jenkins", doc.to_string().into_bytes())?;
        prop_assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        prop_assert_eq!(relay.column_after("route", before), expected_routes(&labels));
    }

    /// Route matchers as written in a routes file: parsed or refused with a
    /// message, never a panic, and a parsed `name="value"` matches exactly
    /// that value.
    #[test]
    fn matchers_parse_without_panicking(text in "\\PC{0,24}", value in "[a-z]{0,6}") {
        let _ = Matcher::parse(&text);
        let m = Matcher::parse(&format!("x=\"{value}\"")).unwrap();
        let mut l = srp_slack_relay::payload::Labels::new();
        l.insert("x".into(), value.clone());
        prop_assert!(m.matches(&l));
        l.insert("x".into(), format!("{value}!"));
        prop_assert!(!m.matches(&l));
    }
}
