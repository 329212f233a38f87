//! The delivery workers: a scheduler loop picks due queue entries (earliest first,
//! within the global and per-domain limits) and runs one attempt per entry in its
//! own task; each attempt's result is on disk before the entry is picked again.

use super::client::{self, Envelope, Outcome, SessionError, Settings, TlsMode};
use super::route::{Hop, RouteError};
use crate::delivery::local;
use crate::server::Context;
use crate::store::{DsnJob, QueueEntry, QueuedMessage, RecipientStatus, StoreError, now_millis};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Entries read per scheduler pass.
const SCAN: usize = 256;
/// Longest sleep between passes; a wake-up or a finished attempt cuts it short.
const IDLE: Duration = Duration::from_secs(60);

type EntryKey = (Uuid, u16);

/// Runs until shutdown: resumes what a previous run left queued, then delivers.
pub async fn run(ctx: Arc<Context>) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(EntryKey, String)>();
    let mut in_flight: HashSet<EntryKey> = HashSet::new();
    let mut per_domain: HashMap<String, usize> = HashMap::new();
    let mut shutdown = ctx.shutdown.clone();
    let limits = &ctx.config.delivery;
    loop {
        if ctx.is_shutting_down() {
            break;
        }
        file_bounces(&ctx).await;
        let mut blocked: HashSet<EntryKey> = HashSet::new();
        let due = ctx
            .store
            .queue_due(now_millis(), SCAN, |m, i| in_flight.contains(&(m, i)));
        match due {
            Ok(due) => {
                for entry in due {
                    let key = (entry.message, entry.index);
                    let count = per_domain.entry(entry.domain.clone()).or_default();
                    if in_flight.len() >= limits.workers || *count >= limits.per_domain_concurrency {
                        blocked.insert(key);
                        continue;
                    }
                    *count += 1;
                    in_flight.insert(key);
                    let (ctx2, tx) = (ctx.clone(), done_tx.clone());
                    ctx.tasks.spawn(async move {
                        let domain = entry.domain.clone();
                        if let Err(e) = attempt_entry(&ctx2, entry).await {
                            tracing::error!(queue_id = %key.0, domain, "queue entry: {e}");
                        }
                        let _ = tx.send((key, domain));
                    });
                }
            }
            Err(e) => tracing::error!("reading the outbound queue: {e}"),
        }
        publish_gauges(&ctx);
        let wait = next_wait(&ctx, &in_flight, &blocked);
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = ctx.outbound.wake.notified() => {}
            Some(first) = done_rx.recv() => {
                let mut finished = vec![first];
                while let Ok(more) = done_rx.try_recv() {
                    finished.push(more);
                }
                for (key, domain) in finished {
                    in_flight.remove(&key);
                    if let Some(n) = per_domain.get_mut(&domain) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            per_domain.remove(&domain);
                        }
                    }
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Until the next entry that could start is due (blocked ones wait for a finish).
fn next_wait(ctx: &Context, in_flight: &HashSet<EntryKey>, blocked: &HashSet<EntryKey>) -> Duration {
    let skip = |m, i| in_flight.contains(&(m, i)) || blocked.contains(&(m, i));
    match ctx.store.queue_due(i64::MAX - 1, 1, skip) {
        Ok(next) => match next.first() {
            Some(entry) => {
                let ms = entry.next_attempt.saturating_sub(now_millis()).max(0) as u64;
                Duration::from_millis(ms).min(IDLE)
            }
            None => IDLE,
        },
        Err(_) => IDLE,
    }
}

fn publish_gauges(ctx: &Context) {
    let (messages, entries) = ctx.store.queue_len();
    ctx.metrics
        .gauge_set("mailroom_outbound_queue_messages", &[], messages as i64);
    ctx.metrics
        .gauge_set("mailroom_outbound_queue_entries", &[], entries as i64);
}

/// Files waiting bounces into their senders' INBOX.
async fn file_bounces(ctx: &Context) {
    let _one_at_a_time = ctx.outbound.filing.lock().await;
    let jobs = match ctx.store.dsn_jobs() {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::error!("reading waiting bounces: {e}");
            return;
        }
    };
    for job in jobs {
        match local::deliver_to_inbox(&ctx.store, &ctx.events, job.inbox, &job.raw).await {
            Ok(_) => ctx.metrics.inc("mailroom_outbound_bounces_total", &[]),
            // The sender's inbox is gone: nobody to tell.
            Err(StoreError::NotFound) => {
                tracing::warn!(inbox = %job.inbox, "bounce dropped: the inbox no longer exists")
            }
            Err(e) => {
                tracing::error!(inbox = %job.inbox, "filing a bounce: {e}");
                continue;
            }
        }
        if let Err(e) = ctx.store.remove_dsn(job.id) {
            tracing::error!("forgetting a filed bounce: {e}");
        }
    }
}

