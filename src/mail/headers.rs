//! Raw header blocks: splitting a part into header and body, walking fields,
//! unfolding, and the HEADER.FIELDS subsets IMAP asks for.
//!
//! Everything here works on bytes and offsets; nothing decodes or allocates per byte.

/// Find where the header of `raw[start..end]` ends. Returns the offset of the first
/// body byte: just after the blank line (RFC 5322 2.1), or `end` when there is none.
pub fn body_start(raw: &[u8], start: usize, end: usize) -> usize {
    let end = end.min(raw.len());
    let mut pos = start.min(end);
    loop {
        let Some(line) = raw.get(pos..end) else {
            return end;
        };
        // A blank line ends the header: "\r\n" or a bare "\n".
        if line.starts_with(b"\r\n") {
            return pos + 2;
        }
        if line.starts_with(b"\n") {
            return pos + 1;
        }
        match line.iter().position(|&b| b == b'\n') {
            Some(i) => pos += i + 1,
            None => return end,
        }
    }
}

/// One header field inside a header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// Field name as written (without the colon, trailing blanks trimmed).
    pub name: &'a [u8],
    /// Raw value: everything after the colon up to and excluding the final line end,
    /// folding kept.
    pub value: &'a [u8],
    /// The whole field including its final line end.
    pub raw: &'a [u8],
}

/// Iterate the fields of a header block (which may include the terminating blank line).
/// Lines without a colon are skipped with their continuation lines.
pub fn fields(header: &[u8]) -> Fields<'_> {
    Fields { rest: header }
}

/// Iterator returned by [`fields`].
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        loop {
            let rest = self.rest;
            if rest.is_empty() || rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
                self.rest = &[];
                return None;
            }
            // The field runs until a line end not followed by WSP (RFC 5322 2.2.3).
            let mut end = rest.len();
            let mut pos = 0;
            while let Some(i) = rest.get(pos..).and_then(|r| r.iter().position(|&b| b == b'\n')) {
                let after = pos + i + 1;
                match rest.get(after) {
                    Some(b' ') | Some(b'\t') => pos = after,
                    _ => {
                        end = after;
                        break;
                    }
                }
            }
            let (raw, tail) = rest.split_at(end);
            self.rest = tail;
            let Some(colon) = raw.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = raw.split_at(colon);
            let name = trim_end(name);
            if name.is_empty() || name.iter().any(|b| matches!(b, b' ' | b'\t' | b'\n')) {
                continue;
            }
            let value = value.get(1..).unwrap_or_default();
            let value = strip_line_end(value);
            return Some(Field { name, value, raw });
        }
    }
}

fn strip_line_end(v: &[u8]) -> &[u8] {
    let v = v.strip_suffix(b"\n").unwrap_or(v);
    v.strip_suffix(b"\r").unwrap_or(v)
}

fn trim_end(v: &[u8]) -> &[u8] {
    let n = v.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    v.get(..n).unwrap_or_default()
}

/// Trim ASCII whitespace on both sides.
pub fn trim(v: &[u8]) -> &[u8] {
    let v = trim_end(v);
    let start = v.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(v.len());
    v.get(start..).unwrap_or_default()
}

/// Unfold a raw value (RFC 5322 2.2.3: remove CRLF before WSP) and trim it.
/// NUL bytes are dropped: IMAP strings cannot carry them (RFC 3501 4.3).
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &b in trim(value) {
        if b != b'\r' && b != b'\n' && b != 0 {
            out.push(b);
        }
    }
    out
}

/// All fields of a header block, parsed once, for several look-ups by name.
pub struct Index<'a>(Vec<Field<'a>>);

impl<'a> Index<'a> {
    pub fn new(header: &'a [u8]) -> Self {
        Self(fields(header).collect())
    }

    /// First field named `name` (case-insensitive).
    pub fn first(&self, name: &str) -> Option<Field<'a>> {
        self.0
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
            .copied()
    }
}

/// First field named `name` (case-insensitive) in a header block.
pub fn first<'a>(header: &'a [u8], name: &str) -> Option<Field<'a>> {
    fields(header).find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
}

/// All values of fields named `name` in a header block.
pub fn all<'a>(header: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    fields(header)
        .filter(move |f| f.name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|f| f.value)
}

/// The subset of a header block for `HEADER.FIELDS (names)` or, with `not`,
/// `HEADER.FIELDS.NOT (names)`. Matching is case-insensitive, fields keep their folding,
/// and the result ends with the blank line (RFC 3501 6.4.5: "the blank line is included
/// in all header fetches").
pub fn header_fields(raw_header: &[u8], names: &[&str], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields(raw_header) {
        let listed = names.iter().any(|n| f.name.eq_ignore_ascii_case(n.as_bytes()));
        if listed != not {
            out.extend_from_slice(f.raw);
            if !f.raw.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &[u8] = b"From: a@b.c\r\nSubject: hello\r\n  world\r\nX-Empty:\r\nTo: d@e.f\r\n\r\nbody\r\n";

    #[test]
    fn body_start_crlf_lf_and_none() {
        assert_eq!(body_start(H, 0, H.len()), H.len() - 6);
        let lf = b"A: b\nC: d\n\nbody";
        assert_eq!(&lf[body_start(lf, 0, lf.len())..], b"body");
        let none = b"A: b\r\nC: d";
        assert_eq!(body_start(none, 0, none.len()), none.len());
        let blank_first = b"\r\nbody";
        assert_eq!(body_start(blank_first, 0, blank_first.len()), 2);
        assert_eq!(body_start(b"", 0, 0), 0);
        assert_eq!(body_start(b"abc", 5, 9), 3);
    }

    #[test]
    fn fields_keep_folding() {
        let got: Vec<_> = fields(H).map(|f| (f.name, f.value)).collect();
        assert_eq!(
            got,
            vec![
                (&b"From"[..], &b" a@b.c"[..]),
                (b"Subject", b" hello\r\n  world"),
                (b"X-Empty", b""),
                (b"To", b" d@e.f"),
            ]
        );
        assert_eq!(unfold(b" hello\r\n  world"), b"hello  world");
    }

    #[test]
    fn junk_lines_are_skipped() {
        let h = b"no colon here\r\n cont\r\nA: 1\r\n: empty name\r\nB: 2";
        let got: Vec<_> = fields(h).map(|f| f.name).collect();
        assert_eq!(got, vec![&b"A"[..], b"B"]);
    }

    #[test]
    fn header_fields_subset() {
        assert_eq!(
            header_fields(H, &["subject", "TO"], false),
            b"Subject: hello\r\n  world\r\nTo: d@e.f\r\n\r\n"
        );
        assert_eq!(
            header_fields(H, &["subject", "to"], true),
            b"From: a@b.c\r\nX-Empty:\r\n\r\n"
        );
        assert_eq!(header_fields(H, &["nothing"], false), b"\r\n");
        // A last field without a line end still gets one.
        assert_eq!(header_fields(b"A: 1", &["a"], false), b"A: 1\r\n\r\n");
    }
}
