//! Tests of sections, SEARCH, SORT and THREAD. Commands are written in IMAP syntax and
//! parsed by imap-codec, so the tests use exactly the types the session will pass in.

use imap_codec::encode::Encoder;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName};
use imap_codec::imap_types::response::{Data, Response};
use imap_codec::{CommandCodec, ResponseCodec, decode::Decoder};

use super::*;
use crate::mail::fixtures::*;
use crate::mail::{MessageSummary, summarize};

fn command(line: &str) -> CommandBody<'static> {
    let line = format!("a {line}\r\n");
    match CommandCodec::default().decode_static(line.as_bytes()) {
        Ok((_, cmd)) => cmd.body,
        Err(e) => panic!("cannot parse {line:?}: {e:?}"),
    }
}

// ----- sections -------------------------------------------------------------------------

/// Answer every item of `FETCH 1 (<items>)` as text.
fn fetch_items(raw: &[u8], items: &str) -> Vec<String> {
    let sum = summarize(raw);
    let CommandBody::Fetch {
        macro_or_item_names: MacroOrMessageDataItemNames::MessageDataItemNames(names),
        ..
    } = command(&format!("FETCH 1 ({items})"))
    else {
        panic!("not a fetch");
    };
    names
        .iter()
        .map(|n| match n {
            MessageDataItemName::BodyExt { section, partial, .. } => {
                String::from_utf8_lossy(&body_section(&sum, raw, section.as_ref(), *partial)).into_owned()
            }
            MessageDataItemName::Binary { section, partial, .. } => match binary(&sum, raw, section, *partial) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => format!("{e:?}"),
            },
            MessageDataItemName::BinarySize { section } => match binary_size(&sum, raw, section) {
                Ok(n) => n.to_string(),
                Err(e) => format!("{e:?}"),
            },
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn sections_of_nested_message() {
    let got = fetch_items(
        NESTED,
        "BODY[1] BODY.PEEK[2.MIME] BODY[2.HEADER.FIELDS (SUBJECT)] BODY[2.1] BODY[2.2]<3.4> \
         BODY[2.TEXT]<0.7> BODY[3] BODY[HEADER.FIELDS.NOT (From To Subject MIME-Version)] BODY[]<0.5> \
         BODY[1]<100.5> BODY[2.1.MIME] BODY[1.HEADER]",
    );
    assert_eq!(
        got,
        vec![
            "Forwarding this.",
            "Content-Type: message/rfc822\r\n\r\n",
            "Subject: Newsletter\r\n\r\n",
            "Plain body",
            "HTML",
            "--inner",
            "",
            "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n",
            "From:",
            "",
            "Content-Type: text/plain\r\n\r\n",
            "",
        ]
    );
}

#[test]
fn binary_sections() {
    let got = fetch_items(
        MIXED,
        "BINARY[2] BINARY.SIZE[2] BINARY[1] BINARY.PEEK[2]<1.3> BINARY[5] BINARY.SIZE[1]",
    );
    assert_eq!(got, vec!["%PDF-1.4\n", "9", "See attached.", "PDF", "NoSuchPart", "13"]);
    let raw = b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644\r\n";
    assert_eq!(
        fetch_items(raw, "BINARY[1] BINARY.SIZE[1]"),
        vec!["UnknownCte", "UnknownCte"]
    );
    // Non-multipart message: part 1 is the body (RFC 3501 6.4.5).
    assert_eq!(
        fetch_items(SIMPLE, "BINARY[1]"),
        vec!["Shall we meet at noon?\r\nAlice\r\n"]
    );
}

// ----- SEARCH ---------------------------------------------------------------------------

const SEARCH_MSG: &[u8] = b"From: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>\r\n\
To: Bob <bob@example.com>\r\n\
Cc: carol@example.net\r\n\
Bcc: dave@example.org\r\n\
Subject: Quarterly =?utf-8?q?r=C3=A9sum=C3=A9?=\r\n\
Date: Wed, 17 Jul 1996 23:30:00 -0700\r\n\
X-Priority: high\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
The caf=C3=A9 budget is attached.\r\n\
--b\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
c2VjcmV0IHdvcmQ=\r\n\
--b--\r\n";

fn hit(criteria: &str) -> bool {
    let sum = summarize(SEARCH_MSG);
    let keywords = vec!["$Important".to_string()];
    let ctx = SearchContext {
        seq: 3,
        uid: 30,
        max_seq: 5,
        max_uid: 50,
        flags: SystemFlags {
            seen: true,
            flagged: true,
            ..SystemFlags::default()
        },
        keywords: &keywords,
        // 2024-03-10 12:00:00 UTC
        internal_date: 1_710_072_000,
        internal_tz_minutes: 0,
        size: sum.size,
        modseq: 7,
    };
    let CommandBody::Search { criteria, .. } = command(&format!("SEARCH CHARSET UTF-8 {criteria}")) else {
        panic!("not a search");
    };
    matches_all(criteria.as_ref(), &ctx, &sum, SEARCH_MSG)
}

#[test]
fn search_flags_and_numbers() {
    let cases = [
        ("ALL", true),
        ("ANSWERED", false),
        ("UNANSWERED", true),
        ("DELETED", false),
        ("UNDELETED", true),
        ("DRAFT", false),
        ("UNDRAFT", true),
        ("FLAGGED", true),
        ("UNFLAGGED", false),
        ("SEEN", true),
        ("UNSEEN", false),
        ("RECENT", false),
        ("NEW", false),
        ("OLD", true),
        ("KEYWORD $Important", true),
        ("KEYWORD $important", true),
        ("KEYWORD $Junk", false),
        ("UNKEYWORD $Important", false),
        ("UNKEYWORD $Junk", true),
        ("LARGER 10", true),
        ("LARGER 100000", false),
        ("SMALLER 10", false),
        ("SMALLER 100000", true),
        ("UID 30", true),
        ("UID 31:*", false),
        ("UID 1:30", true),
        ("UID *", false),
        ("UID 1,5,30:29", true),
        ("3", true),
        ("4:*", false),
        ("2:4", true),
        ("*:3", true),
        ("*", false),
        ("MODSEQ 7", true),
        ("MODSEQ 8", false),
        ("NOT SEEN", false),
        ("NOT NOT SEEN", true),
        ("OR DRAFT FLAGGED", true),
        ("OR DRAFT DELETED", false),
        ("(FLAGGED SEEN)", true),
        ("(FLAGGED DELETED)", false),
        ("FLAGGED SEEN UID 30", true),
        ("FLAGGED SEEN UID 31", false),
    ];
    for (criteria, want) in cases {
        assert_eq!(hit(criteria), want, "{criteria}");
    }
}

#[test]
fn search_dates() {
    let cases = [
        // INTERNALDATE is 10-Mar-2024.
        ("BEFORE 11-Mar-2024", true),
        ("BEFORE 10-Mar-2024", false),
        ("ON 10-Mar-2024", true),
        ("ON 9-Mar-2024", false),
        ("SINCE 10-Mar-2024", true),
        ("SINCE 11-Mar-2024", false),
        // Date: 17 Jul 1996 23:30 -0700, which is 18 Jul in UTC; the zone of the header
        // decides (RFC 3501 6.4.4 "disregarding time and timezone").
        ("SENTON 17-Jul-1996", true),
        ("SENTON 18-Jul-1996", false),
        ("SENTBEFORE 18-Jul-1996", true),
        ("SENTBEFORE 17-Jul-1996", false),
        ("SENTSINCE 17-Jul-1996", true),
        ("SENTSINCE 18-Jul-1996", false),
    ];
    for (criteria, want) in cases {
        assert_eq!(hit(criteria), want, "{criteria}");
    }
}

#[test]
fn search_text_keys() {
    let cases = [
        ("FROM joerg@example", true),
        ("FROM {5}\r\nJÖRG", true),
        ("FROM bob", false),
        ("TO bob", true),
        ("CC carol", true),
        ("CC bob", false),
        ("BCC dave", true),
        ("SUBJECT quarterly", true),
        ("SUBJECT {8}\r\nRÉSUMÉ", true),
        ("SUBJECT {8}\r\nrésumé", true),
        ("SUBJECT \"\"", true),
        ("HEADER X-Priority high", true),
        ("HEADER x-priority \"\"", true),
        ("HEADER X-Missing \"\"", false),
        // Bodies are decoded (quoted-printable, UTF-8) before matching.
        ("BODY {5}\r\ncafé", true),
        ("BODY {5}\r\nCAFÉ", true),
        ("BODY budget", true),
        ("BODY caf=C3", false),
        // Only text parts are searched.
        ("BODY secret", false),
        ("BODY Quarterly", false),
        ("TEXT Quarterly", true),
        ("TEXT x-priority", true),
        ("TEXT budget", true),
        ("TEXT nowhere", false),
    ];
    for (criteria, want) in cases {
        assert_eq!(hit(criteria), want, "{criteria}");
    }
}

// ----- SORT -----------------------------------------------------------------------------

fn msg(from: &str, to: &str, subject: &str, date: &str, extra: &str) -> MessageSummary {
    let mut raw = String::new();
    for (name, value) in [("From", from), ("To", to), ("Subject", subject), ("Date", date)] {
        if !value.is_empty() {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    raw.push_str(extra);
    raw.push_str("\r\nbody\r\n");
    summarize(raw.as_bytes())
}

fn sort_ids(criteria: &str, msgs: &[(MessageSummary, i64, u32)]) -> Vec<u32> {
    let CommandBody::Sort { sort_criteria, .. } = command(&format!("SORT ({criteria}) UTF-8 ALL")) else {
        panic!("not a sort");
    };
    let items: Vec<SortItem<'_>> = msgs
        .iter()
        .enumerate()
        .map(|(i, (s, internal, size))| SortItem {
            id: i as u32 + 1,
            summary: s,
            internal_date: *internal,
            size: *size,
        })
        .collect();
    sort(&items, sort_criteria.as_ref())
}

#[test]
fn sort_keys() {
    let msgs = vec![
        (
            msg(
                "Zed <zed@a.org>",
                "bob@x.org",
                "Re: beta",
                "Mon, 3 Feb 2025 10:00:00 +0000",
                "Cc: m@c.org\r\n",
            ),
            300,
            50,
        ),
        (msg("alice@b.org", "Carl <carl@x.org>", "alpha", "", ""), 100, 10),
        (
            msg(
                "Bob <bob@c.org>",
                "",
                "[list] Beta",
                "Sun, 2 Feb 2025 10:00:00 +0000",
                "Cc: a@c.org\r\n",
            ),
            200,
            30,
        ),
    ];
    assert_eq!(sort_ids("ARRIVAL", &msgs), vec![2, 3, 1]);
    assert_eq!(sort_ids("REVERSE ARRIVAL", &msgs), vec![1, 3, 2]);
    assert_eq!(sort_ids("SIZE", &msgs), vec![2, 3, 1]);
    // DATE falls back to INTERNALDATE (100 = 1970) for the message without one.
    assert_eq!(sort_ids("DATE", &msgs), vec![2, 3, 1]);
    // FROM sorts by the local part: alice, bob, zed.
    assert_eq!(sort_ids("FROM", &msgs), vec![2, 3, 1]);
    // DISPLAYFROM sorts by display name, else address: "alice@b.org", "Bob", "Zed".
    assert_eq!(sort_ids("DISPLAYFROM", &msgs), vec![2, 3, 1]);
    // TO: "" (missing) < bob < carl.
    assert_eq!(sort_ids("TO", &msgs), vec![3, 1, 2]);
    assert_eq!(sort_ids("DISPLAYTO", &msgs), vec![3, 1, 2]);
    // CC: "" < a < m.
    assert_eq!(sort_ids("CC", &msgs), vec![2, 3, 1]);
    // SUBJECT uses the base subject: alpha, beta (1), Beta (3) tie -> sequence order.
    assert_eq!(sort_ids("SUBJECT", &msgs), vec![2, 1, 3]);
    assert_eq!(sort_ids("SUBJECT REVERSE DATE", &msgs), vec![2, 1, 3]);
    assert_eq!(sort_ids("REVERSE SUBJECT DATE", &msgs), vec![3, 1, 2]);
    assert_eq!(sort_ids("REVERSE SUBJECT", &msgs), vec![1, 3, 2]);
}

// ----- THREAD ---------------------------------------------------------------------------

struct T {
    id: u32,
    mid: &'static str,
    refs: &'static str,
    subject: &'static str,
    day: u32,
}

fn thread_answer(algorithm: &str, msgs: &[T]) -> String {
    let sums: Vec<MessageSummary> = msgs
        .iter()
        .map(|t| {
            let mut extra = String::new();
            if !t.mid.is_empty() {
                extra.push_str(&format!("Message-ID: <{}>\r\n", t.mid));
            }
            if !t.refs.is_empty() {
                extra.push_str(&format!("References: {}\r\n", t.refs));
            }
            let date = format!("{} Jan 2025 10:00:00 +0000", t.day);
            msg("a@b.c", "", t.subject, &date, &extra)
        })
        .collect();
    let items: Vec<SortItem<'_>> = msgs
        .iter()
        .zip(&sums)
        .map(|(t, s)| SortItem {
            id: t.id,
            summary: s,
            internal_date: 0,
            size: 0,
        })
        .collect();
    let CommandBody::Thread { algorithm, .. } = command(&format!("THREAD {algorithm} UTF-8 ALL")) else {
        panic!("not a thread");
    };
    let Some(algorithm) = ThreadAlgorithm::from_imap(&algorithm) else {
        panic!("unsupported");
    };
    let resp = Response::Data(Data::Thread(thread(&items, algorithm)));
    String::from_utf8_lossy(&ResponseCodec::default().encode(&resp).dump()).into_owned()
}

fn t(id: u32, mid: &'static str, refs: &'static str, subject: &'static str, day: u32) -> T {
    T {
        id,
        mid,
        refs,
        subject,
        day,
    }
}

#[test]
fn thread_references_rfc5256_shape() {
    // RFC 5256 4: "(3 6 (4 23)(44 7 96))".
    let msgs = [
        t(3, "m3", "", "topic", 1),
        t(6, "m6", "<m3>", "Re: topic", 2),
        t(4, "m4", "<m3> <m6>", "Re: topic", 3),
        t(23, "m23", "<m3> <m6> <m4>", "Re: topic", 4),
        t(44, "m44", "<m3> <m6>", "Re: topic", 5),
        t(7, "m7", "<m3> <m6> <m44>", "Re: topic", 6),
        t(96, "m96", "<m3> <m6> <m44> <m7>", "Re: topic", 7),
    ];
    assert_eq!(thread_answer("REFERENCES", &msgs), "* THREAD (3 6 (4 23)(44 7 96))\r\n");
}

#[test]
fn thread_references_dummy_parent() {
    // RFC 5256 4: "((3)(5))" — two replies to a message that is not in the mailbox.
    let msgs = [
        t(3, "m3", "<gone>", "Re: lost", 1),
        t(5, "m5", "<gone>", "Re: lost", 2),
        t(8, "m8", "", "other", 3),
    ];
    assert_eq!(thread_answer("REFERENCES", &msgs), "* THREAD ((3)(5))(8)\r\n");
}

#[test]
fn thread_references_subject_merging() {
    let msgs = [
        // Same base subject, no references: a reply joins the original ...
        t(1, "a1", "", "Plans", 1),
        t(2, "a2", "", "Re: Plans", 2),
        // ... two originals with the same subject are gathered under a dummy.
        t(3, "b1", "", "Lunch", 3),
        t(4, "b2", "", "Lunch", 4),
        // A truncated References: parent taken from the last id.
        t(5, "c1", "", "Zeta", 5),
        t(6, "c2", "<unknown> <c1>", "Re: Zeta", 6),
        // A loop (each references the other) must not hang or lose messages: 7 is linked
        // under 8 while 7 is read (1B), then 8 under 7 would close the loop and is refused.
        t(7, "d1", "<d2>", "Loop", 7),
        t(8, "d2", "<d1>", "Loop", 8),
    ];
    assert_eq!(
        thread_answer("REFERENCES", &msgs),
        "* THREAD (1 2)((3)(4))(5 6)(8 7)\r\n"
    );
}

#[test]
fn thread_orderedsubject() {
    // RFC 5256 4 ORDEREDSUBJECT: threads by base subject, first message the parent of
    // the rest, threads ordered by their first message's date.
    let msgs = [
        t(1, "", "", "b", 5),
        t(2, "", "", "a", 1),
        t(3, "", "", "Re: a", 3),
        t(4, "", "", "c", 2),
        t(5, "", "", "Fwd: a", 4),
        t(6, "", "", "Re: b", 6),
    ];
    assert_eq!(
        thread_answer("ORDEREDSUBJECT", &msgs),
        "* THREAD (2 (3)(5))(4)(1 6)\r\n"
    );
}

#[test]
fn thread_deep_chain_is_bounded() {
    // A 5000-message reply chain with a side reply at every step: no stack overflow.
    let n = 5000usize;
    let mut raws = Vec::new();
    for i in 0..n {
        let refs = if i == 0 {
            String::new()
        } else {
            format!("References: <m{}>\r\n", i - 1)
        };
        raws.push(format!(
            "Message-ID: <m{i}>\r\n{refs}Subject: s{i}\r\nDate: 1 Jan 2025 10:00:00 +0000\r\n\r\n"
        ));
        raws.push(format!(
            "Message-ID: <side{i}>\r\nReferences: <m{i}>\r\nSubject: x{i}\r\n\r\n"
        ));
    }
    let sums: Vec<MessageSummary> = raws.iter().map(|r| summarize(r.as_bytes())).collect();
    let items: Vec<SortItem<'_>> = sums
        .iter()
        .enumerate()
        .map(|(i, s)| SortItem {
            id: i as u32 + 1,
            summary: s,
            internal_date: i as i64,
            size: 0,
        })
        .collect();
    let threads = thread(&items, ThreadAlgorithm::References);
    assert_eq!(threads.len(), 1);
    let text = threads[0].to_string();
    // Every message appears exactly once.
    let mut ids: Vec<u32> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=2 * n as u32).collect::<Vec<_>>());
}

#[test]
fn search_and_sections_never_panic_on_mutated_messages() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let keys = [
        "TEXT a",
        "BODY {2}\r\né",
        "HEADER Subject x",
        "FROM a",
        "SENTON 1-Jan-2000",
        "OR SEEN BODY b",
    ];
    for round in 0..300 {
        let mut raw = if round % 2 == 0 {
            NESTED.to_vec()
        } else {
            SEARCH_MSG.to_vec()
        };
        for _ in 0..6 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x as usize) % raw.len();
            raw[at] = (x >> 40) as u8;
        }
        raw.truncate((x as usize >> 3) % (raw.len() + 1));
        let sum = summarize(&raw);
        let ctx = SearchContext::default();
        for k in keys {
            let CommandBody::Search { criteria, .. } = command(&format!("SEARCH CHARSET UTF-8 {k}")) else {
                panic!("not a search");
            };
            let _ = matches_all(criteria.as_ref(), &ctx, &sum, &raw);
        }
        let _ = fetch_items(
            &raw,
            "BODY[1] BODY[2.1] BODY[2.HEADER] BODY[2.TEXT]<1.9> BINARY[2.2] BINARY.SIZE[1]",
        );
    }
}
