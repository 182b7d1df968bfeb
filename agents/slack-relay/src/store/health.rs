//! Why the last database operations failed, for `/health`.

use super::StoreError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The ingest side (commits of new notifications) and the delivery side are
/// tracked apart, so a successful read by one does not hide a failing write
/// by the other.
///
/// It also carries how many delivery-side writes wait for the database: the
/// ingest writer commits back to back during a storm, and SQLite's lock is
/// not fair, so it steps aside briefly when a delivery update waits.
#[derive(Debug, Default)]
pub struct DbHealth {
    ingest: Mutex<Option<String>>,
    outbox: Mutex<Option<String>>,
    delivery_waiting: AtomicUsize,
}

impl DbHealth {
    pub(super) fn delivery_waiting(&self) -> bool {
        self.delivery_waiting.load(Ordering::Relaxed) > 0
    }

    /// Run `f` as a delivery-side write the writer should make room for.
    pub(super) fn delivery_write<T>(&self, f: impl FnOnce() -> T) -> T {
        self.delivery_waiting.fetch_add(1, Ordering::Relaxed);
        let r = f();
        self.delivery_waiting.fetch_sub(1, Ordering::Relaxed);
        r
    }

    fn set<T>(slot: &Mutex<Option<String>>, r: &Result<T, StoreError>) {
        *slot.lock().expect("health lock") = r.as_ref().err().map(|e| e.to_string());
    }
    pub fn record_ingest<T>(&self, r: &Result<T, StoreError>) {
        Self::set(&self.ingest, r)
    }
    pub fn record_outbox<T>(&self, r: &Result<T, StoreError>) {
        Self::set(&self.outbox, r)
    }
    pub fn error(&self) -> Option<String> {
        let i = self.ingest.lock().expect("health lock").clone();
        let o = self.outbox.lock().expect("health lock").clone();
        match (i, o) {
            (Some(i), Some(o)) => Some(format!("storing: {i}; delivering: {o}")),
            (Some(i), None) => Some(format!("storing: {i}")),
            (None, Some(o)) => Some(format!("delivering: {o}")),
            (None, None) => None,
        }
    }
}
