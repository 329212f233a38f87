//! Helpers for the SMTP protocol tests: a raw line client (plain, STARTTLS, implicit
//! TLS) for exact-bytes transcripts, and reading messages back with Python's imaplib.
#![allow(dead_code)]

use crate::common::{self, TestInbox, TestServer};
use base64::Engine;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const TIMEOUT: Duration = Duration::from_secs(20);

pub trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

fn wrap_tls(stream: Box<dyn ReadWrite>) -> Box<dyn ReadWrite> {
    let name = rustls::pki_types::ServerName::try_from("mail.example.test").expect("name");
    let config = common::tls_client_config();
    let conn = rustls::ClientConnection::new(config, name).expect("tls client");
    Box::new(rustls::StreamOwned::new(conn, stream))
}

/// A raw SMTP client: send bytes, read whole replies.
pub struct Client {
    reader: BufReader<Box<dyn ReadWrite>>,
}

fn connect(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).ok();
    tcp.set_write_timeout(Some(TIMEOUT)).ok();
    tcp
}

impl Client {
    /// Connects and reads the greeting.
    pub fn plain(addr: SocketAddr) -> Client {
        let mut c = Client {
            reader: BufReader::new(Box::new(connect(addr))),
        };
        let greeting = c.reply();
        assert!(greeting.starts_with("220 "), "{greeting}");
        c
    }

    /// Implicit TLS (465-style), greeting read.
    pub fn tls(addr: SocketAddr) -> Client {
        let mut c = Client {
            reader: BufReader::new(wrap_tls(Box::new(connect(addr)))),
        };
        let greeting = c.reply();
        assert!(greeting.starts_with("220 "), "{greeting}");
        c
    }

    /// EHLO, STARTTLS, EHLO again: a plain connection turned TLS.
    pub fn starttls(addr: SocketAddr) -> Client {
        let mut c = Client::plain(addr);
        c.cmd("EHLO client.example");
        assert_eq!(c.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS\r\n");
        let mut c = c.upgrade();
        c.cmd("EHLO client.example");
        c
    }

    /// Starts TLS on this connection (after the server's 220).
    pub fn upgrade(self) -> Client {
        assert!(self.reader.buffer().is_empty(), "unread bytes before TLS");
        Client {
            reader: BufReader::new(wrap_tls(self.reader.into_inner())),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let s = self.reader.get_mut();
        s.write_all(bytes).expect("send");
        s.flush().expect("flush");
    }

    /// Sends without failing when the server already closed.
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        let s = self.reader.get_mut();
        s.write_all(bytes).is_ok() && s.flush().is_ok()
    }

    /// One whole reply, all its lines with their CRLF ("" at EOF).
    pub fn reply(&mut self) -> String {
        let mut out = String::new();
        loop {
            let mut line = Vec::new();
            match self.reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return out,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            let last = line.len() < 4 || line.as_bytes()[3] == b' ';
            out.push_str(&line);
            if last {
                return out;
            }
        }
    }

    /// Sends one command line and returns its reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// True when the server closed the connection.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0) | Err(_))
    }

    /// AUTH PLAIN with an initial response.
    pub fn auth_plain(&mut self, user: &str, password: &str) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        self.cmd(&format!("AUTH PLAIN {token}"))
    }

    /// A whole message transaction; returns the reply to the end of data.
    pub fn send_mail(&mut self, from: &str, to: &str, message: &[u8]) -> String {
        assert!(self.cmd(&format!("MAIL FROM:<{from}>")).starts_with("250 "));
        assert!(self.cmd(&format!("RCPT TO:<{to}>")).starts_with("250 "));
        assert!(self.cmd("DATA").starts_with("354 "));
        self.send(message);
        self.send(b".\r\n");
        self.reply()
    }
}

/// A message read back over IMAP.
#[derive(Debug, Clone)]
pub struct Stored {
    pub uid: u32,
    pub flags: String,
    pub raw: Vec<u8>,
}

