//! SELECT and EXAMINE (with CONDSTORE and QRESYNC parameters), CLOSE and UNSELECT,
//! and bringing the selected mailbox up to date between commands.

use super::flags::{SYSTEM_MASK, mailbox_flags, permanent_flags};
use super::response::code;
use super::retain;
use super::selected::{Selected, Style, uid_set};
use super::session::{Res, Session, State};
use crate::store::flag;
use imap_codec::imap_types::command::SelectParameter;
use imap_codec::imap_types::core::Vec1;
use imap_codec::imap_types::fetch::MessageDataItem;
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::{Code, Data};
use imap_codec::imap_types::sequence::SequenceSet;
use std::num::{NonZeroU32, NonZeroU64};

impl Session {
    pub fn style(&self) -> Style {
        Style {
            condstore: self.enabled.condstore,
            qresync: self.enabled.qresync,
            rev2: self.enabled.rev2,
        }
    }

    /// Applies the change log and writes what the client may be told now.
    pub fn sync_selected(&mut self, expunge_allowed: bool) {
        let inbox = self.inbox_id();
        let style = self.style();
        let Some(selected) = self.selected.as_mut() else { return };
        if let Err(e) = selected.refresh(&self.ctx.store, inbox) {
            tracing::error!(error = %e, "imap: refreshing the selected mailbox failed");
            return;
        }
        selected.announce(&mut self.out, expunge_allowed, style);
        if selected.vanished_mailbox {
            // The mailbox was deleted by another session: leave the selected state.
            self.selected = None;
            self.state = State::Authenticated;
            self.out.untagged_ok(Some(code("CLOSED")), "Mailbox was deleted");
        }
    }

