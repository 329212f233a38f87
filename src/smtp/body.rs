//! The message as it arrives (from DATA or BDAT): checked line by line while it is
//! collected, with a hard size limit. A refused message stops being kept at once,
//! so memory stays bounded while the rest is read and dropped.

use super::input::MAX_TEXT_LINE;
use memchr::memchr3;

/// Why a message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Over SIZE (RFC 1870).
    TooBig,
    /// RFC 5321 2.3.8: CR and LF only appear together as CRLF.
    BareCr,
    BareLf,
    /// NUL is not allowed in 7bit or 8bit content (RFC 6152, RFC 2045 2.7).
    Nul,
    /// RFC 5321 4.5.3.1.6.
    LineTooLong,
}

/// Streaming check of line structure across arbitrary chunk boundaries.
#[derive(Debug, Default)]
struct LineCheck {
    /// Bytes of the current line so far, without CR LF.
    line_len: usize,
    /// The last byte seen was a CR: the next must be LF.
    pending_cr: bool,
}

impl LineCheck {
    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Problem> {
        while let Some((&first, rest)) = bytes.split_first() {
            if self.pending_cr {
                if first != b'\n' {
                    return Err(Problem::BareCr);
                }
                self.pending_cr = false;
                self.line_len = 0;
                bytes = rest;
                continue;
            }
            let Some(i) = memchr3(b'\r', b'\n', 0, bytes) else {
                self.line_len += bytes.len();
                return self.length_ok();
            };
            self.line_len += i;
            self.length_ok()?;
            match bytes[i] {
                b'\r' => self.pending_cr = true,
                b'\n' => return Err(Problem::BareLf),
                _ => return Err(Problem::Nul),
            }
            bytes = &bytes[i + 1..];
        }
        Ok(())
    }

    fn length_ok(&self) -> Result<(), Problem> {
        if self.line_len + 2 > MAX_TEXT_LINE {
            return Err(Problem::LineTooLong);
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct Body {
    buf: Vec<u8>,
    /// Content bytes received (the prefix not counted).
    size: u64,
    max: u64,
    check: LineCheck,
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
            check: LineCheck::default(),
            problem: None,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.problem.is_some() {
            return;
        }
        self.size += bytes.len() as u64;
        if self.size > self.max {
            return self.fail(Problem::TooBig);
        }
        if let Err(p) = self.check.feed(bytes) {
            return self.fail(p);
        }
        self.buf.extend_from_slice(bytes);
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
        if self.problem.is_none() && self.check.pending_cr {
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
        assert_eq!(check(&[b"no final newline"]).unwrap(), b"P: 1\r\nno final newline");
    }

    #[test]
    fn bare_line_ends_nul_and_long_lines_are_refused() {
        assert_eq!(check(&[b"a\nb"]), Err(Problem::BareLf));
        assert_eq!(check(&[b"a\r", b"b"]), Err(Problem::BareCr));
        assert_eq!(check(&[b"a\r"]), Err(Problem::BareCr));
        assert_eq!(check(&[b"a\0\r\n"]), Err(Problem::Nul));
        let ok = [vec![b'x'; 998], b"\r\n".to_vec()].concat();
        assert!(check(&[&ok]).is_ok());
        let long = [vec![b'x'; 999], b"\r\n".to_vec()].concat();
        assert_eq!(check(&[&long]), Err(Problem::LineTooLong));
        assert_eq!(check(&[&long[..500], &long[500..]]), Err(Problem::LineTooLong));
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
    }
}
