//! Exact-bytes transcripts over raw TLS/TCP (no IMAP library): ENVELOPE and
//! BODYSTRUCTURE of nested MIME, encoded and 8-bit headers, and hostile input.

mod common;
mod imap_support;

use imap_support::{Imap, Raw};

const NESTED: &str = "From: =?UTF-8?B?SsO2cmc=?= <joerg@example.org>\r\n\
To: alice@example.test\r\n\
Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= und mehr\r\n\
Date: Tue, 3 Mar 2026 09:30:00 +0100\r\n\
Message-ID: <nested@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
--outer\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
Grüße aus Köln\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: Inner <inner@example.net>\r\n\
Subject: inner\r\n\
Date: Mon, 2 Mar 2026 08:00:00 +0000\r\n\
Content-Type: text/plain\r\n\
\r\n\
inner body\r\n\
--outer--\r\n";

fn append(raw: &mut Raw, message: &str) {
    raw.send(format!("A1 APPEND INBOX {{{}}}\r\n", message.len()).as_bytes());
    let cont = raw.line();
    assert!(cont.starts_with("+ "), "{cont}");
    raw.send(message.as_bytes());
    raw.send(b"\r\n");
    let r = raw.until_tagged("A1");
    assert!(r.contains("A1 OK [APPENDUID "), "{r}");
}

fn logged_in(t: &Imap) -> Raw {
    let mut raw = t.raw_tls();
    raw.login(&t.inbox.email, &t.inbox.password);
    raw
}

#[test]
fn envelope_and_bodystructure_of_nested_mime() {
    let t = Imap::start();
    let mut raw = logged_in(&t);
    append(&mut raw, NESTED);
    let r = raw.cmd("S", "SELECT INBOX");
    assert!(r.contains("* 1 EXISTS\r\n"), "{r}");
    let r = raw.cmd("F", "FETCH 1 (ENVELOPE BODYSTRUCTURE)");
    let expected = "* 1 FETCH (ENVELOPE (\"Tue, 3 Mar 2026 09:30:00 +0100\" \"=?ISO-8859-1?Q?Gr=FC=DFe?= und mehr\" \
((\"=?UTF-8?B?SsO2cmc=?=\" NIL \"joerg\" \"example.org\")) ((\"=?UTF-8?B?SsO2cmc=?=\" NIL \"joerg\" \"example.org\")) \
((\"=?UTF-8?B?SsO2cmc=?=\" NIL \"joerg\" \"example.org\")) ((NIL NIL \"alice\" \"example.test\")) NIL NIL NIL \
\"<nested@example.org>\") BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"8bit\" 17 0 NIL NIL NIL NIL)\
(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 125 (\"Mon, 2 Mar 2026 08:00:00 +0000\" \"inner\" \
((\"Inner\" NIL \"inner\" \"example.net\")) ((\"Inner\" NIL \"inner\" \"example.net\")) ((\"Inner\" NIL \"inner\" \"example.net\")) \
NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 10 0 NIL NIL NIL NIL) 5 NIL NIL NIL NIL) \
\"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL))\r\nF OK FETCH completed\r\n";
    assert_eq!(r, expected);
    // Sections: the 8-bit part, the embedded message's header, MIME header of part 1.
    let r = raw.cmd(
        "G",
        "FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)] BODY.PEEK[1.MIME])",
    );
    assert_eq!(
        r,
        "* 1 FETCH (BODY[1] {17}\r\nGrüße aus Köln BODY[2.HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: inner\r\n\r\n \
BODY[1.MIME] {76}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n)\r\nG OK FETCH completed\r\n"
    );
}

#[test]
fn sequence_set_edges() {
    let t = Imap::start();
    let mut raw = logged_in(&t);
    append(&mut raw, "Subject: a\r\n\r\nx\r\n");
    append(&mut raw, "Subject: b\r\n\r\ny\r\n");
    raw.cmd("S", "SELECT INBOX");
    assert_eq!(
        raw.cmd("a", "FETCH 1:* (UID)"),
        "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\na OK FETCH completed\r\n"
    );
    assert_eq!(
        raw.cmd("b", "UID FETCH 1:4294967295 (UID)"),
        "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\nb OK FETCH completed\r\n"
    );
    assert_eq!(raw.cmd("c", "UID FETCH 4294967295 (UID)"), "c OK FETCH completed\r\n");
    assert_eq!(
        raw.cmd("d", "FETCH 4294967295 (UID)"),
        "d BAD Invalid message sequence number\r\n"
    );
    assert_eq!(
        raw.cmd("e", "UID FETCH 5:* (UID)"),
        "* 2 FETCH (UID 2)\r\ne OK FETCH completed\r\n"
    );
    assert_eq!(
        raw.cmd("f", "FETCH 0 (UID)"),
        "f BAD Error in IMAP command FETCH: invalid arguments\r\n"
    );
    assert_eq!(
        raw.cmd("g", "FETCH 99999999999 (UID)"),
        "g BAD Error in IMAP command FETCH: invalid arguments\r\n"
    );
}

