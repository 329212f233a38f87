//! One IMAP connection: the state machine (RFC 3501 3 / RFC 9051 3: not
//! authenticated, authenticated, selected, logout), the read/dispatch loop, limits
//! and timeouts. Each command group lives in its own file as `impl Session` blocks.

use super::compress::{Deflate, read_input, write_output};
use super::framing::{Frame, Framer, MAX_LINE};
use super::login::UserSlot;
use super::response::{Out, code};
use super::selected::Selected;
use super::{capability, preparse};
use crate::events::InboxSignal;
use crate::net::Stream;
use crate::server::Context;
use crate::store::Inbox;
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::mailbox::Mailbox;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// RFC 3501 5.4: the autologout timer is at least 30 minutes once authenticated.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Before login the client gets one minute between commands.
pub const PREAUTH_TIMEOUT: Duration = Duration::from_secs(60);
/// Malformed or refused commands tolerated before the session is closed.
pub const MAX_BAD_COMMANDS: u32 = 20;
/// Bytes asked for per read while reading command lines.
pub(super) const READ_CHUNK: usize = 4096;
/// Bytes asked for per read while a large literal is coming.
const LITERAL_CHUNK: usize = 64 * 1024;
/// Literal size allowed outside APPEND.
pub const MAX_LITERAL: u32 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    NotAuthenticated,
    Authenticated,
    Selected,
    Logout,
}

/// The session must end (BYE already queued when there was something to say).
#[derive(Debug)]
pub struct Close;

pub type Res = Result<(), Close>;

/// The logged-in user.
pub struct User {
    pub inbox: Inbox,
    pub signal: watch::Receiver<InboxSignal>,
    pub _slot: UserSlot,
}

/// What the client turned on with ENABLE (RFC 5161) or implicitly.
#[derive(Debug, Default, Clone, Copy)]
pub struct Enabled {
    pub rev2: bool,
    pub utf8: bool,
    pub condstore: bool,
    pub qresync: bool,
}

pub struct Session {
    pub ctx: Arc<Context>,
    pub stream: Stream,
    pub framer: Framer,
    pub out: Out,
    pub peer: SocketAddr,
    pub state: State,
    pub user: Option<User>,
    pub selected: Option<Selected>,
    pub enabled: Enabled,
    pub bad_commands: u32,
    /// Whether this listener offers STARTTLS (plain port).
    pub starttls_offered: bool,
    /// Set once COMPRESS DEFLATE is on.
    pub deflate: Option<Box<Deflate>>,
    shutdown: watch::Receiver<bool>,
    /// For the session-end log line.
    pub commands: u64,
    bytes_in: u64,
    bytes_out: u64,
    started: std::time::Instant,
    ended: &'static str,
}

