//! EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315 2.1).

use super::response::code;
use super::retain;
use super::session::{Res, Session};
use imap_codec::imap_types::sequence::SequenceSet;

impl Session {
    pub async fn cmd_expunge(&mut self, tag: &str, set: Option<&SequenceSet>) -> Res {
        let inbox = self.inbox_id();
        let Some(selected) = self.selected.as_mut() else {
            self.out.bad(tag, None, "No mailbox selected");
            return self.count_bad();
        };
        if selected.read_only {
            self.out.no(tag, Some(code("READ-ONLY")), "Mailbox is read-only");
            return Ok(());
        }
        // Brought up to date from the change log, our view knows every message
        // flagged \Deleted so far: the store need not rescan the mailbox, and removes
        // only those still flagged when the write runs.
        if let Err(e) = selected.refresh(&self.ctx.store, inbox) {
            self.server_error(tag, e);
            return Ok(());
        }
        let indexes: Vec<usize> = match set {
            Some(set) => match selected.resolve(set, true) {
                Ok(indexes) => indexes,
                Err(_) => {
                    self.out.bad(tag, None, "Invalid UID set");
                    return self.count_bad();
                }
            },
            None => (0..selected.uids.len()).collect(),
        };
        let candidates = selected.flagged_deleted(&indexes);
        let mailbox = selected.mailbox;
        let store = &self.ctx.store;
        let kept = retain::before_expunge(store, inbox, mailbox, &candidates);
        let result = store.expunge_flagged(inbox, mailbox, candidates).await;
        let removed = result.as_deref().unwrap_or_default();
        retain::expunged(inbox, mailbox, &kept, removed, self.selected.as_ref().map(|s| &s.view));
        match result {
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
