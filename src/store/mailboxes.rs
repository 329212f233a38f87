//! Mailboxes of an inbox: list, create, rename, delete, subscribe.
//!
//! Names are UTF-8 with "/" as the hierarchy separator; INBOX is matched in any
//! case (RFC 3501 5.1) and always stored as "INBOX".

use super::batch::Staged;
use super::codec::{decode, encode, key, u32_from};
use super::inboxes::new_mailbox;
use super::model::*;
use super::writer::write_now;
use super::{Result, Store, StoreError};
use uuid::Uuid;

pub const SEPARATOR: char = '/';
const MAX_NAME_BYTES: usize = 512;
const MAX_DEPTH: usize = 16;
/// A generous ceiling so a client cannot grow an inbox without bound.
const MAX_MAILBOXES: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("mailbox already exists")]
    AlreadyExists,
    #[error("no such mailbox")]
    NotFound,
    #[error("invalid mailbox name: {0}")]
    InvalidName(&'static str),
    #[error("INBOX cannot be deleted")]
    InboxIsPermanent,
    #[error("too many mailboxes")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sled::Error> for MailboxError {
    fn from(e: sled::Error) -> Self {
        MailboxError::Store(e.into())
    }
}

/// The stored form of a client's mailbox name: INBOX in any case becomes "INBOX".
pub fn normalize_name(name: &str) -> String {
    let name = name.trim_end_matches(SEPARATOR);
    match name.split_once(SEPARATOR) {
        Some((first, rest)) if first.eq_ignore_ascii_case("INBOX") => format!("INBOX{SEPARATOR}{rest}"),
        None if name.eq_ignore_ascii_case("INBOX") => "INBOX".into(),
        _ => name.to_string(),
    }
}

