//! A small SMTP client for one transaction on one connection (RFC 5321): greeting,
//! EHLO, STARTTLS (RFC 3207), AUTH PLAIN (RFC 4954), MAIL/RCPT/DATA with PIPELINING
//! (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531).
//! Replies are read line by line with a bound; EHLO capabilities are parsed by
//! smtp-proto.

use base64::Engine;
use smtp_proto::{EXT_8BIT_MIME, EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS, EhloResponse};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Longest reply we read (RFC 5321 4.5.3.1.5 allows 512 per line; servers exceed it).
const MAX_REPLY: usize = 64 * 1024;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How one session behaves.
pub struct Settings<'a> {
    pub helo: &'a str,
    pub command_timeout: Duration,
    pub tls: TlsMode,
    /// Relay credentials.
    pub auth: Option<(&'a str, &'a str)>,
    /// Credentials may go without TLS (a relay on loopback: no wire to sniff).
    pub auth_in_clear: bool,
}

#[derive(Clone)]
pub enum TlsMode {
    /// No STARTTLS (after a failed handshake, for opportunistic hosts).
    Off,
    /// STARTTLS when offered, with this config.
    Opportunistic(Arc<rustls::ClientConfig>),
    /// STARTTLS must be offered and succeed with this (verifying) config.
    Required(Arc<rustls::ClientConfig>),
}

pub struct Envelope<'a> {
    pub mail_from: &'a str,
    pub recipients: &'a [String],
    pub body: &'a [u8],
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Failed { status: String, diagnostic: String },
    Retry { diagnostic: String },
}

/// The session ended before a transaction started; another host may do better.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    Retry(String),
    Fail {
        status: String,
        diagnostic: String,
    },
    /// The TLS handshake failed; an opportunistic host is tried again without it.
    Handshake(String),
}

/// An SMTP reply: the code, the enhanced status code if any, the text.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    raw: Vec<u8>,
}

impl Reply {
    /// The reply on one line, as it goes into logs and DSNs.
    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.raw);
        let lines: Vec<&str> = text.lines().map(|l| l.get(4..).unwrap_or("").trim()).collect();
        format!("{} {}", self.code, lines.join(" ")).trim().to_string()
    }

    /// RFC 3463 status from the reply (RFC 2034), else the class's generic one.
    pub fn status(&self) -> String {
        let text = String::from_utf8_lossy(&self.raw);
        let first = text.get(4..).unwrap_or("").split_whitespace().next().unwrap_or("");
        let class = (self.code / 100).to_string();
        let parts: Vec<&str> = first.split('.').collect();
        if parts.len() == 3 && parts[0] == class && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
            first.to_string()
        } else {
            format!("{class}.0.0")
        }
    }

    fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The outcome for recipients this reply answered.
    fn outcome(&self) -> Outcome {
        if self.is_positive() {
            Outcome::Delivered
        } else if self.code >= 500 {
            Outcome::Failed {
                status: self.status(),
                diagnostic: self.text(),
            }
        } else {
            Outcome::Retry {
                diagnostic: self.text(),
            }
        }
    }

    fn session_error(&self, during: &str) -> SessionError {
        if self.code >= 500 {
            SessionError::Fail {
                status: self.status(),
                diagnostic: self.text(),
            }
        } else {
            SessionError::Retry(format!("{during}: {}", self.text()))
        }
    }
}

struct Conn {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    timeout: Duration,
    tls: bool,
}

