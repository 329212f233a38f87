//! Per-key request rate limit: a token bucket per API key id.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Instant;
use uuid::Uuid;

const MAX_BUCKETS: usize = 100_000;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The outcome, with what the X-RateLimit-* headers report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again (or, when refused, until one token is back).
    pub reset_secs: u64,
}

impl RateLimiter {
    /// `per_second == 0` turns the limit off.
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second: per_second as f64,
            burst: burst.max(per_second).max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, key: Uuid) -> RateDecision {
        let limit = self.burst as u32;
        if self.per_second == 0.0 {
            return RateDecision {
                allowed: true,
                limit,
                remaining: limit,
                reset_secs: 0,
            };
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            let horizon = self.burst / self.per_second;
            buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < horizon);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        let missing = if allowed {
            self.burst - bucket.tokens
        } else {
            1.0 - bucket.tokens
        };
        RateDecision {
            allowed,
            limit,
            remaining: bucket.tokens.floor() as u32,
            reset_secs: (missing / self.per_second).ceil() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse() {
        let limiter = RateLimiter::new(1, 3);
        let key = Uuid::new_v4();
        for left in [2, 1, 0] {
            let d = limiter.check(key);
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
        }
        let refused = limiter.check(key);
        assert!(!refused.allowed);
        assert!(refused.reset_secs >= 1);
        assert!(limiter.check(Uuid::new_v4()).allowed, "keys are independent");
    }

    #[test]
    fn zero_disables() {
        let limiter = RateLimiter::new(0, 0);
        let key = Uuid::new_v4();
        assert!((0..10_000).all(|_| limiter.check(key).allowed));
    }
}
