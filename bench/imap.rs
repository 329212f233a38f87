//! IMAP benchmark: starts the release `mailroom` binary as a child process and prints
//! - commands/s for a Thunderbird-like mix (LOGIN, SELECT, UID FETCH headers of 50
//!   messages, FETCH BODY[], APPEND, UID STORE, EXPUNGE, LOGOUT) at 10 and 50
//!   clients, with a login per pass and with long sessions,
//! - TLS logins/s (connect + handshake + LOGIN + LOGOUT),
//! - server RSS per idle logged-in connection at 1,000 connections (VmRSS before and after).
//!
//! Run: `cargo run --release --example bench_imap` (it builds the binary if needed).
//! Everything goes over implicit TLS (plain IMAP refuses LOGIN before STARTTLS).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpStream;

const ADMIN: &str = "sa_bench_admin_token_0123456789abcdef";
const INBOXES: usize = 50;
const PRELOAD: usize = 60;
const RUN: Duration = Duration::from_secs(8);

struct Server {
    child: Child,
    dir: PathBuf,
    imaps: SocketAddr,
    api: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn binary() -> PathBuf {
    // MAILROOM_BENCH_BIN compares another build of the server with the same load.
    if let Some(bin) = std::env::var_os("MAILROOM_BENCH_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("current exe");
    let release = exe.parent().and_then(Path::parent).expect("target dir").to_path_buf();
    let bin = release.join("mailroom");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--bin", "mailroom"])
        .status()
        .expect("cargo build");
    assert!(status.success(), "building mailroom failed");
    bin
}

fn start(extra: &str) -> Server {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mailroom-bench-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let d = dir.display();
    let config = format!(
        "hostname = \"mail.example.test\"\ndomains = [\"example.test\"]\ndata_dir = \"{d}/data\"\n\
         [tls]\ncert = \"{d}/cert.pem\"\nkey = \"{d}/key.pem\"\n\
         [smtp]\nmx = [\"127.0.0.1:0\"]\nsubmission = [\"127.0.0.1:0\"]\nsubmissions = [\"127.0.0.1:0\"]\n\
         [imap]\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = [\"127.0.0.1:0\"]\nmax_connections_per_ip = 5000\n\
         max_connections_per_user = 5000\n\
         [api]\nlisten = [\"127.0.0.1:0\"]\nrate_limit_per_second = 0\n\
         [store]\ncache_mb = 64\n{extra}"
    );
    std::fs::write(dir.join("mailroom.toml"), config).expect("config");
    let mut child = Command::new(binary())
        .args(["serve", "--config"])
        .arg(dir.join("mailroom.toml"))
        .env("MAILROOM_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "warn,mailroom=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mailroom");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let (mut imaps, mut api) = (None, None);
    for line in lines.by_ref() {
        let line = line.expect("log line");
        let field = |name: &str| {
            line.find(name)
                .and_then(|i| line[i + name.len()..].split_whitespace().next())
                .map(|s| s.trim_matches('"').to_string())
        };
        if line.contains("listening") {
            match (field("kind=").as_deref(), field("addr=")) {
                (Some("imaps"), Some(a)) => imaps = a.parse().ok(),
                (Some("api"), Some(a)) => api = a.parse().ok(),
                _ => {}
            }
        }
        if line.trim_end().ends_with(" ready") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        dir,
        imaps: imaps.expect("imaps address"),
        api: api.expect("api address"),
    }
}

fn http(api: SocketAddr, path: &str, key: &str, body: &str) -> serde_json::Value {
    let mut s = std::net::TcpStream::connect(api).expect("api");
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

fn provision(api: SocketAddr, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let tenant = http(api, "/v1/tenants", ADMIN, &format!("{{\"name\":\"bench{i}\"}}"));
            let key = tenant["apiKey"].as_str().expect("tenant key").to_string();
            let password = format!("bench-password-{i}-xxxxxxxx");
            let inbox = http(
                api,
                "/v1/inboxes",
                &key,
                &format!("{{\"username\":\"user{i}\",\"password\":\"{password}\"}}"),
            );
            (inbox["email"].as_str().expect("email").to_string(), password)
        })
        .collect()
}

/// CPU time (user + system) the process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime, in clock ticks of 1/100 s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

struct Client {
    io: TokioBufReader<Tls>,
    next: u64,
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
        };
        let mut greeting = String::new();
        c.io.read_line(&mut greeting).await?;
        Ok(c)
    }

