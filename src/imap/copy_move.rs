//! COPY / UID COPY (RFC 3501 6.4.7) and MOVE / UID MOVE (RFC 6851), answering
//! COPYUID (RFC 4315).

use super::response::code;
use super::retain;
use super::session::{Res, Session};
use imap_codec::imap_types::core::Vec1;
use imap_codec::imap_types::extensions::uidplus::{UidElement, UidSet};
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::Code;
use imap_codec::imap_types::sequence::SequenceSet;
use std::num::NonZeroU32;

/// COPYUID code for (source, destination) pairs; runs consecutive on both sides
/// become ranges, so both sets list UIDs in the same order.
fn copy_uid(uidvalidity: u32, pairs: &[(u32, u32)]) -> Option<Code<'static>> {
    let mut src = Vec::new();
    let mut dst = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let (s0, d0) = pairs[i];
        let mut j = i;
        while j + 1 < pairs.len() && pairs[j + 1].0 == pairs[j].0 + 1 && pairs[j + 1].1 == pairs[j].1 + 1 {
            j += 1;
        }
        let (s1, d1) = pairs[j];
        let element = |a: u32, b: u32| -> Option<UidElement> {
            let a = NonZeroU32::new(a)?;
            let b = NonZeroU32::new(b)?;
            Some(if a == b {
                UidElement::Single(a)
            } else {
                UidElement::Range(a, b)
            })
        };
        src.push(element(s0, s1)?);
        dst.push(element(d0, d1)?);
        i = j + 1;
    }
    Some(Code::CopyUid {
        uid_validity: NonZeroU32::new(uidvalidity)?,
        source: UidSet(Vec1::try_from(src).ok()?),
        destination: UidSet(Vec1::try_from(dst).ok()?),
    })
}

impl Session {
    pub async fn cmd_copy_move(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        mailbox: &Mailbox<'_>,
        uid: bool,
        moving: bool,
    ) -> Res {
        let inbox = self.inbox_id();
        let Some(selected) = self.selected.as_ref() else {
            self.out.bad(tag, None, "No mailbox selected");
            return self.count_bad();
        };
        if moving && selected.read_only {
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
        let from = selected.mailbox;
        let target = match self
            .mailbox_name(mailbox)
            .map(|n| self.ctx.store.mailbox_by_name(inbox, &n))
        {
            Some(Ok(Some(m))) => m,
            Some(Err(e)) => {
                self.server_error(tag, e);
                return Ok(());
            }
            _ => {
                self.out.no(tag, Some(Code::TryCreate), "No such mailbox");
                return Ok(());
            }
        };
        let store = self.ctx.store.clone();
        let result = if moving {
            let kept = retain::before_expunge(&store, inbox, from, &uids);
            let moved = store.move_messages(inbox, from, &uids, target.id).await;
            let mut removed: Vec<u32> = moved.iter().flat_map(|(_, pairs)| pairs.iter().map(|p| p.0)).collect();
            removed.sort_unstable();
            let own = self.selected.as_ref().map(|s| &s.view);
            retain::expunged(inbox, from, &kept, &removed, own);
            moved
        } else {
            store.copy_messages(inbox, from, &uids, target.id).await
        };
        let (uidvalidity, pairs) = match result {
            Ok(r) => r,
            Err(e) => {
                self.server_error(tag, e);
                return Ok(());
            }
        };
        if !pairs.is_empty() {
            self.notify_changed();
        }
        let code = copy_uid(uidvalidity, &pairs);
        if moving {
            // RFC 6851 4.3: COPYUID goes in an untagged OK before the expunges.
            if let Some(c) = code {
                self.out.untagged_ok(Some(c), "Moved");
            }
            self.sync_selected(true);
            self.out.ok(tag, None, "MOVE completed");
        } else {
            self.sync_selected(true);
            self.out.ok(tag, code, "COPY completed");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copyuid_runs() {
        let c = copy_uid(7, &[(1, 10), (2, 11), (3, 12), (5, 13)]).unwrap();
        let text = String::from_utf8(
            imap_codec::encode::Encoder::encode(
                &imap_codec::ResponseCodec::default(),
                &imap_codec::imap_types::response::Response::Status(
                    imap_codec::imap_types::response::Status::ok(None, Some(c), "x").unwrap(),
                ),
            )
            .dump(),
        )
        .unwrap();
        assert_eq!(text, "* OK [COPYUID 7 1:3,5 10:12,13] x\r\n");
    }
}
