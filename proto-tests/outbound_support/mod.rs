//! The far end of outbound tests: a Python SMTP receiver (receiver.py beside this
//! file) on a free loopback port, whose events the test reads. Usable with the
//! in-process server and with the real binary (TestServer) alike.
#![allow(dead_code)]

pub mod dns;

use base64::Engine;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/proto-tests/outbound_support/receiver.py");

pub struct Receiver {
    child: Child,
    pub port: u16,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    /// Starts a receiver; `args` as receiver.py documents (`--plan 451,ok` ...).
    pub fn start(args: &[&str]) -> Receiver {
        let mut child = Command::new("python3")
            .arg(SCRIPT)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is needed for the outbound tests");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let port = first
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("receiver did not start: {first:?}"));
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        std::thread::spawn(move || {
            for line in lines {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        Receiver { child, port, events }
    }

    /// `127.0.0.1:PORT`, for `[delivery] relay`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// Events of one kind ("message", "deferred", "dropped", "connect", "rejected").
    pub fn of(&self, kind: &str) -> Vec<Value> {
        self.events().into_iter().filter(|e| e["event"] == kind).collect()
    }

    /// Waits until `done` holds for the events seen so far; false on timeout.
    pub fn wait(&self, timeout: Duration, done: impl Fn(&[Value]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if done(&self.events()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        done(&self.events())
    }

    /// Waits for `n` accepted messages.
    pub fn wait_messages(&self, n: usize, timeout: Duration) -> Vec<Value> {
        self.wait(timeout, |e| count(e, "message") >= n);
        self.of("message")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["event"] == kind).count()
}

/// The message bytes of a "message" event.
pub fn data(event: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(event["data"].as_str().unwrap_or_default())
        .unwrap_or_default()
}

/// The TXT value in a zone-file line as `mailroom dkim-record` prints it: the
/// quoted strings joined (RFC 6376 3.6.2.2).
pub fn txt_value(zone_line: &str) -> String {
    zone_line.split('"').skip(1).step_by(2).collect()
}

/// The DKIM verdicts mail-auth gives `raw` with `record` published for the domain.
pub async fn verify_dkim(raw: &[u8], record_value: &str) -> Vec<mail_auth::DkimResult> {
    use mail_auth::common::parse::TxtRecordParser;
    use mail_auth::common::verify::DomainKey;
    use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
    let authenticator = mail_auth::MessageAuthenticator::new(ResolverConfig::default(), ResolverOpts::default())
        .expect("authenticator");
    let cache = TxtCache::default();
    let key = DomainKey::parse(record_value.as_bytes()).expect("the published record parses");
    mail_auth::ResolverCache::insert(
        &cache,
        "mailroom._domainkey.example.test.".to_string(),
        mail_auth::Txt::from(key),
        std::time::Instant::now() + Duration::from_secs(3600),
    );
    let message = mail_auth::AuthenticatedMessage::parse(raw).expect("parses");
    let params = mail_auth::Parameters::new(&message).with_txt_cache(&cache);
    authenticator
        .verify_dkim(params)
        .await
        .iter()
        .map(|o| o.result().clone())
        .collect()
}

/// A TXT cache holding the record the CLI printed, so the verifier needs no DNS.
#[derive(Default)]
pub struct TxtCache(std::sync::Mutex<std::collections::HashMap<String, mail_auth::Txt>>);

impl mail_auth::ResolverCache<String, mail_auth::Txt> for TxtCache {
    fn get<Q>(&self, key: &Q) -> Option<mail_auth::Txt>
    where
        String: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(key).cloned()
    }

    fn remove<Q>(&self, key: &Q) -> Option<mail_auth::Txt>
    where
        String: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(key)
    }

    fn insert(&self, key: String, value: mail_auth::Txt, _valid_until: std::time::Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

/// Checks `raw`'s DKIM signature with dkimpy (PyPI, in the venv `.ci/run` makes),
/// its DNS look-up answered with `record_value` for the test domain's selector.
/// Returns dkimpy's verdict and the names it asked for.
pub fn verify_dkim_with_dkimpy(raw: &[u8], record_value: &str) -> (bool, String) {
    use std::io::Write;
    const SCRIPT: &str = r#"
import sys
try:
    import dkim
except ImportError:
    sys.exit("dkimpy is missing: run `bash .ci/run` once, or `python3 -m venv .ci/venv && .ci/venv/bin/pip install dkimpy`")
record = sys.argv[1].encode()
asked = []
def dnsfunc(name, timeout=5):
    asked.append(name.decode())
    return record if name == b"mailroom._domainkey.example.test." else None
ok = dkim.verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc)
print("pass" if ok else "fail", " ".join(asked))
"#;
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/venv/bin/python3");
    let python = if std::path::Path::new(venv).exists() {
        venv
    } else {
        "python3"
    };
    let mut child = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(record_value)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the outbound tests");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(raw)
        .expect("write message");
    let out = child.wait_with_output().expect("dkimpy ran");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "dkimpy failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    (stdout.starts_with("pass "), stdout.trim().to_string())
}
