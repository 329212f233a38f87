//! Failed-login throttling per client address and per account: a growing delay
//! after a few failures, then a temporary refusal. Memory is bounded.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures before delays start.
const FREE_FAILURES: u32 = 3;
const MAX_DELAY: Duration = Duration::from_secs(4);
const REFUSE_AFTER_IP: u32 = 30;
const REFUSE_AFTER_ACCOUNT: u32 = 15;
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead after waiting this long (zero for a clean record).
    Proceed(Duration),
    /// Too many failures: refuse without checking the password.
    Refuse,
}

#[derive(Default)]
pub struct LoginThrottle {
    by_ip: Mutex<HashMap<IpAddr, Record>>,
    by_account: Mutex<HashMap<String, Record>>,
}

#[derive(Clone, Copy)]
struct Record {
    failures: u32,
    first: Instant,
}

impl LoginThrottle {
    pub fn check(&self, ip: IpAddr, account: &str) -> Verdict {
        let now = Instant::now();
        let ip_failures = failures(&self.by_ip, &ip, now);
        let account_failures = failures(&self.by_account, &account.to_ascii_lowercase(), now);
        if ip_failures >= REFUSE_AFTER_IP || account_failures >= REFUSE_AFTER_ACCOUNT {
            return Verdict::Refuse;
        }
        let worst = ip_failures.max(account_failures);
        if worst <= FREE_FAILURES {
            return Verdict::Proceed(Duration::ZERO);
        }
        let doublings = (worst - FREE_FAILURES - 1).min(8);
        Verdict::Proceed((Duration::from_millis(250) * (1 << doublings)).min(MAX_DELAY))
    }

    pub fn record_failure(&self, ip: IpAddr, account: &str) {
        let now = Instant::now();
        bump(&self.by_ip, ip, now);
        bump(&self.by_account, account.to_ascii_lowercase(), now);
    }

    /// A good login clears the account's record (not the address's: one address
    /// may guess many accounts and own one).
    pub fn record_success(&self, account: &str) {
        self.by_account.lock().remove(&account.to_ascii_lowercase());
    }
}

fn failures<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Record>>, key: &K, now: Instant) -> u32 {
    match map.lock().get(key) {
        Some(r) if now.duration_since(r.first) < WINDOW => r.failures,
        _ => 0,
    }
}

fn bump<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Record>>, key: K, now: Instant) {
    let mut map = map.lock();
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, r| now.duration_since(r.first) < WINDOW);
        if map.len() >= MAX_ENTRIES {
            // Still full of live records: forget the lot rather than grow.
            map.clear();
        }
    }
    let record = map.entry(key).or_insert(Record {
        failures: 0,
        first: now,
    });
    if now.duration_since(record.first) >= WINDOW {
        *record = Record {
            failures: 0,
            first: now,
        };
    }
    record.failures += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_refuse() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(t.check(ip, "a@x"), Verdict::Proceed(Duration::ZERO));
        for _ in 0..FREE_FAILURES + 1 {
            t.record_failure(ip, "a@x");
        }
        assert_eq!(t.check(ip, "a@x"), Verdict::Proceed(Duration::from_millis(250)));
        for _ in 0..REFUSE_AFTER_ACCOUNT {
            t.record_failure(ip, "A@X");
        }
        assert_eq!(t.check(ip, "a@x"), Verdict::Refuse);
        // Another address trying another account is unaffected.
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(t.check(other, "b@x"), Verdict::Proceed(Duration::ZERO));
    }
}
