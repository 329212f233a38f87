//! SMTP driven by clients nobody here wrote: Python's smtplib, swaks and curl.
//! Every message is read back with imaplib over TLS (BODY.PEEK[]) and compared
//! byte for byte with what was sent, apart from the Received field we add.

mod common;
mod smtp_support;

use base64::Engine;
use smtp_support::{Smtp, Stored, message};
use std::process::Command;

/// Writes `bytes` to a file in the server's temp dir and returns its path.
fn temp_file(t: &Smtp, name: &str, bytes: &[u8]) -> String {
    let path = t.server.dir.join(name);
    std::fs::write(&path, bytes).expect("write message file");
    path.display().to_string()
}

fn py(script: &str, args: &[&str]) -> String {
    let (code, out, err) = common::python(script, args);
    assert_eq!(code, 0, "python failed:\n{err}\n{out}");
    out
}

fn only(mut stored: Vec<Stored>) -> Stored {
    assert_eq!(stored.len(), 1, "expected one message");
    stored.remove(0)
}

const SUBMIT_STARTTLS: &str = r#"
import smtplib, ssl, sys
port, user, password, rcpt, path = sys.argv[1:6]
msg = open(path, "rb").read()
s = smtplib.SMTP("127.0.0.1", int(port), local_hostname="agent.example")
s.ehlo()
# Before TLS: STARTTLS, and no AUTH (no passwords in the clear).
assert s.has_extn("starttls") and not s.has_extn("auth"), s.esmtp_features
s.starttls(context=ssl._create_unverified_context())
s.ehlo()
for ext in ["pipelining", "8bitmime", "smtputf8", "size", "chunking", "enhancedstatuscodes", "dsn"]:
    assert s.has_extn(ext), ext
assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"], s.esmtp_features["auth"]
assert not s.has_extn("starttls")
s.login(user, password)  # smtplib picks AUTH PLAIN with an initial response
assert s.sendmail(user, [rcpt, user], msg) == {}
s.quit()
print("sent")
"#;

#[test]
fn smtplib_submission_over_starttls_with_auth_plain() {
    let t = Smtp::start();
    let friend = common::provision(&t.server, "friend");
    let msg = message(&t.inbox.email, &friend.email, "hello friend", "..a dot line\r\nbye");
    let path = temp_file(&t, "m.eml", &msg);
    py(
        SUBMIT_STARTTLS,
        &[
            &t.port("smtp-submission"),
            &t.inbox.email,
            &t.inbox.password,
            &friend.email,
            &path,
        ],
    );
    let theirs = only(smtp_support::fetch_all(&t.server, &friend, "INBOX"));
    assert_eq!(theirs.without_received(), &msg[..], "stored byte-identical");
    assert!(!theirs.flags.contains("\\Seen"));
    let received = theirs.received();
    assert!(
        received.starts_with("Received: from agent.example ([127.0.0.1])\r\n\tby mail.example.test with ESMTPSA id "),
        "{received}"
    );
    // Two recipients, so no "for" clause.
    assert!(!received.contains("for <"), "{received}");
    let own = only(t.fetch("INBOX"));
    assert_eq!(own.raw, theirs.raw);
    // The Sent copy: the same bytes, \Seen.
    let sent = only(t.fetch("Sent"));
    assert_eq!(sent.raw, theirs.raw);
    assert!(sent.flags.contains("\\Seen"), "{}", sent.flags);
}

const SUBMIT_LOGIN: &str = r#"
import smtplib, ssl, sys
port, implicit, initial, user, password, path = sys.argv[1:7]
msg = open(path, "rb").read()
ctx = ssl._create_unverified_context()
if implicit == "1":
    s = smtplib.SMTP_SSL("127.0.0.1", int(port), context=ctx)
    s.ehlo()
else:
    s = smtplib.SMTP("127.0.0.1", int(port))
    s.starttls(context=ctx)
    s.ehlo()
s.user, s.password = user, password
# initial_response_ok sends "AUTH LOGIN <user>" as Outlook does (CLIENTS.md).
code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=(initial == "1"))
assert code == 235, (code, text)
s.sendmail(user, [user], msg)
s.quit()
print("sent")
"#;

