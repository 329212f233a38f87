//! The message as it arrives (from DATA or BDAT): line ends made CRLF while it is
//! collected, with a hard size limit. A refused message stops being kept at once,
//! so memory stays bounded while the rest is read and dropped.

use memchr::memchr3;

/// Why a message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Over SIZE (RFC 1870).
    TooBig,
    /// RFC 5321 2.3.8: CR only appears as part of CRLF. Unlike a bare LF, no common
    /// sender writes one, so it is refused rather than guessed at.
    BareCr,
    /// NUL is not allowed in 7bit or 8bit content (RFC 6152, RFC 2045 2.7).
    Nul,
}

#[derive(Debug)]
pub struct Body {
    buf: Vec<u8>,
    /// Content bytes kept, as stored (the prefix not counted).
    size: u64,
    max: u64,
    /// The last byte kept was a CR: the next must be LF.
    pending_cr: bool,
    problem: Option<Problem>,
}

impl Body {
    /// A body of at most `max` content bytes, collected after `prefix` (the trace
    /// header we add, so the message needs no copy to prepend it).
    pub fn new(max: u64, prefix: Vec<u8>) -> Body {
        Body {
            buf: prefix,
            size: 0,
            max,
            pending_cr: false,
            problem: None,
        }
    }

    /// Adds bytes that may split lines (and CRLF pairs) anywhere. Lines may be of
    /// any length: RFC 5321 4.5.3.1 asks servers to avoid limits, and the size
    /// limit bounds them.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.problem.is_some() {
            return;
        }
        let mut at = 0;
        if self.pending_cr {
            match bytes.first() {
                None => return,
                Some(b'\n') => at = 1,
                Some(_) => return self.fail(Problem::BareCr),
            }
            self.pending_cr = false;
        }
        // Bytes from `run` on are not kept yet; they are kept in runs, broken only
        // where a line end is rewritten.
        let mut run = 0;
        while let Some(i) = memchr3(b'\r', b'\n', 0, &bytes[at..]) {
            let i = at + i;
            match (bytes[i], bytes.get(i + 1)) {
                (b'\r', Some(b'\n')) => at = i + 2,
                (b'\r', Some(_)) => return self.fail(Problem::BareCr),
                (b'\r', None) => {
                    self.pending_cr = true;
                    at = i + 1;
                }
                (b'\n', _) => {
                    // A bare LF (Python's email package, many scripts) is taken as
                    // the CRLF it stands for and stored as one, as Postfix 3.9 does
                    // by default (smtpd_forbid_bare_newline = normalize). Only
                    // CRLF.CRLF ends DATA (input.rs), so this opens no smuggling.
                    if !self.keep(&bytes[run..i]) || !self.keep(b"\r\n") {
                        return;
                    }
                    run = i + 1;
                    at = i + 1;
                }
                _ => return self.fail(Problem::Nul),
            }
        }
        self.keep(&bytes[run..]);
    }

    /// Keeps `bytes` unless that goes over the size limit; false when refused.
    fn keep(&mut self, bytes: &[u8]) -> bool {
        self.size += bytes.len() as u64;
        if self.size > self.max {
            self.fail(Problem::TooBig);
            return false;
        }
        self.buf.extend_from_slice(bytes);
        true
    }

    /// Refuses the message; the first reason found is the one given.
    pub fn fail(&mut self, problem: Problem) {
        if self.problem.is_none() {
            self.problem = Some(problem);
            self.buf = Vec::new();
        }
    }

    pub fn problem(&self) -> Option<Problem> {
        self.problem
    }

    /// The whole message (prefix included), or why it is refused.
    pub fn finish(mut self) -> Result<Vec<u8>, Problem> {
        if self.problem.is_none() && self.pending_cr {
            self.fail(Problem::BareCr);
        }
        match self.problem {
            Some(p) => Err(p),
            None => Ok(self.buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(chunks: &[&[u8]]) -> Result<Vec<u8>, Problem> {
        let mut body = Body::new(100_000, b"P: 1\r\n".to_vec());
        for c in chunks {
            body.push(c);
        }
        body.finish()
    }

    #[test]
    fn crlf_split_across_chunks_is_fine() {
        assert_eq!(check(&[b"a\r", b"\nb\r\n"]).unwrap(), b"P: 1\r\na\r\nb\r\n");
        assert_eq!(check(&[b"a\r", b"", b"\nb"]).unwrap(), b"P: 1\r\na\r\nb");
        assert_eq!(check(&[b"no final newline"]).unwrap(), b"P: 1\r\nno final newline");
    }

    #[test]
    fn bare_lf_is_stored_as_crlf() {
        assert_eq!(check(&[b"a\nb\n"]).unwrap(), b"P: 1\r\na\r\nb\r\n");
        assert_eq!(check(&[b"\n\n", b"c\r\nd\n"]).unwrap(), b"P: 1\r\n\r\n\r\nc\r\nd\r\n");
        // A CR at the end of one chunk pairs with the LF at the start of the next.
        assert_eq!(check(&[b"a\r", b"\n\n"]).unwrap(), b"P: 1\r\na\r\n\r\n");
    }

    #[test]
    fn bare_cr_and_nul_are_refused() {
        assert_eq!(check(&[b"a\r", b"b"]), Err(Problem::BareCr));
        assert_eq!(check(&[b"a\rb\r\n"]), Err(Problem::BareCr));
        assert_eq!(check(&[b"a\r\r\n"]), Err(Problem::BareCr));
        assert_eq!(check(&[b"a\r"]), Err(Problem::BareCr));
        assert_eq!(check(&[b"a\0\r\n"]), Err(Problem::Nul));
        assert_eq!(check(&[b"a\n\0"]), Err(Problem::Nul));
    }

    #[test]
    fn long_lines_are_content() {
        let long = [vec![b'x'; 5000], b"\r\n".to_vec()].concat();
        assert_eq!(check(&[&long[..700], &long[700..]]).unwrap()[6..], long[..]);
    }

    #[test]
    fn over_size_stops_keeping_bytes() {
        let mut body = Body::new(10, Vec::new());
        body.push(b"0123456789");
        assert!(body.problem().is_none());
        body.push(b"x");
        assert_eq!(body.problem(), Some(Problem::TooBig));
        assert_eq!(body.buf.capacity(), 0);
        body.push(&[b'y'; 1000]);
        assert_eq!(body.finish(), Err(Problem::TooBig));
        // The CR a bare LF gains counts: the limit is on what is stored.
        let mut body = Body::new(9, Vec::new());
        body.push(b"0123\n567");
        assert_eq!(body.finish(), Ok(b"0123\r\n567".to_vec()));
        let mut body = Body::new(9, Vec::new());
        body.push(b"0123\n5678");
        assert_eq!(body.finish(), Err(Problem::TooBig));
    }
}
