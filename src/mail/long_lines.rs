//! Lines over 998 octets in mail we relay. We take them (RFC 5321 4.5.3.1 asks
//! servers to avoid such limits), but many receivers do not: Exim 4.95 and later
//! refuse them by default (RFC 5322 2.1.1, RFC 5321 4.5.3.1.6). So before a
//! message is DKIM-signed and queued, each body part holding such a line is
//! re-encoded: content in an identity encoding (7bit, 8bit, binary, none) or in
//! quoted-printable becomes quoted-printable (RFC 2045 6.7, lines of at most 76
//! characters), base64 is wrapped at 76 characters (6.8). The copy delivered
//! here keeps the bytes as submitted; only the relayed copy is re-encoded.
//!
//! Long header lines, preambles and epilogues are left as they are: they can
//! not be re-encoded without changing what they say.

use super::decode::{TransferEncoding, decode_transfer};
use super::headers;
use super::mime;
use super::summary::{Part, PartKind};
use base64::Engine;
use std::borrow::Cow;

/// RFC 5322 2.1.1: at most 998 characters a line, CRLF excluded.
pub const MAX_LINE: usize = 998;
/// RFC 2045 6.8: base64 lines of at most 76 characters.
const BASE64_LINE: usize = 76;

/// `raw` with every body part that has a line over [`MAX_LINE`] re-encoded, or
/// `raw` itself when none has (or when its MIME tree is too large to be sure
/// what a part holds: a part cut short by the parser's limits may hold the rest
/// of the message, boundaries and all, which re-encoding would break).
pub fn fit_line_limit(raw: &[u8]) -> Cow<'_, [u8]> {
    if !has_long_line(raw) {
        return Cow::Borrowed(raw);
    }
    let mut budget = mime::MAX_PARTS;
    let root = mime::parse_message(raw, 0, raw.len(), 0, &mut budget).root;
    if budget == 0 {
        return Cow::Borrowed(raw);
    }
    let mut edits: Vec<Edit> = Vec::new();
    root.walk(&mut |part| {
        if let Some(edit) = reencode(raw, part, part.header_start == root.header_start) {
            edits.push(edit);
        }
    });
    if edits.is_empty() {
        return Cow::Borrowed(raw);
    }
    // RFC 2045 4: a Content-Transfer-Encoding means something only in a MIME
    // message. When the root is itself re-encoded, its new header has it already.
    let root_header = root.header(raw);
    if headers::first(root_header, "MIME-Version").is_none() && edits[0].start != root.header_start as usize {
        let at = root.header_start as usize + header_end(root_header);
        edits.insert(0, Edit::insert(at, b"MIME-Version: 1.0\r\n".to_vec()));
    }
    Cow::Owned(apply(raw, &edits))
}

/// True when a line of `bytes` is longer than [`MAX_LINE`] (its CR LF not counted).
pub fn has_long_line(bytes: &[u8]) -> bool {
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', bytes).chain([bytes.len()]) {
        let line = bytes.get(start..end).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_LINE {
            return true;
        }
        start = end + 1;
    }
    false
}

/// One replacement of `raw[start..end]`.
struct Edit {
    start: usize,
    end: usize,
    bytes: Vec<u8>,
}

impl Edit {
    fn insert(at: usize, bytes: Vec<u8>) -> Edit {
        Edit {
            start: at,
            end: at,
            bytes,
        }
    }
}

