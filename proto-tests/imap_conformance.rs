//! What Dovecot's imaptest and real clients caught (issue 12), with Python's imaplib:
//! overlong command lines answered with their own tag, mailbox names that could
//! escape a client's local folder, keywords announced in FLAGS before a second
//! connection sees them in a FETCH, and FETCH of a message another connection
//! expunged (RFC 2180 4.1).

mod common;
mod imap_support;

use imap_support::Imap;

#[test]
fn overlong_lines_get_their_own_tag_and_the_session_goes_on() {
    let t = Imap::start();
    let out = t.py(r#"
c = tls(login=False)
try:
    c._simple_command("NOOP", "x" * 200000)
    print("PRE accepted")
except imaplib.IMAP4.error as e:
    print("PRE", e)
print("PRE-NOOP", c.noop()[0])
ok(c.login(USER, PASSWORD))
c.select("INBOX")
try:
    c.search(None, "TEXT", "y" * 300000)
    print("SEARCH accepted")
except imaplib.IMAP4.error as e:
    print("SEARCH", e)
print("AFTER", c.search(None, "ALL")[0])
c.logout()
"#);
    // imaplib raises only on the tagged answer: an untagged BAD would have left it waiting.
    assert!(
        out.contains("PRE NOOP command error: BAD [b'[TOOBIG] Command line too long']"),
        "{out}"
    );
    assert!(out.contains("PRE-NOOP OK"), "{out}");
    assert!(out.contains("SEARCH SEARCH command error: BAD [b'[TOOBIG]"), "{out}");
    assert!(out.contains("AFTER OK"), "{out}");
}

#[test]
fn mailbox_names_that_could_escape_a_folder_are_refused() {
    let t = Imap::start();
    let out = t.py(r#"
c = tls()
for name in ['"../x"', '"a/../b"', '"a/./b"', '"."', '"/root"', '"~x"', '"a//b"', '"a/../"', '"ok/name"', '"parent/"']:
    typ, data = c.create(name)
    print("CREATE", name, typ, data)
ok(c.create("plain"))
typ, data = c.rename("plain", '"../plain"')
print("RENAME", typ, data)
print("LIST", c.list()[1])
c.logout()
"#);
    for name in ["../x", "a/../b", "a/./b", ".", "/root", "~x", "a//b", "a/../"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("CREATE \"{name}\" ")))
            .unwrap_or_else(|| panic!("no answer for {name}: {out}"));
        assert!(line.contains(" NO [b'[CANNOT] Invalid name: "), "{line}");
    }
    assert!(out.contains("CREATE \"ok/name\" OK"), "{out}");
    // RFC 3501 6.3.3: a trailing separator only says the name will have children.
    assert!(out.contains("CREATE \"parent/\" OK"), "{out}");
    assert!(out.contains("RENAME NO [b'[CANNOT] Invalid name:"), "{out}");
    let list = out.lines().find(|l| l.starts_with("LIST ")).unwrap_or_default();
    assert!(
        list.contains("ok/name") && !list.contains("..") && !list.contains("~"),
        "{list}"
    );
}

#[test]
fn a_keyword_set_elsewhere_is_announced_in_flags_before_a_fetch_shows_it() {
    let t = Imap::start();
    t.append_many(1, "INBOX");
    let out = t.py(r#"
a = tls()
b = tls()
a.select("INBOX")
b.select("INBOX")
ok(a.store("1", "+FLAGS", "($Project1 Urgent)"))
# B's NOOP brings the change: FLAGS and PERMANENTFLAGS first, then the FETCH.
typ, data = b._simple_command("NOOP")
print("B-NOOP", typ)
print("B-FLAGS", b.untagged_responses.get("FLAGS"))
print("B-PERM", b.untagged_responses.get("PERMANENTFLAGS"))
print("B-FETCH", b.untagged_responses.get("FETCH"))
a.logout()
b.logout()
"#);
    let flags = out.lines().find(|l| l.starts_with("B-FLAGS ")).unwrap_or_default();
    assert!(flags.contains("$Project1") && flags.contains("Urgent"), "{out}");
    let perm = out.lines().find(|l| l.starts_with("B-PERM ")).unwrap_or_default();
    assert!(
        perm.contains("$Project1") && perm.contains("Urgent") && perm.contains("\\\\*"),
        "{out}"
    );
    assert!(out.contains("B-FETCH [b'1 (FLAGS ($Project1 Urgent) UID 1)']"), "{out}");
}

#[test]
fn a_message_another_connection_expunged_is_still_fetched_until_the_expunge_is_told() {
    let t = Imap::start();
    t.append_many(3, "INBOX");
    let out = t.py(r#"
a = tls()
b = tls()
a.select("INBOX")
b.select("INBOX")
ok(a.store("2", "+FLAGS", "(\\Deleted)"))
ok(a.expunge())
# B was not told yet: message 2 is still there for it, whole, and FETCH completes OK.
typ, data = b.fetch("2", "(UID RFC822.SIZE BODY.PEEK[] ENVELOPE BODYSTRUCTURE)")
print("B-FETCH", typ, data[0][0] if data and data[0] else data)
print("B-BODY", b"Body of message 1" in data[0][1])
typ, data = b.fetch("1:3", "(FLAGS)")
print("B-ALL", typ, len([d for d in data if d]))
# MOVE from A empties the next one the same way.
ok(a.create("Elsewhere"))
typ, data = a._simple_command("MOVE", "1", "Elsewhere")
print("A-MOVE", typ)
typ, data = b.fetch("1", "(BODY.PEEK[TEXT])")
print("B-MOVED", typ, data)
# Once told (NOOP may send EXPUNGE), the messages are gone for B too.
typ, data = b._simple_command("NOOP")
print("B-EXPUNGE", b.untagged_responses.get("EXPUNGE"))
print("B-AFTER", b.fetch("1:*", "(UID)"))
a.logout()
b.logout()
"#);
    assert!(out.contains("B-FETCH OK b'2 (UID 2 RFC822.SIZE"), "{out}");
    assert!(out.contains("B-BODY True"), "{out}");
    assert!(out.contains("B-ALL OK 3"), "{out}");
    assert!(out.contains("A-MOVE OK"), "{out}");
    assert!(
        out.contains("B-MOVED OK [(b'1 (BODY[TEXT] {19}', b'Body of message 0\\r\\n')"),
        "{out}"
    );
    assert!(
        out.contains("B-EXPUNGE [b'2', b'1']") || out.contains("B-EXPUNGE [b'1', b'1']"),
        "{out}"
    );
    assert!(out.contains("B-AFTER ('OK', [b'1 (UID 3)'])"), "{out}");
}
