//! The core commands with Python's imaplib: SELECT/EXAMINE, FETCH, STORE, SEARCH,
//! APPEND, LIST, EXPUNGE, COPY/MOVE, and two sessions where one acts and one observes.

mod common;
mod imap_support;

use imap_support::Imap;

#[test]
fn list_shows_folders_with_special_use() {
    let t = Imap::start();
    let out = t.py(r#"
c = tls()
typ, data = c.list()
for line in data: print(line.decode())
typ, data = c.list('""', "%")
assert len(data) == 6, data
typ, data = c.lsub()
print("LSUB", len(data))
"#);
    for (name, attr) in [
        ("Sent", "\\Sent"),
        ("Drafts", "\\Drafts"),
        ("Trash", "\\Trash"),
        ("Junk", "\\Junk"),
        ("Archive", "\\Archive"),
    ] {
        let line = out
            .lines()
            .find(|l| l.ends_with(&format!("\"/\" {name}")))
            .unwrap_or_else(|| panic!("{name} missing:\n{out}"));
        assert!(line.contains(attr), "{line}");
    }
    assert!(out.contains("(\\HasNoChildren) \"/\" INBOX"), "{out}");
    assert!(out.contains("LSUB 6"), "{out}");
}

#[test]
fn append_select_fetch_and_seen() {
    let t = Imap::start();
    let out = t.py(
        r#"
c = tls()
msg = b"From: Bob <bob@example.org>\r\nTo: alice@example.test\r\nSubject: Hello there\r\nMessage-ID: <1@example.org>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nHi Alice,\r\nlunch?\r\n"
typ, data = c.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(1700000000), msg)
assert typ == "OK" and b"APPENDUID" in data[0], data
typ, data = c.select("INBOX")
assert data == [b"1"], data
print("UNTAGGED", c.untagged_responses)
typ, data = c.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE UID)")
print("FETCH", data)
typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert data[0][1] == b"Subject: Hello there\r\n\r\n", data
typ, data = c.fetch("1", "(FLAGS)")
assert b"\\Seen" not in data[0], data
typ, data = c.fetch("1", "(BODY[])")
assert data[0][1] == msg, data
assert b"\\Seen" in data[1], data  # the implicit \Seen is reported
typ, data = c.fetch("1", "(BODY[TEXT]<0.3> BODYSTRUCTURE)")
print("PARTIAL", data)
typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
print("UIDFETCH", data)
c.logout()
"#,
    );
    assert!(out.contains("RFC822.SIZE 163"), "{out}");
    assert!(out.contains("INTERNALDATE \"14-Nov-2023 22:13:20 +0000\""), "{out}");
    assert!(
        out.contains(
            "ENVELOPE (\"Mon, 2 Mar 2026 10:00:00 +0000\" \"Hello there\" ((\"Bob\" NIL \"bob\" \"example.org\"))"
        ),
        "{out}"
    );
    assert!(out.contains("BODY[TEXT]<0> {3}"), "{out}");
    assert!(out.contains("b'Hi '"), "{out}");
    assert!(out.contains("BODYSTRUCTURE (\"TEXT\" \"PLAIN\""), "{out}");
    assert!(
        out.contains("UIDFETCH [b'1 (FLAGS (\\\\Flagged \\\\Seen \\\\Recent) UID 1)']"),
        "{out}"
    );
}

