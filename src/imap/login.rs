//! STARTTLS, LOGIN and AUTHENTICATE PLAIN (with SASL-IR), and the per-user
//! connection limit.

use super::capability;
use super::response::code;
use super::session::{Close, Res, Session, State, User};
use crate::auth::LoginError;
use imap_codec::AuthenticateDataCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::auth::AuthenticateData;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::OnceLock;
use uuid::Uuid;

/// Open authenticated IMAP sessions per inbox (keyed by inbox id, never by name).
fn open_sessions() -> &'static Mutex<HashMap<Uuid, usize>> {
    static OPEN: OnceLock<Mutex<HashMap<Uuid, usize>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
}

/// One authenticated session of an inbox; released on drop.
pub struct UserSlot {
    inbox: Uuid,
}

impl UserSlot {
    fn acquire(inbox: Uuid, max: usize) -> Option<UserSlot> {
        let mut open = open_sessions().lock();
        let count = open.entry(inbox).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(UserSlot { inbox })
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut open = open_sessions().lock();
        if let Some(count) = open.get_mut(&self.inbox) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.inbox);
            }
        }
    }
}

impl Session {
    /// RFC 3501 6.2.1. Anything the client pipelined after STARTTLS is dropped.
    pub async fn cmd_starttls(&mut self, tag: &str) -> Res {
        if self.is_tls() || !self.starttls_offered {
            self.out.bad(tag, None, "TLS is already active");
            return self.count_bad();
        }
        self.out.ok(tag, None, "Begin TLS negotiation now");
        self.flush().await?;
        self.framer.discard_all();
        let acceptor = self.ctx.tls_acceptor.clone();
        match tokio::time::timeout(super::session::PREAUTH_TIMEOUT, self.stream.upgrade(&acceptor)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Close),
        }
    }

    fn plaintext_refused(&mut self, tag: &str) -> bool {
        if !self.is_tls() {
            // RFC 3501 6.2.3 / LOGINDISABLED: no passwords before TLS.
            self.out.no(tag, Some(code("PRIVACYREQUIRED")), "Use STARTTLS first");
            return true;
        }
        false
    }

    pub async fn cmd_login(&mut self, tag: &str, user: &str, password: &str) -> Res {
        if self.plaintext_refused(tag) {
            return self.count_bad();
        }
        self.finish_login(tag, user, password).await
    }

    pub async fn cmd_authenticate(&mut self, tag: &str, mechanism: &str, initial: Option<Vec<u8>>) -> Res {
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            self.out.no(tag, None, "Unsupported authentication mechanism");
            return Ok(());
        }
        if self.plaintext_refused(tag) {
            return self.count_bad();
        }
        let response = match initial {
            Some(r) => r,
            None => {
                self.out.empty_challenge();
                self.flush().await?;
                let line = self.read_line_message().await?;
                match AuthenticateDataCodec::default().decode(&line) {
                    Ok((_, AuthenticateData::Continue(data))) => data.declassify().to_vec(),
                    Ok((_, AuthenticateData::Cancel)) => {
                        self.out.bad(tag, None, "Authentication canceled");
                        return Ok(());
                    }
                    Err(_) => {
                        self.out.bad(tag, None, "Invalid SASL response");
                        return self.count_bad();
                    }
                }
            }
        };
        // RFC 4616: [authzid] NUL authcid NUL passwd.
        let mut parts = response.split(|&b| b == 0);
        let (Some(authz), Some(authc), Some(pass), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            self.out.bad(tag, None, "Invalid PLAIN response");
            return self.count_bad();
        };
        let authc = String::from_utf8_lossy(authc).into_owned();
        let pass = String::from_utf8_lossy(pass).into_owned();
        if !authz.is_empty() && !authz.eq_ignore_ascii_case(authc.as_bytes()) {
            self.out
                .no(tag, Some(code("AUTHORIZATIONFAILED")), "Cannot act as another user");
            return Ok(());
        }
        self.finish_login(tag, &authc, &pass).await
    }

    async fn finish_login(&mut self, tag: &str, user: &str, password: &str) -> Res {
        let ip = self.peer.ip();
        match self.ctx.auth.login(user, password, ip).await {
            Ok(inbox) => {
                let max = self.ctx.config.imap.max_connections_per_user;
                let Some(slot) = UserSlot::acquire(inbox.id, max) else {
                    // CLIENTS.md: over the limit is not an authentication failure.
                    self.out
                        .no(tag, Some(code("LIMIT")), "Too many connections for this user");
                    return Ok(());
                };
                let signal = self.ctx.events.subscribe(inbox.id);
                // An inbox deleted between the password check and the subscription
                // would never tell this session to close: look once more.
                if !matches!(self.ctx.store.inbox(inbox.id), Ok(Some(_))) {
                    self.out
                        .no(tag, Some(code("AUTHENTICATIONFAILED")), "Authentication failed");
                    return Ok(());
                }
                tracing::debug!(inbox = %inbox.id, "imap login");
                self.ctx.metrics.inc("mailroom_imap_logins_total", &[("result", "ok")]);
                self.user = Some(User {
                    inbox,
                    signal,
                    _slot: slot,
                });
                self.state = State::Authenticated;
                let caps = capability::greeting_capabilities(self);
                self.out.ok(tag, Some(caps), "Logged in");
            }
            Err(LoginError::Failed) => {
                self.ctx
                    .metrics
                    .inc("mailroom_imap_logins_total", &[("result", "failed")]);
                self.out
                    .no(tag, Some(code("AUTHENTICATIONFAILED")), "Authentication failed");
                self.count_bad()?;
            }
            Err(LoginError::Throttled) => {
                self.ctx
                    .metrics
                    .inc("mailroom_imap_logins_total", &[("result", "throttled")]);
                self.out.no(
                    tag,
                    Some(code("UNAVAILABLE")),
                    "Too many failed logins; try again later",
                );
                self.count_bad()?;
            }
            Err(LoginError::Unavailable) => {
                self.out
                    .no(tag, Some(code("UNAVAILABLE")), "Authentication is unavailable");
            }
        }
        Ok(())
    }
}
