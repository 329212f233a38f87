//! MAIL and RCPT (RFC 5321 4.1.1.2, 4.1.1.3): who may send, and to whom.
//!
//! MX takes mail for existing local inboxes only and never relays. Submission needs
//! AUTH (under TLS), sends only as the authenticated inbox, and takes recipients
//! anywhere: local ones are delivered directly, the others go to the outbound queue.

use super::reply;
use super::session::{Res, Session, Transaction};
use smtp_proto::{MailFrom, RcptTo};
use std::borrow::Cow;

/// MAIL parameters we accept: BODY=7BIT/8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
/// RET (RFC 3461); SIZE, ENVID and AUTH= are fields of their own.
const MAIL_FLAGS: u64 = smtp_proto::MAIL_BODY_7BIT
    | smtp_proto::MAIL_BODY_8BITMIME
    | smtp_proto::MAIL_SMTPUTF8
    | smtp_proto::MAIL_RET_FULL
    | smtp_proto::MAIL_RET_HDRS;
/// RCPT parameters we accept: NOTIFY (RFC 3461); ORCPT is a field of its own.
const RCPT_FLAGS: u64 = smtp_proto::RCPT_NOTIFY_SUCCESS
    | smtp_proto::RCPT_NOTIFY_FAILURE
    | smtp_proto::RCPT_NOTIFY_DELAY
    | smtp_proto::RCPT_NOTIFY_NEVER;

/// True when MAIL carries a parameter of an extension we did not offer.
fn unsupported_mail_parameters(from: &MailFrom<Cow<'_, str>>) -> bool {
    from.flags & !MAIL_FLAGS != 0
        || from.by != 0
        || from.hold_for != 0
        || from.hold_until != 0
        || from.mt_priority != 0
        || from.trans_id.is_some()
        || from.solicit.is_some()
        || from.mtrk.is_some()
}

fn any_mail_parameter(from: &MailFrom<Cow<'_, str>>) -> bool {
    from.flags != 0 || from.size != 0 || from.env_id.is_some() || from.auth.is_some()
}

impl Session {
    pub fn mail(&mut self, from: MailFrom<Cow<'_, str>>) -> Res {
        if self.helo.is_none() {
            return self.refuse(reply::HELLO_FIRST);
        }
        if self.tx.is_some() {
            return self.refuse(reply::NESTED_MAIL);
        }
        if self.listener.role.is_submission() {
            if !self.is_tls() {
                return self.refuse(reply::TLS_FIRST);
            }
            if self.user.is_none() {
                // RFC 4954 6 / RFC 6409 4.3: submission needs an authenticated user.
                return self.refuse(reply::AUTH_REQUIRED);
            }
        }
        // RFC 1869: parameters only after EHLO, and only those of offered extensions.
        if (!self.esmtp && any_mail_parameter(&from)) || unsupported_mail_parameters(&from) {
            return self.refuse(reply::UNSUPPORTED_PARAMETER);
        }
        // RFC 1870 6.1: a declared size over the limit is refused at once.
        if from.size as u64 > self.listener.max_message_size {
            self.reply(reply::TOO_BIG);
            return Ok(());
        }
        let smtputf8 = from.flags & smtp_proto::MAIL_SMTPUTF8 != 0;
        if !smtputf8 && !from.address.is_ascii() {
            return self.refuse(reply::NEEDS_SMTPUTF8);
        }
        if self.listener.role.is_submission() && !self.may_send_as(&from.address)? {
            return Ok(());
        }
        self.tx = Some(Transaction {
            mail_from: from.address.into_owned(),
            smtputf8,
            declared_size: from.size as u64,
            local: Vec::new(),
            remote: Vec::new(),
            accepted: 0,
            first_rcpt: None,
            chunks: None,
            started: std::time::Instant::now(),
        });
        self.reply(reply::SENDER_OK);
        Ok(())
    }

