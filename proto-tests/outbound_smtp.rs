//! Outbound delivery end to end: the real binary takes mail by SMTP submission
//! (Python's smtplib: STARTTLS, AUTH PLAIN) and delivers it to a Python SMTP
//! receiver (outbound_support/receiver.py) configured as the relay. Bounces are
//! read back with imaplib over TLS; DKIM signatures are checked with mail-auth
//! against the record `mailroom dkim-record` prints.

mod common;
mod outbound_support;
mod smtp_support;

use common::{ADMIN_TOKEN, TestInbox, TestServer};
use outbound_support::{Receiver, count, data, txt_value, verify_dkim};
use serde_json::Value;
use smtp_support::{Stored, fetch_all};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);
/// How long we watch for a duplicate after a delivery (retries are 1 s apart).
const SETTLE: Duration = Duration::from_millis(2500);

/// `[delivery]` for a relay at `relay` with 1 s retries, plus `extra` keys.
fn delivery(relay: &str, extra: &str) -> String {
    format!(
        "[delivery]\nrelay = \"{relay}\"\nretry_schedule_secs = [1]\nconnect_timeout_secs = 2\ncommand_timeout_secs = 5\n{extra}"
    )
}

/// A server relaying to `receiver`, and one provisioned sender.
fn start(receiver: &Receiver, extra: &str) -> (TestServer, TestInbox) {
    let server = TestServer::start_with(&delivery(&receiver.addr(), extra));
    let sender = common::provision(&server, "agent");
    (server, sender)
}

/// What the server answered to one submission, command by command.
#[derive(Debug)]
struct Submitted {
    rcpt: Vec<(u16, String)>,
    /// The reply to the end of DATA (None when no recipient was accepted).
    data: Option<(u16, String)>,
}

impl Submitted {
    fn accepted(&self) -> bool {
        self.data.as_ref().is_some_and(|(code, _)| *code == 250)
    }
}

const SUBMIT: &str = r#"
import json, smtplib, ssl, sys
port, user, password, rcpts, path, options = sys.argv[1:7]
msg = open(path, "rb").read()
s = smtplib.SMTP("127.0.0.1", int(port), local_hostname="agent.example", timeout=20)
s.starttls(context=ssl._create_unverified_context())
s.login(user, password)
code, text = s.mail(user, [o for o in options.split(",") if o])
assert code == 250, (code, text)
out = {"rcpt": [], "data": None}
for r in rcpts.split(","):
    code, text = s.rcpt(r)
    out["rcpt"].append([code, text.decode()])
if any(c == 250 for c, _ in out["rcpt"]):
    try:
        code, text = s.data(msg)
    except smtplib.SMTPDataError as e:
        code, text = e.smtp_code, e.smtp_error
    out["data"] = [code, text.decode()]
s.quit()
print(json.dumps(out))
"#;

/// Submits a message from `sender` to `rcpts` with smtplib over the submission port.
fn submit(server: &TestServer, sender: &TestInbox, rcpts: &[&str], subject: &str) -> Submitted {
    let raw = message(&sender.email, &rcpts.join(", "), subject);
    submit_raw(server, sender, rcpts, &raw, "")
}

