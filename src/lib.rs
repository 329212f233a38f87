//! mailroom: a mail server for AI agents.
//!
//! One process runs SMTP, IMAP and the HTTP control API over one embedded store.
//! See DESIGN.md for the layers: the front ends (`api`, `smtp`, `imap`) use
//! `delivery`, `auth`, `mail`, `events` and `store`, and never each other.

mod alloc;
pub mod api;
pub mod auth;
pub mod config;
pub mod delivery;
pub mod events;
pub mod imap;
pub mod mail;
pub mod metrics;
pub mod net;
pub mod server;
pub mod smtp;
pub mod store;
pub mod tls;

use config::Config;
use server::{Context, ListenerKind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for open sessions before closing anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("{0}")]
    Setup(String),
    #[error("{kind} cannot listen on {addr}: {error}")]
    Bind {
        kind: &'static str,
        addr: String,
        error: std::io::Error,
    },
}

/// A started server: its bound addresses and the handle to stop it.
pub struct RunningServer {
    pub context: Arc<Context>,
    pub addresses: Vec<(ListenerKind, SocketAddr)>,
    stop: watch::Sender<bool>,
    listeners: TaskTracker,
}

impl RunningServer {
    /// The first bound address of a listener kind.
    pub fn address(&self, kind: ListenerKind) -> Option<SocketAddr> {
        self.addresses.iter().find(|(k, _)| *k == kind).map(|(_, a)| *a)
    }

    /// Stops accepting, lets sessions end (bounded), flushes the store.
    pub async fn shutdown(self) -> Result<(), store::StoreError> {
        let _ = self.stop.send(true);
        self.listeners.close();
        self.listeners.wait().await;
        self.context.tasks.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, self.context.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("sessions still open after {DRAIN_TIMEOUT:?}; closing anyway");
        }
        self.context.store.flush_blocking()
    }
}

/// Opens the store, loads TLS, binds every configured listener and starts serving.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    let store = store::Store::open(&config.data_dir, config.store.cache_mb)?;
    let admin_token = auth::admin_token(config.admin_token.as_deref(), &config.data_dir)
        .map_err(|e| StartError::Setup(format!("admin token in {}: {e}", config.data_dir.display())))?;
    let tls = tls::server_config(&config.tls.cert, &config.tls.key, &config.hostname)?;
    let auth = auth::Auth::new(store.clone(), &config, &admin_token).map_err(StartError::Setup)?;
    let (stop, shutdown) = watch::channel(false);
    let listener_plan = [
        (ListenerKind::SmtpMx, config.smtp.mx.clone()),
        (ListenerKind::SmtpSubmission, config.smtp.submission.clone()),
        (ListenerKind::SmtpSubmissions, config.smtp.submissions.clone()),
        (ListenerKind::Imap, config.imap.listen.clone()),
        (ListenerKind::Imaps, config.imap.listen_tls.clone()),
        (ListenerKind::Api, config.api.listen.clone()),
    ];
    let mut bound = Vec::new();
    for (kind, addrs) in listener_plan {
        for addr in addrs {
            let listener = server::bind(&addr).map_err(|error| StartError::Bind {
                kind: kind.name(),
                addr,
                error,
            })?;
            bound.push((kind, listener));
        }
    }
    let outbound = delivery::outbound::Outbound::new(&config);
    let context = Arc::new(Context {
        config,
        store,
        auth,
        events: events::Events::default(),
        metrics: metrics::Metrics::default(),
        tls_acceptor: tokio_rustls::TlsAcceptor::from(tls.clone()),
        tls,
        shutdown,
        tasks: TaskTracker::new(),
        connections: server::ConnectionLimits::default(),
        outbound,
    });
    let listeners = TaskTracker::new();
    let mut addresses = Vec::new();
    for (kind, listener) in bound {
        let addr = listener.local_addr().map_err(|e| StartError::Setup(e.to_string()))?;
        tracing::info!(kind = kind.name(), addr = %addr, "listening");
        addresses.push((kind, addr));
        let ctx = context.clone();
        match kind {
            ListenerKind::Api => listeners.spawn(api::serve(ctx, listener)),
            ListenerKind::Imap => listeners.spawn(imap::serve(ctx, listener, false)),
            ListenerKind::Imaps => listeners.spawn(imap::serve(ctx, listener, true)),
            ListenerKind::SmtpMx | ListenerKind::SmtpSubmission | ListenerKind::SmtpSubmissions => {
                listeners.spawn(smtp::serve(ctx, listener, kind))
            }
        };
    }
    // Outbound delivery workers; queued mail from an earlier run resumes here.
    context.tasks.spawn(delivery::outbound::run(context.clone()));
    tracing::info!("ready");
    Ok(RunningServer {
        context,
        addresses,
        stop,
        listeners,
    })
}
