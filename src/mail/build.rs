//! Header additions made on the way in: Received (RFC 5321 4.4), and the Message-ID and
//! Date fields a submission agent adds when the client left them out (RFC 6409 8.2, 8.3).

use time::{OffsetDateTime, UtcOffset};

use super::headers::{self, body_start};

fn header_block(raw: &[u8]) -> &[u8] {
    raw.get(..body_start(raw, 0, raw.len())).unwrap_or_default()
}

/// Whether the message header has a field called `name` (case-insensitive).
pub fn has_header(raw: &[u8], name: &str) -> bool {
    headers::first(header_block(raw), name).is_some()
}

/// RFC 5322 3.6: Message-ID SHOULD be present; submission adds it when missing.
pub fn missing_message_id(raw: &[u8]) -> bool {
    !has_header(raw, "Message-ID")
}

/// RFC 5322 3.6: Date MUST be present; submission adds it when missing.
pub fn missing_date(raw: &[u8]) -> bool {
    !has_header(raw, "Date")
}

/// A fresh message-id `<random@host>` (RFC 5322 3.6.4).
pub fn new_message_id(host: &str) -> String {
    let host = if host.is_empty() { "localhost" } else { host };
    format!("<{}@{}>", uuid::Uuid::new_v4().simple(), host)
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// RFC 5322 3.3 date-time, e.g. `Tue, 1 Jul 2003 10:52:37 +0200`, for unix seconds shown
/// in the zone `offset_minutes` east of UTC. Out-of-range input falls back to the epoch.
pub fn rfc5322_date(unix: i64, offset_minutes: i16) -> String {
    let offset = UtcOffset::from_whole_seconds(i32::from(offset_minutes) * 60).unwrap_or(UtcOffset::UTC);
    let t = OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    let day = DAYS
        .get(usize::from(t.weekday().number_days_from_monday()))
        .copied()
        .unwrap_or("Mon");
    let month = MONTHS
        .get(usize::from(u8::from(t.month())).saturating_sub(1))
        .copied()
        .unwrap_or("Jan");
    let total = offset.whole_minutes();
    let sign = if total < 0 { '-' } else { '+' };
    let total = total.unsigned_abs();
    format!(
        "{day}, {} {month} {:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second(),
        total / 60,
        total % 60
    )
}

/// The current time as an RFC 5322 date (UTC).
pub fn now_date() -> String {
    rfc5322_date(OffsetDateTime::now_utc().unix_timestamp(), 0)
}

/// Put header fields in front of a message. Each `(name, value)` becomes one CRLF-ended
/// field; values must already be folded (no bare line ends).
pub fn prepend_headers(raw: &[u8], fields: &[(&str, &str)]) -> Vec<u8> {
    let extra: usize = fields.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    let mut out = Vec::with_capacity(raw.len() + extra);
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(raw);
    out
}

/// What a Received trace field records (RFC 5321 4.4).
#[derive(Debug, Clone, Default)]
pub struct Received<'a> {
    /// The name the client gave in HELO/EHLO.
    pub helo: &'a str,
    /// The client's address (and reverse name when known), e.g. `[192.0.2.1]`.
    pub peer: &'a str,
    /// Our host name.
    pub by: &'a str,
    /// Protocol: SMTP, ESMTP, ESMTPS, ESMTPSA ... (RFC 3848).
    pub with: &'a str,
    /// Our queue/message id.
    pub id: &'a str,
    /// The single recipient, when there is exactly one.
    pub for_rcpt: Option<&'a str>,
    /// Unix seconds of receipt.
    pub at: i64,
}

/// Strip what cannot appear in a header line.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect::<String>()
}

/// The Received field value, folded over several lines.
pub fn received_value(r: &Received<'_>) -> String {
    let mut v = format!("from {} ({})\r\n\tby {}", clean(r.helo), clean(r.peer), clean(r.by));
    if !r.with.is_empty() {
        v.push_str(&format!(" with {}", clean(r.with)));
    }
    if !r.id.is_empty() {
        v.push_str(&format!(" id {}", clean(r.id)));
    }
    if let Some(rcpt) = r.for_rcpt {
        v.push_str(&format!("\r\n\tfor <{}>", clean(rcpt)));
    }
    v.push_str(&format!(";\r\n\t{}", rfc5322_date(r.at, 0)));
    v
}

/// Prepend a Received field (RFC 5321 4.4: added at the top, existing ones untouched).
pub fn prepend_received(raw: &[u8], r: &Received<'_>) -> Vec<u8> {
    prepend_headers(raw, &[("Received", &received_value(r))])
}

/// The fields submission should add to `raw`: Date and Message-ID when missing.
pub fn missing_submission_fields(raw: &[u8], host: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if missing_date(raw) {
        out.push(("Date", now_date()));
    }
    if missing_message_id(raw) {
        out.push(("Message-ID", new_message_id(host)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0, 0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(837_595_405, -420), "Wed, 17 Jul 1996 02:23:25 -0700");
        assert_eq!(rfc5322_date(1_057_049_557, 120), "Tue, 1 Jul 2003 10:52:37 +0200");
        assert_eq!(rfc5322_date(i64::MAX, i16::MAX), "Thu, 1 Jan 1970 00:00:00 +0000");
        let parsed = crate::mail::decode::parse_date(now_date().as_bytes());
        assert!(parsed.is_some());
    }

    #[test]
    fn missing_fields() {
        let m = b"From: a@b\r\nmessage-id: <x@y>\r\n\r\nDate: in the body\r\n";
        assert!(!missing_message_id(m));
        assert!(missing_date(m));
        let add = missing_submission_fields(m, "mx.example");
        assert_eq!(add.len(), 1);
        assert_eq!(add[0].0, "Date");
        let id = new_message_id("mx.example");
        assert!(id.starts_with('<') && id.ends_with("@mx.example>"));
        assert_eq!(crate::mail::decode::message_ids(id.as_bytes()).len(), 1);
    }

    #[test]
    fn received_goes_first() {
        let r = Received {
            helo: "client.example",
            peer: "[192.0.2.1]",
            by: "mx.example",
            with: "ESMTPS",
            id: "abc",
            for_rcpt: Some("u@mx.example"),
            at: 0,
        };
        let out = prepend_received(b"Subject: x\r\n\r\nhi", &r);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "Received: from client.example ([192.0.2.1])\r\n\tby mx.example with ESMTPS id abc\r\n\tfor <u@mx.example>;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\nSubject: x\r\n\r\nhi"
        );
        let fields: Vec<_> = headers::fields(&out).map(|f| f.name.to_vec()).collect();
        assert_eq!(fields, vec![b"Received".to_vec(), b"Subject".to_vec()]);
    }
}
