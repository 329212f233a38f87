//! IDLE (RFC 2177): changes by anyone are pushed as they commit, through the inbox
//! change feed; `* OK Still here` every two minutes keeps NAT mappings alive
//! (CLIENTS.md); DONE ends it.

use super::framing::Frame;
use super::session::{AUTH_TIMEOUT, Close, Res, Session};
use std::time::Duration;

impl Session {
    pub async fn cmd_idle(&mut self, tag: &str) -> Res {
        self.sync_selected(true);
        self.out.continuation("idling");
        self.flush().await?;
        let deadline = tokio::time::sleep(AUTH_TIMEOUT);
        tokio::pin!(deadline);
        // Like Dovecot's imap_idle_notify_interval (2 minutes by default).
        let every = Duration::from_secs(self.ctx.config.imap.idle_keepalive_secs.max(1));
        let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut shutdown = self.ctx.shutdown.clone();
        loop {
            // Whatever the client already sent (DONE, pipelined commands) first.
            match self.framer.poll() {
                Frame::Message => {
                    let line = self.framer.take_message();
                    self.framer.finish_message();
                    if line.trim_ascii().eq_ignore_ascii_case(b"DONE") {
                        self.sync_selected(true);
                        self.out.ok(tag, None, "IDLE terminated");
                    } else {
                        self.out.bad(tag, None, "Expected DONE");
                        self.count_bad()?;
                    }
                    return Ok(());
                }
                Frame::Literal { sync, .. } => {
                    self.framer.reject_literal(sync);
                    self.out.bad(tag, None, "Expected DONE");
                    return self.count_bad();
                }
                Frame::TooLong => {
                    self.out.bad(tag, None, "Expected DONE");
                    return self.count_bad();
                }
                Frame::NeedMore => {}
            }
            self.framer.shrink();
            self.framer.prepare_read(super::session::READ_CHUNK);
            let can_rest = self.compressor_held();
            // Lazy: no timer unless a compressor is held.
            let rest = async { tokio::time::sleep(super::compress::REST_AFTER).await };
            let Some(user) = self.user.as_mut() else {
                return Err(Close);
            };
            tokio::select! {
                _ = rest, if can_rest => self.rest_compressor(),
                read = super::compress::read_input(&mut self.stream, &mut self.deflate, self.framer.input_mut()) => {
                    match read {
                        Ok(0) | Err(_) => return Err(Close),
                        Ok(_) => {}
                    }
                }
                changed = user.signal.changed() => {
                    let deleted = changed.is_err() || user.signal.borrow_and_update().deleted;
                    if deleted {
                        self.out.bye(None, "Inbox deleted");
                        return Err(Close);
                    }
                    self.sync_selected(true);
                    self.flush().await?;
                }
                _ = keepalive.tick() => {
                    self.out.untagged_ok(None, "Still here");
                    self.flush().await?;
                }
                _ = shutdown.changed() => {
                    self.out.bye(None, "Server shutting down");
                    return Err(Close);
                }
                _ = &mut deadline => {
                    self.out.bye(None, "Autologout; idle for too long");
                    return Err(Close);
                }
            }
        }
    }
}
