//! The selected mailbox as this session knows it: sequence number <-> UID map and
//! flags, kept compact (a `Vec<u32>` of UIDs and a byte of flags each) and brought up
//! to date from the store's change log rather than by rescanning the mailbox.
//!
//! Changes made by anyone become pending announcements: EXISTS, FETCH FLAGS, and
//! EXPUNGE (or VANISHED under QRESYNC), sent when the protocol allows (RFC 3501
//! 7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH).

use super::flags::{GONE, RECENT, SYSTEM_MASK, mailbox_flags, permanent_flags, to_fetch};
use super::response::Out;
use super::retain::View;
use crate::store::flag::DELETED as DELETED_BIT;
use crate::store::{ChangeKind, Mailbox, Store, StoreError};
use imap_codec::imap_types::core::Vec1;
use imap_codec::imap_types::fetch::MessageDataItem;
use imap_codec::imap_types::response::Code;
use imap_codec::imap_types::response::Data;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use std::collections::{BTreeMap, HashMap};
use std::num::{NonZeroU32, NonZeroU64};
use uuid::Uuid;

pub struct Selected {
    pub mailbox: u32,
    pub read_only: bool,
    pub uidvalidity: u32,
    /// UIDs in sequence order (index = seq - 1).
    pub uids: Vec<u32>,
    /// System flag bits plus RECENT / GONE, parallel to `uids`.
    pub flags: Vec<u8>,
    /// Keywords of the messages that have any.
    pub keywords: HashMap<u32, Vec<String>>,
    /// The inbox change-log position this snapshot reflects.
    pub modseq: u64,
    pub highest_modseq: u64,
    /// The mailbox was deleted or renamed away under us.
    pub vanished_mailbox: bool,
    pending_exists: bool,
    /// How many messages the client was told exist (EXISTS minus EXPUNGEs since).
    told: usize,
    /// (uid, modseq) of flag changes to announce.
    pending_flags: Vec<(u32, u64)>,
    gone: usize,
    /// Keywords the client was told of in FLAGS, by lower-cased name (RFC 3501 7.2.6:
    /// a keyword is announced before a FETCH carries it).
    announced: BTreeMap<String, String>,
    /// A keyword in the view is not in `announced` yet.
    flags_stale: bool,
    /// Copies of messages other sessions expunged that this client still sees.
    pub view: View,
}

/// How announcements are worded for this client.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub condstore: bool,
    pub qresync: bool,
    pub rev2: bool,
}

/// A sequence set named a message number that does not exist.
#[derive(Debug)]
pub struct BadSequence;

impl Selected {
    /// Loads the snapshot. The change-log position is read before the messages, so a
    /// change racing the load is applied (idempotently) by the next refresh.
    pub fn load(store: &Store, inbox: Uuid, mailbox: &Mailbox, read_only: bool) -> Result<Selected, StoreError> {
        // Registered first: an expunge from now on keeps what this snapshot may show.
        let view = View::open(inbox, mailbox.id);
        let modseq = store.inbox_modseq(inbox)?;
        let records = store.messages(inbox, mailbox.id)?;
        // Claiming \Recent writes the mailbox record: only when there is something new.
        let recent_from = if read_only || mailbox.recent_from_uid >= mailbox.uidnext {
            u32::MAX
        } else {
            store.claim_recent(inbox, mailbox.id)?
        };
        let mut s = Selected {
            mailbox: mailbox.id,
            read_only,
            uidvalidity: mailbox.uidvalidity,
            uids: Vec::with_capacity(records.len()),
            flags: Vec::with_capacity(records.len()),
            keywords: HashMap::new(),
            modseq,
            highest_modseq: mailbox.highest_modseq,
            vanished_mailbox: false,
            pending_exists: false,
            told: 0,
            pending_flags: Vec::new(),
            gone: 0,
            announced: BTreeMap::new(),
            flags_stale: false,
            view,
        };
        for r in records {
            let mut bits = r.flags.system & SYSTEM_MASK;
            if r.uid >= recent_from {
                bits |= RECENT;
            }
            s.uids.push(r.uid);
            s.flags.push(bits);
            if !r.flags.keywords.is_empty() {
                s.keywords.insert(r.uid, r.flags.keywords);
            }
        }
        s.uids.shrink_to_fit();
        s.flags.shrink_to_fit();
        s.told = s.uids.len();
        for k in s.used_keywords() {
            s.announced.insert(k.to_ascii_lowercase(), k);
        }
        Ok(s)
    }

