//! Exact-bytes SMTP transcripts over raw TCP/TLS (no SMTP library): the EHLO answers
//! of each port, and every refusal with its exact code: hostile framing (bare CR,
//! NUL, long command lines, smuggling), limits, sequencing, AUTH rules, relay
//! attempts; and what is taken as it comes: bare LF line ends, long text lines.

mod common;
mod smtp_support;

use smtp_support::{Client, Smtp, message};
use std::time::{Duration, Instant};

/// A smaller SIZE so the over-size paths are quick.
const SMALL: &str = "[smtp]\nmax_message_size = 100000\n";

fn mx_client(t: &Smtp) -> Client {
    let mut c = Client::plain(t.mx());
    assert!(c.cmd("EHLO client.example").starts_with("250-mail.example.test\r\n"));
    c
}

fn ehlo_lines(extra: &[&str]) -> String {
    let mut lines = vec![
        "mail.example.test",
        "PIPELINING",
        "SIZE 100000",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "DSN",
    ];
    lines.extend_from_slice(extra);
    lines.push("HELP");
    let n = lines.len();
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("250{}{l}\r\n", if i + 1 == n { ' ' } else { '-' }))
        .collect()
}

#[test]
fn ehlo_answers_per_port() {
    let t = Smtp::start_with(SMALL);
    let mut mx = Client::plain(t.mx());
    assert_eq!(mx.cmd("EHLO client.example"), ehlo_lines(&["STARTTLS"]));
    assert_eq!(mx.cmd("HELO client.example"), "250 mail.example.test\r\n");
    assert_eq!(mx.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS\r\n");
    let mut mx = mx.upgrade();
    // MX never offers AUTH, not even under TLS.
    assert_eq!(mx.cmd("EHLO client.example"), ehlo_lines(&[]));

    let mut sub = Client::plain(t.submission());
    // Before TLS: STARTTLS offered, AUTH not.
    assert_eq!(sub.cmd("EHLO client.example"), ehlo_lines(&["STARTTLS"]));
    assert_eq!(sub.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS\r\n");
    let mut sub = sub.upgrade();
    assert_eq!(sub.cmd("EHLO client.example"), ehlo_lines(&["AUTH PLAIN LOGIN"]));
    assert_eq!(sub.cmd("STARTTLS"), "503 5.5.1 TLS is already active\r\n");

    let mut subs = Client::tls(t.submissions());
    assert_eq!(subs.cmd("EHLO client.example"), ehlo_lines(&["AUTH PLAIN LOGIN"]));
}

#[test]
fn simple_commands() {
    let t = Smtp::start_with(SMALL);
    let mut c = Client::plain(t.mx());
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.org>"),
        "503 5.5.1 Send EHLO or HELO first\r\n"
    );
    assert!(c.cmd("EHLO client.example").starts_with("250-"));
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK\r\n");
    // RFC 5321 3.5.3: nothing is disclosed.
    let vrfy = "252 2.5.0 Cannot verify addresses; send the message and delivery will be attempted\r\n";
    assert_eq!(c.cmd(&format!("VRFY {}", t.inbox.email)), vrfy);
    assert_eq!(c.cmd("VRFY nobody@example.test"), vrfy);
    assert_eq!(c.cmd("EXPN staff"), vrfy);
    assert!(c.cmd("HELP").starts_with("214 2.0.0 "));
    assert_eq!(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0 Sender OK\r\n");
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.org>"),
        "503 5.5.1 Sender already given; RSET first\r\n"
    );
    assert_eq!(c.cmd("RSET"), "250 2.0.0 OK\r\n");
    assert_eq!(c.cmd("RCPT TO:<x@example.test>"), "503 5.5.1 Send MAIL first\r\n");
    assert_eq!(c.cmd("DATA"), "503 5.5.1 Send MAIL first\r\n");
    assert_eq!(c.cmd("ETRN example.test"), "502 5.5.1 Command not implemented\r\n");
    assert_eq!(c.cmd("FROB"), "500 5.5.1 Command unrecognized\r\n");
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.org> HOLDFOR=10"),
        "555 5.5.4 Unsupported parameter\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.org> BODY=BINARYMIME"),
        "555 5.5.4 Unsupported parameter\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@@example.org>"),
        "501 5.1.7 Bad sender address syntax\r\n"
    );
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye\r\n");
    assert!(c.closed());
}