impl Conn {
    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        match tokio::time::timeout(self.timeout, self.io.write_all(bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("connection lost: {e}")),
            Err(_) => return Err("timed out writing".into()),
        }
        match tokio::time::timeout(self.timeout, self.io.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("connection lost: {e}")),
            Err(_) => Err("timed out writing".into()),
        }
    }

    /// Reads one (possibly multi-line) reply within `wait`.
    async fn reply_within(&mut self, wait: Duration) -> Result<Reply, String> {
        match tokio::time::timeout(wait, self.read_reply()).await {
            Ok(r) => r,
            Err(_) => Err(format!("no reply within {} s", wait.as_secs())),
        }
    }

    async fn reply(&mut self) -> Result<Reply, String> {
        self.reply_within(self.timeout).await
    }

    async fn read_reply(&mut self) -> Result<Reply, String> {
        let mut start = 0;
        loop {
            // Look for complete lines from `start`; the last line is "ddd " or "ddd".
            while let Some(nl) = self.buf[start..].iter().position(|b| *b == b'\n') {
                let line = &self.buf[start..start + nl + 1];
                let code = parse_code(line).ok_or_else(|| "malformed reply".to_string())?;
                let last = line.get(3).is_none_or(|b| *b != b'-');
                start += nl + 1;
                if last {
                    let raw: Vec<u8> = self.buf.drain(..start).collect();
                    return Ok(Reply { code, raw });
                }
            }
            if self.buf.len() > MAX_REPLY {
                return Err("reply too long".into());
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .io
                .read(&mut chunk)
                .await
                .map_err(|e| format!("connection lost: {e}"))?;
            if n == 0 {
                return Err("connection closed by the server".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn parse_code(line: &[u8]) -> Option<u16> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&digits[0]) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Runs one session on `stream` to `host` (the name checked in the certificate).
pub async fn deliver<S>(
    stream: S,
    host: &str,
    settings: &Settings<'_>,
    envelope: &Envelope<'_>,
) -> Result<Vec<Outcome>, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut conn = Conn {
        io: Box::new(stream),
        buf: Vec::new(),
        timeout: settings.command_timeout,
        tls: false,
    };
    let greeting = conn.reply().await.map_err(SessionError::Retry)?;
    if !greeting.is_positive() {
        return Err(greeting.session_error("greeting"));
    }
    let mut ehlo = hello(&mut conn, settings.helo).await?;
    ehlo = start_tls(&mut conn, ehlo, host, settings).await?;
    if let Some((user, password)) = settings.auth {
        authenticate(&mut conn, user, password, settings.auth_in_clear).await?;
    }
    let result = transaction(&mut conn, &ehlo, envelope).await;
    // RFC 5321 4.1.1.10; the answer does not matter.
    if conn.send(b"QUIT\r\n").await.is_ok() {
        let _ = conn.reply_within(Duration::from_secs(2)).await;
    }
    result
}

/// Capabilities of the server (none after a HELO fallback).
struct Capabilities {
    flags: u32,
    size: usize,
}

async fn hello(conn: &mut Conn, helo: &str) -> Result<Capabilities, SessionError> {
    conn.send(format!("EHLO {helo}\r\n").as_bytes())
        .await
        .map_err(SessionError::Retry)?;
    let reply = conn.reply().await.map_err(SessionError::Retry)?;
    if reply.is_positive() {
        let parsed = EhloResponse::parse(&mut reply.raw.iter()).ok();
        return Ok(Capabilities {
            flags: parsed.as_ref().map_or(0, |e| e.capabilities),
            size: parsed.as_ref().map_or(0, |e| e.size),
        });
    }
    if reply.is_transient() {
        return Err(reply.session_error("EHLO"));
    }
    // RFC 5321 3.2: a server that does not know EHLO gets HELO.
    conn.send(format!("HELO {helo}\r\n").as_bytes())
        .await
        .map_err(SessionError::Retry)?;
    let reply = conn.reply().await.map_err(SessionError::Retry)?;
    if !reply.is_positive() {
        return Err(reply.session_error("HELO"));
    }
    Ok(Capabilities { flags: 0, size: 0 })
}

async fn start_tls(
    conn: &mut Conn,
    ehlo: Capabilities,
    host: &str,
    settings: &Settings<'_>,
) -> Result<Capabilities, SessionError> {
    let offered = ehlo.flags & EXT_START_TLS != 0;
    let (config, required) = match &settings.tls {
        TlsMode::Off => return Ok(ehlo),
        TlsMode::Opportunistic(c) => (c.clone(), false),
        TlsMode::Required(c) => (c.clone(), true),
    };
    if !offered {
        if required {
            return Err(SessionError::Retry(
                "TLS is required but the server does not offer STARTTLS".into(),
            ));
        }
        return Ok(ehlo);
    }
    conn.send(b"STARTTLS\r\n").await.map_err(SessionError::Retry)?;
    let reply = conn.reply().await.map_err(SessionError::Retry)?;
    if reply.code != 220 {
        if required {
            return Err(SessionError::Retry(format!("STARTTLS refused: {}", reply.text())));
        }
        return Ok(ehlo);
    }
    // RFC 3207 4.2: nothing read before the handshake may be used after it.
    conn.buf.clear();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| SessionError::Handshake(format!("{host:?} is not a TLS server name")))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let plain = std::mem::replace(&mut conn.io, Box::new(tokio::io::duplex(1).0));
    let tls = tokio::time::timeout(conn.timeout, connector.connect(name, plain))
        .await
        .map_err(|_| SessionError::Handshake("TLS handshake timed out".into()))?
        .map_err(|e| SessionError::Handshake(format!("TLS handshake: {e}")))?;
    conn.io = Box::new(tls);
    conn.tls = true;
    // RFC 3207 4.2: forget what EHLO said before TLS and ask again.
    hello(conn, settings.helo).await
}

async fn authenticate(conn: &mut Conn, user: &str, password: &str, in_clear: bool) -> Result<(), SessionError> {
    if !conn.tls && !in_clear {
        return Err(SessionError::Retry(
            "the relay offers no TLS; credentials are not sent in clear".into(),
        ));
    }
    // RFC 4616: authzid NUL authcid NUL password, as the RFC 4954 initial response.
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    conn.send(format!("AUTH PLAIN {token}\r\n").as_bytes())
        .await
        .map_err(SessionError::Retry)?;
    let reply = conn.reply().await.map_err(SessionError::Retry)?;
    if reply.code == 235 {
        return Ok(());
    }
    // A refused login is the operator's to fix, not the sender's fault: retry.
    Err(SessionError::Retry(format!(
        "relay refused the credentials: {}",
        reply.text()
    )))
}

async fn transaction(
    conn: &mut Conn,
    ehlo: &Capabilities,
    envelope: &Envelope<'_>,
) -> Result<Vec<Outcome>, SessionError> {
    let all = |o: Outcome| Ok(vec![o; envelope.recipients.len()]);
    let fail = |status: &str, diagnostic: String| {
        all(Outcome::Failed {
            status: status.into(),
            diagnostic,
        })
    };
    let utf8 = !envelope.mail_from.is_ascii() || envelope.recipients.iter().any(|r| !r.is_ascii());
    if utf8 && ehlo.flags & EXT_SMTP_UTF8 == 0 {
        // RFC 6531 3.2: an internationalized address needs SMTPUTF8 at the server.
        return fail(
            "5.6.7",
            "the receiving server does not support SMTPUTF8 addresses".into(),
        );
    }
    let eight_bit = !envelope.body.is_ascii();
    if eight_bit && ehlo.flags & EXT_8BIT_MIME == 0 {
        // RFC 6152 3: 8-bit data only to an 8BITMIME server; converting would break
        // the DKIM signature, so the message is returned instead.
        return fail("5.6.3", "the receiving server does not accept 8-bit messages".into());
    }
    if ehlo.flags & EXT_SIZE != 0 && ehlo.size > 0 && envelope.body.len() > ehlo.size {
        // RFC 1870 6.
        return fail(
            "5.3.4",
            format!("the message is larger than the server's limit of {} bytes", ehlo.size),
        );
    }
    let mut mail = format!("MAIL FROM:<{}>", envelope.mail_from);
    if ehlo.flags & EXT_SIZE != 0 {
        mail.push_str(&format!(" SIZE={}", envelope.body.len()));
    }
    if eight_bit {
        mail.push_str(" BODY=8BITMIME");
    }
    if utf8 {
        mail.push_str(" SMTPUTF8");
    }
    mail.push_str("\r\n");
    let rcpts: Vec<String> = envelope
        .recipients
        .iter()
        .map(|r| format!("RCPT TO:<{}>\r\n", smtp_path(r)))
        .collect();
    let lost = |e: String| all(Outcome::Retry { diagnostic: e });

    let pipelining = ehlo.flags & EXT_PIPELINING != 0;
    let mut outcomes = Vec::with_capacity(rcpts.len());
    let data_reply = if pipelining {
        // RFC 2920 3.1: MAIL, every RCPT and DATA in one group, replies in order.
        let mut group = mail.into_bytes();
        for r in &rcpts {
            group.extend_from_slice(r.as_bytes());
        }
        group.extend_from_slice(b"DATA\r\n");
        if let Err(e) = conn.send(&group).await {
            return lost(e);
        }
        let mail_reply = match conn.reply().await {
            Ok(r) => r,
            Err(e) => return lost(e),
        };
        for _ in &rcpts {
            match conn.reply().await {
                Ok(r) => outcomes.push(r.outcome()),
                Err(e) => return lost(e),
            }
        }
        let data = match conn.reply().await {
            Ok(r) => r,
            Err(e) => return lost(e),
        };
        if !mail_reply.is_positive() {
            if data.code == 354 {
                // The server took DATA anyway: end it empty.
                let _ = conn.send(b".\r\n").await;
                let _ = conn.reply().await;
            }
            return all(mail_reply.outcome());
        }
        data
    } else {
        if let Err(e) = conn.send(mail.as_bytes()).await {
            return lost(e);
        }
        match conn.reply().await {
            Ok(r) if r.is_positive() => {}
            Ok(r) => return all(r.outcome()),
            Err(e) => return lost(e),
        }
        for r in &rcpts {
            if let Err(e) = conn.send(r.as_bytes()).await {
                return lost(e);
            }
            match conn.reply().await {
                Ok(reply) => outcomes.push(reply.outcome()),
                Err(e) => return lost(e),
            }
        }
        if !outcomes.contains(&Outcome::Delivered) {
            return Ok(outcomes);
        }
        if let Err(e) = conn.send(b"DATA\r\n").await {
            return lost(e);
        }
        match conn.reply().await {
            Ok(r) => r,
            Err(e) => return lost(e),
        }
    };
    let accepted = outcomes.iter().filter(|o| **o == Outcome::Delivered).count();
    let mut line_start = true;
    if data_reply.code != 354 {
        // Recipients the server took share the fate DATA got.
        let fate = data_reply.outcome();
        return Ok(replace_accepted(outcomes, &fate));
    }
    if accepted == 0 {
        // RFC 2920 3.1: a 354 with no recipient still needs its end.
        let _ = conn.send(b".\r\n").await;
        let _ = conn.reply().await;
        return Ok(outcomes);
    }
    // In pieces, so a large message is not held twice in memory.
    for piece in envelope.body.chunks(DATA_PIECE) {
        if let Err(e) = conn.send(&dot_stuff_piece(piece, &mut line_start)).await {
            return Ok(replace_accepted(outcomes, &Outcome::Retry { diagnostic: e }));
        }
    }
    if let Err(e) = conn.send(data_end(envelope.body)).await {
        return Ok(replace_accepted(outcomes, &Outcome::Retry { diagnostic: e }));
    }
    // RFC 5321 4.5.3.2.6: the final reply may take up to 10 minutes.
    let end = conn.reply_within(conn.timeout * 2).await;
    let fate = match end {
        Ok(r) => r.outcome(),
        Err(e) => Outcome::Retry { diagnostic: e },
    };
    Ok(replace_accepted(outcomes, &fate))
}

/// `address` as an SMTP path: the envelope keeps addresses unquoted (as
/// smtp-proto parses them), so a local part that is no dot-string is quoted again
/// (RFC 5321 4.1.2); sent bare, `"a> NOTIFY=NEVER"@b` would name another mailbox.
fn smtp_path(address: &str) -> String {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return address.to_string();
    };
    // RFC 5322 3.2.3 atext; RFC 6531 3.3 adds the non-ASCII characters.
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii();
    let dot_string = !local.is_empty() && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext));
    if dot_string {
        return address.to_string();
    }
    let mut quoted = String::with_capacity(address.len() + 4);
    quoted.push('"');
    for c in local.chars() {
        // RFC 5321 4.1.2 quoted-pairSMTP.
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push_str("\"@");
    quoted.push_str(domain);
    quoted
}

