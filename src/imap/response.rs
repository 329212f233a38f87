//! Building the server's responses: imap-codec encodes them into one output buffer
//! that the session flushes once per command (or sooner for large FETCH answers).

use imap_codec::ResponseCodec;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::core::{Tag, Text};
use imap_codec::imap_types::response::{
    Bye, Code, CodeOther, CommandContinuationRequest, Data, Response, Status, StatusBody, StatusKind, Tagged,
};

/// Flush the output early once it holds this much.
pub const FLUSH_AT: usize = 256 * 1024;

#[derive(Default)]
pub struct Out {
    pub buf: Vec<u8>,
}

/// A response code of our own (RFC 5530 and friends), written as is.
pub fn code(text: &'static str) -> Code<'static> {
    Code::Other(CodeOther::unvalidated(text.as_bytes()))
}

fn text(t: &str) -> Text<'static> {
    Text::try_from(t.to_string()).unwrap_or_else(|_| Text::unvalidated("."))
}

impl Out {
    pub fn response(&mut self, response: &Response<'_>) {
        self.buf
            .extend_from_slice(&ResponseCodec::default().encode(response).dump());
    }

    pub fn data(&mut self, data: Data<'_>) {
        self.response(&Response::Data(data));
    }

    /// Bytes we format ourselves (for responses imap-types has no type for, such as
    /// ESEARCH); must be a complete CRLF-terminated response.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn status(&mut self, tag_: Option<&str>, kind: StatusKind, code: Option<Code<'_>>, t: &str) {
        let body = StatusBody {
            kind,
            code,
            text: text(t),
        };
        // "*" (or a tag we could not read) answers untagged.
        let status = match tag_.and_then(|t| Tag::try_from(t.to_string()).ok()) {
            Some(tag) => Status::Tagged(Tagged { tag, body }),
            None => Status::Untagged(body),
        };
        self.response(&Response::Status(status));
    }

    pub fn ok(&mut self, tag: &str, code: Option<Code<'_>>, text: &str) {
        self.status(Some(tag), StatusKind::Ok, code, text);
    }

    pub fn no(&mut self, tag: &str, code: Option<Code<'_>>, text: &str) {
        self.status(Some(tag), StatusKind::No, code, text);
    }

    pub fn bad(&mut self, tag: &str, code: Option<Code<'_>>, text: &str) {
        self.status(Some(tag), StatusKind::Bad, code, text);
    }

    pub fn untagged_ok(&mut self, code: Option<Code<'_>>, text: &str) {
        self.status(None, StatusKind::Ok, code, text);
    }

    pub fn bye(&mut self, code: Option<Code<'_>>, t: &str) {
        let bye = Bye { code, text: text(t) };
        self.response(&Response::Status(Status::Bye(bye)));
    }

    pub fn continuation(&mut self, t: &str) {
        match CommandContinuationRequest::basic(None, t.to_string()) {
            Ok(c) => self.response(&Response::CommandContinuationRequest(c)),
            Err(_) => self.raw(b"+ \r\n"),
        }
    }

    /// An empty server challenge for AUTHENTICATE (`+ ` with no data).
    pub fn empty_challenge(&mut self) {
        self.response(&Response::CommandContinuationRequest(
            CommandContinuationRequest::Base64(Vec::new().into()),
        ));
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }
}
