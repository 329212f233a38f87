//! The client's byte stream, split without any I/O: command lines with their length
//! limits, DATA content up to CRLF.CRLF with dot-unstuffing, and BDAT chunks.
//!
//! Command lines are cut here first and only then parsed (smtp-proto), so an overlong
//! or malformed line is dropped whole and can never desynchronise what follows.

use super::body::Body;
use memchr::memchr;

/// RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF.
pub const MAX_COMMAND_LINE: usize = 512;
/// RFC 3461 4 and RFC 4954 5 lengthen MAIL and RCPT lines by their parameters
/// (ORCPT, ENVID, AUTH=); 1024 leaves room for them.
pub const MAX_ENVELOPE_LINE: usize = 1024;
/// RFC 4954 4: an AUTH command line or SASL response may be 12288 octets.
pub const MAX_SASL_LINE: usize = 12288;
/// RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF. Longer
/// ones are taken (4.5.3.1 asks servers to avoid such limits), in pieces this big.
pub const MAX_TEXT_LINE: usize = 1000;
/// Buffers above this are released once a large message has gone through.
const KEEP_CAPACITY: usize = 8 * 1024;

/// What [`Input::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line is in the caller's buffer.
    Complete,
    /// A line went over its limit; it was discarded up to its LF.
    TooLong,
    /// Read more bytes.
    NeedMore,
}

#[derive(Debug, Default)]
pub struct Input {
    buf: Vec<u8>,
    head: usize,
    /// Dropping the rest of an overlong line up to its LF.
    discarding: bool,
}

impl Input {
    /// Unconsumed bytes.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    pub fn consume(&mut self, n: usize) {
        self.head = (self.head + n).min(self.buf.len());
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        }
    }

    /// The vector to read into (appending), with consumed bytes dropped first.
    pub fn read_buffer(&mut self, want: usize) -> &mut Vec<u8> {
        if self.head > 0 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        if self.buf.capacity() - self.buf.len() < want {
            self.buf.reserve(want);
        }
        &mut self.buf
    }

    /// RFC 3207 4.2: everything the client sent before the TLS handshake is dropped.
    pub fn discard_all(&mut self) {
        self.buf.clear();
        self.head = 0;
        self.discarding = false;
    }

    /// Gives memory back after a large message.
    pub fn shrink(&mut self) {
        if self.pending().is_empty() && self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
            self.head = 0;
        }
    }

    /// Moves the next command line into `line`, its line end made a single LF (what
    /// smtp-proto parses). `limit` gives the
    /// longest allowed line, with its line end, for the bytes the line starts with.
    pub fn next_line(&mut self, line: &mut Vec<u8>, limit: impl Fn(&[u8]) -> usize) -> Line {
        loop {
            let pending = self.pending();
            if pending.is_empty() {
                return Line::NeedMore;
            }
            let lf = memchr(b'\n', pending);
            if self.discarding {
                match lf {
                    Some(i) => {
                        self.discarding = false;
                        self.consume(i + 1);
                        return Line::TooLong;
                    }
                    None => {
                        let n = pending.len();
                        self.consume(n);
                        return Line::NeedMore;
                    }
                }
            }
            let max = limit(pending);
            match lf {
                Some(i) if i < max => {
                    let end = if i > 0 && pending[i - 1] == b'\r' { i - 1 } else { i };
                    line.clear();
                    line.extend_from_slice(&pending[..end]);
                    line.push(b'\n');
                    self.consume(i + 1);
                    return Line::Complete;
                }
                Some(i) => {
                    self.consume(i + 1);
                    return Line::TooLong;
                }
                None if pending.len() >= max => {
                    self.discarding = true;
                    continue;
                }
                None => return Line::NeedMore,
            }
        }
    }
}

/// The limit for a command line that starts with `start`, or for a SASL response.
pub fn command_limit(start: &[u8], sasl: bool) -> usize {
    let verb = start.get(..4).unwrap_or(start);
    if sasl || verb.eq_ignore_ascii_case(b"AUTH") {
        MAX_SASL_LINE
    } else if verb.eq_ignore_ascii_case(b"MAIL") || verb.eq_ignore_ascii_case(b"RCPT") {
        MAX_ENVELOPE_LINE
    } else {
        MAX_COMMAND_LINE
    }
}

/// DATA content (RFC 5321 4.1.1.4): lines up to the one that is a lone dot.
#[derive(Debug)]
pub struct DotReader {
    /// The next byte starts a line.
    line_start: bool,
    /// The previous line ended with CRLF (the DATA command line counts): only then
    /// can a lone dot line end the data.
    after_crlf: bool,
    /// The last byte given to the body was a CR (a long line comes in pieces).
    last_cr: bool,
}