/// Submits `raw` as it is; `options` are MAIL parameters, comma-separated.
fn submit_raw(server: &TestServer, sender: &TestInbox, rcpts: &[&str], raw: &[u8], options: &str) -> Submitted {
    let path = server.dir.join(format!("{}.eml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, raw).expect("write message");
    let port = server.addr("smtp-submission").port().to_string();
    let (code, out, err) = common::python(
        SUBMIT,
        &[
            &port,
            &sender.email,
            &sender.password,
            &rcpts.join(","),
            path.to_str().expect("path"),
            options,
        ],
    );
    assert_eq!(code, 0, "smtplib failed:\n{err}\n{out}");
    let v: Value = serde_json::from_str(out.trim()).expect("submit json");
    let pair = |p: &Value| {
        (
            p[0].as_u64().unwrap_or(0) as u16,
            p[1].as_str().unwrap_or("").to_string(),
        )
    };
    Submitted {
        rcpt: v["rcpt"].as_array().expect("rcpt").iter().map(pair).collect(),
        data: (!v["data"].is_null()).then(|| pair(&v["data"])),
    }
}

fn message(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Agent <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{}@example.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello over SMTP.\r\n.a line with a leading dot\r\n",
        subject.replace(' ', "-")
    )
    .into_bytes()
}

/// Runs the `mailroom` CLI with the test's config, asking the running server.
fn cli(server: &TestServer, args: &[&str], ask_server: bool) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mailroom"));
    command
        .args(args)
        .arg("--config")
        .arg(server.dir.join("mailroom.toml"))
        .env("MAILROOM_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("MAILROOM_CONFIG")
        .env_remove("MAILROOM_DATA_DIR");
    if ask_server {
        command.arg("--server").arg(server.api_url(""));
    }
    let out = command.output().expect("run mailroom");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON queue report, as `mailroom queue list --json` prints it.
fn queue(server: &TestServer, ask_server: bool) -> Value {
    let (ok, out, err) = cli(server, &["queue", "list", "--json"], ask_server);
    assert!(ok, "queue list failed: {err}");
    serde_json::from_str(out.trim()).expect("queue json")
}

/// Polls `mailbox` of `inbox` over IMAP until it holds `n` messages (or time is up).
fn wait_mailbox(server: &TestServer, inbox: &TestInbox, mailbox: &str, n: usize) -> Vec<Stored> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let found = fetch_all(server, inbox, mailbox);
        if found.len() >= n || std::time::Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The first header field of `raw` (with its folded lines) and what follows it.
fn first_field(raw: &[u8]) -> (String, &[u8]) {
    let mut at = 0;
    while let Some(i) = raw[at..].iter().position(|&b| b == b'\n') {
        at += i + 1;
        if !matches!(raw.get(at), Some(b'\t' | b' ')) {
            break;
        }
    }
    (String::from_utf8_lossy(&raw[..at]).into_owned(), &raw[at..])
}

fn text_of(stored: &Stored) -> String {
    String::from_utf8_lossy(&stored.raw).into_owned()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Submits one message to a remote recipient and checks its DKIM signature
/// against the record the CLI prints; `algorithm` None is the default (RSA).
fn signed_submission_verifies(algorithm: Option<&str>, a_tag: &str, k_tag: &str) {
    let receiver = Receiver::start(&[]);
    let extra = algorithm.map_or(String::new(), |a| format!("dkim_algorithm = \"{a}\"\n"));
    let (server, sender) = start(&receiver, &extra);
    let sent = submit(&server, &sender, &["someone@remote.example"], "signed");
    assert_eq!(sent.rcpt, [(250, "2.1.5 Recipient OK".to_string())], "{sent:?}");
    assert!(sent.accepted(), "{sent:?}");

    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "events: {:?}", receiver.events());
    assert_eq!(messages[0]["mail_from"], sender.email.as_str());
    assert_eq!(messages[0]["rcpts"], serde_json::json!(["someone@remote.example"]));
    let raw = data(&messages[0]);
    let body = String::from_utf8_lossy(&raw).into_owned();
    assert!(body.starts_with(&format!("DKIM-Signature: v=1; a={a_tag};")), "{body}");
    // Below the signature and our trace field: the submitted bytes, unchanged.
    let (signature, rest) = first_field(&raw);
    assert!(signature.starts_with("DKIM-Signature: "));
    let (received, rest) = first_field(rest);
    assert!(
        received.starts_with("Received: from agent.example ([127.0.0.1])"),
        "{received}"
    );
    assert_eq!(rest, &message(&sender.email, "someone@remote.example", "signed")[..]);

    let (ok, zone, err) = cli(&server, &["dkim-record", "example.test"], true);
    assert!(ok, "dkim-record failed: {err}");
    assert!(
        zone.starts_with(&format!(
            "mailroom._domainkey.example.test. IN TXT ( \"v=DKIM1; k={k_tag}; p="
        )),
        "{zone}"
    );
    let value = txt_value(&zone);
    assert_eq!(block_on(verify_dkim(&raw, &value)), [mail_auth::DkimResult::Pass]);
    // The check has teeth: a changed header fails, a changed body does not pass.
    let tampered = body.replace("Subject: signed", "Subject: changed").into_bytes();
    let verdict = block_on(verify_dkim(&tampered, &value));
    assert!(
        matches!(verdict.as_slice(), [mail_auth::DkimResult::Fail(_)]),
        "{verdict:?}"
    );
    let tampered = body.replace("Hello over SMTP.", "Hello over smtp.").into_bytes();
    assert_ne!(block_on(verify_dkim(&tampered, &value)), [mail_auth::DkimResult::Pass]);
    // The sender keeps a Sent copy (unsigned: signing happens on the way out).
    let copies = fetch_all(&server, &sender, "Sent");
    assert_eq!(copies.len(), 1);
    assert!(text_of(&copies[0]).contains("Subject: signed\r\n"));
}

#[test]
fn rsa_signature_of_a_submitted_message_verifies() {
    signed_submission_verifies(None, "rsa-sha256", "rsa");
}

#[test]
fn ed25519_signature_of_a_submitted_message_verifies() {
    signed_submission_verifies(Some("ed25519"), "ed25519-sha256", "ed25519");
}

#[test]
fn three_temporary_failures_then_delivered_exactly_once() {
    let receiver = Receiver::start(&["--plan", "451,451,451"]);
    let (server, sender) = start(&receiver, "dkim_algorithm = \"ed25519\"\n");
    assert!(submit(&server, &sender, &["someone@remote.example"], "persistent").accepted());
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "events: {:?}", receiver.events());
    std::thread::sleep(SETTLE);
    let events = receiver.events();
    assert_eq!(count(&events, "deferred"), 3, "{events:?}");
    assert_eq!(count(&events, "message"), 1, "no duplicate: {events:?}");
    assert_eq!(queue(&server, true)["messages"], 0);
    assert!(fetch_all(&server, &sender, "INBOX").is_empty(), "no bounce");
}

#[test]
fn a_permanent_failure_bounces_a_dsn_the_sender_reads_over_imap() {
    let receiver = Receiver::start(&["--plan", "550"]);
    let (server, sender) = start(&receiver, "dkim_algorithm = \"ed25519\"\n");
    assert!(submit(&server, &sender, &["someone@remote.example"], "doomed").accepted());
    let inbox = wait_mailbox(&server, &sender, "INBOX", 1);
    assert_eq!(inbox.len(), 1, "one bounce");
    let dsn = text_of(&inbox[0]);
    assert!(
        dsn.contains("Content-Type: multipart/report; report-type=delivery-status;"),
        "{dsn}"
    );
    assert!(dsn.contains(&format!("To: <{}>", sender.email)), "{dsn}");
    assert!(dsn.contains("Content-Type: message/delivery-status\r\n"), "{dsn}");
    assert!(
        dsn.contains("Final-Recipient: rfc822; someone@remote.example\r\nAction: failed\r\nStatus: 5.7.1\r\n"),
        "{dsn}"
    );
    assert!(dsn.contains("550 5.7.1 relaying denied"), "the remote's words: {dsn}");
    let (_, quoted) = dsn
        .split_once("Content-Type: text/rfc822-headers\r\n\r\n")
        .expect("the original header part");
    assert!(quoted.contains("\r\nSubject: doomed\r\n"), "{quoted}");
    assert!(quoted.contains("\r\nMessage-ID: <doomed@example.test>\r\n"), "{quoted}");
    assert!(
        quoted.contains(&format!("\r\nFrom: Agent <{}>\r\n", sender.email)),
        "{quoted}"
    );
    assert!(!dsn.contains("Hello over SMTP."), "the header only");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(fetch_all(&server, &sender, "INBOX").len(), 1, "bounced once");
    assert_eq!(count(&receiver.events(), "message"), 0);
    assert_eq!(queue(&server, true)["messages"], 0);
}

/// kill -9 with mail queued (the relay down), restart on the same data dir with
/// the relay back: delivered exactly once.
#[test]
fn mail_queued_at_a_crash_is_delivered_once_after_restart() {
    // A port nobody listens on: the relay is down.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let mut server = TestServer::start_with(&delivery(&down, "dkim_algorithm = \"ed25519\"\n"));
    let sender = common::provision(&server, "agent");
    assert!(submit(&server, &sender, &["someone@remote.example"], "survivor").accepted());

    // The operator sees it waiting, and why (asking the running server).
    let deadline = std::time::Instant::now() + WAIT;
    let report = loop {
        let report = queue(&server, true);
        if !report["entries"][0]["lastError"].is_null() || std::time::Instant::now() > deadline {
            break report;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(report["messages"], 1, "{report}");
    let entry = &report["entries"][0];
    assert_eq!(entry["domain"], "remote.example");
    assert_eq!(entry["recipients"][0]["status"], "pending");
    assert!(entry["lastError"].as_str().unwrap_or("").contains(&down), "{report}");
    server.kill9();

    // Dead server: the CLI reads the store itself, and the table says the same.
    let (ok, table, err) = cli(&server, &["queue", "list"], false);
    assert!(ok, "{err}");
    assert!(table.starts_with("1 message(s) queued\n"), "{table}");
    assert!(table.contains("remote.example") && table.contains(&down), "{table}");

    // The relay comes back at another address; the entry is routed afresh.
    let receiver = Receiver::start(&[]);
    let path = server.dir.join("mailroom.toml");
    let config = std::fs::read_to_string(&path).unwrap().replace(&down, &receiver.addr());
    std::fs::write(&path, config).unwrap();
    server.start_again();
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "delivered after the crash: {:?}", receiver.events());
    let raw = data(&messages[0]);
    assert!(raw.starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256;"));
    assert!(String::from_utf8_lossy(&raw).contains("\r\nSubject: survivor\r\n"));
    std::thread::sleep(SETTLE);
    assert_eq!(count(&receiver.events(), "message"), 1, "{:?}", receiver.events());
    assert_eq!(queue(&server, true)["messages"], 0);
    // The Sent copy survived the crash too, once.
    assert_eq!(fetch_all(&server, &sender, "Sent").len(), 1);
}

#[test]
fn over_the_send_rate_a_submission_gets_451_and_nothing_is_stored() {
    let receiver = Receiver::start(&[]);
    let (server, sender) = start(&receiver, "send_rate_per_minute = 1\ndkim_algorithm = \"ed25519\"\n");
    assert!(submit(&server, &sender, &["a@remote.example"], "first").accepted());
    let second = submit(&server, &sender, &["a@remote.example"], "second");
    let (code, reply) = second.data.clone().expect("DATA was reached");
    assert_eq!(code, 451, "{second:?}");
    assert!(reply.starts_with("4.7.1 "), "{second:?}");
    assert_eq!(receiver.wait_messages(1, WAIT).len(), 1);
    std::thread::sleep(Duration::from_millis(1500));
    let events = receiver.events();
    assert_eq!(count(&events, "message"), 1, "{events:?}");
    assert!(String::from_utf8_lossy(&data(&receiver.of("message")[0])).contains("Subject: first\r\n"));
    let sent = fetch_all(&server, &sender, "Sent");
    assert_eq!(sent.len(), 1, "no Sent copy for the refused one");
}

#[test]
fn local_and_remote_recipients_in_one_submission() {
    let receiver = Receiver::start(&[]);
    let (server, sender) = start(&receiver, "dkim_algorithm = \"ed25519\"\n");
    let friend = common::provision(&server, "friend");
    let sent = submit(
        &server,
        &sender,
        &[&friend.email, "someone@remote.example", "other@elsewhere.example"],
        "mixed",
    );
    assert!(sent.rcpt.iter().all(|(c, _)| *c == 250), "{sent:?}");
    assert!(sent.accepted(), "{sent:?}");

    let theirs = fetch_all(&server, &friend, "INBOX");
    assert_eq!(theirs.len(), 1, "the local recipient has it at once");
    assert!(text_of(&theirs[0]).contains("Subject: mixed\r\n"));
    let messages = receiver.wait_messages(2, WAIT);
    assert_eq!(messages.len(), 2, "one transaction per domain: {:?}", receiver.events());
    let mut rcpts: Vec<String> = messages
        .iter()
        .flat_map(|m| m["rcpts"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        ["other@elsewhere.example", "someone@remote.example"],
        "the local recipient is not relayed"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(&receiver.events(), "message"), 2);
    let copies = fetch_all(&server, &sender, "Sent");
    assert_eq!(copies.len(), 1, "one Sent copy");
    assert!(text_of(&copies[0]).contains("Subject: mixed\r\n"));
    assert!(fetch_all(&server, &sender, "INBOX").is_empty(), "no bounce");
    assert_eq!(fetch_all(&server, &friend, "INBOX").len(), 1, "delivered locally once");
}

#[test]
fn invalid_recipient_domains_are_refused_at_rcpt_and_the_valid_recipient_still_gets_it() {
    let receiver = Receiver::start(&[]);
    let (server, sender) = start(&receiver, "dkim_algorithm = \"ed25519\"\n");
    let sent = submit(
        &server,
        &sender,
        &["x@-bad-.example", "someone@remote.example", "x@no_such"],
        "nowhere",
    );
    // A domain that cannot be one is refused at RCPT; the valid recipient goes on.
    let refused = (
        553,
        "5.1.2 The recipient's domain is not a valid domain name".to_string(),
    );
    assert_eq!(
        sent.rcpt,
        vec![refused.clone(), (250, "2.1.5 Recipient OK".to_string()), refused],
        "{sent:?}"
    );
    assert!(sent.accepted(), "{sent:?}");
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["rcpts"], serde_json::json!(["someone@remote.example"]));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(&receiver.events(), "message"), 1);
    assert_eq!(count(&receiver.events(), "connect"), 1);
    assert!(fetch_all(&server, &sender, "INBOX").is_empty(), "nothing to bounce");
    assert_eq!(queue(&server, true)["messages"], 0);
}

#[test]
fn a_receiver_dropping_mid_data_gets_it_again_once() {
    let receiver = Receiver::start(&["--plan", "drop"]);
    let (server, sender) = start(&receiver, "dkim_algorithm = \"ed25519\"\n");
    assert!(submit(&server, &sender, &["someone@remote.example"], "dropped").accepted());
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "events: {:?}", receiver.events());
    std::thread::sleep(SETTLE);
    let events = receiver.events();
    assert_eq!(count(&events, "dropped"), 1, "{events:?}");
    assert_eq!(count(&events, "message"), 1, "{events:?}");
    assert!(String::from_utf8_lossy(&data(&messages[0])).contains("\r\n.a line with a leading dot\r\n"));
    assert_eq!(queue(&server, true)["messages"], 0);
    assert!(fetch_all(&server, &sender, "INBOX").is_empty(), "no bounce");
}

#[test]
fn a_large_8bit_message_arrives_byte_for_byte() {
    let receiver = Receiver::start(&[]);
    let (server, sender) = start(&receiver, "dkim_algorithm = \"ed25519\"\n");
    // About 1 MiB: UTF-8 text and many lines that start with a dot, so stuffed
    // dots fall on the 64 KiB boundaries of the pieces DATA is written in.
    let mut raw = format!(
        "From: Agent <{}>\r\nTo: someone@remote.example\r\nSubject: big\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <big@example.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n",
        sender.email
    )
    .into_bytes();
    let mut n = 0;
    while raw.len() < 1024 * 1024 {
        let line = match n % 3 {
            0 => format!(".{n}\r\n"),
            1 => format!("Grüße, {n} ünd ..\r\n"),
            _ => "..\r\n".to_string(),
        };
        raw.extend_from_slice(line.as_bytes());
        n += 1;
    }
    let sent = submit_raw(&server, &sender, &["someone@remote.example"], &raw, "BODY=8BITMIME");
    assert!(sent.accepted(), "{sent:?}");
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "events: {:?}", receiver.events());
    let got = data(&messages[0]);
    let (_, rest) = first_field(&got);
    let (_, rest) = first_field(rest);
    assert!(
        rest == &raw[..],
        "the message arrived changed ({} bytes, sent {})",
        rest.len(),
        raw.len()
    );
    let (_, zone, _) = cli(&server, &["dkim-record", "example.test"], true);
    assert_eq!(
        block_on(verify_dkim(&got, &txt_value(&zone))),
        [mail_auth::DkimResult::Pass]
    );
}

