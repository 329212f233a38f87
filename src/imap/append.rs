//! APPEND (RFC 3501 6.3.11) with UIDPLUS APPENDUID (RFC 4315) and APPENDLIMIT
//! (RFC 7889); the semantics live in `delivery::append`.

use super::flags::from_imap;
use super::response::code;
use super::session::{Res, Session, State};
use crate::delivery::append::{Append, AppendError, append};
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_codec::imap_types::flag::Flag;
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::Code;
use std::num::NonZeroU32;

impl Session {
    pub async fn cmd_append(
        &mut self,
        tag: &str,
        mailbox: &Mailbox<'_>,
        flags: &[Flag<'_>],
        date: Option<DateTime>,
        message: LiteralOrLiteral8<'_>,
    ) -> Res {
        let raw: &[u8] = match &message {
            LiteralOrLiteral8::Literal(l) => l.data(),
            LiteralOrLiteral8::Literal8(l) => &l.data,
        };
        let inbox = self.inbox_id();
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
                // RFC 3501 6.3.11: TRYCREATE when the mailbox does not exist.
                self.out.no(tag, Some(Code::TryCreate), "No such mailbox");
                return Ok(());
            }
        };
        let date = date.map(|d| d.as_ref().timestamp());
        let limit = self.append_limit();
        let ctx = self.ctx.clone();
        let request = Append {
            inbox,
            mailbox: &target,
            raw,
            flags: from_imap(flags),
            internal_date: date,
            max_size: limit,
        };
        match append(&ctx.store, &ctx.events, request).await {
            Ok(done) => {
                if self.state == State::Selected {
                    self.sync_selected(true);
                }
                match (NonZeroU32::new(done.uidvalidity), NonZeroU32::new(done.uid)) {
                    (Some(uid_validity), Some(uid)) => {
                        self.out
                            .ok(tag, Some(Code::AppendUid { uid_validity, uid }), "APPEND completed")
                    }
                    _ => self.out.ok(tag, None, "APPEND completed"),
                }
            }
            Err(AppendError::TooBig(_)) => self
                .out
                .no(tag, Some(code("TOOBIG")), "Message larger than APPENDLIMIT"),
            Err(AppendError::Empty) => self.out.no(tag, None, "Empty message"),
            Err(AppendError::Store(e)) => self.server_error(tag, e),
        }
        Ok(())
    }
}
