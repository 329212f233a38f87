//! Shared helpers of the IMAP protocol tests: a server with one provisioned inbox,
//! Python imaplib scripts, and a raw line client for exact-bytes transcripts.
#![allow(dead_code)]

pub use crate::common::tls_client_config;
use crate::common::{TestInbox, TestServer, provision, python};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Imap {
    pub server: TestServer,
    pub inbox: TestInbox,
}

impl Imap {
    pub fn start() -> Imap {
        Imap::start_with("")
    }

    pub fn start_with(extra: &str) -> Imap {
        let server = TestServer::start_with(extra);
        let inbox = provision(&server, "alice");
        Imap { server, inbox }
    }

    pub fn port(&self, kind: &str) -> String {
        self.server.addr(kind).port().to_string()
    }

    /// Runs a Python script with imaplib. The script gets `HOST, TLS_PORT, PLAIN_PORT,
    /// USER, PASSWORD` and helpers `tls()` (IMAP4_SSL, logged in), `starttls()`
    /// (IMAP4 + STARTTLS, logged in) and `ok(typ_data)`. Returns stdout; panics with
    /// the script's stderr when it fails.
    pub fn py(&self, body: &str) -> String {
        let script = format!("{PRELUDE}\n{body}\n");
        let tls = self.port("imaps");
        let plain = self.port("imap");
        let (code, out, err) = python(&script, &[&tls, &plain, &self.inbox.email, &self.inbox.password]);
        assert_eq!(code, 0, "python failed:\nstdout:\n{out}\nstderr:\n{err}");
        out
    }

    /// Appends `count` generated messages through imaplib (one connection).
    pub fn append_many(&self, count: usize, mailbox: &str) {
        self.py(&format!(
            r#"
c = tls()
for i in range({count}):
    msg = ("From: Sender %d <s%d@example.org>\r\nTo: alice@example.test\r\nSubject: message %d\r\n"
           "Message-ID: <m%d@example.org>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nBody of message %d\r\n") % (i, i, i, i, i)
    ok(c.append("{mailbox}", None, None, msg.encode()))
c.logout()
"#
        ));
    }

    /// A raw TLS connection for exact-bytes transcripts.
    pub fn raw_tls(&self) -> Raw {
        Raw::tls(self.server.addr("imaps"))
    }

    pub fn raw_plain(&self) -> Raw {
        Raw::plain(self.server.addr("imap"))
    }
}

const PRELUDE: &str = r#"
import imaplib, ssl, sys, time, socket
HOST = "127.0.0.1"
TLS_PORT, PLAIN_PORT, USER, PASSWORD = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
def ok(r):
    typ, data = r
    assert typ == "OK", (typ, data)
    return data
def tls(login=True):
    c = imaplib.IMAP4_SSL(HOST, TLS_PORT, ssl_context=CTX, timeout=20)
    if login:
        ok(c.login(USER, PASSWORD))
    return c
def starttls(login=True):
    c = imaplib.IMAP4(HOST, PLAIN_PORT, timeout=20)
    ok(c.starttls(ssl_context=CTX))
    if login:
        ok(c.login(USER, PASSWORD))
    return c
"#;

/// A line-oriented client over a raw socket (optionally TLS via rustls).
pub struct Raw {
    reader: BufReader<Box<dyn ReadWrite>>,
}

pub trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

pub fn wrap_tls(tcp: TcpStream) -> Box<dyn ReadWrite> {
    let name = rustls::pki_types::ServerName::try_from("mail.example.test").expect("name");
    let conn = rustls::ClientConnection::new(tls_client_config(), name).expect("tls client");
    Box::new(rustls::StreamOwned::new(conn, tcp))
}

impl Raw {
    pub fn plain(addr: std::net::SocketAddr) -> Raw {
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(TIMEOUT)).ok();
        tcp.set_write_timeout(Some(TIMEOUT)).ok();
        Raw {
            reader: BufReader::new(Box::new(tcp)),
        }
    }

    pub fn tls(addr: std::net::SocketAddr) -> Raw {
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(TIMEOUT)).ok();
        tcp.set_write_timeout(Some(TIMEOUT)).ok();
        Raw {
            reader: BufReader::new(wrap_tls(tcp)),
        }
    }

    pub fn from_stream(stream: Box<dyn ReadWrite>) -> Raw {
        Raw {
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let s = self.reader.get_mut();
        s.write_all(bytes).expect("send");
        s.flush().expect("flush");
    }

    /// One line including CRLF ("" at EOF).
    pub fn line(&mut self) -> String {
        let mut buf = Vec::new();
        let _ = self.reader.read_until(b'\n', &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Reads exactly `n` bytes (a literal).
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.reader.read_exact(&mut buf).expect("literal bytes");
        buf
    }

    /// Everything up to and including the tagged response of `tag`, literals inline.
    pub fn until_tagged(&mut self, tag: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let mut out = String::new();
        loop {
            assert!(Instant::now() < deadline, "no tagged response; got:\n{out}");
            let line = self.line();
            assert!(!line.is_empty(), "connection closed; got:\n{out}");
            out.push_str(&line);
            if let Some(n) = literal_len(&line) {
                out.push_str(&String::from_utf8_lossy(&self.bytes(n)));
                continue;
            }
            if line.starts_with(&format!("{tag} ")) {
                return out;
            }
        }
    }

    /// Sends `tag command` and returns the whole answer.
    pub fn cmd(&mut self, tag: &str, command: &str) -> String {
        self.send(format!("{tag} {command}\r\n").as_bytes());
        self.until_tagged(tag)
    }

    pub fn login(&mut self, user: &str, password: &str) {
        let greeting = self.line();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        let r = self.cmd("L1", &format!("LOGIN \"{user}\" \"{password}\""));
        assert!(r.contains("L1 OK"), "{r}");
    }

    /// Reads until EOF or timeout; returns what came.
    pub fn rest(&mut self) -> String {
        let mut out = Vec::new();
        let _ = self.reader.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn literal_len(line: &str) -> Option<usize> {
    let line = line.trim_end_matches("\r\n");
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].parse().ok()
}
