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

    /// The addresses of `hop`, for connecting. Unless `allow_private`, an MX host
    /// on a loopback, private or link-local address is not a place to deliver to.
    pub async fn addresses(&self, hop: &Hop, allow_private: bool) -> Result<Vec<SocketAddr>, RouteError> {
        let ips: Vec<IpAddr> = match hop.host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self.lookup(hop).await?,
        };
        let usable: Vec<SocketAddr> = ips
            .into_iter()
            .filter(|ip| hop.relay || allow_private || is_public(*ip))
            .take(MAX_ADDRESSES)
            .map(|ip| SocketAddr::new(ip, hop.port))
            .collect();
        if usable.is_empty() {
            return Err(RouteError::Permanent {
                status: "5.4.4".into(),
                diagnostic: format!("the host {} has only private addresses", hop.host),
            });
        }
        Ok(usable)
    }

    async fn lookup(&self, hop: &Hop) -> Result<Vec<IpAddr>, RouteError> {
        let resolver = self.resolver()?;
        let fqdn = format!("{}.", hop.host);
        match resolver.lookup_ip(fqdn.as_str()).await {
            Ok(ips) => Ok(ips.iter().collect()),
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

/// An address on the public internet: not loopback, private (RFC 1918, RFC 4193),
/// shared (RFC 6598), link-local, unspecified, multicast or documentation space.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

fn short(e: &ProtoError) -> String {
    e.to_string().chars().take(200).collect()
}

/// A syntactically valid mail domain (letters, digits, hyphens; at least one dot).
/// An address literal (`[192.0.2.1]`) is not delivered to.
pub fn is_domain(domain: &str) -> bool {
    let domain = domain.trim_end_matches('.');
    domain.contains('.') && crate::config::is_hostname(domain)
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
        // The relay may be on loopback; an MX host may not, unless allowed.
        let addrs = router.addresses(&hops[0], false).await.unwrap();
        assert_eq!(addrs, ["127.0.0.1:2525".parse().unwrap()]);
        let mx = Hop {
            host: "127.0.0.1".into(),
            port: 25,
            relay: false,
        };
        let err = router.addresses(&mx, false).await.unwrap_err();
        assert!(
            matches!(err, RouteError::Permanent { ref status, .. } if status == "5.4.4"),
            "{err:?}"
        );
        assert!(router.addresses(&mx, true).await.is_ok());
    }

    #[test]
    fn public_addresses() {
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "2001:4860:4860::8888", "100.128.0.1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
