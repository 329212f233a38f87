//! Modified UTF-7 mailbox names (RFC 3501 5.1.3). The store keeps UTF-8; clients
//! that did not enable UTF-8 (IMAP4rev2 / UTF8=ACCEPT) see this encoding.

use base64::Engine;
use base64::alphabet::IMAP_MUTF7;
use base64::engine::general_purpose::{GeneralPurpose, NO_PAD};

const ENGINE: GeneralPurpose = GeneralPurpose::new(&IMAP_MUTF7, NO_PAD);

/// UTF-8 name -> modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&ENGINE.encode(bytes));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Modified UTF-7 -> UTF-8; `None` when it is not valid modified UTF-7.
pub fn decode(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find('-')?;
        let encoded = &after[..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let bytes = ENGINE.decode(encoded).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            let text = String::from_utf16(&units).ok()?;
            // RFC 3501 5.1.3: printable ASCII must not be base64-encoded.
            if text.chars().any(|c| (' '..='~').contains(&c)) {
                return None;
            }
            out.push_str(&text);
        }
        rest = &after[end + 1..];
    }
    if !rest.is_ascii() {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for name in ["INBOX", "Entwürfe", "日本語/メール", "a&b", "Привет мир", "😀 emoji"] {
            let enc = encode(name);
            assert!(enc.is_ascii(), "{enc}");
            assert_eq!(decode(&enc).as_deref(), Some(name), "{enc}");
        }
        // RFC 3501 5.1.3 example.
        assert_eq!(encode("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode("&Jjo-!").as_deref(), Some("☺!"));
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(decode("&Jjo"), None);
        assert_eq!(decode("&AGE-"), None); // encodes "a"
        assert_eq!(decode("caf\u{e9}"), None);
    }
}
