//! Local delivery: one message into the INBOX of every local recipient (and the
//! sender's Sent mailbox for a submission) in one transaction, raw bytes and summary
//! stored once, answered only after the shared flush, then announced.

use super::sent::remember_sent_copy;
use crate::events::Events;
use crate::mail::MessageSummary;
use crate::store::{Flags, NewMessage, Role, Store, StoreError, flag, now_millis};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A message accepted for local recipients.
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
        if let Some(mailbox) = store.mailbox_by_name(inbox, "INBOX")? {
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
    let summary = postcard::to_allocvec(delivery.summary).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let message = NewMessage {
        raw: delivery.raw,
        summary: &summary,
        internal_date: now_millis() / 1000,
    };
    let delivered = store.deliver(message, &targets).await?;
    // After the commit and the flush: wake IDLE sessions and other listeners.
    let mut newest: BTreeMap<Uuid, u64> = BTreeMap::new();
    for d in &delivered {
        let modseq = newest.entry(d.inbox).or_default();
        *modseq = (*modseq).max(d.modseq);
        if sent == Some((d.inbox, d.mailbox))
            && let Some(id) = &delivery.summary.message_id
        {
            remember_sent_copy(d.inbox, id, d.mailbox, d.uidvalidity, d.uid);
        }
    }
    for (inbox, modseq) in newest {
        events.changed(inbox, modseq);
    }
    Ok(())
}
