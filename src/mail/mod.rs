//! Message model shared by all fronts: parse once at delivery ([`summarize`]), keep the
//! summary next to the raw bytes, and answer FETCH/SEARCH/SORT/THREAD and the API from it.

pub mod address;
pub mod attachments;
pub mod build;
pub mod decode;
pub mod extract;
pub mod headers;
pub mod html;
pub mod long_lines;
pub mod mime;
pub mod section;
pub mod subject;
pub mod summary;
pub mod text;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

pub use address::Address;
pub use attachments::{AttachmentInfo, attachments};
pub use build::{
    Received, has_header, missing_date, missing_message_id, missing_submission_fields, new_message_id, now_date,
    prepend_headers, prepend_received, rfc5322_date,
};
pub use decode::{TransferEncoding, decode_transfer};
pub use headers::header_fields;
pub use long_lines::fit_line_limit;
pub use section::{BinaryError, Spec, binary_content, find_part, partial, section_bytes};
pub use summary::{Disposition, Embedded, Envelope, FirstAddress, MessageSummary, Part, PartKind};

use decode::{charset_to_string, collapse_ws, decode_header_text, message_ids, parse_date};

/// Most characters in [`MessageSummary::preview`].
pub const PREVIEW_CHARS: usize = 256;
/// Most encoded body bytes read to make a preview.
const PREVIEW_SOURCE: usize = 16 * 1024;
/// Most raw Subject bytes decoded for the summary (the ENVELOPE keeps the whole value).
const MAX_SUBJECT_SOURCE: usize = 16 * 1024;
/// Most References ids kept.
const MAX_REFERENCES: usize = 256;

/// Parse a raw RFC 5322 message once and keep what every front needs. Never panics;
/// garbage gives a summary of a text/plain message with whatever header could be read.
pub fn summarize(raw: &[u8]) -> MessageSummary {
    let mut budget = mime::MAX_PARTS;
    let Embedded { envelope, root } = mime::parse_message(raw, 0, raw.len(), 0, &mut budget);
    let header = headers::Index::new(root.header(raw));

    let (sent_date, sent_tz_minutes) = header
        .first("Date")
        .and_then(|f| parse_date(f.value))
        .map_or((None, 0), |(t, tz)| (Some(t), tz));
    let subject = header
        .first("Subject")
        .map(|f| decode_header_text(f.value.get(..MAX_SUBJECT_SOURCE).unwrap_or(f.value)))
        .unwrap_or_default();
    let (base_subject, subject_is_reply) = subject::base_subject(&subject);
    let ids = |name: &str| header.first(name).map(|f| message_ids(f.value)).unwrap_or_default();
    let mut references = ids("References");
    references.truncate(MAX_REFERENCES);

    MessageSummary {
        size: u32::try_from(raw.len()).unwrap_or(u32::MAX),
        from: first_address(&envelope.from),
        to: first_address(&envelope.to),
        cc: first_address(&envelope.cc),
        message_id: ids("Message-ID").into_iter().next(),
        in_reply_to: ids("In-Reply-To"),
        references,
        has_attachments: attachments::has_attachments(&root),
        preview: preview(&root, raw),
        sent_date,
        sent_tz_minutes,
        subject,
        base_subject,
        subject_is_reply,
        envelope,
        root,
    }
}

fn first_address(list: &[Address]) -> Option<FirstAddress> {
    let a = list.iter().find(|a| !a.is_group_marker())?;
    let text = |v: &Option<Vec<u8>>| String::from_utf8_lossy(v.as_deref().unwrap_or_default()).into_owned();
    Some(FirstAddress {
        name: a.name.as_deref().map(decode_header_text).unwrap_or_default(),
        mailbox: text(&a.mailbox),
        host: text(&a.host),
    })
}

/// Decoded text of a leaf text part, reading at most `limit` encoded bytes.
pub fn part_text(part: &Part, raw: &[u8], limit: usize) -> String {
    let body = part.body(raw);
    let body = body.get(..limit.min(body.len())).unwrap_or_default();
    let enc = TransferEncoding::from_name(part.encoding.as_deref());
    let bytes = decode_transfer(body, enc).unwrap_or_else(|| body.to_vec());
    charset_to_string(&bytes, part.param("charset"))
}

fn preview(root: &Part, raw: &[u8]) -> String {
    let mut plain = None;
    let mut html = None;
    root.walk(&mut |p| {
        if !p.is_text() || p.disposition.as_ref().is_some_and(|d| d.kind == "attachment") {
            return;
        }
        match p.media_subtype.as_str() {
            "plain" if plain.is_none() => plain = Some(p),
            "html" if html.is_none() => html = Some(p),
            _ => {}
        }
    });
    let text = match (plain, html) {
        (Some(p), _) => part_text(p, raw, PREVIEW_SOURCE),
        (None, Some(h)) => text::html_to_text(&part_text(h, raw, PREVIEW_SOURCE)),
        (None, None) => return String::new(),
    };
    collapse_ws(&text).chars().take(PREVIEW_CHARS).collect()
}
