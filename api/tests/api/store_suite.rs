//! The one store test-suite, run against both backends through the
//! `ProjectStore` interface (below the HTTP layer).

use crate::helpers::{both_stores, Backend, TestDb};
use chrono::{DateTime, Utc};
use srp_api::store::{
    DeployResult, LedgerStore, NewDeployment, NewIncident, NewProject, NewRelease, NewVerdict,
    Opened, ProjectChange, ProjectStore, Smoke, Store, StoreError,
};

fn new(name: &str, description: &str) -> NewProject {
    NewProject {
        name: name.into(),
        description: description.into(),
    }
}

async fn store_contract(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = Store::open(&db.url).await.unwrap();
    store.check().await.unwrap();

    // Create and read back exactly (timestamps included).
    let a = store.create(new("alpha", "first")).await.unwrap();
    assert_eq!(a.created_at, a.updated_at);
    assert_eq!(store.get(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get(a.id + 1000).await.unwrap(), None);

    // Unique names, and a refused write changes nothing.
    assert_eq!(
        store.create(new("alpha", "again")).await,
        Err(StoreError::DuplicateName("alpha".into()))
    );
    let b = store.create(new("beta", "")).await.unwrap();
    assert!(b.id > a.id);
    let rename = ProjectChange {
        name: Some("alpha".into()),
        description: Some("changed".into()),
    };
    assert_eq!(
        store.update(b.id, rename).await,
        Err(StoreError::DuplicateName("alpha".into()))
    );
    assert_eq!(store.get(b.id).await.unwrap(), Some(b.clone()));

    // Partial update keeps the other fields and created_at.
    let b2 = store
        .update(
            b.id,
            ProjectChange {
                name: None,
                description: Some("second".into()),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (b2.name.as_str(), b2.description.as_str()),
        ("beta", "second")
    );
    assert_eq!(b2.created_at, b.created_at);
    assert!(b2.updated_at >= b.updated_at);
    assert_eq!(
        store.update(9_999_999, ProjectChange::default()).await,
        Ok(None)
    );

    // List: ordered by id, limit and offset.
    for i in 0..5 {
        store.create(new(&format!("p{i}"), "")).await.unwrap();
    }
    let all = store.list(100, 0).await.unwrap();
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let page = store.list(2, 3).await.unwrap();
    assert_eq!(page, all[3..5]);
    assert!(store.list(10, u64::MAX).await.unwrap().is_empty());

    // Delete, once.
    assert!(store.delete(a.id).await.unwrap());
    assert!(!store.delete(a.id).await.unwrap());
    assert_eq!(store.get(a.id).await.unwrap(), None);
    assert_eq!(store.list(100, 0).await.unwrap().len(), 6);
}

/// Opening again (a restart) keeps the data and does not re-run migrations.
async fn reopening_keeps_data(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let first = Store::open(&db.url).await.unwrap();
    let p = first.create(new("durable", "kept")).await.unwrap();
    drop(first);
    let second = Store::open(&db.url).await.unwrap();
    assert_eq!(second.get(p.id).await.unwrap(), Some(p));
}

/// Concurrent creates share transactions on SQLite (group commit): a
/// duplicate fails alone, every other insert is stored once, with its own id.
async fn concurrent_creates_fail_alone(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = std::sync::Arc::new(Store::open(&db.url).await.unwrap());
    let mut tasks = Vec::new();
    for i in 0..96 {
        let store = store.clone();
        // Every eighth name is asked for twice.
        let name = if i % 8 == 7 {
            format!("p{}", i - 1)
        } else {
            format!("p{i}")
        };
        tasks.push(tokio::spawn(async move {
            (name.clone(), store.create(new(&name, "x")).await)
        }));
    }
    let mut created = std::collections::BTreeMap::new();
    let mut duplicates = 0;
    for t in tasks {
        match t.await.unwrap() {
            (name, Ok(p)) => {
                assert_eq!(p.name, name);
                assert!(created.insert(name, p.id).is_none(), "a name stored twice");
            }
            (name, Err(StoreError::DuplicateName(n))) => {
                assert_eq!(n, name);
                duplicates += 1;
            }
            (_, Err(e)) => panic!("{e}"),
        }
    }
    assert_eq!((created.len(), duplicates), (84, 12));
    let ids: std::collections::BTreeSet<i64> = created.values().copied().collect();
    assert_eq!(ids.len(), 84, "ids are unique");
    let listed = store.list(100, 0).await.unwrap();
    assert_eq!(listed.len(), 84, "what was answered 201 is what is stored");
}

fn at(text: &str) -> DateTime<Utc> {
    srp_api::store::model::parse_timestamp(text).unwrap()
}

fn new_release(build: i64) -> NewRelease {
    NewRelease {
        build,
        commit_sha: "abcdef1".into(),
        commit_time: at("2026-12-01T10:00:00.000000Z"),
        image: format!("srp-api:{build}"),
        digest: Some("sha256:00".into()),
        sbom_components: Some(7),
    }
}

fn new_deployment(build: i64, finished: &str, smoke: Smoke) -> NewDeployment {
    NewDeployment {
        environment: "production".into(),
        build,
        started_at: at(finished) - chrono::Duration::minutes(1),
        finished_at: at(finished),
        result: DeployResult::Succeeded,
        smoke,
        rollback: false,
        triggered_by: "jenkins".into(),
    }
}

/// The ledger's contract, the same on both backends.
async fn ledger_contract(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = Store::open(&db.url).await.unwrap();
    let p = store.create(new("srp-api", "")).await.unwrap();
    assert_eq!(store.by_name("srp-api").await.unwrap(), Some(p.clone()));
    assert_eq!(store.by_name("other").await.unwrap(), None);

    let r1 = store.create_release(p.id, new_release(1)).await.unwrap();
    assert_eq!(store.get_release(p.id, 1).await.unwrap(), Some(r1.clone()));
    assert_eq!(
        store.create_release(p.id, new_release(1)).await,
        Err(StoreError::DuplicateRelease(1))
    );
    assert_eq!(
        store.create_release(p.id + 1000, new_release(1)).await,
        Err(StoreError::ProjectGone(p.id + 1000))
    );
    let verdict = |passed| NewVerdict {
        stage: "security-container".into(),
        passed,
        waivers: vec!["CVE-1".into()],
        summary: String::new(),
    };
    store
        .record_verdict(p.id, 1, verdict(false))
        .await
        .unwrap()
        .unwrap();
    store
        .record_verdict(p.id, 1, verdict(true))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.record_verdict(p.id, 9, verdict(true)).await, Ok(None));
    let got = store.get_release(p.id, 1).await.unwrap().unwrap();
    assert_eq!(got.verdicts.len(), 1, "a stage recorded again is replaced");
    assert!(got.verdicts[0].passed);

    store.create_release(p.id, new_release(2)).await.unwrap();
    let d1 = store
        .create_deployment(
            p.id,
            new_deployment(1, "2026-12-01T10:30:00.000000Z", Smoke::Passed),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .create_deployment(
                p.id,
                new_deployment(1, "2026-12-01T10:30:00.000000Z", Smoke::Passed)
            )
            .await,
        Err(StoreError::DuplicateDeployment)
    );
    assert_eq!(
        store
            .create_deployment(
                p.id,
                new_deployment(5, "2026-12-01T10:40:00.000000Z", Smoke::Passed)
            )
            .await,
        Err(StoreError::UnknownRelease(5))
    );
    store
        .create_deployment(
            p.id,
            new_deployment(2, "2026-12-01T11:30:00.000000Z", Smoke::Failed),
        )
        .await
        .unwrap();
    let current = store
        .current(p.id, "production".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        current.deployment, d1,
        "a failed smoke test does not make it current"
    );
    assert_eq!(current.release.build, 1);
    assert_eq!(store.current(p.id, "staging".into()).await.unwrap(), None);
    assert_eq!(store.environments(p.id).await.unwrap().len(), 1);
    let listed = store.list_deployments(p.id, None, 10, 0).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| d.build).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert!(store
        .list_deployments(p.id, Some("staging".into()), 10, 0)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.list_releases(p.id, 1, 1).await.unwrap()[0].build, 1);

    let incident = NewIncident {
        environment: "production".into(),
        key: "fp1".into(),
        title: "APIDown".into(),
        opened_at: at("2026-12-01T12:00:00.000000Z"),
    };
    let Opened::New(first) = store.open_incident(p.id, incident.clone()).await.unwrap() else {
        panic!("a new incident")
    };
    assert_eq!(
        store.open_incident(p.id, incident.clone()).await.unwrap(),
        Opened::AlreadyOpen(first.clone())
    );
    // A close stamped before the opening (clock skew) is clamped to it.
    let closed = store
        .close_incident(p.id, "fp1".into(), at("2026-12-01T11:00:00.000000Z"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.closed_at, Some(first.opened_at));
    assert_eq!(
        store
            .close_incident(p.id, "fp1".into(), at("2026-12-01T13:00:00.000000Z"))
            .await
            .unwrap(),
        Some(closed)
    );
    assert_eq!(
        store
            .close_incident(p.id, "nope".into(), at("2026-12-01T13:00:00.000000Z"))
            .await,
        Ok(None)
    );
    assert_eq!(store.list_incidents(p.id, 10, 0).await.unwrap().len(), 1);

    let facts = store.facts().await.unwrap();
    assert_eq!(facts.deployments.len(), 2);
    assert!(facts.deployments.iter().all(|d| d.project == "srp-api"));
    assert_eq!(facts.incidents.len(), 1);

    // Deleting the project deletes its ledger.
    assert!(store.delete(p.id).await.unwrap());
    assert_eq!(store.facts().await.unwrap(), Default::default());
}

/// A database made by the previous release (schema version 1, projects
/// only) is upgraded in place: its projects kept, the ledger added.
async fn a_version_1_database_is_upgraded(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let v1 = "CREATE TABLE projects (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    ); INSERT INTO projects (name, description, created_at, updated_at)
       VALUES ('old', '', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
    PRAGMA user_version = 1;";
    match backend {
        Backend::Sqlite => {
            rusqlite::Connection::open(db.sqlite_path())
                .unwrap()
                .execute_batch(v1)
                .unwrap();
        }
        Backend::Postgres => {
            let admin = crate::helpers::postgres_admin().await.unwrap();
            let schema = db.schema.as_ref().unwrap();
            admin
                .batch_execute(&format!(
                    "SET search_path = {schema};
                     CREATE TABLE srp_schema_migrations (version INTEGER PRIMARY KEY,
                         applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
                     INSERT INTO srp_schema_migrations (version) VALUES (1);
                     CREATE TABLE projects (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE,
                         description TEXT NOT NULL DEFAULT '', created_at TIMESTAMPTZ NOT NULL,
                         updated_at TIMESTAMPTZ NOT NULL);
                     INSERT INTO projects (name, created_at, updated_at)
                         VALUES ('old', now(), now());"
                ))
                .await
                .unwrap();
        }
    }
    let store = Store::open(&db.url).await.unwrap();
    let old = store.by_name("old").await.unwrap().expect("kept");
    store.create_release(old.id, new_release(1)).await.unwrap();
}

both_stores!(
    ledger_contract,
    a_version_1_database_is_upgraded,
    store_contract,
    reopening_keeps_data,
    concurrent_creates_fail_alone
);
