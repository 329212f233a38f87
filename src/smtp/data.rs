//! DATA (RFC 5321 4.1.1.4) and BDAT (RFC 3030), then the hand-off: the trace
//! header goes first, submission adds Date and Message-ID when missing and checks
//! the From header, the message is parsed once, remote recipients are queued and
//! local ones delivered; 250 only once all of it is on disk.

use super::body::{Body, Problem};
use super::input::DotReader;
use super::reply;
use super::session::{Res, Session, Transaction};
use crate::delivery::local::{self, LocalDelivery};
use crate::delivery::{QueueError, RemoteMessage, queue_remote};
use crate::mail::{self, MessageSummary};

/// Most bytes reserved up front from a declared SIZE; the rest grows as it comes.
const MAX_RESERVE: u64 = 1024 * 1024;

impl Session {
    pub async fn data(&mut self) -> Res {
        let Some(tx) = self.tx.as_ref() else {
            return self.refuse(reply::MAIL_FIRST);
        };
        if tx.chunks.is_some() {
            return self.refuse(reply::DATA_AFTER_BDAT);
        }
        if !tx.has_recipients() {
            // RFC 5321 3.3: DATA without an accepted recipient.
            return self.refuse(reply::NO_RECIPIENTS);
        }
        let mut body = self.new_body();
        self.reply(reply::START_DATA);
        self.flush().await?;
        let mut reader = DotReader::default();
        while !reader.feed(&mut self.input, &mut body) {
            self.read_data().await?;
        }
        let result = body.finish();
        self.finish_message(result).await;
        Ok(())
    }

    /// BDAT: exactly `size` bytes follow the command line, whatever we answer, so
    /// they are always read (and dropped when the chunk is refused).
    pub async fn bdat(&mut self, size: usize, last: bool) -> Res {
        let usable = self.tx.as_ref().is_some_and(Transaction::has_recipients);
        if usable && self.tx.as_ref().is_some_and(|tx| tx.chunks.is_none()) {
            let body = self.new_body();
            if let Some(tx) = self.tx.as_mut() {
                tx.chunks = Some(body);
            }
        }
        let mut left = size;
        loop {
            let pending = self.input.pending();
            let take = left.min(pending.len());
            if let Some(body) = self.tx.as_mut().and_then(|tx| tx.chunks.as_mut()) {
                body.push(&pending[..take]);
            }
            self.input.consume(take);
            left -= take;
            if left == 0 {
                break;
            }
            self.read_data().await?;
        }
        if !usable {
            return self.refuse(reply::BDAT_WITHOUT_TRANSACTION);
        }
        let problem = self
            .tx
            .as_ref()
            .and_then(|tx| tx.chunks.as_ref())
            .and_then(Body::problem);
        if let Some(problem) = problem {
            // RFC 3030 2: a refused chunk ends the transaction.
            self.tx = None;
            self.refuse_message(problem);
            return Ok(());
        }
        if !last {
            self.reply(&format!("250 2.0.0 {size} octets received"));
            return Ok(());
        }
        let body = self.tx.as_mut().and_then(|tx| tx.chunks.take());
        if let Some(body) = body {
            let result = body.finish();
            self.finish_message(result).await;
        }
        Ok(())
    }

