//! RFC 5322 address lists, split the way IMAP ENVELOPE wants them
//! (RFC 3501 7.4.2 / RFC 9051 7.5.2): name, adl (source route), mailbox, host,
//! with group syntax as a start marker (host NIL, mailbox = group name) and an end
//! marker (mailbox NIL, host NIL). Values stay raw: encoded-words are not decoded.

use serde::{Deserialize, Serialize};

/// One IMAP envelope address (or group marker).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    pub name: Option<Vec<u8>>,
    pub adl: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub host: Option<Vec<u8>>,
}

impl Address {
    /// True for the group start/end markers.
    pub fn is_group_marker(&self) -> bool {
        self.host.is_none()
    }

    /// `mailbox@host` for real addresses.
    pub fn addr_spec(&self) -> Option<String> {
        let mailbox = self.mailbox.as_deref()?;
        let host = self.host.as_deref()?;
        let mut s = String::from_utf8_lossy(mailbox).into_owned();
        if !host.is_empty() {
            s.push('@');
            s.push_str(&String::from_utf8_lossy(host));
        }
        Some(s)
    }
}

/// Hard cap on addresses kept per header, so a hostile header cannot blow up a summary.
const MAX_ADDRESSES: usize = 1000;
/// Most bytes of one header value read for addresses (well past [`MAX_ADDRESSES`] of
/// ordinary size), so a hostile multi-megabyte To: costs milliseconds.
const MAX_INPUT: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// Atom or domain literal, raw.
    Atom(Vec<u8>),
    /// Quoted string: content with escapes resolved.
    Quoted(Vec<u8>),
    /// Comment content (outer parentheses removed).
    Comment(Vec<u8>),
    Special(u8),
}

struct Token {
    tok: Tok,
    space_before: bool,
}

fn tokenize(v: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut space = false;
    while let Some(&b) = v.get(i) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | 0 => {
                space = true;
                i += 1;
                continue;
            }
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while let Some(&c) = v.get(i) {
                    i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            if let Some(&e) = v.get(i) {
                                s.push(e);
                                i += 1;
                            }
                        }
                        b'\r' | b'\n' => {}
                        _ => s.push(c),
                    }
                }
                out.push(Token {
                    tok: Tok::Quoted(s),
                    space_before: space,
                });
            }
            b'(' => {
                let mut depth = 0usize;
                let mut s = Vec::new();
                while let Some(&c) = v.get(i) {
                    i += 1;
                    match c {
                        b'(' => {
                            if depth > 0 {
                                s.push(c);
                            }
                            depth += 1;
                        }
                        b')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                            s.push(c);
                        }
                        b'\\' => {
                            if let Some(&e) = v.get(i) {
                                s.push(e);
                                i += 1;
                            }
                        }
                        b'\r' | b'\n' => {}
                        _ => s.push(c),
                    }
                }
                out.push(Token {
                    tok: Tok::Comment(s),
                    space_before: space,
                });
            }
            b'[' => {
                let start = i;
                while let Some(&c) = v.get(i) {
                    i += 1;
                    if c == b']' {
                        break;
                    }
                }
                out.push(Token {
                    tok: Tok::Atom(v.get(start..i).unwrap_or_default().to_vec()),
                    space_before: space,
                });
            }
            b'<' | b'>' | b':' | b';' | b'@' | b',' | b'.' => {
                out.push(Token {
                    tok: Tok::Special(b),
                    space_before: space,
                });
                i += 1;
            }
            _ => {
                let start = i;
                while let Some(&c) = v.get(i) {
                    if matches!(
                        c,
                        b' ' | b'\t'
                            | b'\r'
                            | b'\n'
                            | 0
                            | b'"'
                            | b'('
                            | b'['
                            | b'<'
                            | b'>'
                            | b':'
                            | b';'
                            | b'@'
                            | b','
                            | b'.'
                    ) {
                        break;
                    }
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Atom(v.get(start..i).unwrap_or_default().to_vec()),
                    space_before: space,
                });
            }
        }
        space = false;
    }
    out
}

