//! Outbound benchmark: runs the server in-process with a relay pointing at a tokio
//! SMTP sink on loopback, then prints
//! - queue_remote calls/s (DKIM-sign + durable enqueue; concurrent submitters share
//!   flushes) and the flushes they took,
//! - delivered messages/s end to end (queue -> worker -> SMTP -> sink),
//! - the DKIM signing cost per message (RSA-2048 and ed25519).
//!
//! Run: `cargo run --release --example bench_outbound`.

use mailroom::auth::keys;
use mailroom::config::Config;
use mailroom::delivery::{RemoteMessage, queue_remote};
use mailroom::store::{CreateInbox, InboxCreated, KeyKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const MESSAGES: usize = 2000;
const SUBMITTERS: usize = 50;
const DOMAINS: usize = 16;

#[tokio::main]
async fn main() {
    let delivered = Arc::new(AtomicU64::new(0));
    let sink = start_sink(delivered.clone()).await;
    for algorithm in ["ed25519", "rsa"] {
        run(algorithm, sink, delivered.clone()).await;
    }
}

async fn run(algorithm: &str, sink: std::net::SocketAddr, delivered: Arc<AtomicU64>) {
    let dir = std::env::temp_dir().join(format!("mailroom-bench-outbound-{}", uuid::Uuid::new_v4()));
    let d = dir.display();
    let text = format!(
        r#"hostname = "mail.example.test"
domains = ["example.test"]
data_dir = "{d}/data"
admin_token = "sa_bench_admin_token_0123456789abcdef"
[tls]
cert = "{d}/cert.pem"
key = "{d}/key.pem"
[smtp]
mx = []
submission = []
submissions = []
[imap]
listen = []
listen_tls = []
[api]
listen = []
[delivery]
relay = "{sink}"
send_rate_per_minute = 0
dkim_algorithm = "{algorithm}"
workers = 32
per_domain_concurrency = 4
"#
    );
    let config = Config::parse(&text, "bench").expect("config");
    config.validate().expect("valid");
    let server = mailroom::start(config).await.expect("start");
    let ctx = server.context.clone();
    let (tenant, _) = ctx
        .store
        .create_tenant("bench", None, &keys::generate(KeyKind::Tenant, None).1)
        .unwrap();
    let workspace = ctx.store.default_workspace(tenant.id).unwrap().unwrap();
    let request = CreateInbox {
        tenant_id: tenant.id,
        workspace_id: workspace.id,
        username: "bench".into(),
        domain: "example.test".into(),
        display_name: None,
        password_hash: "unused".into(),
        key: keys::generate(KeyKind::Inbox, None).1,
        fallback: false,
        generated: false,
        confined: false,
    };
    let InboxCreated::Created { inbox, .. } = ctx.store.create_inbox(&request).unwrap() else {
        panic!("inbox")
    };
    // First use makes the key; not part of the figures.
    send(&ctx, inbox.id, 0).await;
    while delivered.load(Ordering::Relaxed) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    delivered.store(0, Ordering::Relaxed);

    let flushes = ctx.store.flush_count();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..SUBMITTERS {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            for n in (s..MESSAGES).step_by(SUBMITTERS) {
                send(&ctx, inbox.id, n).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let queued_in = started.elapsed();
    let used = ctx.store.flush_count() - flushes;
    while (delivered.load(Ordering::Relaxed) as usize) < MESSAGES {
        if started.elapsed() > Duration::from_secs(300) {
            println!("gave up waiting: {} delivered", delivered.load(Ordering::Relaxed));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_in = started.elapsed();
    println!(
        "{algorithm:>8}: queue_remote {:>7.0}/s ({MESSAGES} messages, {SUBMITTERS} submitters, {used} flushes); \
         delivered end to end {:>6.0}/s ({DOMAINS} domains, 32 workers, 4 per domain)",
        MESSAGES as f64 / queued_in.as_secs_f64(),
        MESSAGES as f64 / all_in.as_secs_f64(),
    );
    sign_cost(&ctx, algorithm).await;
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

async fn sign_cost(ctx: &mailroom::server::Context, algorithm: &str) {
    let raw = body(0);
    let n = 500;
    let started = Instant::now();
    for _ in 0..n {
        ctx.outbound
            .signers()
            .sign(&ctx.store, &ctx.config, "example.test", &raw)
            .await
            .unwrap();
    }
    println!(
        "{algorithm:>8}: DKIM signing {:.0} µs per {}-byte message",
        started.elapsed().as_micros() as f64 / n as f64,
        raw.len()
    );
}

fn body(n: usize) -> Vec<u8> {
    let mut text = format!(
        "From: Bench <bench@example.test>\r\nTo: r{n}@d{}.example\r\nSubject: bench {n}\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <bench{n}@example.test>\r\n\r\n",
        n % DOMAINS
    );
    for _ in 0..40 {
        text.push_str("An agent's report line, about seventy characters long, repeated.\r\n");
    }
    text.into_bytes()
}

async fn send(ctx: &mailroom::server::Context, sender: uuid::Uuid, n: usize) {
    let raw = body(n);
    let recipients = vec![format!("r{n}@d{}.example", n % DOMAINS)];
    queue_remote(
        ctx,
        RemoteMessage {
            sender,
            mail_from: "bench@example.test",
            recipients: &recipients,
            raw: &raw,
        },
    )
    .await
    .expect("queued");
}

/// Accepts everything, counting messages.
async fn start_sink(delivered: Arc<AtomicU64>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let delivered = delivered.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        delivered.fetch_add(1, Ordering::Relaxed);
                        b"250 ok\r\n"
                    } else {
                        match line.get(..4).map(|v| v.to_ascii_uppercase()).as_deref() {
                            Some("EHLO") => b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
                            Some("DATA") => {
                                in_data = true;
                                b"354 go\r\n"
                            }
                            Some("QUIT") => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 ok\r\n",
                        }
                    };
                    if write.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}
