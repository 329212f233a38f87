//! IMAP benchmark: starts the release `mailroom` binary as a child process and prints
//! - commands/s for a Thunderbird-like mix (LOGIN, SELECT, UID FETCH headers of 50
//!   messages, FETCH BODY[], APPEND, UID STORE, EXPUNGE, LOGOUT) at 10 and 50
//!   clients, with a login per pass and with long sessions,
//! - TLS logins/s (connect + handshake + LOGIN + LOGOUT),
//! - server RSS per idle logged-in connection at 1,000 connections (VmRSS before and after).
//!
//! Run: `cargo run --release --example bench_imap` (it builds the binary if needed).
//! Everything goes over implicit TLS (plain IMAP refuses LOGIN before STARTTLS).

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{Server, binary, cpu_seconds, metrics, provision, rss_kib, start, tls_config};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpStream;

const INBOXES: usize = 50;
const PRELOAD: usize = 60;
const RUN: Duration = Duration::from_secs(8);

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

struct Client {
    io: TokioBufReader<Tls>,
    next: u64,
    /// Reused for every line and command, so the client's own allocations do not
    /// take CPU from the server on a shared machine.
    line: Vec<u8>,
    out: Vec<u8>,
    last: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr, tls: &tokio_rustls::TlsConnector) -> std::io::Result<Client> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::try_from("mail.example.test").expect("name");
        let stream = tls.connect(name, tcp).await?;
        let mut c = Client {
            io: TokioBufReader::with_capacity(16 * 1024, stream),
            next: 0,
            line: Vec::with_capacity(512),
            out: Vec::with_capacity(4096),
            last: Vec::with_capacity(512),
        };
        c.io.read_until(b'\n', &mut c.line).await?;
        Ok(c)
    }

    /// Sends a command (with an optional literal) and reads to its tagged answer;
    /// returns the tagged line and the untagged line before it.
    async fn cmd(&mut self, command: &str, literal: Option<&[u8]>) -> std::io::Result<String> {
        use std::io::Write as _;
        self.next += 1;
        self.out.clear();
        write!(self.out, "t{} ", self.next)?;
        let tag_len = self.out.len();
        self.out.extend_from_slice(command.as_bytes());
        if let Some(data) = literal {
            write!(self.out, " {{{}+}}\r\n", data.len())?;
            self.out.extend_from_slice(data);
        }
        self.out.extend_from_slice(b"\r\n");
        self.io.get_mut().write_all(&self.out).await?;
        self.last.clear();
        loop {
            self.line.clear();
            if self.io.read_until(b'\n', &mut self.line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if let Some(n) = literal_len(&self.line) {
                skip(&mut self.io, n).await?;
                continue;
            }
            if self.line.starts_with(&self.out[..tag_len]) {
                let answer = String::from_utf8_lossy(&self.line).into_owned();
                if !self.line[tag_len..].starts_with(b"OK") {
                    return Err(std::io::Error::other(answer));
                }
                return Ok(String::from_utf8_lossy(&self.last).into_owned() + &answer);
            }
            std::mem::swap(&mut self.last, &mut self.line);
        }
    }
}

/// Reads past a literal of `n` bytes without copying it anywhere.
async fn skip(io: &mut TokioBufReader<Tls>, mut n: usize) -> std::io::Result<()> {
    while n > 0 {
        let available = io.fill_buf().await?.len();
        if available == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let take = available.min(n);
        io.consume(take);
        n -= take;
    }
    Ok(())
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let inner = line.trim_ascii_end().strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&inner[open + 1..]).ok()?.parse().ok()
}

fn message(i: usize) -> Vec<u8> {
    format!(
        "From: Sender {i} <sender{i}@example.org>\r\nTo: someone@example.test\r\nSubject: bench message {i}\r\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <bench{i}@example.org>\r\n\r\n{}\r\n",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(30)
    )
    .into_bytes()
}

