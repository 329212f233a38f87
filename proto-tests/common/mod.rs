//! Starts the real `mailroom` binary on ephemeral loopback ports with a fresh data
//! directory, for tests that drive it with real clients.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "sa_test_admin_token_0123456789abcdef";
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TestServer {
    child: Option<Child>,
    pub dir: PathBuf,
    pub addrs: HashMap<String, SocketAddr>,
    extra_config: String,
    /// Every line the server logged so far (stderr), for assertions on logs.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// `--log-format` given to the server.
    log_format: &'static str,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with("")
    }

    /// Starts with extra TOML appended to the base test config (sections must not
    /// repeat the base ones: use keys like `[smtp]` only through `extra_smtp` etc.).
    pub fn start_with(extra_config: &str) -> TestServer {
        TestServer::start_logging(extra_config, "text")
    }

    /// Starts with `--log-format FORMAT` (text or json).
    pub fn start_logging(extra_config: &str, log_format: &'static str) -> TestServer {
        let dir = std::env::temp_dir().join(format!("mailroom-test-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut server = TestServer {
            child: None,
            dir,
            addrs: HashMap::new(),
            extra_config: extra_config.to_string(),
            log: Default::default(),
            log_format,
        };
        server.write_config();
        server.spawn();
        server
    }

    fn write_config(&self) {
        let d = self.dir.display();
        let base = format!(
            r#"hostname = "mail.example.test"
domains = ["example.test", "agents.example.test"]
data_dir = "{d}/data"
"#
        );
        // Sections given in extra_config replace the defaults below section by section.
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
            (
                "auth".into(),
                "argon2_memory_kib = 1024\nargon2_iterations = 1\n".into(),
            ),
        ];
        let mut current: Option<String> = None;
        for line in self.extra_config.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('[') && trimmed.ends_with(']') {
                let name = trimmed.trim_matches(['[', ']']).to_string();
                match sections.iter_mut().find(|(n, _)| *n == name) {
                    Some(_) => {}
                    None => sections.push((name.clone(), String::new())),
                }
                current = Some(name);
            } else if let Some(name) = &current
                && let Some((_, body)) = sections.iter_mut().find(|(n, _)| n == name)
            {
                {
                    let key = trimmed.split('=').next().unwrap_or("").trim();
                    // A key given in extra_config overrides the same key of the base.
                    let kept: Vec<&str> = body
                        .lines()
                        .filter(|l| l.split('=').next().unwrap_or("").trim() != key)
                        .collect();
                    *body = kept.join("\n") + "\n" + line + "\n";
                }
            }
        }
        let mut text = base;
        for (name, body) in sections {
            text.push_str(&format!("\n[{name}]\n{body}"));
        }
        std::fs::write(self.dir.join("mailroom.toml"), text).expect("write config");
    }

    fn spawn(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailroom"))
            .args(["--log-format", self.log_format, "serve", "--config"])
            .arg(self.dir.join("mailroom.toml"))
            .env("MAILROOM_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "info,sled=warn")
            .env_remove("MAILROOM_DATA_DIR")
            .env_remove("MAILROOM_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mailroom");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("MAILROOM_TEST_LOG").is_some() {
                    eprintln!("[server] {line}");
                }
                log.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        self.addrs.clear();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "server did not print ready in time; log:\n{}",
                        self.log.lock().unwrap().join("\n")
                    );
                }
            };
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) {
                let fields = &json["fields"];
                if let (Some("listening"), Some(kind), Some(addr)) = (
                    fields["message"].as_str(),
                    fields["kind"].as_str(),
                    fields["addr"].as_str(),
                ) {
                    self.addrs
                        .entry(kind.to_string())
                        .or_insert(addr.parse().expect("addr"));
                }
                if fields["message"] == "ready" {
                    break;
                }
            }
            if let (Some(kind), Some(addr)) = (field(&line, "kind="), field(&line, "addr="))
                && line.contains("listening")
            {
                {
                    self.addrs
                        .entry(kind.trim_matches('"').to_string())
                        .or_insert(addr.parse().expect("addr"));
                }
            }
            if line.trim_end().ends_with(" ready") {
                break;
            }
        }
        self.child = Some(child);
    }

    pub fn addr(&self, kind: &str) -> SocketAddr {
        *self.addrs.get(kind).unwrap_or_else(|| panic!("no {kind} listener"))
    }

    pub fn api_url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr("api"), path)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Graceful stop (SIGTERM); returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the crash case.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same data directory (new ports).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Starts again after a kill -9.
    pub fn start_again(&mut self) {
        self.spawn();
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(name)? + name.len();
    line[start..].split_whitespace().next()
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64)
}

/// Runs a python3 script (from a string) with arguments; returns (exit code, stdout, stderr).
pub fn python(script: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed for the protocol tests");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// A minimal HTTP/1.1 client (one request per connection) so tests need no
/// async runtime to provision. Returns (status, parsed JSON body or Null).
pub fn http(
    server: &TestServer,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.addr("api")).expect("connect api");
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let body = body.unwrap_or("");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(key) = key {
        req.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// A provisioned inbox: its address, IMAP/SMTP password and ids.
pub struct TestInbox {
    pub id: String,
    pub email: String,
    pub password: String,
    pub api_key: String,
    pub tenant_key: String,
}

/// Creates a tenant and one inbox in it through the API.
pub fn provision(server: &TestServer, username: &str) -> TestInbox {
    let (status, tenant) = http(
        server,
        "POST",
        "/v1/tenants",
        Some(ADMIN_TOKEN),
        Some(&format!("{{\"name\":\"t-{username}\"}}")),
    );
    assert_eq!(status, 201, "create tenant: {tenant}");
    let tenant_key = tenant["apiKey"].as_str().expect("tenant key").to_string();
    let body = format!("{{\"username\":\"{username}\",\"password\":\"correct-horse-battery-{username}\"}}");
    let (status, inbox) = http(server, "POST", "/v1/inboxes", Some(&tenant_key), Some(&body));
    assert_eq!(status, 201, "create inbox: {inbox}");
    TestInbox {
        id: inbox["id"].as_str().expect("id").to_string(),
        email: inbox["email"].as_str().expect("email").to_string(),
        password: format!("correct-horse-battery-{username}"),
        api_key: inbox["apiKey"].as_str().expect("apiKey").to_string(),
        tenant_key,
    }
}

/// A rustls client for the server's self-signed certificate: it accepts any.
pub fn tls_client_config() -> std::sync::Arc<rustls::ClientConfig> {
    tls_client_config_for(rustls::DEFAULT_VERSIONS)
}

/// The same, offering only `versions`.
pub fn tls_client_config_for(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> std::sync::Arc<rustls::ClientConfig> {
    mailroom::tls::opportunistic_client(versions).expect("TLS client config")
}
