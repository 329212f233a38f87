//! The login verify cache: a reconnecting client with the right password skips
//! argon2. Entries are keyed by inbox id, hold only a keyed MAC of the password,
//! and are tied to the stored hash, so a rotation invalidates them at once.
//! Failures are never cached.

use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use sha2::Sha256;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use uuid::Uuid;

const MAX_ENTRIES: usize = 100_000;

pub struct VerifyCache {
    secret: [u8; 32],
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, Entry>>,
}

struct Entry {
    mac: [u8; 32],
    /// MAC of the stored PHC string the password was verified against.
    stored: [u8; 32],
    until: Instant,
}

impl VerifyCache {
    pub fn new(ttl: Duration) -> VerifyCache {
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        VerifyCache {
            secret,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!());
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// True when `password` was verified for `inbox` against `stored_hash` recently.
    pub fn hit(&self, inbox: Uuid, stored_hash: &str, password: &str) -> bool {
        if self.ttl.is_zero() {
            return false;
        }
        let mac = self.mac(password.as_bytes());
        let stored = self.mac(stored_hash.as_bytes());
        let entries = self.entries.lock();
        match entries.get(&inbox) {
            Some(e) if e.until > Instant::now() => bool::from(e.mac.ct_eq(&mac) & e.stored.ct_eq(&stored)),
            _ => false,
        }
    }

    pub fn remember(&self, inbox: Uuid, stored_hash: &str, password: &str) {
        if self.ttl.is_zero() {
            return;
        }
        let entry = Entry {
            mac: self.mac(password.as_bytes()),
            stored: self.mac(stored_hash.as_bytes()),
            until: Instant::now() + self.ttl,
        };
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_ENTRIES {
            let now = Instant::now();
            entries.retain(|_, e| e.until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(inbox, entry);
    }

    pub fn forget(&self, inbox: Uuid) {
        self.entries.lock().remove(&inbox);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_only_with_same_password_and_same_stored_hash() {
        let cache = VerifyCache::new(Duration::from_secs(60));
        let inbox = Uuid::new_v4();
        assert!(!cache.hit(inbox, "h1", "pw"));
        cache.remember(inbox, "h1", "pw");
        assert!(cache.hit(inbox, "h1", "pw"));
        assert!(!cache.hit(inbox, "h1", "other"));
        assert!(!cache.hit(inbox, "h2", "pw"), "rotation invalidates");
        assert!(!cache.hit(Uuid::new_v4(), "h1", "pw"), "keyed by inbox");
    }
}
