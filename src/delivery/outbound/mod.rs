//! Outbound delivery: submitted mail for other domains is DKIM-signed, queued
//! durably in the store, and delivered by workers to the relay or the domains' MX
//! hosts, with retries, bounces (DSNs) and limits.
//!
//! - `enqueue` (called by `delivery::queue_remote`): re-encode parts with lines
//!   over 998 octets (`mail::long_lines`), sign, group by domain, store.
//! - `worker`: the scheduler loop and one attempt per (message, domain) entry.
//! - `route`: relay or MX/A/AAAA; `client`: the SMTP client; `tls`: its TLS configs.
//! - `dkim`: keys and signing; `dsn`: bounce messages; `rate`: per-inbox send rate.

pub mod admin;
pub mod client;
pub mod dkim;
pub mod dsn;
mod rate;
pub mod route;
mod tls;
mod worker;

pub use worker::run;

use super::{QueueError, RemoteMessage};
use crate::config::Config;
use crate::store::{QueueEntry, QueueRecipient, QueuedMessage, RecipientStatus, Store, now_millis};
use std::borrow::Cow;
use std::collections::BTreeMap;
use tokio::sync::Notify;
use uuid::Uuid;

/// The outbound side's shared state, one per server (in the Context).
pub struct Outbound {
    rate: rate::SendRate,
    /// Wakes the scheduler when something new is queued.
    wake: Notify,
    signers: dkim::Signers,
    router: route::Router,
    tls: Result<tls::ClientTls, String>,
    /// One bounce filer at a time, so each waiting bounce is filed once.
    filing: tokio::sync::Mutex<()>,
}

impl Outbound {
    pub fn new(config: &Config) -> Outbound {
        Outbound {
            rate: rate::SendRate::new(config.delivery.send_rate_per_minute),
            wake: Notify::new(),
            signers: dkim::Signers::default(),
            router: route::Router::new(&config.delivery),
            tls: tls::ClientTls::new().map_err(|e| e.to_string()),
            filing: tokio::sync::Mutex::new(()),
        }
    }

    /// Takes one message from `inbox`'s send rate; false when it is over it.
    pub fn allow_send(&self, inbox: Uuid) -> bool {
        self.rate.allow(inbox)
    }

    /// Tells the workers that new mail is queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn signers(&self) -> &dkim::Signers {
        &self.signers
    }
}

/// Signs `message` with its sender domain's DKIM key (when the domain is ours),
/// groups the recipients by domain and stores it all; returns once it is on disk.
pub async fn enqueue(
    store: &Store,
    config: &Config,
    signers: &dkim::Signers,
    message: &RemoteMessage<'_>,
) -> Result<Uuid, QueueError> {
    let mut domains: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rcpt in message.recipients {
        let domain = rcpt.rsplit_once('@').map_or("", |(_, d)| d).to_ascii_lowercase();
        let list = domains.entry(domain).or_default();
        if !list.iter().any(|r| r.eq_ignore_ascii_case(rcpt)) {
            list.push(rcpt.clone());
        }
    }
    if domains.is_empty() || domains.len() > usize::from(u16::MAX) {
        return Err(QueueError::Unavailable);
    }
    // Lines a receiver may refuse are re-encoded first, so the signature covers
    // what is sent; the copies delivered here keep the bytes as submitted.
    let fitted = crate::mail::fit_line_limit(message.raw);
    if let Cow::Owned(_) = fitted {
        tracing::debug!(size = message.raw.len(), "re-encoded parts with lines over 998 octets");
    }
    let raw = sign(store, config, signers, message.mail_from, &fitted).await;
    let now = now_millis();
    let lifetime = i64::try_from(config.delivery.max_lifetime_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let id = Uuid::now_v7();
    let queued = QueuedMessage {
        id,
        sender: message.sender,
        mail_from: message.mail_from.to_string(),
        created_at: now,
        expires_at: now.saturating_add(lifetime),
        size: raw.len() as u64,
        open_entries: domains.len() as u16,
    };
    let entries: Vec<QueueEntry> = domains
        .into_iter()
        .enumerate()
        .map(|(index, (domain, recipients))| QueueEntry {
            message: id,
            index: index as u16,
            domain,
            recipients: recipients
                .into_iter()
                .map(|address| QueueRecipient {
                    address,
                    status: RecipientStatus::Pending,
                })
                .collect(),
            attempts: 0,
            next_attempt: now,
            last_attempt: None,
            last_error: None,
        })
        .collect();
    store.enqueue(&queued, &raw, &entries).await?;
    tracing::info!(queue_id = %id, domains = entries.len(), size = raw.len(), "queued for remote delivery");
    Ok(id)
}

/// The message with a DKIM-Signature when the envelope sender's domain is ours.
/// Submission makes MAIL FROM and From the authenticated inbox's address, so this
/// domain is also the From domain (DMARC alignment). A signing failure is logged
/// and the message goes unsigned rather than not at all.
async fn sign(store: &Store, config: &Config, signers: &dkim::Signers, mail_from: &str, raw: &[u8]) -> Vec<u8> {
    let domain = mail_from.rsplit_once('@').map_or("", |(_, d)| d);
    if !config.is_local_domain(domain) {
        return raw.to_vec();
    }
    match signers.sign(store, config, domain, raw).await {
        Ok(signed) => signed,
        Err(e) => {
            tracing::warn!(domain, "not DKIM-signed: {e}");
            raw.to_vec()
        }
    }
}
