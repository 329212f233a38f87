//! Per-inbox send rate: a token bucket per sending inbox, refilled per minute.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Instant;
use uuid::Uuid;

/// Buckets kept before idle (full) ones are dropped.
const MAX_BUCKETS: usize = 100_000;

pub struct SendRate {
    per_minute: f64,
    buckets: Mutex<HashMap<Uuid, (f64, Instant)>>,
}

impl SendRate {
    /// `per_minute == 0` turns the limit off. The burst is one minute's worth.
    pub fn new(per_minute: u32) -> SendRate {
        SendRate {
            per_minute: per_minute as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one message's token for `inbox`; false when it is over its rate.
    pub fn allow(&self, inbox: Uuid) -> bool {
        self.allow_at(inbox, Instant::now())
    }

    fn allow_at(&self, inbox: Uuid, now: Instant) -> bool {
        if self.per_minute == 0.0 {
            return true;
        }
        let mut buckets = self.buckets.lock();
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&inbox) {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 60);
        }
        let (tokens, at) = buckets.entry(inbox).or_insert((self.per_minute, now));
        let refill = now.duration_since(*at).as_secs_f64() * self.per_minute / 60.0;
        *tokens = (*tokens + refill).min(self.per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_minute_of_burst_then_refill() {
        let rate = SendRate::new(3);
        let inbox = Uuid::new_v4();
        let t0 = Instant::now();
        assert!((0..3).all(|_| rate.allow_at(inbox, t0)));
        assert!(!rate.allow_at(inbox, t0));
        assert!(rate.allow_at(Uuid::new_v4(), t0), "inboxes are independent");
        assert!(
            rate.allow_at(inbox, t0 + Duration::from_secs(20)),
            "one token back after 20 s"
        );
        assert!(!rate.allow_at(inbox, t0 + Duration::from_secs(21)));
        assert!((0..1000).all(|_| SendRate::new(0).allow(inbox)));
    }
}
