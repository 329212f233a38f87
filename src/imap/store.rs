//! STORE and UID STORE (RFC 3501 6.4.6), with CONDSTORE UNCHANGEDSINCE (RFC 7162
//! 3.1.3).

use super::flags::from_imap;
use super::response::code;
use super::selected::uid_set;
use super::session::{Res, Session};
use crate::store::FlagOp;
use imap_codec::imap_types::command::StoreModifier;
use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_codec::imap_types::response::Code;
use imap_codec::imap_types::sequence::SequenceSet;

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub async fn cmd_store(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[Flag<'_>],
        uid: bool,
        modifiers: &[StoreModifier],
    ) -> Res {
        let unchanged_since = modifiers
            .iter()
            .map(|m| match m {
                StoreModifier::UnchangedSince(v) => *v,
            })
            .next();
        if unchanged_since.is_some() {
            self.enabled.condstore = true;
        }
        self.sync_selected(uid);
        let inbox = self.inbox_id();
        let style = self.style();
        let Some(selected) = self.selected.as_ref() else {
            self.out.bad(tag, None, "No mailbox selected");
            return self.count_bad();
        };
        if selected.read_only {
            self.out.no(tag, Some(code("READ-ONLY")), "Mailbox is read-only");
            return Ok(());
        }
        let uids = match selected.live_uids(set, uid) {
            Ok(uids) => uids,
            Err(_) => {
                self.out.bad(tag, None, "Invalid message sequence number");
                return self.count_bad();
            }
        };
        let mailbox = selected.mailbox;
        let op = match kind {
            StoreType::Add => FlagOp::Add,
            StoreType::Remove => FlagOp::Remove,
            StoreType::Replace => FlagOp::Replace,
        };
        let wanted = from_imap(flags);
        let (updated, modified) = match self
            .ctx
            .store
            .store_flags(inbox, mailbox, &uids, op, &wanted, unchanged_since)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.server_error(tag, e);
                return Ok(());
            }
        };
        if updated.iter().any(|(_, changed)| *changed) {
            self.notify_changed();
        }
        let Some(selected) = self.selected.as_mut() else {
            return Ok(());
        };
        for (record, _) in &updated {
            selected.set_flags(record.uid, record.flags.system, &record.flags.keywords);
        }
        selected.announce_flags(&mut self.out);
        let silent = response == StoreResponse::Silent;
        for (record, changed) in &updated {
            // RFC 7162 3.2: with UNCHANGEDSINCE, unchanged messages are still reported.
            if !silent || (*changed && style.condstore && unchanged_since.is_some()) {
                selected.flag_fetch(&mut self.out, record.uid, style, Some(record.modseq));
            }
        }
        if modified.is_empty() {
            self.out.ok(tag, None, "STORE completed");
        } else {
            let mut ids: Vec<u32> = if uid {
                modified
            } else {
                modified
                    .iter()
                    .filter_map(|u| selected.index_of(*u).map(|i| i as u32 + 1))
                    .collect()
            };
            ids.sort_unstable();
            match uid_set(&ids) {
                Some(set) => self.out.ok(tag, Some(Code::Modified(set)), "Conditional STORE failed"),
                None => self.out.ok(tag, None, "STORE completed"),
            }
        }
        Ok(())
    }
}
