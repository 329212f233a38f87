//! Client TLS for outbound SMTP: a verifying config (webpki roots) for domains that
//! require TLS and for the relay, and an opportunistic one that takes any
//! certificate (RFC 7435: encryption without authentication beats plain text).

use rustls::ClientConfig;
use std::sync::Arc;

pub struct ClientTls {
    pub verified: Arc<ClientConfig>,
    pub opportunistic: Arc<ClientConfig>,
}

impl ClientTls {
    pub fn new() -> Result<ClientTls, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let verified = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(ClientTls {
            verified: Arc::new(verified),
            opportunistic: crate::tls::opportunistic_client(rustls::DEFAULT_VERSIONS)?,
        })
    }
}
