//! Tests of `summarize` and section extraction over whole messages.

use super::fixtures::*;
use super::*;

fn s(v: &Option<Vec<u8>>) -> Option<&str> {
    v.as_deref().map(|b| std::str::from_utf8(b).unwrap_or("<non-utf8>"))
}

fn sect(raw: &[u8], path: &[u32], spec: Spec<'_>) -> String {
    let sum = summarize(raw);
    String::from_utf8_lossy(&section_bytes(&sum, raw, path, spec)).into_owned()
}

#[test]
fn rfc3501_example_envelope() {
    let sum = summarize(RFC3501);
    let e = &sum.envelope;
    assert_eq!(s(&e.date), Some("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)"));
    assert_eq!(s(&e.subject), Some("IMAP4rev1 WG mtg summary and minutes"));
    assert_eq!(e.from.len(), 1);
    assert_eq!(e.sender, e.from);
    assert_eq!(e.reply_to, e.from);
    assert_eq!(e.cc.len(), 2);
    assert_eq!(s(&e.cc[1].name), Some("John Klensin"));
    assert_eq!(s(&e.message_id), Some("<B27397-0100000@cac.washington.edu>"));
    assert_eq!(e.in_reply_to, None);
    assert_eq!(sum.sent_date, Some(837_595_405));
    assert_eq!(sum.sent_tz_minutes, -420);
    assert_eq!(sum.root.mime_type(), "text/plain");
    assert_eq!(sum.root.param("charset"), Some("US-ASCII"));
    assert_eq!(sum.root.lines, 1);
    assert_eq!(sum.message_id.as_deref(), Some("B27397-0100000@cac.washington.edu"));
    assert_eq!(sum.from.as_ref().map(|f| f.mailbox.as_str()), Some("gray"));
    assert_eq!(sum.cc.as_ref().map(|f| f.host.as_str()), Some("CNRI.Reston.VA.US"));
    assert!(!sum.has_attachments);
    assert_eq!(sum.preview, "Hello Joe, do you think we can meet at 3:30 tomorrow?");
    assert_eq!(sum.size as usize, RFC3501.len());
}

#[test]
fn simple_message_sections() {
    let sum = summarize(SIMPLE);
    // A message without Content-Type is text/plain; charset=us-ascii (RFC 2045 5.2).
    assert_eq!(sum.root.params, vec![("charset".to_string(), "us-ascii".to_string())]);
    assert_eq!(sum.root.lines, 2);
    assert_eq!(sect(SIMPLE, &[], Spec::Text), "Shall we meet at noon?\r\nAlice\r\n");
    assert_eq!(sect(SIMPLE, &[1], Spec::Full), "Shall we meet at noon?\r\nAlice\r\n");
    assert!(sect(SIMPLE, &[], Spec::Header).ends_with("<lunch-1@example.org>\r\n\r\n"));
    assert_eq!(sect(SIMPLE, &[2], Spec::Full), "");
    assert_eq!(sect(SIMPLE, &[1, 1], Spec::Full), "Shall we meet at noon?\r\nAlice\r\n");
    assert_eq!(sect(SIMPLE, &[], Spec::Full).as_bytes(), SIMPLE);
    assert_eq!(
        sect(
            SIMPLE,
            &[],
            Spec::HeaderFields {
                names: &["subject", "FROM"],
                not: false
            }
        ),
        "From: Alice <alice@example.org>\r\nSubject: Lunch\r\n\r\n"
    );
    assert_eq!(sect(SIMPLE, &[], Spec::Mime), "");
    // HEADER below a part that is not message/rfc822 does not exist.
    assert_eq!(sect(SIMPLE, &[1], Spec::Header), "");
}

#[test]
fn alternative_parts() {
    let sum = summarize(ALTERNATIVE);
    let PartKind::Multipart(children) = &sum.root.kind else {
        panic!("not multipart: {:?}", sum.root);
    };
    assert_eq!(children.len(), 2);
    assert_eq!(children[0].mime_type(), "text/plain");
    assert_eq!(children[0].encoding.as_deref(), Some("quoted-printable"));
    assert_eq!(children[1].mime_type(), "text/html");
    assert_eq!(sect(ALTERNATIVE, &[1], Spec::Full), "Caf=C3=A9 news");
    assert_eq!(
        sect(ALTERNATIVE, &[2], Spec::Mime),
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
    );
    assert_eq!(
        binary_content(&sum, ALTERNATIVE, &[1]).as_deref(),
        Ok("Café news".as_bytes())
    );
    assert_eq!(sum.preview, "Café news");
    assert_eq!(sum.sent_date, Some(1_738_657_800));
    assert_eq!(children[0].size(), 14);
    assert_eq!(children[0].lines, 0);
    // TEXT of the top level is the whole multipart body, preamble included.
    assert!(sect(ALTERNATIVE, &[], Spec::Text).starts_with("This is a MIME message.\r\n--alt\r\n"));
}

