//! A message's text for the API (API.md part 2 section 1): `text` is the text/plain body,
//! or text made from the HTML body (`textFromHtml: true`); `preview` is its first 200
//! characters with whitespace collapsed. Bodies come from mail-parser, which has undone
//! the transfer encoding and the charset.

use mail_parser::{Message, MimeHeaders, PartType};

use super::html;

/// Most characters in [`preview`].
pub const PREVIEW_CHARS: usize = 200;

/// The text of a message and where it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyText {
    pub text: String,
    /// The text was made from the HTML body (there was no text/plain one with content).
    pub from_html: bool,
}

/// The first inline text/plain body (a part without Content-Type is text/plain, RFC 2045 5.2).
pub fn plain_body<'a>(msg: &'a Message<'_>) -> Option<&'a str> {
    msg.text_body.iter().find_map(|&id| {
        let part = msg.parts.get(id as usize)?;
        let plain = part.content_type().is_none_or(|ct| {
            ct.ctype().eq_ignore_ascii_case("text") && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
        });
        match &part.body {
            PartType::Text(text) if plain => Some(text.as_ref()),
            _ => None,
        }
    })
}

/// The first inline text/html body.
pub fn html_body<'a>(msg: &'a Message<'_>) -> Option<&'a str> {
    msg.html_body
        .iter()
        .find_map(|&id| match &msg.parts.get(id as usize)?.body {
            PartType::Html(html) => Some(html.as_ref()),
            _ => None,
        })
}

/// The message's `text`: the text/plain body, or, when that is missing or blank, the
/// HTML body as text.
pub fn body_text(msg: &Message<'_>) -> BodyText {
    text_of(plain_body(msg), html_body(msg))
}

/// [`body_text`] from the two bodies.
pub fn text_of(plain: Option<&str>, html: Option<&str>) -> BodyText {
    match (plain, html) {
        (Some(plain), _) if !plain.trim().is_empty() => BodyText {
            text: plain.to_string(),
            from_html: false,
        },
        (_, Some(html)) => BodyText {
            text: html_to_text(html),
            from_html: true,
        },
        (plain, None) => BodyText {
            text: plain.unwrap_or_default().to_string(),
            from_html: false,
        },
    }
}

/// Rendered text of an HTML document: blocks as lines, entities decoded, scripts,
/// styles and the head left out.
pub fn html_to_text(html: &str) -> String {
    html::read(html).text
}

/// The first [`PREVIEW_CHARS`] characters of `text` with whitespace runs collapsed to one
/// space; reads no further than it needs.
pub fn preview(text: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    for word in text.split_whitespace() {
        if count > 0 {
            if count == PREVIEW_CHARS {
                break;
            }
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count == PREVIEW_CHARS {
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_collapses_and_cuts_at_200_characters() {
        assert_eq!(preview("  Your code\r\n\tis  482910.  "), "Your code is 482910.");
        assert_eq!(preview(""), "");
        let long = "ab ".repeat(300);
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW_CHARS);
        assert!(p.starts_with("ab ab") && !p.ends_with(' '));
        let wide = "验".repeat(500);
        assert_eq!(preview(&wide).chars().count(), PREVIEW_CHARS);
    }

    #[test]
    fn plain_wins_unless_blank() {
        assert_eq!(
            text_of(Some("hi"), Some("<p>other</p>")),
            BodyText {
                text: "hi".into(),
                from_html: false
            }
        );
        assert_eq!(
            text_of(Some(" \r\n"), Some("<p>from html</p>")),
            BodyText {
                text: "from html".into(),
                from_html: true
            }
        );
        assert_eq!(text_of(None, None), BodyText::default());
    }
}