#[test]
fn smtplib_auth_login_on_both_submission_ports() {
    let t = Smtp::start();
    for (n, (port, implicit, initial)) in [
        ("smtp-submission", "0", "0"),
        ("smtp-submission", "0", "1"),
        ("smtp-submissions", "1", "0"),
        ("smtp-submissions", "1", "1"),
    ]
    .into_iter()
    .enumerate()
    {
        let msg = message(&t.inbox.email, &t.inbox.email, &format!("login {n}"), "via LOGIN");
        let path = temp_file(&t, &format!("l{n}.eml"), &msg);
        py(
            SUBMIT_LOGIN,
            &[
                &t.port(port),
                implicit,
                initial,
                &t.inbox.email,
                &t.inbox.password,
                &path,
            ],
        );
    }
    let inbox = t.fetch("INBOX");
    assert_eq!(inbox.len(), 4);
    for (n, m) in inbox.iter().enumerate() {
        let expected = message(&t.inbox.email, &t.inbox.email, &format!("login {n}"), "via LOGIN");
        assert_eq!(m.without_received(), &expected[..]);
        assert!(m.received().contains(&format!("for <{}>", t.inbox.email)));
    }
    assert_eq!(t.fetch("Sent").len(), 4);
}

const MX_SEND: &str = r#"
import smtplib, ssl, sys
port, tls, sender, rcpt, path = sys.argv[1:6]
msg = open(path, "rb").read()
s = smtplib.SMTP("127.0.0.1", int(port), local_hostname="relay.example.org")
if tls == "1":
    s.starttls(context=ssl._create_unverified_context())
s.sendmail(sender, [rcpt], msg)
s.quit()
print("sent")
"#;

#[test]
fn smtplib_mx_delivery_without_auth_plain_and_starttls() {
    let t = Smtp::start();
    let plain = message("news@example.org", &t.inbox.email, "mx plain", "8bit: Grüße\r\n.\r\n..");
    let tls = message("news@example.org", &t.inbox.email, "mx tls", "over TLS");
    let (p1, p2) = (temp_file(&t, "a.eml", &plain), temp_file(&t, "b.eml", &tls));
    py(
        MX_SEND,
        &[&t.port("smtp-mx"), "0", "news@example.org", &t.inbox.email, &p1],
    );
    py(
        MX_SEND,
        &[&t.port("smtp-mx"), "1", "news@example.org", &t.inbox.email, &p2],
    );
    let inbox = t.fetch("INBOX");
    assert_eq!(inbox.len(), 2);
    assert_eq!(inbox[0].without_received(), &plain[..]);
    assert!(inbox[0].received().contains("by mail.example.test with ESMTP id "));
    assert!(inbox[0].received().contains(&format!("\tfor <{}>;", t.inbox.email)));
    assert_eq!(inbox[1].without_received(), &tls[..]);
    assert!(inbox[1].received().contains(" with ESMTPS id "));
    assert!(t.fetch("Sent").is_empty(), "MX mail makes no Sent copy");
}

#[test]
fn swaks_pipelined_mx_and_submission() {
    let t = Smtp::start();
    let run = |args: &[&str]| {
        let out = Command::new("swaks")
            .args(args)
            .output()
            .expect("swaks is needed for this test");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "swaks failed:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let mx = t.mx().to_string();
    let out = run(&[
        "--server",
        &mx,
        "--pipeline",
        "--from",
        "a@example.org",
        "--to",
        &t.inbox.email,
        "--header",
        "Subject: swaks mx",
    ]);
    assert!(out.contains("250 2.0.0 OK: queued as"), "{out}");
    let sub = t.submission().to_string();
    let out = run(&[
        "--server",
        &sub,
        "--tls",
        "--auth",
        "LOGIN",
        "--auth-user",
        &t.inbox.email,
        "--auth-password",
        &t.inbox.password,
        "--from",
        &t.inbox.email,
        "--to",
        &t.inbox.email,
        "--header",
        &format!("From: {}", t.inbox.email),
        "--header",
        "Subject: swaks submission",
    ]);
    assert!(out.contains("235 2.7.0 Authentication successful"), "{out}");
    let subs = t.submissions().to_string();
    let out = run(&[
        "--server",
        &subs,
        "--tls-on-connect",
        "--auth",
        "PLAIN",
        "--auth-user",
        &t.inbox.email,
        "--auth-password",
        &t.inbox.password,
        "--from",
        &t.inbox.email,
        "--to",
        &t.inbox.email,
        "--header",
        &format!("From: {}", t.inbox.email),
        "--header",
        "Subject: swaks submissions",
    ]);
    assert!(out.contains("250 2.0.0 OK: queued as"), "{out}");
    let subjects: Vec<String> = t
        .fetch("INBOX")
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(&m.raw).into_owned();
            text.lines()
                .find(|l| l.starts_with("Subject: "))
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        subjects,
        [
            "Subject: swaks mx",
            "Subject: swaks submission",
            "Subject: swaks submissions"
        ]
    );
}

