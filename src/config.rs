//! Typed configuration: `config/mailroom.toml` plus environment overrides.
//!
//! Every key has a default, so an empty file is a valid config. A bad file is
//! refused with the file name, the key and what is wrong with it.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG_PATH: &str = "config/mailroom.toml";

#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {reason}")]
pub struct ConfigError {
    pub file: String,
    pub key: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The name this server answers with in SMTP greetings and in the inbox object.
    pub hostname: String,
    /// Mail domains this server hosts; the first one is the default.
    pub domains: Vec<String>,
    pub data_dir: PathBuf,
    /// Operator token acting as an `sa_` key. Generated on first start when unset.
    pub admin_token: Option<String>,
    pub tls: TlsConfig,
    pub smtp: SmtpConfig,
    pub imap: ImapConfig,
    pub api: ApiConfig,
    pub store: StoreConfig,
    pub auth: AuthConfig,
    pub public: PublicConfig,
    pub delivery: DeliveryConfig,
    #[serde(skip)]
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Port-25 role: inbound mail for local recipients, no AUTH, no relay.
    pub mx: Vec<String>,
    /// RFC 6409 submission with STARTTLS.
    pub submission: Vec<String>,
    /// RFC 8314 submission over implicit TLS.
    pub submissions: Vec<String>,
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub idle_timeout_secs: u64,
    pub max_connections_per_ip: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImapConfig {
    /// Plain IMAP with STARTTLS.
    pub listen: Vec<String>,
    /// IMAP over implicit TLS.
    pub listen_tls: Vec<String>,
    pub max_connections_per_ip: usize,
    /// Authenticated sessions per inbox; over it LOGIN answers `NO [LIMIT]`.
    pub max_connections_per_user: usize,
    /// `* OK Still here` interval during IDLE (CLIENTS.md: about 2 minutes).
    pub idle_keepalive_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub listen: Vec<String>,
    pub max_body_bytes: usize,
    /// Requests per second allowed per API key (token bucket); 0 disables the limit.
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    /// When true, GET /metrics needs an `sa_` key.
    pub metrics_require_auth: bool,
    /// Open connections per client address; over it the connection gets one 503.
    pub max_connections_per_ip: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// sled page cache in MiB.
    pub cache_mb: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// argon2id memory cost in KiB, iterations and lanes for inbox passwords.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_lanes: u32,
    /// How long a verified login is remembered, so reconnecting clients skip argon2.
    pub verify_cache_secs: u64,
    /// Failed logins are counted over this window (per account and per client address).
    pub throttle_window_secs: u64,
    /// Failures for one account before its logins wait (growing to `throttle_max_delay_ms`).
    pub account_free_failures: u32,
    /// Failures for one account after which its logins are refused until the window passes.
    pub account_refuse_after: u32,
    /// Failures from one client address (any accounts) before its failed answers wait.
    pub address_free_failures: u32,
    /// Failures from one address after which its failed logins are answered "try again
    /// later" after the longest wait. A correct password is still accepted at once.
    pub address_refuse_after: u32,
    /// The longest wait a throttled login gets.
    pub throttle_max_delay_ms: u64,
    /// Client networks (CIDR, e.g. "10.0.0.0/8") that get only the per-account limit.
    pub trusted_networks: Vec<ipnet::IpNet>,
}

/// The names clients are told to use, which need not be the bind addresses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicConfig {
    /// Defaults to `hostname`.
    pub host: Option<String>,
    /// Implicit TLS (RFC 8314), as autoconfig, autodiscover and mobileconfig say.
    pub imap_port: u16,
    /// Submission with STARTTLS (RFC 6409).
    pub smtp_port: u16,
    /// The provider name mail clients show for an account set up from here.
    pub display_name: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hostname: "localhost".into(),
            domains: vec!["example.test".into()],
            data_dir: PathBuf::from("./data"),
            admin_token: None,
            tls: TlsConfig::default(),
            smtp: SmtpConfig::default(),
            imap: ImapConfig::default(),
            api: ApiConfig::default(),
            store: StoreConfig::default(),
            auth: AuthConfig::default(),
            public: PublicConfig::default(),
            delivery: DeliveryConfig::default(),
            source: "(defaults)".into(),
        }
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert: PathBuf::from("certs/cert.pem"),
            key: PathBuf::from("certs/key.pem"),
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            mx: vec!["127.0.0.1:2525".into()],
            submission: vec!["127.0.0.1:2587".into()],
            submissions: vec!["127.0.0.1:2465".into()],
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            idle_timeout_secs: 300,
            max_connections_per_ip: 50,
        }
    }
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            listen: vec!["127.0.0.1:1143".into()],
            listen_tls: vec!["127.0.0.1:1993".into()],
            max_connections_per_ip: 100,
            max_connections_per_user: 50,
            idle_keepalive_secs: 120,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: vec!["127.0.0.1:8080".into()],
            max_body_bytes: 1024 * 1024,
            rate_limit_per_second: 100,
            rate_limit_burst: 200,
            metrics_require_auth: false,
            max_connections_per_ip: 256,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { cache_mb: 8 }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        // The argon2 crate's defaults (OWASP's minimum for argon2id).
        AuthConfig {
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_lanes: 1,
            verify_cache_secs: 300,
            throttle_window_secs: 15 * 60,
            account_free_failures: 3,
            account_refuse_after: 15,
            address_free_failures: 10,
            address_refuse_after: 30,
            throttle_max_delay_ms: 4000,
            trusted_networks: Vec::new(),
        }
    }
}