    /// Sends a command (with an optional literal) and reads to its tagged answer.
    async fn cmd(&mut self, command: &str, literal: Option<&[u8]>) -> std::io::Result<String> {
        self.next += 1;
        let tag = format!("t{}", self.next);
        match literal {
            Some(data) => {
                let line = format!("{tag} {command} {{{}+}}\r\n", data.len());
                let mut buf = line.into_bytes();
                buf.extend_from_slice(data);
                buf.extend_from_slice(b"\r\n");
                self.io.get_mut().write_all(&buf).await?;
            }
            None => {
                self.io
                    .get_mut()
                    .write_all(format!("{tag} {command}\r\n").as_bytes())
                    .await?
            }
        }
        let mut last = String::new();
        loop {
            let mut line = String::new();
            if self.io.read_line(&mut line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if let Some(n) = literal_len(&line) {
                let mut skip = vec![0; n];
                self.io.read_exact(&mut skip).await?;
                continue;
            }
            if line.starts_with(&format!("{tag} ")) {
                if !line.starts_with(&format!("{tag} OK")) {
                    return Err(std::io::Error::other(line));
                }
                return Ok(std::mem::take(&mut last) + &line);
            }
            last = line;
        }
    }
}

fn literal_len(line: &str) -> Option<usize> {
    let inner = line.trim_end().strip_suffix('}')?;
    inner[inner.rfind('{')? + 1..].parse().ok()
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

/// Commands per second, and the server's CPU time per command in microseconds.
async fn mix(
    server: &Server,
    users: &[(String, String)],
    clients: usize,
    login_per_pass: bool,
    writes: bool,
) -> (f64, f64) {
    let tls = tokio_rustls::TlsConnector::from(tls_config());
    let commands = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for n in 0..clients {
        let (user, pass_) = users[n % users.len()].clone();
        let tls = tls.clone();
        let commands = commands.clone();
        let stop = stop.clone();
        let addr = server.imaps;
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
    let cpu_before = cpu_seconds(server.child.id());
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let counted = commands.load(Ordering::Relaxed);
    let cpu = cpu_seconds(server.child.id()) - cpu_before;
    let elapsed = started.elapsed();
    for t in tasks {
        let _ = t.await;
    }
    (
        counted as f64 / elapsed.as_secs_f64(),
        cpu * 1e6 / counted.max(1) as f64,
    )
}

async fn login_rate(server: &Server, users: &[(String, String)], parallel: usize) -> f64 {
    let tls = tokio_rustls::TlsConnector::from(tls_config());
    let logins = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for n in 0..parallel {
        let (user, pass_) = users[n % users.len()].clone();
        let (tls, logins, stop, addr) = (tls.clone(), logins.clone(), stop.clone(), server.imaps);
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

fn tls_config() -> Arc<rustls::ClientConfig> {
    #[derive(Debug)]
    struct AnyCert;
    impl rustls::client::danger::ServerCertVerifier for AnyCert {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert))
        .with_no_client_auth();
    Arc::new(config)
}

async fn preload(server: &Server, users: &[(String, String)]) {
    let tls = tokio_rustls::TlsConnector::from(tls_config());
    let mut tasks = Vec::new();
    for (user, pass_) in users {
        let (user, pass_) = (user.clone(), pass_.clone());
        let (tls, addr) = (tls.clone(), server.imaps);
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

async fn idle_rss(server: &Server, users: &[(String, String)], connections: usize) -> (u64, u64) {
    let pid = server.child.id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(pid);
    let tls = tokio_rustls::TlsConnector::from(tls_config());
    let mut open = Vec::with_capacity(connections);
    for n in 0..connections {
        let (user, pass_) = &users[n % users.len()];
        let mut c = Client::connect(server.imaps, &tls).await.expect("connect");
        c.cmd(&format!("LOGIN {user} {pass_}"), None).await.expect("login");
        open.push(c);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    drop(open);
    (before, after)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // RSS first, on a server of its own: argon2 hashing while provisioning leaves
    // glibc arenas full of freed memory that would hide what connections cost.
    {
        let server = start("[auth]\nargon2_memory_kib = 1024\nargon2_iterations = 1\n");
        let users = provision(server.api, INBOXES);
        runtime.block_on(async {
            let (before, after) = idle_rss(&server, &users, 1000).await;
            println!(
                "idle logged-in TLS connections: 1000; server VmRSS {before} KiB -> {after} KiB = {:.1} KiB per connection",
                (after.saturating_sub(before)) as f64 / 1000.0
            );
        });
    }
    let server = start("");
    let users = provision(server.api, INBOXES);
    runtime.block_on(async {
        let t = Instant::now();
        preload(&server, &users).await;
        println!(
            "preloaded {} messages into {INBOXES} inboxes in {:.1?}",
            INBOXES * PRELOAD,
            t.elapsed()
        );
        for clients in [10, 50] {
            let (rate, cpu) = mix(&server, &users, clients, true, true).await;
            println!("mix, login per pass, {clients} clients: {rate:.0} commands/s ({cpu:.0} us server CPU each)");
            let (rate, cpu) = mix(&server, &users, clients, false, true).await;
            println!("mix, long sessions,  {clients} clients: {rate:.0} commands/s ({cpu:.0} us server CPU each)");
            let (rate, cpu) = mix(&server, &users, clients, false, false).await;
            println!(
                "mix without APPEND/EXPUNGE (no disk flush), long sessions, {clients} clients: {rate:.0} commands/s ({cpu:.0} us server CPU each)"
            );
        }
        let rate = login_rate(&server, &users, 20).await;
        println!("TLS logins (connect+handshake+LOGIN+LOGOUT), 20 parallel: {rate:.0} logins/s");
    });
    drop(server);
}
