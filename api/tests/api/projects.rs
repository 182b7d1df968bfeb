use crate::helpers::{both_stores, spawn_app, Backend};
use serde_json::json;

async fn create_returns_201_location_and_the_project(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let r = app
        .send_json(
            "POST",
            "/projects",
            &json!({"name": "payments-api", "description": "cards"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(r.headers["location"], format!("/projects/{id}").as_str());
    assert_eq!(created["name"], "payments-api");
    assert_eq!(created["description"], "cards");
    assert_eq!(created["created_at"], created["updated_at"]);
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let fetched = app.get(&format!("/projects/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(
        fetched.json(),
        created,
        "a project reads back exactly as created"
    );

    // description is optional and defaults to empty.
    let bare = app.create("bare").await;
    assert_eq!(bare["description"], "");
}

async fn list_pages_in_id_order_with_a_bounded_size(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut ids = Vec::new();
    for i in 0..25 {
        // Names out of alphabetical order: the order must follow ids.
        ids.push(
            app.create(&format!("p{}", 99 - i)).await["id"]
                .as_i64()
                .unwrap(),
        );
    }

    let first = app.get("/projects").await.json();
    assert_eq!(first["limit"], 20, "default page size");
    assert_eq!(first["offset"], 0);
    assert_eq!(first["next_offset"], 20);
    let got: Vec<i64> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids[..20]);

    let second = app.get("/projects?offset=20&limit=20").await.json();
    let got: Vec<i64> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids[20..]);
    assert!(second["next_offset"].is_null(), "last page: {second}");

    let small = app.get("/projects?limit=3&offset=1").await.json();
    let got: Vec<i64> = small["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids[1..4]);
    assert_eq!(small["next_offset"], 4);

    let max = app.get("/projects?limit=100").await;
    assert_eq!(max.status, 200);
    assert_eq!(max.json()["items"].as_array().unwrap().len(), 25);

    let beyond = app.get("/projects?offset=1000").await.json();
    assert_eq!(beyond["items"], json!([]));
    assert!(beyond["next_offset"].is_null());

    // Unknown query parameters are ignored, not errors.
    assert_eq!(app.get("/projects?sort=name").await.status, 200);
}

async fn put_replaces_and_patch_changes_only_given_fields(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let r = app
        .send_json(
            "POST",
            "/projects",
            &json!({"name": "old", "description": "first"}),
        )
        .await;
    let created = r.json();
    let path = format!("/projects/{}", created["id"]);

    let patched = app
        .send_json("PATCH", &path, &json!({"description": "second"}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let patched = patched.json();
    assert_eq!(patched["name"], "old");
    assert_eq!(patched["description"], "second");
    assert_eq!(patched["created_at"], created["created_at"]);
    assert!(patched["updated_at"].as_str() >= created["updated_at"].as_str());

    let renamed = app
        .send_json("PATCH", &path, &json!({"name": "new"}))
        .await
        .json();
    assert_eq!(renamed["name"], "new");
    assert_eq!(renamed["description"], "second");

    let replaced = app.send_json("PUT", &path, &json!({"name": "newer"})).await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    let replaced = replaced.json();
    assert_eq!(replaced["name"], "newer");
    assert_eq!(
        replaced["description"], "",
        "PUT without description empties it"
    );
    assert_eq!(replaced["id"], created["id"]);

    assert_eq!(app.get(&path).await.json(), replaced);
}

async fn delete_removes_and_answers_204_then_404(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let keep = app.create("keep").await;
    let gone = app.create("gone").await;
    let path = format!("/projects/{}", gone["id"]);
    let r = app.delete(&path).await;
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    assert_eq!(app.get(&path).await.status, 404);
    assert_eq!(app.delete(&path).await.status, 404);
    let list = app.get("/projects").await.json();
    assert_eq!(list["items"], json!([keep]));
    // The name is free again, and ids are not reused.
    let again = app.create("gone").await;
    assert!(again["id"].as_i64() > gone["id"].as_i64());
}

both_stores!(
    create_returns_201_location_and_the_project,
    list_pages_in_id_order_with_a_bounded_size,
    put_replaces_and_patch_changes_only_given_fields,
    delete_removes_and_answers_204_then_404,
);
