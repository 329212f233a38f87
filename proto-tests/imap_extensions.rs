//! Extensions over a raw TLS connection: CONDSTORE/QRESYNC, LIST-EXTENDED with
//! SPECIAL-USE and LIST-STATUS, ESEARCH, NAMESPACE, ID, ENABLE IMAP4rev2, SORT,
//! THREAD, UNSELECT, BINARY, STATUS=SIZE, COMPRESS=DEFLATE.

mod common;
mod imap_support;

use imap_support::{Imap, Raw};

fn session(t: &Imap, messages: &[&str]) -> Raw {
    let mut raw = t.raw_tls();
    raw.login(&t.inbox.email, &t.inbox.password);
    for (i, m) in messages.iter().enumerate() {
        let tag = format!("ap{i}");
        raw.send(format!("{tag} APPEND INBOX {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
        let r = raw.until_tagged(&tag);
        assert!(r.contains("OK [APPENDUID"), "{r}");
    }
    raw
}

const A: &str = "From: Carol <carol@example.org>\r\nSubject: Banana\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <a@x>\r\n\r\nfirst\r\n";
const B: &str = "From: Alice <alice@example.org>\r\nSubject: Re: Banana\r\nDate: Tue, 3 Mar 2026 10:00:00 +0000\r\nMessage-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nReferences: <a@x>\r\n\r\nsecond\r\n";
const C: &str = "From: Bob <bob@example.org>\r\nSubject: Apple\r\nDate: Sun, 1 Mar 2026 10:00:00 +0000\r\nMessage-ID: <c@x>\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gYmluYXJ5\r\n";

#[test]
fn condstore_and_qresync() {
    let t = Imap::start();
    let mut raw = session(&t, &[A, B, C]);
    let r = raw.cmd("e", "ENABLE CONDSTORE QRESYNC");
    assert!(r.starts_with("* ENABLED CONDSTORE QRESYNC\r\n"), "{r}");
    let r = raw.cmd("s", "SELECT INBOX");
    let highest: u64 = r
        .split("[HIGHESTMODSEQ ")
        .nth(1)
        .and_then(|x| x.split(']').next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("{r}"));
    let uidvalidity = r
        .split("[UIDVALIDITY ")
        .nth(1)
        .and_then(|x| x.split(']').next())
        .unwrap_or_else(|| panic!("{r}"))
        .to_string();
    let r = raw.cmd("f", "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)");
    assert!(r.contains("* 2 FETCH (FLAGS (\\Recent) UID 2 MODSEQ (2))"), "{r}");
    assert!(!r.contains("* 1 FETCH"), "{r}");
    let r = raw.cmd("st", "STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)");
    assert!(r.contains("* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1 MODSEQ ("), "{r}");
    let r = raw.cmd("st2", "STORE 2 (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)");
    assert!(r.contains("st2 OK [MODIFIED 2]"), "{r}");
    // Another session expunges; QRESYNC resync reports it as VANISHED (EARLIER).
    let mut other = t.raw_tls();
    other.login(&t.inbox.email, &t.inbox.password);
    other.cmd("s", "SELECT INBOX");
    other.cmd("d", "UID STORE 3 +FLAGS (\\Deleted)");
    other.cmd("x", "UID EXPUNGE 3");
    let r = raw.cmd("n", "NOOP");
    assert!(r.contains("* VANISHED 3\r\n"), "{r}");
    raw.cmd("u", "UNSELECT");
    let r = raw.cmd("q", &format!("SELECT INBOX (QRESYNC ({uidvalidity} {highest} 1:3))"));
    assert!(r.contains("* VANISHED (EARLIER) 3\r\n"), "{r}");
    assert!(r.contains("* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ ("), "{r}");
    let r = raw.cmd("v", &format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {highest} VANISHED)"));
    assert!(r.contains("* VANISHED (EARLIER) 3\r\n"), "{r}");
}

#[test]
fn list_extended_special_use_and_status() {
    let t = Imap::start();
    let mut raw = session(&t, &[A]);
    let r = raw.cmd("l", "LIST \"\" \"*\" RETURN (SPECIAL-USE SUBSCRIBED)");
    assert!(
        r.contains("* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" Sent\r\n"),
        "{r}"
    );
    let r = raw.cmd("l2", "LIST (SPECIAL-USE) \"\" \"*\"");
    assert!(!r.contains("INBOX") && r.contains("\\Trash) \"/\" Trash"), "{r}");
    let r = raw.cmd("l3", "LIST \"\" (INBOX Junk) RETURN (STATUS (MESSAGES UNSEEN SIZE))");
    assert!(r.contains("* STATUS INBOX (MESSAGES 1 UNSEEN 1 SIZE "), "{r}");
    assert!(r.contains("* STATUS Junk (MESSAGES 0 UNSEEN 0 SIZE 0)"), "{r}");
    let r = raw.cmd("l4", "LIST (BOGUS) \"\" *");
    assert!(r.starts_with("l4 BAD"), "{r}");
    let r = raw.cmd("ns", "NAMESPACE");
    assert!(r.starts_with("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"), "{r}");
    let r = raw.cmd("id", "ID (\"name\" \"test\")");
    assert!(r.starts_with("* ID (\"name\" \"mailroom\""), "{r}");
}

#[test]
fn esearch_sort_thread() {
    let t = Imap::start();
    let mut raw = session(&t, &[A, B, C]);
    raw.cmd("s", "SELECT INBOX");
    let r = raw.cmd("e1", "SEARCH RETURN (MIN MAX COUNT ALL) ALL");
    assert!(
        r.starts_with("* ESEARCH (TAG \"e1\") MIN 1 MAX 3 ALL 1:3 COUNT 3\r\n"),
        "{r}"
    );
    let r = raw.cmd("e2", "UID SEARCH RETURN (COUNT) FROM bob");
    assert!(r.starts_with("* ESEARCH (TAG \"e2\") UID COUNT 1\r\n"), "{r}");
    let r = raw.cmd("so", "SORT (SUBJECT REVERSE DATE) UTF-8 ALL");
    assert!(r.starts_with("* SORT 3 2 1\r\n"), "{r}");
    let r = raw.cmd("so2", "UID SORT (DATE) UTF-8 ALL");
    assert!(r.starts_with("* SORT 3 1 2\r\n"), "{r}");
    let r = raw.cmd("th", "THREAD REFERENCES UTF-8 ALL");
    assert!(r.starts_with("* THREAD (3)(1 2)\r\n"), "{r}");
    let r = raw.cmd("th2", "THREAD ORDEREDSUBJECT UTF-8 ALL");
    assert!(r.starts_with("* THREAD (3)(1 2)\r\n"), "{r}");
}

#[test]
fn binary_and_rev2() {
    let t = Imap::start();
    let mut raw = session(&t, &[C]);
    raw.cmd("s", "SELECT INBOX");
    let r = raw.cmd("b", "FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])");
    assert_eq!(
        r,
        "* 1 FETCH (BINARY[1] ~{12}\r\nhello binary BINARY.SIZE[1] 12)\r\nb OK FETCH completed\r\n"
    );
    raw.cmd("u", "UNSELECT");
    let r = raw.cmd("e", "ENABLE IMAP4rev2");
    assert!(r.starts_with("* ENABLED IMAP4rev2\r\n"), "{r}");
    // IMAP4rev2: UTF-8 mailbox names, no RECENT, ESEARCH for SEARCH.
    let r = raw.cmd("c", "CREATE \"Entwürfe\"");
    assert!(r.starts_with("c OK"), "{r}");
    let r = raw.cmd("l", "LIST \"\" \"Entw*\"");
    // UTF-8 as is (a literal, which imap-types picks for 8-bit text).
    assert!(r.contains("\"/\" {9}\r\nEntwürfe\r\n"), "{r}");
    let r = raw.cmd("s2", "SELECT INBOX");
    assert!(!r.contains("RECENT"), "{r}");
    let r = raw.cmd("se", "SEARCH ALL");
    assert!(r.starts_with("* ESEARCH (TAG \"se\") ALL 1\r\n"), "{r}");
}

/// COMPRESS=DEFLATE (RFC 4978) with Python's zlib doing the deflating: imaplib
/// over a deflated TLS connection, pipelined compressed bytes right behind the
/// command, a second COMPRESS, COMPRESS before login, and a compressed bomb.
#[test]
fn compress_deflate_with_zlib() {
    let t = Imap::start();
    let out = t.py(r#"
import zlib
imaplib.Commands["COMPRESS"] = ("AUTH", "SELECTED")

class Deflated:
    """Routes an imaplib connection through zlib raw DEFLATE both ways."""
    def __init__(self, c):
        self.c, self.buf = c, b""
        self.z_in = zlib.decompressobj(-15)
        self.z_out = zlib.compressobj(6, zlib.DEFLATED, -15)
        c.read, c.readline, c.send = self.read, self.readline, self.send
    def fill(self):
        data = self.c.sock.recv(65536)
        if not data:
            raise EOFError("server closed")
        self.buf += self.z_in.decompress(data)
    def read(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out
    def readline(self):
        while b"\n" not in self.buf:
            self.fill()
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out
    def send(self, data):
        self.c.sock.sendall(self.z_out.compress(data) + self.z_out.flush(zlib.Z_SYNC_FLUSH))

c = tls()
print("CAPS", b"COMPRESS=DEFLATE" in ok(c.capability())[0].split())
typ, data = c._simple_command("COMPRESS", "DEFLATE")
print("COMPRESS", typ, data)
Deflated(c)
ok(c.select("INBOX"))
body = "".join("line %d of a long message, some words to deflate\r\n" % i for i in range(6000))
msg = ("From: a@example.org\r\nSubject: big\r\n\r\n" + body).encode()
ok(c.append("INBOX", None, None, msg))
ok(c.noop())
typ, data = c.fetch("1", "(BODY.PEEK[])")
print("FETCHED", typ, data[0][1] == msg, len(msg))
typ, data = c.search(None, "BODY", '"line 5999"')
print("SEARCH", typ, data)
typ, data = c._simple_command("COMPRESS", "DEFLATE")
print("AGAIN", typ, data)
c.logout()

# Raw: a command pipelined, compressed, in the same write as COMPRESS itself.
raw = CTX.wrap_socket(socket.create_connection((HOST, TLS_PORT), timeout=20))
f = raw.makefile("rb", buffering=0)
def plain_line():
    line = b""
    while not line.endswith(b"\n"):
        line += f.read(1)
    return line
plain_line()
raw.sendall(b"p COMPRESS DEFLATE\r\n")
print("PREAUTH", plain_line())
raw.sendall(b'l LOGIN "%s" "%s"\r\n' % (USER.encode(), PASSWORD.encode()))
while not plain_line().startswith(b"l "):
    pass
z_out = zlib.compressobj(6, zlib.DEFLATED, -15)
z_in = zlib.decompressobj(-15)
raw.sendall(b"c COMPRESS DEFLATE\r\n" + z_out.compress(b"n NOOP\r\n") + z_out.flush(zlib.Z_SYNC_FLUSH))
print("RAW", plain_line())
got = b""
def until(tag):
    global got
    while tag not in got:
        data = raw.recv(65536)
        if not data:
            raise EOFError(got)
        got += z_in.decompress(data)
    line = got[got.index(tag):].split(b"\r\n")[0]
    got = b""
    return line
print("PIPELINED", until(b"n OK"))
# A megabyte line that deflates to about a kilobyte: refused as too long, and
# the connection goes on.
bomb = b"x " + b"a" * (1 << 20) + b"\r\n"
raw.sendall(z_out.compress(bomb) + z_out.flush(zlib.Z_SYNC_FLUSH))
print("BOMB", until(b"x BAD"))
raw.sendall(z_out.compress(b"m NOOP\r\n") + z_out.flush(zlib.Z_SYNC_FLUSH))
print("AFTER", until(b"m OK"))
def send(line):
    raw.sendall(z_out.compress(line) + z_out.flush(zlib.Z_SYNC_FLUSH))
# Quiet for longer than the server keeps its compressor: the stream carries on.
time.sleep(2.5)
send(b"r NOOP\r\n")
print("RESTED", until(b"r OK"))
# IDLE under compression (quiet again first): another session's APPEND arrives as EXISTS.
send(b"s SELECT INBOX\r\n")
until(b"s OK")
send(b"i IDLE\r\n")
print("IDLE", until(b"+ "))
time.sleep(2.5)
other = tls()
ok(other.append("INBOX", None, None, b"Subject: during idle\r\n\r\nhi\r\n"))
other.logout()
print("PUSHED", until(b"* 2 EXISTS"))
send(b"DONE\r\n")
print("DONE", until(b"i OK"))
# Garbage where DEFLATE should be: the server closes the connection.
raw.sendall(b"\xff" * 64)
try:
    print("GARBAGE", raw.recv(100))
except OSError as e:
    print("GARBAGE", "reset")
"#);
    assert!(out.contains("PREAUTH b'p BAD"), "{out}");
    assert!(out.contains("CAPS True"), "{out}");
    assert!(out.contains("COMPRESS OK [b'DEFLATE active']"), "{out}");
    assert!(out.contains("FETCHED OK True"), "{out}");
    assert!(out.contains("SEARCH OK [b'1']"), "{out}");
    assert!(
        out.contains("AGAIN NO [b'[COMPRESSIONACTIVE] DEFLATE is already active']"),
        "{out}"
    );
    assert!(out.contains("RAW b'c OK DEFLATE active\\r\\n'"), "{out}");
    assert!(out.contains("PIPELINED b'n OK"), "{out}");
    assert!(out.contains("BOMB b'x BAD [TOOBIG]"), "{out}");
    assert!(out.contains("AFTER b'm OK"), "{out}");
    assert!(out.contains("RESTED b'r OK"), "{out}");
    assert!(out.contains("IDLE b'+ "), "{out}");
    assert!(out.contains("PUSHED b'* 2 EXISTS'"), "{out}");
    assert!(out.contains("DONE b'i OK"), "{out}");
    assert!(out.contains("GARBAGE b''") || out.contains("GARBAGE reset"), "{out}");
}
