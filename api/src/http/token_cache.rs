//! Recently verified tokens, kept in memory for a short time so that a busy
//! writer (the pipeline, the relay) does not pay a database lookup on every
//! request: the lookup doubled the CPU cost of a `POST /projects`.
//!
//! Only tokens the database confirmed are kept, so a new token works at
//! once and an unknown one is always looked up. A revocation, made by
//! `srp-api token revoke` in another process (or on another host sharing
//! PostgreSQL), takes effect within the time to live (`--token-cache-ttl`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// More distinct live tokens than any estate has; past it the cache starts
/// over rather than grow without bound under a flood of valid tokens.
const MAX_ENTRIES: usize = 4096;

pub struct TokenCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, Entry>>,
}

struct Entry {
    scopes: Arc<[String]>,
    verified: Instant,
}

impl TokenCache {
    pub fn new(ttl: Duration) -> Self {
        TokenCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The scopes of the token with this hash, if the database confirmed it
    /// less than the time to live ago.
    pub fn get(&self, hash: &str) -> Option<Arc<[String]>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|e| e.verified.elapsed() < self.ttl)
            .map(|e| e.scopes.clone())
    }

    /// Remember what the database just said about an active token.
    pub fn insert(&self, hash: String, scopes: Arc<[String]>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, e| e.verified.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            hash,
            Entry {
                scopes,
                verified: Instant::now(),
            },
        );
    }

    /// Forget a token the database no longer knows (revoked while cached).
    pub fn remove(&self, hash: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.remove(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = TokenCache::new(Duration::from_millis(50));
        assert!(cache.get("h").is_none());
        cache.insert("h".into(), Arc::from(vec!["admin".to_string()]));
        assert_eq!(cache.get("h").unwrap().as_ref(), ["admin".to_string()]);
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            cache.get("h").is_none(),
            "a stale entry must be asked again"
        );
    }

    #[test]
    fn the_cache_never_grows_past_its_bound() {
        let cache = TokenCache::new(Duration::from_secs(60));
        for i in 0..(MAX_ENTRIES + 10) {
            cache.insert(format!("h{i}"), Arc::from(Vec::new()));
        }
        let len = cache.entries.read().unwrap().len();
        assert!(len <= MAX_ENTRIES, "{len}");
        assert!(cache.get(&format!("h{}", MAX_ENTRIES + 9)).is_some());
    }
}
