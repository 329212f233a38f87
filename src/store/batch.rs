//! One batch of mail writes, staged in memory and then applied to the trees
//! with plain sled inserts and removes instead of a sled transaction.
//!
//! A sled transaction holds sled's global lock for its whole run and seals the
//! log buffer at commit, waking every sled I/O thread; with a write or two per
//! IMAP command that cost more CPU than the commands themselves. Here the writes
//! of a batch gather in a [`Batch`]; applying it writes them all, first as one
//! journal record (a single key, so sled writes it whole or not at all), then
//! key by key, then removes the record. A crash in between leaves the journal,
//! which [`replay`] applies again when the store opens: the batch lands entirely
//! or not at all. The mail trees have one writer at a time, whoever holds
//! [`MailTrees::lock`], so nothing changes a key between staging and applying.
//!
//! New blobs (raw bytes and summaries, keyed by their SHA-256) are written before
//! the journal rather than inside it, so a large message is not written twice; a
//! crash before the journal leaves at most an unreferenced blob, never a
//! reference to a missing one.

use super::{Result, StoreError};
use parking_lot::Mutex;
use sled::IVec;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The mail trees, in the order a batch is applied: references and records
/// before the mailbox counters and the change log that announce them, and blob
/// removals last, after the records that pointed at them are gone.
const TREES: usize = 8;
const BLOBS: usize = 0;
const SUMMARIES: usize = 1;
const APPLY_ORDER: [usize; TREES] = [2, 3, 4, 5, 6, 7, BLOBS, SUMMARIES];

/// The meta-tree key of the journal record of a batch being applied.
const JOURNAL_KEY: &[u8] = b"mail_journal";
const JOURNAL_VERSION: u8 = 1;

/// Writes to one tree: the new value of each key, `None` for a removal.
type Writes = BTreeMap<Vec<u8>, Option<IVec>>;

/// The trees mail writes touch, and the lock their one writer holds.
#[derive(Clone)]
pub(super) struct MailTrees {
    pub blobs: sled::Tree,
    pub summaries: sled::Tree,
    pub blob_refs: sled::Tree,
    pub messages: sled::Tree,
    pub mailboxes: sled::Tree,
    pub mailbox_names: sled::Tree,
    pub inbox_state: sled::Tree,
    pub changes: sled::Tree,
    /// Where the journal record lives.
    pub meta: sled::Tree,
    /// Held while a batch is staged and applied, and by any other code that
    /// writes these trees (creating or deleting an inbox).
    pub lock: Arc<Mutex<()>>,
}

impl MailTrees {
    fn by_index(&self) -> [&sled::Tree; TREES] {
        [
            &self.blobs,
            &self.summaries,
            &self.blob_refs,
            &self.messages,
            &self.mailboxes,
            &self.mailbox_names,
            &self.inbox_state,
            &self.changes,
        ]
    }
}

/// One tree as a write sees it: the stored contents under the batch's earlier
/// writes and this write's own.
pub(super) struct Staged<'a> {
    tree: &'a sled::Tree,
    batch: &'a Writes,
    own: RefCell<Writes>,
}

impl Staged<'_> {
    pub fn get(&self, k: impl AsRef<[u8]>) -> Result<Option<IVec>> {
        let k = k.as_ref();
        if let Some(v) = self.own.borrow().get(k) {
            return Ok(v.clone());
        }
        if let Some(v) = self.batch.get(k) {
            return Ok(v.clone());
        }
        Ok(self.tree.get(k)?)
    }

    pub fn insert(&self, k: impl AsRef<[u8]>, v: impl Into<IVec>) {
        self.own.borrow_mut().insert(k.as_ref().to_vec(), Some(v.into()));
    }

    pub fn remove(&self, k: impl AsRef<[u8]>) {
        self.own.borrow_mut().insert(k.as_ref().to_vec(), None);
    }
}

/// The mail trees as one write in a batch sees them.
pub(super) struct MailTx<'a> {
    pub blobs: Staged<'a>,
    pub summaries: Staged<'a>,
    pub blob_refs: Staged<'a>,
    pub messages: Staged<'a>,
    pub mailboxes: Staged<'a>,
    pub mailbox_names: Staged<'a>,
    pub inbox_state: Staged<'a>,
    pub changes: Staged<'a>,
}

impl<'a> MailTx<'a> {
    fn over(trees: &'a MailTrees, batch: &'a [Writes; TREES]) -> MailTx<'a> {
        let targets = trees.by_index();
        let [
            blobs,
            summaries,
            blob_refs,
            messages,
            mailboxes,
            mailbox_names,
            inbox_state,
            changes,
        ] = std::array::from_fn(|i| Staged {
            tree: targets[i],
            batch: &batch[i],
            own: RefCell::default(),
        });
        MailTx {
            blobs,
            summaries,
            blob_refs,
            messages,
            mailboxes,
            mailbox_names,
            inbox_state,
            changes,
        }
    }

    fn into_writes(self) -> [Writes; TREES] {
        [
            self.blobs,
            self.summaries,
            self.blob_refs,
            self.messages,
            self.mailboxes,
            self.mailbox_names,
            self.inbox_state,
            self.changes,
        ]
        .map(|staged| staged.own.into_inner())
    }
}

/// Writes staged for one batch. Later writes see earlier ones, so a batch does
/// what its writes would do one after another.
#[derive(Default)]
pub(super) struct Batch {
    writes: [Writes; TREES],
}

