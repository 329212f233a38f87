//! The stored summary of one message: everything FETCH, SEARCH, SORT, THREAD and the
//! HTTP API need, computed once at delivery (DESIGN.md "parse once").

use serde::{Deserialize, Serialize};

use super::address::Address;

/// Envelope fields as IMAP wants them (RFC 3501 7.4.2 / RFC 9051 7.5.2): raw, unfolded,
/// not decoded. `sender` and `reply_to` already default to `from` (RFC 3501 7.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Envelope {
    pub date: Option<Vec<u8>>,
    pub subject: Option<Vec<u8>>,
    pub from: Vec<Address>,
    pub sender: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub in_reply_to: Option<Vec<u8>>,
    pub message_id: Option<Vec<u8>>,
}

/// Content-Disposition (RFC 2183): lower-cased type and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Disposition {
    pub kind: String,
    pub params: Vec<(String, String)>,
}

/// One node of the MIME tree. Offsets index the raw message bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Part {
    /// First byte of this part's (MIME) header.
    pub header_start: u32,
    /// First byte after the blank line ending the header (== `end` when there is none).
    pub body_start: u32,
    /// One past the last body byte (the CRLF before a boundary belongs to the boundary,
    /// RFC 2046 5.1.1).
    pub end: u32,
    /// Media type and subtype, lower-cased (`text`, `plain`).
    pub media_type: String,
    pub media_subtype: String,
    /// Content-Type parameters, names lower-cased, values as parsed (RFC 2231 joined).
    pub params: Vec<(String, String)>,
    /// Raw Content-ID, Content-Description, Content-Transfer-Encoding, Content-MD5,
    /// Content-Location values (unfolded).
    pub id: Option<Vec<u8>>,
    pub description: Option<Vec<u8>>,
    pub encoding: Option<String>,
    pub md5: Option<Vec<u8>>,
    pub location: Option<Vec<u8>>,
    pub disposition: Option<Disposition>,
    pub language: Vec<String>,
    /// Body lines, for text/* and message/rfc822 (RFC 3501 7.4.2 body-fld-lines).
    pub lines: u32,
    pub kind: PartKind,
}

/// What a part holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PartKind {
    /// A leaf part.
    #[default]
    Leaf,
    /// multipart/*: its subparts in order (never empty).
    Multipart(Vec<Part>),
    /// message/rfc822: the encapsulated message's envelope and root part.
    Message(Box<Embedded>),
}

/// An encapsulated message (message/rfc822 body).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Embedded {
    pub envelope: Envelope,
    pub root: Part,
}

impl Part {
    /// Size of the body in its transfer encoding (RFC 3501 body-fld-octets).
    pub fn size(&self) -> u32 {
        self.end.saturating_sub(self.body_start)
    }

    /// The header bytes (including the blank line) in `raw`.
    pub fn header<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        slice(raw, self.header_start, self.body_start)
    }

    /// The body bytes in `raw`.
    pub fn body<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        slice(raw, self.body_start, self.end)
    }

    /// `type/subtype` lower-cased.
    pub fn mime_type(&self) -> String {
        format!("{}/{}", self.media_type, self.media_subtype)
    }

    /// A Content-Type parameter by (lower-case) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn is_text(&self) -> bool {
        self.media_type == "text" && matches!(self.kind, PartKind::Leaf)
    }

    /// Visit this part and all its descendants (depth-first, document order),
    /// including parts of encapsulated messages.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Part)) {
        // Iterative: the tree depth is capped at parse time, but keep the stack off the
        // call stack anyway.
        let mut stack = vec![self];
        while let Some(p) = stack.pop() {
            f(p);
            match &p.kind {
                PartKind::Leaf => {}
                PartKind::Multipart(children) => stack.extend(children.iter().rev()),
                PartKind::Message(m) => stack.push(&m.root),
            }
        }
    }
}

pub(crate) fn slice(raw: &[u8], start: u32, end: u32) -> &[u8] {
    let (s, e) = (start as usize, end as usize);
    raw.get(s..e.min(raw.len())).unwrap_or_default()
}

/// The first address of a header, decoded for sorting and the API.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FirstAddress {
    /// Display name with RFC 2047 decoded ("" when absent).
    pub name: String,
    /// Local part (RFC 5256 addr-mailbox).
    pub mailbox: String,
    /// Domain.
    pub host: String,
}

impl FirstAddress {
    /// `mailbox@host`.
    pub fn addr_spec(&self) -> String {
        if self.host.is_empty() {
            self.mailbox.clone()
        } else {
            format!("{}@{}", self.mailbox, self.host)
        }
    }
}

/// Everything kept about one message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageSummary {
    /// Raw size in octets (RFC822.SIZE).
    pub size: u32,
    pub envelope: Envelope,
    /// The MIME tree; the root is the whole message (header_start 0).
    pub root: Part,
    /// Date header as unix seconds, when it parses.
    pub sent_date: Option<i64>,
    /// The Date header's zone offset in minutes east (for SENTON and friends).
    pub sent_tz_minutes: i16,
    /// Subject decoded from RFC 2047, whitespace collapsed.
    pub subject: String,
    /// RFC 5256 2.1 base subject (for SORT SUBJECT and THREAD).
    pub base_subject: String,
    /// The subject was a reply or forward (RFC 5256 2.1 note, used by THREAD=REFERENCES).
    pub subject_is_reply: bool,
    pub from: Option<FirstAddress>,
    pub to: Option<FirstAddress>,
    pub cc: Option<FirstAddress>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To message-ids without angle brackets.
    pub in_reply_to: Vec<String>,
    /// References message-ids without angle brackets, in order.
    pub references: Vec<String>,
    pub has_attachments: bool,
    /// Up to 256 characters of decoded body text.
    pub preview: String,
}
