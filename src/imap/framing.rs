//! Splits the client's byte stream into whole command messages (lines and the
//! literals they announce) before any IMAP parsing, with hard limits.
//!
//! This is the two-layer idea of imap-codec's `fragmentizer`: find the message
//! boundaries first, so a malformed or refused command is dropped whole and can never
//! desynchronise what follows (literal bytes are never read as commands). Ours adds
//! what a server needs beyond it: a line limit separate from the literal limit, a
//! per-command literal limit decided by the session when the literal is announced
//! (APPENDLIMIT for APPEND, 64 KiB elsewhere), and buffers that shrink back after a
//! large message so idle connections stay small.

/// Longest command line (without literals) we accept.
pub const MAX_LINE: usize = 64 * 1024;
/// Buffers above this are released once they are empty again.
const KEEP_CAPACITY: usize = 8 * 1024;

/// What the framer found in the bytes it has.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// Nothing complete yet: read more bytes.
    NeedMore,
    /// A complete message is in [`Framer::message`].
    Message,
    /// The line read so far ends with a literal announcement; the session must call
    /// [`Framer::accept_literal`] or [`Framer::reject_literal`] before going on.
    Literal { length: u32, sync: bool },
    /// A line exceeded [`MAX_LINE`]; its bytes up to the next LF are discarded and the
    /// partial message is dropped. [`Framer::refused_start`] keeps its first bytes, so
    /// the answer can carry the command's own tag.
    TooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Line,
    /// Waiting for the session's decision on an announced literal.
    Announced {
        length: u32,
    },
    Literal {
        remaining: usize,
    },
    /// Dropping bytes up to the next LF after an overlong line.
    DiscardLine,
    /// Dropping the bytes of a refused non-synchronizing literal, then its command.
    DiscardLiteral {
        remaining: usize,
    },
}

#[derive(Debug)]
pub struct Framer {
    input: Vec<u8>,
    head: usize,
    /// Bytes of `input[head..]` already scanned for LF without finding one.
    scanned: usize,
    message: Vec<u8>,
    /// Where the current line starts in `message`.
    line_start: usize,
    phase: Phase,
    /// The first bytes of the last message dropped as overlong.
    refused_start: Vec<u8>,
}

/// How much of an overlong message is kept to read its tag and command name from.
const REFUSED_START: usize = 128;

impl Default for Framer {
    fn default() -> Self {
        Framer::new()
    }
}

impl Framer {
    pub fn new() -> Framer {
        Framer {
            input: Vec::new(),
            head: 0,
            scanned: 0,
            message: Vec::new(),
            line_start: 0,
            phase: Phase::Line,
            refused_start: Vec::new(),
        }
    }

    /// The buffer to read into; call [`Framer::prepare_read`] first.
    pub fn input_mut(&mut self) -> &mut Vec<u8> {
        &mut self.input
    }

    /// Makes room for at least `want` more bytes, compacting consumed input.
    pub fn prepare_read(&mut self, want: usize) {
        if self.head > 0 {
            self.input.drain(..self.head);
            self.head = 0;
        }
        self.input.reserve(want);
    }

    /// Whether unread input is buffered (a pipelined command may be complete).
    pub fn has_input(&self) -> bool {
        self.head < self.input.len()
    }

    /// Whether the framer is between messages with nothing buffered.
    pub fn is_idle(&self) -> bool {
        !self.has_input() && self.message.is_empty() && self.phase == Phase::Line
    }

    /// Drops everything buffered (STARTTLS: RFC 3501 6.2.1, pipelined plaintext must
    /// not be read as protected commands).
    pub fn discard_all(&mut self) {
        *self = Framer::new();
    }

    /// Takes the bytes received after the last complete message (COMPRESS: they
    /// were sent compressed) and starts afresh.
    pub fn take_unread(&mut self) -> Vec<u8> {
        let unread = self.input.split_off(self.head.min(self.input.len()));
        *self = Framer::new();
        unread
    }

    /// Releases large buffers while nothing is pending, so idle sessions stay small.
    pub fn shrink(&mut self) {
        if !self.has_input() {
            self.input.clear();
            self.head = 0;
            self.scanned = 0;
            if self.input.capacity() > KEEP_CAPACITY {
                self.input = Vec::new();
            }
        }
        if self.message.is_empty() && self.message.capacity() > KEEP_CAPACITY {
            self.message = Vec::new();
        }
    }