#[test]
fn curl_uploads_to_mx_submission_and_smtps() {
    let t = Smtp::start();
    let msg = message(&t.inbox.email, &t.inbox.email, "curl", "sent by curl");
    let path = temp_file(&t, "c.eml", &msg);
    let user = format!("{}:{}", t.inbox.email, t.inbox.password);
    let urls = [
        (format!("smtp://{}", t.mx()), false),
        (format!("smtp://{}", t.submission()), true),
        (format!("smtps://{}", t.submissions()), true),
    ];
    for (url, auth) in &urls {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "--max-time",
            "20",
            url,
            "--mail-from",
            &t.inbox.email,
            "--mail-rcpt",
            &t.inbox.email,
        ]);
        cmd.args(["-T", &path]);
        if *auth {
            cmd.args(["--ssl-reqd", "-k", "-u", &user]);
        }
        let out = cmd.output().expect("curl is needed for this test");
        assert!(
            out.status.success(),
            "curl {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let inbox = t.fetch("INBOX");
    assert_eq!(inbox.len(), 3);
    for m in &inbox {
        assert_eq!(m.without_received(), &msg[..]);
    }
    // The Message-ID is the same each time: Sent keeps every submitted copy.
    assert_eq!(t.fetch("Sent").len(), 2);
}

