//! Client setup (API.md part 2 section 10): Thunderbird autoconfig, Microsoft
//! autodiscover (POX) and the Apple `.mobileconfig` of an inbox, all from `[public]`.
//!
//! Autoconfig and autodiscover need no key, so they name only the domain: every local
//! part of one of our domains gets the same settings, and nobody learns from them
//! which inboxes exist.

use super::errors::ApiError;
use super::json::Out;
use super::pagination::Query;
use super::{Call, inboxes};
use crate::config::Config;
use crate::server::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::{Body, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, HOST, HeaderValue};
use hyper::http::request::Parts;
use hyper::http::uri::Authority;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesRef, BytesText, Event};
use serde::Serialize;
use std::borrow::Cow;
use std::io;
use uuid::Uuid;

const AUTOCONFIG_TYPE: &str = "application/xml";
const AUTODISCOVER_TYPE: &str = "text/xml; charset=utf-8";
const MOBILECONFIG_TYPE: &str = "application/x-apple-aspen-config";
/// RFC 5321 4.5.3.1: a local part is at most 64 octets, a path at most 256 with its
/// angle brackets, so an address at most 254.
const MAX_ADDRESS: usize = 254;
const MAX_LOCAL_PART: usize = 64;
const AUTODISCOVER_MAX_BODY: usize = 16 * 1024;
/// The request is three levels deep; anything much deeper is not an autodiscover request.
const AUTODISCOVER_MAX_DEPTH: usize = 8;
const OUTLOOK_SCHEMA: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
const AUTODISCOVER_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
/// The namespace of the mobileconfig UUIDs (UUIDv5, RFC 9562 5.5, of the inbox id's
/// hyphenated lower-case text). Never change it:
/// a device replaces an installed profile only when the new one has the same UUID.
const MOBILECONFIG_NAMESPACE: Uuid = Uuid::from_u128(0x6d61_696c_726f_4f6d_8a5e_7f1c_2b39_d04e);

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

/// POST /autodiscover/autodiscover.xml (Outlook's POX protocol).
pub async fn autodiscover(ctx: &Context, parts: &Parts, body: Incoming) -> Result<Out, ApiError> {
    Query::parse(parts.uri.query(), &[])?;
    let bytes = read_body(parts, body).await?;
    let request = parse_autodiscover(&bytes).map_err(ApiError::validation)?;
    let config = &ctx.config;
    let answer = match request.schema.as_deref() {
        Some(schema) if schema != OUTLOOK_SCHEMA => autodiscover_error(601, "Provider is not available."),
        _ => match request
            .email
            .as_deref()
            .and_then(|a| Some((a, local_domain(config, address_domain(a).ok()?)?)))
        {
            Some((address, _)) => autodiscover_settings(config, address),
            None => autodiscover_error(600, "Invalid Request"),
        },
    };
    Ok(Out {
        status: StatusCode::OK,
        body: Bytes::from(answer.map_err(ApiError::bug)?),
        content_type: AUTODISCOVER_TYPE,
        header: None,
    })
}