#[test]
fn date_and_message_id_added_at_submission_are_relayed_and_signed() {
    let receiver = Receiver::start(&[]);
    let (server, sender) = start(&receiver, "dkim_algorithm = \"ed25519\"\n");
    let raw = format!(
        "From: {}\r\nTo: someone@remote.example\r\nSubject: bare\r\n\r\nno Date, no Message-ID\r\n",
        sender.email
    );
    assert!(submit_raw(&server, &sender, &["someone@remote.example"], raw.as_bytes(), "").accepted());
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1);
    let got = data(&messages[0]);
    let text = String::from_utf8_lossy(&got).into_owned();
    let id = text
        .split("\r\nMessage-ID: ")
        .nth(1)
        .and_then(|rest| rest.split("\r\n").next())
        .unwrap_or_else(|| panic!("no Message-ID added: {text}"));
    assert!(id.starts_with('<') && id.ends_with("@mail.example.test>"), "{id}");
    assert!(text.contains("\r\nDate: "), "{text}");
    let (_, zone, _) = cli(&server, &["dkim-record", "example.test"], true);
    assert_eq!(
        block_on(verify_dkim(&got, &txt_value(&zone))),
        [mail_auth::DkimResult::Pass]
    );
    // The Sent copy carries the same Message-ID (Thunderbird's own APPEND matches it).
    let copies = fetch_all(&server, &sender, "Sent");
    assert_eq!(copies.len(), 1);
    assert!(text_of(&copies[0]).contains(&format!("\r\nMessage-ID: {id}\r\n")));
}