impl Session {
    pub fn new(ctx: Arc<Context>, stream: Stream, peer: SocketAddr) -> Session {
        let starttls_offered = !stream.is_tls();
        let shutdown = ctx.shutdown.clone();
        Session {
            ctx,
            stream,
            framer: Framer::new(),
            out: Out::default(),
            peer,
            state: State::NotAuthenticated,
            user: None,
            selected: None,
            enabled: Enabled::default(),
            bad_commands: 0,
            starttls_offered,
            deflate: None,
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

    /// The inbox of the logged-in user (only called in authenticated states).
    pub fn inbox_id(&self) -> uuid::Uuid {
        self.user.as_ref().map(|u| u.inbox.id).unwrap_or_default()
    }

    pub async fn run(mut self) {
        let caps = capability::greeting_capabilities(&self);
        self.out.untagged_ok(Some(caps), "mailroom IMAP4rev1 IMAP4rev2 ready");
        if self.flush().await.is_err() {
            return;
        }
        let _ = self.serve().await;
        let _ = self.flush().await;
        self.stream.shutdown().await;
        self.log_end();
    }

    /// One info line per session: who, how much, how long, how it ended.
    fn log_end(&self) {
        let ended = if self.state == State::Logout {
            "logout"
        } else {
            self.ended
        };
        let inbox = self.user.as_ref().map(|u| u.inbox.address());
        tracing::info!(
            protocol = "imap",
            peer = %self.peer,
            tls = self.is_tls(),
            inbox = inbox.as_deref().unwrap_or("-"),
            commands = self.commands,
            bytes_in = self.bytes_in,
            bytes_out = self.bytes_out,
            duration_ms = self.started.elapsed().as_millis() as u64,
            ended,
            "imap session ended"
        );
    }

    async fn serve(&mut self) -> Res {
        loop {
            if self.state == State::Logout {
                return Ok(());
            }
            match self.framer.poll() {
                Frame::Message => {
                    let message = self.framer.take_message();
                    self.framer.finish_message();
                    let result = Box::pin(self.handle(&message)).await;
                    self.framer.recycle(message);
                    result?;
                    if self.out.len() >= super::response::FLUSH_AT {
                        self.flush().await?;
                    }
                    continue;
                }
                Frame::Literal { length, sync } => {
                    self.decide_literal(length, sync).await?;
                    continue;
                }
                Frame::TooLong => {
                    // The client waits for its tag: answer with it whenever it can be read.
                    let (tag, _) = tag_and_command(self.framer.refused_start());
                    let tag = tag.unwrap_or_else(|| "*".into());
                    self.out.bad(&tag, Some(code("TOOBIG")), "Command line too long");
                    self.count_bad()?;
                    continue;
                }
                Frame::NeedMore => {}
            }
            self.flush().await?;
            self.framer.shrink();
            self.wait_input().await?;
        }
    }

    /// Waits for client bytes, watching shutdown, inbox deletion and the idle timer.
    async fn wait_input(&mut self) -> Res {
        let timeout = if self.state == State::NotAuthenticated {
            PREAUTH_TIMEOUT
        } else {
            AUTH_TIMEOUT
        };
        // A large literal on its way is read in bigger pieces.
        let chunk = if self.framer.partial().len() > MAX_LINE {
            LITERAL_CHUNK
        } else {
            READ_CHUNK
        };
        self.framer.prepare_read(chunk);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            let can_rest = self.compressor_held();
            // Lazy: no timer unless a compressor is held.
            let rest = async { tokio::time::sleep(super::compress::REST_AFTER).await };
            let signal = self.user.as_mut().map(|u| &mut u.signal);
            tokio::select! {
                _ = rest, if can_rest => self.rest_compressor(),
                read = read_input(&mut self.stream, &mut self.deflate, self.framer.input_mut()) => {
                    return match read {
                        Ok(0) => Err(Close),
                        Err(_) => {
                            self.ended = "connection error";
                            Err(Close)
                        }
                        Ok(n) => {
                            self.bytes_in += n as u64;
                            Ok(())
                        }
                    };
                }
                _ = self.shutdown.changed() => {
                    self.out.bye(None, "Server shutting down");
                    self.ended = "server shutdown";
                    return Err(Close);
                }
                deleted = inbox_deleted(signal) => {
                    if deleted {
                        self.out.bye(None, "Inbox deleted");
                        self.ended = "inbox deleted";
                        return Err(Close);
                    }
                }
                _ = &mut deadline => {
                    self.out.bye(None, "Autologout; idle for too long");
                    self.ended = "idle timeout";
                    return Err(Close);
                }
            }
        }
    }

    /// Reads until the framer has a complete message (used inside AUTHENTICATE).
    pub async fn read_line_message(&mut self) -> Result<Vec<u8>, Close> {
        loop {
            match self.framer.poll() {
                Frame::Message => {
                    let m = self.framer.take_message();
                    self.framer.finish_message();
                    return Ok(m);
                }
                Frame::Literal { sync, .. } => {
                    self.framer.reject_literal(sync);
                    return Ok(b"*\r\n".to_vec());
                }
                Frame::TooLong => return Ok(b"*\r\n".to_vec()),
                Frame::NeedMore => {}
            }
            self.flush().await?;
            self.wait_input().await?;
        }
    }

    /// The session decides on an announced literal before the client sends it: the
    /// `+` goes out only when the size is acceptable (RFC 3501 7.5, RFC 7888 4).
    async fn decide_literal(&mut self, length: u32, sync: bool) -> Res {
        let (tag, name) = tag_and_command(self.framer.partial());
        let appending = name.eq_ignore_ascii_case("APPEND") && self.state != State::NotAuthenticated;
        let limit = if appending {
            self.append_limit()
        } else {
            u64::from(MAX_LITERAL)
        };
        let total = self.framer.partial().len() as u64 + u64::from(length);
        if u64::from(length) <= limit && total <= limit + u64::from(MAX_LITERAL) {
            self.framer.accept_literal();
            if sync {
                self.out.continuation("Ready for literal data");
                self.flush().await?;
            }
            return Ok(());
        }
        let tag = tag.unwrap_or_else(|| "*".into());
        if !sync {
            // RFC 7888 4: a too large non-synchronizing literal cannot be refused
            // in band; say why and close.
            self.out.bad(&tag, Some(code("TOOBIG")), "Literal too large");
            self.out.bye(None, "Literal too large");
            return Err(Close);
        }
        self.framer.reject_literal(true);
        if appending {
            // RFC 7889: APPENDLIMIT exceeded.
            self.out
                .no(&tag, Some(code("TOOBIG")), "Message larger than APPENDLIMIT");
        } else {
            self.out.bad(&tag, Some(code("TOOBIG")), "Literal too large");
            self.count_bad()?;
        }
        Ok(())
    }

    pub fn append_limit(&self) -> u64 {
        self.ctx.config.smtp.max_message_size
    }

    /// Counts a bad command; too many close the session.
    pub fn count_bad(&mut self) -> Res {
        self.bad_commands += 1;
        if self.bad_commands >= MAX_BAD_COMMANDS {
            self.out.bye(None, "Too many invalid commands");
            self.ended = "too many bad commands";
            return Err(Close);
        }
        Ok(())
    }

    pub async fn flush(&mut self) -> Res {
        if self.out.buf.is_empty() {
            return Ok(());
        }
        let result = write_output(&mut self.stream, &mut self.deflate, &self.out.buf).await;
        self.bytes_out += self.out.buf.len() as u64;
        self.out.buf.clear();
        if self.out.buf.capacity() > 16 * 1024 {
            self.out.buf = Vec::new();
        }
        result.map_err(|_| Close)
    }

    /// Decodes and runs one command message.
    async fn handle(&mut self, message: &[u8]) -> Res {
        let pre = preparse::inspect(message);
        let rewritten;
        let bytes = match &pre.rewritten {
            Some(r) => {
                rewritten = r.clone();
                rewritten.as_slice()
            }
            None => message,
        };
        if let Some(list) = pre.list {
            return self.cmd_list_extended(list).await;
        }
        let command = match CommandCodec::default().decode(bytes) {
            Ok(([], command)) => command,
            _ => {
                let (tag, name) = tag_and_command(message);
                let tag = tag.unwrap_or_else(|| "*".into());
                let known = super::capability::KNOWN_COMMANDS
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(&name));
                let text = if known {
                    format!("Error in IMAP command {}: invalid arguments", name.to_ascii_uppercase())
                } else {
                    "Unknown command".to_string()
                };
                self.out.bad(&tag, None, &text);
                return self.count_bad();
            }
        };
        let tag = command.tag.inner().to_string();
        let name = command.body.name();
        tracing::trace!(command = name, "imap command");
        self.ctx
            .metrics
            .inc("mailroom_imap_commands_total", &[("command", name)]);
        self.commands += 1;
        if !self.allowed(&command.body) {
            let text = match self.state {
                State::NotAuthenticated => "Not authenticated",
                State::Authenticated => "No mailbox selected",
                _ => "Command not valid in this state",
            };
            self.out.bad(&tag, None, text);
            return self.count_bad();
        }
        let started = std::time::Instant::now();
        let result = self.dispatch(&tag, command.body, pre.search_return).await;
        // IDLE lasts as long as the client wants; it would only blur the histogram.
        if name != "IDLE" {
            let labels = [("command", name)];
            (self.ctx.metrics).observe("mailroom_imap_command_duration_seconds", &labels, started.elapsed());
        }
        result
    }