    /// The keywords announced so far (for FLAGS and PERMANENTFLAGS).
    pub fn announced_keywords(&self) -> Vec<String> {
        self.announced.values().cloned().collect()
    }

    /// Notes keywords about to be shown; unknown ones make FLAGS stale.
    pub fn note_keywords(&mut self, keywords: &[String]) {
        for k in keywords {
            if let std::collections::btree_map::Entry::Vacant(e) = self.announced.entry(k.to_ascii_lowercase()) {
                e.insert(k.clone());
                self.flags_stale = true;
            }
        }
    }

    /// `* FLAGS` and `* OK [PERMANENTFLAGS]` again when a keyword is new to the client;
    /// called before any FETCH that may carry it.
    pub fn announce_flags(&mut self, out: &mut Out) {
        if !self.flags_stale {
            return;
        }
        self.flags_stale = false;
        let keywords = self.announced_keywords();
        out.data(Data::Flags(mailbox_flags(&keywords)));
        if !self.read_only {
            out.untagged_ok(
                Some(Code::PermanentFlags(permanent_flags(&keywords))),
                "Flags permitted",
            );
        }
    }

    pub fn exists(&self) -> u32 {
        self.uids.len() as u32
    }

    pub fn recent(&self) -> u32 {
        self.flags.iter().filter(|f| *f & RECENT != 0).count() as u32
    }

    pub fn last_uid(&self) -> u32 {
        self.uids.last().copied().unwrap_or(0)
    }

    pub fn index_of(&self, uid: u32) -> Option<usize> {
        self.uids.binary_search(&uid).ok()
    }

    pub fn is_gone(&self, index: usize) -> bool {
        self.flags.get(index).is_some_and(|f| f & GONE != 0)
    }

    /// The UIDs at `indexes` that this view shows flagged \Deleted, ascending.
    pub fn flagged_deleted(&self, indexes: &[usize]) -> Vec<u32> {
        let mut uids: Vec<u32> = indexes
            .iter()
            .filter(|&&i| self.flags.get(i).is_some_and(|f| f & GONE == 0 && f & DELETED_BIT != 0))
            .filter_map(|&i| self.uids.get(i).copied())
            .collect();
        uids.sort_unstable();
        uids.dedup();
        uids
    }

    pub fn keywords_of(&self, uid: u32) -> &[String] {
        self.keywords.get(&uid).map(Vec::as_slice).unwrap_or_default()
    }

    /// Keywords in use in the mailbox (for the FLAGS response).
    pub fn used_keywords(&self) -> Vec<String> {
        let mut all: Vec<String> = self.keywords.values().flatten().cloned().collect();
        all.sort_unstable_by_key(|k| k.to_ascii_lowercase());
        all.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        all
    }

    /// Records flags this session itself set, so they are not announced again.
    pub fn set_flags(&mut self, uid: u32, system: u8, keywords: &[String]) {
        if let Some(i) = self.index_of(uid) {
            self.flags[i] = (self.flags[i] & !SYSTEM_MASK) | (system & SYSTEM_MASK);
            if keywords.is_empty() {
                self.keywords.remove(&uid);
            } else {
                self.note_keywords(keywords);
                self.keywords.insert(uid, keywords.to_vec());
            }
        }
    }

