//! What every front end shares: the context, listeners, connection limits and
//! graceful shutdown.

use crate::auth::Auth;
use crate::config::Config;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::store::Store;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// Everything a session needs, shared by all listeners.
pub struct Context {
    pub config: Config,
    pub store: Store,
    pub auth: Auth,
    pub events: Events,
    pub metrics: Metrics,
    pub tls: Arc<rustls::ServerConfig>,
    pub tls_acceptor: tokio_rustls::TlsAcceptor,
    /// Flips to true when the server is stopping.
    pub shutdown: watch::Receiver<bool>,
    /// Session tasks, so shutdown can wait for them.
    pub tasks: TaskTracker,
    pub connections: ConnectionLimits,
    /// The outbound queue's shared state (send rate, worker wake-up, DKIM signers).
    pub outbound: crate::delivery::outbound::Outbound,
}

impl Context {
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// A listener role from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerKind {
    SmtpMx,
    SmtpSubmission,
    SmtpSubmissions,
    Imap,
    Imaps,
    Api,
}

impl ListenerKind {
    pub fn name(self) -> &'static str {
        match self {
            ListenerKind::SmtpMx => "smtp-mx",
            ListenerKind::SmtpSubmission => "smtp-submission",
            ListenerKind::SmtpSubmissions => "smtp-submissions",
            ListenerKind::Imap => "imap",
            ListenerKind::Imaps => "imaps",
            ListenerKind::Api => "api",
        }
    }
}

/// Open connections per client address, per protocol family.
#[derive(Default)]
pub struct ConnectionLimits {
    open: Mutex<HashMap<(&'static str, IpAddr), usize>>,
}

/// Holds one connection slot until dropped.
pub struct ConnectionSlot<'a> {
    limits: &'a ConnectionLimits,
    key: (&'static str, IpAddr),
}

impl ConnectionLimits {
    /// Takes a slot for `ip` under `family` unless it already holds `max`.
    pub fn acquire(&self, family: &'static str, ip: IpAddr, max: usize) -> Option<ConnectionSlot<'_>> {
        let mut open = self.open.lock();
        let count = open.entry((family, ip)).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            limits: self,
            key: (family, ip),
        })
    }
}

impl Drop for ConnectionSlot<'_> {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock();
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Binds a listening socket; port 0 takes any free port.
pub fn bind(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("bad address {addr}")))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Turns on TCP keepalive so NAT boxes keep long IDLE sessions (CLIENTS.md), and
/// disables Nagle for our small protocol lines.
pub fn tune_accepted(stream: &tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(std::time::Duration::from_secs(120))
        .with_interval(std::time::Duration::from_secs(30));
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive);
}
