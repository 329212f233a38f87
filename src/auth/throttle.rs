//! Failed-login penalties, in the spirit of Dovecot's auth penalty: the waits and
//! refusals answer failures, so one misconfigured agent behind a shared address
//! (one host, one NAT) does not slow its neighbours.
//!
//! - Per account: after `account_free_failures` failures its logins wait (growing),
//!   after `account_refuse_after` they are refused until the window passes. Only
//!   the account's own failures count, from any address.
//! - Per client address (spraying many accounts): after `address_free_failures`
//!   failures the address's *failed* answers wait, after `address_refuse_after`
//!   they say "try again later". A correct password from that address is answered
//!   at once. `trusted_networks` skip this part.
//!
//! Memory is bounded; the counts live only in this process.

use crate::config::AuthConfig;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead after waiting this long (zero for a clean record).
    Proceed(Duration),
    /// Too many failures for this account: refuse without checking the password.
    Refuse,
}

/// How a failed login is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Penalty {
    /// Wait before answering.
    pub delay: Duration,
    /// Answer "too many failures, try again later" instead of "failed".
    pub refused: bool,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub window: Duration,
    pub account_free: u32,
    pub account_refuse: u32,
    pub address_free: u32,
    pub address_refuse: u32,
    pub max_delay: Duration,
    pub trusted: Vec<ipnet::IpNet>,
}

impl From<&AuthConfig> for Limits {
    fn from(a: &AuthConfig) -> Limits {
        Limits {
            window: Duration::from_secs(a.throttle_window_secs),
            account_free: a.account_free_failures,
            account_refuse: a.account_refuse_after,
            address_free: a.address_free_failures,
            address_refuse: a.address_refuse_after,
            max_delay: Duration::from_millis(a.throttle_max_delay_ms),
            trusted: a.trusted_networks.clone(),
        }
    }
}

pub struct LoginThrottle {
    limits: Limits,
    by_ip: Mutex<HashMap<IpAddr, Record>>,
    by_account: Mutex<HashMap<String, Record>>,
    /// Times an address, and an account, started being throttled (for /metrics).
    started_address: AtomicU64,
    started_account: AtomicU64,
}

#[derive(Clone, Copy)]
struct Record {
    failures: u32,
    first: Instant,
}

impl LoginThrottle {
    pub fn new(limits: Limits) -> LoginThrottle {
        LoginThrottle {
            limits,
            by_ip: Default::default(),
            by_account: Default::default(),
            started_address: AtomicU64::new(0),
            started_account: AtomicU64::new(0),
        }
    }

    /// Before the password is checked: only the account's own failures count.
    pub fn check(&self, account: &str) -> Verdict {
        let l = &self.limits;
        let failures = failures(
            &self.by_account,
            &account.to_ascii_lowercase(),
            Instant::now(),
            l.window,
        );
        if failures >= l.account_refuse {
            return Verdict::Refuse;
        }
        Verdict::Proceed(delay(failures, l.account_free, l.max_delay))
    }

    /// Records a failed login and says how to answer it.
    pub fn record_failure(&self, ip: IpAddr, account: &str) -> Penalty {
        let (l, now) = (&self.limits, Instant::now());
        let account_failures = bump(&self.by_account, account.to_ascii_lowercase(), now, l.window);
        self.crossed(
            "account",
            ip,
            account,
            account_failures,
            l.account_free,
            l.account_refuse,
        );
        let mut penalty = Penalty {
            delay: Duration::ZERO,
            refused: account_failures >= l.account_refuse,
        };
        if !self.is_trusted(ip) {
            let ip_failures = bump(&self.by_ip, ip, now, l.window);
            self.crossed("address", ip, account, ip_failures, l.address_free, l.address_refuse);
            penalty.delay = delay(ip_failures, l.address_free, l.max_delay);
            penalty.refused |= ip_failures >= l.address_refuse;
        }
        penalty
    }

    /// A good login clears the account's record (not the address's: one address
    /// may guess many accounts and own one).
    pub fn record_success(&self, account: &str) {
        self.by_account.lock().remove(&account.to_ascii_lowercase());
    }