#[test]
fn mixed_with_attachment() {
    let sum = summarize(MIXED);
    assert!(sum.has_attachments);
    let pdf = find_part(&sum.root, &[2]).cloned().unwrap_or_default();
    assert_eq!(pdf.mime_type(), "application/pdf");
    assert_eq!(pdf.param("name"), Some("report.pdf"));
    assert_eq!(s(&pdf.id), Some("<pdf1@example.org>"));
    assert_eq!(s(&pdf.description), Some("The report"));
    let d = pdf.disposition.clone().unwrap_or_default();
    assert_eq!(d.kind, "attachment");
    assert_eq!(d.params, vec![("filename".to_string(), "report.pdf".to_string())]);
    assert_eq!(binary_content(&sum, MIXED, &[2]).as_deref(), Ok(&b"%PDF-1.4\n"[..]));
    let text = find_part(&sum.root, &[1]).cloned().unwrap_or_default();
    assert_eq!(text.language, vec!["en".to_string(), "de".to_string()]);
    assert_eq!(sum.preview, "See attached.");
    assert_eq!(binary_content(&sum, MIXED, &[3]), Err(BinaryError::NoSuchPart));
}

#[test]
fn nested_message_rfc822() {
    let sum = summarize(NESTED);
    let first = find_part(&sum.root, &[1]).cloned().unwrap_or_default();
    // A subpart without Content-Type is text/plain (RFC 2046 5.1).
    assert_eq!(first.mime_type(), "text/plain");
    assert_eq!(first.header_start, first.body_start - 2);
    let msg = find_part(&sum.root, &[2]).cloned().unwrap_or_default();
    let PartKind::Message(inner) = &msg.kind else {
        panic!("not a message: {msg:?}");
    };
    assert_eq!(s(&inner.envelope.subject), Some("Newsletter"));
    assert_eq!(inner.envelope.sender, inner.envelope.from);
    assert_eq!(sect(NESTED, &[2, 1], Spec::Full), "Plain body");
    assert_eq!(sect(NESTED, &[2, 2], Spec::Full), "<p>HTML body</p>");
    assert_eq!(sect(NESTED, &[2, 2], Spec::Mime), "Content-Type: text/html\r\n\r\n");
    assert_eq!(sect(NESTED, &[2], Spec::Mime), "Content-Type: message/rfc822\r\n\r\n");
    assert!(sect(NESTED, &[2], Spec::Header).starts_with("From: Alice"));
    assert!(sect(NESTED, &[2], Spec::Header).ends_with("boundary=\"inner\"\r\n\r\n"));
    assert!(sect(NESTED, &[2], Spec::Text).starts_with("--inner\r\n"));
    assert!(sect(NESTED, &[2], Spec::Full).starts_with("From: Alice"));
    assert!(sect(NESTED, &[2], Spec::Full).ends_with("--inner--\r\n"));
    assert_eq!(
        sect(
            NESTED,
            &[2],
            Spec::HeaderFields {
                names: &["subject"],
                not: false
            }
        ),
        "Subject: Newsletter\r\n\r\n"
    );
    assert_eq!(sect(NESTED, &[2, 3], Spec::Full), "");
    assert!(sum.has_attachments);
    assert_eq!(sum.base_subject, "Newsletter");
    assert!(sum.subject_is_reply);
    assert_eq!(sum.preview, "Forwarding this.");
}

#[test]
fn eight_bit_and_encoded_words() {
    let sum = summarize(ENCODED);
    // ENVELOPE keeps raw header text (RFC 3501 7.4.2); the summary decodes.
    assert_eq!(s(&sum.envelope.from[0].name), Some("=?utf-8?q?J=C3=B6rg?="));
    assert_eq!(s(&sum.envelope.to[0].name), Some("Zoë"));
    assert_eq!(s(&sum.envelope.subject), Some("=?iso-8859-1?q?Gr=FC=DFe?= und Küsse"));
    assert_eq!(sum.subject, "Grüße und Küsse");
    assert_eq!(sum.from.as_ref().map(|f| f.name.as_str()), Some("Jörg"));
    assert_eq!(sum.to.as_ref().map(|f| f.name.as_str()), Some("Zoë"));
}