const MX_BIG: &str = r#"
import smtplib, sys
port, rcpt, size = sys.argv[1:4]
line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/ab\r\n"
body = line * (int(size) // len(line))
msg = b"From: big@example.org\r\nTo: " + rcpt.encode() + b"\r\nSubject: big\r\n\r\n" + body
s = smtplib.SMTP("127.0.0.1", int(port))
s.ehlo()
assert int(s.esmtp_features["size"]) >= len(msg)
s.sendmail("big@example.org", [rcpt], msg, mail_options=["SIZE=%d" % len(msg)])
s.quit()
print(len(msg))
"#;

#[test]
fn a_ten_mib_message_arrives_whole() {
    let t = Smtp::start();
    let size = (10 * 1024 * 1024).to_string();
    let out = py(MX_BIG, &[&t.port("smtp-mx"), &t.inbox.email, &size]);
    let sent_len: usize = out.trim().parse().expect("length");
    let stored = only(t.fetch("INBOX"));
    let body = stored.without_received();
    assert_eq!(body.len(), sent_len);
    assert!(body.starts_with(b"From: big@example.org\r\n"));
    assert!(body.ends_with(b"0123456789+/ab\r\n"));
}

const UTF8_SEND: &str = r#"
import smtplib, sys
port, rcpt = sys.argv[1:3]
sender = "δοκιμή@example.org"
msg = ("From: Δοκιμή <%s>\r\nTo: <%s>\r\nSubject: ünïcødé\r\n\r\nκείμενο\r\n" % (sender, rcpt)).encode("utf-8")
s = smtplib.SMTP("127.0.0.1", int(port))
s.ehlo()
assert s.has_extn("smtputf8")
s.sendmail(sender, [rcpt], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
s.quit()
print("sent")
"#;

#[test]
fn smtputf8_addresses_are_delivered() {
    // Usernames are ASCII (API.md), so the UTF-8 address is the sender's.
    let t = Smtp::start();
    let jorg = common::provision(&t.server, "jorg");
    py(UTF8_SEND, &[&t.port("smtp-mx"), &jorg.email]);
    let stored = only(smtp_support::fetch_all(&t.server, &jorg, "INBOX"));
    let expected =
        "From: Δοκιμή <δοκιμή@example.org>\r\nTo: <jorg@example.test>\r\nSubject: ünïcødé\r\n\r\nκείμενο\r\n";
    assert_eq!(stored.without_received(), expected.as_bytes());
    assert!(stored.received().contains("for <jorg@example.test>"));
}

#[test]
fn delivered_mail_survives_a_restart() {
    let mut t = Smtp::start();
    let msg = message("a@example.org", &t.inbox.email, "kept", "still here after a restart");
    let path = temp_file(&t, "r.eml", &msg);
    py(
        MX_SEND,
        &[&t.port("smtp-mx"), "0", "a@example.org", &t.inbox.email, &path],
    );
    t.server.restart();
    let stored = only(t.fetch("INBOX"));
    assert_eq!(stored.without_received(), &msg[..]);
}

const APPEND_TO_SENT: &str = r#"
import imaplib, ssl, sys
port, user, password, mailbox, path = sys.argv[1:6]
c = imaplib.IMAP4_SSL("127.0.0.1", int(port), ssl_context=ssl._create_unverified_context())
c.login(user, password)
typ, data = c.append(mailbox, "(\\Seen)", None, open(path, "rb").read())
assert typ == "OK", data
print(data[0].decode())
"#;

#[test]
fn thunderbird_saving_its_own_sent_copy_gets_the_existing_uid() {
    let t = Smtp::start();
    let msg = message(
        &t.inbox.email,
        &t.inbox.email,
        "tb copy",
        "Thunderbird appends this to Sent",
    );
    let path = temp_file(&t, "tb.eml", &msg);
    py(
        SUBMIT_LOGIN,
        &[
            &t.port("smtp-submissions"),
            "1",
            "0",
            &t.inbox.email,
            &t.inbox.password,
            &path,
        ],
    );
    let filed = only(t.fetch("Sent"));
    let imaps = t.port("imaps");
    let answer = py(
        APPEND_TO_SENT,
        &[&imaps, &t.inbox.email, &t.inbox.password, "Sent", &path],
    );
    assert!(
        answer.contains(&format!(" {}] ", filed.uid)),
        "APPENDUID names the existing copy: {answer}"
    );
    assert_eq!(t.fetch("Sent").len(), 1, "no duplicate in Sent");
    // Another message, or another mailbox, is stored as usual.
    let other = message(&t.inbox.email, &t.inbox.email, "tb other", "not submitted");
    let other_path = temp_file(&t, "tb2.eml", &other);
    py(
        APPEND_TO_SENT,
        &[&imaps, &t.inbox.email, &t.inbox.password, "Sent", &other_path],
    );
    assert_eq!(t.fetch("Sent").len(), 2);
    py(
        APPEND_TO_SENT,
        &[&imaps, &t.inbox.email, &t.inbox.password, "Drafts", &path],
    );
    assert_eq!(t.fetch("Drafts").len(), 1);
}

#[test]
fn submission_adds_message_id_and_date_when_missing() {
    let t = Smtp::start();
    let bare = format!(
        "From: {0}\r\nTo: {0}\r\nSubject: bare\r\n\r\nno id, no date\r\n",
        t.inbox.email
    );
    let path = temp_file(&t, "bare.eml", bare.as_bytes());
    py(
        SUBMIT_LOGIN,
        &[
            &t.port("smtp-submission"),
            "0",
            "1",
            &t.inbox.email,
            &t.inbox.password,
            &path,
        ],
    );
    let sent = only(t.fetch("Sent"));
    let text = String::from_utf8_lossy(sent.without_received()).into_owned();
    let (added, rest) = text.split_at(text.find("From: ").expect("From"));
    assert_eq!(rest, bare);
    assert!(added.starts_with("Date: "), "{added}");
    assert!(
        added.contains("\r\nMessage-ID: <") && added.ends_with("@mail.example.test>\r\n"),
        "{added}"
    );
    // MX mail is left alone.
    let mx_path = temp_file(&t, "bare2.eml", bare.as_bytes());
    py(
        MX_SEND,
        &[&t.port("smtp-mx"), "0", "a@example.org", &t.inbox.email, &mx_path],
    );
    let inbox = t.fetch("INBOX");
    assert_eq!(inbox.last().expect("mx copy").without_received(), bare.as_bytes());
}

const EMAIL_MESSAGE: &str = r#"
import base64, email.message, email.utils, smtplib, ssl, sys
mx, submission, user, password, rcpt = sys.argv[1:6]
def build(sender, to, subject):
    # How a lot of agent code writes mail: EmailMessage, whose as_bytes() ends
    # every line in a bare LF, handed to sendmail as it is.
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = email.utils.formatdate()
    msg["Message-ID"] = email.utils.make_msgid(domain="agent.example")
    msg.set_content("Hello from Python.\n.a line with a leading dot\n\nCaf\u00e9 ok.\n")
    raw = msg.as_bytes()
    assert b"\n" in raw and b"\r\n" not in raw, raw
    return raw
out = []
s = smtplib.SMTP("127.0.0.1", int(mx), local_hostname="agent.example", timeout=20)
raw = build("someone@example.org", rcpt, "to the mx")
assert s.sendmail("someone@example.org", [rcpt], raw) == {}
s.quit()
out.append(raw)
s = smtplib.SMTP("127.0.0.1", int(submission), local_hostname="agent.example", timeout=20)
s.starttls(context=ssl._create_unverified_context())
s.login(user, password)
raw = build(user, user, "submitted")
assert s.sendmail(user, [user], raw) == {}
s.quit()
out.append(raw)
print(" ".join(base64.b64encode(r).decode() for r in out))
"#;

/// What is stored for a message smtplib sent as it is: its LFs made CRLF, and the
/// CRLF smtplib adds before the end line when the message does not end in one.
fn as_stored(sent: &[u8]) -> Vec<u8> {
    let mut stored = String::from_utf8_lossy(sent).replace('\n', "\r\n").into_bytes();
    if !sent.ends_with(b"\r\n") {
        stored.extend_from_slice(b"\r\n");
    }
    stored
}

#[test]
fn smtplib_sendmail_of_an_email_message_with_bare_lf_is_stored_with_crlf() {
    let t = Smtp::start();
    let out = py(
        EMAIL_MESSAGE,
        &[
            &t.port("smtp-mx"),
            &t.port("smtp-submission"),
            &t.inbox.email,
            &t.inbox.password,
            &t.inbox.email,
        ],
    );
    let sent: Vec<Vec<u8>> = out
        .split_whitespace()
        .map(|b| base64::engine::general_purpose::STANDARD.decode(b).expect("base64"))
        .collect();
    assert_eq!(sent.len(), 2, "{out}");
    // Both in INBOX (the MX one, then the one sent to itself), read with imaplib.
    let inbox = t.fetch("INBOX");
    assert_eq!(inbox.len(), 2);
    for (stored, sent) in inbox.iter().zip(&sent) {
        assert_eq!(
            String::from_utf8_lossy(stored.without_received()),
            String::from_utf8_lossy(&as_stored(sent))
        );
        assert!(
            !stored.raw.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
            "a bare LF stored"
        );
    }
    let text = String::from_utf8_lossy(&inbox[0].raw).into_owned();
    assert!(
        text.contains("\r\n\r\nHello from Python.\r\n.a line with a leading dot\r\n"),
        "{text}"
    );
    assert_eq!(only(t.fetch("Sent")).raw, inbox[1].raw);
}

const SNI_TRAILING_DOT: &str = r#"
import socket, ssl, sys, base64
port, user, password = sys.argv[1:4]
ctx = ssl._create_unverified_context()
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
# CLIENTS.md: some clients send the SNI with a trailing dot.
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), server_hostname="mail.example.test.")
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline().decode()
        lines.append(line)
        if line[3:4] != "-":
            return "".join(lines)
