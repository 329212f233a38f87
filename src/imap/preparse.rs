//! Command syntax imap-codec does not parse yet, handled before it sees the bytes:
//! LIST-EXTENDED selection/return options and multiple patterns (RFC 5258, RFC 5819
//! LIST-STATUS, RFC 6154 SPECIAL-USE), and SEARCH RETURN options (RFC 4731 ESEARCH),
//! which are cut out so imap-codec parses the rest of the SEARCH.

/// What `inspect` found.
#[derive(Debug, Default)]
pub struct Inspected {
    /// An extended LIST, parsed here (imap-codec only knows the basic form).
    pub list: Option<ListExtended>,
    /// The message with `RETURN (...)` removed, for imap-codec.
    pub rewritten: Option<Vec<u8>>,
    pub search_return: Option<SearchReturn>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListExtended {
    pub tag: String,
    pub reference: Vec<u8>,
    pub patterns: Vec<Vec<u8>>,
    pub select_subscribed: bool,
    pub select_special_use: bool,
    pub select_recursive: bool,
    pub return_subscribed: bool,
    pub return_children: bool,
    pub return_special_use: bool,
    /// RFC 5819 RETURN (STATUS (...)): the item names, upper-cased.
    pub return_status: Option<Vec<String>>,
    /// Something we could not parse: answer BAD.
    pub malformed: bool,
}

/// RFC 4731 result options.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub count: bool,
    pub all: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(Vec<u8>),
    /// Quoted string or literal: never a keyword.
    Str(Vec<u8>),
    List(Vec<Token>),
}

pub fn inspect(message: &[u8]) -> Inspected {
    let mut out = Inspected::default();
    let Some((tag, rest)) = word(message) else {
        return out;
    };
    let Some((name, rest)) = word(rest) else {
        return out;
    };
    if name.eq_ignore_ascii_case(b"LIST") && needs_extended(rest) {
        out.list = Some(parse_list(&String::from_utf8_lossy(tag), rest));
    } else if name.eq_ignore_ascii_case(b"SEARCH") {
        search_return(message, message.len() - rest.len(), &mut out);
    } else if name.eq_ignore_ascii_case(b"UID")
        && let Some((sub, rest)) = word(rest)
        && sub.eq_ignore_ascii_case(b"SEARCH")
    {
        search_return(message, message.len() - rest.len(), &mut out);
    }
    out
}

/// Splits off one space-delimited word (after skipping spaces).
fn word(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let start = input.iter().position(|&b| b != b' ')?;
    let input = &input[start..];
    let end = input
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(input.len());
    if end == 0 {
        return None;
    }
    Some((&input[..end], &input[end..]))
}

fn needs_extended(args: &[u8]) -> bool {
    let trimmed = args.trim_ascii_start();
    if trimmed.first() == Some(&b'(') {
        return true;
    }
    let Ok(tokens) = tokenize(args) else {
        return false;
    };
    tokens.len() > 2 || tokens.iter().any(|t| matches!(t, Token::List(_)))
}

fn search_return(message: &[u8], at: usize, out: &mut Inspected) {
    let rest = &message[at..];
    let Some((kw, after)) = word(rest) else { return };
    if !kw.eq_ignore_ascii_case(b"RETURN") {
        return;
    }
    let after_trim = after.trim_ascii_start();
    if after_trim.first() != Some(&b'(') {
        return;
    }
    let Some(close) = after_trim.iter().position(|&b| b == b')') else {
        return;
    };
    let mut ret = SearchReturn::default();
    let opts = String::from_utf8_lossy(&after_trim[1..close]).to_ascii_uppercase();
    for opt in opts.split_ascii_whitespace() {
        match opt {
            "MIN" => ret.min = true,
            "MAX" => ret.max = true,
            "COUNT" => ret.count = true,
            "ALL" => ret.all = true,
            // SAVE (RFC 5182) is not offered.
            _ => return,
        }
    }
    if !(ret.min || ret.max || ret.count || ret.all) {
        // RFC 4731 3.1: RETURN () means RETURN (ALL).
        ret.all = true;
    }
    let consumed = rest.len() - after_trim.len() + close + 1;
    let mut rewritten = message[..at].to_vec();
    rewritten.extend_from_slice(&rest[consumed..]);
    out.rewritten = Some(rewritten);
    out.search_return = Some(ret);
}

fn tokenize(input: &[u8]) -> Result<Vec<Token>, ()> {
    let mut pos = 0;
    let tokens = tokens_until(input, &mut pos, false, 0)?;
    Ok(tokens)
}

