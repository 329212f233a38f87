//! The SMTP front end: MX (port-25 role: local recipients only, no AUTH, no relay),
//! submission (RFC 6409, STARTTLS then AUTH) and submissions (RFC 8314, implicit
//! TLS). One session state machine serves all three; smtp-proto parses the command
//! lines, which `input` cuts first. The message itself goes to `delivery`.

mod auth;
mod body;
mod data;
mod envelope;
mod input;
mod reply;
mod session;

use crate::config::Config;
use crate::net::Stream;
use crate::server::{Context, ListenerKind, tune_accepted};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tracing::Instrument;

/// Longest wait for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a listener is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Mx,
    /// Submission over STARTTLS (587-style).
    Submission,
    /// Submission over implicit TLS (465-style).
    Submissions,
}

impl Role {
    pub fn is_submission(self) -> bool {
        self != Role::Mx
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Mx => "mx",
            Role::Submission => "submission",
            Role::Submissions => "submissions",
        }
    }
}

/// A listener's fixed answers, built once rather than per session or command.
pub struct Listener {
    pub role: Role,
    pub greeting: Vec<u8>,
    /// EHLO answer before TLS (offers STARTTLS, never AUTH).
    pub ehlo_plain: Vec<u8>,
    /// EHLO answer under TLS (AUTH on submission ports).
    pub ehlo_tls: Vec<u8>,
    pub helo: Vec<u8>,
    pub hostname: String,
    pub max_message_size: u64,
}

impl Listener {
    pub fn new(config: &Config, role: Role) -> Listener {
        let host = &config.hostname;
        Listener {
            role,
            greeting: format!("220 {host} ESMTP mailroom\r\n").into_bytes(),
            ehlo_plain: ehlo_answer(host, config.smtp.max_message_size, true, false),
            ehlo_tls: ehlo_answer(host, config.smtp.max_message_size, false, role.is_submission()),
            helo: format!("250 {host}\r\n").into_bytes(),
            hostname: host.clone(),
            max_message_size: config.smtp.max_message_size,
        }
    }
}

/// The EHLO answer (RFC 5321 4.1.1.1), one extension per line.
fn ehlo_answer(host: &str, max_size: u64, starttls: bool, auth: bool) -> Vec<u8> {
    let size = format!("SIZE {max_size}");
    let mut lines: Vec<&str> = vec![
        host,
        "PIPELINING",          // RFC 2920
        &size,                 // RFC 1870
        "8BITMIME",            // RFC 6152
        "SMTPUTF8",            // RFC 6531
        "ENHANCEDSTATUSCODES", // RFC 2034
        "CHUNKING",            // RFC 3030
        "DSN",                 // RFC 3461: parameters accepted
    ];
    if starttls {
        lines.push("STARTTLS"); // RFC 3207
    }
    if auth {
        lines.push("AUTH PLAIN LOGIN"); // RFC 4954; LOGIN for Outlook and older libraries
    }
    lines.push("HELP");
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        out.push_str(&format!("250{sep}{line}\r\n"));
    }
    out.into_bytes()
}

/// Session ids: unique in this process, and unlikely to repeat across restarts.
fn next_session_id() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| (crate::store::now_millis() as u64) << 16);
    seed.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Accepts connections for `kind` until shutdown.
pub async fn serve(ctx: Arc<Context>, listener: TcpListener, kind: ListenerKind) {
    let role = match kind {
        ListenerKind::SmtpSubmission => Role::Submission,
        ListenerKind::SmtpSubmissions => Role::Submissions,
        _ => Role::Mx,
    };
    let settings = Arc::new(Listener::new(&ctx.config, role));
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "smtp accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        tune_accepted(&tcp);
        let ctx = ctx.clone();
        let settings = settings.clone();
        let id = next_session_id();
        let span = tracing::info_span!("smtp", sid = %format_args!("{id:x}"), %peer, port = role.name(), user = tracing::field::Empty);
        ctx.tasks.clone().spawn(
            async move {
                let max = ctx.config.smtp.max_connections_per_ip;
                let Some(_slot) = ctx.connections.acquire("smtp", peer.ip(), max) else {
                    let mut tcp = tcp;
                    let _ = tcp
                        .write_all(b"421 4.7.0 Too many connections from your address\r\n")
                        .await;
                    return;
                };
                let stream = if role == Role::Submissions {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, ctx.tls_acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
                        _ => return,
                    }
                } else {
                    Stream::Plain(tcp)
                };
                let labels = [("port", role.name())];
                ctx.metrics.inc("mailroom_smtp_sessions_total", &labels);
                ctx.metrics.gauge_add("mailroom_smtp_sessions", &labels, 1);
                session::Session::new(ctx.clone(), settings, stream, peer, id)
                    .run()
                    .await;
                ctx.metrics.gauge_add("mailroom_smtp_sessions", &labels, -1);
            }
            .instrument(span),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ehlo_answers_are_built_once_per_role() {
        let config = Config::default();
        let mx = Listener::new(&config, Role::Mx);
        let plain = String::from_utf8(mx.ehlo_plain.clone()).unwrap();
        assert!(plain.starts_with("250-localhost\r\n250-PIPELINING\r\n"));
        assert!(plain.contains("250-SIZE 26214400\r\n") && plain.contains("250-STARTTLS\r\n"));
        assert!(plain.ends_with("250 HELP\r\n") && !plain.contains("AUTH"));
        assert!(!String::from_utf8_lossy(&mx.ehlo_tls).contains("AUTH"));
        let sub = Listener::new(&config, Role::Submission);
        assert!(!String::from_utf8_lossy(&sub.ehlo_plain).contains("AUTH"));
        let tls = String::from_utf8(sub.ehlo_tls.clone()).unwrap();
        assert!(tls.contains("250-AUTH PLAIN LOGIN\r\n") && !tls.contains("STARTTLS"));
        assert_ne!(next_session_id(), next_session_id());
    }
}
