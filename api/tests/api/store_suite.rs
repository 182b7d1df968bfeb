//! The one store test-suite, run against both backends through the
//! `ProjectStore` interface (below the HTTP layer).

use crate::helpers::{both_stores, Backend, TestDb};
use srp_api::store::{NewProject, ProjectChange, ProjectStore, Store, StoreError};

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

both_stores!(
    store_contract,
    reopening_keeps_data,
    concurrent_creates_fail_alone
);
