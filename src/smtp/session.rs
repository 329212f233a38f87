//! One SMTP connection: the state machine (greeting, EHLO, optional STARTTLS and
//! AUTH, then mail transactions), the read/dispatch loop, limits and timeouts. MAIL
//! and RCPT live in `envelope.rs`, DATA and BDAT in `data.rs`, AUTH in `auth.rs`.

use super::body::Body;
use super::input::{Input, Line, command_limit};
use super::{Listener, reply};
use crate::net::Stream;
use crate::server::Context;
use crate::store::Inbox;
use smtp_proto::{Error as ParseError, Request};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Malformed or refused commands tolerated before the session is closed.
pub const MAX_BAD_COMMANDS: u32 = 20;
/// Bytes asked for per read between commands, and while a message comes in.
const COMMAND_READ: usize = 4 * 1024;
const DATA_READ: usize = 64 * 1024;
/// Reply bytes kept between commands; more is released after a flush.
const KEEP_OUT: usize = 4 * 1024;

/// The session must end (a reply saying why is already queued when there is one).
#[derive(Debug)]
pub struct Close;

pub type Res = Result<(), Close>;

/// One mail transaction, from MAIL to the end of the message (RFC 5321 3.3).
pub struct Transaction {
    pub mail_from: String,
    pub smtputf8: bool,
    /// The SIZE the client declared (RFC 1870), 0 when it did not.
    pub declared_size: u64,
    /// Local recipient inboxes, each once.
    pub local: Vec<Uuid>,
    /// Recipients at other domains (submission only).
    pub remote: Vec<String>,
    /// Accepted RCPT commands (duplicates included), for the recipient limit.
    pub accepted: usize,
    /// The only recipient, for the Received field, while there is exactly one.
    pub first_rcpt: Option<String>,
    /// A BDAT message being collected.
    pub chunks: Option<Body>,
    /// When MAIL FROM came, for the transaction-time histogram.
    pub started: std::time::Instant,
}

impl Transaction {
    pub fn has_recipients(&self) -> bool {
        !self.local.is_empty() || !self.remote.is_empty()
    }
}

pub struct Session {
    pub ctx: Arc<Context>,
    pub listener: Arc<Listener>,
    pub stream: Stream,
    pub input: Input,
    /// The current command line (reused).
    line: Vec<u8>,
    out: Vec<u8>,
    pub peer: SocketAddr,
    pub id: u64,
    /// Messages accepted in this session, for message ids.
    pub messages: u32,
    /// The name given in EHLO/HELO.
    pub helo: Option<String>,
    pub esmtp: bool,
    pub user: Option<Inbox>,
    pub tx: Option<Transaction>,
    bad_commands: u32,
    idle: Duration,
    shutdown: watch::Receiver<bool>,
    /// For the session-end log line.
    commands: u64,
    bytes_in: u64,
    bytes_out: u64,
    started: std::time::Instant,
    ended: &'static str,
}

impl Session {
    pub fn new(ctx: Arc<Context>, listener: Arc<Listener>, stream: Stream, peer: SocketAddr, id: u64) -> Session {
        let idle = Duration::from_secs(ctx.config.smtp.idle_timeout_secs);
        let shutdown = ctx.shutdown.clone();
        Session {
            ctx,
            listener,
            stream,
            input: Input::default(),
            line: Vec::new(),
            out: Vec::new(),
            peer,
            id,
            messages: 0,
            helo: None,
            esmtp: false,
            user: None,
            tx: None,
            bad_commands: 0,
            idle,
            shutdown,
            commands: 0,
            bytes_in: 0,
            bytes_out: 0,
            started: std::time::Instant::now(),
            ended: "client closed",
        }
    }

    pub fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    pub async fn run(mut self) {
        let greeting = self.listener.greeting.clone();
        self.out.extend_from_slice(&greeting);
        if self.flush().await.is_ok() {
            let _ = self.serve().await;
            let _ = self.flush().await;
        }
        self.stream.shutdown().await;
        self.log_end();
    }

    /// One info line per session (the span adds session id, peer and port).
    fn log_end(&self) {
        let inbox = self.user.as_ref().map(|u| u.address());
        tracing::info!(
            protocol = "smtp",
            tls = self.is_tls(),
            inbox = inbox.as_deref().unwrap_or("-"),
            commands = self.commands,
            messages = self.messages,
            bytes_in = self.bytes_in,
            bytes_out = self.bytes_out,
            duration_ms = self.started.elapsed().as_millis() as u64,
            ended = self.ended,
            "smtp session ended"
        );
    }

    async fn serve(&mut self) -> Res {
        loop {
            match self
                .input
                .next_line(&mut self.line, |start| command_limit(start, false))
            {
                Line::Complete => {
                    let line = std::mem::take(&mut self.line);
                    self.commands += 1;
                    let result = self.command(&line).await;
                    self.line = line;
                    result?;
                }
                Line::TooLong => {
                    self.reply(reply::LINE_TOO_LONG);
                    self.count_bad()?;
                }
                Line::NeedMore => {
                    // RFC 2920 3.1: answers to a pipelined group go out together,
                    // once everything the client sent is handled.
                    self.flush().await?;
                    self.input.shrink();
                    self.read(COMMAND_READ).await?;
                }
            }
        }
    }