impl Default for PublicConfig {
    fn default() -> Self {
        PublicConfig {
            host: None,
            imap_port: 993,
            smtp_port: 587,
            display_name: "mailroom".into(),
        }
    }
}

impl Config {
    /// Reads the config named by `path`, or `MAILROOM_CONFIG`, or the default path,
    /// then applies the environment overrides and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env_path = std::env::var_os("MAILROOM_CONFIG").map(PathBuf::from);
        let path = path
            .map(Path::to_path_buf)
            .or(env_path)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH));
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
            file: file.clone(),
            key: "(file)".into(),
            reason: format!("cannot read: {e}"),
        })?;
        let mut config = Config::parse(&text, &file)?;
        config.apply_env();
        config.validate()?;
        Ok(config)
    }

    /// Parses config text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_string(),
            key: toml_error_key(text, &e),
            reason: e.message().to_string(),
        })?;
        config.source = file.to_string();
        Ok(config)
    }

    fn apply_env(&mut self) {
        if let Some(dir) = std::env::var_os("MAILROOM_DATA_DIR") {
            self.data_dir = PathBuf::from(dir);
        }
        if let Ok(token) = std::env::var("MAILROOM_ADMIN_TOKEN")
            && !token.is_empty()
        {
            self.admin_token = Some(token);
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| ConfigError {
            file: self.source.clone(),
            key: key.to_string(),
            reason,
        };
        if !is_hostname(&self.hostname) {
            return Err(err("hostname", format!("{:?} is not a host name", self.hostname)));
        }
        if self.domains.is_empty() {
            return Err(err("domains", "at least one mail domain is needed".into()));
        }
        for domain in &self.domains {
            if !is_hostname(domain) {
                return Err(err("domains", format!("{domain:?} is not a domain name")));
            }
        }
        let listeners = [
            ("smtp.mx", &self.smtp.mx),
            ("smtp.submission", &self.smtp.submission),
            ("smtp.submissions", &self.smtp.submissions),
            ("imap.listen", &self.imap.listen),
            ("imap.listen_tls", &self.imap.listen_tls),
            ("api.listen", &self.api.listen),
        ];
        for (key, addrs) in listeners {
            for addr in addrs {
                if addr.parse::<SocketAddr>().is_err() {
                    return Err(err(key, format!("{addr:?} is not host:port (e.g. 127.0.0.1:2525)")));
                }
            }
        }
        if self.smtp.max_message_size < 1024 || self.smtp.max_message_size > 1 << 30 {
            return Err(err(
                "smtp.max_message_size",
                "must be between 1024 and 1073741824 bytes".into(),
            ));
        }
        if self.smtp.max_recipients == 0 {
            return Err(err("smtp.max_recipients", "must be at least 1".into()));
        }
        if self.smtp.idle_timeout_secs == 0 {
            return Err(err("smtp.idle_timeout_secs", "must be at least 1".into()));
        }
        if self.api.max_body_bytes < 1024 {
            return Err(err("api.max_body_bytes", "must be at least 1024".into()));
        }
        if self.auth.argon2_memory_kib < 8 * self.auth.argon2_lanes.max(1)
            || self.auth.argon2_iterations == 0
            || self.auth.argon2_lanes == 0
        {
            return Err(err("auth", "argon2 parameters out of range".into()));
        }
        let a = &self.auth;
        if a.throttle_window_secs == 0 {
            return Err(err("auth.throttle_window_secs", "must be at least 1".into()));
        }
        if a.account_refuse_after <= a.account_free_failures {
            return Err(err(
                "auth.account_refuse_after",
                "must be more than auth.account_free_failures".into(),
            ));
        }
        if a.address_refuse_after <= a.address_free_failures {
            return Err(err(
                "auth.address_refuse_after",
                "must be more than auth.address_free_failures".into(),
            ));
        }
        if a.throttle_max_delay_ms > 60_000 {
            return Err(err("auth.throttle_max_delay_ms", "at most 60000 (one minute)".into()));
        }
        let name = &self.public.display_name;
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(err(
                "public.display_name",
                "1 to 64 characters, no control characters".into(),
            ));
        }
        self.delivery
            .validate()
            .map_err(|(key, reason)| err(&format!("delivery.{key}"), reason))?;
        if let Some(token) = &self.admin_token
            && token.len() < 16
        {
            return Err(err("admin_token", "must be at least 16 characters".into()));
        }
        Ok(())
    }

    pub fn default_domain(&self) -> &str {
        self.domains.first().map(String::as_str).unwrap_or("localhost")
    }

    pub fn public_host(&self) -> &str {
        self.public.host.as_deref().unwrap_or(&self.hostname)
    }

    /// True when `domain` (any case) is one of ours.
    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// Outbound delivery to other domains: the queue, its workers, DKIM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// When false, mail to other domains is refused at submission (550 5.7.1).
    pub enabled: bool,
    /// `host:port` of a smarthost that takes all remote mail instead of MX lookup.
    pub relay: Option<String>,
    pub relay_username: Option<String>,
    pub relay_password: Option<Secret>,
    /// Check the relay's certificate when it offers STARTTLS (false for a dev relay
    /// with a self-signed certificate).
    pub relay_tls_verify: bool,
    /// Recipient domains whose mail goes only over STARTTLS with a valid certificate.
    pub require_tls_domains: Vec<String>,
    /// Waits between attempts; the last one repeats until the message expires.
    pub retry_schedule_secs: Vec<u64>,
    /// A message not delivered after this long is bounced.
    pub max_lifetime_secs: u64,
    /// Connections at once to one destination domain.
    pub per_domain_concurrency: usize,
    /// Deliveries at once in total.
    pub workers: usize,
    /// Messages one inbox may submit per minute to other domains; 0 turns it off.
    pub send_rate_per_minute: u32,
    pub connect_timeout_secs: u64,
    /// Each SMTP reply (RFC 5321 4.5.3.2 suggests 5 minutes; the end of DATA gets twice it).
    pub command_timeout_secs: u64,
    /// Name given in EHLO (defaults to `hostname`).
    pub helo_name: Option<String>,
    /// Port tried on MX hosts (25; tests point it elsewhere).
    pub mx_port: u16,
    /// DNS servers (`ip:port`) for MX and address lookups; empty means the system's.
    pub dns_servers: Vec<String>,
    /// Deliver to MX hosts whose addresses are loopback, private or link-local.
    /// Off by default: an agent could otherwise point a domain's MX at the
    /// server's own network. The configured relay is always allowed.
    pub allow_private_mx: bool,
    pub dkim_selector: String,
    /// `rsa` (RSA-2048, understood everywhere) or `ed25519` (RFC 8463) for new keys.
    pub dkim_algorithm: String,
    /// Per-domain choice for new keys, overriding `dkim_algorithm`.
    pub dkim_domain_algorithms: std::collections::BTreeMap<String, String>,
}

