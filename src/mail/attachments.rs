//! Attachment listing for the HTTP API, with the IMAP part numbers that fetch them
//! (RFC 3501 6.4.5 numbering, so `BODY[path]` / `BINARY[path]` and the API agree).

use serde::{Deserialize, Serialize};

use super::summary::{MessageSummary, Part, PartKind};

/// One attachment of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    /// IMAP part number, e.g. `[2]` or `[2, 1]`.
    pub path: Vec<u32>,
    /// `type/subtype`, lower-cased.
    pub mime_type: String,
    /// Disposition `filename`, else Content-Type `name`.
    pub filename: Option<String>,
    /// Encoded size in octets.
    pub size: u32,
}

fn is_attachment(p: &Part) -> bool {
    let disp = p.disposition.as_ref();
    disp.is_some_and(|d| d.kind == "attachment")
        || disp.is_some_and(|d| d.params.iter().any(|(k, _)| k == "filename"))
        || p.param("name").is_some()
        || matches!(p.kind, PartKind::Message(_))
}

/// Children of a message root with their part numbers below `prefix`.
fn message_children<'a>(root: &'a Part, prefix: &[u32]) -> Vec<(Vec<u32>, &'a Part)> {
    let numbered = |i: usize| {
        let mut p = prefix.to_vec();
        p.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
        p
    };
    match &root.kind {
        PartKind::Multipart(children) => children.iter().enumerate().map(|(i, c)| (numbered(i), c)).collect(),
        _ => vec![(numbered(0), root)],
    }
}

/// The message's attachments in document order. An attached message is listed itself;
/// its own attachments are not.
pub fn attachments(summary: &MessageSummary) -> Vec<AttachmentInfo> {
    let mut out = Vec::new();
    let mut stack = message_children(&summary.root, &[]);
    stack.reverse();
    while let Some((path, part)) = stack.pop() {
        if is_attachment(part) {
            let filename = part
                .disposition
                .as_ref()
                .and_then(|d| d.params.iter().find(|(k, _)| k == "filename"))
                .map(|(_, v)| v.clone())
                .or_else(|| part.param("name").map(str::to_string));
            out.push(AttachmentInfo {
                path,
                mime_type: part.mime_type(),
                filename,
                size: part.size(),
            });
            continue;
        }
        if let PartKind::Multipart(children) = &part.kind {
            let mut kids: Vec<_> = children
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut p = path.clone();
                    p.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
                    (p, c)
                })
                .collect();
            kids.reverse();
            stack.extend(kids);
        }
    }
    out
}

/// Whether the message has any attachment.
pub fn has_attachments(root: &Part) -> bool {
    let mut found = false;
    let mut first = true;
    root.walk(&mut |p| {
        // The root itself is the message, not an attachment.
        if !std::mem::take(&mut first) && is_attachment(p) {
            found = true;
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::fixtures::{MIXED, NESTED, SIMPLE};
    use crate::mail::summarize;

    #[test]
    fn lists_attachments_with_part_numbers() {
        assert_eq!(
            attachments(&summarize(MIXED)),
            vec![AttachmentInfo {
                path: vec![2],
                mime_type: "application/pdf".into(),
                filename: Some("report.pdf".into()),
                size: 12,
            }]
        );
        let nested = attachments(&summarize(NESTED));
        assert_eq!(nested.len(), 1);
        assert_eq!(nested[0].path, vec![2]);
        assert_eq!(nested[0].mime_type, "message/rfc822");
        assert!(attachments(&summarize(SIMPLE)).is_empty());
    }
}