#[test]
fn store_flags_and_search() {
    let t = Imap::start();
    t.append_many(5, "INBOX");
    let out = t.py(r#"
c = tls()
ok(c.select("INBOX"))
typ, data = c.store("2:3", "+FLAGS", "(\\Seen $Important)")
print("STORE", data)
typ, data = c.store("3", "-FLAGS.SILENT", "(\\Seen)")
assert data == [None] or data == [], data
print("SEEN", c.search(None, "SEEN")[1])
print("UNSEEN", c.search(None, "UNSEEN")[1])
print("KEYWORD", c.search(None, "KEYWORD", "$Important")[1])
print("SUBJECT", c.search(None, "SUBJECT", '"message 4"')[1])
print("FROM", c.uid("SEARCH", None, "FROM", "s1@example.org")[1])
print("BODY", c.search("UTF-8", "BODY", '"message 2"')[1])
print("OR", c.search(None, "OR", "SEEN", "UID", "5")[1])
print("NOT", c.search(None, "NOT", "1:3")[1])
typ, data = c.search("KOI8-R", "ALL")
print("BADCHARSET", typ, data)
"#);
    assert!(out.contains("STORE [b'2 (FLAGS (\\\\Seen \\\\Recent $Important) UID 2)', b'3 (FLAGS (\\\\Seen \\\\Recent $Important) UID 3)']"), "{out}");
    assert!(out.contains("SEEN [b'2']"), "{out}");
    assert!(out.contains("UNSEEN [b'1 3 4 5']"), "{out}");
    assert!(out.contains("KEYWORD [b'2 3']"), "{out}");
    assert!(out.contains("SUBJECT [b'5']"), "{out}");
    assert!(out.contains("FROM [b'2']"), "{out}");
    assert!(out.contains("BODY [b'3']"), "{out}");
    assert!(out.contains("OR [b'2 5']"), "{out}");
    assert!(out.contains("NOT [b'4 5']"), "{out}");
    assert!(out.contains("BADCHARSET NO"), "{out}");
}

#[test]
fn two_sessions_see_each_others_changes() {
    let t = Imap::start();
    t.append_many(3, "INBOX");
    let out = t.py(r#"
a = tls(); b = tls()
ok(a.select("INBOX")); ok(b.select("INBOX"))
# b changes flags, appends, deletes; a observes on NOOP.
ok(b.store("1", "+FLAGS", "(\\Flagged)"))
ok(b.append("INBOX", None, None, b"Subject: new\r\n\r\nx\r\n"))
ok(b.store("2", "+FLAGS", "(\\Deleted)"))
ok(b.expunge())
typ, data = a.noop()
print("A", a.untagged_responses)
print("UIDS", a.fetch("1:*", "(UID)")[1])
# a's FETCH must not see EXPUNGE (RFC 3501 7.4.1) but may see flags.
ok(b.store("1", "+FLAGS", "(\\Deleted)"))
ok(b.expunge())
a.untagged_responses.clear()
typ, data = a.fetch("1:*", "(UID)")
print("FETCH-UNTAGGED", a.untagged_responses.get("EXPUNGE"))
typ, data = a.noop()
print("AFTER-NOOP", a.untagged_responses.get("EXPUNGE"))
"#);
    assert!(out.contains("b'1 (UID 1)', b'2 (UID 3)', b'3 (UID 4)']"), "{out}");
    assert!(out.contains("'EXPUNGE': [b'2']"), "{out}");
    assert!(out.contains("FLAGS (\\\\Flagged \\\\Recent) UID 1"), "{out}");
    assert!(out.contains("FETCH-UNTAGGED None"), "{out}");
    assert!(out.contains("AFTER-NOOP [b'1']"), "{out}");
}

/// EXPUNGE removes what another session flagged \Deleted since this one last
/// looked, and leaves alone what another session un-flagged meanwhile.
#[test]
fn expunge_acts_on_flags_set_by_another_session() {
    let t = Imap::start();
    t.append_many(4, "INBOX");
    let out = t.py(r#"
a = tls(); b = tls()
ok(a.select("INBOX")); ok(b.select("INBOX"))
ok(a.store("4", "+FLAGS.SILENT", "(\\Deleted)"))
ok(a.noop())
ok(b.store("2", "+FLAGS.SILENT", "(\\Deleted)"))
ok(b.store("3", "+FLAGS.SILENT", "(\\Deleted)"))
ok(b.store("3", "-FLAGS.SILENT", "(\\Deleted)"))
# a has not seen b's changes: it still believes 4 is the only \Deleted one.
typ, data = a.expunge()
print("EXPUNGED", typ, data)
print("UIDS", a.uid("FETCH", "1:*", "(UID)")[1])
"#);
    assert!(out.contains("EXPUNGED OK [b'4', b'2']"), "{out}");
    assert!(out.contains("UIDS [b'1 (UID 1)', b'2 (UID 3)']"), "{out}");
}
#[test]
fn mailbox_management() {
    let t = Imap::start();
    let out = t.py(r#"
c = tls()
ok(c.create("Projects/2026"))
typ, data = c.list('""', "Projects*")
print("LIST", data)
typ, data = c.create("Projects")
print("EXISTS", typ, data)
ok(c.rename("Projects", "Work"))
print("RENAMED", c.list('""', "*")[1])
ok(c.create("Entw&APw-rfe"))
print("UTF7", c.list('""', "Entw*")[1])
print("STATUS", c.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)"))
ok(c.unsubscribe("Work/2026"))
print("LSUB", c.lsub('""', "Work*")[1])
ok(c.delete("Work/2026"))
typ, data = c.delete("INBOX")
print("DELINBOX", typ)
typ, data = c.select("Nope")
print("NOSELECT", typ, data)
"#);
    assert!(out.contains("(\\\\HasChildren) \"/\" Projects'"), "{out}");
    assert!(out.contains("(\\\\HasNoChildren) \"/\" Projects/2026'"), "{out}");
    assert!(out.contains("EXISTS NO [b'[ALREADYEXISTS]"), "{out}");
    let renamed = out.lines().find(|l| l.starts_with("RENAMED")).unwrap_or_default();
    assert!(renamed.contains("Work/2026") && !renamed.contains("Projects"), "{out}");
    assert!(out.contains("\"/\" Entw&APw-rfe"), "{out}");
    assert!(out.contains("MESSAGES 0 UNSEEN 0 UIDNEXT 1"), "{out}");
    assert!(
        out.contains("LSUB [b'(\\\\HasChildren) \"/\" Work'") || out.contains("LSUB [b'() \"/\" Work']"),
        "{out}"
    );
    assert!(out.contains("DELINBOX NO"), "{out}");
    assert!(out.contains("NOSELECT NO [b'[NONEXISTENT]"), "{out}");
}

#[test]
fn copy_move_and_uid_expunge_really_remove() {
    let t = Imap::start();
    t.append_many(4, "INBOX");
    let out = t.py(r#"
c = tls()
ok(c.select("INBOX"))
typ, data = c.uid("COPY", "1:2", "Archive")
print("COPY", c.response("COPYUID"))
typ, data = c.uid("MOVE", "3", "Trash")
print("MOVE", typ, data, c.untagged_responses.get("OK"), c.untagged_responses.get("EXPUNGE"))
# Thunderbird's delete: UID STORE +FLAGS \Deleted then UID EXPUNGE.
ok(c.uid("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)"))
ok(c.uid("STORE", "2", "+FLAGS.SILENT", "(\\Deleted)"))
typ, data = c.uid("EXPUNGE", "1")
print("UIDEXPUNGE", data)
print("LEFT", c.uid("SEARCH", None, "ALL")[1])
ok(c.close())
print("AFTER-CLOSE", c.status("INBOX", "(MESSAGES)")[1])
print("TRASH", c.status("Trash", "(MESSAGES)")[1])
print("ARCHIVE", c.status("Archive", "(MESSAGES)")[1])
typ, data = c.copy("1", "Nowhere") if False else ("", "")
ok(c.select("INBOX"))
typ, data = c.copy("1", "Nowhere")
print("TRYCREATE", typ, data)
"#);
    assert!(
        out.contains("COPY ('COPYUID', [b'") && out.contains(" 1:2 1:2'])"),
        "{out}"
    );
    assert!(out.contains("MOVE OK"), "{out}");
    assert!(
        out.contains("MOVE OK [None] [b'[COPYUID") && out.contains(" 3 1] Moved'] [b'3']"),
        "{out}"
    );
    assert!(out.contains("LEFT [b'2 4']"), "{out}");
    assert!(out.contains("AFTER-CLOSE [b'INBOX (MESSAGES 1)']"), "{out}");
    assert!(out.contains("TRASH [b'Trash (MESSAGES 1)']"), "{out}");
    assert!(out.contains("ARCHIVE [b'Archive (MESSAGES 2)']"), "{out}");
    assert!(out.contains("TRYCREATE NO [b'[TRYCREATE]"), "{out}");
}
