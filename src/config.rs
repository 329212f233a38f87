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
}

/// The names clients are told to use, which need not be the bind addresses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicConfig {
    /// Defaults to `hostname`.
    pub host: Option<String>,
    pub imap_port: u16,
    pub smtp_port: u16,
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
        }
    }
}

impl Default for PublicConfig {
    fn default() -> Self {
        PublicConfig {
            host: None,
            imap_port: 993,
            smtp_port: 587,
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
            key: toml_error_key(&e),
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

fn toml_error_key(e: &toml::de::Error) -> String {
    // toml reports the key path inside its message for type errors; the span
    // locates syntax errors. Give whichever we have.
    match e.span() {
        Some(span) => format!("at byte {}", span.start),
        None => "(document)".into(),
    }
}

fn is_hostname(name: &str) -> bool {
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
    fn wrong_type_is_refused() {
        let e = Config::parse("[smtp]\nmax_message_size = \"big\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("t.toml"));
    }
}
