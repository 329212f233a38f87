//! Bounces: RFC 3464 delivery status notifications, as RFC 6522 multipart/report
//! messages (a human-readable part, message/delivery-status, and the original
//! header as text/rfc822-headers), filed into the sender's INBOX.

use crate::mail;
use crate::store::{QueueEntry, QueuedMessage, RecipientStatus};
use std::fmt::Write;

/// Most bytes of the original header quoted back.
const MAX_QUOTED_HEADER: usize = 64 * 1024;
/// Most characters of a remote diagnostic kept.
const MAX_DIAGNOSTIC: usize = 512;

/// Builds the DSN for the failed recipients of `entry`; None when none failed or
/// the message had a null sender (RFC 5321 6.1: never bounce a bounce).
pub fn build(hostname: &str, message: &QueuedMessage, entry: &QueueEntry, original: &[u8]) -> Option<Vec<u8>> {
    let failed: Vec<(&str, &str, &str, Option<&str>)> = entry
        .recipients
        .iter()
        .filter_map(|r| match &r.status {
            RecipientStatus::Failed {
                status,
                diagnostic,
                remote,
            } => Some((
                r.address.as_str(),
                status.as_str(),
                diagnostic.as_str(),
                remote.as_deref(),
            )),
            _ => None,
        })
        .collect();
    if failed.is_empty() || message.mail_from.is_empty() {
        return None;
    }
    // RFC 6533 6.2: an internationalized address is reported in a
    // message/global-delivery-status, where its UTF-8 may be written as it is.
    let global = failed.iter().any(|(address, ..)| !address.is_ascii());
    let boundary = format!("=_mailroom_{}", uuid::Uuid::new_v4().simple());
    let now = mail::now_date();
    let arrival = mail::rfc5322_date(message.created_at / 1000, 0);
    let mut out = String::new();
    // RFC 3464 2: the report comes from the mail system, to the envelope sender.
    let _ = write!(
        out,
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: <{to}>\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Date: {now}\r\n\
         Message-ID: {id}\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\
         \r\n\
         This is a delivery status notification (RFC 3464).\r\n\
         \r\n--{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Your message could not be delivered to {count} recipient(s):\r\n\r\n",
        to = one_line(&message.mail_from),
        id = mail::new_message_id(hostname),
        count = failed.len(),
    );
    for (address, _, diagnostic, _) in &failed {
        // The text part is UTF-8: the address as the sender wrote it.
        let _ = write!(out, "  <{}>: {}\r\n", one_line_utf8(address), one_line(diagnostic));
    }
    // RFC 3464 2.2: per-message fields, then one block per recipient.
    let _ = write!(
        out,
        "\r\n--{boundary}\r\n\
         Content-Type: message/{report}\r\n\
         \r\n\
         Reporting-MTA: dns; {hostname}\r\n\
         Arrival-Date: {arrival}\r\n",
        report = if global {
            "global-delivery-status"
        } else {
            "delivery-status"
        },
    );
    for (address, status, diagnostic, remote) in &failed {
        let _ = write!(
            out,
            "\r\nFinal-Recipient: {}\r\nAction: failed\r\nStatus: {}\r\n",
            final_recipient(address),
            status_code(status)
        );
        if let Some(remote) = remote {
            let _ = write!(out, "Remote-MTA: dns; {}\r\n", one_line(remote));
        }
        // RFC 3464 2.3.6: "smtp;" when the text is an SMTP reply.
        let kind = if diagnostic.starts_with(|c: char| c.is_ascii_digit()) {
            "smtp"
        } else {
            "x-mailroom"
        };
        let _ = write!(out, "Diagnostic-Code: {kind}; {}\r\n", one_line(diagnostic));
        if let Some(at) = entry.last_attempt {
            let _ = write!(out, "Last-Attempt-Date: {}\r\n", mail::rfc5322_date(at / 1000, 0));
        }
    }
    let header = original_header(original);
    // RFC 6533 6.3: a header with UTF-8 in it is quoted as message/global-headers.
    let quoted = if header.is_ascii() {
        "text/rfc822-headers"
    } else {
        "message/global-headers"
    };
    let _ = write!(out, "\r\n--{boundary}\r\nContent-Type: {quoted}\r\n\r\n");
    let mut raw = out.into_bytes();
    raw.extend_from_slice(header);
    raw.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Some(raw)
}

/// The header block of the original message (with its blank line dropped), capped.
fn original_header(raw: &[u8]) -> &[u8] {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 2);
    let end = end.min(MAX_QUOTED_HEADER);
    // Cut at a line end so a capped header is still lines.
    let cut = raw[..end].iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    &raw[..cut]
}