/// One attempt for one entry, its outcome stored before returning.
async fn attempt_entry(ctx: &Context, mut entry: QueueEntry) -> Result<(), StoreError> {
    let (Some(message), Some(body)) = (
        ctx.store.queued_message(entry.message)?,
        ctx.store.queued_body(entry.message)?,
    ) else {
        tracing::error!(queue_id = %entry.message, "queue entry without its message; dropped");
        return ctx.store.queue_finish(&entry, None).await;
    };
    let now = now_millis();
    if now < message.expires_at {
        let pending: Vec<String> = entry.pending().map(|r| r.address.clone()).collect();
        let (outcomes, remote) = attempt(ctx, &message, &entry.domain, &pending, &body).await;
        record(ctx, &mut entry, &pending, &outcomes, remote.as_deref());
        log_attempt(&entry, &outcomes, remote.as_deref());
        entry.attempts += 1;
        entry.last_attempt = Some(now);
    }
    if !entry.is_done() && now_millis() >= message.expires_at {
        expire(&mut entry, ctx.config.delivery.max_lifetime_secs);
    }
    if entry.is_done() {
        return finish(ctx, &message, &entry, &body).await;
    }
    let delay = retry_delay(&ctx.config.delivery.retry_schedule_secs, entry.attempts);
    entry.next_attempt = now_millis().saturating_add(delay as i64 * 1000).min(message.expires_at);
    tracing::info!(
        queue_id = %entry.message,
        domain = %entry.domain,
        attempts = entry.attempts,
        retry_in_secs = delay,
        error = entry.last_error.as_deref().unwrap_or(""),
        "deferred"
    );
    ctx.store.queue_update(&entry).await
}

/// The wait after the `attempts`-th attempt: the schedule's step, its last repeating.
pub fn retry_delay(schedule: &[u64], attempts: u32) -> u64 {
    let step = (attempts.max(1) - 1) as usize;
    schedule.get(step).or(schedule.last()).copied().unwrap_or(60)
}

/// One info line per delivery attempt: where, to how many, what came of it.
fn log_attempt(entry: &QueueEntry, outcomes: &[Outcome], remote: Option<&str>) {
    let count = |want: fn(&Outcome) -> bool| outcomes.iter().filter(|o| want(o)).count();
    tracing::info!(
        queue_id = %entry.message,
        domain = %entry.domain,
        remote = remote.unwrap_or("-"),
        attempt = entry.attempts + 1,
        recipients = outcomes.len(),
        delivered = count(|o| matches!(o, Outcome::Delivered)),
        failed = count(|o| matches!(o, Outcome::Failed { .. })),
        deferred = count(|o| matches!(o, Outcome::Retry { .. })),
        "outbound attempt"
    );
}