#[test]
fn groups_and_missing_from() {
    let sum = summarize(GROUPS);
    assert!(sum.envelope.from.is_empty());
    assert!(sum.envelope.sender.is_empty());
    assert_eq!(sum.envelope.to.len(), 2);
    assert_eq!(sum.envelope.cc.len(), 4);
    assert_eq!(sum.from, None);
    assert_eq!(sum.to, None);
    assert_eq!(sum.cc.as_ref().map(|c| c.mailbox.as_str()), Some("a"));
    assert_eq!(sum.envelope.date, None);
    assert_eq!(sum.sent_date, None);
}

#[test]
fn lf_only_input() {
    let lf: Vec<u8> = ALTERNATIVE.iter().copied().filter(|&b| b != b'\r').collect();
    let sum = summarize(&lf);
    let PartKind::Multipart(children) = &sum.root.kind else {
        panic!("not multipart");
    };
    assert_eq!(children.len(), 2);
    assert_eq!(sect(&lf, &[1], Spec::Full), "Caf=C3=A9 news");
    assert_eq!(
        sect(&lf, &[2], Spec::Mime),
        "Content-Type: text/html; charset=utf-8\n\n"
    );
    assert_eq!(sum.preview, "Café news");
}

#[test]
fn malformed_boundaries() {
    // Declared boundary never appears: shown as one text part.
    let raw = b"Content-Type: multipart/mixed; boundary=nope\r\n\r\nhello\r\n";
    let sum = summarize(raw);
    assert_eq!(sum.root.mime_type(), "text/plain");
    assert_eq!(sect(raw, &[1], Spec::Full), "hello\r\n");
    // No boundary parameter at all.
    let raw = b"Content-Type: multipart/mixed\r\n\r\nhello\r\n";
    assert_eq!(summarize(raw).root.mime_type(), "text/plain");
    // Missing close delimiter: the last part runs to the end.
    let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo";
    assert_eq!(sect(raw, &[2], Spec::Full), "two");
    // Truncated inside a part header.
    let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/ht";
    let sum = summarize(raw);
    assert_eq!(find_part(&sum.root, &[1]).map(|p| p.size()), Some(0));
}

#[test]
fn empty_and_headerless() {
    let sum = summarize(b"");
    assert_eq!(sum.size, 0);
    assert_eq!(sum.root.mime_type(), "text/plain");
    assert_eq!(sum.envelope, Envelope::default());
    let raw = b"\r\njust a body";
    let sum = summarize(raw);
    assert_eq!(sect(raw, &[], Spec::Header), "\r\n");
    assert_eq!(sect(raw, &[], Spec::Text), "just a body");
    assert_eq!(sum.preview, "just a body");
    let raw = b"Subject: only header";
    assert_eq!(sect(raw, &[], Spec::Header), "Subject: only header");
    assert_eq!(sect(raw, &[], Spec::Text), "");
    assert_eq!(summarize(raw).subject, "only header");
}

#[test]
fn digest_defaults_to_message() {
    let raw = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\nbody one\r\n--d--\r\n";
    let sum = summarize(raw);
    let part = find_part(&sum.root, &[1]).cloned().unwrap_or_default();
    assert_eq!(part.mime_type(), "message/rfc822");
    assert_eq!(sect(raw, &[1, 1], Spec::Full), "body one");
}

