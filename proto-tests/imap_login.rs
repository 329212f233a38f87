//! IMAP login: LOGIN and AUTHENTICATE PLAIN (SASL-IR) over TLS and STARTTLS,
//! LOGINDISABLED before TLS, one failure answer for unknown users and bad passwords,
//! the per-user connection limit.

mod common;
mod imap_support;

use imap_support::Imap;

#[test]
fn login_over_tls_and_starttls() {
    let t = Imap::start();
    let out = t.py(r#"
c = tls(login=False)
caps = c.capabilities
assert "AUTH=PLAIN" in caps and "IMAP4REV1" in caps and "STARTTLS" not in caps, caps
ok(c.login(USER, PASSWORD))
c.logout()
c = imaplib.IMAP4(HOST, PLAIN_PORT, timeout=20)
assert "LOGINDISABLED" in c.capabilities and "STARTTLS" in c.capabilities, c.capabilities
assert "AUTH=PLAIN" not in c.capabilities
try:
    c.login(USER, PASSWORD)
    raise SystemExit("LOGIN accepted before TLS")
except imaplib.IMAP4.error as e:
    print("refused:", e)
ok(c.starttls(ssl_context=CTX))
typ, caps = c.capability()
assert b"AUTH=PLAIN" in caps[0] and b"LOGINDISABLED" not in caps[0], caps
ok(c.login(USER.split("@")[0], PASSWORD))
c.logout()
print("done")
"#);
    assert!(out.contains("refused:") && out.contains("PRIVACYREQUIRED"), "{out}");
    assert!(out.contains("done"));
}

#[test]
fn authenticate_plain_with_and_without_initial_response() {
    let t = Imap::start();
    t.py(r#"
import base64
c = tls(login=False)
ok(c.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (USER, PASSWORD)).encode()))
c.logout()
# SASL-IR: the response on the command line (RFC 4959).
s = ssl.wrap_socket if False else None
raw = socket.create_connection((HOST, TLS_PORT), timeout=20)
raw = CTX.wrap_socket(raw)
f = raw.makefile("rb")
f.readline()
ir = base64.b64encode(("\0%s\0%s" % (USER, PASSWORD)).encode()).decode()
raw.sendall(("a AUTHENTICATE PLAIN %s\r\n" % ir).encode())
line = f.readline()
assert line.startswith(b"a OK"), line
raw.sendall(b"b AUTHENTICATE PLAIN\r\n")
line = f.readline()
assert line.startswith(b"b BAD"), line   # already authenticated
"#);
}

#[test]
fn failures_look_the_same() {
    let t = Imap::start();
    let mut raw = t.raw_tls();
    let _ = raw.line();
    let wrong = raw.cmd("a", &format!("LOGIN {} wrong-password", t.inbox.email));
    let unknown = raw.cmd("b", "LOGIN nobody@example.test wrong-password");
    assert_eq!(wrong.replacen("a NO", "x NO", 1), unknown.replacen("b NO", "x NO", 1));
    assert!(wrong.starts_with("a NO [AUTHENTICATIONFAILED]"), "{wrong}");
}

#[test]
fn per_user_limit_says_limit() {
    let t = Imap::start_with("[imap]\nmax_connections_per_user = 2\n");
    let mut a = t.raw_tls();
    a.login(&t.inbox.email, &t.inbox.password);
    let mut b = t.raw_tls();
    b.login(&t.inbox.email, &t.inbox.password);
    let mut c = t.raw_tls();
    let _ = c.line();
    let r = c.cmd("x", &format!("LOGIN {} {}", t.inbox.email, t.inbox.password));
    assert!(r.starts_with("x NO [LIMIT]"), "{r}");
    drop(a);
    // The slot frees when the first session goes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = c.cmd("y", &format!("LOGIN {} {}", t.inbox.email, t.inbox.password));
        if r.starts_with("y OK") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{r}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