/// Writes the attempt's outcomes into the entry's recipients.
fn record(ctx: &Context, entry: &mut QueueEntry, pending: &[String], outcomes: &[Outcome], remote: Option<&str>) {
    for (address, outcome) in pending.iter().zip(outcomes) {
        let Some(rcpt) = entry.recipients.iter_mut().find(|r| &r.address == address) else {
            continue;
        };
        let result = match outcome {
            Outcome::Delivered => {
                rcpt.status = RecipientStatus::Delivered {
                    remote: remote.unwrap_or("").to_string(),
                };
                "delivered"
            }
            Outcome::Failed { status, diagnostic } => {
                rcpt.status = RecipientStatus::Failed {
                    status: status.clone(),
                    diagnostic: diagnostic.clone(),
                    remote: remote.map(str::to_string),
                };
                "failed"
            }
            Outcome::Retry { diagnostic } => {
                entry.last_error = Some(diagnostic.clone());
                "deferred"
            }
        };
        ctx.metrics
            .inc("mailroom_outbound_recipients_total", &[("result", result)]);
    }
    let result = if entry.is_done() { "final" } else { "deferred" };
    ctx.metrics
        .inc("mailroom_outbound_attempts_total", &[("result", result)]);
}

/// Fails every pending recipient: the message outlived `max_lifetime_secs`.
fn expire(entry: &mut QueueEntry, lifetime_secs: u64) {
    let last = entry.last_error.clone().unwrap_or_else(|| "not attempted".into());
    for rcpt in entry.recipients.iter_mut() {
        if rcpt.status == RecipientStatus::Pending {
            // RFC 3463 4.4.7: delivery time expired.
            rcpt.status = RecipientStatus::Failed {
                status: "4.4.7".into(),
                diagnostic: format!(
                    "not delivered within {} hours ({} attempts); last error: {last}",
                    lifetime_secs / 3600,
                    entry.attempts
                ),
                remote: None,
            };
        }
    }
}

/// Removes the finished entry, with the bounce for its failed recipients.
async fn finish(ctx: &Context, message: &QueuedMessage, entry: &QueueEntry, body: &[u8]) -> Result<(), StoreError> {
    let dsn = super::dsn::build(&ctx.config.hostname, message, entry, body).map(|raw| DsnJob {
        id: Uuid::now_v7(),
        inbox: message.sender,
        raw,
    });
    tracing::info!(
        queue_id = %entry.message,
        domain = %entry.domain,
        attempts = entry.attempts,
        bounced = dsn.is_some(),
        "finished"
    );
    ctx.store.queue_finish(entry, dsn.as_ref()).await?;
    if dsn.is_some() {
        file_bounces(ctx).await;
    }
    Ok(())
}

/// Tries the domain's hosts in order until one takes the transaction. Returns one
/// outcome per recipient and the host that answered.
async fn attempt(
    ctx: &Context,
    message: &QueuedMessage,
    domain: &str,
    recipients: &[String],
    body: &[u8],
) -> (Vec<Outcome>, Option<String>) {
    let config = &ctx.config.delivery;
    let every = |o: Outcome| vec![o; recipients.len()];
    let hops = match ctx.outbound.router.hops(config, domain).await {
        Ok(h) => h,
        Err(RouteError::Permanent { status, diagnostic }) => {
            return (every(Outcome::Failed { status, diagnostic }), None);
        }
        Err(RouteError::Temporary(diagnostic)) => return (every(Outcome::Retry { diagnostic }), None),
    };
    let envelope = Envelope {
        mail_from: &message.mail_from,
        recipients,
        body,
    };
    let mut last = SessionError::Retry(format!("no host for {domain} could be reached"));
    for hop in &hops {
        let addrs = match ctx
            .outbound
            .router
            .addresses(hop, ctx.config.delivery.allow_private_mx)
            .await
        {
            Ok(a) => a,
            Err(RouteError::Permanent { status, diagnostic }) => {
                last = SessionError::Fail { status, diagnostic };
                continue;
            }
            Err(RouteError::Temporary(e)) => {
                last = SessionError::Retry(e);
                continue;
            }
        };
        for addr in addrs {
            if ctx.is_shutting_down() {
                return (
                    every(Outcome::Retry {
                        diagnostic: "the server was stopping".into(),
                    }),
                    None,
                );
            }
            let mut tls = tls_mode(ctx, hop, domain);
            // An opportunistic host whose handshake fails gets one more go in plain text.
            for _ in 0..2 {
                let stream = match connect(addr, Duration::from_secs(config.connect_timeout_secs)).await {
                    Ok(s) => s,
                    Err(e) => {
                        last = SessionError::Retry(format!("{} [{addr}]: {e}", hop.host));
                        break;
                    }
                };
                let helo = config.helo_name.as_deref().unwrap_or(&ctx.config.hostname);
                let auth = match (&config.relay_username, &config.relay_password) {
                    (Some(user), Some(password)) if hop.relay => Some((user.as_str(), password.0.as_str())),
                    _ => None,
                };
                let settings = Settings {
                    helo,
                    command_timeout: Duration::from_secs(config.command_timeout_secs),
                    tls: tls.clone(),
                    auth,
                    auth_in_clear: is_loopback(&hop.host),
                };
                match client::deliver(stream, &hop.host, &settings, &envelope).await {
                    Ok(outcomes) => return (outcomes, Some(hop.host.clone())),
                    Err(SessionError::Handshake(e)) if matches!(tls, TlsMode::Opportunistic(_)) && !hop.relay => {
                        tracing::info!(host = %hop.host, "STARTTLS failed ({e}); trying without TLS");
                        last = SessionError::Retry(format!("{}: {e}", hop.host));
                        tls = TlsMode::Off;
                    }
                    Err(e) => {
                        last = prefix(e, &hop.host);
                        break;
                    }
                }
            }
        }
    }
    match last {
        SessionError::Fail { status, diagnostic } => (every(Outcome::Failed { status, diagnostic }), None),
        SessionError::Retry(d) | SessionError::Handshake(d) => (every(Outcome::Retry { diagnostic: d }), None),
    }
}