impl Stored {
    /// The bytes after our Received field (the first header field).
    pub fn without_received(&self) -> &[u8] {
        assert!(self.raw.starts_with(b"Received: "), "no Received first");
        let mut at = 0;
        while let Some(i) = self.raw[at..].iter().position(|&b| b == b'\n') {
            at += i + 1;
            if !matches!(self.raw.get(at), Some(b'\t' | b' ')) {
                break;
            }
        }
        &self.raw[at..]
    }

    pub fn received(&self) -> String {
        let rest = self.without_received().len();
        String::from_utf8_lossy(&self.raw[..self.raw.len() - rest]).into_owned()
    }
}

const FETCH: &str = r#"
import base64, imaplib, json, re, ssl, sys
host, port, user, password, mailbox = sys.argv[1:6]
c = imaplib.IMAP4_SSL(host, int(port), ssl_context=ssl._create_unverified_context())
token = b"\0" + user.encode() + b"\0" + password.encode()
c.authenticate("PLAIN", lambda _: token)
typ, data = c.select(mailbox, readonly=True)
assert typ == "OK", data
out = []
if int(data[0]) > 0:
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    for item in data:
        if isinstance(item, tuple):
            meta = item[0].decode()
            uid = int(re.search(r"UID (\d+)", meta).group(1))
            flags = re.search(r"FLAGS \(([^)]*)\)", meta).group(1)
            out.append({"uid": uid, "flags": flags, "raw": base64.b64encode(item[1]).decode()})
print(json.dumps(out))
"#;

/// Every message of `mailbox`, read with imaplib over TLS (BODY.PEEK[]).
pub fn fetch_all(server: &TestServer, inbox: &TestInbox, mailbox: &str) -> Vec<Stored> {
    let addr = server.addr("imaps");
    let port = addr.port().to_string();
    let (code, out, err) = common::python(FETCH, &["127.0.0.1", &port, &inbox.email, &inbox.password, mailbox]);
    assert_eq!(code, 0, "imaplib fetch failed: {err}");
    let items: serde_json::Value = serde_json::from_str(out.trim()).expect("fetch json");
    items
        .as_array()
        .expect("array")
        .iter()
        .map(|m| Stored {
            uid: m["uid"].as_u64().expect("uid") as u32,
            flags: m["flags"].as_str().expect("flags").to_string(),
            raw: base64::engine::general_purpose::STANDARD
                .decode(m["raw"].as_str().expect("raw"))
                .expect("base64"),
        })
        .collect()
}

/// A server and one provisioned inbox.
pub struct Smtp {
    pub server: TestServer,
    pub inbox: TestInbox,
}

impl Smtp {
    pub fn start() -> Smtp {
        Smtp::start_with("")
    }

    pub fn start_with(extra: &str) -> Smtp {
        let server = TestServer::start_with(extra);
        let inbox = common::provision(&server, "scout");
        Smtp { server, inbox }
    }

    pub fn mx(&self) -> SocketAddr {
        self.server.addr("smtp-mx")
    }

    pub fn submission(&self) -> SocketAddr {
        self.server.addr("smtp-submission")
    }

    pub fn submissions(&self) -> SocketAddr {
        self.server.addr("smtp-submissions")
    }

    pub fn port(&self, kind: &str) -> String {
        self.server.addr(kind).port().to_string()
    }

    /// A submission connection, TLS and AUTH done.
    pub fn submit_client(&self) -> Client {
        let mut c = Client::starttls(self.submission());
        let r = c.auth_plain(&self.inbox.email, &self.inbox.password);
        assert_eq!(r, "235 2.7.0 Authentication successful\r\n");
        c
    }

    pub fn fetch(&self, mailbox: &str) -> Vec<Stored> {
        fetch_all(&self.server, &self.inbox, mailbox)
    }
}

/// A small CRLF message.
pub fn message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\
         Message-ID: <{}@test.example>\r\n\r\n{body}\r\n",
        subject.replace(' ', "-")
    )
    .into_bytes()
}