    /// (addresses, accounts) that started being throttled since start-up.
    pub fn started_counts(&self) -> (u64, u64) {
        (
            self.started_address.load(Ordering::Relaxed),
            self.started_account.load(Ordering::Relaxed),
        )
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.limits.trusted.iter().any(|net| net.contains(&ip))
    }

    /// Logs the failure that starts the waits, and the one that starts refusals
    /// (address and account, never the password).
    fn crossed(&self, scope: &'static str, ip: IpAddr, account: &str, failures: u32, free: u32, refuse: u32) {
        if failures == free + 1 {
            let started = if scope == "address" {
                &self.started_address
            } else {
                &self.started_account
            };
            started.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(scope, address = %ip, account, failures, "failed logins: throttling starts");
        }
        if failures == refuse {
            tracing::warn!(scope, address = %ip, account, failures, "failed logins: refusing until the window passes");
        }
    }
}

/// 250 ms for the first failure over `free`, doubling, at most `max`.
fn delay(failures: u32, free: u32, max: Duration) -> Duration {
    if failures <= free {
        return Duration::ZERO;
    }
    let doublings = (failures - free - 1).min(16);
    (FIRST_DELAY * (1 << doublings)).min(max)
}

fn failures<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Record>>, key: &K, now: Instant, window: Duration) -> u32 {
    match map.lock().get(key) {
        Some(r) if now.duration_since(r.first) < window => r.failures,
        _ => 0,
    }
}

/// Counts one failure; returns the count within the window.
fn bump<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Record>>, key: K, now: Instant, window: Duration) -> u32 {
    let mut map = map.lock();
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, r| now.duration_since(r.first) < window);
        if map.len() >= MAX_ENTRIES {
            // Still full of live records: forget the lot rather than grow.
            map.clear();
        }
    }
    let fresh = Record {
        failures: 0,
        first: now,
    };
    let record = map.entry(key).or_insert(fresh);
    if now.duration_since(record.first) >= window {
        *record = fresh;
    }
    record.failures += 1;
    record.failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::from(&AuthConfig::default())
    }

    #[test]
    fn account_failures_delay_then_refuse_that_account_only() {
        let t = LoginThrottle::new(limits());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(t.check("a@x"), Verdict::Proceed(Duration::ZERO));
        for _ in 0..4 {
            t.record_failure(ip, "a@x");
        }
        assert_eq!(t.check("a@x"), Verdict::Proceed(Duration::from_millis(250)));
        for _ in 0..11 {
            t.record_failure(ip, "A@X");
        }
        assert_eq!(t.check("a@x"), Verdict::Refuse);
        assert_eq!(
            t.check("b@x"),
            Verdict::Proceed(Duration::ZERO),
            "other accounts unaffected"
        );
        t.record_success("a@x");
        assert_eq!(t.check("a@x"), Verdict::Proceed(Duration::ZERO));
        assert_eq!(t.started_counts(), (1, 1));
    }

    #[test]
    fn spraying_penalises_failures_not_other_accounts() {
        let t = LoginThrottle::new(limits());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let mut last = None;
        for i in 0..50 {
            last = Some(t.record_failure(ip, &format!("user{i}@x")));
        }
        let last = last.unwrap();
        assert!(last.refused && last.delay == Duration::from_secs(4), "{last:?}");
        // A correct password of an account with no failures is checked at once.
        assert_eq!(t.check("owner@x"), Verdict::Proceed(Duration::ZERO));
    }

    #[test]
    fn trusted_networks_get_only_the_account_limit() {
        let mut l = limits();
        l.trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let t = LoginThrottle::new(l);
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        for i in 0..50 {
            let p = t.record_failure(ip, &format!("user{i}@x"));
            assert_eq!(
                p,
                Penalty {
                    delay: Duration::ZERO,
                    refused: false
                }
            );
        }
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert!(t.is_trusted(mapped));
        assert_eq!(t.started_counts(), (0, 0));
    }
}