/// The new header and body of a leaf part with a long body line, if it can be
/// re-encoded. `is_root`: the part is the whole message (a single-part one).
fn reencode(raw: &[u8], part: &Part, is_root: bool) -> Option<Edit> {
    if !matches!(part.kind, PartKind::Leaf) || !has_long_line(part.body(raw)) {
        return None;
    }
    let header = part.header(raw);
    if declares_composite(header) {
        // RFC 2045 6.4: multipart and message parts take no other encoding (the
        // parser shows one it could not split, or nested too deep, as a leaf).
        return None;
    }
    let body = part.body(raw);
    let encoding = TransferEncoding::from_name(part.encoding.as_deref());
    let (name, encoded) = match encoding {
        TransferEncoding::Identity | TransferEncoding::QuotedPrintable => {
            let content = decode_transfer(body, encoding)?;
            ("quoted-printable", quoted_printable::encode(&content))
        }
        TransferEncoding::Base64 => ("base64", wrap_base64(&decode_transfer(body, encoding)?)),
        TransferEncoding::Unknown => return None,
    };
    let mut fields = vec![format!("Content-Transfer-Encoding: {name}\r\n")];
    if is_root && headers::first(header, "MIME-Version").is_none() {
        fields.insert(0, "MIME-Version: 1.0\r\n".to_string());
        // Without a Content-Type the text would be read as US-ASCII (RFC 2045
        // 5.2); an agent writing UTF-8 without MIME fields means UTF-8.
        if headers::first(header, "Content-Type").is_none() && !body.is_ascii() && std::str::from_utf8(body).is_ok() {
            fields.push("Content-Type: text/plain; charset=utf-8\r\n".to_string());
        }
    }
    // The header without its old encoding field, the new fields before its blank line.
    let mut bytes = headers::header_fields(header, &["Content-Transfer-Encoding"], true);
    let blank = bytes.len() - 2;
    bytes.splice(blank..blank, fields.concat().into_bytes());
    bytes.extend_from_slice(&encoded);
    if body.ends_with(b"\n") && !bytes.ends_with(b"\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    Some(Edit {
        start: part.header_start as usize,
        end: part.end as usize,
        bytes,
    })
}

/// The part's own Content-Type names a multipart or message type.
fn declares_composite(header: &[u8]) -> bool {
    headers::first(header, "Content-Type").is_some_and(|f| {
        let value = headers::trim(f.value).to_ascii_lowercase();
        value.starts_with(b"multipart/") || value.starts_with(b"message/")
    })
}

/// Base64 of `content` in lines of [`BASE64_LINE`] characters.
fn wrap_base64(content: &[u8]) -> Vec<u8> {
    let text = base64::engine::general_purpose::STANDARD.encode(content);
    let lines: Vec<&[u8]> = text.as_bytes().chunks(BASE64_LINE).collect();
    lines.join(&b"\r\n"[..])
}

/// Offset in `header` (a header block with its blank line) where a field can be added.
fn header_end(header: &[u8]) -> usize {
    if header.ends_with(b"\r\n") {
        header.len() - 2
    } else if header.ends_with(b"\n") {
        header.len() - 1
    } else {
        header.len()
    }
}