    /// The complete message after [`Frame::Message`].
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// The bytes of the message so far (for reading the tag of a refused command).
    pub fn partial(&self) -> &[u8] {
        &self.message
    }

    /// Takes the complete message out (to decode it while the session is borrowed);
    /// give the buffer back with [`Framer::recycle`].
    pub fn take_message(&mut self) -> Vec<u8> {
        self.line_start = 0;
        std::mem::take(&mut self.message)
    }

    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.message.is_empty() && buf.capacity() <= KEEP_CAPACITY {
            buf.clear();
            self.message = buf;
        }
    }

    /// Accepts the announced literal: its bytes become part of the message.
    pub fn accept_literal(&mut self) {
        if let Phase::Announced { length } = self.phase {
            self.phase = Phase::Literal {
                remaining: length as usize,
            };
        }
    }

    /// Refuses the announced literal. A synchronizing literal was never sent (no `+`),
    /// so the command just ends; a non-synchronizing one is read and thrown away.
    pub fn reject_literal(&mut self, sync: bool) {
        if let Phase::Announced { length } = self.phase {
            self.message.clear();
            self.line_start = 0;
            self.phase = if sync {
                Phase::Line
            } else {
                Phase::DiscardLiteral {
                    remaining: length as usize,
                }
            };
        }
    }

    /// Advances over buffered bytes until something happens.
    pub fn poll(&mut self) -> Frame {
        loop {
            match self.phase {
                Phase::Announced { length } => {
                    // Still undecided: repeat the question.
                    let sync = !self.message.ends_with(b"+}\r\n") && !self.message.ends_with(b"+}\n");
                    return Frame::Literal { length, sync };
                }
                Phase::Literal { remaining } => {
                    let available = self.input.len() - self.head;
                    let take = remaining.min(available);
                    self.message.extend_from_slice(&self.input[self.head..self.head + take]);
                    self.head += take;
                    if take < remaining {
                        self.phase = Phase::Literal {
                            remaining: remaining - take,
                        };
                        return Frame::NeedMore;
                    }
                    self.line_start = self.message.len();
                    self.phase = Phase::Line;
                }
                Phase::DiscardLiteral { remaining } => {
                    let available = self.input.len() - self.head;
                    let take = remaining.min(available);
                    self.head += take;
                    if take < remaining {
                        self.phase = Phase::DiscardLiteral {
                            remaining: remaining - take,
                        };
                        return Frame::NeedMore;
                    }
                    // The rest of the refused command is dropped too.
                    self.phase = Phase::DiscardLine;
                }
                Phase::DiscardLine => match self.find_lf() {
                    Some(end) => {
                        self.head = end;
                        self.scanned = 0;
                        self.phase = Phase::Line;
                    }
                    None => {
                        self.head = self.input.len();
                        self.scanned = 0;
                        return Frame::NeedMore;
                    }
                },
                Phase::Line => {
                    let line_so_far = self.message.len() - self.line_start;
                    match self.find_lf() {
                        None => {
                            if line_so_far + (self.input.len() - self.head) > MAX_LINE {
                                self.drop_overlong();
                                return Frame::TooLong;
                            }
                            return Frame::NeedMore;
                        }
                        Some(end) => {
                            if line_so_far + (end - self.head) > MAX_LINE {
                                self.drop_overlong();
                                return Frame::TooLong;
                            }
                            self.message.extend_from_slice(&self.input[self.head..end]);
                            self.head = end;
                            self.scanned = 0;
                            match literal_announcement(&self.message[self.line_start..]) {
                                Some((length, sync)) => {
                                    self.phase = Phase::Announced { length };
                                    return Frame::Literal { length, sync };
                                }
                                None => {
                                    self.line_start = 0;
                                    return Frame::Message;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Clears the finished message so the next one can start.
    pub fn finish_message(&mut self) {
        self.message.clear();
        self.line_start = 0;
        self.phase = Phase::Line;
    }

    /// The start of the message last dropped as overlong (its tag comes first).
    pub fn refused_start(&self) -> &[u8] {
        &self.refused_start
    }

    fn drop_overlong(&mut self) {
        // The tag is at the start of the message, or of the unread line when the
        // overlong line is the message's first.
        let start = if self.message.is_empty() {
            &self.input[self.head..]
        } else {
            &self.message[..]
        };
        self.refused_start.clear();
        self.refused_start
            .extend_from_slice(&start[..start.len().min(REFUSED_START)]);
        self.message.clear();
        self.line_start = 0;
        self.phase = Phase::DiscardLine;
    }

    /// Index one past the next LF in the unread input, remembering how far we looked.
    fn find_lf(&mut self) -> Option<usize> {
        let from = self.head + self.scanned;
        match self.input[from..].iter().position(|&b| b == b'\n') {
            Some(i) => Some(from + i + 1),
            None => {
                self.scanned = self.input.len() - self.head;
                None
            }
        }
    }
}

/// `{123}` / `{123+}` / `~{123}` at the end of a line (before CRLF or LF).
fn literal_announcement(line: &[u8]) -> Option<(u32, bool)> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_suffix(b"}")?;
    let (line, sync) = match line.strip_suffix(b"+") {
        Some(rest) => (rest, false),
        None => (line, true),
    };
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = &line[open + 1..];
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let length: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((u32::try_from(length).ok()?, sync))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(f: &mut Framer, bytes: &[u8]) {
        f.prepare_read(bytes.len());
        f.input_mut().extend_from_slice(bytes);
    }

    #[test]
    fn lines_and_pipelining() {
        let mut f = Framer::new();
        feed(&mut f, b"a NOOP\r\nb CAPA");
        assert_eq!(f.poll(), Frame::Message);
        assert_eq!(f.message(), b"a NOOP\r\n");
        f.finish_message();
        assert_eq!(f.poll(), Frame::NeedMore);
        feed(&mut f, b"BILITY\r\n");
        assert_eq!(f.poll(), Frame::Message);
        assert_eq!(f.message(), b"b CAPABILITY\r\n");
    }

    #[test]
    fn literal_accepted_and_refused() {
        let mut f = Framer::new();
        feed(&mut f, b"a LOGIN {3}\r\n");
        assert_eq!(f.poll(), Frame::Literal { length: 3, sync: true });
        f.accept_literal();
        feed(&mut f, b"bob pw\r\n");
        assert_eq!(f.poll(), Frame::Message);
        assert_eq!(f.message(), b"a LOGIN {3}\r\nbob pw\r\n");
        f.finish_message();
        feed(&mut f, b"b APPEND x {999999}\r\nc NOOP\r\n");
        assert_eq!(
            f.poll(),
            Frame::Literal {
                length: 999999,
                sync: true
            }
        );
        f.reject_literal(true);
        assert_eq!(f.poll(), Frame::Message);
        assert_eq!(f.message(), b"c NOOP\r\n");
    }

    #[test]
    fn refused_nonsync_literal_bytes_are_never_commands() {
        let mut f = Framer::new();
        feed(&mut f, b"a APPEND x {10+}\r\nz NOOP\r\n \r\nb NOOP\r\n");
        assert_eq!(
            f.poll(),
            Frame::Literal {
                length: 10,
                sync: false
            }
        );
        f.reject_literal(false);
        assert_eq!(f.poll(), Frame::Message);
        assert_eq!(f.message(), b"b NOOP\r\n");
    }

    #[test]
    fn overlong_line_is_dropped_whole() {
        let mut f = Framer::new();
        feed(&mut f, b"a ");
        feed(&mut f, &vec![b'x'; MAX_LINE + 10]);
        assert_eq!(f.poll(), Frame::TooLong);
        assert!(f.refused_start().starts_with(b"a xxx"));
        feed(&mut f, b"yyy\r\nb NOOP\r\n");
        assert_eq!(f.poll(), Frame::Message);
        assert_eq!(f.message(), b"b NOOP\r\n");
    }

    #[test]
    fn announcements() {
        assert_eq!(literal_announcement(b"a LOGIN {3}\r\n"), Some((3, true)));
        assert_eq!(literal_announcement(b"a X {3+}\n"), Some((3, false)));
        assert_eq!(literal_announcement(b"a X ~{0}\r\n"), Some((0, true)));
        assert_eq!(literal_announcement(b"a X {}\r\n"), None);
        assert_eq!(literal_announcement(b"a X {99999999999}\r\n"), None);
        assert_eq!(literal_announcement(b"a X 3}\r\n"), None);
    }
}
