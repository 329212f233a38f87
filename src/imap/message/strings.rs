//! Converting stored bytes into imap-types strings without panicking.

use imap_codec::imap_types::core::{IString, NString, Quoted};

/// Bytes as an IMAP string: quoted when it is plain 7-bit text, a literal otherwise.
/// NUL cannot appear in either (RFC 3501 4.3, RFC 9051 4.3), so it is dropped.
pub fn istring(v: &[u8]) -> IString<'static> {
    let clean: Vec<u8> = v.iter().copied().filter(|&b| b != 0).collect();
    // Without NUL every byte string is a valid literal; the fallback is never taken.
    IString::try_from(clean).unwrap_or(IString::Quoted(Quoted::unvalidated("")))
}

/// `None` becomes NIL.
pub fn nstring(v: Option<&[u8]>) -> NString<'static> {
    NString(v.map(istring))
}

/// A str as an IMAP string.
pub fn istr(s: &str) -> IString<'static> {
    istring(s.as_bytes())
}