/// The commands of one pass after LOGIN and before LOGOUT; returns how many were sent.
async fn pass(c: &mut Client, i: usize) -> std::io::Result<u64> {
    c.cmd("SELECT INBOX", None).await?;
    c.cmd(
        "UID FETCH 1:50 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID)])",
        None,
    )
    .await?;
    c.cmd(&format!("FETCH {} BODY[]", 1 + i % 40), None).await?;
    let appended = c.cmd("APPEND INBOX (\\Seen)", Some(&message(i))).await?;
    let uid = appended
        .split("APPENDUID ")
        .nth(1)
        .and_then(|r| r.split_whitespace().nth(1))
        .map(|u| u.trim_end_matches(']').to_string())
        .unwrap_or_else(|| "*".into());
    c.cmd(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"), None)
        .await?;
    c.cmd("EXPUNGE", None).await?;
    Ok(6)
}

/// The same without APPEND/EXPUNGE (which wait for the store's disk flush): what the
/// IMAP layer itself sustains.
async fn pass_no_writes(c: &mut Client, i: usize) -> std::io::Result<u64> {
    c.cmd("SELECT INBOX", None).await?;
    c.cmd(
        "UID FETCH 1:50 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID)])",
        None,
    )
    .await?;
    c.cmd(&format!("FETCH {} BODY[]", 1 + i % 40), None).await?;
    c.cmd(&format!("STORE {} +FLAGS (\\Flagged)", 1 + i % 40), None).await?;
    c.cmd(&format!("STORE {} -FLAGS (\\Flagged)", 1 + i % 40), None).await?;
    c.cmd("NOOP", None).await?;
    Ok(6)
}

/// What one run of the mix measured.
struct Mix {
    commands_per_s: f64,
    /// CPU time per command in microseconds, of the server and of this client (they
    /// share the machine: what the client spends, the server lacks).
    server_us: f64,
    client_us: f64,
    /// The store writer's batches per second and writes per batch (from /metrics).
    batches_per_s: f64,
    writes_per_batch: f64,
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} commands/s ({:.0} us server CPU, {:.0} us client CPU each; {:.0} store batches/s of {:.2} writes)",
            self.commands_per_s, self.server_us, self.client_us, self.batches_per_s, self.writes_per_batch
        )
    }
}

async fn mix(server: &Server, users: &[(String, String)], clients: usize, login_per_pass: bool, writes: bool) -> Mix {
    let tls = tokio_rustls::TlsConnector::from(tls_config());
    let commands = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for n in 0..clients {
        let (user, pass_) = users[n % users.len()].clone();
        let tls = tls.clone();
        let commands = commands.clone();
        let stop = stop.clone();
        let addr = server.addr("imaps");
        tasks.push(tokio::spawn(async move {
            let mut i = n;
            let mut session: Option<Client> = None;
            while !stop.load(Ordering::Relaxed) {
                let mut c = match session.take() {
                    Some(c) => c,
                    None => {
                        let mut c = Client::connect(addr, &tls).await.expect("connect");
                        c.cmd(&format!("LOGIN {user} {pass_}"), None).await.expect("login");
                        commands.fetch_add(1, Ordering::Relaxed);
                        c
                    }
                };
                let sent = if writes {
                    pass(&mut c, i).await.expect("pass")
                } else {
                    pass_no_writes(&mut c, i).await.expect("pass")
                };
                commands.fetch_add(sent, Ordering::Relaxed);
                i += clients;
                if login_per_pass {
                    c.cmd("LOGOUT", None).await.ok();
                    commands.fetch_add(1, Ordering::Relaxed);
                } else {
                    session = Some(c);
                }
            }
        }));
    }
    let started = Instant::now();
    let cpu_before = cpu_seconds(server.pid());
    let own_before = cpu_seconds(std::process::id());
    let store_before = metrics(server.addr("api"));
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let counted = commands.load(Ordering::Relaxed);
    let cpu = cpu_seconds(server.pid()) - cpu_before;
    let own = cpu_seconds(std::process::id()) - own_before;
    let store_after = metrics(server.addr("api"));
    let delta =
        |name: &str| store_after.get(name).copied().unwrap_or(0.0) - store_before.get(name).copied().unwrap_or(0.0);
    let (writes, batches) = (
        delta("mailroom_store_writes_total"),
        delta("mailroom_store_write_batches_total"),
    );
    let elapsed = started.elapsed();
    for t in tasks {
        let _ = t.await;
    }
    let per_command = |seconds: f64| seconds * 1e6 / counted.max(1) as f64;
    Mix {
        commands_per_s: counted as f64 / elapsed.as_secs_f64(),
        server_us: per_command(cpu),
        client_us: per_command(own),
        batches_per_s: batches / elapsed.as_secs_f64(),
        writes_per_batch: writes / batches.max(1.0),
    }
}

async fn login_rate(server: &Server, users: &[(String, String)], parallel: usize) -> f64 {
    let tls = tokio_rustls::TlsConnector::from(tls_config());
    let logins = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for n in 0..parallel {
        let (user, pass_) = users[n % users.len()].clone();
        let (tls, logins, stop, addr) = (tls.clone(), logins.clone(), stop.clone(), server.addr("imaps"));
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let mut c = Client::connect(addr, &tls).await.expect("connect");
                c.cmd(&format!("LOGIN {user} {pass_}"), None).await.expect("login");
                c.cmd("LOGOUT", None).await.ok();
                logins.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let counted = logins.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    for t in tasks {
        let _ = t.await;
    }
    counted as f64 / elapsed.as_secs_f64()
}

async fn preload(server: &Server, users: &[(String, String)]) {
    let tls = tokio_rustls::TlsConnector::from(tls_config());
    let mut tasks = Vec::new();
    for (user, pass_) in users {
        let (user, pass_) = (user.clone(), pass_.clone());
        let (tls, addr) = (tls.clone(), server.addr("imaps"));
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr, &tls).await.expect("connect");
            c.cmd(&format!("LOGIN {user} {pass_}"), None).await.expect("login");
            for i in 0..PRELOAD {
                c.cmd("APPEND INBOX", Some(&message(i))).await.expect("append");
            }
            c.cmd("LOGOUT", None).await.ok();
        }));
    }
    for t in tasks {
        t.await.expect("preload");
    }
}

