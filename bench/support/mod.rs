//! What the benchmark programs share: the release server as a child process on a
//! fresh data directory, provisioning over the API, /proc readings, and a TLS
//! client that accepts the server's self-signed certificate.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const ADMIN: &str = "sa_bench_admin_token_0123456789abcdef";

/// A running server; killed and its directory removed on drop.
pub struct Server {
    pub child: Child,
    pub dir: PathBuf,
    addrs: HashMap<String, SocketAddr>,
    /// From spawning the process to its `ready` line.
    pub ready_after: Duration,
}

impl Server {
    /// The first address of a listener kind (`smtp-mx`, `imaps`, `api` ...).
    pub fn addr(&self, kind: &str) -> SocketAddr {
        *self.addrs.get(kind).unwrap_or_else(|| panic!("no {kind} listener"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The release `mailroom` binary, built if needed. `MAILROOM_BENCH_BIN` compares
/// another build of the server under the same load.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("MAILROOM_BENCH_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("current exe");
    let release = exe.parent().and_then(Path::parent).expect("target dir").to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--bin", "mailroom"])
        .status()
        .expect("cargo build");
    assert!(status.success(), "building mailroom failed");
    release.join("mailroom")
}

/// Starts `bin` on an empty data directory with every listener on a free loopback
/// port. `extra` adds lines to sections: `[("smtp", "max_connections_per_ip = 1000")]`.
/// The dev certificate is made by a first start, so `ready_after` is a normal start.
pub fn start(bin: &Path, name: &str, extra: &[(&str, &str)]) -> Server {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mailroom-bench-{name}-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("mailroom.toml"), config(&dir, extra)).expect("config");
    let mut first = spawn(bin, &dir);
    wait_ready(&mut first);
    let _ = first.kill();
    let _ = first.wait();
    let _ = std::fs::remove_dir_all(dir.join("data"));
    let started = Instant::now();
    let mut child = spawn(bin, &dir);
    let addrs = wait_ready(&mut child);
    Server {
        child,
        dir,
        addrs,
        ready_after: started.elapsed(),
    }
}

fn config(dir: &Path, extra: &[(&str, &str)]) -> String {
    let d = dir.display();
    let mut sections: Vec<(String, String)> = vec![
        (
            "tls".into(),
            format!("cert = \"{d}/cert.pem\"\nkey = \"{d}/key.pem\"\n"),
        ),
        (
            "smtp".into(),
            "mx = [\"127.0.0.1:0\"]\nsubmission = [\"127.0.0.1:0\"]\nsubmissions = [\"127.0.0.1:0\"]\n".into(),
        ),
        (
            "imap".into(),
            "listen = [\"127.0.0.1:0\"]\nlisten_tls = [\"127.0.0.1:0\"]\n".into(),
        ),
        ("api".into(), "listen = [\"127.0.0.1:0\"]\n".into()),
    ];
    for (section, lines) in extra {
        match sections.iter_mut().find(|(s, _)| s == section) {
            Some((_, body)) => body.push_str(&format!("{lines}\n")),
            None => sections.push((section.to_string(), format!("{lines}\n"))),
        }
    }
    let mut text = format!("hostname = \"mail.example.test\"\ndomains = [\"example.test\"]\ndata_dir = \"{d}/data\"\n");
    for (section, body) in sections {
        text.push_str(&format!("[{section}]\n{body}"));
    }
    text
}

fn spawn(bin: &Path, dir: &Path) -> Child {
    Command::new(bin)
        .args(["serve", "--config"])
        .arg(dir.join("mailroom.toml"))
        .env("MAILROOM_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "warn,mailroom=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mailroom")
}

/// Reads the log to the `ready` line; returns the listeners' addresses by kind.
fn wait_ready(child: &mut Child) -> HashMap<String, SocketAddr> {
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut addrs = HashMap::new();
    for line in lines.by_ref() {
        let line = line.expect("log line");
        let field = |name: &str| {
            line.find(name)
                .and_then(|i| line[i + name.len()..].split_whitespace().next())
                .map(|s| s.trim_matches('"').to_string())
        };
        if line.contains("listening")
            && let (Some(kind), Some(addr)) = (field("kind="), field("addr="))
            && let Ok(addr) = addr.parse()
        {
            addrs.entry(kind).or_insert(addr);
        }
        if line.trim_end().ends_with(" ready") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    addrs
}

/// One POST with a JSON body on a fresh connection; the answer's JSON.
pub fn post(api: SocketAddr, path: &str, key: &str, body: &str) -> serde_json::Value {
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

/// The server's `/metrics` counters by name (admin token).
pub fn metrics(api: SocketAddr) -> HashMap<String, f64> {
    let mut s = std::net::TcpStream::connect(api).expect("api");
    let req = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(name, value)| Some((name.to_string(), value.trim().parse().ok()?)))
        .collect()
}

/// A tenant with `inboxes` inboxes `user0..`: their (address, password).
pub fn provision(api: SocketAddr, inboxes: usize) -> Vec<(String, String)> {
    let tenant = post(api, "/v1/tenants", ADMIN, "{\"name\":\"bench\"}");
    let key = tenant["apiKey"].as_str().expect("tenant key").to_string();
    (0..inboxes)
        .map(|i| {
            let password = format!("bench-password-{i}-xxxxxxxx");
            let body = format!("{{\"username\":\"user{i}\",\"password\":\"{password}\"}}");
            let inbox = post(api, "/v1/inboxes", &key, &body);
            (inbox["email"].as_str().expect("email").to_string(), password)
        })
        .collect()
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// CPU time (user + system) the process has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime, in clock ticks of 1/100 s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// A rustls client that accepts any certificate (the dev certificate is self-signed).
pub fn tls_config() -> Arc<rustls::ClientConfig> {
    mailroom::tls::opportunistic_client(rustls::DEFAULT_VERSIONS).expect("TLS client config")
}
