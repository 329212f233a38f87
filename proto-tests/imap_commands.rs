//! The RFC 3501 commands and extensions the other IMAP tests do not reach, with
//! Python's imaplib over STARTTLS and TLS: EXAMINE (read-only), CHECK, UNSELECT,
//! NAMESPACE, ID, ENABLE, every FETCH item, every SEARCH key, STORE FLAGS
//! replacement, RENAME INBOX, STATUS items.

mod common;
mod imap_support;

use imap_support::Imap;

/// imaplib does not know these RFC 2971/5161/3691 commands; teach it.
const EXTRA_COMMANDS: &str = r#"
for name in ("ID", "ENABLE", "UNSELECT"):
    imaplib.Commands[name] = ("NONAUTH", "AUTH", "SELECTED")
MULTIPART = (b"From: Bob <bob@example.org>\r\nTo: alice@example.test\r\nCc: Carol <carol@example.org>\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <1@example.org>\r\n"
    b"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nX-Prio: high\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=b1\r\n\r\npre\r\n--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello part one\r\n--b1\r\n"
    b"Content-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"AAECAw==\r\n--b1--\r\n")
SMALL = b"Subject: small\r\nFrom: x@example.org\r\nDate: Tue, 3 Mar 2026 10:00:00 +0000\r\n\r\nsmall body\r\n"
def load(c):
    ok(c.append("INBOX", "(\\Answered \\Draft)", imaplib.Time2Internaldate(1700000000), MULTIPART))
    ok(c.append("INBOX", None, None, SMALL))
"#;

fn py(t: &Imap, body: &str) -> String {
    t.py(&format!("{EXTRA_COMMANDS}\n{body}"))
}

#[test]
fn examine_is_read_only_and_check_unselect_work() {
    let t = Imap::start();
    let out = py(
        &t,
        r#"
c = starttls()
load(c)
typ, data = c.select("INBOX", readonly=True)
print("EXAMINE", typ, data, c.untagged_responses.get("READ-ONLY"))
ok(c.fetch("1", "(BODY[])"))
print("FLAGS-AFTER", c.fetch("1", "(FLAGS)")[1])
print("STORE-RO", c.store("1", "+FLAGS", "(\\Flagged)")[0])
print("CHECK", c.check())
print("UNSELECT", c._simple_command("UNSELECT"))
try:
    c.fetch("1", "(FLAGS)")
    print("FETCH-AFTER-UNSELECT accepted")
except imaplib.IMAP4.error as e:
    print("FETCH-AFTER-UNSELECT refused", e)
typ, data = c.select("INBOX")
print("RW", c.untagged_responses.get("READ-WRITE"))
c.logout()
"#,
    );
    assert!(out.contains("EXAMINE OK [b'2'] [b'']"), "{out}");
    // RFC 3501 6.3.2: EXAMINE never sets \Seen, so FETCH BODY[] leaves the flags alone.
    assert!(
        out.contains("FLAGS-AFTER [b'1 (FLAGS (\\\\Answered \\\\Draft))']"),
        "{out}"
    );
    assert!(out.contains("STORE-RO NO"), "{out}");
    assert!(out.contains("CHECK ('OK'"), "{out}");
    assert!(out.contains("UNSELECT ('OK'"), "{out}");
    // RFC 3691: UNSELECT leaves the selected state.
    assert!(out.contains("FETCH-AFTER-UNSELECT refused"), "{out}");
    assert!(out.contains("RW [b'']"), "{out}");
}

#[test]
fn namespace_id_enable() {
    let t = Imap::start();
    let out = py(
        &t,
        r#"
c = tls()
print("NAMESPACE", c.namespace())
print("ID", c._simple_command("ID", '("name" "pytest" "version" "1")'), c.untagged_responses.get("ID"))
print("ENABLE", c._simple_command("ENABLE", "CONDSTORE"), c.untagged_responses.get("ENABLED"))
load(c)
ok(c.select("INBOX"))
# With CONDSTORE enabled, FETCH FLAGS carries MODSEQ (RFC 7162 3.1.2).
print("MODSEQ", c.fetch("1", "(FLAGS)")[1])
c.logout()
"#,
    );
    assert!(out.contains("NAMESPACE ('OK', [b'((\"\" \"/\")) NIL NIL'])"), "{out}");
    assert!(out.contains("[b'(\"name\" \"mailroom\" \"version\""), "{out}");
    assert!(out.contains("ENABLE ('OK'") && out.contains("[b'CONDSTORE']"), "{out}");
    assert!(
        out.contains("MODSEQ [b'1 (FLAGS (\\\\Answered \\\\Draft \\\\Recent) MODSEQ ("),
        "{out}"
    );
}

#[test]
fn every_fetch_item() {
    let t = Imap::start();
    let out = py(
        &t,
        r#"
c = tls()
load(c)
ok(c.select("INBOX"))
for item in ["RFC822.HEADER", "RFC822.TEXT", "BODY", "BODY[1.MIME]", "BODY[1]", "BODY[2]",
             "BODY[HEADER.FIELDS.NOT (SUBJECT FROM TO CC DATE MESSAGE-ID MIME-VERSION CONTENT-TYPE)]",
             "BINARY[2]", "BINARY.SIZE[2]", "BODY.PEEK[]<0.4>", "RFC822.SIZE", "RFC822"]:
    typ, data = c.fetch("1", "(%s)" % item)
    assert typ == "OK", (item, typ, data)
    print(item.split(" ")[0], "=>", data)
c.logout()
"#,
    );
    let line = |item: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{item} =>")))
            .unwrap_or_else(|| panic!("{item} missing:\n{out}"))
            .to_string()
    };
    assert!(line("RFC822.HEADER").contains("{268}") && line("RFC822.HEADER").ends_with("\\r\\n\\r\\n'), b')']"));
    assert!(line("RFC822.TEXT").contains("{183}', b'pre\\r\\n--b1"));
    assert!(line("BODY").contains(
        "BODY ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 14 0)(\"APPLICATION\" \"OCTET-STREAM\" (\"NAME\" \"a.bin\") NIL NIL \"base64\" 8) \"MIXED\")"
    ));
    assert!(line("BODY[1.MIME]").contains("b'Content-Type: text/plain; charset=utf-8\\r\\n\\r\\n'"));
    assert!(line("BODY[1]").contains("b'Hello part one'"));
    assert!(line("BODY[2]").contains("b'AAECAw=='"));
    assert!(line("BODY[HEADER.FIELDS.NOT").contains("b'X-Prio: high\\r\\n\\r\\n'"));
    // RFC 3516: BINARY decodes the transfer encoding and uses a literal8.
    assert!(line("BINARY[2]").contains("BINARY[2] ~{4}', b'\\x00\\x01\\x02\\x03'"));
    assert!(line("BINARY.SIZE[2]").contains("BINARY.SIZE[2] 4"));
    assert!(line("BODY.PEEK[]<0.4>").contains("BODY[]<0> {4}', b'From'"));
    assert!(line("RFC822.SIZE").contains("RFC822.SIZE 451"));
    assert!(line("RFC822").contains("{451}', b'From: Bob"));
    // RFC822.TEXT, unlike BODY.PEEK, sets \Seen and the change is reported with it.
    assert!(line("RFC822.TEXT").contains("FLAGS (\\\\Answered \\\\Seen"), "{out}");
}

