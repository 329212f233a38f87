//! APPEND semantics shared by IMAP (and the HTTP API later): summarize the message
//! once, store it into one mailbox durably, announce the change; and the Sent-copy
//! rule of CLIENTS.md (a client saving its own copy of mail we already filed in Sent
//! gets the existing UID instead of a duplicate).

use crate::events::Events;
use crate::mail;
use crate::store::{Flags, Mailbox, Role, Store, StoreError};
use uuid::Uuid;

/// Where an appended message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub uidvalidity: u32,
    pub uid: u32,
    /// True when an existing Sent copy answered instead of a new message.
    pub existing: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("message larger than {0} bytes")]
    TooBig(u64),
    #[error("empty message")]
    Empty,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One message to append.
pub struct Append<'a> {
    pub inbox: Uuid,
    pub mailbox: &'a Mailbox,
    pub raw: &'a [u8],
    pub flags: Flags,
    /// INTERNALDATE in unix seconds (now when absent).
    pub internal_date: Option<i64>,
    /// APPENDLIMIT.
    pub max_size: u64,
}

/// Stores the message and returns once it is on disk; then announces the new modseq.
pub async fn append(store: &Store, events: &Events, request: Append<'_>) -> Result<Appended, AppendError> {
    let Append {
        inbox,
        mailbox,
        raw,
        flags,
        internal_date,
        max_size,
    } = request;
    if raw.len() as u64 > max_size {
        return Err(AppendError::TooBig(max_size));
    }
    if raw.is_empty() {
        return Err(AppendError::Empty);
    }
    let summary = mail::summarize(raw);
    if mailbox.role == Some(Role::Sent)
        && let Some(id) = &summary.message_id
        && let Some(existing) = existing_sent_copy(store, inbox, mailbox, id)?
    {
        return Ok(existing);
    }
    let filing = super::local::Filing {
        inbox,
        mailbox: mailbox.id,
        raw,
        summary: &summary,
        flags,
        internal_date,
    };
    let d = super::local::store_message(store, events, filing).await?;
    Ok(Appended {
        uidvalidity: d.uidvalidity,
        uid: d.uid,
        existing: false,
    })
}

/// The Sent copy submission already filed for this Message-ID, if it is still there.
fn existing_sent_copy(
    store: &Store,
    inbox: Uuid,
    mailbox: &Mailbox,
    message_id: &str,
) -> Result<Option<Appended>, StoreError> {
    let Some((mailbox_id, uidvalidity, uid)) = super::recent_sent_copy(inbox, message_id) else {
        return Ok(None);
    };
    if mailbox_id != mailbox.id || uidvalidity != mailbox.uidvalidity {
        return Ok(None);
    }
    if store.message(inbox, mailbox.id, uid)?.is_none() {
        // The user deleted the copy meanwhile: store the client's one.
        return Ok(None);
    }
    Ok(Some(Appended {
        uidvalidity,
        uid,
        existing: true,
    }))
}
