//! Outbound delivery against a real receiving SMTP server on loopback
//! (outbound_support/receiver.py), entered through the submission seam
//! `delivery::queue_remote` until SMTP submission lands. Most tests run the server
//! in-process (mailroom::start) to reach the seam; the crash test runs the binary.

mod common;
mod outbound_support;

use mailroom::auth::keys;
use mailroom::config::Config;
use mailroom::delivery::{QueueError, RemoteMessage, queue_remote};
use mailroom::server::{Context, ListenerKind};
use mailroom::store::{CreateInbox, Inbox, InboxCreated, KeyKind, Role, Store};
use outbound_support::{Receiver, count, data, txt_value, verify_dkim};
use std::path::PathBuf;
use std::time::Duration;

const ADMIN: &str = "sa_test_admin_token_0123456789abcdef";
const WAIT: Duration = Duration::from_secs(20);

/// An in-process server with one inbox (agent@example.test) that sends.
struct Harness {
    server: Option<mailroom::RunningServer>,
    dir: PathBuf,
    inbox: Inbox,
}

impl Harness {
    async fn start(delivery: &str) -> Harness {
        let dir = std::env::temp_dir().join(format!("mailroom-outbound-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let text = format!(
            r#"hostname = "mail.example.test"
domains = ["example.test"]
data_dir = "{d}/data"
admin_token = "{ADMIN}"
[tls]
cert = "{d}/cert.pem"
key = "{d}/key.pem"
[smtp]
mx = ["127.0.0.1:0"]
submission = ["127.0.0.1:0"]
submissions = ["127.0.0.1:0"]
[imap]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
[api]
listen = ["127.0.0.1:0"]
[auth]
argon2_memory_kib = 1024
argon2_iterations = 1
[delivery]
{delivery}
"#
        );
        let path = dir.join("mailroom.toml");
        std::fs::write(&path, &text).unwrap();
        let config = Config::load(Some(&path)).expect("config");
        let server = mailroom::start(config).await.expect("start");
        let inbox = make_inbox(&server.context.store, "agent");
        Harness {
            server: Some(server),
            dir,
            inbox,
        }
    }

    fn ctx(&self) -> &Context {
        &self.server.as_ref().expect("running").context
    }

    async fn send(&self, recipients: &[&str], subject: &str) -> Result<(), QueueError> {
        let raw = message(subject, recipients);
        let recipients: Vec<String> = recipients.iter().map(|r| r.to_string()).collect();
        queue_remote(
            self.ctx(),
            RemoteMessage {
                sender: self.inbox.id,
                mail_from: "agent@example.test",
                recipients: &recipients,
                raw: &raw,
            },
        )
        .await
    }

    /// Raw messages in the sender's INBOX (bounces land there).
    fn inbox_messages(&self) -> Vec<String> {
        inbox_messages(&self.ctx().store, self.inbox.id)
    }

    async fn wait_inbox(&self, n: usize) -> Vec<String> {
        for _ in 0..(WAIT.as_millis() / 50) {
            let found = self.inbox_messages();
            if found.len() >= n {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.inbox_messages()
    }

    fn queue_len(&self) -> (usize, usize) {
        self.ctx().store.queue_len()
    }

    async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("shutdown");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn make_inbox(store: &Store, username: &str) -> Inbox {
    let (tenant, _) = store
        .create_tenant("t", None, &keys::generate(KeyKind::Tenant, None).1)
        .unwrap();
    let workspace = store.default_workspace(tenant.id).unwrap().unwrap();
    let request = CreateInbox {
        tenant_id: tenant.id,
        workspace_id: workspace.id,
        username: username.into(),
        domain: "example.test".into(),
        display_name: None,
        password_hash: "unused".into(),
        key: keys::generate(KeyKind::Inbox, None).1,
        fallback: false,
        generated: false,
        confined: false,
    };
    match store.create_inbox(&request).unwrap() {
        InboxCreated::Created { inbox, .. } => inbox,
        other => panic!("inbox not created: {other:?}"),
    }
}

fn inbox_messages(store: &Store, inbox: uuid::Uuid) -> Vec<String> {
    let mailbox = store.mailbox_by_role(inbox, Role::Inbox).unwrap().unwrap();
    store
        .messages(inbox, mailbox.id)
        .unwrap()
        .iter()
        .map(|m| String::from_utf8_lossy(&store.raw_message(&m.blob).unwrap().unwrap()).into_owned())
        .collect()
}

fn message(subject: &str, to: &[&str]) -> Vec<u8> {
    format!(
        "From: Agent <agent@example.test>\r\nTo: {}\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{}@example.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello from the queue.\r\n.a line with a leading dot\r\n",
        to.join(", "),
        uuid::Uuid::new_v4().simple()
    )
    .into_bytes()
}

/// Fast retries for tests, a relay at `receiver`, and ed25519 keys unless asked.
fn relay_config(receiver: &Receiver, extra: &str) -> String {
    let mut text = format!(
        "relay = \"{}\"\nretry_schedule_secs = [1]\ncommand_timeout_secs = 5\nconnect_timeout_secs = 2\n",
        receiver.addr()
    );
    if !extra.contains("dkim_algorithm") {
        text.push_str("dkim_algorithm = \"ed25519\"\n");
    }
    text + extra
}

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailroom"))
        .args(args)
        .env_remove("MAILROOM_CONFIG")
        .env_remove("MAILROOM_DATA_DIR")
        .env_remove("MAILROOM_ADMIN_TOKEN")
        .output()
        .expect("run mailroom");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_mail_carries_a_dkim_signature_that_verifies_against_the_printed_record() {
    let receiver = Receiver::start(&[]);
    // The default algorithm: RSA-2048.
    let h = Harness::start(&relay_config(&receiver, "dkim_algorithm = \"rsa\"\n")).await;
    h.send(&["someone@remote.example"], "signed").await.unwrap();
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "events: {:?}", receiver.events());
    assert_eq!(messages[0]["mail_from"], "agent@example.test");
    assert_eq!(messages[0]["rcpts"], serde_json::json!(["someone@remote.example"]));
    let raw = data(&messages[0]);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("DKIM-Signature: v=1; a=rsa-sha256;"), "{text}");
    assert!(
        text.contains("\r\n.a line with a leading dot\r\n"),
        "dot-stuffing undone by the receiver"
    );

    // The record as the operator gets it: the CLI asks the running server.
    let api = h.ctx().config.api.listen.clone();
    assert_eq!(api, ["127.0.0.1:0"]);
    let server = format!(
        "http://{}",
        h.server.as_ref().unwrap().address(ListenerKind::Api).unwrap()
    );
    let config = h.dir.join("mailroom.toml");
    let (ok, zone, err) = cli(&[
        "dkim-record",
        "example.test",
        "--config",
        config.to_str().unwrap(),
        "--server",
        &server,
    ]);
    assert!(ok, "dkim-record failed: {err}");
    assert!(
        zone.starts_with("mailroom._domainkey.example.test. IN TXT ( \"v=DKIM1; k=rsa; p="),
        "{zone}"
    );
    let value = txt_value(&zone);
    assert_eq!(verify_dkim(&raw, &value).await, [mail_auth::DkimResult::Pass]);

    // The verifier does check: a changed subject fails.
    let tampered = text.replace("Subject: signed", "Subject: changed").into_bytes();
    let verdict = verify_dkim(&tampered, &value).await;
    assert!(
        matches!(verdict.as_slice(), [mail_auth::DkimResult::Fail(_)]),
        "{verdict:?}"
    );

    let (ok, _, err) = cli(&[
        "dkim-record",
        "other.example",
        "--config",
        config.to_str().unwrap(),
        "--server",
        &server,
    ]);
    assert!(
        !ok && err.contains("not found"),
        "a foreign domain has no record: {err}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_signatures_verify_too() {
    let receiver = Receiver::start(&[]);
    let h = Harness::start(&relay_config(&receiver, "")).await;
    h.send(&["someone@remote.example"], "ed25519").await.unwrap();
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1);
    let raw = data(&messages[0]);
    assert!(raw.starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256;"));
    let record = mailroom::delivery::outbound::admin::dkim_report(&h.ctx().store, &h.ctx().config, "example.test")
        .await
        .unwrap()
        .unwrap();
    assert!(record["value"].as_str().unwrap().starts_with("v=DKIM1; k=ed25519; p="));
    let verdict = verify_dkim(&raw, &txt_value(record["zone"].as_str().unwrap())).await;
    assert_eq!(verdict, [mail_auth::DkimResult::Pass]);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_temporary_failures_then_delivered_exactly_once() {
    let receiver = Receiver::start(&["--plan", "451,451,451"]);
    let h = Harness::start(&relay_config(&receiver, "")).await;
    h.send(&["someone@remote.example"], "persistent").await.unwrap();
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "events: {:?}", receiver.events());
    // Nothing more comes: the delivery was recorded.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let events = receiver.events();
    assert_eq!(count(&events, "deferred"), 3);
    assert_eq!(count(&events, "message"), 1, "{events:?}");
    assert_eq!(h.queue_len(), (0, 0));
    assert!(h.inbox_messages().is_empty(), "no bounce for a delivered message");
    let metrics = h.ctx().metrics.render();
    assert!(
        metrics.contains("mailroom_outbound_attempts_total{result=\"deferred\"} 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mailroom_outbound_recipients_total{result=\"delivered\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("mailroom_outbound_queue_messages 0\n"), "{metrics}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_bounces_a_dsn_into_the_senders_inbox() {
    let receiver = Receiver::start(&["--plan", "550"]);
    let h = Harness::start(&relay_config(&receiver, "")).await;
    h.send(&["someone@remote.example"], "doomed").await.unwrap();
    let inbox = h.wait_inbox(1).await;
    assert_eq!(inbox.len(), 1, "one bounce");
    let dsn = &inbox[0];
    assert!(
        dsn.contains("Content-Type: multipart/report; report-type=delivery-status;"),
        "{dsn}"
    );
    assert!(dsn.contains("To: <agent@example.test>"), "{dsn}");
    assert!(dsn.contains("Content-Type: message/delivery-status\r\n"), "{dsn}");
    assert!(
        dsn.contains("Final-Recipient: rfc822; someone@remote.example\r\nAction: failed\r\nStatus: 5.7.1\r\n"),
        "{dsn}"
    );
    assert!(
        dsn.contains("Diagnostic-Code: smtp; 550 5.7.1 relaying denied"),
        "{dsn}"
    );
    let (_, quoted) = dsn
        .split_once("Content-Type: text/rfc822-headers\r\n\r\n")
        .expect("headers part");
    assert!(
        quoted.starts_with("DKIM-Signature: "),
        "the header as it was sent: {quoted}"
    );
    assert!(quoted.contains("\r\nFrom: Agent <agent@example.test>\r\n"), "{quoted}");
    assert!(quoted.contains("\r\nSubject: doomed\r\n"), "{quoted}");
    assert!(!dsn.contains("Hello from the queue"), "only the header is returned");
    assert_eq!(h.queue_len(), (0, 0));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(h.inbox_messages().len(), 1, "one bounce, once");
    assert_eq!(count(&receiver.events(), "message"), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_data_is_retried_and_delivered_once() {
    let receiver = Receiver::start(&["--plan", "drop"]);
    let h = Harness::start(&relay_config(&receiver, "")).await;
    h.send(&["someone@remote.example"], "dropped").await.unwrap();
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "events: {:?}", receiver.events());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let events = receiver.events();
    assert_eq!(count(&events, "dropped"), 1);
    assert_eq!(count(&events, "message"), 1);
    assert_eq!(h.queue_len(), (0, 0));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_bounces_alone_while_the_others_are_delivered() {
    let receiver = Receiver::start(&["--reject", "gone@remote.example"]);
    let h = Harness::start(&relay_config(&receiver, "")).await;
    h.send(
        &["ok@remote.example", "gone@remote.example", "also@other.example"],
        "mixed",
    )
    .await
    .unwrap();
    let messages = receiver.wait_messages(2, WAIT);
    assert_eq!(messages.len(), 2, "one transaction per domain: {:?}", receiver.events());
    let mut rcpts: Vec<String> = messages
        .iter()
        .flat_map(|m| m["rcpts"].as_array().unwrap().clone())
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    rcpts.sort();
    assert_eq!(rcpts, ["also@other.example", "ok@remote.example"]);
    let inbox = h.wait_inbox(1).await;
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].contains("Final-Recipient: rfc822; gone@remote.example\r\nAction: failed\r\nStatus: 5.1.1"));
    assert!(!inbox[0].contains("Final-Recipient: rfc822; ok@"), "{}", inbox[0]);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_domain_bounces_without_a_connection() {
    let receiver = Receiver::start(&[]);
    let h = Harness::start(&relay_config(&receiver, "")).await;
    h.send(&["someone@not_a_domain", "x@-bad.example"], "nowhere")
        .await
        .unwrap();
    let inbox = h.wait_inbox(2).await;
    assert_eq!(inbox.len(), 2, "one bounce per destination");
    assert!(inbox.iter().all(|m| m.contains("Status: 5.1.2")));
    assert_eq!(count(&receiver.events(), "connect"), 0);
    assert_eq!(h.queue_len(), (0, 0));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_relay_is_retried_then_bounced_when_the_message_expires() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = format!(
        "relay = \"{closed}\"\nretry_schedule_secs = [1]\nmax_lifetime_secs = 3\nconnect_timeout_secs = 1\ndkim_algorithm = \"ed25519\"\n"
    );
    let h = Harness::start(&text).await;
    h.send(&["someone@remote.example"], "unreachable").await.unwrap();
    // Waiting, with the reason shown to the operator (over the API, as the CLI does).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let server = format!(
        "http://{}",
        h.server.as_ref().unwrap().address(ListenerKind::Api).unwrap()
    );
    let config = h.dir.join("mailroom.toml");
    let (ok, table, err) = cli(&[
        "queue",
        "list",
        "--config",
        config.to_str().unwrap(),
        "--server",
        &server,
    ]);
    assert!(ok, "{err}");
    assert!(table.starts_with("1 message(s) queued\n"), "{table}");
    assert!(
        table.contains("remote.example") && table.contains(&closed.to_string()),
        "{table}"
    );
    let inbox = h.wait_inbox(1).await;
    assert_eq!(inbox.len(), 1, "bounced at expiry");
    assert!(inbox[0].contains("Status: 4.4.7"), "{}", inbox[0]);
    assert!(inbox[0].contains("last error:"), "{}", inbox[0]);
    assert_eq!(h.queue_len(), (0, 0));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_auth_are_used_with_the_relay() {
    // The receiver borrows the dev certificate the server generates at start.
    let h0 = Harness::start("dkim_algorithm = \"ed25519\"\n").await;
    let (cert, key) = (h0.dir.join("cert.pem"), h0.dir.join("key.pem"));
    let receiver = Receiver::start(&[
        "--tls",
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        "--auth",
        "relayuser:relay-secret",
    ]);
    let extra = "relay_username = \"relayuser\"\nrelay_password = \"relay-secret\"\nrelay_tls_verify = false\n";
    let h = Harness::start(&relay_config(&receiver, extra)).await;
    h.send(&["someone@remote.example"], "private").await.unwrap();
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "events: {:?}", receiver.events());
    assert_eq!(messages[0]["tls"], true, "STARTTLS was used");
    assert_eq!(messages[0]["auth"], "relayuser");
    h.stop().await;
    h0.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_relay_with_a_self_signed_certificate_is_not_trusted() {
    let h0 = Harness::start("dkim_algorithm = \"ed25519\"\n").await;
    let (cert, key) = (h0.dir.join("cert.pem"), h0.dir.join("key.pem"));
    let receiver = Receiver::start(&["--tls", cert.to_str().unwrap(), key.to_str().unwrap()]);
    let h = Harness::start(&relay_config(&receiver, "")).await;
    h.send(&["someone@remote.example"], "verified").await.unwrap();
    let refused = receiver.wait(WAIT, |e| count(e, "connect") >= 2);
    assert!(refused, "retried: {:?}", receiver.events());
    assert_eq!(
        count(&receiver.events(), "message"),
        0,
        "never sent over an unverified channel"
    );
    let report = mailroom::delivery::outbound::admin::queue_report(&h.ctx().store).unwrap();
    let error = report["entries"][0]["lastError"].as_str().unwrap_or("").to_string();
    assert!(error.contains("TLS handshake"), "{report}");
    h.stop().await;
    h0.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_rate_and_the_switch_are_enforced_at_submission() {
    let receiver = Receiver::start(&[]);
    let h = Harness::start(&relay_config(&receiver, "send_rate_per_minute = 2\n")).await;
    h.send(&["a@remote.example"], "1").await.unwrap();
    h.send(&["a@remote.example"], "2").await.unwrap();
    assert!(matches!(
        h.send(&["a@remote.example"], "3").await,
        Err(QueueError::RateLimited)
    ));
    assert_eq!(receiver.wait_messages(2, WAIT).len(), 2);
    h.stop().await;

    let off = Harness::start("enabled = false\n").await;
    assert!(matches!(
        off.send(&["a@remote.example"], "x").await,
        Err(QueueError::Unavailable)
    ));
    assert_eq!(off.queue_len(), (0, 0));
    off.stop().await;
}

/// kill -9 with mail queued: after the restart it is delivered, exactly once.
#[test]
fn mail_queued_before_a_crash_is_delivered_once_after_restart() {
    let receiver = Receiver::start(&["--plan", "451"]);
    let extra = format!(
        "[delivery]\nrelay = \"{}\"\nretry_schedule_secs = [2]\ndkim_algorithm = \"ed25519\"\n",
        receiver.addr()
    );
    let mut server = common::TestServer::start_with(&extra);
    let inbox = common::provision(&server, "crasher");
    assert_eq!(server.stop(), Some(0));

    // Queue a message into the stopped server's store, as submission would.
    let config = Config::load(Some(&server.dir.join("mailroom.toml"))).unwrap();
    let (ok, table, err) = cli(&[
        "queue",
        "list",
        "--config",
        server.dir.join("mailroom.toml").to_str().unwrap(),
    ]);
    assert!(ok && table.starts_with("0 message(s) queued"), "{table} {err}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Store::open(&config.data_dir, 4).unwrap();
        let raw = message("survivor", &["someone@remote.example"]);
        let recipients = vec!["someone@remote.example".to_string()];
        let remote = RemoteMessage {
            sender: inbox.id.parse().unwrap(),
            mail_from: &inbox.email,
            recipients: &recipients,
            raw: &raw,
        };
        let signers = mailroom::delivery::outbound::dkim::Signers::default();
        mailroom::delivery::outbound::enqueue(&store, &config, &signers, &remote)
            .await
            .unwrap();
    });
    drop(runtime);
    // With the server stopped, the CLI reads the store itself.
    let (ok, table, err) = cli(&[
        "queue",
        "list",
        "--config",
        server.dir.join("mailroom.toml").to_str().unwrap(),
    ]);
    assert!(ok && table.starts_with("1 message(s) queued"), "{table} {err}");

    server.start_again();
    assert!(receiver.wait(WAIT, |e| count(e, "deferred") >= 1), "first attempt");
    server.kill9();
    server.start_again();
    let messages = receiver.wait_messages(1, WAIT);
    assert_eq!(messages.len(), 1, "delivered after the crash: {:?}", receiver.events());
    assert!(data(&messages[0]).starts_with(b"DKIM-Signature:"));
    // A second crash after delivery does not send it again.
    std::thread::sleep(Duration::from_millis(500));
    server.kill9();
    server.start_again();
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(count(&receiver.events(), "message"), 1, "{:?}", receiver.events());
    assert_eq!(count(&receiver.events(), "deferred"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mx_records_are_resolved_and_followed() {
    use outbound_support::dns::{FakeDns, Zone};
    let receiver = Receiver::start(&[]);
    let dns = FakeDns::start(vec![
        // The lower preference is tried first; its host does not exist.
        (
            "mx.example.",
            Zone::Mx(vec![(20, "mx1.mx.example."), (10, "missing.mx.example.")]),
        ),
        ("mx1.mx.example.", Zone::A(std::net::Ipv4Addr::LOCALHOST)),
        // No MX: the domain itself is the host (RFC 5321 5.1).
        ("implicit.example.", Zone::A(std::net::Ipv4Addr::LOCALHOST)),
        // RFC 7505 null MX.
        ("nullmx.example.", Zone::Mx(vec![(0, ".")])),
    ]);
    let text = format!(
        "dns_servers = [\"{}\"]\nmx_port = {}\nallow_private_mx = true\nretry_schedule_secs = [1]\ndkim_algorithm = \"ed25519\"\n",
        dns.addr, receiver.port
    );
    let h = Harness::start(&text).await;
    h.send(&["a@mx.example", "b@implicit.example"], "via mx").await.unwrap();
    let messages = receiver.wait_messages(2, WAIT);
    assert_eq!(messages.len(), 2, "events: {:?}", receiver.events());
    h.send(&["c@nullmx.example", "d@nx.example"], "nowhere").await.unwrap();
    let inbox = h.wait_inbox(2).await;
    assert_eq!(inbox.len(), 2);
    let all = inbox.join("\n");
    assert!(
        all.contains("Final-Recipient: rfc822; c@nullmx.example\r\nAction: failed\r\nStatus: 5.1.10"),
        "{all}"
    );
    assert!(
        all.contains("Final-Recipient: rfc822; d@nx.example\r\nAction: failed\r\nStatus: 5.1.2"),
        "{all}"
    );
    assert_eq!(count(&receiver.events(), "message"), 2);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_to_one_domain_run_in_parallel_up_to_the_limit() {
    let receiver = Receiver::start(&["--hold", "0.4"]);
    let h = Harness::start(&relay_config(&receiver, "per_domain_concurrency = 2\n")).await;
    for n in 0..6 {
        h.send(&["someone@remote.example"], &format!("parallel {n}"))
            .await
            .unwrap();
    }
    h.send(&["other@elsewhere.example"], "another domain").await.unwrap();
    assert_eq!(receiver.wait_messages(7, WAIT).len(), 7);
    let most = receiver
        .of("connect")
        .iter()
        .filter_map(|e| e["open"].as_u64())
        .max()
        .unwrap_or(0);
    // Two for remote.example at most, plus the one for elsewhere.example.
    assert!((2..=3).contains(&most), "at most {most} sessions were open at once");
    h.stop().await;
}
