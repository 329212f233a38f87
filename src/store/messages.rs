//! Messages in mailboxes: delivery and append, flags, expunge, copy, move, the
//! change log. Raw bytes and summaries are blobs shared by every copy, keyed by
//! their SHA-256 and reference-counted.

use super::batch::{MailTx, Staged};
use super::codec::{decode, encode, key, u32_from, u64_from};
use super::mailboxes::{log_change, read_state, write_state};
use super::model::*;
use super::writer::write_now;
use super::{Result, Store, StoreError};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Bytes read from the store, shared with its page cache rather than copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bytes(sled::IVec);

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// A message to store: its raw bytes and the summary the mail module made of it.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    pub raw: &'a [u8],
    pub summary: &'a [u8],
    /// INTERNALDATE, unix seconds.
    pub internal_date: i64,
}

/// Where one copy of a new message landed.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub inbox: Uuid,
    pub mailbox: u32,
    pub uidvalidity: u32,
    pub uid: u32,
    pub modseq: u64,
    pub email_id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    Add,
    Remove,
    Replace,
}

/// What STORE did: each existing message as it is now with whether it changed,
/// and the UIDs left alone because they changed after UNCHANGEDSINCE.
pub type FlagsStored = (Vec<(MessageRecord, bool)>, Vec<u32>);

impl Store {
    /// Stores one message into each `(inbox, mailbox, flags)` target atomically
    /// (the raw bytes once), then waits until it is on disk.
    pub async fn deliver(&self, message: NewMessage<'_>, targets: &[(Uuid, u32, Flags)]) -> Result<Vec<Delivered>> {
        if message.raw.len() > u32::MAX as usize {
            return Err(StoreError::Limit("message too large".into()));
        }
        let blob = Blob {
            hash: Sha256::digest(message.raw).into(),
            raw: sled::IVec::from(message.raw),
            summary: sled::IVec::from(message.summary),
        };
        let (email_id, internal_date, targets) = (Uuid::now_v7(), message.internal_date, targets.to_vec());
        let delivered = self
            .inner
            .writer
            .write(true, move |tx| {
                insert_message(tx, &blob, email_id, internal_date, &targets)
            })
            .await?;
        Ok(delivered)
    }

    /// The UIDs in a mailbox, ascending.
    pub fn message_uids(&self, inbox: Uuid, mailbox: u32) -> Result<Vec<u32>> {
        let prefix = key(&[inbox.as_bytes(), &mailbox.to_be_bytes()]);
        self.trees()
            .messages
            .scan_prefix(prefix)
            .keys()
            .map(|k| u32_from(&k?[20..]))
            .collect()
    }

    /// Every message record of a mailbox, by ascending UID.
    pub fn messages(&self, inbox: Uuid, mailbox: u32) -> Result<Vec<MessageRecord>> {
        let prefix = key(&[inbox.as_bytes(), &mailbox.to_be_bytes()]);
        self.trees()
            .messages
            .scan_prefix(prefix)
            .values()
            .map(|v| decode(&v?))
            .collect()
    }