    pub async fn cmd_select(
        &mut self,
        tag: &str,
        mailbox: &Mailbox<'_>,
        read_only: bool,
        parameters: Vec<SelectParameter>,
    ) -> Res {
        if self.selected.take().is_some() {
            self.state = State::Authenticated;
            if self.enabled.qresync {
                // RFC 7162 3.2.11.
                self.out.untagged_ok(Some(code("CLOSED")), "Previous mailbox closed");
            }
        }
        let mut qresync = None;
        for p in parameters {
            match p {
                SelectParameter::CondStore => self.enabled.condstore = true,
                SelectParameter::QResync {
                    uid_validity,
                    mod_sequence_value,
                    known_uids,
                    ..
                } => {
                    if !self.enabled.qresync {
                        self.out.bad(tag, None, "QRESYNC is not enabled");
                        return self.count_bad();
                    }
                    qresync = Some((uid_validity.get(), mod_sequence_value.get(), known_uids));
                }
            }
        }
        let Some(name) = self.mailbox_name(mailbox) else {
            self.out.no(tag, Some(code("NONEXISTENT")), "No such mailbox");
            return Ok(());
        };
        let inbox = self.inbox_id();
        let store = &self.ctx.store;
        let record = match store.mailbox_by_name(inbox, &name) {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.out.no(tag, Some(code("NONEXISTENT")), "No such mailbox");
                return Ok(());
            }
            Err(e) => {
                self.server_error(tag, e);
                return Ok(());
            }
        };
        let selected = match Selected::load(store, inbox, &record, read_only) {
            Ok(s) => s,
            Err(e) => {
                self.server_error(tag, e);
                return Ok(());
            }
        };
        let keywords = selected.announced_keywords();
        self.out.data(Data::Flags(mailbox_flags(&keywords)));
        self.out.data(Data::Exists(selected.exists()));
        if !self.enabled.rev2 {
            self.out.data(Data::Recent(selected.recent()));
            if let Some(i) = selected.flags.iter().position(|f| f & SYSTEM_MASK & flag::SEEN == 0)
                && let Some(seq) = NonZeroU32::new(i as u32 + 1)
            {
                self.out.untagged_ok(Some(Code::Unseen(seq)), "First unseen");
            }
        }
        let perm = if read_only {
            Vec::new()
        } else {
            permanent_flags(&keywords)
        };
        self.out
            .untagged_ok(Some(Code::PermanentFlags(perm)), "Flags permitted");
        if let Some(v) = NonZeroU32::new(selected.uidvalidity) {
            self.out.untagged_ok(Some(Code::UidValidity(v)), "UIDs valid");
        }
        if let Some(n) = NonZeroU32::new(record.uidnext) {
            self.out.untagged_ok(Some(Code::UidNext(n)), "Predicted next UID");
        }
        match NonZeroU64::new(selected.highest_modseq) {
            Some(m) => self.out.untagged_ok(Some(Code::HighestModSeq(m)), "Highest"),
            None => self.out.untagged_ok(Some(Code::NoModSeq), "No modseq yet"),
        }
        if let Some((validity, since, known)) = qresync
            && validity == selected.uidvalidity
            && let Err(e) = self.qresync_catch_up(&selected, since, known.as_ref())
        {
            self.server_error(tag, e);
            return Ok(());
        }
        self.selected = Some(selected);
        self.state = State::Selected;
        let (c, text) = if read_only {
            (Code::ReadOnly, "EXAMINE completed")
        } else {
            (Code::ReadWrite, "SELECT completed")
        };
        self.out.ok(tag, Some(c), text);
        Ok(())
    }

    /// RFC 7162 3.2.5.2: what changed since the client's modseq: VANISHED (EARLIER)
    /// then FETCH of the changed messages.
    fn qresync_catch_up(
        &mut self,
        selected: &Selected,
        since: u64,
        known: Option<&SequenceSet>,
    ) -> Result<(), crate::store::StoreError> {
        let inbox = self.inbox_id();
        let mut vanished: Vec<u32> = self
            .ctx
            .store
            .changes_since(inbox, since)?
            .into_iter()
            .filter(|(_, c)| c.mailbox == selected.mailbox && c.kind == crate::store::ChangeKind::Expunged)
            .map(|(_, c)| c.uid)
            .filter(|uid| known.is_none_or(|set| contains_uid(set, *uid)))
            .collect();
        vanished.sort_unstable();
        vanished.dedup();
        if let Some(set) = uid_set(&vanished) {
            self.out.data(Data::Vanished {
                earlier: true,
                known_uids: set,
            });
        }
        for record in self.ctx.store.messages(inbox, selected.mailbox)? {
            if record.modseq <= since {
                continue;
            }
            let (Some(i), Some(uid), Some(modseq)) = (
                selected.index_of(record.uid),
                NonZeroU32::new(record.uid),
                NonZeroU64::new(record.modseq),
            ) else {
                continue;
            };
            let Some(seq) = NonZeroU32::new(i as u32 + 1) else {
                continue;
            };
            let items = vec![
                MessageDataItem::Uid(uid),
                MessageDataItem::Flags(super::flags::to_fetch(selected.flags[i], &record.flags.keywords)),
                MessageDataItem::ModSeq(modseq),
            ];
            self.out.data(Data::Fetch {
                seq,
                items: Vec1::unvalidated(items),
            });
        }
        Ok(())
    }

    /// CLOSE expunges silently (RFC 3501 6.4.2); UNSELECT does not (RFC 3691).
    pub async fn cmd_close(&mut self, tag: &str, expunge: bool) -> Res {
        let Some(selected) = self.selected.take() else {
            self.out.bad(tag, None, "No mailbox selected");
            return self.count_bad();
        };
        self.state = State::Authenticated;
        if expunge && !selected.read_only {
            let inbox = self.inbox_id();
            let store = self.ctx.store.clone();
            let mailbox = selected.mailbox;
            drop(selected);
            // What the store's own expunge would scan for, known first so that the
            // other sessions' views can keep serving it (RFC 2180 4.1).
            let candidates: Vec<u32> = match store.messages(inbox, mailbox) {
                Ok(records) => records
                    .into_iter()
                    .filter(|m| m.flags.has(flag::DELETED))
                    .map(|m| m.uid)
                    .collect(),
                Err(e) => {
                    self.server_error(tag, e);
                    return Ok(());
                }
            };
            let kept = retain::before_expunge(&store, inbox, mailbox, &candidates);
            let result = store.expunge_flagged(inbox, mailbox, candidates).await;
            retain::expunged(inbox, mailbox, &kept, result.as_deref().unwrap_or_default(), None);
            match result {
                Ok(removed) => {
                    if !removed.is_empty() {
                        self.notify_changed();
                    }
                }
                Err(e) => {
                    self.server_error(tag, e);
                    return Ok(());
                }
            }
        }
        let name = if expunge { "CLOSE" } else { "UNSELECT" };
        self.out.ok(tag, None, &format!("{name} completed"));
        Ok(())
    }

    /// Tells every session of the inbox that the change log moved (after a commit).
    pub fn notify_changed(&self) {
        let inbox = self.inbox_id();
        if let Ok(modseq) = self.ctx.store.inbox_modseq(inbox) {
            self.ctx.events.changed(inbox, modseq);
        }
    }
}

fn contains_uid(set: &SequenceSet, uid: u32) -> bool {
    use imap_codec::imap_types::sequence::{SeqOrUid, Sequence};
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => u32::MAX,
    };
    set.0.as_ref().iter().any(|s| match s {
        Sequence::Single(v) => value(v) == uid,
        Sequence::Range(a, b) => {
            let (a, b) = (value(a), value(b));
            (a.min(b)..=a.max(b)).contains(&uid)
        }
    })
}
