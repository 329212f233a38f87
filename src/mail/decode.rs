//! Content-transfer-encoding (RFC 2045 6) and charset decoding, and RFC 2047 header text.

use mail_parser::decoders::{
    base64::base64_decode, charsets::map::charset_decoder, quoted_printable::quoted_printable_decode,
};
use mail_parser::parsers::MessageStream;
use mail_parser::{DateTime, HeaderValue};

/// The transfer encodings we know how to undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    /// 7bit, 8bit, binary or absent: the bytes are the content.
    Identity,
    Base64,
    QuotedPrintable,
    /// Anything else (x-uuencode ...): IMAP BINARY answers `[UNKNOWN-CTE]` (RFC 3516 4.3).
    Unknown,
}

impl TransferEncoding {
    /// Classify a Content-Transfer-Encoding value (case-insensitive, RFC 2045 6.1).
    pub fn from_name(name: Option<&str>) -> Self {
        match name.map(str::trim) {
            None | Some("") => Self::Identity,
            Some(n)
                if n.eq_ignore_ascii_case("7bit")
                    || n.eq_ignore_ascii_case("8bit")
                    || n.eq_ignore_ascii_case("binary") =>
            {
                Self::Identity
            }
            Some(n) if n.eq_ignore_ascii_case("base64") => Self::Base64,
            Some(n) if n.eq_ignore_ascii_case("quoted-printable") => Self::QuotedPrintable,
            Some(_) => Self::Unknown,
        }
    }
}

/// Undo a transfer encoding. `None` for an unknown encoding. Damaged base64 or
/// quoted-printable is decoded as far as possible rather than refused.
pub fn decode_transfer(body: &[u8], enc: TransferEncoding) -> Option<Vec<u8>> {
    match enc {
        TransferEncoding::Identity => Some(body.to_vec()),
        TransferEncoding::Base64 => Some(base64_lenient(body)),
        TransferEncoding::QuotedPrintable => Some(quoted_printable_decode(body).unwrap_or_else(|| qp_lenient(body))),
        TransferEncoding::Unknown => None,
    }
}

/// Base64 that skips anything outside the alphabet (RFC 2045 6.8: "any characters outside
/// of the base64 alphabet are to be ignored") and stops at padding.
fn base64_lenient(body: &[u8]) -> Vec<u8> {
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .take_while(|&b| b != b'=')
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    // Drop a dangling sextet that cannot make a byte.
    let usable = clean.len() - clean.len() % 4;
    let tail = clean.len() % 4;
    let mut out = base64_decode(clean.get(..usable).unwrap_or_default()).unwrap_or_default();
    if tail >= 2 {
        let mut last: Vec<u8> = clean.get(usable..).unwrap_or_default().to_vec();
        last.resize(4, b'A');
        if let Some(bytes) = base64_decode(&last) {
            out.extend(bytes.into_iter().take(tail - 1));
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Quoted-printable that keeps malformed escapes as they are (RFC 2045 6.7 note 1).
fn qp_lenient(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        if b == b'=' {
            match (body.get(i + 1), body.get(i + 2)) {
                (Some(b'\r'), Some(b'\n')) => {
                    i += 3;
                    continue;
                }
                (Some(b'\n'), _) => {
                    i += 2;
                    continue;
                }
                (Some(&h), Some(&l)) => {
                    if let (Some(h), Some(l)) = (hex(h), hex(l)) {
                        out.push(h << 4 | l);
                        i += 3;
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Bytes in `charset` to a String (unknown charsets: UTF-8, lossy).
pub fn charset_to_string(bytes: &[u8], charset: Option<&str>) -> String {
    match charset.and_then(|c| charset_decoder(c.as_bytes())) {
        Some(dec) => dec(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn with_newline(value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(value.len() + 1);
    v.extend_from_slice(value);
    v.push(b'\n');
    v
}

/// Decode an unstructured header value (RFC 2047 encoded-words, folding) to text.
/// 8-bit bytes are read as UTF-8 (RFC 6532), lossily.
pub fn decode_header_text(value: &[u8]) -> String {
    let v = with_newline(value);
    match MessageStream::new(&v).parse_unstructured() {
        HeaderValue::Text(t) => collapse_ws(&t),
        _ => collapse_ws(&String::from_utf8_lossy(value)),
    }
}

/// Runs of whitespace become one space; ends trimmed.
pub fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Message-ids of a Message-ID / In-Reply-To / References value, without angle brackets.
pub fn message_ids(value: &[u8]) -> Vec<String> {
    let v = with_newline(value);
    match MessageStream::new(&v).parse_id() {
        HeaderValue::Text(t) => vec![t.trim().to_string()],
        HeaderValue::TextList(l) => l.into_iter().map(|t| t.trim().to_string()).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

/// A parsed RFC 5322 date: unix seconds (UTC) and the zone offset in minutes east.
pub fn parse_date(value: &[u8]) -> Option<(i64, i16)> {
    let v = with_newline(value);
    match MessageStream::new(&v).parse_date() {
        HeaderValue::DateTime(dt) if dt.is_valid() => Some((dt.to_timestamp(), tz_minutes(&dt))),
        _ => None,
    }
}

fn tz_minutes(dt: &DateTime) -> i16 {
    let m = i16::from(dt.tz_hour) * 60 + i16::from(dt.tz_minute);
    if dt.tz_before_gmt { -m } else { m }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_encodings() {
        let b64 = TransferEncoding::from_name(Some(" BASE64 "));
        assert_eq!(
            decode_transfer(b"aGVs\r\nbG8=\r\n", b64).as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(decode_transfer(b"aGVsbG8", b64).as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            decode_transfer(b"!!aG Vs*bG8=junk", b64).as_deref(),
            Some(&b"hello"[..])
        );
        let qp = TransferEncoding::from_name(Some("quoted-printable"));
        assert_eq!(
            decode_transfer(b"caf=C3=A9 =\r\nok", qp).as_deref(),
            Some("café ok".as_bytes())
        );
        assert_eq!(TransferEncoding::from_name(None), TransferEncoding::Identity);
        assert_eq!(TransferEncoding::from_name(Some("8Bit")), TransferEncoding::Identity);
        assert_eq!(decode_transfer(b"x", TransferEncoding::from_name(Some("x-uue"))), None);
        assert_eq!(qp_lenient(b"a=ZZb=\nc=4"), b"a=ZZbc=4");
    }

    #[test]
    fn header_text() {
        assert_eq!(
            decode_header_text(b" =?utf-8?q?J=C3=B6rg?=  says\r\n hi"),
            "Jörg says hi"
        );
        assert_eq!(decode_header_text(b"=?iso-8859-1?b?Q2Fm6Q==?="), "Café");
        assert_eq!(decode_header_text("plain ü".as_bytes()), "plain ü");
        assert_eq!(decode_header_text(b""), "");
    }

    #[test]
    fn ids_and_dates() {
        assert_eq!(message_ids(b" <a@b> <c@d>\r\n <e@f>"), vec!["a@b", "c@d", "e@f"]);
        assert_eq!(message_ids(b"<x@y>"), vec!["x@y"]);
        assert_eq!(message_ids(b""), Vec::<String>::new());
        assert_eq!(
            parse_date(b"Wed, 17 Jul 1996 02:23:25 -0700"),
            Some((837_595_405, -420))
        );
        assert_eq!(parse_date(b"not a date"), None);
    }
}