#[test]
fn mx_refuses_unknown_users_and_relaying() {
    let t = Smtp::start_with(SMALL);
    let mut c = mx_client(&t);
    assert_eq!(c.cmd("MAIL FROM:<someone@example.org>"), "250 2.1.0 Sender OK\r\n");
    // The same answer for every unknown user, on every local domain.
    for user in [
        "nobody@example.test",
        "admin@example.test",
        "scout2@agents.example.test",
    ] {
        let started = Instant::now();
        assert_eq!(c.cmd(&format!("RCPT TO:<{user}>")), "550 5.1.1 No such user here\r\n");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    for other in [
        "victim@example.org",
        "scout@example.test.evil.example",
        "scout@sub.example.test",
    ] {
        assert_eq!(c.cmd(&format!("RCPT TO:<{other}>")), "550 5.7.1 Relaying denied\r\n");
    }
    assert_eq!(c.cmd("DATA"), "554 5.5.1 No valid recipients\r\n");
    // The address in any case is the same inbox.
    let upper = t.inbox.email.to_uppercase();
    assert_eq!(c.cmd(&format!("RCPT TO:<{upper}>")), "250 2.1.5 Recipient OK\r\n");
    assert_eq!(
        c.cmd("AUTH PLAIN AHVzZXIAcGFzcw=="),
        "502 5.5.1 AUTH is not available on this port; use submission\r\n"
    );
}

#[test]
fn auth_needs_tls_and_mail_needs_auth() {
    let t = Smtp::start_with(SMALL);
    let mut c = Client::plain(t.submission());
    c.cmd("EHLO client.example");
    // RFC 4954 6: no passwords before TLS.
    assert_eq!(
        c.auth_plain(&t.inbox.email, &t.inbox.password),
        "538 5.7.11 Encryption required for requested authentication mechanism\r\n"
    );
    assert_eq!(
        c.cmd("AUTH LOGIN"),
        "538 5.7.11 Encryption required for requested authentication mechanism\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<x@example.test>"),
        "530 5.7.0 Must issue a STARTTLS command first\r\n"
    );

    let mut c = Client::starttls(t.submission());
    assert_eq!(
        c.cmd(&format!("MAIL FROM:<{}>", t.inbox.email)),
        "530 5.7.0 Authentication required\r\n"
    );
    assert_eq!(
        c.cmd("AUTH CRAM-MD5"),
        "504 5.5.4 Unrecognized authentication mechanism\r\n"
    );
    assert_eq!(
        c.auth_plain(&t.inbox.email, "wrong"),
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
    assert_eq!(
        c.auth_plain("nobody@example.test", "wrong"),
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
    assert_eq!(
        c.cmd("AUTH PLAIN not-base64!"),
        "501 5.5.2 Cannot decode the response\r\n"
    );
    // PLAIN without an initial response: an empty challenge, then "*" cancels.
    assert_eq!(c.cmd("AUTH PLAIN"), "334 \r\n");
    assert_eq!(c.cmd("*"), "501 5.0.0 Authentication cancelled\r\n");
    // RFC 4954 4: an overlong response ends the exchange with 500 5.5.6, in step.
    assert_eq!(c.cmd("AUTH PLAIN"), "334 \r\n");
    assert_eq!(
        c.cmd(&"A".repeat(13000)),
        "500 5.5.6 Authentication exchange line is too long\r\n"
    );
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK\r\n");
    assert_eq!(c.cmd("AUTH PLAIN"), "334 \r\n");
    let token = base64_of(&format!("\0{}\0{}", t.inbox.email, t.inbox.password));
    assert_eq!(c.cmd(&token), "235 2.7.0 Authentication successful\r\n");
    assert_eq!(c.cmd("AUTH PLAIN"), "503 5.5.1 Already authenticated\r\n");
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn auth_login_with_and_without_initial_response() {
    let t = Smtp::start_with(SMALL);
    let mut c = Client::starttls(t.submission());
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(c.cmd(&base64_of(&t.inbox.email)), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(
        c.cmd(&base64_of(&t.inbox.password)),
        "235 2.7.0 Authentication successful\r\n"
    );

    // CLIENTS.md: Outlook sends the user name with the command.
    let mut c = Client::tls(t.submissions());
    c.cmd("EHLO client.example");
    assert_eq!(
        c.cmd(&format!("AUTH LOGIN {}", base64_of(&t.inbox.email))),
        "334 UGFzc3dvcmQ6\r\n"
    );
    assert_eq!(
        c.cmd(&base64_of(&t.inbox.password)),
        "235 2.7.0 Authentication successful\r\n"
    );
    assert_eq!(
        c.cmd(&format!("MAIL FROM:<{}>", t.inbox.email)),
        "250 2.1.0 Sender OK\r\n"
    );
    assert_eq!(c.cmd("AUTH LOGIN"), "503 5.5.1 Already authenticated\r\n");
}

#[test]
fn submission_sends_only_as_its_inbox() {
    // With outbound delivery turned off, other domains are refused at the end of DATA.
    let t = Smtp::start_with(&format!("{SMALL}[delivery]\nenabled = false\n"));
    common::provision(&t.server, "other");
    let mut c = t.submit_client();
    let refused = "553 5.7.1 Sender address is not an address of the authenticated inbox\r\n";
    assert_eq!(c.cmd("MAIL FROM:<other@example.test>"), refused);
    assert_eq!(c.cmd("MAIL FROM:<>"), refused);
    assert_eq!(c.cmd("MAIL FROM:<scout@example.org>"), refused);
    // The envelope is right but the From header names someone else.
    let forged = message("other@example.test", "other@example.test", "forged", "hi");
    assert_eq!(
        c.send_mail(&t.inbox.email, "other@example.test", &forged),
        "553 5.7.1 From header is not an address of the authenticated inbox\r\n"
    );
    // Two From fields are refused too.
    let mut two = b"From: scout@example.test\r\n".to_vec();
    two.extend_from_slice(&forged);
    assert!(
        c.send_mail(&t.inbox.email, "other@example.test", &two)
            .starts_with("553 5.7.1 ")
    );
    // With outbound delivery off, another domain is refused at RCPT.
    assert!(c.cmd(&format!("MAIL FROM:<{}>", t.inbox.email)).starts_with("250 "));
    assert_eq!(
        c.cmd("RCPT TO:<friend@example.org>"),
        "550 5.7.1 Delivery to other domains is not available\r\n"
    );
    assert_eq!(c.cmd("RSET"), "250 2.0.0 OK\r\n");
    assert!(t.fetch("Sent").is_empty(), "nothing refused was stored");
    assert_eq!(
        c.cmd(&format!("MAIL FROM:<{}>", t.inbox.email.to_uppercase())),
        "250 2.1.0 Sender OK\r\n"
    );
}

/// MAIL, RCPT to the test inbox and DATA, each answered as it should be.
fn start_data(c: &mut Client, t: &Smtp) {
    assert_eq!(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0 Sender OK\r\n");
    assert_eq!(
        c.cmd(&format!("RCPT TO:<{}>", t.inbox.email)),
        "250 2.1.5 Recipient OK\r\n"
    );
    assert_eq!(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>\r\n");
}

fn assert_queued(reply: &str) {
    assert!(reply.starts_with("250 2.0.0 OK: queued as "), "{reply}");
}

#[test]
fn bare_lf_lines_are_stored_with_crlf() {
    let t = Smtp::start_with(SMALL);
    let mut c = mx_client(&t);
    // What Python's email package writes: every line ends in a bare LF; the end
    // of data is still CRLF.CRLF (smtplib adds it).
    start_data(&mut c, &t);
    c.send(b"From: a@example.org\nSubject: lf\n\n..dotted\nbody\n\n\r\n.\r\n");
    assert_queued(&c.reply());
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK\r\n");
    let stored = t.fetch("INBOX");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].without_received(),
        b"From: a@example.org\r\nSubject: lf\r\n\r\n.dotted\r\nbody\r\n\r\n\r\n"
    );
}

#[test]
fn lone_dots_beside_a_bare_lf_are_content_and_smuggle_nothing() {
    let t = Smtp::start_with(SMALL);
    let mut c = mx_client(&t);
    // The smuggling attempts of CVE-2023-51766 and friends: a whole second
    // transaction hidden behind a dot line that a lax server takes as the end.
    let smuggled = format!(
        "MAIL FROM:<evil@example.org>\r\nRCPT TO:<{}>\r\nDATA\r\nSubject: spoofed\r\n\r\nevil\r\n",
        t.inbox.email
    );
    for dot in ["\n.\n", "\n.\r\n", "\r\n.\n"] {
        start_data(&mut c, &t);
        c.send(format!("Subject: a\r\n\r\nx{dot}{smuggled}").as_bytes());
        c.send(b".\r\n");
        // One message, and no transaction open after it.
        assert_queued(&c.reply());
        assert_eq!(
            c.cmd(&format!("RCPT TO:<{}>", t.inbox.email)),
            "503 5.5.1 Send MAIL first\r\n",
            "{dot:?}"
        );
    }
    let stored = t.fetch("INBOX");
    assert_eq!(stored.len(), 3, "one message per attempt, nothing smuggled");
    // Each the same: the dot kept as a line of its own, the rest content.
    let expected = format!("Subject: a\r\n\r\nx\r\n.\r\n{smuggled}");
    for m in &stored {
        assert_eq!(String::from_utf8_lossy(m.without_received()), expected);
    }
}

#[test]
fn bare_cr_in_data_is_refused() {
    let t = Smtp::start_with(SMALL);
    let mut c = mx_client(&t);
    for attempt in [
        &b"Subject: a\r\n\r\nx\r.\r\nMAIL FROM:<evil@example.org>\r\n"[..],
        b"Subject: a\r\nbare\rcr\r\n",
    ] {
        start_data(&mut c, &t);
        c.send(attempt);
        c.send(b"\r\n.\r\n");
        assert_eq!(
            c.reply(),
            "554 5.6.0 Bare CR in message; lines end with CRLF (RFC 5321 2.3.8)\r\n",
            "{attempt:?}"
        );
        // The session goes on, in step.
        assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK\r\n");
    }
    assert!(t.fetch("INBOX").is_empty());
}

#[test]
fn long_command_lines_get_500_and_long_text_lines_are_taken() {
    let t = Smtp::start_with(SMALL);
    let mut c = mx_client(&t);
    assert_eq!(
        c.cmd(&format!("NOOP {}", "x".repeat(600))),
        "500 5.5.2 Line too long\r\n"
    );
    assert_eq!(
        c.cmd(&format!("MAIL FROM:<{}@example.org>", "a".repeat(1100))),
        "500 5.5.2 Line too long\r\n"
    );
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK\r\n");
    // RFC 5321 4.5.3.1: a 5,000-octet text line (an HTML mail on one line) is
    // taken and stored as sent (its bare LF made CRLF); a leading dot on it is
    // unstuffed as on any line.
    let html = format!("<html><body>{}<br /></body></html>", "<p>words</p>".repeat(414));
    assert_eq!(html.len(), 5_000);
    let msg = format!("Subject: long\r\nContent-Type: text/html\r\n\r\n{html}\r\n.{html}\r\n");
    start_data(&mut c, &t);
    c.send(format!("Subject: long\r\nContent-Type: text/html\r\n\r\n{html}\n..{html}\r\n").as_bytes());
    c.send(b".\r\n");
    assert_queued(&c.reply());
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK\r\n");
    let stored = t.fetch("INBOX");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].without_received(), msg.as_bytes());
    // Bounded by the message size only.
    start_data(&mut c, &t);
    c.send(&vec![b'y'; 100_001]);
    c.send(b"\r\n.\r\n");
    assert_eq!(
        c.reply(),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK\r\n");
}

#[test]
fn nul_bytes_are_refused() {
    let t = Smtp::start_with(SMALL);
    let mut c = mx_client(&t);
    c.send(b"NOOP a\0b\r\n");
    assert_eq!(c.reply(), "500 5.5.2 NUL byte in command line\r\n");
    c.send(b"NOOP a\rb\r\n");
    assert_eq!(c.reply(), "500 5.5.2 Bare CR in command line\r\n");
    c.cmd("MAIL FROM:<a@example.org>");
    c.cmd(&format!("RCPT TO:<{}>", t.inbox.email));
    c.cmd("DATA");
    c.send(b"Subject: nul\r\n\r\nbefore\0after\r\n.\r\n");
    assert_eq!(c.reply(), "554 5.6.0 NUL byte in message\r\n");
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK\r\n");
    assert!(t.fetch("INBOX").is_empty());
}

#[test]
fn too_many_recipients_get_452_and_duplicates_one_copy() {
    let t = Smtp::start_with(SMALL);
    let mut c = mx_client(&t);
    let mut group = b"MAIL FROM:<a@example.org>\r\n".to_vec();
    for _ in 0..101 {
        group.extend_from_slice(format!("RCPT TO:<{}>\r\n", t.inbox.email).as_bytes());
    }
    c.send(&group);
    assert_eq!(c.reply(), "250 2.1.0 Sender OK\r\n");
    for n in 0..100 {
        assert_eq!(c.reply(), "250 2.1.5 Recipient OK\r\n", "recipient {n}");
    }
    assert_eq!(c.reply(), "452 4.5.3 Too many recipients\r\n");
    c.cmd("DATA");
    c.send(&message("a@example.org", &t.inbox.email, "many", "once"));
    c.send(b".\r\n");
    assert!(c.reply().starts_with("250 2.0.0 OK"));
    assert_eq!(t.fetch("INBOX").len(), 1, "one copy for one inbox");
}

#[test]
fn starttls_discards_pipelined_commands() {
    let t = Smtp::start_with(SMALL);
    let mut c = Client::plain(t.mx());
    c.cmd("EHLO client.example");
    // An attacker injects commands after STARTTLS in the same packet.
    c.send(b"STARTTLS\r\nEHLO injected.example\r\nMAIL FROM:<evil@example.org>\r\n");
    assert_eq!(c.reply(), "220 2.0.0 Ready to start TLS\r\n");
    let mut c = c.upgrade();
    // Neither the injected EHLO nor MAIL took effect, and nothing else was answered.
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.org>"),
        "503 5.5.1 Send EHLO or HELO first\r\n"
    );
    assert!(c.cmd("EHLO client.example").starts_with("250-mail.example.test\r\n"));
    assert_eq!(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0 Sender OK\r\n");
}

#[test]
fn twenty_bad_commands_close_with_421() {
    let t = Smtp::start_with(SMALL);
    let mut c = mx_client(&t);
    for _ in 0..19 {
        assert_eq!(c.cmd("BOGUS"), "500 5.5.1 Command unrecognized\r\n");
    }
    c.send(b"BOGUS\r\n");
    assert_eq!(c.reply(), "500 5.5.1 Command unrecognized\r\n");
    assert_eq!(c.reply(), "421 4.7.0 Too many errors, closing connection\r\n");
    assert!(c.closed());
}

#[test]
fn oversized_messages_get_552_and_nothing_is_stored() {
    let t = Smtp::start_with(SMALL);
    let mut c = mx_client(&t);
    // RFC 1870: a declared size over the limit is refused at MAIL.
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.org> SIZE=100001"),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(c.cmd("MAIL FROM:<a@example.org> SIZE=5000"), "250 2.1.0 Sender OK\r\n");
    c.cmd(&format!("RCPT TO:<{}>", t.inbox.email));
    c.cmd("DATA");
    // The client lied about the size: read to the end, keep nothing, refuse.
    let line = format!("{}\r\n", "z".repeat(98));
    c.send(b"Subject: big\r\n\r\n");
    for _ in 0..2000 {
        c.send(line.as_bytes());
    }
    c.send(b".\r\n");
    assert_eq!(
        c.reply(),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK\r\n");
    // The same over BDAT: refused at the chunk that goes over, then in step again.
    c.cmd("MAIL FROM:<a@example.org>");
    c.cmd(&format!("RCPT TO:<{}>", t.inbox.email));
    let chunk = line.repeat(600);
    c.send(format!("BDAT {}\r\n", chunk.len()).as_bytes());
    c.send(chunk.as_bytes());
    assert_eq!(c.reply(), "250 2.0.0 60000 octets received\r\n");
    c.send(format!("BDAT {}\r\n", chunk.len()).as_bytes());
    c.send(chunk.as_bytes());
    assert_eq!(
        c.reply(),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    c.send(b"BDAT 5 LAST\r\nhello");
    assert_eq!(c.reply(), "503 5.5.1 Send MAIL and RCPT before BDAT\r\n");
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK\r\n");
    assert!(t.fetch("INBOX").is_empty());
}

#[test]
fn pipelined_ehlo_to_data_in_one_write() {
    let t = Smtp::start_with(SMALL);
    let mut c = Client::plain(t.mx());
    let group = format!(
        "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<{}>\r\nDATA\r\n",
        t.inbox.email
    );
    c.send(group.as_bytes());
    assert_eq!(c.reply(), ehlo_lines(&["STARTTLS"]));
    assert_eq!(c.reply(), "250 2.1.0 Sender OK\r\n");
    assert_eq!(c.reply(), "550 5.1.1 No such user here\r\n");
    assert_eq!(c.reply(), "250 2.1.5 Recipient OK\r\n");
    assert_eq!(c.reply(), "354 End data with <CR><LF>.<CR><LF>\r\n");
    let msg = message("a@example.org", &t.inbox.email, "pipelined", "..dot first\r\n..");
    // The end of data and the next transaction in one write too.
    let mut tail = msg.clone();
    tail.extend_from_slice(b".\r\nMAIL FROM:<b@example.org>\r\nQUIT\r\n");
    c.send(&tail);
    let done = c.reply();
    assert!(done.starts_with("250 2.0.0 OK: queued as "), "{done}");
    assert_eq!(c.reply(), "250 2.1.0 Sender OK\r\n");
    assert_eq!(c.reply(), "221 2.0.0 Bye\r\n");
    let stored = t.fetch("INBOX");
    assert_eq!(stored.len(), 1);
    // Dot-unstuffed: ".." at a line start is stored as ".".
    let expected = message("a@example.org", &t.inbox.email, "pipelined", ".dot first\r\n.");
    assert_eq!(stored[0].without_received(), &expected[..]);
}

#[test]
fn bdat_chunks_make_one_message() {
    let t = Smtp::start_with(SMALL);
    let mut c = mx_client(&t);
    // BDAT before a transaction: the chunk is read and dropped, the session stays in step.
    c.send(b"BDAT 4\r\nNOOP");
    assert_eq!(c.reply(), "503 5.5.1 Send MAIL and RCPT before BDAT\r\n");
    c.cmd("MAIL FROM:<a@example.org>");
    c.cmd(&format!("RCPT TO:<{}>", t.inbox.email));
    let msg = message("a@example.org", &t.inbox.email, "chunked", ".not stuffed in BDAT");
    let (a, b) = msg.split_at(30);
    c.send(format!("BDAT {}\r\n", a.len()).as_bytes());
    c.send(a);
    assert_eq!(c.reply(), "250 2.0.0 30 octets received\r\n");
    assert_eq!(c.cmd("DATA"), "503 5.5.1 DATA cannot follow BDAT\r\n");
    // Pipelined: the last chunk and a NOOP in one write.
    let mut last = format!("BDAT {} LAST\r\n", b.len()).into_bytes();
    last.extend_from_slice(b);
    last.extend_from_slice(b"NOOP\r\n");
    c.send(&last);
    assert!(c.reply().starts_with("250 2.0.0 OK: queued as "));
    assert_eq!(c.reply(), "250 2.0.0 OK\r\n");
    let stored = t.fetch("INBOX");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].without_received(), &msg[..]);
    // A bare LF inside a chunk is stored as CRLF, as in DATA; a bare CR is refused.
    c.cmd("MAIL FROM:<a@example.org>");
    c.cmd(&format!("RCPT TO:<{}>", t.inbox.email));
    c.send(b"BDAT 10 LAST\r\nA: b\nc\r\n\r\n");
    assert!(c.reply().starts_with("250 2.0.0 OK: queued as "));
    let stored = t.fetch("INBOX");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].without_received(), b"A: b\r\nc\r\n\r\n");
    c.cmd("MAIL FROM:<a@example.org>");
    c.cmd(&format!("RCPT TO:<{}>", t.inbox.email));
    c.send(b"BDAT 10 LAST\r\nA: b\rc\r\n\r\n");
    assert_eq!(
        c.reply(),
        "554 5.6.0 Bare CR in message; lines end with CRLF (RFC 5321 2.3.8)\r\n"
    );
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK\r\n");
}

#[test]
fn smtputf8_is_needed_for_non_ascii_addresses() {
    let t = Smtp::start_with(SMALL);
    let mut c = mx_client(&t);
    assert_eq!(
        c.cmd("MAIL FROM:<jörg@example.org>"),
        "553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<jörg@example.org> SMTPUTF8"),
        "250 2.1.0 Sender OK\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<δοκιμή@example.test>"),
        "550 5.1.1 No such user here\r\n"
    );
    // HELO sessions have no extensions, so no parameters.
    assert_eq!(c.cmd("HELO client.example"), "250 mail.example.test\r\n");
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.org> BODY=8BITMIME"),
        "555 5.5.4 Unsupported parameter\r\n"
    );
    assert_eq!(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0 Sender OK\r\n");
    assert_eq!(
        c.cmd(&format!("RCPT TO:<{}> NOTIFY=SUCCESS", t.inbox.email)),
        "555 5.5.4 Unsupported parameter\r\n"
    );
    // DSN parameters are accepted after EHLO.
    c.cmd("EHLO client.example");
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.org> RET=HDRS ENVID=abc BODY=8BITMIME SIZE=10"),
        "250 2.1.0 Sender OK\r\n"
    );
    assert_eq!(
        c.cmd(&format!(
            "RCPT TO:<{}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@example.org",
            t.inbox.email
        )),
        "250 2.1.5 Recipient OK\r\n"
    );
}

