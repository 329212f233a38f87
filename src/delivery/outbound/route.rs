//! Where mail for a domain goes: the configured relay, or the domain's MX hosts
//! (RFC 5321 5.1), each resolved to its addresses.

use crate::config::{DeliveryConfig, split_host_port};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, NameServerConfigGroup, ProtocolConfig, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoError;
use rand::seq::SliceRandom;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Most MX hosts tried in one attempt.
const MAX_HOSTS: usize = 5;
/// Most addresses tried per host.
const MAX_ADDRESSES: usize = 4;

/// A host to try, with the name its certificate must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub host: String,
    pub port: u16,
    /// True for the configured relay (its TLS and AUTH rules apply).
    pub relay: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The domain cannot receive mail (RFC 3463 status and why).
    Permanent { status: String, diagnostic: String },
    /// DNS failed for now.
    Temporary(String),
}

pub struct Router {
    resolver: Result<TokioResolver, String>,
}

impl Router {
    pub fn new(config: &DeliveryConfig) -> Router {
        Router {
            resolver: build_resolver(config),
        }
    }

    fn resolver(&self) -> Result<&TokioResolver, RouteError> {
        self.resolver
            .as_ref()
            .map_err(|e| RouteError::Temporary(format!("no DNS resolver: {e}")))
    }

    /// The hosts to try for `domain`, best first.
    pub async fn hops(&self, config: &DeliveryConfig, domain: &str) -> Result<Vec<Hop>, RouteError> {
        if !is_domain(domain) {
            return Err(RouteError::Permanent {
                status: "5.1.2".into(),
                diagnostic: format!("{domain:?} is not a valid domain name"),
            });
        }
        if let Some(relay) = &config.relay {
            let (host, port) =
                split_host_port(relay).ok_or_else(|| RouteError::Temporary(format!("bad relay address {relay:?}")))?;
            return Ok(vec![Hop {
                host,
                port,
                relay: true,
            }]);
        }
        let hosts = self.mx_hosts(domain).await?;
        Ok(hosts
            .into_iter()
            .take(MAX_HOSTS)
            .map(|host| Hop {
                host,
                port: config.mx_port,
                relay: false,
            })
            .collect())
    }

    async fn mx_hosts(&self, domain: &str) -> Result<Vec<String>, RouteError> {
        let resolver = self.resolver()?;
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        match resolver.mx_lookup(fqdn.as_str()).await {
            Ok(lookup) => {
                let mut records: Vec<(u16, String)> = lookup
                    .iter()
                    .map(|mx| {
                        (
                            mx.preference(),
                            mx.exchange().to_ascii().trim_end_matches('.').to_string(),
                        )
                    })
                    .collect();
                // RFC 7505 3: a single MX of "." says the domain takes no mail.
                if records.len() == 1 && records[0].1.is_empty() {
                    return Err(RouteError::Permanent {
                        status: "5.1.10".into(),
                        diagnostic: format!("{domain} does not accept mail (null MX)"),
                    });
                }
                records.retain(|(_, host)| !host.is_empty());
                // RFC 5321 5.1: lowest preference first, random among equals.
                records.shuffle(&mut rand::thread_rng());
                records.sort_by_key(|(preference, _)| *preference);
                if records.is_empty() {
                    return Ok(vec![domain.to_string()]);
                }
                Ok(records.into_iter().map(|(_, host)| host).collect())
            }
            // RFC 5321 5.1: no MX records means the domain itself is the host.
            Err(e) if e.is_nx_domain() => Err(RouteError::Permanent {
                status: "5.1.2".into(),
                diagnostic: format!("the domain {domain} does not exist"),
            }),
            Err(e) if e.is_no_records_found() => Ok(vec![domain.to_string()]),
            Err(e) => Err(RouteError::Temporary(format!("MX lookup for {domain}: {}", short(&e)))),
        }
    }

    /// The addresses of `hop`, for connecting.
    pub async fn addresses(&self, hop: &Hop) -> Result<Vec<SocketAddr>, RouteError> {
        if let Ok(ip) = hop.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, hop.port)]);
        }
        let resolver = self.resolver()?;
        let fqdn = format!("{}.", hop.host);
        match resolver.lookup_ip(fqdn.as_str()).await {
            Ok(ips) => Ok(ips
                .iter()
                .take(MAX_ADDRESSES)
                .map(|ip| SocketAddr::new(ip, hop.port))
                .collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Err(RouteError::Permanent {
                status: "5.1.2".into(),
                diagnostic: format!("the host {} has no address", hop.host),
            }),
            Err(e) => Err(RouteError::Temporary(format!(
                "address lookup for {}: {}",
                hop.host,
                short(&e)
            ))),
        }
    }
}

fn build_resolver(config: &DeliveryConfig) -> Result<TokioResolver, String> {
    let mut builder = if config.dns_servers.is_empty() {
        TokioResolver::builder_tokio().map_err(|e| e.to_string())?
    } else {
        let mut servers = Vec::new();
        for server in &config.dns_servers {
            let addr: SocketAddr = server.parse().map_err(|_| format!("bad DNS server {server:?}"))?;
            servers.push(NameServerConfig::new(addr, ProtocolConfig::Udp));
            servers.push(NameServerConfig::new(addr, ProtocolConfig::Tcp));
        }
        let group = NameServerConfigGroup::from(servers);
        TokioResolver::builder_with_config(
            ResolverConfig::from_parts(None, Vec::new(), group),
            TokioConnectionProvider::default(),
        )
    };
    let options = builder.options_mut();
    options.timeout = Duration::from_secs(5);
    options.attempts = 2;
    Ok(builder.build())
}

fn short(e: &ProtoError) -> String {
    e.to_string().chars().take(200).collect()
}

/// A syntactically valid mail domain (letters, digits, hyphens; at least one dot).
/// An address literal (`[192.0.2.1]`) is not delivered to.
pub fn is_domain(domain: &str) -> bool {
    let domain = domain.trim_end_matches('.');
    domain.contains('.')
        && domain.len() <= 253
        && domain.split('.').all(|label| {
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
    fn domain_syntax() {
        assert!(is_domain("example.com"));
        assert!(is_domain("xn--bcher-kva.example"));
        for bad in [
            "localhost",
            "-a.example",
            "a..example",
            "[127.0.0.1]",
            "a b.example",
            "",
        ] {
            assert!(!is_domain(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn invalid_domains_fail_permanently_without_dns() {
        let config = DeliveryConfig::default();
        let router = Router::new(&config);
        let err = router.hops(&config, "no_such domain").await.unwrap_err();
        assert!(
            matches!(err, RouteError::Permanent { ref status, .. } if status == "5.1.2"),
            "{err:?}"
        );
        let relayed = DeliveryConfig {
            relay: Some("127.0.0.1:2525".into()),
            ..DeliveryConfig::default()
        };
        let hops = router.hops(&relayed, "anything.example").await.unwrap();
        assert_eq!(
            hops,
            [Hop {
                host: "127.0.0.1".into(),
                port: 2525,
                relay: true
            }]
        );
        let addrs = router.addresses(&hops[0]).await.unwrap();
        assert_eq!(addrs, ["127.0.0.1:2525".parse().unwrap()]);
    }
}