#[test]
fn an_smtputf8_recipient_is_relayed_and_named_in_its_bounce() {
    let receiver = Receiver::start(&["--plan", "ok,550"]);
    let (server, sender) = start(&receiver, "dkim_algorithm = \"ed25519\"\n");
    let rcpt = "dörte@remote.example";
    let raw = message(&sender.email, "Dörte <dörte@remote.example>", "utf8");
    let sent = submit_raw(&server, &sender, &[rcpt], &raw, "SMTPUTF8");
    assert!(sent.accepted(), "{sent:?}");
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "events: {:?}", receiver.events());
    assert_eq!(messages[0]["rcpts"], serde_json::json!([rcpt]));
    // The second one is refused: the bounce must say who it was for.
    assert!(submit_raw(&server, &sender, &[rcpt], &raw, "SMTPUTF8").accepted());
    let inbox = wait_mailbox(&server, &sender, "INBOX", 1);
    assert_eq!(inbox.len(), 1, "one bounce");
    let dsn = text_of(&inbox[0]);
    assert!(dsn.contains(&format!("<{rcpt}>: 550 5.7.1 relaying denied")), "{dsn}");
    // RFC 6533: the report type and address type for an internationalized address.
    assert!(
        dsn.contains("Content-Type: message/global-delivery-status\r\n"),
        "{dsn}"
    );
    assert!(
        dsn.contains(&format!(
            "Final-Recipient: utf-8; {rcpt}\r\nAction: failed\r\nStatus: 5.7.1\r\n"
        )),
        "{dsn}"
    );
    assert!(dsn.contains("Content-Type: message/global-headers\r\n"), "{dsn}");
    assert!(dsn.contains("\r\nTo: Dörte <dörte@remote.example>\r\n"), "{dsn}");
}