impl Batch {
    /// Runs one write against the batch; its changes join the batch only if it
    /// succeeds, so a failing write leaves no trace and fails alone.
    pub fn run<T, E>(&mut self, trees: &MailTrees, op: impl FnOnce(&MailTx<'_>) -> Result<T, E>) -> Result<T, E> {
        let tx = MailTx::over(trees, &self.writes);
        let value = op(&tx)?;
        let staged = tx.into_writes();
        for (batch, own) in self.writes.iter_mut().zip(staged) {
            batch.extend(own);
        }
        Ok(value)
    }

    /// Writes the batch to the trees (the caller holds [`MailTrees::lock`]).
    pub fn apply(self, trees: &MailTrees) -> Result<()> {
        let targets = trees.by_index();
        self.write_new_blobs(&targets)?;
        let entries = self.journal_entries();
        // One key needs no journal: sled writes it atomically.
        let journaled = entries.len() > 1;
        if journaled {
            trees.meta.insert(JOURNAL_KEY, encode_journal(&entries))?;
        }
        apply_entries(&targets, &entries)?;
        if journaled {
            trees.meta.remove(JOURNAL_KEY)?;
        }
        Ok(())
    }

    /// Content-addressed, so writing one again is harmless.
    fn write_new_blobs(&self, targets: &[&sled::Tree; TREES]) -> Result<()> {
        for i in [BLOBS, SUMMARIES] {
            for (k, v) in &self.writes[i] {
                if let Some(v) = v {
                    targets[i].insert(k.as_slice(), v.clone())?;
                }
            }
        }
        Ok(())
    }

    /// Every write except the new blobs, in [`APPLY_ORDER`].
    fn journal_entries(&self) -> Vec<Entry<'_>> {
        APPLY_ORDER
            .iter()
            .flat_map(|&i| self.writes[i].iter().map(move |(k, v)| (i, k.as_slice(), v.as_deref())))
            .filter(|(i, _, v)| !(matches!(*i, BLOBS | SUMMARIES) && v.is_some()))
            .collect()
    }

    /// What a crash right after writing the journal leaves on disk.
    #[cfg(test)]
    pub fn journal_only(self, trees: &MailTrees) -> Result<()> {
        self.write_new_blobs(&trees.by_index())?;
        trees
            .meta
            .insert(JOURNAL_KEY, encode_journal(&self.journal_entries()))?;
        Ok(())
    }
}

/// Applies the journal a crash left behind, if any; true when there was one.
pub(super) fn replay(trees: &MailTrees) -> Result<bool> {
    let Some(record) = trees.meta.get(JOURNAL_KEY)? else {
        return Ok(false);
    };
    let entries = decode_journal(&record)?;
    apply_entries(&trees.by_index(), &entries)?;
    trees.meta.remove(JOURNAL_KEY)?;
    Ok(true)
}

fn apply_entries(targets: &[&sled::Tree; TREES], entries: &[Entry<'_>]) -> Result<()> {
    for &(i, k, v) in entries {
        match v {
            Some(v) => targets[i].insert(k, v)?,
            None => targets[i].remove(k)?,
        };
    }
    Ok(())
}

/// One write: the tree's index, the key, the new value or `None` for a removal.
type Entry<'a> = (usize, &'a [u8], Option<&'a [u8]>);

/// Version, entry count (u32 BE), then per entry: tree, key length (u32 BE),
/// key, 0 for a removal or 1 followed by value length (u32 BE) and value.
fn encode_journal(entries: &[Entry<'_>]) -> Vec<u8> {
    let size: usize = entries
        .iter()
        .map(|(_, k, v)| 10 + k.len() + v.map_or(0, <[u8]>::len))
        .sum();
    let mut out = Vec::with_capacity(5 + size);
    out.push(JOURNAL_VERSION);
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for &(i, k, v) in entries {
        out.push(i as u8);
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k);
        match v {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&(v.len() as u32).to_be_bytes());
                out.extend_from_slice(v);
            }
        }
    }
    out
}

fn decode_journal(record: &[u8]) -> Result<Vec<Entry<'_>>> {
    let corrupt = || StoreError::Corrupt("undecodable mail journal".into());
    let (&version, mut rest) = record.split_first().ok_or_else(corrupt)?;
    if version != JOURNAL_VERSION {
        return Err(corrupt());
    }
    let mut take = |n: usize| -> Result<&[u8]> {
        if rest.len() < n {
            return Err(corrupt());
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let count = u32::from_be_bytes(take(4)?.try_into().map_err(|_| corrupt())?) as usize;
    // Bounded by what the record can hold, whatever the count claims.
    let mut entries = Vec::with_capacity(count.min(record.len() / 10));
    for _ in 0..count {
        let tree = take(1)?[0] as usize;
        if tree >= TREES {
            return Err(corrupt());
        }
        let klen = u32::from_be_bytes(take(4)?.try_into().map_err(|_| corrupt())?) as usize;
        let k = take(klen)?;
        let value = match take(1)?[0] {
            0 => None,
            1 => {
                let vlen = u32::from_be_bytes(take(4)?.try_into().map_err(|_| corrupt())?) as usize;
                Some(take(vlen)?)
            }
            _ => return Err(corrupt()),
        };
        entries.push((tree, k, value));
    }
    if !rest.is_empty() {
        return Err(corrupt());
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_round_trips_and_refuses_damage() {
        let entries: Vec<Entry<'_>> = vec![(3, b"k1", Some(b"v1")), (7, b"", None), (0, b"k3", Some(b""))];
        let bytes = encode_journal(&entries);
        assert_eq!(decode_journal(&bytes).unwrap(), entries);
        for cut in 0..bytes.len() {
            assert!(decode_journal(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_journal(&longer).is_err());
        let mut bad_tree = bytes.clone();
        bad_tree[5] = 99;
        assert!(decode_journal(&bad_tree).is_err());
        assert!(decode_journal(&[]).is_err());
        assert!(decode_journal(&[2]).is_err());
    }
}