    fn allowed(&self, body: &CommandBody<'_>) -> bool {
        use CommandBody::*;
        match body {
            Capability | Noop | Logout | Id { .. } => true,
            StartTLS | Login { .. } | Authenticate { .. } => self.state == State::NotAuthenticated,
            Select { .. }
            | Examine { .. }
            | Create { .. }
            | Delete { .. }
            | Rename { .. }
            | Subscribe { .. }
            | Unsubscribe { .. }
            | List { .. }
            | Lsub { .. }
            | Status { .. }
            | Append { .. }
            | Enable { .. }
            | Namespace
            | Compress { .. }
            | Idle => matches!(self.state, State::Authenticated | State::Selected),
            Check
            | Close
            | Unselect
            | Expunge
            | ExpungeUid { .. }
            | Search { .. }
            | Sort { .. }
            | Thread { .. }
            | Fetch { .. }
            | Store { .. }
            | Copy { .. }
            | Move { .. } => self.state == State::Selected,
            _ => false,
        }
    }

    async fn dispatch(
        &mut self,
        tag: &str,
        body: CommandBody<'_>,
        search_return: Option<preparse::SearchReturn>,
    ) -> Res {
        use CommandBody::*;
        match body {
            Capability => {
                let caps = capability::capabilities(self);
                self.out.data(imap_codec::imap_types::response::Data::Capability(caps));
                self.out.ok(tag, None, "CAPABILITY completed");
            }
            Noop | Check => {
                self.sync_selected(true);
                self.out.ok(tag, None, &format!("{} completed", body.name()));
            }
            Logout => {
                self.out.bye(None, "Logging out");
                self.out.ok(tag, None, "LOGOUT completed");
                self.state = State::Logout;
            }
            StartTLS => return self.cmd_starttls(tag).await,
            Login { username, password } => {
                let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                let pass = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                return self.cmd_login(tag, &user, &pass).await;
            }
            Authenticate {
                mechanism,
                initial_response,
            } => {
                let initial = initial_response.map(|r| r.declassify().to_vec());
                return self.cmd_authenticate(tag, mechanism.as_ref(), initial).await;
            }
            Id { .. } => self.cmd_id(tag),
            Enable { capabilities } => self.cmd_enable(tag, capabilities.as_ref()),
            Namespace => self.cmd_namespace(tag),
            Compress { algorithm } => return self.cmd_compress(tag, algorithm).await,
            Select { mailbox, parameters } => return self.cmd_select(tag, &mailbox, false, parameters).await,
            Examine { mailbox, parameters } => return self.cmd_select(tag, &mailbox, true, parameters).await,
            Create { mailbox } => self.cmd_create(tag, &mailbox),
            Delete { mailbox } => self.cmd_delete(tag, &mailbox),
            Rename { from, to } => self.cmd_rename(tag, &from, &to),
            Subscribe { mailbox } => self.cmd_subscribe(tag, &mailbox, true),
            Unsubscribe { mailbox } => self.cmd_subscribe(tag, &mailbox, false),
            List {
                reference,
                mailbox_wildcard,
            } => self.cmd_list(tag, &reference, &mailbox_wildcard, false),
            Lsub {
                reference,
                mailbox_wildcard,
            } => self.cmd_list(tag, &reference, &mailbox_wildcard, true),
            Status { mailbox, item_names } => self.cmd_status(tag, &mailbox, &item_names),
            Append {
                mailbox,
                flags,
                date,
                message,
            } => return self.cmd_append(tag, &mailbox, &flags, date, message).await,
            Idle => return self.cmd_idle(tag).await,
            Close => return self.cmd_close(tag, true).await,
            Unselect => return self.cmd_close(tag, false).await,
            Expunge => return self.cmd_expunge(tag, None).await,
            ExpungeUid { sequence_set } => return self.cmd_expunge(tag, Some(&sequence_set)).await,
            Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
                modifiers,
            } => {
                return self
                    .cmd_fetch(tag, &sequence_set, macro_or_item_names, uid, &modifiers)
                    .await;
            }
            Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
                modifiers,
            } => {
                return self
                    .cmd_store(tag, &sequence_set, kind, response, &flags, uid, &modifiers)
                    .await;
            }
            Copy {
                sequence_set,
                mailbox,
                uid,
            } => return self.cmd_copy_move(tag, &sequence_set, &mailbox, uid, false).await,
            Move {
                sequence_set,
                mailbox,
                uid,
            } => return self.cmd_copy_move(tag, &sequence_set, &mailbox, uid, true).await,
            Search { charset, criteria, uid } => {
                return self
                    .cmd_search(tag, charset, criteria.as_ref(), uid, search_return)
                    .await;
            }
            Sort {
                sort_criteria,
                charset,
                search_criteria,
                uid,
            } => {
                return self
                    .cmd_sort(tag, sort_criteria.as_ref(), charset, search_criteria.as_ref(), uid)
                    .await;
            }
            Thread {
                algorithm,
                charset,
                search_criteria,
                uid,
            } => {
                return self
                    .cmd_thread(tag, &algorithm, charset, search_criteria.as_ref(), uid)
                    .await;
            }
            _ => {
                self.out.bad(tag, None, "Command not supported");
                return self.count_bad();
            }
        }
        Ok(())
    }

    /// A mailbox name from the client as the store's UTF-8 name (RFC 3501 5.1.3
    /// modified UTF-7 unless UTF-8 was enabled).
    pub fn mailbox_name(&self, mailbox: &Mailbox<'_>) -> Option<String> {
        match mailbox {
            Mailbox::Inbox => Some("INBOX".into()),
            Mailbox::Other(other) => self.name_from_bytes(other.as_ref()),
        }
    }

    pub fn name_from_bytes(&self, bytes: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(bytes).ok()?;
        if self.enabled.utf8 || !text.is_ascii() {
            return Some(text.to_string());
        }
        super::utf7::decode(text).or_else(|| Some(text.to_string()))
    }

    /// A store name as the client should see it.
    pub fn wire_name(&self, name: &str) -> String {
        if self.enabled.utf8 {
            name.to_string()
        } else {
            super::utf7::encode(name)
        }
    }

    /// Logs a store failure and answers NO (the session goes on).
    pub fn server_error(&mut self, tag: &str, error: impl std::fmt::Display) {
        tracing::error!(%error, "imap: store operation failed");
        self.out.no(tag, Some(code("SERVERBUG")), "Internal error; try again");
    }
}

async fn inbox_deleted(signal: Option<&mut watch::Receiver<InboxSignal>>) -> bool {
    match signal {
        Some(rx) => {
            if rx.changed().await.is_err() {
                // The sender was dropped: the inbox was deleted.
                return true;
            }
            rx.borrow_and_update().deleted
        }
        None => std::future::pending().await,
    }
}

/// The tag and command name of a (possibly partial or malformed) message, for error
/// answers. `UID X` is reported as `X`.
pub fn tag_and_command(message: &[u8]) -> (Option<String>, String) {
    let line = message.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_ascii_whitespace();
    let tag = words.next().filter(|t| valid_tag(t)).map(str::to_string);
    let mut name = words.next().unwrap_or("").to_string();
    if name.eq_ignore_ascii_case("UID") {
        name = words.next().unwrap_or("").to_string();
    }
    (tag, name)
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+' | b']')
        })
}