    pub fn message(&self, inbox: Uuid, mailbox: u32, uid: u32) -> Result<Option<MessageRecord>> {
        self.trees()
            .messages
            .get(message_key(inbox, mailbox, uid))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// The raw RFC 5322 bytes of a message, shared with the store's cache (no copy).
    pub fn raw_message(&self, blob: &[u8; 32]) -> Result<Option<Bytes>> {
        Ok(self.trees().blobs.get(blob)?.map(Bytes))
    }

    /// The summary stored with a message at delivery.
    pub fn message_summary(&self, blob: &[u8; 32]) -> Result<Option<Bytes>> {
        Ok(self.trees().summaries.get(blob)?.map(Bytes))
    }

    /// Changes flags of the given UIDs. With `unchanged_since` (CONDSTORE), a message
    /// whose modseq is higher is left alone and reported in the second list.
    /// Returns the records as they are now, with whether each was changed.
    pub async fn store_flags(
        &self,
        inbox: Uuid,
        mailbox: u32,
        uids: &[u32],
        op: FlagOp,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<FlagsStored> {
        let (uids, flags) = (uids.to_vec(), flags.clone());
        self.inner
            .writer
            .write(false, move |tx| {
                store_flags(tx, inbox, mailbox, &uids, op, &flags, unchanged_since)
            })
            .await
    }

    /// Removes the messages flagged \Deleted (only those in `uids`, when given).
    /// Returns the expunged UIDs, ascending. Like flag changes, an expunge reaches
    /// the disk with sled's next periodic flush (within half a second) rather than
    /// before the answer: lost in a crash, a message the user deleted comes back,
    /// and nothing the user wanted kept is lost. (APPEND, COPY, MOVE and deliveries
    /// are flushed before their answer.)
    pub async fn expunge(&self, inbox: Uuid, mailbox: u32, uids: Option<&[u32]>) -> Result<Vec<u32>> {
        let candidates: Vec<u32> = self
            .messages(inbox, mailbox)?
            .into_iter()
            .filter(|m| m.flags.has(flag::DELETED))
            .map(|m| m.uid)
            .filter(|uid| uids.is_none_or(|set| set.binary_search(uid).is_ok()))
            .collect();
        self.expunge_flagged(inbox, mailbox, candidates).await
    }

    /// Like [`Store::expunge`] for a caller that already knows which messages are
    /// flagged \Deleted (an IMAP session's view): of `candidates`, removes those
    /// still flagged when the write runs, without scanning the mailbox.
    pub async fn expunge_flagged(&self, inbox: Uuid, mailbox: u32, candidates: Vec<u32>) -> Result<Vec<u32>> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        self.inner
            .writer
            .write(false, move |tx| remove_messages(tx, inbox, mailbox, &candidates, true))
            .await
    }

    /// Copies messages to another mailbox of the same inbox. Returns the target's
    /// UIDVALIDITY and (source uid, new uid) pairs for the messages that exist.
    pub async fn copy_messages(&self, inbox: Uuid, from: u32, uids: &[u32], to: u32) -> Result<(u32, Vec<(u32, u32)>)> {
        let uids = uids.to_vec();
        let copied = self
            .inner
            .writer
            .write(true, move |tx| copy_records(tx, inbox, from, &uids, to))
            .await?;
        Ok(copied)
    }

    /// Moves messages (RFC 6851): copy, then expunge the originals, atomically
    /// and durably.
    pub async fn move_messages(&self, inbox: Uuid, from: u32, uids: &[u32], to: u32) -> Result<(u32, Vec<(u32, u32)>)> {
        let uids = uids.to_vec();
        let moved = self
            .inner
            .writer
            .write(true, move |tx| move_records(tx, inbox, from, &uids, to))
            .await?;
        Ok(moved)
    }

    /// Moves every message of one mailbox into another at once, from synchronous
    /// code (renaming INBOX).
    pub(super) fn move_all_now(&self, inbox: Uuid, from: u32, to: u32) -> Result<()> {
        let uids = self.message_uids(inbox, from)?;
        write_now(&self.inner.writer_trees, |tx| move_records(tx, inbox, from, &uids, to))?;
        Ok(())
    }

    /// Removes every message whose key starts with `prefix` (a deleted mailbox or
    /// inbox), dropping their blob references, a few hundred at a time so that
    /// other writes are not held up for long.
    pub(super) fn remove_all_messages(&self, prefix: &[u8]) -> Result<()> {
        const CHUNK: usize = 256;
        loop {
            let keys: Vec<sled::IVec> = self
                .trees()
                .messages
                .scan_prefix(prefix)
                .keys()
                .take(CHUNK)
                .collect::<std::result::Result<_, _>>()?;
            if keys.is_empty() {
                return Ok(());
            }
            write_now(&self.inner.writer_trees, |tx| {
                for k in &keys {
                    let Some(v) = tx.messages.get(k)? else { continue };
                    let record: MessageRecord = decode(&v)?;
                    tx.messages.remove(k);
                    drop_blob_ref(&tx.blob_refs, &tx.blobs, &tx.summaries, &record.blob)?;
                }
                Ok::<_, StoreError>(())
            })?;
        }
    }

    /// The change-log entries after `modseq`, oldest first.
    pub fn changes_since(&self, inbox: Uuid, modseq: u64) -> Result<Vec<(u64, Change)>> {
        let start = key(&[inbox.as_bytes(), &modseq.saturating_add(1).to_be_bytes()]);
        let end = key(&[inbox.as_bytes(), &u64::MAX.to_be_bytes()]);
        self.trees()
            .changes
            .range(start..=end)
            .map(|item| {
                let (k, v) = item?;
                Ok((u64_from(&k[16..])?, decode(&v)?))
            })
            .collect()
    }

    /// The inbox's current modseq (the last one handed out).
    pub fn inbox_modseq(&self, inbox: Uuid) -> Result<u64> {
        match self.trees().inbox_state.get(inbox.as_bytes())? {
            Some(v) => Ok(decode::<InboxState>(&v)?.modseq),
            None => Err(StoreError::NotFound),
        }
    }
}

fn message_key(inbox: Uuid, mailbox: u32, uid: u32) -> Vec<u8> {
    key(&[inbox.as_bytes(), &mailbox.to_be_bytes(), &uid.to_be_bytes()])
}

/// A new message's bytes and summary, shared by every copy.
struct Blob {
    hash: [u8; 32],
    raw: sled::IVec,
    summary: sled::IVec,
}

fn insert_message(
    tx: &MailTx<'_>,
    blob: &Blob,
    email_id: Uuid,
    internal_date: i64,
    targets: &[(Uuid, u32, Flags)],
) -> Result<Vec<Delivered>> {
    add_blob_refs(tx, blob, targets.len() as u64)?;
    let mut out = Vec::with_capacity(targets.len());
    let mut states_seen: BTreeMap<Uuid, InboxState> = BTreeMap::new();
    for (inbox, mailbox_id, flags) in targets {
        let state = match states_seen.get_mut(inbox) {
            Some(s) => s,
            None => states_seen
                .entry(*inbox)
                .or_insert(read_state(&tx.inbox_state, *inbox)?),
        };
        let mut mailbox = read_mailbox(&tx.mailboxes, *inbox, *mailbox_id)?;
        let uid = mailbox.uidnext;
        mailbox.uidnext += 1;
        let modseq = log_change(state, &tx.changes, *inbox, *mailbox_id, uid, ChangeKind::Added);
        let record = MessageRecord {
            uid,
            blob: blob.hash,
            email_id,
            size: blob.raw.len() as u32,
            internal_date,
            flags: flags.clone(),
            modseq,
        };
        count_in(&mut mailbox, &record, 1);
        mailbox.highest_modseq = modseq;
        tx.messages
            .insert(message_key(*inbox, *mailbox_id, uid), encode(&record));
        write_mailbox(&tx.mailboxes, *inbox, &mailbox);
        out.push(Delivered {
            inbox: *inbox,
            mailbox: *mailbox_id,
            uidvalidity: mailbox.uidvalidity,
            uid,
            modseq,
            email_id,
        });
    }
    for (inbox, state) in &states_seen {
        write_state(&tx.inbox_state, *inbox, state);
    }
    Ok(out)
}

fn store_flags(
    tx: &MailTx<'_>,
    inbox: Uuid,
    mailbox: u32,
    uids: &[u32],
    op: FlagOp,
    flags: &Flags,
    unchanged_since: Option<u64>,
) -> Result<FlagsStored> {
    let mut state = read_state(&tx.inbox_state, inbox)?;
    let mut mb = read_mailbox(&tx.mailboxes, inbox, mailbox)?;
    let mut updated = Vec::with_capacity(uids.len());
    let mut modified = Vec::new();
    for &uid in uids {
        let k = message_key(inbox, mailbox, uid);
        let Some(v) = tx.messages.get(&k)? else { continue };
        let mut record: MessageRecord = decode(&v)?;
        if unchanged_since.is_some_and(|since| record.modseq > since) {
            modified.push(uid);
            continue;
        }
        let new_flags = apply_flags(&record.flags, op, flags);
        if new_flags == record.flags {
            updated.push((record, false));
            continue;
        }
        count_in(&mut mb, &record, -1);
        record.flags = new_flags;
        record.modseq = log_change(&mut state, &tx.changes, inbox, mailbox, uid, ChangeKind::Flags);
        mb.highest_modseq = record.modseq;
        count_in(&mut mb, &record, 1);
        tx.messages.insert(k, encode(&record));
        updated.push((record, true));
    }
    write_mailbox(&tx.mailboxes, inbox, &mb);
    write_state(&tx.inbox_state, inbox, &state);
    Ok((updated, modified))
}

fn copy_records(tx: &MailTx<'_>, inbox: Uuid, from: u32, uids: &[u32], to: u32) -> Result<(u32, Vec<(u32, u32)>)> {
    let mut state = read_state(&tx.inbox_state, inbox)?;
    let mut target = read_mailbox(&tx.mailboxes, inbox, to)?;
    let mut pairs = Vec::with_capacity(uids.len());
    for &uid in uids {
        let Some(v) = tx.messages.get(message_key(inbox, from, uid))? else {
            continue;
        };
        let mut record: MessageRecord = decode(&v)?;
        record.uid = target.uidnext;
        target.uidnext += 1;
        record.modseq = log_change(&mut state, &tx.changes, inbox, to, record.uid, ChangeKind::Added);
        target.highest_modseq = record.modseq;
        count_in(&mut target, &record, 1);
        bump_refs(&tx.blob_refs, &record.blob, 1)?;
        tx.messages.insert(message_key(inbox, to, record.uid), encode(&record));
        pairs.push((uid, record.uid));
    }
    write_mailbox(&tx.mailboxes, inbox, &target);
    write_state(&tx.inbox_state, inbox, &state);
    Ok((target.uidvalidity, pairs))
}

fn move_records(tx: &MailTx<'_>, inbox: Uuid, from: u32, uids: &[u32], to: u32) -> Result<(u32, Vec<(u32, u32)>)> {
    let (uidvalidity, pairs) = copy_records(tx, inbox, from, uids, to)?;
    let moved: Vec<u32> = pairs.iter().map(|(src, _)| *src).collect();
    remove_messages(tx, inbox, from, &moved, false)?;
    Ok((uidvalidity, pairs))
}

/// Removes messages by UID, logging each as expunged; with `only_deleted`, a
/// message that lost its \Deleted flag meanwhile stays.
fn remove_messages(tx: &MailTx<'_>, inbox: Uuid, mailbox: u32, uids: &[u32], only_deleted: bool) -> Result<Vec<u32>> {
    let mut removed = Vec::with_capacity(uids.len());
    if uids.is_empty() {
        return Ok(removed);
    }
    let mut state = read_state(&tx.inbox_state, inbox)?;
    let mut mb = read_mailbox(&tx.mailboxes, inbox, mailbox)?;
    for &uid in uids {
        let k = message_key(inbox, mailbox, uid);
        let Some(v) = tx.messages.get(&k)? else { continue };
        let record: MessageRecord = decode(&v)?;
        if only_deleted && !record.flags.has(flag::DELETED) {
            continue;
        }
        tx.messages.remove(k);
        count_in(&mut mb, &record, -1);
        mb.highest_modseq = log_change(&mut state, &tx.changes, inbox, mailbox, uid, ChangeKind::Expunged);
        drop_blob_ref(&tx.blob_refs, &tx.blobs, &tx.summaries, &record.blob)?;
        removed.push(uid);
    }
    write_mailbox(&tx.mailboxes, inbox, &mb);
    write_state(&tx.inbox_state, inbox, &state);
    Ok(removed)
}

fn read_mailbox(mailboxes: &Staged<'_>, inbox: Uuid, id: u32) -> Result<Mailbox> {
    match mailboxes.get(key(&[inbox.as_bytes(), &id.to_be_bytes()]))? {
        Some(v) => decode(&v),
        None => Err(StoreError::NotFound),
    }
}

fn write_mailbox(mailboxes: &Staged<'_>, inbox: Uuid, mailbox: &Mailbox) {
    mailboxes.insert(key(&[inbox.as_bytes(), &mailbox.id.to_be_bytes()]), encode(mailbox));
}

/// Adds (`sign` 1) or removes (`sign` -1) a message from the mailbox counters.
fn count_in(mailbox: &mut Mailbox, record: &MessageRecord, sign: i64) {
    let adjust32 = |v: u32| (v as i64 + sign).max(0) as u32;
    mailbox.messages = adjust32(mailbox.messages);
    if !record.flags.has(flag::SEEN) {
        mailbox.unseen = adjust32(mailbox.unseen);
    }
    if record.flags.has(flag::DELETED) {
        mailbox.deleted = adjust32(mailbox.deleted);
    }
    mailbox.size = (mailbox.size as i64 + sign * record.size as i64).max(0) as u64;
}

fn apply_flags(current: &Flags, op: FlagOp, change: &Flags) -> Flags {
    let mut out = current.clone();
    match op {
        FlagOp::Replace => out = change.clone(),
        FlagOp::Add => {
            out.system |= change.system;
            for k in &change.keywords {
                if !out.keywords.iter().any(|have| have.eq_ignore_ascii_case(k)) {
                    out.keywords.push(k.clone());
                }
            }
        }
        FlagOp::Remove => {
            out.system &= !change.system;
            out.keywords
                .retain(|have| !change.keywords.iter().any(|k| k.eq_ignore_ascii_case(have)));
        }
    }
    out
}

fn add_blob_refs(tx: &MailTx<'_>, blob: &Blob, count: u64) -> Result<()> {
    if bump_refs(&tx.blob_refs, &blob.hash, count)? == count {
        // First reference: the bytes are new (or were just released).
        tx.blobs.insert(&blob.hash[..], blob.raw.clone());
        tx.summaries.insert(&blob.hash[..], blob.summary.clone());
    }
    Ok(())
}

/// Adds `count` references; returns the new count.
fn bump_refs(refs: &Staged<'_>, blob: &[u8; 32], count: u64) -> Result<u64> {
    let now = match refs.get(blob)? {
        Some(v) => u64_from(&v)? + count,
        None => count,
    };
    refs.insert(&blob[..], &now.to_be_bytes());
    Ok(now)
}

fn drop_blob_ref(refs: &Staged<'_>, blobs: &Staged<'_>, summaries: &Staged<'_>, blob: &[u8; 32]) -> Result<()> {
    let left = match refs.get(blob)? {
        Some(v) => u64_from(&v)?.saturating_sub(1),
        None => 0,
    };
    if left == 0 {
        refs.remove(&blob[..]);
        blobs.remove(&blob[..]);
        summaries.remove(&blob[..]);
    } else {
        refs.insert(&blob[..], &left.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;
    use crate::store::{CreateInbox, InboxCreated, NewKey};

    fn make_inbox(store: &Store, name: &str) -> Inbox {
        let key = NewKey {
            hash: Sha256::digest(name).into(),
            prefix: "tk_".into(),
            name: None,
        };
        let (tenant, _) = store.create_tenant(name, None, &key).unwrap();
        let ws = store.default_workspace(tenant.id).unwrap().unwrap();
        let req = CreateInbox {
            tenant_id: tenant.id,
            workspace_id: ws.id,
            username: name.into(),
            domain: "example.test".into(),
            display_name: None,
            password_hash: "x".into(),
            key: NewKey {
                hash: Sha256::digest(format!("ak{name}")).into(),
                prefix: "ak_".into(),
                name: None,
            },
            fallback: false,
            generated: false,
            confined: false,
        };
        match store.create_inbox(&req).unwrap() {
            InboxCreated::Created { inbox, .. } => inbox,
            other => panic!("{other:?}"),
        }
    }

    fn msg(raw: &[u8]) -> NewMessage<'_> {
        NewMessage {
            raw,
            summary: b"s",
            internal_date: 1,
        }
    }

    #[tokio::test]
    async fn deliver_store_copy_move_expunge() {
        let t = temp_store();
        let s = &t.store;
        let a = make_inbox(s, "alice");
        let b = make_inbox(s, "bob");
        let inbox_a = s.mailbox_by_name(a.id, "INBOX").unwrap().unwrap();
        let inbox_b = s.mailbox_by_name(b.id, "inbox").unwrap().unwrap();
        let raw = b"Subject: hi\r\n\r\nbody\r\n";
        let got = s
            .deliver(
                msg(raw),
                &[
                    (a.id, inbox_a.id, Flags::default()),
                    (b.id, inbox_b.id, Flags::default()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].uid, got[1].uid), (1, 1));
        let second = s
            .deliver(msg(b"other\r\n"), &[(a.id, inbox_a.id, Flags::default())])
            .await
            .unwrap();
        assert_eq!(second[0].uid, 2);
        let rec = s.message(a.id, inbox_a.id, 1).unwrap().unwrap();
        assert_eq!(&*s.raw_message(&rec.blob).unwrap().unwrap(), raw);

        let (changed, _) = s
            .store_flags(
                a.id,
                inbox_a.id,
                &[1, 2, 99],
                FlagOp::Add,
                &Flags::with(flag::DELETED | flag::SEEN),
                None,
            )
            .await
            .unwrap();
        assert_eq!(changed.len(), 2);
        let mb = s.mailbox(a.id, inbox_a.id).unwrap().unwrap();
        assert_eq!((mb.messages, mb.unseen, mb.deleted), (2, 0, 2));

        let trash = s.mailbox_by_role(a.id, Role::Trash).unwrap().unwrap();
        let (_, pairs) = s.copy_messages(a.id, inbox_a.id, &[1], trash.id).await.unwrap();
        assert_eq!(pairs, vec![(1, 1)]);
        assert_eq!(s.expunge(a.id, inbox_a.id, Some(&[1])).await.unwrap(), vec![1]);
        assert_eq!(s.expunge(a.id, inbox_a.id, None).await.unwrap(), vec![2]);
        // The blob survives while Bob's copy and the Trash copy hold it.
        assert!(s.raw_message(&rec.blob).unwrap().is_some());
        let archive = s.mailbox_by_role(a.id, Role::Archive).unwrap().unwrap();
        s.move_messages(a.id, trash.id, &[1], archive.id).await.unwrap();
        assert!(s.message_uids(a.id, trash.id).unwrap().is_empty());
        assert_eq!(s.message_uids(a.id, archive.id).unwrap(), vec![1]);

        let log = s.changes_since(a.id, 0).unwrap();
        assert!(log.windows(2).all(|w| w[0].0 < w[1].0), "modseqs ascend");
        assert!(log.iter().any(|(_, c)| c.kind == ChangeKind::Expunged && c.uid == 2));

        s.delete_inbox(a.id).unwrap();
        s.delete_inbox(b.id).unwrap();
        assert!(
            s.raw_message(&rec.blob).unwrap().is_none(),
            "last reference frees the blob"
        );
    }

    #[tokio::test]
    async fn a_batch_cut_short_after_its_journal_lands_at_the_next_open() {
        let dir = std::env::temp_dir().join(format!("mailroom-journal-{}", Uuid::new_v4()));
        let raw = b"Subject: second\r\n\r\nbody\r\n";
        let (inbox, mailbox) = {
            let s = Store::open(&dir, 4).unwrap();
            let a = make_inbox(&s, "erin");
            let mb = s.mailbox_by_name(a.id, "INBOX").unwrap().unwrap();
            s.deliver(msg(b"first\r\n"), &[(a.id, mb.id, Flags::default())])
                .await
                .unwrap();
            // A delivery staged and journaled, then the process "dies" before applying it.
            let trees = &s.inner.writer_trees;
            let _writer = trees.lock.lock();
            let mut batch = super::super::batch::Batch::default();
            let blob = Blob {
                hash: Sha256::digest(raw).into(),
                raw: sled::IVec::from(&raw[..]),
                summary: sled::IVec::from(&b"s"[..]),
            };
            let targets = [(a.id, mb.id, Flags::default())];
            batch
                .run(trees, |tx| insert_message(tx, &blob, Uuid::now_v7(), 2, &targets))
                .unwrap();
            batch.journal_only(trees).unwrap();
            assert!(s.message(a.id, mb.id, 2).unwrap().is_none(), "not applied yet");
            s.flush_blocking().unwrap();
            (a.id, mb.id)
        };
        let s = Store::open(&dir, 4).unwrap();
        let record = s.message(inbox, mailbox, 2).unwrap().expect("replayed at open");
        assert_eq!(&*s.raw_message(&record.blob).unwrap().unwrap(), raw);
        let mb = s.mailbox(inbox, mailbox).unwrap().unwrap();
        assert_eq!((mb.messages, mb.uidnext), (2, 3));
        assert_eq!(s.changes_since(inbox, 0).unwrap().last().map(|(_, c)| c.uid), Some(2));
        // Replayed once: the next write goes on from there.
        let next = s
            .deliver(msg(b"third\r\n"), &[(inbox, mailbox, Flags::default())])
            .await
            .unwrap();
        assert_eq!(next[0].uid, 3);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn conditional_store_reports_modified() {
        let t = temp_store();
        let s = &t.store;
        let a = make_inbox(s, "carol");
        let mb = s.mailbox_by_name(a.id, "INBOX").unwrap().unwrap();
        s.deliver(msg(b"x\r\n"), &[(a.id, mb.id, Flags::default())])
            .await
            .unwrap();
        let (_, modified) = s
            .store_flags(a.id, mb.id, &[1], FlagOp::Add, &Flags::with(flag::SEEN), Some(0))
            .await
            .unwrap();
        assert_eq!(modified, vec![1]);
    }

    #[tokio::test]
    async fn mailbox_rename_and_inbox_rename() {
        let t = temp_store();
        let s = &t.store;
        let a = make_inbox(s, "dave");
        s.create_mailbox(a.id, "Projects/2026/Q4").unwrap();
        assert!(s.mailbox_by_name(a.id, "Projects/2026").unwrap().is_some());
        s.rename_mailbox(a.id, "Projects", "Work").unwrap();
        assert!(s.mailbox_by_name(a.id, "Work/2026/Q4").unwrap().is_some());
        assert!(s.mailbox_by_name(a.id, "Projects").unwrap().is_none());
        let inbox = s.mailbox_by_name(a.id, "INBOX").unwrap().unwrap();
        s.deliver(msg(b"y\r\n"), &[(a.id, inbox.id, Flags::default())])
            .await
            .unwrap();
        s.rename_mailbox(a.id, "INBOX", "Old").unwrap();
        assert!(s.message_uids(a.id, inbox.id).unwrap().is_empty());
        let old = s.mailbox_by_name(a.id, "Old").unwrap().unwrap();
        assert_eq!(s.message_uids(a.id, old.id).unwrap().len(), 1);
        assert!(matches!(s.create_mailbox(a.id, "Old"), Err(MailboxErr::AlreadyExists)));
        s.delete_mailbox(a.id, "Old").unwrap();
        assert!(matches!(
            s.delete_mailbox(a.id, "INBOX"),
            Err(MailboxErr::InboxIsPermanent)
        ));
    }

    use crate::store::MailboxError as MailboxErr;
}
