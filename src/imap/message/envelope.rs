//! ENVELOPE (RFC 3501 7.4.2 / RFC 9051 7.5.2) from the stored summary.

use imap_codec::imap_types::envelope::{Address as ImapAddress, Envelope as ImapEnvelope};

use super::strings::nstring;
use crate::mail::{Address, Envelope, MessageSummary};

/// The ENVELOPE of a message.
pub fn envelope(summary: &MessageSummary) -> ImapEnvelope<'static> {
    convert(&summary.envelope)
}

/// Convert a stored envelope (also used for encapsulated message/rfc822 parts).
pub fn convert(e: &Envelope) -> ImapEnvelope<'static> {
    ImapEnvelope {
        date: nstring(e.date.as_deref()),
        subject: nstring(e.subject.as_deref()),
        from: addresses(&e.from),
        sender: addresses(&e.sender),
        reply_to: addresses(&e.reply_to),
        to: addresses(&e.to),
        cc: addresses(&e.cc),
        bcc: addresses(&e.bcc),
        in_reply_to: nstring(e.in_reply_to.as_deref()),
        message_id: nstring(e.message_id.as_deref()),
    }
}

fn addresses(list: &[Address]) -> Vec<ImapAddress<'static>> {
    list.iter()
        .map(|a| ImapAddress {
            name: nstring(a.name.as_deref()),
            adl: nstring(a.adl.as_deref()),
            mailbox: nstring(a.mailbox.as_deref()),
            host: nstring(a.host.as_deref()),
        })
        .collect()
}