/// A configured secret: never shown by `Debug`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"(secret)\"")
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            enabled: true,
            relay: None,
            relay_username: None,
            relay_password: None,
            relay_tls_verify: true,
            require_tls_domains: Vec::new(),
            // 1 m, 5 m, 15 m, 1 h, 2 h, then every 4 h.
            retry_schedule_secs: vec![60, 300, 900, 3600, 7200, 14400],
            max_lifetime_secs: 5 * 24 * 3600,
            per_domain_concurrency: 4,
            workers: 32,
            send_rate_per_minute: 60,
            connect_timeout_secs: 30,
            command_timeout_secs: 300,
            helo_name: None,
            mx_port: 25,
            dns_servers: Vec::new(),
            allow_private_mx: false,
            dkim_selector: "mailroom".into(),
            dkim_algorithm: "rsa".into(),
            dkim_domain_algorithms: Default::default(),
        }
    }
}

impl DeliveryConfig {
    /// Checks the section; errors name the key inside `[delivery]`.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(relay) = &self.relay
            && split_host_port(relay).is_none()
        {
            return Err((
                "relay",
                format!("{relay:?} is not host:port (e.g. smtp.example.com:587)"),
            ));
        }
        if self.relay_username.is_some() != self.relay_password.is_some() {
            return Err(("relay_username", "relay_username and relay_password go together".into()));
        }
        if self.relay.is_none() && self.relay_username.is_some() {
            return Err(("relay_username", "set without a relay".into()));
        }
        for domain in &self.require_tls_domains {
            if !is_hostname(domain) {
                return Err(("require_tls_domains", format!("{domain:?} is not a domain name")));
            }
        }
        if self.retry_schedule_secs.is_empty() || self.retry_schedule_secs.contains(&0) {
            return Err((
                "retry_schedule_secs",
                "needs at least one wait, each at least 1 second".into(),
            ));
        }
        if self.max_lifetime_secs == 0 {
            return Err(("max_lifetime_secs", "must be at least 1".into()));
        }
        if self.per_domain_concurrency == 0 || self.workers == 0 {
            return Err((
                "workers",
                "workers and per_domain_concurrency must be at least 1".into(),
            ));
        }
        if self.connect_timeout_secs == 0 || self.command_timeout_secs == 0 {
            return Err(("command_timeout_secs", "timeouts must be at least 1 second".into()));
        }
        if let Some(name) = &self.helo_name
            && !is_hostname(name)
        {
            return Err(("helo_name", format!("{name:?} is not a host name")));
        }
        for server in &self.dns_servers {
            if server.parse::<SocketAddr>().is_err() {
                return Err(("dns_servers", format!("{server:?} is not ip:port (e.g. 127.0.0.1:53)")));
            }
        }
        if !is_dns_label(&self.dkim_selector) {
            return Err(("dkim_selector", format!("{:?} is not a DNS label", self.dkim_selector)));
        }
        let algorithms = std::iter::once(&self.dkim_algorithm).chain(self.dkim_domain_algorithms.values());
        for algorithm in algorithms {
            if !matches!(algorithm.as_str(), "rsa" | "ed25519") {
                return Err((
                    "dkim_algorithm",
                    format!("{algorithm:?} is neither \"rsa\" nor \"ed25519\""),
                ));
            }
        }
        Ok(())
    }

    /// Whether mail to `domain` must go over verified TLS.
    pub fn requires_tls(&self, domain: &str) -> bool {
        self.require_tls_domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// The DKIM algorithm for a new key of `domain`.
    pub fn dkim_algorithm_for(&self, domain: &str) -> &str {
        self.dkim_domain_algorithms
            .iter()
            .find(|(d, _)| d.eq_ignore_ascii_case(domain))
            .map_or(self.dkim_algorithm.as_str(), |(_, a)| a.as_str())
    }
}