/// `raw` with `edits` (in order, not overlapping) applied.
fn apply(raw: &[u8], edits: &[Edit]) -> Vec<u8> {
    let grown: usize = edits.iter().map(|e| e.bytes.len()).sum();
    let mut out = Vec::with_capacity(raw.len() + grown);
    let mut at = 0;
    for edit in edits {
        out.extend_from_slice(raw.get(at..edit.start).unwrap_or_default());
        out.extend_from_slice(&edit.bytes);
        at = edit.end.max(at);
    }
    out.extend_from_slice(raw.get(at..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::summarize;

    fn long(c: char, n: usize) -> String {
        c.to_string().repeat(n)
    }

    fn max_line(raw: &[u8]) -> usize {
        raw.split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).len())
            .max()
            .unwrap_or(0)
    }

    /// The decoded text of every leaf part, in order.
    fn texts(raw: &[u8]) -> Vec<Vec<u8>> {
        let summary = summarize(raw);
        let mut out = Vec::new();
        summary.root.walk(&mut |p| {
            if matches!(p.kind, PartKind::Leaf) {
                let enc = TransferEncoding::from_name(p.encoding.as_deref());
                out.push(decode_transfer(p.body(raw), enc).unwrap_or_default());
            }
        });
        out
    }

    #[test]
    fn short_lines_are_left_alone() {
        let raw = format!("Subject: x\r\n\r\n{}\r\n", long('a', 998));
        assert!(matches!(fit_line_limit(raw.as_bytes()), Cow::Borrowed(_)));
        assert!(!has_long_line(raw.as_bytes()));
        assert!(has_long_line(format!("{}\n", long('a', 999)).as_bytes()));
        assert!(has_long_line(long('a', 999).as_bytes()));
    }

    #[test]
    fn a_non_mime_message_becomes_a_quoted_printable_single_part() {
        let line = format!("<p>{}caf\u{e9} = {}</p>", long('x', 3000), long('y', 2000));
        let raw = format!("From: a@b.example\r\nSubject: long\r\n\r\nfirst\r\n{line}\r\n.dot\r\n");
        let out = fit_line_limit(raw.as_bytes()).into_owned();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.starts_with(
                "From: a@b.example\r\nSubject: long\r\nMIME-Version: 1.0\r\n\
                 Content-Transfer-Encoding: quoted-printable\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\nfirst\r\n<p>xxx"
            ),
            "{text}"
        );
        assert!(max_line(&out) <= 76, "{text}");
        assert!(text.contains("caf=C3=A9 =3D "));
        assert!(text.ends_with("</p>\r\n.dot\r\n"), "{text}");
        assert_eq!(texts(&out), [format!("first\r\n{line}\r\n.dot\r\n").into_bytes()]);
    }

    #[test]
    fn only_the_parts_with_long_lines_change() {
        let html = format!("<html>{}</html>", long('h', 5000));
        let b64 = long('Q', 2000);
        let raw = format!(
            "From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n\
             preamble\r\n--=_b\r\nContent-Type: text/plain\r\n\r\nshort\r\n\
             --=_b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n\
             --=_b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n\
             --=_b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nq=3D{}\r\n\
             --=_b--\r\nepilogue\r\n",
            long('q', 1200)
        );
        let before = texts(raw.as_bytes());
        let out = fit_line_limit(raw.as_bytes()).into_owned();
        assert!(max_line(&out) <= 76, "{}", String::from_utf8_lossy(&out));
        assert_eq!(texts(&out), before);
        let text = String::from_utf8(out).unwrap();
        // The untouched part and the MIME structure are byte for byte as before.
        assert!(text.starts_with(&raw[..raw.find("--=_b\r\nContent-Type: text/html").unwrap()]));
        assert!(text.contains(
            "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<html>hhh"
        ));
        assert!(text.contains("Content-Transfer-Encoding: base64\r\n\r\nQQQQ"));
        assert_eq!(text.matches("Content-Transfer-Encoding:").count(), 3);
        assert!(text.ends_with("\r\n--=_b--\r\nepilogue\r\n"));
        assert_eq!(text.matches("MIME-Version").count(), 1);
    }

    #[test]
    fn a_multipart_without_mime_version_gets_one() {
        let raw = format!(
            "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n{}\r\n--b--\r\n",
            long('z', 1500)
        );
        let out = String::from_utf8(fit_line_limit(raw.as_bytes()).into_owned()).unwrap();
        assert!(
            out.starts_with(
                "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\nMIME-Version: 1.0\r\n\r\n\
                 --b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nzzz"
            ),
            "{out}"
        );
    }

    #[test]
    fn composite_and_unknown_parts_are_left_alone() {
        // A multipart whose boundary never appears is shown as one text leaf.
        let raw = format!(
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=nowhere\r\n\r\n{}\r\n",
            long('m', 1200)
        );
        assert!(matches!(fit_line_limit(raw.as_bytes()), Cow::Borrowed(_)));
        let raw = format!("Content-Transfer-Encoding: x-uuencode\r\n\r\n{}\r\n", long('u', 1200));
        assert!(matches!(fit_line_limit(raw.as_bytes()), Cow::Borrowed(_)));
        // A long header line alone changes nothing.
        let raw = format!("X-Long: {}\r\n\r\nbody\r\n", long('h', 1200));
        assert!(matches!(fit_line_limit(raw.as_bytes()), Cow::Borrowed(_)));
    }
}
