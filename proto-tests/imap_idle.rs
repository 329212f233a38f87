//! IDLE with a real Rust IMAP client (async-imap): an APPEND from another
//! connection reaches the idling session at once; DONE ends IDLE cleanly.

mod common;
mod imap_support;

use imap_support::{Imap, tls_client_config};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

async fn connect(t: &Imap) -> async_imap::Session<Tls> {
    let tcp = TcpStream::connect(t.server.addr("imaps")).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("mail.example.test").expect("name");
    let tls = TlsConnector::from(tls_client_config())
        .connect(name, tcp)
        .await
        .expect("tls");
    let mut client = async_imap::Client::new(tls);
    let greeting = client.read_response().await.expect("greeting");
    assert!(greeting.is_some());
    client
        .login(&t.inbox.email, &t.inbox.password)
        .await
        .map_err(|(e, _)| e)
        .expect("login")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sees_append_from_another_connection() {
    let t = Imap::start();
    let mut watcher = connect(&t).await;
    let mailbox = watcher.select("INBOX").await.expect("select");
    assert_eq!(mailbox.exists, 0);
    let mut idle = watcher.idle();
    idle.init().await.expect("idle");

    let mut actor = connect(&t).await;
    let mut latencies = Vec::new();
    for round in 0..3u32 {
        let started = Instant::now();
        let append = async {
            let msg = format!("Subject: round {round}\r\n\r\nhello\r\n");
            actor.append("INBOX", None, None, msg.as_bytes()).await.expect("append");
            Instant::now()
        };
        let watch = async {
            // Wait for exactly `* n EXISTS` of this round (RECENT may come too).
            loop {
                let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(10));
                match wait.await.expect("idle wait") {
                    async_imap::extensions::idle::IdleResponse::NewData(data) => {
                        let text = format!("{:?}", data.parsed());
                        if text.contains(&format!("Exists({})", round + 1)) {
                            return Instant::now();
                        }
                    }
                    other => panic!("no EXISTS during IDLE: {other:?}"),
                }
            }
        };
        let (seen_at, appended) = tokio::join!(watch, append);
        let from_start = seen_at - started;
        println!(
            "IDLE round {round}: EXISTS {:?} after the APPEND was sent; APPEND OK after {:?}",
            from_start,
            appended - started
        );
        latencies.push(from_start);
    }
    assert!(latencies.iter().all(|l| *l < Duration::from_secs(1)), "{latencies:?}");
    let mut watcher = idle.done().await.expect("done");
    watcher.noop().await.expect("session usable after DONE");
    watcher.logout().await.expect("logout");
}

/// Sends one message to `rcpt` on the MX port; returns when the `250` after DATA came.
async fn smtp_deliver(addr: std::net::SocketAddr, rcpt: &str, subject: &str) -> Instant {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let tcp = TcpStream::connect(addr).await.expect("connect mx");
    let mut io = BufReader::new(tcp);
    let mut reply = String::new();
    // One reply per step; multi-line replies (EHLO) end with "250 ".
    async fn read_reply(io: &mut BufReader<TcpStream>, reply: &mut String) {
        loop {
            reply.clear();
            io.read_line(reply).await.expect("reply");
            if reply.len() < 4 || reply.as_bytes()[3] != b'-' {
                return;
            }
        }
    }
    read_reply(&mut io, &mut reply).await;
    assert!(reply.starts_with("220"), "{reply}");
    let message = format!("Subject: {subject}\r\nFrom: someone@example.org\r\n\r\nhello\r\n.\r\n");
    for line in [
        "EHLO client.example\r\n".to_string(),
        "MAIL FROM:<someone@example.org>\r\n".to_string(),
        format!("RCPT TO:<{rcpt}>\r\n"),
        "DATA\r\n".to_string(),
        message,
    ] {
        io.get_mut().write_all(line.as_bytes()).await.expect("send");
        read_reply(&mut io, &mut reply).await;
        assert!(
            reply.starts_with('2') || reply.starts_with("354"),
            "{line:?} -> {reply}"
        );
    }
    let accepted = Instant::now();
    io.get_mut().write_all(b"QUIT\r\n").await.ok();
    accepted
}

// The path: mail delivered by SMTP reaches an idling IMAP session through the
// change feed. The latency is printed here and measured by bench_imap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sees_mail_delivered_by_smtp() {
    let t = Imap::start();
    let mut watcher = connect(&t).await;
    watcher.select("INBOX").await.expect("select");
    let mut idle = watcher.idle();
    idle.init().await.expect("idle");
    let mx = t.server.addr("smtp-mx");
    for round in 0..3u32 {
        let subject = format!("smtp round {round}");
        let deliver = smtp_deliver(mx, &t.inbox.email, &subject);
        let watch = async {
            loop {
                let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(10));
                match wait.await.expect("idle wait") {
                    async_imap::extensions::idle::IdleResponse::NewData(data) => {
                        if format!("{:?}", data.parsed()).contains(&format!("Exists({})", round + 1)) {
                            return Instant::now();
                        }
                    }
                    other => panic!("no EXISTS during IDLE: {other:?}"),
                }
            }
        };
        let (seen_at, accepted) = tokio::join!(watch, deliver);
        println!(
            "IDLE round {round}: EXISTS {:?} after SMTP's 250",
            seen_at.saturating_duration_since(accepted)
        );
    }
    let mut watcher = idle.done().await.expect("done");
    let mailbox = watcher.examine("INBOX").await.expect("examine");
    assert_eq!(mailbox.exists, 3);
    watcher.logout().await.expect("logout");
}