fn tokens_until(input: &[u8], pos: &mut usize, in_list: bool, depth: usize) -> Result<Vec<Token>, ()> {
    if depth > 4 {
        return Err(());
    }
    let mut tokens = Vec::new();
    loop {
        while *pos < input.len() && input[*pos] == b' ' {
            *pos += 1;
        }
        let Some(&b) = input.get(*pos) else {
            return if in_list { Err(()) } else { Ok(tokens) };
        };
        match b {
            b'\r' | b'\n' => return if in_list { Err(()) } else { Ok(tokens) },
            b')' => {
                *pos += 1;
                return if in_list { Ok(tokens) } else { Err(()) };
            }
            b'(' => {
                *pos += 1;
                tokens.push(Token::List(tokens_until(input, pos, true, depth + 1)?));
            }
            b'"' => {
                *pos += 1;
                let mut s = Vec::new();
                loop {
                    match input.get(*pos) {
                        None | Some(b'\r') | Some(b'\n') => return Err(()),
                        Some(b'"') => {
                            *pos += 1;
                            break;
                        }
                        Some(b'\\') => {
                            s.push(*input.get(*pos + 1).ok_or(())?);
                            *pos += 2;
                        }
                        Some(&c) => {
                            s.push(c);
                            *pos += 1;
                        }
                    }
                }
                tokens.push(Token::Str(s));
            }
            b'{' => {
                let close = input[*pos..].iter().position(|&c| c == b'}').ok_or(())? + *pos;
                let digits = std::str::from_utf8(&input[*pos + 1..close]).map_err(|_| ())?;
                let len: usize = digits.trim_end_matches('+').parse().map_err(|_| ())?;
                let mut start = close + 1;
                if input.get(start) == Some(&b'\r') {
                    start += 1;
                }
                if input.get(start) != Some(&b'\n') {
                    return Err(());
                }
                start += 1;
                let data = input.get(start..start + len).ok_or(())?;
                tokens.push(Token::Str(data.to_vec()));
                *pos = start + len;
            }
            _ => {
                let start = *pos;
                while *pos < input.len() && !matches!(input[*pos], b' ' | b'(' | b')' | b'\r' | b'\n') {
                    *pos += 1;
                }
                tokens.push(Token::Word(input[start..*pos].to_vec()));
            }
        }
    }
}

fn text(t: &Token) -> Option<Vec<u8>> {
    match t {
        Token::Word(w) | Token::Str(w) => Some(w.clone()),
        Token::List(_) => None,
    }
}

fn keyword(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) => Some(String::from_utf8_lossy(w).to_ascii_uppercase()),
        _ => None,
    }
}

fn parse_list(tag: &str, args: &[u8]) -> ListExtended {
    let mut list = ListExtended {
        tag: tag.to_string(),
        ..Default::default()
    };
    let Ok(tokens) = tokenize(args) else {
        list.malformed = true;
        return list;
    };
    let mut it = tokens.iter().peekable();
    if let Some(Token::List(opts)) = it.peek() {
        for opt in opts {
            match keyword(opt).as_deref() {
                Some("SUBSCRIBED") => list.select_subscribed = true,
                Some("SPECIAL-USE") => list.select_special_use = true,
                Some("RECURSIVEMATCH") => list.select_recursive = true,
                Some("REMOTE") => {}
                _ => list.malformed = true,
            }
        }
        it.next();
    }
    // RFC 5258 3: RECURSIVEMATCH needs another selection option.
    if list.select_recursive && !list.select_subscribed && !list.select_special_use {
        list.malformed = true;
    }
    match it.next().and_then(text) {
        Some(r) => list.reference = r,
        None => list.malformed = true,
    }
    match it.next() {
        Some(Token::List(patterns)) => list.patterns = patterns.iter().filter_map(text).collect(),
        Some(t) => list.patterns = text(t).into_iter().collect(),
        None => list.malformed = true,
    }
    if list.patterns.is_empty() {
        list.malformed = true;
    }
    if let Some(t) = it.next() {
        if keyword(t).as_deref() != Some("RETURN") {
            list.malformed = true;
            return list;
        }
        let Some(Token::List(opts)) = it.next() else {
            list.malformed = true;
            return list;
        };
        let mut opts = opts.iter();
        while let Some(opt) = opts.next() {
            match keyword(opt).as_deref() {
                Some("SUBSCRIBED") => list.return_subscribed = true,
                Some("CHILDREN") => list.return_children = true,
                Some("SPECIAL-USE") => list.return_special_use = true,
                Some("STATUS") => match opts.next() {
                    Some(Token::List(items)) => {
                        list.return_status = Some(items.iter().filter_map(keyword).collect());
                    }
                    _ => list.malformed = true,
                },
                _ => list.malformed = true,
            }
        }
    }
    if it.next().is_some() {
        list.malformed = true;
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_list_is_left_to_the_codec() {
        let i = inspect(b"a LIST \"\" \"*\"\r\n");
        assert!(i.list.is_none() && i.rewritten.is_none());
    }

    #[test]
    fn extended_list() {
        let i =
            inspect(b"a LIST (SUBSCRIBED) \"\" (\"INBOX\" \"Sent\") RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n");
        let l = i.list.unwrap();
        assert!(!l.malformed);
        assert!(l.select_subscribed && l.return_children);
        assert_eq!(l.patterns, vec![b"INBOX".to_vec(), b"Sent".to_vec()]);
        assert_eq!(l.return_status, Some(vec!["MESSAGES".into(), "UNSEEN".into()]));
        let l = inspect(b"a list \"\" * return (special-use)\r\n").list.unwrap();
        assert!(l.return_special_use && !l.malformed);
        assert_eq!(l.patterns, vec![b"*".to_vec()]);
    }

    #[test]
    fn search_return_is_cut_out() {
        let i = inspect(b"a UID SEARCH RETURN (MIN COUNT) UNSEEN\r\n");
        assert_eq!(i.rewritten.as_deref(), Some(&b"a UID SEARCH UNSEEN\r\n"[..]));
        let r = i.search_return.unwrap();
        assert!(r.min && r.count && !r.all);
        let i = inspect(b"a SEARCH RETURN () ALL\r\n");
        assert!(i.search_return.unwrap().all);
        assert!(inspect(b"a SEARCH ALL\r\n").search_return.is_none());
    }
}