#[test]
fn every_search_key() {
    let t = Imap::start();
    let out = py(
        &t,
        r#"
c = tls()
load(c)
ok(c.select("INBOX"))
ok(c.store("2", "+FLAGS", "(\\Flagged \\Deleted $Work)"))
cases = [("ANSWERED",), ("UNANSWERED",), ("DRAFT",), ("UNDRAFT",), ("FLAGGED",), ("UNFLAGGED",),
         ("DELETED",), ("UNDELETED",), ("NEW",), ("OLD",), ("RECENT",), ("SEEN",), ("UNSEEN",),
         ("LARGER", "200"), ("SMALLER", "200"), ("HEADER", "X-Prio", "high"), ("TEXT", "part"),
         ("BODY", "small"), ("CC", "carol"), ("TO", "alice"), ("FROM", "bob"), ("BCC", "x"),
         ("BEFORE", "1-Jan-2024"), ("ON", "14-Nov-2023"), ("SINCE", "1-Jan-2024"),
         ("SENTBEFORE", "3-Mar-2026"), ("SENTON", "3-Mar-2026"), ("SENTSINCE", "3-Mar-2026"),
         ("UID", "2"), ("2",), ("KEYWORD", "$Work"), ("UNKEYWORD", "$Work"), ("ALL",),
         ("NOT", "FLAGGED"), ("OR", "DRAFT", "FLAGGED"), ("(DRAFT LARGER 1)",)]
for case in cases:
    typ, data = c.search(None, *case)
    assert typ == "OK", (case, typ, data)
    print(" ".join(case), "=>", data[0].decode())
c.literal = "Grüße".encode()
typ, data = c.search("UTF-8", "SUBJECT")
print("SUBJECT-UTF8 =>", data[0].decode())
c.logout()
"#,
    );
    let expected = [
        ("ANSWERED", "1"),
        ("UNANSWERED", "2"),
        ("DRAFT", "1"),
        ("UNDRAFT", "2"),
        ("FLAGGED", "2"),
        ("UNFLAGGED", "1"),
        ("DELETED", "2"),
        ("UNDELETED", "1"),
        ("NEW", "1 2"),
        ("OLD", ""),
        ("RECENT", "1 2"),
        ("SEEN", ""),
        ("UNSEEN", "1 2"),
        ("LARGER 200", "1"),
        ("SMALLER 200", "2"),
        ("HEADER X-Prio high", "1"),
        ("TEXT part", "1"),
        ("BODY small", "2"),
        ("CC carol", "1"),
        ("TO alice", "1"),
        ("FROM bob", "1"),
        ("BCC x", ""),
        ("BEFORE 1-Jan-2024", "1"),
        ("ON 14-Nov-2023", "1"),
        ("SINCE 1-Jan-2024", "2"),
        ("SENTBEFORE 3-Mar-2026", "1"),
        ("SENTON 3-Mar-2026", "2"),
        ("SENTSINCE 3-Mar-2026", "2"),
        ("UID 2", "2"),
        ("2", "2"),
        ("KEYWORD $Work", "2"),
        ("UNKEYWORD $Work", "1"),
        ("ALL", "1 2"),
        ("NOT FLAGGED", "1"),
        ("OR DRAFT FLAGGED", "1 2"),
        ("(DRAFT LARGER 1)", "1"),
        ("SUBJECT-UTF8", "1"),
    ];
    for (key, hits) in expected {
        let want = format!("{key} => {hits}");
        assert!(
            out.lines().any(|l| l.trim_end() == want.trim_end()),
            "{want:?} not in:\n{out}"
        );
    }
}