impl Default for DotReader {
    fn default() -> Self {
        DotReader {
            line_start: true,
            after_crlf: true,
            last_cr: false,
        }
    }
}

impl DotReader {
    /// Feeds whole lines from `input` into `body`. True once the end of data was
    /// consumed: a `.` line that follows a CRLF and ends with CRLF, nothing else.
    /// So `\n.\n`, `\n.\r\n` and `\r\n.\n` are content, never an end: what
    /// follows them cannot start another transaction (no smuggling).
    pub fn feed(&mut self, input: &mut Input, body: &mut Body) -> bool {
        loop {
            let pending = input.pending();
            let Some(i) = memchr(b'\n', pending) else {
                if pending.len() >= MAX_TEXT_LINE {
                    // Too long to be the end line: the body takes this piece now,
                    // so memory stays bounded however long the line grows.
                    let n = pending.len();
                    self.give(body, pending, false);
                    input.consume(n);
                }
                return false;
            };
            let line = &pending[..=i];
            if self.line_start && self.after_crlf && line == b".\r\n" {
                input.consume(3);
                return true;
            }
            self.after_crlf = match i {
                0 => !self.line_start && self.last_cr,
                _ => pending[i - 1] == b'\r',
            };
            self.give(body, line, true);
            input.consume(i + 1);
        }
    }

    /// Gives `piece` (a whole line, or the next piece of a long one) to the body.
    fn give(&mut self, body: &mut Body, piece: &[u8], ends_line: bool) {
        let content = match piece {
            // RFC 5321 4.5.2: a leading dot is removed when other characters
            // follow it. A lone dot that is no end (a bare LF before or after it)
            // has none, so it stays.
            [b'.', rest @ ..] if self.line_start && !matches!(rest, b"\r\n" | b"\n") => rest,
            _ => piece,
        };
        body.push(content);
        self.line_start = ends_line;
        self.last_cr = piece.last() == Some(&b'\r');
    }
}

#[cfg(test)]
mod tests {
    use super::super::body::Problem;
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<Result<String, Line>> {
        let mut input = Input::default();
        let mut out = Vec::new();
        let mut line = Vec::new();
        for chunk in chunks {
            input.read_buffer(64).extend_from_slice(chunk);
            loop {
                match input.next_line(&mut line, |s| command_limit(s, false)) {
                    Line::Complete => out.push(Ok(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned())),
                    Line::TooLong => out.push(Err(Line::TooLong)),
                    Line::NeedMore => break,
                }
            }
        }
        out
    }

    #[test]
    fn command_lines_split_and_limit() {
        let long = vec![b'x'; 600];
        let got = lines(&[b"EHLO a\r\nNOOP", b"\r\n", &long, b"\r\nQUIT\n"]);
        assert_eq!(
            got,
            vec![
                Ok("EHLO a".into()),
                Ok("NOOP".into()),
                Err(Line::TooLong),
                Ok("QUIT".into())
            ]
        );
        // 510 characters plus CRLF is exactly 512: allowed.
        let edge = [vec![b'N'; 510], b"\r\n".to_vec()].concat();
        assert_eq!(lines(&[&edge]).len(), 1);
        assert!(lines(&[&edge])[0].is_ok());
        let over = [vec![b'N'; 511], b"\r\n".to_vec()].concat();
        assert_eq!(lines(&[&over]), vec![Err(Line::TooLong)]);
        // A long line arriving in pieces is dropped without being kept.
        let mut input = Input::default();
        let mut line = Vec::new();
        for _ in 0..100 {
            input.read_buffer(1024).extend_from_slice(&[b'y'; 1000]);
            assert_eq!(input.next_line(&mut line, |_| 512), Line::NeedMore);
            assert!(input.pending().len() < 1024);
        }
        input.read_buffer(16).extend_from_slice(b"\r\nNOOP\r\n");
        assert_eq!(input.next_line(&mut line, |_| 512), Line::TooLong);
        assert_eq!(input.next_line(&mut line, |_| 512), Line::Complete);
        assert_eq!(line, b"NOOP\n");
    }

    #[test]
    fn auth_and_envelope_lines_may_be_longer() {
        let auth = format!("AUTH PLAIN {}\r\n", "A".repeat(2000));
        assert!(lines(&[auth.as_bytes()])[0].is_ok());
        let rcpt = format!("RCPT TO:<a@b> ORCPT=rfc822;{}\r\n", "a".repeat(700));
        assert!(lines(&[rcpt.as_bytes()])[0].is_ok());
    }

    fn data(chunks: &[&[u8]]) -> (Option<Result<Vec<u8>, Problem>>, Vec<u8>) {
        let mut input = Input::default();
        let mut body = Body::new(1 << 20, Vec::new());
        let mut reader = DotReader::default();
        for chunk in chunks {
            input.read_buffer(64).extend_from_slice(chunk);
            if reader.feed(&mut input, &mut body) {
                return (Some(body.finish()), input.pending().to_vec());
            }
        }
        (None, input.pending().to_vec())
    }