    /// Submission: the sender must be an address of the authenticated inbox, and the
    /// inbox must not be paused (read fresh: it may have been paused since AUTH).
    /// Replies itself and answers false when refused.
    fn may_send_as(&mut self, address: &str) -> Result<bool, super::session::Close> {
        let Some(user) = self.user.as_ref().map(|u| u.id) else {
            return Ok(false);
        };
        let store = &self.ctx.store;
        let (current, owner) = match (store.inbox(user), store.inbox_by_address(address)) {
            (Ok(current), Ok(owner)) => (current, owner),
            _ => {
                self.reply(reply::TEMP_FAILURE);
                return Ok(false);
            }
        };
        match current {
            None => {
                self.reply(reply::AUTH_REQUIRED);
                Ok(false)
            }
            Some(inbox) if inbox.paused => {
                self.reply(reply::SENDER_DISABLED);
                Ok(false)
            }
            Some(_) if owner.map(|o| o.id) != Some(user) => {
                self.refuse(reply::NOT_YOUR_SENDER)?;
                Ok(false)
            }
            Some(_) => Ok(true),
        }
    }

    pub fn rcpt(&mut self, to: RcptTo<Cow<'_, str>>) -> Res {
        let Some(tx) = self.tx.as_ref() else {
            return self.refuse(reply::MAIL_FIRST);
        };
        if tx.chunks.is_some() {
            return self.refuse(reply::BDAT_WITHOUT_TRANSACTION);
        }
        if tx.accepted >= self.ctx.config.smtp.max_recipients {
            self.reply(reply::TOO_MANY_RECIPIENTS);
            return Ok(());
        }
        if (!self.esmtp && (to.flags != 0 || to.orcpt.is_some())) || to.flags & !RCPT_FLAGS != 0 || to.rrvs != 0 {
            return self.refuse(reply::UNSUPPORTED_PARAMETER);
        }
        if !tx.smtputf8 && !to.address.is_ascii() {
            return self.refuse(reply::NEEDS_SMTPUTF8);
        }
        // smtp-proto gives "" for <postmaster>, which RFC 5321 4.5.1 says we MUST take.
        let address = match to.address.as_ref() {
            "" => format!("postmaster@{}", self.ctx.config.default_domain()),
            a => a.to_string(),
        };
        let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        if self.ctx.config.is_local_domain(domain) {
            self.local_recipient(address)
        } else if self.listener.role.is_submission() {
            // Say at once what the queue could only bounce later.
            if !self.ctx.config.delivery.enabled {
                self.reply(reply::REMOTE_UNAVAILABLE);
                return Ok(());
            }
            if !crate::delivery::outbound::route::is_domain(domain) {
                self.reply(reply::BAD_DOMAIN);
                return Ok(());
            }
            let Some(tx) = self.tx.as_mut() else { return Ok(()) };
            if !tx.remote.iter().any(|r| r.eq_ignore_ascii_case(&address)) {
                tx.remote.push(address.clone());
            }
            accepted(tx, address);
            self.reply(reply::RECIPIENT_OK);
            Ok(())
        } else {
            // MX never relays.
            self.reply(reply::RELAY_DENIED);
            Ok(())
        }
    }

    /// A recipient at one of our domains: it must exist and not be paused. Every
    /// unknown user gets the same answer after the same single lookup.
    fn local_recipient(&mut self, address: String) -> Res {
        let inbox = match self.ctx.store.inbox_by_address(&address) {
            Ok(inbox) => inbox,
            Err(e) => {
                tracing::warn!(error = %e, "recipient lookup failed");
                self.reply(reply::TEMP_FAILURE);
                return Ok(());
            }
        };
        let Some(inbox) = inbox else {
            self.reply(reply::NO_SUCH_USER);
            return Ok(());
        };
        if inbox.paused {
            self.reply(reply::MAILBOX_DISABLED);
            return Ok(());
        }
        let Some(tx) = self.tx.as_mut() else { return Ok(()) };
        if !tx.local.contains(&inbox.id) {
            tx.local.push(inbox.id);
        }
        accepted(tx, address);
        self.reply(reply::RECIPIENT_OK);
        Ok(())
    }
}

fn accepted(tx: &mut Transaction, address: String) {
    tx.accepted += 1;
    tx.first_rcpt = (tx.accepted == 1).then_some(address);
}