    /// Applies the change log since the snapshot's position.
    pub fn refresh(&mut self, store: &Store, inbox: Uuid) -> Result<(), StoreError> {
        let changes = store.changes_since(inbox, self.modseq)?;
        let mut arrived = false;
        for (modseq, change) in changes {
            self.modseq = modseq;
            if change.mailbox != self.mailbox {
                continue;
            }
            match change.kind {
                ChangeKind::Added => {
                    if change.uid <= self.last_uid() {
                        continue;
                    }
                    if let Some(record) = store.message(inbox, self.mailbox, change.uid)? {
                        self.uids.push(record.uid);
                        self.flags.push(record.flags.system & SYSTEM_MASK);
                        if !record.flags.keywords.is_empty() {
                            self.note_keywords(&record.flags.keywords);
                            self.keywords.insert(record.uid, record.flags.keywords);
                        }
                        self.pending_exists = true;
                        arrived = true;
                    }
                    self.highest_modseq = self.highest_modseq.max(modseq);
                }
                ChangeKind::Flags => {
                    self.highest_modseq = self.highest_modseq.max(modseq);
                    let Some(i) = self.index_of(change.uid) else { continue };
                    if self.flags[i] & GONE != 0 {
                        continue;
                    }
                    let Some(record) = store.message(inbox, self.mailbox, change.uid)? else {
                        continue;
                    };
                    let now = record.flags.system & SYSTEM_MASK;
                    let same_keywords = self.keywords_of(change.uid) == record.flags.keywords.as_slice();
                    if self.flags[i] & SYSTEM_MASK != now || !same_keywords {
                        self.set_flags(change.uid, now, &record.flags.keywords);
                        self.pending_flags.push((change.uid, record.modseq));
                    }
                }
                ChangeKind::Expunged => {
                    self.highest_modseq = self.highest_modseq.max(modseq);
                    if let Some(i) = self.index_of(change.uid)
                        && self.flags[i] & GONE == 0
                    {
                        self.flags[i] |= GONE;
                        self.gone += 1;
                    }
                }
                ChangeKind::MailboxDeleted => self.vanished_mailbox = true,
                ChangeKind::MailboxRenamed | ChangeKind::MailboxCreated => {}
            }
        }
        if arrived && !self.read_only {
            // New arrivals are \Recent for the first session told about them.
            let from = store.claim_recent(inbox, self.mailbox)?;
            for (i, uid) in self.uids.iter().enumerate().rev() {
                if *uid < from {
                    break;
                }
                if let Some(f) = self.flags.get_mut(i) {
                    *f |= RECENT;
                }
            }
        }
        Ok(())
    }

    /// Writes pending untagged responses. EXPUNGE/VANISHED only when
    /// `expunge_allowed` (RFC 3501 7.4.1).
    pub fn announce(&mut self, out: &mut Out, expunge_allowed: bool, style: Style) {
        self.announce_flags(out);
        if expunge_allowed && self.gone > 0 {
            let mut vanished = Vec::new();
            let mut removed = Vec::new();
            for i in (0..self.uids.len()).rev() {
                if self.flags[i] & GONE == 0 {
                    continue;
                }
                let uid = self.uids.remove(i);
                removed.push(uid);
                self.flags.remove(i);
                self.keywords.remove(&uid);
                if i >= self.told {
                    // Arrived and left before the client heard of it: the numbers
                    // it knows are unchanged, so there is nothing to say.
                    continue;
                }
                self.told -= 1;
                if style.qresync {
                    vanished.push(uid);
                } else if let Some(seq) = NonZeroU32::new(i as u32 + 1) {
                    out.data(Data::Expunge(seq));
                }
            }
            self.gone = 0;
            self.view.forget(&removed);
            if !vanished.is_empty() {
                vanished.reverse();
                if let Some(set) = uid_set(&vanished) {
                    // RFC 7162 3.2.10: VANISHED replaces EXPUNGE once QRESYNC is on.
                    out.data(Data::Vanished {
                        earlier: false,
                        known_uids: set,
                    });
                }
            }
            self.pending_flags
                .retain(|(uid, _)| self.uids.binary_search(uid).is_ok());
        }
        if self.pending_exists {
            self.pending_exists = false;
            out.data(Data::Exists(self.exists()));
            self.told = self.uids.len();
            if !style.rev2 {
                out.data(Data::Recent(self.recent()));
            }
        }
        if !self.pending_flags.is_empty() {
            let mut uids = std::mem::take(&mut self.pending_flags);
            uids.sort_unstable();
            // The latest change of each message wins.
            uids.dedup_by(|later, earlier| {
                if later.0 == earlier.0 {
                    earlier.1 = earlier.1.max(later.1);
                    true
                } else {
                    false
                }
            });
            for (uid, modseq) in uids {
                self.flag_fetch(out, uid, style, Some(modseq));
            }
        }
    }