#[test]
fn deep_nesting_is_capped() {
    let mut raw = Vec::new();
    for i in 0..200 {
        raw.extend_from_slice(format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\ndeep\r\n");
    let sum = summarize(&raw);
    let mut depth = 0;
    let mut cur = &sum.root;
    while let PartKind::Multipart(c) = &cur.kind {
        depth += 1;
        cur = &c[0];
    }
    assert_eq!(depth, mime::MAX_DEPTH);
    // Round trip through the store encoding.
    let bytes = postcard::to_allocvec(&sum).unwrap_or_default();
    let back: MessageSummary = postcard::from_bytes(&bytes).unwrap_or_default();
    assert_eq!(back, sum);
}

#[test]
fn many_parts_are_capped() {
    let mut raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..5000 {
        raw.extend_from_slice(b"--b\r\n\r\nx\r\n");
    }
    let sum = summarize(&raw);
    let mut n = 0;
    sum.root.walk(&mut |_| n += 1);
    assert!(n <= mime::MAX_PARTS, "{n} parts");
}

#[test]
fn summary_round_trips_postcard() {
    for raw in [RFC3501, SIMPLE, ALTERNATIVE, MIXED, NESTED, ENCODED, GROUPS] {
        let sum = summarize(raw);
        let bytes = postcard::to_allocvec(&sum).unwrap_or_default();
        let back: MessageSummary = postcard::from_bytes(&bytes).unwrap_or_default();
        assert_eq!(back, sum);
    }
}

/// Deterministic xorshift, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"--b",
    b"--b--",
    b"--inner",
    b": ",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: multipart/digest; boundary=inner\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"=?utf-8?q?=C3=A9?=",
    b"=?",
    b"?=",
    b"From: a <b@c>, \"x\" <",
    b"To: g: a@b;",
    b"(((",
    b"\"",
    b"\0",
    b"\xff\xfe",
    b"=\r\n",
    b"=4",
    b"Subject: Re: [x] Fwd:",
    b"Date: 32 Foo 99999 99:99:99 +9999\r\n",
    b"Content-Disposition: attachment; filename*0*=utf-8''a%; filename*1=b\r\n",
    b" \t",
    b"References: <a@b> <",
    b"<>",
    b"\r\n\r\n",
];

#[test]
fn never_panics_on_arbitrary_input() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let mut raw = Vec::new();
        for _ in 0..rng.below(60) {
            if rng.below(3) == 0 {
                for _ in 0..rng.below(20) {
                    raw.push(rng.next() as u8);
                }
            } else {
                raw.extend_from_slice(PIECES[rng.below(PIECES.len())]);
            }
        }
        check_all(&raw);
    }
    // Every truncation of the fixtures.
    for fixture in [RFC3501, ALTERNATIVE, MIXED, NESTED, ENCODED, GROUPS] {
        for cut in 0..fixture.len() {
            check_all(&fixture[..cut]);
        }
    }
}

fn check_all(raw: &[u8]) {
    let sum = summarize(raw);
    assert!(sum.preview.chars().count() <= PREVIEW_CHARS);
    sum.root.walk(&mut |p| {
        assert!(p.header_start <= p.body_start && p.body_start <= p.end, "{p:?}");
        assert!(p.end as usize <= raw.len());
    });
    for path in [&[][..], &[1], &[2], &[1, 1], &[2, 1], &[2, 2, 1], &[0]] {
        for spec in [Spec::Full, Spec::Header, Spec::Text, Spec::Mime] {
            let _ = section_bytes(&sum, raw, path, spec);
        }
        let _ = binary_content(&sum, raw, path);
    }
}

#[test]
fn large_message_is_linear() {
    // 10 MiB attachment: summarize must stay fast (checked loosely here; see the
    // release-mode figure in the report).
    let mut raw = MIXED.to_vec();
    let cut = raw.len() - b"--mix--\r\n".len();
    raw.truncate(cut);
    raw.extend_from_slice(
        b"--mix\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    );
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
    while raw.len() < 10 * 1024 * 1024 {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(b"--mix--\r\n");
    let start = std::time::Instant::now();
    let sum = summarize(&raw);
    let took = start.elapsed();
    eprintln!("summarize of {} bytes took {took:?}", raw.len());
    assert_eq!(
        find_part(&sum.root, &[3]).map(|p| p.mime_type()),
        Some("application/octet-stream".into())
    );
    // Debug builds are slow; this only catches quadratic behaviour.
    assert!(took.as_secs() < 5, "summarize took {took:?}");

    // Huge headers: one folded Subject and one long address list.
    let mut raw = b"Subject: ".to_vec();
    while raw.len() < 5 * 1024 * 1024 {
        raw.extend_from_slice(b"word word word\r\n ");
    }
    raw.extend_from_slice(b"end\r\nTo: ");
    while raw.len() < 10 * 1024 * 1024 {
        raw.extend_from_slice(b"\"N, x\" <a@b.c>, ");
    }
    raw.extend_from_slice(b"z@y\r\n\r\nbody\r\n");
    let start = std::time::Instant::now();
    let sum = summarize(&raw);
    let took = start.elapsed();
    eprintln!("summarize of {} header bytes took {took:?}", raw.len());
    assert!(sum.subject.starts_with("word word"));
    assert_eq!(sum.envelope.to.len(), 1000);
    assert!(took.as_secs() < 5, "summarize took {took:?}");
}