    #[test]
    fn data_ends_at_crlf_dot_crlf_and_unstuffs() {
        let (done, rest) = data(&[b"Subject: x\r\n\r\n..leading\r\n.", b"\r\nMAIL FROM:<a@b>\r\n"]);
        assert_eq!(done.unwrap().unwrap(), b"Subject: x\r\n\r\n.leading\r\n");
        assert_eq!(rest, b"MAIL FROM:<a@b>\r\n");
        // The end line split across reads.
        let (done, _) = data(&[b"a\r\n", b".", b"\r", b"\n"]);
        assert_eq!(done.unwrap().unwrap(), b"a\r\n");
        // An empty message.
        let (done, _) = data(&[b".\r\n"]);
        assert_eq!(done.unwrap().unwrap(), b"");
    }

    #[test]
    fn bare_lf_lines_are_stored_with_crlf_and_unstuffed() {
        let (done, _) = data(&[b"Subject: x\n\n..dot\nplain\n\r\n.\r\n"]);
        assert_eq!(done.unwrap().unwrap(), b"Subject: x\r\n\r\n.dot\r\nplain\r\n\r\n");
        // The end line right after a CRLF that followed LF lines.
        let (done, rest) = data(&[b"a\nb\r\n.\r\nQUIT\r\n"]);
        assert_eq!(done.unwrap().unwrap(), b"a\r\nb\r\n");
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[test]
    fn smuggling_sequences_are_content_never_an_end() {
        // CVE-2023-51766 and friends: a lone dot with a bare LF on either side is
        // content (kept, as a line of its own), so the smuggled MAIL is content too.
        for attempt in [
            &b"a\n.\nMAIL FROM:<x@y>\r\n"[..],
            b"a\n.\r\nMAIL FROM:<x@y>\r\n",
            b"a\r\n.\nMAIL FROM:<x@y>\r\n",
        ] {
            let (done, _) = data(&[attempt]);
            assert!(done.is_none(), "{attempt:?} ended the data");
            let (done, rest) = data(&[attempt, b"\r\n.\r\nQUIT\r\n"]);
            let stored = done.expect("real end").expect("accepted");
            assert_eq!(stored, b"a\r\n.\r\nMAIL FROM:<x@y>\r\n\r\n", "{attempt:?}");
            assert_eq!(rest, b"QUIT\r\n");
            // Byte by byte, the same.
            let bytes: Vec<&[u8]> = attempt.chunks(1).chain([&b"\r\n.\r\n"[..]]).collect();
            assert_eq!(data(&bytes).0.expect("end").expect("accepted"), stored);
        }
        // A bare CR before the dot is still refused, at the real end.
        let (done, rest) = data(&[b"a\r.\r\nMAIL FROM:<x@y>\r\n", b"\r\n.\r\nQUIT\r\n"]);
        assert_eq!(done.expect("real end").unwrap_err(), Problem::BareCr);
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[test]
    fn long_text_lines_are_content_with_bounded_framing() {
        let mut input = Input::default();
        let mut body = Body::new(1 << 30, Vec::new());
        let mut reader = DotReader::default();
        input.read_buffer(16).extend_from_slice(b"..");
        assert!(!reader.feed(&mut input, &mut body));
        for _ in 0..1000 {
            input.read_buffer(4096).extend_from_slice(&[b'z'; 4000]);
            assert!(!reader.feed(&mut input, &mut body));
            assert!(input.pending().len() < MAX_TEXT_LINE);
        }
        input.read_buffer(16).extend_from_slice(b"\r\n.\r\n");
        assert!(reader.feed(&mut input, &mut body));
        let stored = body.finish().unwrap();
        assert_eq!(stored.len(), 1 + 4_000_000 + 2);
        assert!(stored.starts_with(b".zzz") && stored.ends_with(b"zz\r\n"));
        // A long line whose CR and LF arrive in separate reads still ends properly,
        // and a lone dot after it ends the data.
        let long = [vec![b'q'; 1200], b"\r".to_vec()].concat();
        let (done, _) = data(&[&long, b"\n.\r\n"]);
        assert_eq!(done.unwrap().unwrap(), [&long[..], b"\n"].concat());
        // A long line ending in a bare LF does not make a following dot line an end.
        let long = vec![b'q'; 1500];
        let (done, _) = data(&[&long, b"\n.\r\n"]);
        assert!(done.is_none());
    }

    #[test]
    fn nul_is_refused() {
        let (done, _) = data(&[b"a\0b\r\n.\r\n"]);
        assert_eq!(done.unwrap().unwrap_err(), Problem::Nul);
    }
}