#[test]
fn unknown_and_malformed_commands() {
    let t = Imap::start();
    let mut raw = t.raw_tls();
    let _ = raw.line();
    assert_eq!(raw.cmd("a", "FROBNICATE"), "a BAD Unknown command\r\n");
    assert_eq!(raw.cmd("b", "SELECT INBOX"), "b BAD Not authenticated\r\n");
    assert_eq!(
        raw.cmd("c", "LOGIN"),
        "c BAD Error in IMAP command LOGIN: invalid arguments\r\n"
    );
    raw.send(b"\r\n");
    assert_eq!(raw.line(), "* BAD Unknown command\r\n");
    assert!(raw.cmd("d", "NOOP").starts_with("d OK"));
    // Some clients end lines with a bare LF (COMPATIBILITY.md): accepted.
    raw.send(b"e NOOP\n");
    assert!(raw.until_tagged("e").starts_with("e OK"));
}

#[test]
fn too_many_bad_commands_close_with_bye() {
    let t = Imap::start();
    let mut raw = t.raw_tls();
    let _ = raw.line();
    for i in 0..19 {
        assert_eq!(
            raw.cmd(&format!("x{i}"), "BOGUS"),
            format!("x{i} BAD Unknown command\r\n")
        );
    }
    raw.send(b"x19 BOGUS\r\n");
    assert_eq!(raw.line(), "x19 BAD Unknown command\r\n");
    assert_eq!(raw.line(), "* BYE Too many invalid commands\r\n");
    assert_eq!(raw.rest(), "");
}

#[test]
fn oversized_literal_is_refused_before_continuation() {
    let t = Imap::start_with("[smtp]\nmax_message_size = 100000\n");
    let mut raw = logged_in(&t);
    // APPEND over APPENDLIMIT: NO [TOOBIG], no "+", the connection goes on.
    raw.send(b"a APPEND INBOX {100001}\r\n");
    assert_eq!(raw.line(), "a NO [TOOBIG] Message larger than APPENDLIMIT\r\n");
    assert!(raw.cmd("b", "NOOP").starts_with("b OK"));
    // Any other command: 64 KiB literals at most.
    raw.send(b"c LOGIN {70000}\r\n");
    assert_eq!(raw.line(), "c BAD [TOOBIG] Literal too large\r\n");
    assert!(raw.cmd("d", "NOOP").starts_with("d OK"));
    // A non-synchronizing literal that is too large cannot be skipped: BYE.
    raw.send(b"e APPEND INBOX {200000+}\r\n");
    assert_eq!(raw.line(), "e BAD [TOOBIG] Literal too large\r\n");
    assert_eq!(raw.line(), "* BYE Literal too large\r\n");
    // A literal within the limit works.
    let mut raw = logged_in(&t);
    let body = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(90_000));
    append(&mut raw, &body);
    assert!(raw.cmd("f", "CAPABILITY").contains("APPENDLIMIT=100000"));
}

#[test]
fn overlong_line_is_refused_and_session_continues() {
    let t = Imap::start();
    let mut raw = t.raw_tls();
    let _ = raw.line();
    let mut line = b"a NOOP ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 70 * 1024));
    line.extend_from_slice(b"\r\n");
    raw.send(&line);
    // The client waits for its tag, so the refusal carries it.
    assert_eq!(raw.line(), "a BAD [TOOBIG] Command line too long\r\n");
    assert!(raw.cmd("b", "NOOP").starts_with("b OK"));
}

#[test]
fn starttls_discards_pipelined_plaintext() {
    let t = Imap::start();
    let addr = t.server.addr("imap");
    let tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(imap_support::TIMEOUT)).ok();
    let mut reader = std::io::BufReader::new(tcp.try_clone().expect("clone"));
    let mut line = String::new();
    use std::io::{BufRead, Write};
    reader.read_line(&mut line).expect("greeting");
    assert!(line.contains("STARTTLS") && line.contains("LOGINDISABLED"), "{line}");
    // An attacker injects a command after STARTTLS in the same packet.
    (&tcp)
        .write_all(b"a STARTTLS\r\nb LOGIN injected command\r\n")
        .expect("send");
    line.clear();
    reader.read_line(&mut line).expect("starttls answer");
    assert_eq!(line, "a OK Begin TLS negotiation now\r\n");
    // The server dropped "b LOGIN": after the handshake only our commands are answered.
    let tls = imap_support::wrap_tls(tcp);
    let mut raw = Raw::from_stream(tls);
    assert!(
        raw.cmd("c", "NOOP").starts_with("c OK"),
        "pipelined command was answered"
    );
    let r = raw.cmd("d", &format!("LOGIN {} {}", t.inbox.email, t.inbox.password));
    assert!(r.starts_with("d OK"), "{r}");
}

#[test]
fn shutdown_says_bye() {
    let mut t = Imap::start();
    let mut raw = logged_in(&t);
    assert!(raw.cmd("s", "SELECT INBOX").contains("s OK"));
    let code = t.server.stop();
    assert_eq!(raw.rest(), "* BYE Server shutting down\r\n");
    assert_eq!(code, Some(0));
}

#[test]
fn idle_keepalive_and_done() {
    let t = Imap::start_with("[imap]\nidle_keepalive_secs = 1\n");
    let mut raw = logged_in(&t);
    raw.cmd("s", "SELECT INBOX");
    raw.send(b"i IDLE\r\n");
    assert_eq!(raw.line(), "+ idling\r\n");
    let started = std::time::Instant::now();
    assert_eq!(raw.line(), "* OK Still here\r\n");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    raw.send(b"DONE\r\n");
    assert_eq!(raw.line(), "i OK IDLE terminated\r\n");
    assert!(raw.cmd("n", "NOOP").starts_with("n OK"));
}
