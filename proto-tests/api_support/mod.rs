//! HTTP helpers for the control API tests: a plain HTTP/1.1 client that keeps the
//! status, headers and body, raw byte requests, and curl.
#![allow(dead_code)]

use crate::common::{ADMIN_TOKEN, TestServer};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

pub struct Resp {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The error code of a JSON error body.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }

    pub fn show(&self) -> String {
        format!("{} {:?} {}", self.status, self.headers, self.body)
    }
}

/// Sends raw bytes on a new connection and parses the whole answer.
pub fn raw(server: &TestServer, request: &[u8]) -> Resp {
    let mut stream = TcpStream::connect(server.addr("api")).expect("connect api");
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let _ = stream.write_all(request);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    parse(&out)
}

pub fn parse(out: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
        json: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// A request with extra headers; a body is sent with its Content-Length.
pub fn request(server: &TestServer, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    raw(server, &bytes)
}

/// A JSON request with a Bearer key.
pub fn call(server: &TestServer, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> Resp {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = Vec::new();
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth.as_str()));
    }
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    request(server, method, path, &headers, body.map(str::as_bytes))
}

/// curl -si with the arguments; the answer parsed.
pub fn curl(args: &[&str]) -> Resp {
    let out = Command::new("curl")
        .args(["-si", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl is needed for the API tests");
    parse(&out.stdout)
}

/// A new tenant: (id, tk_ key).
pub fn tenant(server: &TestServer, name: &str, max_inboxes: Option<u32>) -> (String, String) {
    let body = match max_inboxes {
        Some(max) => format!(r#"{{"name":"{name}","maxInboxes":{max}}}"#),
        None => format!(r#"{{"name":"{name}"}}"#),
    };
    let r = call(server, "POST", "/v1/tenants", Some(ADMIN_TOKEN), Some(&body));
    assert_eq!(r.status, 201, "{}", r.show());
    (str_of(&r.json["id"]), str_of(&r.json["apiKey"]))
}

/// Creates an inbox with `body`; asserts the status and returns the answer.
pub fn inbox(server: &TestServer, key: &str, body: &str, status: u16) -> Resp {
    let r = call(server, "POST", "/v1/inboxes", Some(key), Some(body));
    assert_eq!(r.status, status, "{}", r.show());
    r
}

pub fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_string()
}

/// Python imaplib LOGIN over implicit TLS (certificate checks off: the dev cert is
/// self-signed); prints OK or the server's refusal.
pub fn imap_login(server: &TestServer, user: &str, password: &str) -> String {
    let script = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx, timeout=20)
try:
    typ, data = c.login(sys.argv[2], sys.argv[3])
    print(typ)
    c.logout()
except imaplib.IMAP4.error as e:
    print("REFUSED", e)
"#;
    let port = server.addr("imaps").port().to_string();
    let (code, out, err) = crate::common::python(script, &[&port, user, password]);
    assert_eq!(code, 0, "python failed: {out}{err}");
    out.trim().to_string()
}
