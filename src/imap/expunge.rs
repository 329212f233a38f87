//! EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315 2.1).

use super::response::code;
use super::session::{Res, Session};
use imap_codec::imap_types::sequence::SequenceSet;

impl Session {
    pub async fn cmd_expunge(&mut self, tag: &str, set: Option<&SequenceSet>) -> Res {
        let inbox = self.inbox_id();
        let Some(selected) = self.selected.as_ref() else {
            self.out.bad(tag, None, "No mailbox selected");
            return self.count_bad();
        };
        if selected.read_only {
            self.out.no(tag, Some(code("READ-ONLY")), "Mailbox is read-only");
            return Ok(());
        }
        let mailbox = selected.mailbox;
        let only: Option<Vec<u32>> = match set {
            Some(set) => match selected.resolve(set, true) {
                Ok(indexes) => Some(indexes.iter().filter_map(|&i| selected.uids.get(i).copied()).collect()),
                Err(_) => {
                    self.out.bad(tag, None, "Invalid UID set");
                    return self.count_bad();
                }
            },
            None => None,
        };
        match self.ctx.store.expunge(inbox, mailbox, only.as_deref()).await {
            Ok(removed) => {
                if !removed.is_empty() {
                    self.notify_changed();
                }
                // Our own removals come back through the change log as EXPUNGE.
                self.sync_selected(true);
                self.out.ok(tag, None, "EXPUNGE completed");
            }
            Err(e) => self.server_error(tag, e),
        }
        Ok(())
    }
}