#[test]
fn store_replace_and_rename_inbox() {
    let t = Imap::start();
    let out = py(
        &t,
        r#"
c = tls()
load(c)
ok(c.select("INBOX"))
print("REPLACE", c.store("1", "FLAGS", "(\\Flagged $Later)")[1])
print("UIDVALIDITY", c.untagged_responses.get("UIDVALIDITY"))
ok(c.close())
# RFC 3501 6.3.5: renaming INBOX moves its messages and leaves INBOX empty.
ok(c.rename("INBOX", "Old"))
print("OLD", c.status("Old", "(MESSAGES UIDNEXT)")[1])
print("INBOX", c.status("INBOX", "(MESSAGES UIDNEXT UNSEEN SIZE)")[1])
print("LIST", c.list('""', "*")[1])
ok(c.append("INBOX", None, None, SMALL))
typ, data = c.select("INBOX")
print("NEWUID", c.fetch("1", "(UID)")[1])
c.logout()
"#,
    );
    assert!(
        out.contains("REPLACE [b'1 (FLAGS (\\\\Flagged \\\\Recent $Later)"),
        "{out}"
    );
    assert!(out.contains("OLD [b'Old (MESSAGES 2 UIDNEXT 3)']"), "{out}");
    assert!(
        out.contains("INBOX [b'INBOX (MESSAGES 0 UIDNEXT 3 UNSEEN 0 SIZE 0)']"),
        "{out}"
    );
    assert!(out.contains("\"/\" INBOX'") && out.contains("\"/\" Old'"), "{out}");
    // UIDs are never reused within one UIDVALIDITY (RFC 3501 2.3.1.1).
    assert!(out.contains("NEWUID [b'1 (UID 3)']"), "{out}");
}
