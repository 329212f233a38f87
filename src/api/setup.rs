//! Client setup (API.md part 2 section 10): Thunderbird autoconfig, Microsoft
//! autodiscover (POX) and the Apple `.mobileconfig` of an inbox, all from `[public]`.
//!
//! Autoconfig and autodiscover need no key, so they name only the domain: every local
//! part of one of our domains gets the same settings, and nobody learns from them
//! which inboxes exist.

mod autodiscover;
mod mobileconfig;

pub use autodiscover::autodiscover;
pub use mobileconfig::mobileconfig;

use super::errors::ApiError;
use super::json::Out;
use super::pagination::Query;
use crate::config::Config;
use crate::server::Context;
use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::{CACHE_CONTROL, HOST, HeaderValue};
use hyper::http::request::Parts;
use hyper::http::uri::Authority;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use std::io;

const AUTOCONFIG_TYPE: &str = "application/xml";
/// RFC 5321 4.5.3.1: a local part is at most 64 octets, a path at most 256 with its
/// angle brackets, so an address at most 254.
const MAX_ADDRESS: usize = 254;
const MAX_LOCAL_PART: usize = 64;

/// GET /.well-known/autoconfig/mail/config-v1.1.xml and GET /mail/config-v1.1.xml:
/// the domain from `?emailaddress=`, else from the Host (`autoconfig.<domain>`).
pub fn autoconfig(ctx: &Context, parts: &Parts) -> Result<Out, ApiError> {
    let query = Query::parse(parts.uri.query(), &["emailaddress"])?;
    let config = &ctx.config;
    let domain = match query.get("emailaddress") {
        Some(address) => local_domain(config, address_domain(address)?),
        None => host_domain(config, parts),
    }
    .ok_or_else(|| ApiError::not_found("mail domain here"))?;
    let body = autoconfig_xml(config, domain).map_err(ApiError::bug)?;
    Ok(Out {
        status: StatusCode::OK,
        body: Bytes::from(body),
        content_type: AUTOCONFIG_TYPE,
        header: Some((CACHE_CONTROL, HeaderValue::from_static("max-age=3600"))),
    })
}

/// The domain part of `local@domain`, checked for length; the local part is not
/// looked up (no enumeration).
fn address_domain(address: &str) -> Result<&str, ApiError> {
    if address.len() > MAX_ADDRESS {
        return Err(ApiError::validation(format!(
            "emailaddress is longer than {MAX_ADDRESS} characters."
        )));
    }
    match address.trim().rsplit_once('@') {
        Some((local, domain)) if (1..=MAX_LOCAL_PART).contains(&local.len()) && !domain.is_empty() => Ok(domain),
        _ => Err(ApiError::validation("emailaddress must be an address, local@domain.")),
    }
}

/// `domain` as configured when it is one of ours (any case, a trailing dot allowed).
fn local_domain<'c>(config: &'c Config, domain: &str) -> Option<&'c str> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    config
        .domains
        .iter()
        .find(|d| d.eq_ignore_ascii_case(domain))
        .map(String::as_str)
}

/// Thunderbird asks `autoconfig.<domain>` and `<domain>` itself; the Host says which.
fn host_domain<'c>(config: &'c Config, parts: &Parts) -> Option<&'c str> {
    let authority = match parts.uri.authority() {
        Some(a) => a.clone(),
        None => parts.headers.get(HOST)?.to_str().ok()?.parse::<Authority>().ok()?,
    };
    let host = authority.host();
    local_domain(config, host).or_else(|| {
        let rest = host.get(..11).filter(|p| p.eq_ignore_ascii_case("autoconfig."))?;
        local_domain(config, &host[rest.len()..])
    })
}

type Xml = Writer<Vec<u8>>;

fn xml_writer() -> io::Result<Xml> {
    let mut w = Writer::new_with_indent(Vec::with_capacity(1024), b' ', 1);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    Ok(w)
}

/// `<name>text</name>`, the text escaped.
fn element(w: &mut Xml, name: &str, text: &str) -> io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(text))?;
    Ok(())
}

/// The clientConfig document of Thunderbird's autoconfig format, version 1.1.
fn autoconfig_xml(config: &Config, domain: &str) -> io::Result<Vec<u8>> {
    let name = &config.public.display_name;
    let mut w = xml_writer()?;
    w.create_element("clientConfig")
        .with_attribute(("version", "1.1"))
        .write_inner_content(|w| {
            w.create_element("emailProvider")
                .with_attribute(("id", domain))
                .write_inner_content(|w| {
                    element(w, "domain", domain)?;
                    element(w, "displayName", &format!("{name} ({domain})"))?;
                    element(w, "displayShortName", name)?;
                    let public = &config.public;
                    autoconfig_server(w, ("incomingServer", "imap"), config, public.imap_port, "SSL")?;
                    autoconfig_server(w, ("outgoingServer", "smtp"), config, public.smtp_port, "STARTTLS")
                })?;
            Ok(())
        })?;
    Ok(w.into_inner())
}

fn autoconfig_server(
    w: &mut Xml,
    (tag, kind): (&str, &str),
    config: &Config,
    port: u16,
    socket: &str,
) -> io::Result<()> {
    w.create_element(tag)
        .with_attribute(("type", kind))
        .write_inner_content(|w| {
            element(w, "hostname", config.public_host())?;
            element(w, "port", &port.to_string())?;
            element(w, "socketType", socket)?;
            // Thunderbird puts the address the user typed in place of the placeholder.
            element(w, "username", "%EMAILADDRESS%")?;
            element(w, "authentication", "password-cleartext")
        })?;
    Ok(())
}

/// The test config: two domains, a public host.
#[cfg(test)]
fn test_config() -> Config {
    let mut config = Config {
        domains: vec!["example.test".into(), "agents.example.test".into()],
        ..Default::default()
    };
    config.public.host = Some("mail.example.test".into());
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emitted_text_is_escaped() {
        let mut config = test_config();
        config.public.display_name = "A<&>\"'B".into();
        let xml = String::from_utf8(autoconfig_xml(&config, "example.test").unwrap()).unwrap();
        assert!(
            xml.contains("<displayShortName>A&lt;&amp;&gt;&quot;&apos;B</displayShortName>"),
            "{xml}"
        );
    }

    #[test]
    fn domains_are_ours_in_any_case() {
        let config = test_config();
        assert_eq!(local_domain(&config, "EXAMPLE.test."), Some("example.test"));
        assert_eq!(local_domain(&config, "other.test"), None);
        assert!(address_domain(&"a".repeat(300)).is_err());
        assert!(address_domain("@example.test").is_err());
        assert!(address_domain("nobody").is_err());
        assert_eq!(address_domain("x@Example.Test").ok(), Some("Example.Test"));
    }
}
