//! FETCH body sections: `BODY[...]<partial>` (RFC 3501 6.4.5), `BINARY[...]` and
//! `BINARY.SIZE[...]` (RFC 3516) for one message.

use std::num::NonZeroU32;

use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::fetch::{Part, Section};

use crate::mail::{self, BinaryError, MessageSummary, Spec};

/// Why a BINARY item cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionError {
    /// The part does not exist (answer NO).
    NoSuchPart,
    /// RFC 3516 4.3: unknown Content-Transfer-Encoding; answer `NO [UNKNOWN-CTE]`.
    UnknownCte,
}

impl From<BinaryError> for SectionError {
    fn from(e: BinaryError) -> Self {
        match e {
            BinaryError::NoSuchPart => Self::NoSuchPart,
            BinaryError::UnknownCte => Self::UnknownCte,
        }
    }
}

/// A-string as text (header field names are ASCII; anything else is compared lossily).
pub fn astring_text(a: &AString<'_>) -> String {
    match a {
        AString::Atom(atom) => atom.inner().to_string(),
        AString::String(s) => String::from_utf8_lossy(s.as_ref()).into_owned(),
    }
}

fn path(part: Option<&Part>) -> Vec<u32> {
    part.map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
        .unwrap_or_default()
}

/// The bytes of `BODY[section]<partial>`: a slice of the raw message. Parts that do not
/// exist give an empty string (RFC 3501 6.4.5). `partial` is `(origin, count)`.
pub fn body_section(
    summary: &MessageSummary,
    raw: &[u8],
    section: Option<&Section<'_>>,
    partial: Option<(u32, NonZeroU32)>,
) -> Vec<u8> {
    let bytes = match section {
        None => raw.to_vec(),
        Some(Section::Part(p)) => mail::section_bytes(summary, raw, &path(Some(p)), Spec::Full),
        Some(Section::Header(p)) => mail::section_bytes(summary, raw, &path(p.as_ref()), Spec::Header),
        Some(Section::Text(p)) => mail::section_bytes(summary, raw, &path(p.as_ref()), Spec::Text),
        Some(Section::Mime(p)) => mail::section_bytes(summary, raw, &path(Some(p)), Spec::Mime),
        Some(Section::HeaderFields(p, names)) | Some(Section::HeaderFieldsNot(p, names)) => {
            let not = matches!(section, Some(Section::HeaderFieldsNot(..)));
            let names: Vec<String> = names.as_ref().iter().map(astring_text).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            mail::section_bytes(
                summary,
                raw,
                &path(p.as_ref()),
                Spec::HeaderFields { names: &names, not },
            )
        }
    };
    apply_partial(bytes, partial)
}

fn apply_partial(bytes: Vec<u8>, partial: Option<(u32, NonZeroU32)>) -> Vec<u8> {
    match partial {
        None => bytes,
        Some((origin, count)) => mail::partial(&bytes, origin, count.get()).to_vec(),
    }
}

/// `BINARY[part]<partial>`: the part's content with its transfer encoding undone.
pub fn binary(
    summary: &MessageSummary,
    raw: &[u8],
    section: &[NonZeroU32],
    partial: Option<(u32, NonZeroU32)>,
) -> Result<Vec<u8>, SectionError> {
    let path: Vec<u32> = section.iter().map(|n| n.get()).collect();
    let bytes = mail::binary_content(summary, raw, &path)?;
    Ok(apply_partial(bytes, partial))
}

/// `BINARY.SIZE[part]`: the decoded size (RFC 3516 4.2).
pub fn binary_size(summary: &MessageSummary, raw: &[u8], section: &[NonZeroU32]) -> Result<u32, SectionError> {
    let path: Vec<u32> = section.iter().map(|n| n.get()).collect();
    if path.is_empty() {
        return Ok(summary.size);
    }
    let part = mail::find_part(&summary.root, &path).ok_or(SectionError::NoSuchPart)?;
    match (&part.kind, mail::TransferEncoding::from_name(part.encoding.as_deref())) {
        // Identity encodings: no need to copy the bytes to know their length.
        (_, mail::TransferEncoding::Identity) | (mail::PartKind::Multipart(_), _) | (mail::PartKind::Message(_), _) => {
            Ok(part.size())
        }
        _ => Ok(u32::try_from(mail::binary_content(summary, raw, &path)?.len()).unwrap_or(u32::MAX)),
    }
}