/// Recipients accepted at RCPT get `fate`; the others keep their RCPT outcome.
fn replace_accepted(outcomes: Vec<Outcome>, fate: &Outcome) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|o| if o == Outcome::Delivered { fate.clone() } else { o })
        .collect()
}

/// Bytes of the message sent per write during DATA.
const DATA_PIECE: usize = 64 * 1024;

/// One piece of the DATA payload: lines starting with "." get another (RFC 5321
/// 4.5.2). `line_start` carries across pieces.
fn dot_stuff_piece(piece: &[u8], line_start: &mut bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(piece.len() + piece.len() / 64 + 1);
    for &b in piece {
        if *line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        *line_start = b == b'\n';
    }
    out
}

/// The end of DATA: a CRLF first if the message lacks one, then ".".
fn data_end(body: &[u8]) -> &'static [u8] {
    if body.ends_with(b"\r\n") {
        b".\r\n"
    } else {
        b"\r\n.\r\n"
    }
}

/// The whole DATA payload at once (for tests).
#[cfg(test)]
fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut line_start = true;
    let mut out: Vec<u8> = body
        .chunks(3)
        .flat_map(|piece| dot_stuff_piece(piece, &mut line_start))
        .collect();
    out.extend_from_slice(data_end(body));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};

    #[test]
    fn local_parts_that_are_no_dot_string_are_quoted() {
        assert_eq!(smtp_path("a.b+c@x.example"), "a.b+c@x.example");
        assert_eq!(smtp_path("dörte@x.example"), "dörte@x.example");
        assert_eq!(smtp_path("john doe@x.example"), r#""john doe"@x.example"#);
        assert_eq!(smtp_path("a> NOTIFY=NEVER@x"), r#""a> NOTIFY=NEVER"@x"#);
        assert_eq!(smtp_path("a..b@x"), r#""a..b"@x"#);
        assert_eq!(smtp_path(".a@x"), r#"".a"@x"#);
        assert_eq!(smtp_path(r#"a"b\c@d@x"#), r#""a\"b\\c@d"@x"#);
    }

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff(b".a\r\nb\r\n..c\r\n"), b"..a\r\nb\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuff(b"x"), b"x\r\n.\r\n");
    }

    #[test]
    fn reply_status_and_text() {
        let reply = Reply {
            code: 550,
            raw: b"550-5.1.1 no such\r\n550 5.1.1 user\r\n".to_vec(),
        };
        assert_eq!(reply.status(), "5.1.1");
        assert_eq!(reply.text(), "550 5.1.1 no such 5.1.1 user");
        let bare = Reply {
            code: 451,
            raw: b"451 try later\r\n".to_vec(),
        };
        assert_eq!(bare.status(), "4.0.0");
        assert_eq!(parse_code(b"abc"), None);
        assert_eq!(parse_code(b"621 x"), None);
    }

    /// A scripted server: answers each command from `answers` (by its verb).
    async fn scripted(
        server: tokio::io::DuplexStream,
        answers: &'static [(&'static str, &'static str)],
    ) -> Vec<String> {
        let (read, mut write) = tokio::io::split(server);
        let mut lines = BufReader::new(read).lines();
        let mut seen = Vec::new();
        write.write_all(b"220 test ESMTP\r\n").await.unwrap();
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    write.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                }
                seen.push(format!("D:{line}"));
                continue;
            }
            seen.push(line.clone());
            let verb = line.split([' ', ':']).next().unwrap_or("").to_ascii_uppercase();
            let answer = answers
                .iter()
                .find(|(v, _)| line.to_ascii_uppercase().starts_with(v))
                .map(|(_, a)| *a)
                .unwrap_or("250 ok\r\n");
            write.write_all(answer.as_bytes()).await.unwrap();
            if verb == "DATA" && answer.starts_with("354") {
                in_data = true;
            }
            if verb == "QUIT" {
                break;
            }
        }
        seen
    }

    fn settings() -> Settings<'static> {
        Settings {
            helo: "mail.example.test",
            command_timeout: Duration::from_secs(5),
            tls: TlsMode::Off,
            auth: None,
            auth_in_clear: false,
        }
    }

    #[tokio::test]
    async fn pipelined_transaction_with_one_refused_recipient() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        const ANSWERS: &[(&str, &str)] = &[
            (
                "EHLO",
                "250-test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n",
            ),
            ("RCPT TO:<GONE@", "550 5.1.1 no such user\r\n"),
            ("DATA", "354 go\r\n"),
        ];
        let server = tokio::spawn(scripted(server, ANSWERS));
        let recipients = vec!["ok@r.example".to_string(), "gone@r.example".to_string()];
        let envelope = Envelope {
            mail_from: "a@example.test",
            recipients: &recipients,
            body: b"Subject: x\r\n\r\n.hidden\r\n",
        };
        let outcomes = deliver(client, "r.example", &settings(), &envelope).await.unwrap();
        assert_eq!(outcomes[0], Outcome::Delivered);
        assert!(matches!(&outcomes[1], Outcome::Failed { status, .. } if status == "5.1.1"));
        let seen = server.await.unwrap();
        assert!(
            seen.contains(&"MAIL FROM:<a@example.test> SIZE=23".to_string()),
            "{seen:?}"
        );
        assert!(seen.contains(&"D:..hidden".to_string()), "dot-stuffed: {seen:?}");
    }

    #[tokio::test]
    async fn too_big_for_the_server_fails_without_sending() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        const ANSWERS: &[(&str, &str)] = &[("EHLO", "250-test\r\n250 SIZE 10\r\n")];
        let server = tokio::spawn(scripted(server, ANSWERS));
        let recipients = vec!["ok@r.example".to_string()];
        let envelope = Envelope {
            mail_from: "a@example.test",
            recipients: &recipients,
            body: b"Subject: x\r\n\r\nmore than ten bytes\r\n",
        };
        let outcomes = deliver(client, "r.example", &settings(), &envelope).await.unwrap();
        assert!(matches!(&outcomes[0], Outcome::Failed { status, .. } if status == "5.3.4"));
        let seen = server.await.unwrap();
        assert!(!seen.iter().any(|l| l.starts_with("MAIL")), "{seen:?}");
    }

    #[tokio::test]
    async fn required_tls_without_starttls_is_not_sent_in_clear() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        const ANSWERS: &[(&str, &str)] = &[("EHLO", "250 test\r\n")];
        let server = tokio::spawn(scripted(server, ANSWERS));
        let recipients = vec!["ok@r.example".to_string()];
        let envelope = Envelope {
            mail_from: "a@example.test",
            recipients: &recipients,
            body: b"x\r\n",
        };
        let tls = super::super::tls::ClientTls::new().unwrap();
        let mut s = settings();
        s.tls = TlsMode::Required(tls.verified);
        let err = deliver(client, "r.example", &s, &envelope).await.unwrap_err();
        assert!(
            matches!(err, SessionError::Retry(ref m) if m.contains("STARTTLS")),
            "{err:?}"
        );
        drop(server);
    }
}
