//! AUTH PLAIN and LOGIN (RFC 4954, RFC 4616), on submission ports and only under
//! TLS. The login is an inbox address and the password IMAP uses too, checked by
//! `auth::Auth::login` (throttled; one answer for unknown user and bad password).

use super::input::{Line, command_limit};
use super::reply;
use super::session::{Close, Res, Session};
use crate::auth::LoginError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// A SASL response, or the client's `*` (RFC 4954 4: cancel).
enum Response {
    Data(Vec<u8>),
    Cancelled,
    Malformed,
    TooLong,
}

impl Response {
    /// The decoded bytes, or the reply that ends the exchange.
    fn data(self) -> Result<Vec<u8>, &'static str> {
        match self {
            Response::Data(d) => Ok(d),
            Response::Cancelled => Err(reply::AUTH_CANCELLED),
            Response::Malformed => Err(reply::BAD_BASE64),
            Response::TooLong => Err(reply::SASL_TOO_LONG),
        }
    }
}

impl Session {
    pub async fn auth(&mut self, mechanism: u64, initial: &str) -> Res {
        if !self.listener.role.is_submission() {
            return self.refuse(reply::NO_AUTH_HERE);
        }
        if !self.is_tls() {
            return self.refuse(reply::ENCRYPTION_REQUIRED);
        }
        if !self.esmtp {
            return self.refuse(reply::EHLO_FIRST);
        }
        if self.user.is_some() {
            return self.refuse(reply::ALREADY_AUTHENTICATED);
        }
        if self.tx.is_some() {
            return self.refuse(reply::AUTH_IN_TRANSACTION);
        }
        let credentials = match mechanism {
            smtp_proto::AUTH_PLAIN => self.plain(initial).await?,
            smtp_proto::AUTH_LOGIN => self.login_exchange(initial).await?,
            _ => return self.refuse(reply::UNKNOWN_MECHANISM),
        };
        match credentials {
            Ok((user, password)) => self.verify(&user, &password).await,
            Err(text) => self.refuse(text),
        }
    }

    /// RFC 4616: `[authzid] NUL authcid NUL passwd`, in the initial response or after
    /// an empty challenge.
    async fn plain(&mut self, initial: &str) -> Result<Result<(String, String), &'static str>, Close> {
        let response = match initial {
            "" => self.challenge("334 ").await?,
            // RFC 4954 4: "=" is an empty initial response.
            "=" => Response::Data(Vec::new()),
            given => decode(given.as_bytes()),
        };
        let data = match response.data() {
            Ok(d) => d,
            Err(text) => return Ok(Err(text)),
        };
        let mut parts = data.split(|&b| b == 0);
        let (Some(authz), Some(authc), Some(pass), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(Err(reply::BAD_BASE64));
        };
        let (Ok(authc), Ok(pass)) = (std::str::from_utf8(authc), std::str::from_utf8(pass)) else {
            return Ok(Err(reply::AUTH_FAILED));
        };
        if !authz.is_empty() && !authz.eq_ignore_ascii_case(authc.as_bytes()) {
            // Acting as another user is not offered.
            return Ok(Err(reply::AUTH_FAILED));
        }
        Ok(Ok((authc.to_string(), pass.to_string())))
    }

    /// The LOGIN mechanism: user name and password in turn. CLIENTS.md quirk
    /// (Outlook, some libraries): the user name may come as an initial response.
    async fn login_exchange(&mut self, initial: &str) -> Result<Result<(String, String), &'static str>, Close> {
        let user = match initial {
            "" => self.challenge("334 VXNlcm5hbWU6").await?,
            given => decode(given.as_bytes()),
        };
        let user = match user.data() {
            Ok(d) => d,
            Err(text) => return Ok(Err(text)),
        };
        let pass = match self.challenge("334 UGFzc3dvcmQ6").await?.data() {
            Ok(d) => d,
            Err(text) => return Ok(Err(text)),
        };
        match (String::from_utf8(user), String::from_utf8(pass)) {
            (Ok(user), Ok(pass)) => Ok(Ok((user, pass))),
            _ => Ok(Err(reply::AUTH_FAILED)),
        }
    }

    /// Sends a challenge and reads the client's one-line answer.
    async fn challenge(&mut self, text: &str) -> Result<Response, Close> {
        self.reply(text);
        self.flush().await?;
        let mut line = Vec::new();
        loop {
            match self.input.next_line(&mut line, |start| command_limit(start, true)) {
                Line::Complete => break,
                Line::TooLong => return Ok(Response::TooLong),
                Line::NeedMore => self.read(1024).await?,
            }
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if text == b"*" {
            return Ok(Response::Cancelled);
        }
        Ok(decode(text))
    }

    async fn verify(&mut self, user: &str, password: &str) -> Res {
        match self.ctx.auth.login(user, password, self.peer.ip()).await {
            Ok(inbox) if inbox.paused => {
                // A paused inbox cannot submit.
                self.ctx
                    .metrics
                    .inc("mailroom_smtp_logins_total", &[("result", "disabled")]);
                self.refuse(reply::ACCOUNT_DISABLED)
            }
            Ok(inbox) => {
                self.ctx.metrics.inc("mailroom_smtp_logins_total", &[("result", "ok")]);
                tracing::Span::current().record("user", inbox.address().as_str());
                tracing::debug!(inbox = %inbox.id, "smtp login");
                self.user = Some(inbox);
                self.reply(reply::AUTH_OK);
                Ok(())
            }
            Err(LoginError::Failed) => {
                self.ctx
                    .metrics
                    .inc("mailroom_smtp_logins_total", &[("result", "failed")]);
                self.refuse(reply::AUTH_FAILED)
            }
            Err(LoginError::Throttled) => {
                self.ctx
                    .metrics
                    .inc("mailroom_smtp_logins_total", &[("result", "throttled")]);
                self.refuse(reply::AUTH_TEMP_FAILURE)
            }
            Err(LoginError::Unavailable) => {
                self.reply(reply::AUTH_TEMP_FAILURE);
                Ok(())
            }
        }
    }
}

fn decode(text: &[u8]) -> Response {
    match BASE64.decode(text) {
        Ok(d) => Response::Data(d),
        Err(_) => Response::Malformed,
    }
}
