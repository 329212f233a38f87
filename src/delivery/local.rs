//! Filing messages into mailboxes here, for every path that does it: SMTP local
//! delivery (every local recipient's INBOX and the sender's Sent copy in one
//! transaction), IMAP APPEND, and the bounces we generate. The caller makes the
//! summary once; the raw bytes are stored once however many copies there are; the
//! answer comes after the shared flush; then the change is announced.

use super::sent::remember_sent_copy;
use crate::events::Events;
use crate::mail::{self, MessageSummary};
use crate::store::{Delivered, Flags, NewMessage, Role, Store, StoreError, flag, now_millis};
use std::collections::BTreeMap;
use uuid::Uuid;

/// One message for one mailbox.
pub struct Filing<'a> {
    pub inbox: Uuid,
    pub mailbox: u32,
    pub raw: &'a [u8],
    /// `mail::summarize(raw)`, made once by the caller.
    pub summary: &'a MessageSummary,
    pub flags: Flags,
    /// INTERNALDATE in unix seconds (now when absent).
    pub internal_date: Option<i64>,
}

/// Stores the message, returns once it is on disk, then wakes the inbox's listeners.
pub async fn store_message(store: &Store, events: &Events, filing: Filing<'_>) -> Result<Delivered, StoreError> {
    let internal_date = filing.internal_date.unwrap_or_else(|| now_millis() / 1000);
    let targets = [(filing.inbox, filing.mailbox, filing.flags)];
    let delivered = file_copies(store, events, filing.raw, filing.summary, internal_date, &targets).await?;
    delivered.into_iter().next().ok_or(StoreError::NotFound)
}

/// Files `raw` into the inbox's INBOX (bounces and other notices we generate).
pub async fn deliver_to_inbox(
    store: &Store,
    events: &Events,
    inbox: Uuid,
    raw: &[u8],
) -> Result<Delivered, StoreError> {
    let mailbox = store.mailbox_by_role(inbox, Role::Inbox)?.ok_or(StoreError::NotFound)?;
    let summary = mail::summarize(raw);
    let filing = Filing {
        inbox,
        mailbox: mailbox.id,
        raw,
        summary: &summary,
        flags: Flags::default(),
        internal_date: None,
    };
    store_message(store, events, filing).await
}

/// A message accepted by SMTP for local recipients.
pub struct LocalDelivery<'a> {
    /// The final bytes, trace header included.
    pub raw: &'a [u8],
    /// `mail::summarize(raw)`, made once by the caller.
    pub summary: &'a MessageSummary,
    /// Recipient inboxes, each once.
    pub recipients: &'a [Uuid],
    /// For a submission: the sending inbox, which gets a `\Seen` copy in Sent.
    pub sent_copy: Option<Uuid>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Every recipient disappeared (inboxes deleted meanwhile).
    #[error("no recipient inbox exists any more")]
    NoRecipients,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores the message for all its local targets; returns once it is on disk.
pub async fn deliver(store: &Store, events: &Events, delivery: LocalDelivery<'_>) -> Result<(), DeliveryError> {
    let mut targets = Vec::with_capacity(delivery.recipients.len() + 1);
    for &inbox in delivery.recipients {
        // An inbox deleted since RCPT no longer receives; the others still do.
        if let Some(mailbox) = store.mailbox_by_role(inbox, Role::Inbox)? {
            targets.push((inbox, mailbox.id, Flags::default()));
        }
    }
    let sent = match delivery.sent_copy {
        Some(inbox) => store.mailbox_by_role(inbox, Role::Sent)?.map(|m| (inbox, m.id)),
        None => None,
    };
    if let Some((inbox, mailbox)) = sent {
        targets.push((inbox, mailbox, Flags::with(flag::SEEN)));
    }
    if targets.is_empty() {
        return Err(DeliveryError::NoRecipients);
    }
    let delivered = file_copies(
        store,
        events,
        delivery.raw,
        delivery.summary,
        now_millis() / 1000,
        &targets,
    )
    .await?;
    if let Some(id) = &delivery.summary.message_id {
        for d in delivered.iter().filter(|d| sent == Some((d.inbox, d.mailbox))) {
            remember_sent_copy(d.inbox, id, d.mailbox, d.uidvalidity, d.uid);
        }
    }
    Ok(())
}

/// Stores one message into every target in one transaction, durably, then tells
/// each inbox's listeners (IMAP IDLE, later webhooks) its newest modseq.
async fn file_copies(
    store: &Store,
    events: &Events,
    raw: &[u8],
    summary: &MessageSummary,
    internal_date: i64,
    targets: &[(Uuid, u32, Flags)],
) -> Result<Vec<Delivered>, StoreError> {
    let summary = postcard::to_allocvec(summary).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let message = NewMessage {
        raw,
        summary: &summary,
        internal_date,
    };
    let delivered = store.deliver(message, targets).await?;
    let mut newest: BTreeMap<Uuid, u64> = BTreeMap::new();
    for d in &delivered {
        let modseq = newest.entry(d.inbox).or_default();
        *modseq = (*modseq).max(d.modseq);
    }
    for (inbox, modseq) in newest {
        events.changed(inbox, modseq);
    }
    Ok(delivered)
}
