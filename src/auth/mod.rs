//! Authentication: API keys and their scopes, inbox passwords, the login verify
//! cache, failed-login throttling and the per-key rate limit. Front ends call
//! [`Auth`]; nothing here logs a secret.

pub mod cache;
pub mod keys;
pub mod password;
pub mod ratelimit;
pub mod throttle;

use crate::store::{ApiKey, Inbox, Store, StoreError};
use cache::VerifyCache;
use password::PasswordHasherConfig;
use ratelimit::{RateDecision, RateLimiter};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;
use subtle::ConstantTimeEq;
use throttle::{LoginThrottle, Verdict};
use uuid::Uuid;

/// Who a request is.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The operator's admin token: acts as an `sa_` key.
    Admin,
    Key(ApiKey),
}

impl Principal {
    /// The id rate limits are counted under.
    pub fn rate_key(&self) -> Uuid {
        match self {
            Principal::Admin => Uuid::nil(),
            Principal::Key(k) => k.id,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password: one answer for both.
    #[error("authentication failed")]
    Failed,
    #[error("too many failed logins; try again later")]
    Throttled,
    #[error("authentication is unavailable")]
    Unavailable,
}

/// How long argon2's working memory is kept after the last hash.
const ARGON2_MEMORY_KEPT: Duration = Duration::from_secs(1);

pub struct Auth {
    store: Store,
    hasher: PasswordHasherConfig,
    cache: VerifyCache,
    throttle: LoginThrottle,
    rate: RateLimiter,
    admin_token_hash: [u8; 32],
    default_domain: String,
    /// Verified against for unknown users, so they cost the same time as known
    /// ones; made on first use to keep start-up fast.
    decoy_hash: std::sync::Arc<std::sync::OnceLock<String>>,
    /// One argon2 run per core at a time: each takes `argon2_memory_kib`, so a
    /// burst of creates or logins queues here instead of allocating without bound.
    argon2_slots: tokio::sync::Semaphore,
    /// The working memory of those runs, kept for the next (at most one per slot)
    /// while hashes keep coming, and released once they stop.
    argon2_memory: std::sync::Arc<parking_lot::Mutex<Vec<password::Memory>>>,
    /// Counts finished hashes, so a release knows whether another came since.
    argon2_runs: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Auth {
    pub fn new(store: Store, config: &crate::config::Config, admin_token: &str) -> Result<Auth, String> {
        let a = &config.auth;
        let hasher = PasswordHasherConfig::new(a.argon2_memory_kib, a.argon2_iterations, a.argon2_lanes)?;
        Ok(Auth {
            store,
            hasher,
            cache: VerifyCache::new(Duration::from_secs(a.verify_cache_secs)),
            throttle: LoginThrottle::new(throttle::Limits::from(a)),
            rate: RateLimiter::new(config.api.rate_limit_per_second, config.api.rate_limit_burst),
            admin_token_hash: keys::hash_key(admin_token),
            default_domain: config.default_domain().to_string(),
            decoy_hash: Default::default(),
            argon2_runs: Default::default(),
            argon2_slots: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
            argon2_memory: Default::default(),
        })
    }

    /// Resolves a presented API key or admin token. `Ok(None)` for anything
    /// malformed, unknown or revoked.
    pub fn authenticate_key(&self, presented: &str) -> Result<Option<Principal>, StoreError> {
        let hash = keys::hash_key(presented);
        if bool::from(hash.ct_eq(&self.admin_token_hash)) {
            return Ok(Some(Principal::Admin));
        }
        if keys::claimed_kind(presented).is_none() {
            return Ok(None);
        }
        // The lookup is by SHA-256, so timing tells nothing about the key itself.
        Ok(self.store.api_key_by_hash(&hash)?.map(Principal::Key))
    }

    pub fn check_rate(&self, principal: &Principal) -> RateDecision {
        self.rate.check(principal.rate_key())
    }

    /// Runs `work` with argon2 off the async threads, in a slot and reused memory.
    async fn argon2<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PasswordHasherConfig, &mut password::Memory) -> T + Send + 'static,
    ) -> Result<T, String> {
        let _slot = self.argon2_slots.acquire().await.map_err(|e| e.to_string())?;
        let mut memory = self.argon2_memory.lock().pop().unwrap_or_default();
        let hasher = self.hasher.clone();
        let (result, memory) = tokio::task::spawn_blocking(move || (work(&hasher, &mut memory), memory))
            .await
            .map_err(|e| e.to_string())?;
        self.argon2_memory.lock().push(memory);
        self.release_argon2_memory_later();
        Ok(result)
    }

    /// Frees the kept argon2 memory (tens of MiB) once no hash has run for a while:
    /// bursts of logins and creates reuse it, an idle server gives it back.
    fn release_argon2_memory_later(&self) {
        use std::sync::atomic::Ordering;
        let (memory, runs) = (self.argon2_memory.clone(), self.argon2_runs.clone());
        let this_run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::spawn(async move {
            tokio::time::sleep(ARGON2_MEMORY_KEPT).await;
            if runs.load(Ordering::SeqCst) == this_run {
                memory.lock().clear();
                crate::alloc::return_free_memory();
            }
        });
    }

    /// Hashes a password off the async threads.
    pub async fn hash_password(&self, password: String) -> Result<String, String> {
        self.argon2(move |hasher, memory| hasher.hash(&password, memory))
            .await?
    }

    /// Drops cached logins of an inbox (password rotated, inbox deleted).
    pub fn forget_logins(&self, inbox: Uuid) {
        self.cache.forget(inbox);
    }

    /// (addresses, accounts) that started being throttled since start-up.
    pub fn throttle_counts(&self) -> (u64, u64) {
        self.throttle.started_counts()
    }

    /// IMAP and SMTP login: `user` is an inbox address, or a bare username on the
    /// default domain. Throttled as `throttle` says: the account's own failures
    /// delay or refuse it, an address's failures only its failed answers. Unknown
    /// users and wrong passwords get the same answer after the same work.
    pub async fn login(&self, user: &str, password: &str, ip: IpAddr) -> Result<Inbox, LoginError> {
        let address = self.qualify(user);
        let delay = match self.throttle.check(&address) {
            Verdict::Refuse => return Err(LoginError::Throttled),
            Verdict::Proceed(delay) => delay,
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let inbox = self
            .store
            .inbox_by_address(&address)
            .map_err(|_| LoginError::Unavailable)?;
        if let Some(inbox) = &inbox
            && self.cache.hit(inbox.id, &inbox.password_hash, password)
        {
            self.throttle.record_success(&address);
            return Ok(inbox.clone());
        }
        let stored = inbox.as_ref().map(|i| i.password_hash.clone());
        let candidate = password.to_string();
        let decoy = self.decoy_hash.clone();
        let verified = self
            .argon2(move |hasher, memory| {
                let stored = stored.unwrap_or_else(|| {
                    decoy
                        .get_or_init(|| hasher.hash(&password::generate_password(), memory).unwrap_or_default())
                        .clone()
                });
                hasher.verify(&stored, &candidate, memory)
            })
            .await
            .map_err(|_| LoginError::Unavailable)?;
        match inbox {
            Some(inbox) if verified => {
                self.cache.remember(inbox.id, &inbox.password_hash, password);
                self.throttle.record_success(&address);
                Ok(inbox)
            }
            _ => {
                let penalty = self.throttle.record_failure(ip, &address);
                if !penalty.delay.is_zero() {
                    tokio::time::sleep(penalty.delay).await;
                }
                Err(if penalty.refused {
                    LoginError::Throttled
                } else {
                    LoginError::Failed
                })
            }
        }
    }

    fn qualify(&self, user: &str) -> String {
        if user.contains('@') {
            user.to_ascii_lowercase()
        } else {
            format!("{}@{}", user.to_ascii_lowercase(), self.default_domain)
        }
    }
}

/// The admin token: from the config or environment, else read from (or first
/// generated into) `data_dir/admin_token`, mode 0600. Logs where, never what.
pub fn admin_token(configured: Option<&str>, data_dir: &Path) -> std::io::Result<String> {
    if let Some(token) = configured {
        return Ok(token.to_string());
    }
    let path = data_dir.join("admin_token");
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => Ok(token.trim().to_string()),
        _ => {
            std::fs::create_dir_all(data_dir)?;
            let token = format!("sa_{}", keys::random_base62(43));
            crate::tls::write_private(&path, token.as_bytes())?;
            tracing::info!(path = %path.display(), "generated the admin token; read it from this file");
            Ok(token)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;

    #[tokio::test(start_paused = true)]
    async fn argon2_memory_is_kept_for_a_burst_then_released() {
        let t = temp_store();
        let mut config = crate::config::Config::default();
        config.auth.argon2_memory_kib = 64;
        config.auth.argon2_iterations = 1;
        let auth = Auth::new(t.store.clone(), &config, "sa_token_for_tests_0123456789").unwrap();
        auth.hash_password("first-password-1".into()).await.unwrap();
        auth.hash_password("second-password-2".into()).await.unwrap();
        assert_eq!(auth.argon2_memory.lock().len(), 1, "one buffer serves the burst");
        tokio::time::sleep(ARGON2_MEMORY_KEPT + Duration::from_millis(10)).await;
        assert!(auth.argon2_memory.lock().is_empty(), "released when idle");
    }
}
