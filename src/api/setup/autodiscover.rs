//! Outlook's autodiscover, the POX protocol: `EMailAddress` in, `Response/Account`
//! with IMAP and SMTP settings out. The request is read with quick-xml and any DOCTYPE
//! is refused, so no entity can ever be declared or expanded.

use super::{Xml, address_domain, element, local_domain, xml_writer};
use crate::api::errors::ApiError;
use crate::api::json::Out;
use crate::api::pagination::Query;
use crate::config::Config;
use crate::server::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::{Body, Incoming};
use hyper::header::CONTENT_LENGTH;
use hyper::http::request::Parts;
use quick_xml::events::{BytesRef, Event};
use std::borrow::Cow;
use std::io;

const AUTODISCOVER_TYPE: &str = "text/xml; charset=utf-8";
const AUTODISCOVER_MAX_BODY: usize = 16 * 1024;
/// The request is three levels deep; anything much deeper is not an autodiscover request.
const AUTODISCOVER_MAX_DEPTH: usize = 8;
const OUTLOOK_SCHEMA: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
const AUTODISCOVER_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";

/// POST /autodiscover/autodiscover.xml (Outlook's POX protocol).
pub async fn autodiscover(ctx: &Context, parts: &Parts, body: Incoming) -> Result<Out, ApiError> {
    Query::parse(parts.uri.query(), &[])?;
    let bytes = read_body(parts, body).await?;
    let request = parse_autodiscover(&bytes).map_err(ApiError::validation)?;
    let answer = autodiscover_answer(&ctx.config, &request).map_err(ApiError::bug)?;
    Ok(Out {
        status: StatusCode::OK,
        body: Bytes::from(answer),
        content_type: AUTODISCOVER_TYPE,
        header: None,
    })
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

/// Settings for an address of ours; error 601 for a response schema other than
/// Outlook's, 600 for anything else (no address, a domain not ours).
fn autodiscover_answer(config: &Config, request: &AutodiscoverRequest) -> io::Result<Vec<u8>> {
    if request.schema.as_deref().is_some_and(|s| s != OUTLOOK_SCHEMA) {
        return autodiscover_error(601, "Provider is not available.");
    }
    let ours = |address: &&str| address_domain(address).is_ok_and(|d| local_domain(config, d).is_some());
    match request.email.as_deref().filter(ours) {
        Some(address) => autodiscover_settings(config, address),
        None => autodiscover_error(600, "Invalid Request"),
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

#[cfg(test)]
mod tests {
    use super::super::test_config;
    use super::*;

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
    fn the_echoed_address_is_escaped() {
        let xml = String::from_utf8(autodiscover_settings(&test_config(), "x<y>@example.test").unwrap()).unwrap();
        assert!(xml.contains("<LoginName>x&lt;y&gt;@example.test</LoginName>"), "{xml}");
    }
}