    /// `* n FETCH (FLAGS (...) UID u [MODSEQ (m)])` for one message.
    pub fn flag_fetch(&self, out: &mut Out, uid: u32, style: Style, modseq: Option<u64>) {
        let Some(i) = self.index_of(uid) else { return };
        let (Some(seq), Some(uid_nz)) = (NonZeroU32::new(i as u32 + 1), NonZeroU32::new(uid)) else {
            return;
        };
        let mut items = vec![
            MessageDataItem::Flags(to_fetch(self.flags[i], self.keywords_of(uid))),
            MessageDataItem::Uid(uid_nz),
        ];
        if style.condstore {
            let m = modseq.unwrap_or(self.highest_modseq);
            if let Some(m) = NonZeroU64::new(m) {
                items.push(MessageDataItem::ModSeq(m));
            }
        }
        out.data(Data::Fetch {
            seq,
            items: Vec1::unvalidated(items),
        });
    }

    /// The indexes a sequence set names, ascending and without repeats. Message
    /// numbers past the end are an error; UIDs that do not exist are skipped
    /// (RFC 3501 6.4.8). Ranges are walked through the snapshot, never number by number,
    /// so `1:4294967295` costs what the mailbox holds.
    /// The UIDs of the messages `set` names that are not expunged meanwhile.
    pub fn live_uids(&self, set: &SequenceSet, uid: bool) -> Result<Vec<u32>, BadSequence> {
        Ok(self
            .resolve(set, uid)?
            .into_iter()
            .filter(|&i| !self.is_gone(i))
            .filter_map(|i| self.uids.get(i).copied())
            .collect())
    }

    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, BadSequence> {
        let n = self.uids.len();
        let mut out = Vec::new();
        if uid {
            let star = self.last_uid();
            let value = |v: &SeqOrUid| match v {
                SeqOrUid::Value(v) => v.get(),
                SeqOrUid::Asterisk => star,
            };
            for s in set.0.as_ref() {
                let (lo, hi) = match s {
                    Sequence::Single(v) => (value(v), value(v)),
                    Sequence::Range(a, b) => {
                        let (a, b) = (value(a), value(b));
                        (a.min(b), a.max(b))
                    }
                };
                let start = self.uids.partition_point(|&u| u < lo);
                let end = self.uids.partition_point(|&u| u <= hi);
                out.extend(start..end);
            }
        } else {
            let star = n as u32;
            for s in set.0.as_ref() {
                match s {
                    Sequence::Single(SeqOrUid::Value(v)) => {
                        if v.get() as usize > n {
                            return Err(BadSequence);
                        }
                        out.push(v.get() as usize - 1);
                    }
                    Sequence::Single(SeqOrUid::Asterisk) => {
                        if n == 0 {
                            return Err(BadSequence);
                        }
                        out.push(n - 1);
                    }
                    Sequence::Range(a, b) => {
                        let value = |v: &SeqOrUid| match v {
                            SeqOrUid::Value(v) => v.get(),
                            SeqOrUid::Asterisk => star,
                        };
                        let (a, b) = (value(a), value(b));
                        let (lo, hi) = (a.min(b), a.max(b));
                        if n == 0 {
                            // `1:*` on an empty mailbox names nothing.
                            continue;
                        }
                        if lo as usize > n {
                            return Err(BadSequence);
                        }
                        let lo = lo.max(1) as usize;
                        let hi = (hi as usize).min(n);
                        out.extend(lo - 1..hi);
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// A UID set (ascending input) in compact `a:b,c` form.
pub fn uid_set(uids: &[u32]) -> Option<SequenceSet> {
    let mut seqs = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        let s = NonZeroU32::new(start)?;
        let e = NonZeroU32::new(end)?;
        seqs.push(if s == e {
            Sequence::Single(SeqOrUid::Value(s))
        } else {
            Sequence::Range(SeqOrUid::Value(s), SeqOrUid::Value(e))
        });
        i += 1;
    }
    Vec1::try_from(seqs).ok().map(SequenceSet)
}

/// The same as text (for ESEARCH and response codes we format ourselves).
pub fn uid_set_text(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}