fn prefix(e: SessionError, host: &str) -> SessionError {
    match e {
        SessionError::Retry(d) => SessionError::Retry(format!("{host}: {d}")),
        SessionError::Handshake(d) => SessionError::Handshake(format!("{host}: {d}")),
        fail => fail,
    }
}

/// The TLS rule for one host: verified and required for `require_tls_domains`,
/// verified for the relay when `relay_tls_verify`, otherwise opportunistic.
fn tls_mode(ctx: &Context, hop: &Hop, domain: &str) -> TlsMode {
    let config = &ctx.config.delivery;
    let Ok(tls) = &ctx.outbound.tls else {
        return TlsMode::Off;
    };
    if config.requires_tls(domain) {
        return TlsMode::Required(tls.verified.clone());
    }
    if hop.relay && config.relay_tls_verify {
        return TlsMode::Opportunistic(tls.verified.clone());
    }
    TlsMode::Opportunistic(tls.opportunistic.clone())
}

async fn connect(addr: std::net::SocketAddr, timeout: Duration) -> Result<tokio::net::TcpStream, String> {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no connection within {} s", timeout.as_secs())),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_schedule_steps_then_repeats_its_last() {
        let schedule = [60, 300, 900];
        let waits: Vec<u64> = (1..=5).map(|n| retry_delay(&schedule, n)).collect();
        assert_eq!(waits, [60, 300, 900, 900, 900]);
    }

    #[test]
    fn expiry_fails_what_is_pending_only() {
        let mut entry = QueueEntry {
            message: Uuid::now_v7(),
            index: 0,
            domain: "r.example".into(),
            recipients: vec![
                crate::store::QueueRecipient {
                    address: "a@r.example".into(),
                    status: RecipientStatus::Pending,
                },
                crate::store::QueueRecipient {
                    address: "b@r.example".into(),
                    status: RecipientStatus::Delivered { remote: "mx".into() },
                },
            ],
            attempts: 7,
            next_attempt: 0,
            last_attempt: None,
            last_error: Some("451 try later".into()),
        };
        expire(&mut entry, 5 * 24 * 3600);
        assert!(entry.is_done());
        assert!(
            matches!(&entry.recipients[0].status, RecipientStatus::Failed { status, diagnostic, .. }
            if status == "4.4.7" && diagnostic.contains("120 hours (7 attempts)") && diagnostic.contains("451 try later"))
        );
        assert!(matches!(entry.recipients[1].status, RecipientStatus::Delivered { .. }));
    }
}