    /// Queues one reply line.
    pub fn reply(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn reply_bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub async fn flush(&mut self) -> Res {
        if self.out.is_empty() {
            return Ok(());
        }
        let result = self.stream.write_all(&self.out).await;
        self.bytes_out += self.out.len() as u64;
        self.out.clear();
        if self.out.capacity() > KEEP_OUT {
            self.out = Vec::new();
        }
        result.map_err(|_| Close)
    }

    /// Waits for client bytes (at most the idle timeout), watching for shutdown.
    pub async fn read(&mut self, want: usize) -> Res {
        let buf = self.input.read_buffer(want);
        tokio::select! {
            read = self.stream.read_into(buf) => match read {
                Ok(0) => Err(Close),
                Err(_) => {
                    self.ended = "connection error";
                    Err(Close)
                }
                Ok(n) => {
                    self.bytes_in += n as u64;
                    Ok(())
                }
            },
            _ = self.shutdown.changed() => {
                self.reply(reply::SHUTTING_DOWN);
                self.ended = "server shutdown";
                Err(Close)
            }
            // RFC 5321 4.5.3.2.7: the server waits at least 5 minutes by default.
            _ = tokio::time::sleep(self.idle) => {
                self.reply(reply::IDLE_TIMEOUT);
                self.ended = "idle timeout";
                Err(Close)
            }
        }
    }

    pub async fn read_data(&mut self) -> Res {
        self.read(DATA_READ).await
    }

    /// Counts a refused command; too many end the session.
    pub fn count_bad(&mut self) -> Res {
        self.bad_commands += 1;
        if self.bad_commands >= MAX_BAD_COMMANDS {
            self.reply(reply::TOO_MANY_ERRORS);
            self.ended = "too many bad commands";
            return Err(Close);
        }
        Ok(())
    }

    /// Replies and counts the command as bad.
    pub fn refuse(&mut self, text: &str) -> Res {
        self.reply(text);
        self.count_bad()
    }

    async fn command(&mut self, line: &[u8]) -> Res {
        let content = &line[..line.len().saturating_sub(1)];
        if content.contains(&0) {
            return self.refuse(reply::NUL_IN_COMMAND);
        }
        if content.contains(&b'\r') {
            return self.refuse(reply::BARE_CR_IN_COMMAND);
        }
        let request = match Request::parse(&mut line.iter()) {
            Ok(request) => request,
            Err(e) => return self.parse_error(e),
        };
        self.dispatch(request).await
    }

    fn parse_error(&mut self, e: ParseError) -> Res {
        match e {
            ParseError::UnknownCommand => self.refuse(reply::UNRECOGNIZED),
            ParseError::SyntaxError { syntax } => self.refuse(&format!("501 5.5.4 Syntax: {syntax}")),
            ParseError::InvalidSenderAddress => self.refuse(reply::BAD_SENDER_SYNTAX),
            ParseError::InvalidRecipientAddress => self.refuse(reply::BAD_RECIPIENT_SYNTAX),
            ParseError::InvalidParameter { param } => self.refuse(&format!("501 5.5.4 Invalid {param} parameter")),
            ParseError::UnsupportedParameter { .. } => self.refuse(reply::UNSUPPORTED_PARAMETER),
            _ => self.refuse(reply::SYNTAX),
        }
    }

    async fn dispatch(&mut self, request: Request<Cow<'_, str>>) -> Res {
        match request {
            Request::Ehlo { host } => self.hello(&host, true),
            Request::Helo { host } => self.hello(&host, false),
            Request::StartTls => self.starttls().await,
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, &initial_response).await,
            Request::Mail { from } => self.mail(from),
            Request::Rcpt { to } => self.rcpt(to),
            Request::Data => self.data().await,
            Request::Bdat { chunk_size, is_last } => self.bdat(chunk_size, is_last).await,
            Request::Rset => {
                // RFC 5321 4.1.1.5: RSET clears the transaction, not the session.
                self.tx = None;
                self.reply(reply::OK);
                Ok(())
            }
            Request::Noop { .. } => {
                self.reply(reply::OK);
                Ok(())
            }
            Request::Vrfy { .. } | Request::Expn { .. } => {
                self.reply(reply::CANNOT_VRFY);
                Ok(())
            }
            Request::Help { .. } => {
                self.reply(reply::HELP);
                Ok(())
            }
            Request::Quit => {
                self.reply(reply::BYE);
                self.ended = "quit";
                Err(Close)
            }
            Request::Lhlo { .. } => self.refuse(reply::UNRECOGNIZED),
            Request::Etrn { .. } | Request::Atrn { .. } | Request::Burl { .. } => self.refuse(reply::NOT_IMPLEMENTED),
        }
    }

    /// EHLO and HELO (RFC 5321 4.1.1.1); both also reset the transaction.
    fn hello(&mut self, host: &str, esmtp: bool) -> Res {
        self.helo = Some(host.to_string());
        self.esmtp = esmtp;
        self.tx = None;
        let listener = self.listener.clone();
        let answer = match (esmtp, self.is_tls()) {
            (false, _) => &listener.helo,
            (true, false) => &listener.ehlo_plain,
            (true, true) => &listener.ehlo_tls,
        };
        self.reply_bytes(answer);
        Ok(())
    }

    /// RFC 3207. What the client pipelined after STARTTLS is dropped, and the session
    /// starts over under TLS (4.2: forget EHLO and everything learned before).
    async fn starttls(&mut self) -> Res {
        if self.is_tls() {
            return self.refuse(reply::TLS_ACTIVE);
        }
        self.reply(reply::START_TLS);
        self.flush().await?;
        self.input.discard_all();
        let acceptor = self.ctx.tls_acceptor.clone();
        match tokio::time::timeout(super::HANDSHAKE_TIMEOUT, self.stream.upgrade(&acceptor)).await {
            Ok(Ok(())) => {
                self.helo = None;
                self.esmtp = false;
                self.tx = None;
                Ok(())
            }
            _ => Err(Close),
        }
    }
}
