//! The IMAP front end: IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051) with the
//! extensions listed in `capability.rs`. imap-codec parses commands and encodes
//! responses; the session logic is ours, one file per command group.

mod append;
mod capability;
mod compress;
mod copy_move;
mod enable;
mod expunge;
mod fetch;
mod flags;
pub mod framing;
mod idle;
mod login;
mod mailbox;
pub mod message;
mod preparse;
mod response;
mod retain;
mod search;
mod select;
mod selected;
mod session;
mod store;
pub mod utf7;

use crate::net::Stream;
use crate::server::{Context, tune_accepted};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// Accepts IMAP connections until shutdown: `implicit_tls` for the IMAPS port,
/// otherwise plain with STARTTLS.
pub async fn serve(ctx: Arc<Context>, listener: TcpListener, implicit_tls: bool) {
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "imap accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        tune_accepted(&tcp);
        let ctx = ctx.clone();
        ctx.tasks.clone().spawn(async move {
            let max = ctx.config.imap.max_connections_per_ip;
            let Some(_slot) = ctx.connections.acquire("imap", peer.ip(), max) else {
                let mut tcp = tcp;
                let _ = tcp.write_all(b"* BYE Too many connections from your address\r\n").await;
                return;
            };
            let stream = if implicit_tls {
                let handshake = ctx.tls_acceptor.accept(tcp);
                match tokio::time::timeout(session::PREAUTH_TIMEOUT, handshake).await {
                    Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
                    _ => return,
                }
            } else {
                Stream::Plain(tcp)
            };
            ctx.metrics.inc("mailroom_imap_sessions_total", &[]);
            ctx.metrics.gauge_add("mailroom_imap_sessions", &[], 1);
            session::Session::new(ctx.clone(), stream, peer).run().await;
            ctx.metrics.gauge_add("mailroom_imap_sessions", &[], -1);
        });
    }
}
