//! RFC 5256 2.1 base subject extraction (for SORT SUBJECT and THREAD).

use super::decode::collapse_ws;

/// Strip one subj-blob (`"[" *BLOBCHAR "]" *WSP`) from the front.
fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let close = rest.find(']')?;
    if rest.get(..close)?.contains('[') {
        return None;
    }
    Some(rest.get(close + 1..)?.trim_start_matches([' ', '\t']))
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let head = s.get(..p.len())?;
    head.eq_ignore_ascii_case(p).then(|| s.get(p.len()..)).flatten()
}

/// Strip one subj-refwd: `("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`.
fn strip_refwd(s: &str) -> Option<&str> {
    let rest = strip_prefix_ci(s, "re")
        .or_else(|| strip_prefix_ci(s, "fwd"))
        .or_else(|| strip_prefix_ci(s, "fw"))?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let rest = strip_blob(rest).unwrap_or(rest);
    rest.strip_prefix(':')
}

/// Strip one subj-leader: `(*subj-blob subj-refwd) / WSP`. Returns (rest, was_refwd).
fn strip_leader(s: &str) -> Option<(&str, bool)> {
    if let Some(r) = s.strip_prefix([' ', '\t']) {
        return Some((r, false));
    }
    let mut cur = s;
    loop {
        if let Some(r) = strip_refwd(cur) {
            return Some((r, true));
        }
        cur = strip_blob(cur)?;
    }
}

/// The base subject and whether the subject was a reply or forward.
pub fn base_subject(decoded: &str) -> (String, bool) {
    // (1) whitespace runs become one space.
    let mut s = collapse_ws(decoded);
    let mut reply = false;
    // Each round strictly shortens the text, so this ends.
    loop {
        // (2) trailing "(fwd)" and WSP.
        loop {
            let t = s.trim_end_matches([' ', '\t']);
            let n = t.len();
            let t = match t.get(n.saturating_sub(5)..) {
                Some(tail) if n >= 5 && tail.eq_ignore_ascii_case("(fwd)") => {
                    reply = true;
                    t.get(..n - 5).unwrap_or_default()
                }
                _ => t,
            };
            if t.len() == s.len() {
                break;
            }
            s = t.to_string();
        }
        // (3)-(5) leaders and blobs.
        let mut cur = s.as_str();
        loop {
            let before = cur.len();
            while let Some((r, refwd)) = strip_leader(cur) {
                reply |= refwd;
                cur = r;
            }
            if let Some(r) = strip_blob(cur)
                && !r.is_empty()
            {
                cur = r;
            }
            if cur.len() == before {
                break;
            }
        }
        // (6) "[fwd: ... ]" wrapper.
        let wrapped = strip_prefix_ci(cur, "[fwd:").and_then(|r| r.strip_suffix(']'));
        match wrapped {
            Some(inner) => {
                reply = true;
                s = inner.to_string();
            }
            None => return (cur.to_string(), reply),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5256_base_subjects() {
        let cases = [
            ("Hello", "Hello", false),
            ("Re: Hello", "Hello", true),
            ("RE:   re: Hello", "Hello", true),
            ("Fwd: Hello (fwd)", "Hello", true),
            ("fw: Hello", "Hello", true),
            ("[list] Re: Hello", "Hello", true),
            ("Re [list]: Hello", "Hello", true),
            ("[Fwd: Re: Hello]", "Hello", true),
            ("[only a blob]", "[only a blob]", false),
            ("  spaced   out  ", "spaced out", false),
            ("Reply to this", "Reply to this", false),
            ("", "", false),
            ("Re:", "", true),
            ("[a][b] c", "c", false),
        ];
        for (input, want, reply) in cases {
            assert_eq!(base_subject(input), (want.to_string(), reply), "{input:?}");
        }
    }

    #[test]
    fn unicode_is_safe() {
        let (b, _) = base_subject("Ré: ünïcode [ß");
        assert_eq!(b, "Ré: ünïcode [ß");
        let _ = base_subject("[\u{1F600}]");
        let _ = base_subject("(fwd)(fwd)(fwd)");
    }
}
