//! Extraction (API.md part 2 section 3): the one-time codes, the links and the reply-only
//! text of a message, by the written rules. Pure and bounded: no I/O, nothing fetched,
//! linear work in the size of the message, codes looked for in the first
//! [`MAX_CODE_SCAN`] bytes of subject and reply text, at most [`MAX_CODES`] codes and
//! [`MAX_LINKS`] links. Used by `GET …/messages/{mid}/extract`, `wait?extract=true`,
//! event payloads and the MCP `get_verification_code` tool.

mod codes;
mod links;
mod normalize;
mod reply;
mod words;

#[cfg(test)]
mod tests;

pub use codes::{Code, CodeSource, Confidence, MAX_CODES};
pub use links::{Link, LinkKind, LinkSource, MAX_LINKS};

use mail_parser::{Message, MessageParser};
use serde::Serialize;

use super::{html, text};

/// Bytes of the subject and of the reply text that codes are looked for in; codes stand
/// near the top, and this keeps the event and wait paths cheap for huge messages.
pub const MAX_CODE_SCAN: usize = 64 * 1024;

/// What extraction reads of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractInput {
    /// Decoded Subject.
    pub subject: String,
    /// The text/plain body.
    pub text: Option<String>,
    /// The text/html body.
    pub html: Option<String>,
    /// The URLs of List-Unsubscribe (RFC 2369).
    pub list_unsubscribe: Vec<String>,
}

impl ExtractInput {
    /// From a message mail-parser has parsed (transfer encodings and charsets undone).
    pub fn from_message(msg: &Message<'_>) -> Self {
        Self {
            subject: msg.subject().unwrap_or_default().to_string(),
            text: text::plain_body(msg).map(str::to_string),
            html: text::html_body(msg).map(str::to_string),
            list_unsubscribe: msg.header_raw("List-Unsubscribe").map(list_urls).unwrap_or_default(),
        }
    }

    /// From raw RFC 5322 bytes; bytes that are no message give an empty input.
    pub fn from_raw(raw: &[u8]) -> Self {
        MessageParser::default()
            .parse(raw)
            .map(|m| Self::from_message(&m))
            .unwrap_or_default()
    }
}

/// The extraction of one message, serialised as the section's JSON (the endpoint adds
/// `messageId`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Extraction {
    /// The first code of medium confidence or better.
    pub code: Option<String>,
    pub codes: Vec<Code>,
    /// The first verify or magic_login link.
    pub link: Option<String>,
    pub links: Vec<Link>,
    pub reply_text: String,
    /// `replyText` is less than the whole text.
    pub reply_text_trimmed: bool,
}

/// Extract codes, links and reply text.
pub fn extract(input: &ExtractInput) -> Extraction {
    let html = input.html.as_deref().map(html::read);
    // The message's `text` (`mail::text::text_of`): the plain body unless it is blank.
    let plain = input.text.as_deref().filter(|t| !t.trim().is_empty());
    let (full, quoteless, source) = match (plain, &html) {
        (Some(plain), _) => (plain, plain, CodeSource::Text),
        (None, Some(html)) => (html.text.as_str(), html.reply.as_str(), CodeSource::Html),
        (None, None) => ("", "", CodeSource::Text),
    };
    let reply_text = reply::reply_only(quoteless);
    let reply_text_trimmed = reply_text != full.replace("\r\n", "\n").trim();

    let codes = codes::find_codes(
        prefix(&input.subject, MAX_CODE_SCAN),
        prefix(&reply_text, MAX_CODE_SCAN),
        source,
    );
    let code = codes
        .iter()
        .find(|c| c.confidence <= Confidence::Medium)
        .map(|c| c.value.clone());

    let links = links::find_links(&links::LinkSources {
        anchors: html.as_ref().map(|h| h.anchors.as_slice()).unwrap_or_default(),
        html_text: html.as_ref().map(|h| h.text.as_str()),
        plain: input.text.as_deref(),
        unsubscribe: &input.list_unsubscribe,
    });
    let link = links::main_link(&links);

    Extraction {
        code,
        codes,
        link,
        links,
        reply_text,
        reply_text_trimmed,
    }
}

/// Extract from raw RFC 5322 bytes.
pub fn extract_raw(raw: &[u8]) -> Extraction {
    extract(&ExtractInput::from_raw(raw))
}

/// The URLs of a List-Unsubscribe value: each in angle brackets, whitespace inside them
/// ignored (RFC 2369 2).
fn list_urls(value: &str) -> Vec<String> {
    value
        .split('<')
        .skip(1)
        .filter_map(|part| part.split_once('>'))
        .map(|(url, _)| url.chars().filter(|c| !c.is_whitespace()).collect())
        .collect()
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