    /// A body that starts with our Received field (RFC 5321 4.4), so prepending it
    /// costs no copy of the message.
    fn new_body(&mut self) -> Body {
        self.messages += 1;
        let tx = self.tx.as_ref();
        let with = match (self.esmtp, self.is_tls(), self.user.is_some()) {
            // RFC 3848 protocol names.
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, true, false) => "ESMTPS",
            (true, false, true) => "ESMTPA",
            (true, true, true) => "ESMTPSA",
        };
        let id = self.message_id();
        let peer = format!("[{}]", self.peer.ip());
        let received = mail::Received {
            helo: self.helo.as_deref().unwrap_or("unknown"),
            peer: &peer,
            by: &self.listener.hostname,
            with,
            id: &id,
            for_rcpt: tx.and_then(|t| t.first_rcpt.as_deref()),
            at: crate::store::now_millis() / 1000,
        };
        let mut prefix = mail::prepend_received(b"", &received);
        let declared = tx.map_or(0, |t| t.declared_size).min(MAX_RESERVE);
        prefix.reserve(declared as usize);
        Body::new(self.listener.max_message_size, prefix)
    }

    fn message_id(&self) -> String {
        format!("{:x}.{}", self.id, self.messages)
    }

    fn refuse_message(&mut self, problem: Problem) {
        let text = match problem {
            Problem::TooBig => reply::TOO_BIG,
            Problem::BareCr => reply::BARE_CR,
            Problem::Nul => reply::NUL_IN_MESSAGE,
        };
        self.count_message("refused");
        self.reply(text);
    }

    /// The message is complete (or refused): deliver it and answer. The transaction
    /// ends either way (RFC 5321 4.1.1.4).
    async fn finish_message(&mut self, result: Result<Vec<u8>, Problem>) {
        let Some(tx) = self.tx.take() else { return };
        let mut raw = match result {
            Ok(raw) => raw,
            Err(problem) => return self.refuse_message(problem),
        };
        let submission = self.user.as_ref().map(|u| u.id);
        if submission.is_some() {
            self.add_submission_fields(&mut raw);
        }
        let summary = mail::summarize(&raw);
        if submission.is_some() && !self.owns_from_header(&raw, &summary) {
            self.count_message("refused");
            self.reply(reply::NOT_YOUR_FROM);
            return;
        }
        // Remote recipients first: a refusal there (relay not available, rate
        // limit) then leaves nothing stored, so the client's retry duplicates nothing.
        if let (Some(sender), false) = (submission, tx.remote.is_empty()) {
            let message = RemoteMessage {
                sender,
                mail_from: &tx.mail_from,
                recipients: &tx.remote,
                raw: &raw,
            };
            if let Err(e) = queue_remote(&self.ctx, message).await {
                let text = match e {
                    QueueError::Unavailable => reply::REMOTE_UNAVAILABLE,
                    QueueError::RateLimited => reply::RATE_LIMITED,
                    QueueError::Store(e) => {
                        tracing::warn!(error = %e, "queueing failed");
                        reply::TEMP_FAILURE
                    }
                };
                self.count_message("refused");
                self.reply(text);
                return;
            }
        }
        let delivery = LocalDelivery {
            raw: &raw,
            summary: &summary,
            recipients: &tx.local,
            sent_copy: submission,
        };
        match local::deliver(&self.ctx.store, &self.ctx.events, delivery).await {
            Ok(()) => {
                self.count_message("accepted");
                let labels = [("port", self.listener.role.name())];
                (self.ctx.metrics).observe(
                    "mailroom_smtp_transaction_duration_seconds",
                    &labels,
                    tx.started.elapsed(),
                );
                tracing::info!(
                    id = %self.message_id(),
                    size = raw.len(),
                    recipients = tx.local.len() + tx.remote.len(),
                    local = tx.local.len(),
                    queued_remote = tx.remote.len(),
                    "message accepted"
                );
                let text = format!("250 2.0.0 OK: queued as {}", self.message_id());
                self.reply(&text);
            }
            Err(e) => {
                tracing::warn!(error = %e, "local delivery failed");
                self.count_message("failed");
                self.reply(reply::TEMP_FAILURE);
            }
        }
    }

    /// RFC 6409 8.2, 8.3: the submission agent adds Date and Message-ID when the
    /// client left them out, right below our Received field.
    fn add_submission_fields(&self, raw: &mut Vec<u8>) {
        let fields = mail::missing_submission_fields(raw, &self.listener.hostname);
        if fields.is_empty() {
            return;
        }
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let added = mail::prepend_headers(b"", &borrowed);
        let at = received_len(raw);
        raw.splice(at..at, added);
    }

    /// Submission: every From address (and there is exactly one From field) must
    /// be an address of the authenticated inbox.
    fn owns_from_header(&self, raw: &[u8], summary: &MessageSummary) -> bool {
        let Some(user) = self.user.as_ref().map(|u| u.id) else {
            return false;
        };
        let header = &raw[..mail::headers::body_start(raw, 0, raw.len()).min(raw.len())];
        if mail::headers::all(header, "From").count() != 1 {
            return false;
        }
        let addresses: Vec<String> = summary
            .envelope
            .from
            .iter()
            .filter(|a| !a.is_group_marker())
            .filter_map(|a| a.addr_spec())
            .collect();
        !addresses.is_empty()
            && addresses
                .iter()
                .all(|a| matches!(self.ctx.store.inbox_by_address(a), Ok(Some(inbox)) if inbox.id == user))
    }

    fn count_message(&self, result: &str) {
        let labels = [("port", self.listener.role.name()), ("result", result)];
        self.ctx.metrics.inc("mailroom_smtp_messages_total", &labels);
    }
}

/// Length of the Received field at the start of `raw` (ours: CRLF-ended, folded
/// lines start with a tab).
fn received_len(raw: &[u8]) -> usize {
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'\n', &raw[at..]) {
        at += i + 1;
        if !matches!(raw.get(at), Some(b'\t' | b' ')) {
            return at;
        }
    }
    raw.len()
}

#[cfg(test)]
mod tests {
    use super::received_len;

    #[test]
    fn received_field_length_covers_its_folded_lines() {
        let raw = b"Received: from a\r\n\tby b;\r\n\tdate\r\nSubject: x\r\n\r\nbody";
        assert_eq!(&raw[received_len(raw)..], b"Subject: x\r\n\r\nbody");
        assert_eq!(received_len(b"Received: x"), 11);
    }
}
