//! Filing one message into one mailbox of one inbox, for every path that does it
//! (IMAP APPEND, bounces, and SMTP local delivery): the summary made once, one
//! durable store write, then the change announced.

use crate::events::Events;
use crate::mail::{self, MessageSummary};
use crate::store::{Delivered, Flags, NewMessage, Role, Store, StoreError, now_millis};
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
    let Filing {
        inbox,
        mailbox,
        raw,
        summary,
        flags,
        internal_date,
    } = filing;
    let summary_bytes = postcard::to_allocvec(summary).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let message = NewMessage {
        raw,
        summary: &summary_bytes,
        internal_date: internal_date.unwrap_or_else(|| now_millis() / 1000),
    };
    let delivered = store.deliver(message, &[(inbox, mailbox, flags)]).await?;
    let Some(d) = delivered.into_iter().next() else {
        return Err(StoreError::NotFound);
    };
    events.changed(inbox, d.modseq);
    Ok(d)
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
