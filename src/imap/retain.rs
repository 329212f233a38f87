//! Messages expunged by one session stay readable for the other sessions that have
//! not been told yet (RFC 2180 4.1.1): a FETCH of such a message answers from its
//! record and bytes as they were, and completes OK. Apple Mail and Thunderbird drop
//! bodies on a NO.
//!
//! The store deletes a message's blob with its last reference. So before an
//! expunge, the expunging session copies the records and shares the bytes (sled
//! buffers are reference-counted, nothing is copied) of the doomed messages into
//! every other open view of that mailbox; a view drops its copies once it has sent
//! the EXPUNGE (or VANISHED), or when it is closed. Nothing stays kept once no
//! other session has the mailbox selected. The registry is in memory only: after a
//! restart no session has a view to serve.

use crate::store::{Bytes, MessageRecord, Store};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use uuid::Uuid;

/// A message as it was when it was expunged.
#[derive(Debug)]
pub struct Kept {
    pub record: MessageRecord,
    pub raw: Option<Bytes>,
    pub summary: Option<Bytes>,
}

type Key = (Uuid, u32);

#[derive(Default)]
struct Views {
    next_id: u64,
    /// Each open view's kept messages by UID.
    views: HashMap<u64, HashMap<u32, Arc<Kept>>>,
    /// Kept while their expunge is being written, readable by every view: a view
    /// registered meanwhile may have loaded the message before the write landed.
    /// Counted, as sessions may expunge the same message at once and finish in any
    /// order: the one whose write removed it hands it out.
    pending: HashMap<u32, (Arc<Kept>, usize)>,
}

/// Every mailbox some IMAP session has selected, by (inbox, mailbox).
static REGISTRY: LazyLock<Mutex<HashMap<Key, Views>>> = LazyLock::new(Default::default);

/// One session's registration for the mailbox it has selected; unregisters on drop.
#[derive(Debug)]
pub struct View {
    key: Key,
    id: u64,
}

impl View {
    /// Registers before the view loads its snapshot, so no expunge can slip between.
    pub fn open(inbox: Uuid, mailbox: u32) -> View {
        let key = (inbox, mailbox);
        let mut registry = REGISTRY.lock();
        let views = registry.entry(key).or_default();
        views.next_id += 1;
        let id = views.next_id;
        views.views.insert(id, HashMap::new());
        View { key, id }
    }

    /// The message with `uid` as it was, when it was expunged under this view.
    pub fn kept(&self, uid: u32) -> Option<Arc<Kept>> {
        let registry = REGISTRY.lock();
        let views = registry.get(&self.key)?;
        views
            .views
            .get(&self.id)
            .and_then(|mine| mine.get(&uid))
            .or_else(|| views.pending.get(&uid).map(|(k, _)| k))
            .cloned()
    }

    /// The client was told these UIDs are gone: their copies are no longer needed.
    pub fn forget(&self, uids: &[u32]) {
        let mut registry = REGISTRY.lock();
        if let Some(mine) = registry.get_mut(&self.key).and_then(|v| v.views.get_mut(&self.id))
            && !mine.is_empty()
        {
            for uid in uids {
                mine.remove(uid);
            }
            mine.shrink_to_fit();
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        let mut registry = REGISTRY.lock();
        if let Some(views) = registry.get_mut(&self.key) {
            views.views.remove(&self.id);
            if views.views.is_empty() && views.pending.is_empty() {
                registry.remove(&self.key);
            }
        }
    }
}

/// Keeps the messages about to be expunged readable for the other views of the
/// mailbox; call [`expunged`] with what the store really removed once it is written.
/// Done even when no other view is open: one may open and load its snapshot while
/// the expunge is being written.
pub fn before_expunge(store: &Store, inbox: Uuid, mailbox: u32, uids: &[u32]) -> Vec<u32> {
    let key = (inbox, mailbox);
    if uids.is_empty() {
        return Vec::new();
    }
    let mut kept = Vec::with_capacity(uids.len());
    for &uid in uids {
        // A read error only means this one cannot be served later.
        let Ok(Some(record)) = store.message(inbox, mailbox, uid) else {
            continue;
        };
        let raw = store.raw_message(&record.blob).ok().flatten();
        let summary = store.message_summary(&record.blob).ok().flatten();
        kept.push(Arc::new(Kept { record, raw, summary }));
    }
    let mut registry = REGISTRY.lock();
    let views = registry.entry(key).or_default();
    let mut pending = Vec::with_capacity(kept.len());
    for k in kept {
        pending.push(k.record.uid);
        views.pending.entry(k.record.uid).or_insert((k, 0)).1 += 1;
    }
    pending
}

/// Hands the kept copies of the `removed` UIDs to every view but `own`, and drops
/// the rest of `pending` (messages that were not expunged after all).
pub fn expunged(inbox: Uuid, mailbox: u32, pending: &[u32], removed: &[u32], own: Option<&View>) {
    if pending.is_empty() {
        return;
    }
    let key = (inbox, mailbox);
    let mut registry = REGISTRY.lock();
    let Some(views) = registry.get_mut(&key) else { return };
    for uid in pending {
        let Some((k, count)) = views.pending.get_mut(uid) else {
            continue;
        };
        let k = k.clone();
        *count -= 1;
        if *count == 0 {
            views.pending.remove(uid);
        }
        if removed.binary_search(uid).is_err() {
            continue;
        }
        for (id, mine) in views.views.iter_mut() {
            if own.is_none_or(|o| o.key != key || o.id != *id) {
                mine.insert(*uid, k.clone());
            }
        }
    }
    if views.views.is_empty() && views.pending.is_empty() {
        registry.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_unregister_and_forget() {
        let inbox = Uuid::new_v4();
        let a = View::open(inbox, 1);
        let b = View::open(inbox, 1);
        let record = MessageRecord {
            uid: 7,
            blob: [0; 32],
            email_id: Uuid::nil(),
            size: 0,
            internal_date: 0,
            flags: Default::default(),
            modseq: 1,
        };
        {
            let mut registry = REGISTRY.lock();
            let views = registry.get_mut(&(inbox, 1)).expect("registered");
            let kept = Kept {
                record,
                raw: None,
                summary: None,
            };
            views.pending.insert(7, (Arc::new(kept), 1));
        }
        assert!(b.kept(7).is_some(), "pending copies are readable");
        expunged(inbox, 1, &[7], &[7], Some(&a));
        assert!(a.kept(7).is_none(), "the expunging view keeps nothing");
        assert!(b.kept(7).is_some());
        b.forget(&[7]);
        assert!(b.kept(7).is_none());
        drop(a);
        drop(b);
        assert!(!REGISTRY.lock().contains_key(&(inbox, 1)));
    }
}