/// GET /v1/inboxes/{id}/mobileconfig: the inbox's account as an Apple configuration
/// profile, without the password (the device asks for it).
pub fn mobileconfig(call: &Call<'_>, id: &str) -> Result<Out, ApiError> {
    let inbox = inboxes::visible(call, id)?;
    let email = format!("{}@{}", inbox.username, inbox.domain);
    let body = mobileconfig_plist(&call.ctx.config, &inbox, &email).map_err(ApiError::bug)?;
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{email}.mobileconfig\"")).map_err(ApiError::bug)?;
    Ok(Out {
        status: StatusCode::OK,
        body: Bytes::from(body),
        content_type: MOBILECONFIG_TYPE,
        header: Some((CONTENT_DISPOSITION, disposition)),
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

/// Reads at most [`AUTODISCOVER_MAX_BODY`] bytes: a declared larger body is refused
/// before any of it is read.
async fn read_body(parts: &Parts, body: Incoming) -> Result<Bytes, ApiError> {
    let declared = (parts.headers.get(CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > AUTODISCOVER_MAX_BODY as u64) {
        return Err(ApiError::too_large(AUTODISCOVER_MAX_BODY));
    }
    if body.is_end_stream() {
        return Err(ApiError::validation("The autodiscover request needs an XML body."));
    }
    match Limited::new(body, AUTODISCOVER_MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(AUTODISCOVER_MAX_BODY)),
        Err(_) => Err(ApiError::validation("The body could not be read.")),
    }
}

/// What an autodiscover request asks about.
#[derive(Debug, Default, PartialEq)]
struct AutodiscoverRequest {
    email: Option<String>,
    schema: Option<String>,
}

/// Parses `<Autodiscover><Request><EMailAddress>…` by local names. A DOCTYPE is
/// refused outright, so no entity can be declared (no entity bomb, no external
/// entity); only XML's five predefined entities and character references are read.
fn parse_autodiscover(bytes: &[u8]) -> Result<AutodiscoverRequest, Cow<'static, str>> {
    let text = std::str::from_utf8(bytes).map_err(|_| "The body is not UTF-8.")?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().enable_all_checks(true);
    let mut path: Vec<String> = Vec::new();
    let mut value = String::new();
    let mut request = AutodiscoverRequest::default();
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("The body is not well-formed XML: {e}."))?;
        match event {
            Event::DocType(_) => {
                return Err("A DOCTYPE is not accepted here: no DTDs, no entity declarations.".into());
            }
            Event::Start(start) => {
                if path.len() == AUTODISCOVER_MAX_DEPTH {
                    return Err("The XML is nested too deeply.".into());
                }
                let name = start.local_name().into_inner();
                if !seen_root && name != "Autodiscover" {
                    return Err("The root element must be Autodiscover.".into());
                }
                seen_root = true;
                path.push(name.to_string());
                value.clear();
            }
            Event::End(_) => {
                let target = if path == ["Autodiscover", "Request", "EMailAddress"] {
                    Some(&mut request.email)
                } else if path == ["Autodiscover", "Request", "AcceptableResponseSchema"] {
                    Some(&mut request.schema)
                } else {
                    None
                };
                if let Some(target) = target {
                    *target = Some(value.trim().to_string());
                }
                path.pop();
                value.clear();
            }
            Event::Empty(_) if !seen_root => return Err("The root element must be Autodiscover.".into()),
            Event::Text(t) => value.push_str(&t.xml10_content()),
            Event::CData(c) => value.push_str(&c.xml10_content()),
            Event::GeneralRef(r) => value.push(predefined(&r)?),
            Event::Eof if !path.is_empty() => {
                return Err("The body is not well-formed XML: it ends inside an element.".into());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root {
        return Err("The body has no Autodiscover element.".into());
    }
    Ok(request)
}

/// A character reference or one of XML 1.0's predefined entities (section 4.6);
/// any other entity would need a declaration, which is refused.
fn predefined(r: &BytesRef<'_>) -> Result<char, Cow<'static, str>> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Ok(c);
    }
    match r.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err("The body refers to an entity that is not predefined; entities are not accepted.".into()),
    }
}