/// Splits `host:port` (a bracketed IPv6 literal allowed); the host may be a name.
pub fn split_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let valid = is_hostname(host) || host.parse::<std::net::IpAddr>().is_ok();
    valid.then(|| (host.to_string(), port))
}

fn is_dns_label(label: &str) -> bool {
    is_hostname(label) && !label.contains('.')
}

/// Names where a toml error is: the key on the line its span points at, under the
/// nearest `[section]` above it (`smtp.max_message_size (line 2)`), or the line alone.
fn toml_error_key(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return "(document)".into();
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    let section = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(['[', ']']).trim());
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    match (section, key) {
        (Some(section), Some(key)) => format!("{section}.{key} (line {line_no})"),
        (None, Some(key)) => format!("{key} (line {line_no})"),
        _ => format!("line {line_no}"),
    }
}

/// A host name: dot-separated labels of letters, digits and inner hyphens.
pub fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        let config = Config::parse("", "t.toml").unwrap();
        config.validate().unwrap();
        assert_eq!(config.smtp.mx, vec!["127.0.0.1:2525"]);
    }

    #[test]
    fn unknown_key_is_refused_with_its_name() {
        let e = Config::parse("[smtp]\nmax_mesage_size = 5\n", "t.toml").unwrap_err();
        assert_eq!(e.file, "t.toml");
        assert!(e.reason.contains("max_mesage_size"), "{e}");
    }

    #[test]
    fn bad_listen_address_names_the_key() {
        let config = Config::parse("[imap]\nlisten = [\"nowhere\"]\n", "t.toml").unwrap();
        let e = config.validate().unwrap_err();
        assert_eq!(e.key, "imap.listen");
    }

    #[test]
    fn delivery_section_is_checked() {
        let config = Config::parse("[delivery]\nretry_schedule_secs = [1, 2, 4]\n", "t.toml").unwrap();
        config.validate().unwrap();
        assert_eq!(config.delivery.retry_schedule_secs, vec![1, 2, 4]);
        let config = Config::parse("[delivery]\nrelay = \"nowhere\"\n", "t.toml").unwrap();
        assert_eq!(config.validate().unwrap_err().key, "delivery.relay");
        let config = Config::parse("[delivery]\nretry_schedule_secs = []\n", "t.toml").unwrap();
        assert_eq!(config.validate().unwrap_err().key, "delivery.retry_schedule_secs");
        let config = Config::parse("[delivery]\ndkim_algorithm = \"dsa\"\n", "t.toml").unwrap();
        assert_eq!(config.validate().unwrap_err().key, "delivery.dkim_algorithm");
        let text = "[delivery]\nrelay = \"[::1]:2525\"\nrelay_username = \"u\"\nrelay_password = \"hunter22\"\n";
        let config = Config::parse(text, "t.toml").unwrap();
        config.validate().unwrap();
        assert!(
            !format!("{config:?}").contains("hunter22"),
            "the password never shows in Debug"
        );
        assert_eq!(split_host_port("[::1]:2525"), Some(("::1".into(), 2525)));
        assert_eq!(split_host_port("smtp.example.com:0"), None);
    }

    #[test]
    fn wrong_type_is_refused_with_its_key() {
        let e = Config::parse("hostname = \"x\"\n[smtp]\nmax_message_size = \"big\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("t.toml"));
        assert_eq!(e.key, "smtp.max_message_size (line 3)");
        let e = Config::parse("hostname = \n", "t.toml").unwrap_err();
        assert_eq!(e.key, "hostname (line 1)");
    }
}