/// How idle connections are held while RSS is read.
#[derive(Clone, Copy, PartialEq)]
enum Idle {
    Plain,
    /// COMPRESS=DEFLATE on and one deflated NOOP sent (its answer needs the
    /// server's compressor); read at once and after the server lets it go.
    Compressed,
}

/// RSS before `connections` idle logged-in sessions and after (for `Compressed`,
/// also once the compressors have been released).
async fn idle_rss(server: &Server, users: &[(String, String)], connections: usize, idle: Idle) -> Vec<u64> {
    let pid = server.pid();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut readings = vec![rss_kib(pid)];
    let tls = tokio_rustls::TlsConnector::from(tls_config());
    let mut open = Vec::with_capacity(connections);
    for n in 0..connections {
        let (user, pass_) = &users[n % users.len()];
        let mut c = Client::connect(server.addr("imaps"), &tls).await.expect("connect");
        c.cmd(&format!("LOGIN {user} {pass_}"), None).await.expect("login");
        if idle == Idle::Compressed {
            // The OK is the last thing the server sends uncompressed; the answer
            // to the NOOP stays unread in the socket.
            c.cmd("COMPRESS DEFLATE", None).await.expect("compress");
            c.io.get_mut().write_all(&deflated(b"n NOOP\r\n")).await.expect("noop");
        }
        open.push(c);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    readings.push(rss_kib(pid));
    if idle == Idle::Compressed {
        tokio::time::sleep(Duration::from_secs(3)).await;
        readings.push(rss_kib(pid));
    }
    drop(open);
    readings
}

/// `plain` as raw DEFLATE, sync-flushed.
fn deflated(plain: &[u8]) -> Vec<u8> {
    let mut deflater = flate2::Compress::new(flate2::Compression::fast(), false);
    let mut out = Vec::with_capacity(plain.len() + 64);
    deflater
        .compress_vec(plain, &mut out, flate2::FlushCompress::Sync)
        .expect("deflate");
    out
}

/// Room for the benchmark's connections and no API rate limit.
const LIMITS: [(&str, &str); 3] = [
    ("imap", "max_connections_per_ip = 5000\nmax_connections_per_user = 5000"),
    ("api", "rate_limit_per_second = 0"),
    ("store", "cache_mb = 64"),
];

/// 10 and 50 clients, or the counts in `MAILROOM_BENCH_CLIENTS` ("50", "10,50").
fn client_counts() -> Vec<usize> {
    std::env::var("MAILROOM_BENCH_CLIENTS")
        .ok()
        .map(|list| list.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 50])
}

fn main() {
    let bin = binary();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // RSS first, on a server of its own, so that what the mix stored and cached
    // does not count as what idle connections cost.
    {
        let server = start(
            &bin,
            "imap",
            &[
                ("auth", "argon2_memory_kib = 1024\nargon2_iterations = 1"),
                LIMITS[0],
                LIMITS[1],
                LIMITS[2],
            ],
        );
        let users = provision(server.addr("api"), INBOXES);
        runtime.block_on(async {
            let per = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1000.0;
            let r = idle_rss(&server, &users, 1000, Idle::Plain).await;
            println!(
                "idle logged-in TLS connections: 1000; server VmRSS {} KiB -> {} KiB = {:.1} KiB per connection",
                r[0],
                r[1],
                per(r[0], r[1])
            );
            let r = idle_rss(&server, &users, 1000, Idle::Compressed).await;
            println!(
                "idle TLS connections with COMPRESS=DEFLATE after one command: 1000; server VmRSS {} KiB -> {} KiB = {:.1} KiB per connection; {} KiB = {:.1} KiB per connection once quiet for 3 s",
                r[0],
                r[1],
                per(r[0], r[1]),
                r[2],
                per(r[0], r[2])
            );
        });
    }
    let server = start(&bin, "imap", &LIMITS);
    let users = provision(server.addr("api"), INBOXES);
    runtime.block_on(async {
        let t = Instant::now();
        preload(&server, &users).await;
        println!(
            "preloaded {} messages into {INBOXES} inboxes in {:.1?}",
            INBOXES * PRELOAD,
            t.elapsed()
        );
        for clients in client_counts() {
            let run = mix(&server, &users, clients, true, true).await;
            println!("mix, login per pass, {clients} clients: {run}");
            let run = mix(&server, &users, clients, false, true).await;
            println!("mix, long sessions,  {clients} clients: {run}");
            let run = mix(&server, &users, clients, false, false).await;
            println!("mix without APPEND/EXPUNGE (no disk flush), long sessions, {clients} clients: {run}");
        }
        let rate = login_rate(&server, &users, 20).await;
        println!("TLS logins (connect+handshake+LOGIN+LOGOUT), 20 parallel: {rate:.0} logins/s");
    });
    drop(server);
}