#[test]
fn paused_inbox_neither_receives_nor_sends() {
    let mut t = Smtp::start_with(SMALL);
    // The API has no pause call yet: pause it in the store while the server is down.
    t.server.stop();
    {
        let store = mailroom::store::Store::open(&t.server.data_dir(), 4).expect("open store");
        let id = t.inbox.id.parse().expect("inbox id");
        assert!(store.update_inbox(id, None, Some(true)).expect("pause").paused);
        store.flush_blocking().expect("flush");
    }
    t.server.start_again();
    let mut c = mx_client(&t);
    c.cmd("MAIL FROM:<a@example.org>");
    assert_eq!(
        c.cmd(&format!("RCPT TO:<{}>", t.inbox.email)),
        "550 5.2.1 Mailbox disabled, not accepting messages\r\n"
    );
    let mut s = Client::starttls(t.submission());
    assert_eq!(
        s.auth_plain(&t.inbox.email, &t.inbox.password),
        "525 5.7.13 Account disabled\r\n"
    );
    assert_eq!(
        s.cmd(&format!("MAIL FROM:<{}>", t.inbox.email)),
        "530 5.7.0 Authentication required\r\n"
    );
}

#[test]
fn idle_sessions_are_closed() {
    let t = Smtp::start_with("[smtp]\nidle_timeout_secs = 1\n");
    let mut c = mx_client(&t);
    let started = Instant::now();
    assert_eq!(c.reply(), "421 4.4.2 Idle for too long, closing connection\r\n");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(c.closed());
}

#[test]
fn connections_per_address_are_limited() {
    let t = Smtp::start_with("[smtp]\nmax_connections_per_ip = 2\n");
    let _a = Client::plain(t.mx());
    let _b = Client::plain(t.submission());
    let tcp = std::net::TcpStream::connect(t.mx()).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut text = String::new();
    use std::io::Read;
    let _ = (&tcp).read_to_string(&mut text);
    assert_eq!(text, "421 4.7.0 Too many connections from your address\r\n");
    drop(_a);
    // A slot frees up when a session ends.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let tcp = std::net::TcpStream::connect(t.mx()).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut first = [0u8; 4];
        (&tcp).read_exact(&mut first).expect("greeting");
        if &first == b"220 " {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}
