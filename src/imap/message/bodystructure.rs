//! BODY and BODYSTRUCTURE (RFC 3501 7.4.2 / RFC 9051 7.5.2) from the stored MIME tree.

use imap_codec::imap_types::body::{
    BasicFields, Body, BodyStructure, Disposition, Language, Location, MultiPartExtensionData, SinglePartExtensionData,
    SpecificFields,
};
use imap_codec::imap_types::core::{IString, Vec1};

use super::envelope::convert;
use super::strings::{istr, istring, nstring};
use crate::mail::{MessageSummary, Part, PartKind};

/// BODYSTRUCTURE when `extensible`, else the non-extensible BODY form.
pub fn body_structure(summary: &MessageSummary, extensible: bool) -> BodyStructure<'static> {
    part_structure(&summary.root, extensible)
}

fn params(list: &[(String, String)]) -> Vec<(IString<'static>, IString<'static>)> {
    list.iter()
        .map(|(k, v)| (istr(&k.to_ascii_uppercase()), istr(v)))
        .collect()
}

/// body-ext-1part / body-ext-mpart tail: disposition, language, location (RFC 3501 7.4.2).
fn disposition_tail(p: &Part) -> Disposition<'static> {
    Disposition {
        disposition: p
            .disposition
            .as_ref()
            .map(|d| (istr(&d.kind.to_ascii_uppercase()), params(&d.params))),
        tail: Some(Language {
            language: p.language.iter().map(|l| istr(l)).collect(),
            tail: Some(Location {
                location: nstring(p.location.as_deref()),
                extensions: Vec::new(),
            }),
        }),
    }
}

/// The tree depth is capped when the summary is built (mail::mime::MAX_DEPTH), so this
/// recursion is bounded.
fn part_structure(p: &Part, ext: bool) -> BodyStructure<'static> {
    if let PartKind::Multipart(children) = &p.kind
        && let Ok(bodies) = Vec1::try_from(children.iter().map(|c| part_structure(c, ext)).collect::<Vec<_>>())
    {
        return BodyStructure::Multi {
            bodies,
            subtype: istr(&p.media_subtype.to_ascii_uppercase()),
            extension_data: ext.then(|| MultiPartExtensionData {
                parameter_list: params(&p.params),
                tail: Some(disposition_tail(p)),
            }),
        };
    }
    let mut parameter_list = params(&p.params);
    // RFC 2045 5.2: text without a charset is us-ascii; say so, as Dovecot does.
    if p.media_type == "text" && p.param("charset").is_none() {
        parameter_list.insert(0, (istr("CHARSET"), istr("us-ascii")));
    }
    let basic = BasicFields {
        parameter_list,
        id: nstring(p.id.as_deref()),
        description: nstring(p.description.as_deref()),
        // RFC 2045 6.1: no Content-Transfer-Encoding means 7BIT.
        content_transfer_encoding: istr(p.encoding.as_deref().unwrap_or("7BIT")),
        size: p.size(),
    };
    let specific = match &p.kind {
        PartKind::Message(m) => SpecificFields::Message {
            envelope: Box::new(convert(&m.envelope)),
            body_structure: Box::new(part_structure(&m.root, ext)),
            number_of_lines: p.lines,
        },
        _ if p.media_type == "text" => SpecificFields::Text {
            subtype: istr(&p.media_subtype.to_ascii_uppercase()),
            number_of_lines: p.lines,
        },
        // A message/rfc822 part we did not descend into (encoded, or past the depth cap):
        // "MESSAGE" "RFC822" makes clients expect an envelope (RFC 3501 body-type-msg), so
        // describe it as opaque data instead.
        _ if p.media_type == "message" && p.media_subtype == "rfc822" => SpecificFields::Basic {
            r#type: istr("APPLICATION"),
            subtype: istr("OCTET-STREAM"),
        },
        _ => SpecificFields::Basic {
            r#type: istring(p.media_type.to_ascii_uppercase().as_bytes()),
            subtype: istr(&p.media_subtype.to_ascii_uppercase()),
        },
    };
    BodyStructure::Single {
        body: Body { basic, specific },
        extension_data: ext.then(|| SinglePartExtensionData {
            md5: nstring(p.md5.as_deref()),
            tail: Some(disposition_tail(p)),
        }),
    }
}
