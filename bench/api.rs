//! Control API benchmark: starts the release `mailroom` binary as a child process and prints
//! - the time from spawn to the `ready` line, and VmRSS at rest on an empty data directory,
//! - GET /v1/inboxes requests/s (a tenant with 10 inboxes) at 1, 8 and 64 keep-alive clients,
//! - POST /v1/inboxes creates/s at 1, 8 and 64 clients with the server's default argon2id
//!   cost, beside the bare argon2id hash rate of the same parameters at the same concurrency
//!   (the argon2 crate called directly on as many threads), which bounds it.
//!
//! Run: `cargo run --release --example bench_api` (it builds the binary if needed).
//! The rate limiter stays on, with a limit no client reaches, so its cost is measured;
//! one more GET run has it off. Clients and server share the machine.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{ADMIN, binary, rss_kib, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LISTED_INBOXES: usize = 10;
const GET_RUN: Duration = Duration::from_secs(5);
const POST_RUN: Duration = Duration::from_secs(6);
const CLIENTS: [usize; 3] = [1, 8, 64];

/// A keep-alive HTTP/1.1 client: one request at a time on one connection.
struct Conn {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let tcp = TcpStream::connect(addr).await.expect("connect api");
        tcp.set_nodelay(true).expect("nodelay");
        Conn {
            tcp,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    /// Sends a request and reads its answer; returns the status and the body.
    async fn send(&mut self, request: &[u8]) -> (u16, &[u8]) {
        self.tcp.write_all(request).await.expect("send");
        self.buf.clear();
        let (head_len, body_len) = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break (end + 4, content_length(&self.buf[..end]));
            }
            self.read_more().await;
        };
        while self.buf.len() < head_len + body_len {
            self.read_more().await;
        }
        let status = std::str::from_utf8(&self.buf[9..12])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, &self.buf[head_len..head_len + body_len])
    }

    async fn read_more(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.tcp.read(&mut chunk).await.expect("read");
        assert!(n > 0, "server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(head: &[u8]) -> usize {
    let head = String::from_utf8_lossy(head);
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

fn post(path: &str, key: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn get(path: &str, key: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\r\n").into_bytes()
}

/// A tenant with `inboxes` inboxes; returns its key.
async fn provision(api: SocketAddr, name: &str, inboxes: usize) -> String {
    let mut c = Conn::open(api).await;
    let (status, body) = c
        .send(&post("/v1/tenants", ADMIN, &format!("{{\"name\":\"{name}\"}}")))
        .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(body));
    let tenant: serde_json::Value = serde_json::from_slice(body).expect("json");
    let key = tenant["apiKey"].as_str().expect("tenant key").to_string();
    for i in 0..inboxes {
        let (status, _) = c
            .send(&post("/v1/inboxes", &key, &format!("{{\"username\":\"{name}{i}\"}}")))
            .await;
        assert_eq!(status, 201);
    }
    key
}

/// Runs `clients` keep-alive connections for `run`, each sending what `request`
/// makes of (client, n) and expecting `status`; returns requests per second.
async fn load(
    api: SocketAddr,
    clients: usize,
    run: Duration,
    status: u16,
    request: impl Fn(usize, u64) -> Vec<u8> + Send + Sync + 'static,
) -> f64 {
    let request = Arc::new(request);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (request, done, stop) = (request.clone(), done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(api).await;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let req = request(client, n);
                let (got, body) = c.send(&req).await;
                assert_eq!(got, status, "{}", String::from_utf8_lossy(body));
                done.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(run).await;
    stop.store(true, Ordering::Relaxed);
    let counted = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    for t in tasks {
        t.await.expect("client");
    }
    counted as f64 / elapsed.as_secs_f64()
}

/// GET /v1/inboxes at each concurrency.
async fn get_rates(api: SocketAddr, label: &str) {
    let key = provision(api, "lister", LISTED_INBOXES).await;
    let req = get("/v1/inboxes", &key);
    let mut c = Conn::open(api).await;
    let (_, body) = c.send(&req).await;
    let page: serde_json::Value = serde_json::from_slice(body).expect("json");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(LISTED_INBOXES));
    let size = body.len();
    for clients in CLIENTS {
        let req = req.clone();
        let rate = load(api, clients, GET_RUN, 200, move |_, _| req.clone()).await;
        println!(
            "GET /v1/inboxes ({LISTED_INBOXES} inboxes, {size} bytes), {clients:>2} clients, {label}: {rate:>8.0} requests/s"
        );
    }
}

/// POST /v1/inboxes with `clients` clients, one new inbox per request.
async fn post_rate(api: SocketAddr, key: Arc<String>, clients: usize) -> f64 {
    load(api, clients, POST_RUN, 201, move |client, n| {
        post(
            "/v1/inboxes",
            &key,
            &format!("{{\"username\":\"k{clients}c{client}n{n}\"}}"),
        )
    })
    .await
}

/// The argon2id hash rate with the server's default parameters on `threads` threads.
fn bare_argon2(threads: usize, run: Duration) -> f64 {
    let a = mailroom::config::AuthConfig::default();
    let params = Params::new(a.argon2_memory_kib, a.argon2_iterations, a.argon2_lanes, None).expect("params");
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                while started.elapsed() < run {
                    let salt = SaltString::generate(&mut rand::rngs::OsRng);
                    let hash = argon2.hash_password(b"bench password 123456", &salt).expect("hash");
                    std::hint::black_box(hash.to_string());
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let bin = binary();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let a = mailroom::config::AuthConfig::default();
    println!(
        "machine: {} cores, shared by the server and these clients; argon2id m={} KiB t={} p={}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        a.argon2_memory_kib,
        a.argon2_iterations,
        a.argon2_lanes
    );

    let limited = "rate_limit_per_second = 1000000\nrate_limit_burst = 1000000";
    let server = start(&bin, "api", &[("api", limited)]);
    std::thread::sleep(Duration::from_millis(500));
    println!(
        "spawn to ready: {:.1} ms; VmRSS at rest, empty data dir: {:.1} MiB",
        server.ready_after.as_secs_f64() * 1000.0,
        rss_kib(server.pid()) as f64 / 1024.0
    );
    runtime.block_on(get_rates(server.addr("api"), "rate limiter on"));
    // Each POST run is followed at once by the bare hash run it is compared with,
    // so both see the same load from the rest of the machine.
    let key = Arc::new(runtime.block_on(provision(server.addr("api"), "maker", 0)));
    for clients in CLIENTS {
        let rate = runtime.block_on(post_rate(server.addr("api"), key.clone(), clients));
        let bare = bare_argon2(clients, POST_RUN);
        println!(
            "POST /v1/inboxes, {clients:>2} clients: {rate:>6.1} creates/s; bare argon2id on {clients:>2} threads: {bare:>6.1} hashes/s ({:.0}%)",
            100.0 * rate / bare
        );
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "bare argon2id on {cores} threads (one per core, the server's own limit): {:.1} hashes/s",
        bare_argon2(cores, POST_RUN)
    );
    drop(server);

    let server = start(&bin, "api", &[("api", "rate_limit_per_second = 0")]);
    runtime.block_on(get_rates(server.addr("api"), "rate limiter off"));
}