/// Printable ASCII on one line, bounded: remote replies are untrusted text.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { ' ' })
        .take(MAX_DIAGNOSTIC)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Printable text on one line, bounded, non-ASCII kept (for UTF-8 contexts).
fn one_line_utf8(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_DIAGNOSTIC)
        .collect::<String>()
        .trim()
        .to_string()
}

/// RFC 3464 2.3.2 address type and address; RFC 6533 3: "utf-8" with the
/// address in its RFC 6531 form when it is not ASCII.
fn final_recipient(address: &str) -> String {
    if address.is_ascii() {
        format!("rfc822; {}", one_line(address))
    } else {
        format!("utf-8; {}", one_line_utf8(address).replace(' ', ""))
    }
}

/// A valid RFC 3463 status code (class.subject.detail), else the class's generic one.
fn status_code(status: &str) -> String {
    let parts: Vec<&str> = status.split('.').collect();
    let valid = parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if valid { status.to_string() } else { "5.0.0".to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::QueueRecipient;
    use uuid::Uuid;

    #[test]
    fn reports_failed_recipients_with_the_original_header() {
        let message = QueuedMessage {
            id: Uuid::now_v7(),
            sender: Uuid::new_v4(),
            mail_from: "agent@example.test".into(),
            created_at: 1_700_000_000_000,
            expires_at: 0,
            size: 10,
            open_entries: 1,
        };
        let entry = QueueEntry {
            message: message.id,
            index: 0,
            domain: "remote.example".into(),
            recipients: vec![
                QueueRecipient {
                    address: "gone@remote.example".into(),
                    status: RecipientStatus::Failed {
                        status: "5.1.1".into(),
                        diagnostic: "550 5.1.1 no such user\r\nInjected: header".into(),
                        remote: Some("mx.remote.example".into()),
                    },
                },
                QueueRecipient {
                    address: "ok@remote.example".into(),
                    status: RecipientStatus::Delivered {
                        remote: "mx.remote.example".into(),
                    },
                },
            ],
            attempts: 1,
            next_attempt: 0,
            last_attempt: Some(1_700_000_100_000),
            last_error: None,
        };
        let original = b"Subject: hello\r\nMessage-ID: <x@example.test>\r\n\r\nsecret body\r\n";
        let raw = build("mail.example.test", &message, &entry, original).unwrap();
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status;"));
        assert!(text.contains("Final-Recipient: rfc822; gone@remote.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
        assert!(text.contains("Diagnostic-Code: smtp; 550 5.1.1 no such user  Injected: header\r\n"));
        assert!(
            !text.contains("ok@remote.example"),
            "delivered recipients are not reported"
        );
        assert!(
            text.contains(
                "Content-Type: text/rfc822-headers\r\n\r\nSubject: hello\r\nMessage-ID: <x@example.test>\r\n"
            )
        );
        assert!(!text.contains("secret body"), "only the header is quoted back");
        let summary = mail::summarize(&raw);
        assert_eq!(summary.subject, "Undelivered Mail Returned to Sender");
        assert_eq!(status_code("5.1"), "5.0.0");

        let mut utf8 = entry.clone();
        utf8.recipients[0].address = "dörte@remote.example".into();
        let original = "Subject: Grüße\r\n\r\nbody\r\n".as_bytes();
        let text = String::from_utf8(build("h", &message, &utf8, original).unwrap()).unwrap();
        assert!(text.contains("  <dörte@remote.example>: 550 5.1.1"), "{text}");
        assert!(
            text.contains("Content-Type: message/global-delivery-status\r\n"),
            "{text}"
        );
        assert!(
            text.contains("\r\nFinal-Recipient: utf-8; dörte@remote.example\r\n"),
            "{text}"
        );
        assert!(text.contains("Content-Type: message/global-headers\r\n\r\nSubject: Grüße\r\n"));

        let mut null_sender = message.clone();
        null_sender.mail_from = String::new();
        assert!(build("h", &null_sender, &entry, original).is_none());
    }
}
