//! Building the MIME tree with byte offsets (RFC 2045/2046), the way IMAP numbers parts.
//!
//! We split parts ourselves (so offsets follow RFC 2046 5.1.1 exactly) and use mail-parser
//! for the field grammars (Content-Type with RFC 2231 parameters, dates, message-ids).

use mail_parser::HeaderValue;
use mail_parser::parsers::MessageStream;

use super::address::parse_address_list;
use super::decode::TransferEncoding;
use super::headers::{self, body_start, unfold};
use super::summary::{Disposition, Embedded, Envelope, Part, PartKind};

/// Deepest nesting of multiparts and encapsulated messages we descend into; deeper
/// content stays one opaque leaf.
pub const MAX_DEPTH: usize = 32;
/// Most parts we build for one message; the rest stays inside the last parsed leaf.
pub const MAX_PARTS: usize = 1000;

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Parse the message in `raw[start..end]`: its envelope and its root part.
pub(crate) fn parse_message(raw: &[u8], start: usize, end: usize, depth: usize, budget: &mut usize) -> Embedded {
    let root = parse_part(raw, start, end, false, depth, budget);
    let envelope = envelope(root.header(raw));
    Embedded { envelope, root }
}

/// Build the IMAP envelope from a header block.
pub(crate) fn envelope(header: &[u8]) -> Envelope {
    let index = headers::Index::new(header);
    let text = |name: &str| index.first(name).map(|f| unfold(f.value));
    let addrs = |name: &str| {
        index
            .first(name)
            .map(|f| parse_address_list(f.value))
            .unwrap_or_default()
    };
    let from = addrs("From");
    let mut sender = addrs("Sender");
    let mut reply_to = addrs("Reply-To");
    // RFC 3501 7.4.2: absent or empty Sender / Reply-To default to From.
    if sender.is_empty() {
        sender = from.clone();
    }
    if reply_to.is_empty() {
        reply_to = from.clone();
    }
    Envelope {
        date: text("Date"),
        subject: text("Subject"),
        from,
        sender,
        reply_to,
        to: addrs("To"),
        cc: addrs("Cc"),
        bcc: addrs("Bcc"),
        in_reply_to: text("In-Reply-To"),
        message_id: text("Message-ID"),
    }
}

struct ContentType {
    media_type: String,
    media_subtype: String,
    params: Vec<(String, String)>,
}

fn parse_content_type(value: &[u8]) -> Option<ContentType> {
    let mut v = value.to_vec();
    v.push(b'\n');
    match MessageStream::new(&v).parse_content_type() {
        HeaderValue::ContentType(ct) => {
            let media_type = ct.c_type.trim().to_ascii_lowercase();
            let media_subtype = ct.c_subtype.as_deref()?.trim().to_ascii_lowercase();
            if media_type.is_empty() || media_subtype.is_empty() {
                return None;
            }
            let params = ct
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|a| (a.name.to_ascii_lowercase(), a.value.into_owned()))
                .collect();
            Some(ContentType {
                media_type,
                media_subtype,
                params,
            })
        }
        _ => None,
    }
}

fn parse_disposition(value: &[u8]) -> Option<Disposition> {
    let mut v = value.to_vec();
    v.push(b'\n');
    match MessageStream::new(&v).parse_content_type() {
        HeaderValue::ContentType(ct) => {
            let kind = ct.c_type.trim().to_ascii_lowercase();
            if kind.is_empty() {
                return None;
            }
            let params = ct
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|a| (a.name.to_ascii_lowercase(), a.value.into_owned()))
                .collect();
            Some(Disposition { kind, params })
        }
        _ => None,
    }
}

