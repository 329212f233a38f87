//! SMTP benchmark: starts the release `mailroom` binary as a child process and sends
//! 10,000 messages of 4 KiB over 10 concurrent sessions to the MX port, first with a
//! new connection per message, then over reused connections. Prints
//! - accepted messages/s (the client got 250, which the server sends only after the
//!   message is flushed to disk),
//! - delivered messages/s (until IMAP STATUS shows every message in the inboxes),
//! - the server's peak RSS during each run (VmRSS sampled every 5 ms) and VmHWM.
//!
//! Run: `cargo run --release --example bench_smtp` (it builds the binary if needed).
//! The client pipelines MAIL, RCPT and DATA as PIPELINING clients do.

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Server, binary, provision, start, status_kib, tls_config};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpStream;

/// Messages per run; `BENCH_MESSAGES` overrides it (for profiling longer runs).
static MESSAGES: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
    std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
});
const SESSIONS: usize = 10;
const INBOXES: usize = 10;
const MESSAGE_SIZE: usize = 4096;

fn message(n: usize, to: &str) -> Vec<u8> {
    let mut m = format!(
        "From: Load <load@example.org>\r\nTo: {to}\r\nSubject: bench {n}\r\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <bench{n}@example.org>\r\n\r\n"
    )
    .into_bytes();
    let line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempo\r\n";
    while m.len() + line.len() <= MESSAGE_SIZE {
        m.extend_from_slice(line);
    }
    m.resize(MESSAGE_SIZE - 2, b'x');
    m.extend_from_slice(b"\r\n");
    m
}

struct Conn {
    io: TokioBufReader<TcpStream>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let mut c = Conn {
            io: TokioBufReader::with_capacity(4096, tcp),
        };
        c.expect("220").await?;
        c.io.get_mut().write_all(b"EHLO bench.example\r\n").await?;
        c.expect("250").await?;
        Ok(c)
    }

    async fn expect(&mut self, code: &str) -> std::io::Result<()> {
        loop {
            let mut line = String::new();
            if self.io.read_line(&mut line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if !line.starts_with(code) {
                return Err(std::io::Error::other(line));
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(());
            }
        }
    }

    /// One transaction: the envelope pipelined, then the message.
    async fn send(&mut self, to: &str, message: &[u8]) -> std::io::Result<()> {
        let envelope = format!(
            "MAIL FROM:<load@example.org> SIZE={}\r\nRCPT TO:<{to}>\r\nDATA\r\n",
            message.len()
        );
        self.io.get_mut().write_all(envelope.as_bytes()).await?;
        self.expect("250").await?;
        self.expect("250").await?;
        self.expect("354").await?;
        let mut data = Vec::with_capacity(message.len() + 3);
        data.extend_from_slice(message);
        data.extend_from_slice(b".\r\n");
        self.io.get_mut().write_all(&data).await?;
        self.expect("250").await
    }
}

/// Sends MESSAGES messages over SESSIONS workers; returns (accepted/s, delivered/s, peak RSS KiB).
async fn run(server: &Server, inboxes: &[(String, String)], reuse: bool, first: usize) -> (f64, f64, u64) {
    let pid = server.pid();
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sampling, peak) = (sampling.clone(), peak.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(status_kib(pid, "VmRSS"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let next = Arc::new(AtomicUsize::new(0));
    let addresses: Arc<Vec<String>> = Arc::new(inboxes.iter().map(|(a, _)| a.clone()).collect());
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..SESSIONS {
        let (next, addresses, mx) = (next.clone(), addresses.clone(), server.addr("smtp-mx"));
        workers.push(tokio::spawn(async move {
            let mut conn: Option<Conn> = None;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= *MESSAGES {
                    break;
                }
                let to = &addresses[n % addresses.len()];
                let msg = message(first + n, to);
                let mut c = match conn.take() {
                    Some(c) => c,
                    None => Conn::open(mx).await.expect("connect"),
                };
                c.send(to, &msg).await.expect("message accepted");
                if reuse {
                    conn = Some(c);
                } else {
                    let _ = c.io.get_mut().write_all(b"QUIT\r\n").await;
                }
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let accepted = started.elapsed();
    let expected = first + *MESSAGES;
    while count_messages(server.addr("imap"), inboxes).await < expected {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let delivered = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let rate = |d: Duration| *MESSAGES as f64 / d.as_secs_f64();
    (rate(accepted), rate(delivered), peak.load(Ordering::Relaxed))
}

/// Messages in all INBOXes, by IMAP STATUS (plain IMAP on loopback needs STARTTLS
/// for LOGIN, so this speaks TLS through rustls).
async fn count_messages(imap: SocketAddr, inboxes: &[(String, String)]) -> usize {
    let tls = tokio_rustls::TlsConnector::from(tls_config());
    let mut total = 0;
    for (user, password) in inboxes {
        let tcp = TcpStream::connect(imap).await.expect("imap");
        let mut io = TokioBufReader::new(tcp);
        let mut line = String::new();
        io.read_line(&mut line).await.expect("greeting");
        io.get_mut().write_all(b"a STARTTLS\r\n").await.expect("starttls");
        line.clear();
        io.read_line(&mut line).await.expect("starttls answer");
        let name = rustls::pki_types::ServerName::try_from("mail.example.test").expect("name");
        let stream = tls.connect(name, io.into_inner()).await.expect("tls");
        let mut io = TokioBufReader::new(stream);
        let cmd = format!("b LOGIN {user} {password}\r\nc STATUS INBOX (MESSAGES)\r\nd LOGOUT\r\n");
        io.get_mut().write_all(cmd.as_bytes()).await.expect("login");
        loop {
            line.clear();
            if io.read_line(&mut line).await.expect("status") == 0 {
                break;
            }
            if let Some(rest) = line.split("(MESSAGES ").nth(1) {
                total += rest.trim_end().trim_end_matches(')').parse::<usize>().unwrap_or(0);
            }
            if line.starts_with("d ") {
                break;
            }
        }
    }
    total
}

fn main() {
    let bin = binary();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "SMTP MX: {} messages of {} KiB over {SESSIONS} concurrent sessions, {INBOXES} recipient inboxes;",
        *MESSAGES,
        MESSAGE_SIZE / 1024
    );
    println!("each mode on a fresh server (empty store); 250 means flushed to disk");
    for (label, reuse) in [("new connection per message", false), ("reused connections", true)] {
        // A fresh server per mode, so both start from the same empty store.
        let server = start(
            &bin,
            "smtp",
            &[
                ("smtp", "max_connections_per_ip = 1000"),
                ("api", "rate_limit_per_second = 0"),
            ],
        );
        let inboxes = provision(server.addr("api"), INBOXES);
        let pid = server.pid();
        runtime.block_on(async {
            // Logs every inbox in once, so the delivery count later hits the verify cache.
            assert_eq!(count_messages(server.addr("imap"), &inboxes).await, 0);
            // Provisioning's argon2 working memory is given back after a second idle:
            // measure the SMTP path, not inbox creation.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let start_rss = status_kib(pid, "VmRSS");
            let (accepted, delivered, peak) = run(&server, &inboxes, reuse, 0).await;
            println!(
                "{label:>28}: accepted {accepted:>6.0} msg/s, delivered {delivered:>6.0} msg/s; \
                 server RSS {:.1} MiB at start, peak {:.1} MiB during the run (VmHWM since start, provisioning included: {:.1} MiB)",
                start_rss as f64 / 1024.0,
                peak as f64 / 1024.0,
                status_kib(pid, "VmHWM") as f64 / 1024.0
            );
        });
    }
}
