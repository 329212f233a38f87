//! Body sections as slices of the raw message (RFC 3501 6.4.5 / RFC 9051 6.4.5), and
//! decoded part content (RFC 3516 BINARY).

use super::decode::{TransferEncoding, decode_transfer};
use super::headers::{body_start, header_fields};
use super::summary::{MessageSummary, Part, PartKind};

/// What to take from the addressed part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec<'n> {
    /// `BODY[]` / `BODY[1.2]`: the whole message, or the part's body.
    Full,
    /// `HEADER`: the (encapsulated) message header, blank line included.
    Header,
    /// `HEADER.FIELDS (..)` / `HEADER.FIELDS.NOT (..)`.
    HeaderFields { names: &'n [&'n str], not: bool },
    /// `TEXT`: the (encapsulated) message body.
    Text,
    /// `MIME`: the part's own MIME header (needs a part number).
    Mime,
}

/// Step into part `n` (1-based) of a message whose root is `root`: for a multipart root
/// the n-th subpart; otherwise part 1 is the body itself (RFC 3501 6.4.5: "Every message
/// has at least one part number. Non-[MIME-IMB] messages, and non-multipart [MIME-IMB]
/// messages with no encapsulated message, only have a part 1.").
fn step_message(root: &Part, n: u32) -> Option<&Part> {
    match &root.kind {
        PartKind::Multipart(children) => children.get((n as usize).checked_sub(1)?),
        _ => (n == 1).then_some(root),
    }
}

/// Step into part `n` below an already addressed part.
fn step(part: &Part, n: u32) -> Option<&Part> {
    match &part.kind {
        PartKind::Multipart(children) => children.get((n as usize).checked_sub(1)?),
        // Part numbers below a message/rfc822 address the encapsulated message.
        PartKind::Message(m) => step_message(&m.root, n),
        PartKind::Leaf => (n == 1).then_some(part),
    }
}

/// The part a non-empty part path addresses, or `None` when it does not exist.
pub fn find_part<'a>(root: &'a Part, path: &[u32]) -> Option<&'a Part> {
    let (first, rest) = path.split_first()?;
    let mut cur = step_message(root, *first)?;
    for &n in rest {
        cur = step(cur, n)?;
    }
    Some(cur)
}

/// The bytes of a body section. Non-existent parts give an empty result
/// (RFC 3501 6.4.5), as do HEADER/TEXT below a part that is not message/rfc822.
pub fn section_bytes(summary: &MessageSummary, raw: &[u8], path: &[u32], spec: Spec<'_>) -> Vec<u8> {
    if let Some(top) = top_level_section(raw, path, spec) {
        return top;
    }
    // The encapsulated message whose HEADER/TEXT is meant.
    let message_root = || -> Option<&Part> {
        match &find_part(&summary.root, path)?.kind {
            PartKind::Message(m) => Some(&m.root),
            _ => None,
        }
    };
    let out: Option<&[u8]> = match spec {
        Spec::Full => find_part(&summary.root, path).map(|p| p.body(raw)),
        Spec::Mime => find_part(&summary.root, path).map(|p| p.header(raw)),
        Spec::Header => message_root().map(|m| m.header(raw)),
        Spec::Text => message_root().map(|m| m.body(raw)),
        Spec::HeaderFields { names, not } => {
            return message_root()
                .map(|m| header_fields(m.header(raw), names, not))
                .unwrap_or_default();
        }
    };
    out.unwrap_or_default().to_vec()
}

/// Sections of the message itself (an empty part path) need only the raw bytes: the
/// header ends at the first blank line, as the summary's root part does. So a
/// caller may pass an empty summary for them.
fn top_level_section(raw: &[u8], path: &[u32], spec: Spec<'_>) -> Option<Vec<u8>> {
    if !path.is_empty() {
        return None;
    }
    let split = body_start(raw, 0, raw.len());
    let (header, body) = raw.split_at(split.min(raw.len()));
    Some(match spec {
        Spec::Full => raw.to_vec(),
        Spec::Mime => Vec::new(),
        Spec::Header => header.to_vec(),
        Spec::Text => body.to_vec(),
        Spec::HeaderFields { names, not } => header_fields(header, names, not),
    })
}

/// Why BINARY content cannot be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryError {
    /// The part does not exist.
    NoSuchPart,
    /// RFC 3516 4.3: the part's transfer encoding is unknown; answer `NO [UNKNOWN-CTE]`.
    UnknownCte,
}

/// A part's content with its transfer encoding undone (RFC 3516 BINARY). An empty path is
/// the whole message, unchanged; multiparts and encapsulated messages are not decoded.
pub fn binary_content(summary: &MessageSummary, raw: &[u8], path: &[u32]) -> Result<Vec<u8>, BinaryError> {
    if path.is_empty() {
        return Ok(raw.to_vec());
    }
    let part = find_part(&summary.root, path).ok_or(BinaryError::NoSuchPart)?;
    match part.kind {
        PartKind::Leaf => decode_transfer(part.body(raw), TransferEncoding::from_name(part.encoding.as_deref()))
            .ok_or(BinaryError::UnknownCte),
        _ => Ok(part.body(raw).to_vec()),
    }
}

/// Apply an IMAP `<origin.count>` partial to section bytes (RFC 3501 6.4.5): an origin
/// past the end gives an empty string.
pub fn partial(bytes: &[u8], origin: u32, count: u32) -> &[u8] {
    let start = (origin as usize).min(bytes.len());
    let end = start.saturating_add(count as usize).min(bytes.len());
    bytes.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{fixtures, summarize};

    // The top-level sections are cut from the raw bytes without the summary; they
    // must be exactly what the summary's root part says.
    #[test]
    fn top_level_sections_agree_with_the_summary() {
        let samples: [&[u8]; 8] = [
            fixtures::RFC3501,
            fixtures::SIMPLE,
            fixtures::MIXED,
            fixtures::NESTED,
            fixtures::ENCODED,
            b"Subject: bare LF\n\nbody\n",
            b"Subject: no body",
            b"",
        ];
        let empty = MessageSummary::default();
        for raw in samples {
            let summary = summarize(raw);
            assert_eq!(section_bytes(&empty, raw, &[], Spec::Header), summary.root.header(raw));
            assert_eq!(section_bytes(&empty, raw, &[], Spec::Text), summary.root.body(raw));
            let names = ["subject", "FROM"];
            let fields = Spec::HeaderFields {
                names: &names,
                not: false,
            };
            assert_eq!(
                section_bytes(&empty, raw, &[], fields),
                header_fields(summary.root.header(raw), &names, false)
            );
            assert_eq!(section_bytes(&empty, raw, &[], Spec::Full), raw);
        }
    }
}