fn lossy(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Lines of a body: its line ends (LF). As in Dovecot, a last line cut short by a
/// boundary (whose CRLF belongs to the delimiter, RFC 2046 5.1.1) is not counted.
pub(crate) fn count_lines(body: &[u8]) -> u32 {
    u32_of(body.iter().filter(|&&b| b == b'\n').count())
}

/// Parse one part in `raw[start..end]`. `digest_child`: the default type is
/// message/rfc822 instead of text/plain (RFC 2046 5.1.5).
fn parse_part(raw: &[u8], start: usize, end: usize, digest_child: bool, depth: usize, budget: &mut usize) -> Part {
    *budget = budget.saturating_sub(1);
    let end = end.min(raw.len());
    let start = start.min(end);
    let bs = body_start(raw, start, end);
    let header = raw.get(start..bs).unwrap_or_default();

    let mut part = Part {
        header_start: u32_of(start),
        body_start: u32_of(bs),
        end: u32_of(end),
        ..Part::default()
    };
    let mut ctype = None;
    let mut seen_ctype = false;
    for f in headers::fields(header) {
        let name = f.name;
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("Content-Type") && !seen_ctype {
            seen_ctype = true;
            ctype = parse_content_type(f.value);
        } else if is("Content-Transfer-Encoding") && part.encoding.is_none() {
            part.encoding = Some(lossy(unfold(f.value)));
        } else if is("Content-ID") && part.id.is_none() {
            part.id = Some(unfold(f.value));
        } else if is("Content-Description") && part.description.is_none() {
            part.description = Some(unfold(f.value));
        } else if is("Content-MD5") && part.md5.is_none() {
            part.md5 = Some(unfold(f.value));
        } else if is("Content-Location") && part.location.is_none() {
            part.location = Some(unfold(f.value));
        } else if is("Content-Disposition") && part.disposition.is_none() {
            part.disposition = parse_disposition(f.value);
        } else if is("Content-Language") && part.language.is_empty() {
            part.language = lossy(unfold(f.value))
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
    }
    let ctype = ctype.unwrap_or_else(|| {
        if digest_child && !seen_ctype {
            ContentType {
                media_type: "message".into(),
                media_subtype: "rfc822".into(),
                params: Vec::new(),
            }
        } else {
            // RFC 2045 5.2: no (or an unusable) Content-Type means text/plain; charset=us-ascii.
            ContentType {
                media_type: "text".into(),
                media_subtype: "plain".into(),
                params: vec![("charset".into(), "us-ascii".into())],
            }
        }
    });
    part.media_type = ctype.media_type;
    part.media_subtype = ctype.media_subtype;
    part.params = ctype.params;

    let may_descend = depth < MAX_DEPTH && *budget > 0;
    if part.media_type == "multipart" {
        let children = match part.param("boundary") {
            Some(b) if may_descend && !b.is_empty() => {
                let digest = part.media_subtype == "digest";
                let boundary = b.as_bytes().to_vec();
                let mut children = Vec::new();
                for (s, e) in split_multipart(raw, bs, end, &boundary) {
                    if *budget == 0 {
                        break;
                    }
                    children.push(parse_part(raw, s, e, digest, depth + 1, budget));
                }
                children
            }
            _ => Vec::new(),
        };
        if children.is_empty() {
            // A multipart without a usable boundary or any part: show it as plain text
            // so every client can still render it.
            part.media_type = "text".into();
            part.media_subtype = "plain".into();
            part.params.retain(|(k, _)| k == "charset");
            part.lines = count_lines(part.body(raw));
        } else {
            part.kind = PartKind::Multipart(children);
        }
    } else if part.media_type == "message" && part.media_subtype == "rfc822" {
        part.lines = count_lines(part.body(raw));
        let identity = TransferEncoding::from_name(part.encoding.as_deref()) == TransferEncoding::Identity;
        if identity && may_descend {
            let inner = parse_message(raw, bs, end, depth + 1, budget);
            part.kind = PartKind::Message(Box::new(inner));
        }
    } else if part.media_type == "text" {
        part.lines = count_lines(part.body(raw));
    }
    part
}

/// Delimiter line test: `--boundary` or `--boundary--`, then only transport padding
/// (RFC 2046 5.1.1). Returns Some(is_close).
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    rest.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .then_some(close)
}

/// Ranges of the body parts of a multipart body `raw[start..end]`. The line end before a
/// delimiter belongs to the delimiter (RFC 2046 5.1.1); preamble and epilogue are skipped.
/// A missing close delimiter ends the last part at `end`.
fn split_multipart(raw: &[u8], start: usize, end: usize, boundary: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut part_start: Option<usize> = None;
    let mut pos = start;
    let body = raw.get(..end).unwrap_or_default();
    while pos < end {
        let line_end = body
            .get(pos..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
            .map_or(end, |i| pos + i + 1);
        let line = body.get(pos..line_end).unwrap_or_default();
        if let Some(close) = delimiter(line, boundary) {
            if let Some(ps) = part_start {
                let mut pe = pos;
                if pe > ps && body.get(pe - 1) == Some(&b'\n') {
                    pe -= 1;
                    if pe > ps && body.get(pe - 1) == Some(&b'\r') {
                        pe -= 1;
                    }
                }
                out.push((ps, pe));
                if out.len() >= MAX_PARTS {
                    return out;
                }
            }
            if close {
                return out;
            }
            part_start = Some(line_end);
        }
        pos = line_end;
    }
    if let Some(ps) = part_start {
        out.push((ps, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_basic() {
        let body = b"preamble\r\n--b\r\none\r\n--b\r\ntwo\r\n\r\n--b--\r\nepilogue";
        let r = split_multipart(body, 0, body.len(), b"b");
        let parts: Vec<_> = r.iter().map(|&(s, e)| &body[s..e]).collect();
        assert_eq!(parts, vec![&b"one"[..], b"two\r\n"]);
    }

    #[test]
    fn split_lf_and_unclosed_and_lookalike() {
        let body = b"--b\nA\n--bc\nstill A\n--b \nB";
        let r = split_multipart(body, 0, body.len(), b"b");
        let parts: Vec<_> = r.iter().map(|&(s, e)| &body[s..e]).collect();
        assert_eq!(parts, vec![&b"A\n--bc\nstill A"[..], b"B"]);
        assert!(split_multipart(b"no delimiters", 0, 13, b"b").is_empty());
    }

    #[test]
    fn lines() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a"), 0);
        assert_eq!(count_lines(b"a\r\n"), 1);
        assert_eq!(count_lines(b"a\r\nb"), 1);
        assert_eq!(count_lines(b"a\nb\n"), 2);
    }
}