/// `Response/Account` with IMAP and SMTP settings for `address`.
fn autodiscover_settings(config: &Config, address: &str) -> io::Result<Vec<u8>> {
    let public = &config.public;
    let mut w = xml_writer()?;
    w.create_element("Autodiscover")
        .with_attribute(("xmlns", AUTODISCOVER_NS))
        .write_inner_content(|w| {
            w.create_element("Response")
                .with_attribute(("xmlns", OUTLOOK_SCHEMA))
                .write_inner_content(|w| {
                    w.create_element("Account").write_inner_content(|w| {
                        element(w, "AccountType", "email")?;
                        element(w, "Action", "settings")?;
                        protocol(w, config, address, ("IMAP", public.imap_port), ("SSL", "on"))?;
                        // Encryption TLS is STARTTLS in this schema.
                        protocol(w, config, address, ("SMTP", public.smtp_port), ("Encryption", "TLS"))
                    })?;
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(w.into_inner())
}

fn protocol(
    w: &mut Xml,
    config: &Config,
    address: &str,
    (kind, port): (&str, u16),
    (tls_key, tls_value): (&str, &str),
) -> io::Result<()> {
    w.create_element("Protocol").write_inner_content(|w| {
        element(w, "Type", kind)?;
        element(w, "Server", config.public_host())?;
        element(w, "Port", &port.to_string())?;
        element(w, "LoginName", address)?;
        element(w, "DomainRequired", "off")?;
        element(w, "SPA", "off")?;
        element(w, tls_key, tls_value)?;
        element(w, "AuthRequired", "on")
    })?;
    Ok(())
}

/// An autodiscover error answer: 600 is an invalid request (a domain not ours), 601 a
/// response schema we do not provide.
fn autodiscover_error(code: u16, message: &str) -> io::Result<Vec<u8>> {
    let mut w = xml_writer()?;
    w.create_element("Autodiscover")
        .with_attribute(("xmlns", AUTODISCOVER_NS))
        .write_inner_content(|w| {
            w.create_element("Response").write_inner_content(|w| {
                w.create_element("Error").write_inner_content(|w| {
                    element(w, "ErrorCode", &code.to_string())?;
                    element(w, "Message", message)?;
                    w.create_element("DebugData").write_empty()?;
                    Ok(())
                })?;
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(w.into_inner())
}

/// The top level of a configuration profile (Apple's Configuration Profile Reference).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Profile<'a> {
    payload_content: [MailPayload<'a>; 1],
    payload_description: String,
    payload_display_name: String,
    payload_identifier: String,
    payload_organization: &'a str,
    payload_type: &'static str,
    #[serde(rename = "PayloadUUID")]
    payload_uuid: String,
    payload_version: u32,
}

/// One `com.apple.mail.managed` payload: an IMAP account.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MailPayload<'a> {
    email_account_description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_account_name: Option<&'a str>,
    email_account_type: &'static str,
    email_address: &'a str,
    incoming_mail_server_authentication: &'static str,
    incoming_mail_server_host_name: &'a str,
    incoming_mail_server_port_number: u16,
    #[serde(rename = "IncomingMailServerUseSSL")]
    incoming_mail_server_use_ssl: bool,
    incoming_mail_server_username: &'a str,
    outgoing_mail_server_authentication: &'static str,
    outgoing_mail_server_host_name: &'a str,
    outgoing_mail_server_port_number: u16,
    #[serde(rename = "OutgoingMailServerUseSSL")]
    outgoing_mail_server_use_ssl: bool,
    outgoing_mail_server_username: &'a str,
    outgoing_password_same_as_incoming_password: bool,
    payload_display_name: &'a str,
    payload_identifier: String,
    payload_type: &'static str,
    #[serde(rename = "PayloadUUID")]
    payload_uuid: String,
    payload_version: u32,
}

fn mobileconfig_plist(config: &Config, inbox: &crate::store::Inbox, email: &str) -> Result<Vec<u8>, plist::Error> {
    // The same inbox always gives the same UUIDs, so installing again replaces it.
    let profile_uuid = Uuid::new_v5(&MOBILECONFIG_NAMESPACE, inbox.id.to_string().as_bytes());
    let mail_uuid = Uuid::new_v5(&profile_uuid, b"com.apple.mail.managed");
    let identifier = format!("mailroom.{}", inbox.id);
    let public = &config.public;
    let host = config.public_host();
    let name = public.display_name.as_str();
    let canonical = email;
    let profile = Profile {
        payload_content: [MailPayload {
            email_account_description: email,
            email_account_name: inbox.display_name.as_deref(),
            email_account_type: "EmailTypeIMAP",
            email_address: email,
            incoming_mail_server_authentication: "EmailAuthPassword",
            incoming_mail_server_host_name: host,
            incoming_mail_server_port_number: public.imap_port,
            incoming_mail_server_use_ssl: true,
            incoming_mail_server_username: canonical,
            outgoing_mail_server_authentication: "EmailAuthPassword",
            outgoing_mail_server_host_name: host,
            outgoing_mail_server_port_number: public.smtp_port,
            outgoing_mail_server_use_ssl: true,
            outgoing_mail_server_username: canonical,
            outgoing_password_same_as_incoming_password: true,
            payload_display_name: email,
            payload_identifier: format!("{identifier}.mail"),
            payload_type: "com.apple.mail.managed",
            payload_uuid: mail_uuid.to_string().to_uppercase(),
            payload_version: 1,
        }],
        payload_description: format!("The mail account {email} (IMAP and SMTP)."),
        payload_display_name: format!("{name} ({email})"),
        payload_identifier: identifier,
        payload_organization: name,
        payload_type: "Configuration",
        payload_uuid: profile_uuid.to_string().to_uppercase(),
        payload_version: 1,
    };
    let mut out = Vec::with_capacity(2048);
    plist::to_writer_xml(&mut out, &profile)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut config = Config {
            domains: vec!["example.test".into(), "agents.example.test".into()],
            ..Default::default()
        };
        config.public.host = Some("mail.example.test".into());
        config
    }

    #[test]
    fn reads_the_address_of_a_request() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>a&amp;b&#64;example.test</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#;
        let request = parse_autodiscover(body).expect("parsed");
        assert_eq!(request.email.as_deref(), Some("a&b@example.test"));
        assert_eq!(request.schema.as_deref(), Some(OUTLOOK_SCHEMA));
    }

    #[test]
    fn refuses_dtds_entities_and_junk() {
        let dtd = br#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><Autodiscover/>"#;
        assert!(parse_autodiscover(dtd).unwrap_err().contains("DOCTYPE"));
        let undeclared = b"<Autodiscover><Request><EMailAddress>&x;</EMailAddress></Request></Autodiscover>";
        assert!(parse_autodiscover(undeclared).unwrap_err().contains("entity"));
        let deep = "<Autodiscover>".to_string() + &"<a>".repeat(20);
        assert!(parse_autodiscover(deep.as_bytes()).unwrap_err().contains("deeply"));
        assert!(parse_autodiscover(b"<Other/>").is_err());
        assert!(parse_autodiscover(b"<Autodiscover><a></b></Autodiscover>").is_err());
        assert!(
            parse_autodiscover(b"<Autodiscover><Request>")
                .unwrap_err()
                .contains("well-formed")
        );
        assert!(parse_autodiscover(b"\xff\xfe").is_err());
        assert!(parse_autodiscover(b"").is_err());
    }

    #[test]
    fn emitted_text_is_escaped() {
        let mut config = config();
        config.public.display_name = "A<&>\"'B".into();
        let xml = String::from_utf8(autoconfig_xml(&config, "example.test").unwrap()).unwrap();
        assert!(
            xml.contains("<displayShortName>A&lt;&amp;&gt;&quot;&apos;B</displayShortName>"),
            "{xml}"
        );
        let xml = String::from_utf8(autodiscover_settings(&config, "x<y>@example.test").unwrap()).unwrap();
        assert!(xml.contains("<LoginName>x&lt;y&gt;@example.test</LoginName>"), "{xml}");
    }

    #[test]
    fn domains_are_ours_in_any_case() {
        let config = config();
        assert_eq!(local_domain(&config, "EXAMPLE.test."), Some("example.test"));
        assert_eq!(local_domain(&config, "other.test"), None);
        assert!(address_domain(&"a".repeat(300)).is_err());
        assert!(address_domain("@example.test").is_err());
        assert!(address_domain("nobody").is_err());
        assert_eq!(address_domain("x@Example.Test").ok(), Some("Example.Test"));
    }
}