assert reply().startswith("220 ")
s.sendall(b"EHLO sni.example\r\n"); assert "AUTH PLAIN LOGIN" in reply()
token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
s.sendall(b"AUTH PLAIN " + token + b"\r\n"); r = reply(); assert r.startswith("235 "), r
print(s.version())
"#;

const OLD_TLS: &str = r#"
import socket, ssl, sys, warnings
warnings.simplefilter("ignore")
port = int(sys.argv[1])
ctx = ssl._create_unverified_context()
ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
ctx.minimum_version = ssl.TLSVersion.TLSv1
ctx.maximum_version = ssl.TLSVersion.TLSv1_1
try:
    ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="mail.example.test")
    print("handshake succeeded")
except ssl.SSLError as e:
    print("refused:", e.reason)
"#;

#[test]
fn tls_accepts_sni_with_trailing_dot_and_refuses_old_versions() {
    let t = Smtp::start();
    let version = py(
        SNI_TRAILING_DOT,
        &[&t.port("smtp-submissions"), &t.inbox.email, &t.inbox.password],
    );
    assert!(version.trim() == "TLSv1.3" || version.trim() == "TLSv1.2", "{version}");
    let old = py(OLD_TLS, &[&t.port("smtp-submissions")]);
    // The server's alert, not the client giving up before trying.
    assert!(old.starts_with("refused:") && old.contains("ALERT"), "{old}");
}