#[test]
fn a_quoted_local_part_is_relayed_still_quoted() {
    let receiver = Receiver::start(&[]);
    let (server, sender) = start(&receiver, "dkim_algorithm = \"ed25519\"\n");
    // RFC 5321 4.1.2: a local part that is no dot-string travels quoted; unquoted,
    // `john doe@` is a syntax error and `a> NOTIFY=NEVER@` smuggles a parameter.
    let rcpts = [r#""john doe"@remote.example"#, r#""a> NOTIFY=NEVER"@remote.example"#];
    let sent = submit(&server, &sender, &rcpts, "quoted");
    assert!(sent.rcpt.iter().all(|(c, _)| *c == 250), "{sent:?}");
    assert!(sent.accepted(), "{sent:?}");
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "events: {:?}", receiver.events());
    assert_eq!(messages[0]["rcpts"], serde_json::json!(rcpts));
}

/// An agent's HTML mail on one 5,000-octet line, to a local and a remote
/// recipient, with a receiver that refuses lines over 998 octets (as Exim 4.95+
/// does): stored here byte for byte, relayed quoted-printable, signed so that
/// dkimpy (and mail-auth) verify it.
#[test]
fn a_long_html_line_is_stored_as_sent_and_relayed_quoted_printable_and_signed() {
    let receiver = Receiver::start(&["--max-line", "998"]);
    let (server, sender) = start(&receiver, "");
    let friend = common::provision(&server, "friend");
    let cells = "<td class=\"c\">42</td>".repeat(235);
    let html = format!(
        "<html><body><table><tr>{cells}</tr></table><!--{}--></body></html>",
        "x".repeat(8)
    );
    assert_eq!(html.len(), 5_000);
    let header = format!(
        "From: Agent <{}>\r\nTo: {}, someone@remote.example\r\nSubject: report\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <report@example.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n",
        sender.email, friend.email
    );
    let raw = format!("{header}\r\n{html}\r\n.a dot line\r\n");
    let sent = submit_raw(
        &server,
        &sender,
        &[&friend.email, "someone@remote.example"],
        raw.as_bytes(),
        "",
    );
    assert!(sent.accepted(), "{sent:?}");

    // Here: byte for byte, for the recipient and in the sender's Sent copy.
    let theirs = fetch_all(&server, &friend, "INBOX");
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].without_received(), raw.as_bytes());
    let copies = fetch_all(&server, &sender, "Sent");
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].raw, theirs[0].raw);

    // Relayed: taken by the 998-octet receiver, re-encoded, the content the same.
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "events: {:?}", receiver.events());
    let got = data(&messages[0]);
    let longest = |bytes: &[u8]| bytes.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap_or(0);
    assert!(longest(&got) <= 1000, "a line of {} octets", longest(&got));
    let (signature, rest) = first_field(&got);
    assert!(
        signature.starts_with("DKIM-Signature: v=1; a=rsa-sha256;"),
        "{signature}"
    );
    let (_, rest) = first_field(rest);
    let text = String::from_utf8_lossy(rest).into_owned();
    let expected_header = format!("{header}Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    assert!(text.starts_with(&expected_header), "{text}");
    // RFC 2045 6.7: quoted-printable lines of at most 76 characters.
    assert!(longest(&rest[expected_header.len()..]) <= 78, "{text}");
    assert!(text.contains("<td class=3D\"c\">42</td>"), "{text}");
    let parsed = mail_parser::MessageParser::default().parse(&got).expect("parses");
    assert_eq!(
        parsed.body_html(0).as_deref(),
        Some(format!("{html}\r\n.a dot line\r\n").as_str())
    );

    let (ok, zone, err) = cli(&server, &["dkim-record", "example.test"], true);
    assert!(ok, "dkim-record failed: {err}");
    let value = txt_value(&zone);
    let (verified, said) = outbound_support::verify_dkim_with_dkimpy(&got, &value);
    assert!(verified, "dkimpy: {said}");
    assert!(said.ends_with("mailroom._domainkey.example.test."), "{said}");
    assert_eq!(block_on(verify_dkim(&got, &value)), [mail_auth::DkimResult::Pass]);
    // The check has teeth: one changed byte in the re-encoded body fails.
    let tampered = String::from_utf8_lossy(&got)
        .replacen("42</td>", "43</td>", 1)
        .into_bytes();
    assert!(!outbound_support::verify_dkim_with_dkimpy(&tampered, &value).0);
}