fn validate_name(name: &str) -> Result<(), MailboxError> {
    if name.is_empty() {
        return Err(MailboxError::InvalidName("empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(MailboxError::InvalidName("too long"));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(MailboxError::InvalidName("control characters"));
    }
    if name.split(SEPARATOR).any(str::is_empty) {
        return Err(MailboxError::InvalidName("empty hierarchy level"));
    }
    if name.split(SEPARATOR).count() > MAX_DEPTH {
        return Err(MailboxError::InvalidName("too deep"));
    }
    if name.contains(['*', '%']) {
        return Err(MailboxError::InvalidName("wildcards are not allowed in names"));
    }
    Ok(())
}

impl Store {
    /// All mailboxes of the inbox, in id (creation) order.
    pub fn mailboxes(&self, inbox: Uuid) -> Result<Vec<Mailbox>> {
        self.trees()
            .mailboxes
            .scan_prefix(inbox.as_bytes())
            .values()
            .map(|v| decode(&v?))
            .collect()
    }

    pub fn mailbox(&self, inbox: Uuid, id: u32) -> Result<Option<Mailbox>> {
        let k = key(&[inbox.as_bytes(), &id.to_be_bytes()]);
        self.trees().mailboxes.get(k)?.map(|v| decode(&v)).transpose()
    }

    pub fn mailbox_by_name(&self, inbox: Uuid, name: &str) -> Result<Option<Mailbox>> {
        let name = normalize_name(name);
        let k = key(&[inbox.as_bytes(), name.as_bytes()]);
        match self.trees().mailbox_names.get(k)? {
            Some(id) => self.mailbox(inbox, u32_from(&id)?),
            None => Ok(None),
        }
    }

    pub fn mailbox_by_role(&self, inbox: Uuid, role: Role) -> Result<Option<Mailbox>> {
        Ok(self.mailboxes(inbox)?.into_iter().find(|m| m.role == Some(role)))
    }

    /// Creates `name` and any missing parents (RFC 3501 6.3.3). Returns the new mailbox.
    pub fn create_mailbox(&self, inbox: Uuid, name: &str) -> Result<Mailbox, MailboxError> {
        let name = normalize_name(name);
        validate_name(&name)?;
        if self.mailboxes(inbox)?.len() >= MAX_MAILBOXES {
            return Err(MailboxError::TooMany);
        }
        write_now(&self.inner.writer_trees, |tx| {
            let mut state = read_state(&tx.inbox_state, inbox)?;
            if tx
                .mailbox_names
                .get(key(&[inbox.as_bytes(), name.as_bytes()]))?
                .is_some()
            {
                return Err(MailboxError::AlreadyExists);
            }
            let mut last = None;
            for prefix in hierarchy_prefixes(&name) {
                let name_key = key(&[inbox.as_bytes(), prefix.as_bytes()]);
                if tx.mailbox_names.get(&name_key)?.is_some() {
                    continue;
                }
                let mut mailbox = new_mailbox(&mut state, prefix, None, true);
                mailbox.highest_modseq = log_change(
                    &mut state,
                    &tx.changes,
                    inbox,
                    mailbox.id,
                    0,
                    ChangeKind::MailboxCreated,
                );
                tx.mailboxes
                    .insert(key(&[inbox.as_bytes(), &mailbox.id.to_be_bytes()]), encode(&mailbox));
                tx.mailbox_names.insert(name_key, &mailbox.id.to_be_bytes());
                last = Some(mailbox);
            }
            write_state(&tx.inbox_state, inbox, &state);
            last.ok_or(MailboxError::AlreadyExists)
        })
    }

    /// Deletes a mailbox and its messages. Children keep existing (RFC 3501 6.3.4).
    pub fn delete_mailbox(&self, inbox: Uuid, name: &str) -> Result<(), MailboxError> {
        let mailbox = self.mailbox_by_name(inbox, name)?.ok_or(MailboxError::NotFound)?;
        if mailbox.role == Some(Role::Inbox) {
            return Err(MailboxError::InboxIsPermanent);
        }
        write_now(&self.inner.writer_trees, |tx| {
            let mut state = read_state(&tx.inbox_state, inbox)?;
            tx.mailboxes.remove(key(&[inbox.as_bytes(), &mailbox.id.to_be_bytes()]));
            tx.mailbox_names
                .remove(key(&[inbox.as_bytes(), mailbox.name.as_bytes()]));
            log_change(
                &mut state,
                &tx.changes,
                inbox,
                mailbox.id,
                0,
                ChangeKind::MailboxDeleted,
            );
            write_state(&tx.inbox_state, inbox, &state);
            Ok::<_, StoreError>(())
        })?;
        // The mailbox is gone for everyone; now drop its messages.
        self.remove_all_messages(&key(&[inbox.as_bytes(), &mailbox.id.to_be_bytes()]))?;
        Ok(())
    }

    /// Renames a mailbox and its children (RFC 3501 6.3.5). Renaming INBOX moves
    /// its messages to a new mailbox and leaves INBOX empty.
    pub fn rename_mailbox(&self, inbox: Uuid, from: &str, to: &str) -> Result<(), MailboxError> {
        let from = normalize_name(from);
        let to = normalize_name(to);
        validate_name(&to)?;
        let source = self.mailbox_by_name(inbox, &from)?.ok_or(MailboxError::NotFound)?;
        if self.mailbox_by_name(inbox, &to)?.is_some() {
            return Err(MailboxError::AlreadyExists);
        }
        if source.role == Some(Role::Inbox) {
            let target = self.create_mailbox(inbox, &to)?;
            self.move_all_now(inbox, source.id, target.id)?;
            return Ok(());
        }
        if to == from || to.starts_with(&format!("{from}{SEPARATOR}")) {
            return Err(MailboxError::InvalidName("cannot rename a mailbox into itself"));
        }
        let child_prefix = format!("{from}{SEPARATOR}");
        let affected: Vec<Mailbox> = self
            .mailboxes(inbox)?
            .into_iter()
            .filter(|m| m.name == from || m.name.starts_with(&child_prefix))
            .collect();
        write_now(&self.inner.writer_trees, |tx| {
            let (names, mailboxes) = (&tx.mailbox_names, &tx.mailboxes);
            let mut state = read_state(&tx.inbox_state, inbox)?;
            for prefix in hierarchy_prefixes(&to).into_iter().rev().skip(1) {
                // Parents of the new name are created like CREATE does.
                if names.get(key(&[inbox.as_bytes(), prefix.as_bytes()]))?.is_none() {
                    let parent = new_mailbox(&mut state, prefix, None, true);
                    mailboxes.insert(key(&[inbox.as_bytes(), &parent.id.to_be_bytes()]), encode(&parent));
                    names.insert(key(&[inbox.as_bytes(), prefix.as_bytes()]), &parent.id.to_be_bytes());
                }
            }
            for mailbox in &affected {
                let new_name = format!("{to}{}", &mailbox.name[from.len()..]);
                if names.get(key(&[inbox.as_bytes(), new_name.as_bytes()]))?.is_some() {
                    return Err(MailboxError::AlreadyExists);
                }
                let mut renamed = mailbox.clone();
                renamed.name = new_name;
                renamed.highest_modseq = log_change(
                    &mut state,
                    &tx.changes,
                    inbox,
                    mailbox.id,
                    0,
                    ChangeKind::MailboxRenamed,
                );
                names.remove(key(&[inbox.as_bytes(), mailbox.name.as_bytes()]));
                names.insert(
                    key(&[inbox.as_bytes(), renamed.name.as_bytes()]),
                    &mailbox.id.to_be_bytes(),
                );
                mailboxes.insert(key(&[inbox.as_bytes(), &mailbox.id.to_be_bytes()]), encode(&renamed));
            }
            write_state(&tx.inbox_state, inbox, &state);
            Ok(())
        })
    }

    pub fn set_subscribed(&self, inbox: Uuid, name: &str, subscribed: bool) -> Result<(), MailboxError> {
        let mailbox = self.mailbox_by_name(inbox, name)?.ok_or(MailboxError::NotFound)?;
        self.update_mailbox(inbox, mailbox.id, |m| m.subscribed = subscribed)?;
        Ok(())
    }

    /// Claims the \Recent messages for a session that selects the mailbox
    /// read-write: returns the first recent UID and moves the mark past UIDNEXT,
    /// so no other session sees them as recent (RFC 3501 2.3.2).
    pub fn claim_recent(&self, inbox: Uuid, mailbox: u32) -> Result<u32> {
        let first = std::cell::Cell::new(0);
        self.update_mailbox(inbox, mailbox, |m| {
            first.set(m.recent_from_uid);
            m.recent_from_uid = m.uidnext;
        })?;
        Ok(first.get())
    }

    /// Changes one mailbox record, in turn with the other mail writes.
    fn update_mailbox(&self, inbox: Uuid, id: u32, change: impl FnOnce(&mut Mailbox)) -> Result<Mailbox> {
        let k = key(&[inbox.as_bytes(), &id.to_be_bytes()]);
        write_now(&self.inner.writer_trees, |tx| {
            let Some(old) = tx.mailboxes.get(&k)? else {
                return Err(StoreError::NotFound);
            };
            let mut mailbox: Mailbox = decode(&old)?;
            change(&mut mailbox);
            tx.mailboxes.insert(&k, encode(&mailbox));
            Ok(mailbox)
        })
    }
}

/// "a/b/c" -> ["a", "a/b", "a/b/c"].
fn hierarchy_prefixes(name: &str) -> Vec<&str> {
    name.match_indices(SEPARATOR)
        .map(|(i, _)| &name[..i])
        .chain(std::iter::once(name))
        .collect()
}

pub(super) fn read_state(states: &Staged<'_>, inbox: Uuid) -> Result<InboxState> {
    match states.get(inbox.as_bytes())? {
        Some(v) => decode(&v),
        None => Err(StoreError::NotFound),
    }
}

pub(super) fn write_state(states: &Staged<'_>, inbox: Uuid, state: &InboxState) {
    states.insert(inbox.as_bytes(), encode(state));
}

/// Appends to the inbox's change log under the next modseq, which it returns.
pub(super) fn log_change(
    state: &mut InboxState,
    changes: &Staged<'_>,
    inbox: Uuid,
    mailbox: u32,
    uid: u32,
    kind: ChangeKind,
) -> u64 {
    state.modseq += 1;
    let change = Change { mailbox, uid, kind };
    changes.insert(key(&[inbox.as_bytes(), &state.modseq.to_be_bytes()]), encode(&change));
    state.modseq
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_inbox_only() {
        assert_eq!(normalize_name("inbox"), "INBOX");
        assert_eq!(normalize_name("Inbox/Sub"), "INBOX/Sub");
        assert_eq!(normalize_name("Sent/"), "Sent");
        assert_eq!(normalize_name("Inboxes"), "Inboxes");
    }

    #[test]
    fn prefixes_of_a_path() {
        assert_eq!(hierarchy_prefixes("a/b/c"), vec!["a", "a/b", "a/b/c"]);
        assert_eq!(hierarchy_prefixes("a"), vec!["a"]);
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(validate_name("a//b").is_err());
        assert!(validate_name("a\r\nb").is_err());
        assert!(validate_name(&"x".repeat(600)).is_err());
        assert!(validate_name("Projects/2026").is_ok());
    }
}