/// Join tokens as a display phrase: words separated by single spaces, dots kept.
fn phrase(toks: &[Token]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for t in toks {
        let word: &[u8] = match &t.tok {
            Tok::Atom(a) => a,
            Tok::Quoted(q) => q,
            Tok::Special(b'.') => b".",
            Tok::Special(b'@') => b"@",
            _ => continue,
        };
        if t.space_before && !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
    (!out.is_empty()).then_some(out)
}

fn last_comment(toks: &[Token]) -> Option<Vec<u8>> {
    toks.iter().rev().find_map(|t| match &t.tok {
        Tok::Comment(c) if !c.iter().all(u8::is_ascii_whitespace) => Some(c.clone()),
        _ => None,
    })
}

/// Build local-part and domain from addr-spec tokens (no spaces, comments dropped).
fn addr_spec(toks: &[Token]) -> (Vec<u8>, Vec<u8>) {
    let at = toks
        .iter()
        .rposition(|t| t.tok == Tok::Special(b'@'))
        .unwrap_or(toks.len());
    let join = |ts: &[Token], quote: bool| {
        let mut out = Vec::new();
        for t in ts {
            match &t.tok {
                Tok::Atom(a) => out.extend_from_slice(a),
                Tok::Quoted(q) if quote => {
                    out.push(b'"');
                    for &c in q {
                        if c == b'"' || c == b'\\' {
                            out.push(b'\\');
                        }
                        out.push(c);
                    }
                    out.push(b'"');
                }
                Tok::Quoted(q) => out.extend_from_slice(q),
                Tok::Special(c) if *c != b'@' => out.push(*c),
                _ => {}
            }
        }
        out
    };
    let local = join(toks.get(..at).unwrap_or_default(), true);
    let domain = join(toks.get(at + 1..).unwrap_or_default(), false);
    (local, domain)
}

fn nonempty(v: Vec<u8>) -> Option<Vec<u8>> {
    (!v.is_empty()).then_some(v)
}

/// Parse a raw address-list header value into IMAP envelope addresses.
pub fn parse_address_list(value: &[u8]) -> Vec<Address> {
    let toks = tokenize(value.get(..MAX_INPUT).unwrap_or(value));
    let mut out = Vec::new();
    let mut in_group = false;
    let mut i = 0;
    while i < toks.len() && out.len() < MAX_ADDRESSES {
        // Collect one chunk up to a top-level delimiter.
        let start = i;
        while let Some(t) = toks.get(i) {
            if matches!(t.tok, Tok::Special(b'<' | b',' | b';')) || (!in_group && t.tok == Tok::Special(b':')) {
                break;
            }
            i += 1;
        }
        let chunk = toks.get(start..i).unwrap_or_default();
        let delim = toks.get(i).map(|t| t.tok.clone());
        i += 1;
        match delim {
            Some(Tok::Special(b'<')) => {
                // name-addr: display name, then angle-addr with an optional route.
                let name = phrase(chunk);
                let inner_start = i;
                while let Some(t) = toks.get(i) {
                    if t.tok == Tok::Special(b'>') {
                        break;
                    }
                    i += 1;
                }
                let inner = toks.get(inner_start..i).unwrap_or_default();
                i += 1;
                let (adl, spec) = match inner.iter().rposition(|t| t.tok == Tok::Special(b':')) {
                    Some(c) => (
                        nonempty(route(inner.get(..c).unwrap_or_default())),
                        inner.get(c + 1..).unwrap_or_default(),
                    ),
                    None => (None, inner),
                };
                // Skip trailing junk up to the next delimiter; a comment may name it.
                let tail_start = i;
                while let Some(t) = toks.get(i) {
                    if matches!(t.tok, Tok::Special(b',' | b';')) {
                        break;
                    }
                    i += 1;
                }
                let name = name.or_else(|| last_comment(toks.get(tail_start..i).unwrap_or_default()));
                let (local, domain) = addr_spec(spec);
                if !local.is_empty() || !domain.is_empty() {
                    out.push(Address {
                        name,
                        adl,
                        mailbox: Some(local),
                        host: Some(domain),
                    });
                } else if name.is_some() {
                    // "<>" null address with a name: keep something visible.
                    out.push(Address {
                        name,
                        adl,
                        mailbox: Some(Vec::new()),
                        host: Some(Vec::new()),
                    });
                }
                if let Some(Tok::Special(b';')) = toks.get(i).map(|t| &t.tok)
                    && in_group
                {
                    out.push(Address::default());
                    in_group = false;
                }
                i += 1;
            }
            Some(Tok::Special(b':')) => {
                // group = display-name ":" [group-list] ";" (RFC 5322 3.4)
                out.push(Address {
                    mailbox: Some(phrase(chunk).unwrap_or_default()),
                    ..Address::default()
                });
                in_group = true;
            }
            _ => {
                // addr-spec, possibly with a comment naming it.
                let (local, domain) = addr_spec(chunk);
                if !local.is_empty() || !domain.is_empty() {
                    out.push(Address {
                        name: last_comment(chunk),
                        adl: None,
                        mailbox: Some(local),
                        host: Some(domain),
                    });
                }
                if delim == Some(Tok::Special(b';')) && in_group {
                    out.push(Address::default());
                    in_group = false;
                }
            }
        }
    }
    if in_group {
        out.push(Address::default());
    }
    out
}

fn route(toks: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in toks {
        match &t.tok {
            Tok::Atom(a) => out.extend_from_slice(a),
            Tok::Special(c) => out.push(*c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(name: Option<&str>, adl: Option<&str>, mb: Option<&str>, host: Option<&str>) -> Address {
        let f = |s: Option<&str>| s.map(|s| s.as_bytes().to_vec());
        Address {
            name: f(name),
            adl: f(adl),
            mailbox: f(mb),
            host: f(host),
        }
    }

    #[test]
    fn simple_forms() {
        assert_eq!(
            parse_address_list(b"Terry Gray <gray@cac.washington.edu>"),
            vec![a(Some("Terry Gray"), None, Some("gray"), Some("cac.washington.edu"))]
        );
        assert_eq!(
            parse_address_list(b" imap@cac.washington.edu"),
            vec![a(None, None, Some("imap"), Some("cac.washington.edu"))]
        );
        assert_eq!(
            parse_address_list(b"\"Doe, John\" <jd@x.org>, b@y.org (Bee Bee)"),
            vec![
                a(Some("Doe, John"), None, Some("jd"), Some("x.org")),
                a(Some("Bee Bee"), None, Some("b"), Some("y.org")),
            ]
        );
        assert_eq!(
            parse_address_list(b"John Q. Public <jqp@[10.0.0.1]>"),
            vec![a(Some("John Q. Public"), None, Some("jqp"), Some("[10.0.0.1]"))]
        );
    }

    #[test]
    fn encoded_words_stay_raw() {
        assert_eq!(
            parse_address_list(b"=?utf-8?q?J=C3=B6rg?= <j@x.de>"),
            vec![a(Some("=?utf-8?q?J=C3=B6rg?="), None, Some("j"), Some("x.de"))]
        );
    }

    #[test]
    fn groups() {
        assert_eq!(
            parse_address_list(b"undisclosed-recipients:;"),
            vec![
                a(None, None, Some("undisclosed-recipients"), None),
                a(None, None, None, None)
            ]
        );
        assert_eq!(
            parse_address_list(b"Friends: a@x.org, Bob <b@y.org>; , c@z.org"),
            vec![
                a(None, None, Some("Friends"), None),
                a(None, None, Some("a"), Some("x.org")),
                a(Some("Bob"), None, Some("b"), Some("y.org")),
                a(None, None, None, None),
                a(None, None, Some("c"), Some("z.org")),
            ]
        );
        // Unterminated group is closed.
        assert_eq!(parse_address_list(b"G: a@x.org").len(), 3,);
    }

    #[test]
    fn route_and_quoted_local() {
        assert_eq!(
            parse_address_list(b"<@a.net,@b.net:joe@c.net>"),
            vec![a(None, Some("@a.net,@b.net"), Some("joe"), Some("c.net"))]
        );
        assert_eq!(
            parse_address_list(b"\"john doe\"@x.org"),
            vec![a(None, None, Some("\"john doe\""), Some("x.org"))]
        );
    }

    #[test]
    fn junk_does_not_panic() {
        for v in [
            &b""[..],
            b"<",
            b">",
            b"\"unterminated",
            b"(((",
            b"a@",
            b"@",
            b";;;:::,,,",
            b"<<>>",
            b"\xff\xfe <\x00@\x01>",
        ] {
            let _ = parse_address_list(v);
        }
        assert_eq!(
            parse_address_list(b"local"),
            vec![a(None, None, Some("local"), Some(""))]
        );
    }
}
