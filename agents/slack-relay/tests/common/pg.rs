//! One PostgreSQL schema per test on the real server at 127.0.0.1:5432
//! (trust auth, database `test`), dropped when the guard goes. With `CI`
//! set an unreachable server fails the test; elsewhere the test is skipped
//! with a message.

use std::time::Duration;

pub const BASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct PgSchema {
    pub name: String,
    /// The URL every relay of the test gets: `search_path` is the schema.
    pub url: String,
}

async fn connect() -> Result<tokio_postgres::Client, String> {
    let (client, conn) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_postgres::connect(BASE_URL, tokio_postgres::NoTls),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

impl PgSchema {
    /// A fresh schema, or `None` (skip) when PostgreSQL is unreachable and
    /// `CI` is not set.
    pub async fn create(test: &str) -> Option<PgSchema> {
        let client = match connect().await {
            Ok(c) => c,
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("PostgreSQL at {BASE_URL} is unreachable (CI is set): {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED {test}: PostgreSQL at {BASE_URL} is unreachable: {e}");
                return None;
            }
        };
        let name = format!("relay_{test}_{:08x}", fastrand::u32(..));
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        let url = format!("{BASE_URL}?options=-c%20search_path%3D{name}");
        Some(PgSchema { name, url })
    }

    /// Run one query in the schema and return its rows.
    pub async fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        let client = connect().await.unwrap();
        client
            .batch_execute(&format!("SET search_path TO {}", self.name))
            .await
            .unwrap();
        client.query(sql, &[]).await.unwrap()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Its own runtime on its own thread: Drop may run inside one.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(c) = connect().await {
                    let _ = c
                        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}
