//! Reading an HTML body in one pass of html5gum's WHATWG tokenizer: its text (blocks as
//! lines, entities decoded), the same text without the quoted history that mail clients
//! mark in their HTML (API.md part 2 section 3), and its `<a href>` links with their text.
//! No tree is built and no stack of open elements is kept, so deep nesting costs nothing
//! and the work is linear in the input.

use std::convert::Infallible;

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Span, Tokenizer};

/// Most characters kept of one link's text.
const MAX_ANCHOR_TEXT: usize = 500;
/// Longest `href` kept (longer ones are not links an agent can use).
const MAX_HREF: usize = 8 * 1024;

/// What [`read`] finds in an HTML document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlText {
    /// All rendered text.
    pub text: String,
    /// The text without quote containers: `blockquote[type=cite]`, `.gmail_quote`,
    /// `#appendonsend`, `.yahoo_quoted`, `.protonmail_quote`, and `#divRplyFwdMsg` with
    /// everything after it.
    pub reply: String,
    /// `<a href>` elements in document order.
    pub anchors: Vec<Anchor>,
}

/// One `<a href>`: the attribute as written (entities decoded) and its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anchor {
    pub href: String,
    pub text: String,
}

/// Read an HTML document (already decoded to a string).
pub fn read(html: &str) -> HtmlText {
    let mut reader = Reader::default();
    let mut emitter = CallbackEmitter::new(|event: CallbackEvent<'_>, _: Span<()>| -> Option<Infallible> {
        reader.event(event);
        None
    });
    // Script, style, title and friends hold raw text, not markup.
    emitter.naively_switch_states(true);
    let Ok(()) = Tokenizer::new_with_emitter(html, emitter).finish();
    reader.finish()
}

/// Elements whose content is not shown.
const HIDDEN: &[&[u8]] = &[
    b"head",
    b"script",
    b"style",
    b"title",
    b"template",
    b"noscript",
    b"iframe",
    b"object",
    b"noembed",
    b"noframes",
    b"xmp",
    b"svg",
];

/// Elements that start and end a line.
const BLOCKS: &[&[u8]] = &[
    b"address",
    b"article",
    b"aside",
    b"blockquote",
    b"center",
    b"dd",
    b"details",
    b"dialog",
    b"div",
    b"dl",
    b"dt",
    b"fieldset",
    b"figcaption",
    b"figure",
    b"footer",
    b"form",
    b"header",
    b"hgroup",
    b"hr",
    b"li",
    b"main",
    b"menu",
    b"nav",
    b"ol",
    b"pre",
    b"section",
    b"summary",
    b"table",
    b"tbody",
    b"thead",
    b"tfoot",
    b"tr",
    b"caption",
    b"ul",
];

/// Elements set off by a blank line.
const PARAGRAPHS: &[&[u8]] = &[b"p", b"h1", b"h2", b"h3", b"h4", b"h5", b"h6"];

/// Elements that never have content (HTML "void elements").
const VOID: &[&[u8]] = &[
    b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta", b"param", b"source",
    b"track", b"wbr",
];

/// Class names of the containers webmail clients put quoted history in.
const QUOTE_CLASSES: &[&str] = &["gmail_quote", "yahoo_quoted", "protonmail_quote"];

/// The start tag being read and the attributes we look at (the first of each name wins,
/// as in the WHATWG tokenizer).
#[derive(Default)]
struct StartTag {
    name: Vec<u8>,
    href: Option<String>,
    class: Option<String>,
    id: Option<String>,
    kind: Option<String>,
    alt: Option<String>,
}

#[derive(Clone, Copy)]
enum Attr {
    Href,
    Class,
    Id,
    Type,
    Alt,
}

impl StartTag {
    fn slot(&mut self, attr: Attr) -> &mut Option<String> {
        match attr {
            Attr::Href => &mut self.href,
            Attr::Class => &mut self.class,
            Attr::Id => &mut self.id,
            Attr::Type => &mut self.kind,
            Attr::Alt => &mut self.alt,
        }
    }

    fn is_quote(&self) -> bool {
        let id_is = |want: &str| {
            self.id
                .as_deref()
                .is_some_and(|id| id.trim().eq_ignore_ascii_case(want))
        };
        let cite = self.name == b"blockquote"
            && self
                .kind
                .as_deref()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("cite"));
        let class = self.class.as_deref().is_some_and(|c| {
            c.split_ascii_whitespace()
                .any(|token| QUOTE_CLASSES.iter().any(|q| token.eq_ignore_ascii_case(q)))
        });
        cite || class || id_is("appendonsend")
    }

    /// Outlook's reply header: it and everything after it are quoted history.
    fn starts_history(&self) -> bool {
        self.id
            .as_deref()
            .is_some_and(|id| id.trim().eq_ignore_ascii_case("divRplyFwdMsg"))
    }
}

/// An element whose content we are inside, by name; `depth` counts nested elements of
/// the same name so that the right end tag closes it.
struct Container {
    name: Vec<u8>,
    depth: u32,
}

impl Container {
    fn new(name: &[u8]) -> Self {
        Self {
            name: name.to_vec(),
            depth: 1,
        }
    }

    fn open(&mut self, name: &[u8]) {
        if name == self.name.as_slice() {
            self.depth += 1;
        }
    }

    /// True when this end tag closes the container.
    fn close(&mut self, name: &[u8]) -> bool {
        if name == self.name.as_slice() {
            self.depth -= 1;
        }
        self.depth == 0
    }
}

#[derive(Default)]
struct Reader {
    full: TextOut,
    /// The reply text, once it differs from `full` (most documents quote nothing).
    reply: Option<TextOut>,
    tag: Option<StartTag>,
    attr: Option<Attr>,
    hidden: Option<Container>,
    quote: Option<Container>,
    history: bool,
    pre: u32,
    anchor: Option<Anchor>,
    anchors: Vec<Anchor>,
}

impl Reader {
    fn event(&mut self, event: CallbackEvent<'_>) {
        match event {
            CallbackEvent::OpenStartTag { name } => {
                self.tag = Some(StartTag {
                    name: name.to_vec(),
                    ..StartTag::default()
                });
                self.attr = None;
            }
            CallbackEvent::AttributeName { name } => self.attribute_name(name),
            CallbackEvent::AttributeValue { value } => {
                if let (Some(tag), Some(attr)) = (self.tag.as_mut(), self.attr.take()) {
                    *tag.slot(attr) = Some(String::from_utf8_lossy(value).into_owned());
                }
            }
            CallbackEvent::CloseStartTag { .. } => {
                if let Some(tag) = self.tag.take() {
                    self.start_tag(tag);
                }
            }
            CallbackEvent::EndTag { name } => {
                self.tag = None;
                self.end_tag(name);
            }
            CallbackEvent::String { value } => self.text(&String::from_utf8_lossy(value)),
            CallbackEvent::Comment { .. } | CallbackEvent::Doctype { .. } | CallbackEvent::Error(_) => {}
        }
    }

    fn attribute_name(&mut self, name: &[u8]) {
        self.attr = None;
        let Some(tag) = self.tag.as_mut() else { return };
        let attr = match name {
            b"href" => Attr::Href,
            b"class" => Attr::Class,
            b"id" => Attr::Id,
            b"type" => Attr::Type,
            b"alt" => Attr::Alt,
            _ => return,
        };
        if tag.slot(attr).is_none() {
            self.attr = Some(attr);
        }
    }

    fn start_tag(&mut self, tag: StartTag) {
        let name = tag.name.as_slice();
        let void = VOID.contains(&name);
        if let Some(hidden) = self.hidden.as_mut() {
            hidden.open(name);
            return;
        }
        if HIDDEN.contains(&name) && !void {
            self.hidden = Some(Container::new(name));
            return;
        }
        if let Some(quote) = self.quote.as_mut() {
            quote.open(name);
        } else if !self.history && tag.starts_history() {
            self.fork_reply();
            self.history = true;
        } else if !self.history && !void && tag.is_quote() {
            self.fork_reply();
            self.quote = Some(Container::new(name));
        }
        self.layout(name);
        match name {
            b"pre" => self.pre += 1,
            b"img" => {
                if let (Some(anchor), Some(alt)) = (self.anchor.as_mut(), tag.alt.as_deref()) {
                    push_collapsed(&mut anchor.text, alt);
                }
            }
            b"a" => {
                self.end_anchor();
                self.anchor = tag.href.filter(|h| h.len() <= MAX_HREF).map(|href| Anchor {
                    href,
                    text: String::new(),
                });
            }
            _ => {}
        }
    }

    fn end_tag(&mut self, name: &[u8]) {
        if let Some(hidden) = self.hidden.as_mut() {
            if hidden.close(name) {
                self.hidden = None;
            }
            return;
        }
        if self.quote.as_mut().is_some_and(|q| q.close(name)) {
            self.quote = None;
        }
        // An end tag closes its block; a stray `</br>` is a line break, as browsers read it.
        self.layout(name);
        match name {
            b"pre" => self.pre = self.pre.saturating_sub(1),
            b"a" => self.end_anchor(),
            _ => {}
        }
    }

    /// Line breaks and spaces that an element's start or end makes.
    fn layout(&mut self, name: &[u8]) {
        if name == b"br" {
            self.each_out(TextOut::hard_break);
        } else if PARAGRAPHS.contains(&name) {
            self.each_out(|o| o.request_breaks(2));
        } else if BLOCKS.contains(&name) {
            self.each_out(|o| o.request_breaks(1));
        } else if name == b"td" || name == b"th" {
            self.each_out(TextOut::space);
        }
    }

    fn fork_reply(&mut self) {
        if self.reply.is_none() {
            self.reply = Some(self.full.clone());
        }
    }

    fn each_out(&mut self, f: impl Fn(&mut TextOut)) {
        f(&mut self.full);
        if self.reply_open()
            && let Some(reply) = self.reply.as_mut()
        {
            f(reply);
        }
    }

    fn reply_open(&self) -> bool {
        self.quote.is_none() && !self.history
    }

    fn text(&mut self, text: &str) {
        if self.hidden.is_some() {
            return;
        }
        let pre = self.pre > 0;
        self.full.push(text, pre);
        if self.reply_open()
            && let Some(reply) = self.reply.as_mut()
        {
            reply.push(text, pre);
        }
        if let Some(anchor) = self.anchor.as_mut() {
            push_collapsed(&mut anchor.text, text);
        }
    }

    fn end_anchor(&mut self) {
        if let Some(mut anchor) = self.anchor.take() {
            anchor.text.truncate(anchor.text.trim_end().len());
            self.anchors.push(anchor);
        }
    }

    fn finish(mut self) -> HtmlText {
        self.end_anchor();
        let text = self.full.finish();
        let reply = self.reply.map_or_else(|| text.clone(), TextOut::finish);
        HtmlText {
            text,
            reply,
            anchors: self.anchors,
        }
    }
}

/// HTML's inter-element whitespace, and the no-break space an agent reads as a space.
fn is_html_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\u{a0}')
}

/// Append `text` with whitespace runs collapsed to one space, up to [`MAX_ANCHOR_TEXT`].
fn push_collapsed(out: &mut String, text: &str) {
    let mut count = out.chars().count();
    let mut space = out.ends_with(' ');
    for c in text.chars() {
        if count >= MAX_ANCHOR_TEXT {
            return;
        }
        if is_html_space(c) {
            if !out.is_empty() && !space {
                out.push(' ');
                count += 1;
                space = true;
            }
        } else {
            out.push(c);
            count += 1;
            space = false;
        }
    }
}

/// Text being written: whitespace collapsed as a browser renders it, breaks between
/// blocks held back until the next visible character so that empty blocks leave no lines.
#[derive(Default, Clone)]
struct TextOut {
    out: String,
    /// Newlines owed before the next character (at most 2: one blank line).
    breaks: u8,
    space: bool,
}

impl TextOut {
    fn request_breaks(&mut self, n: u8) {
        self.breaks = self.breaks.max(n);
    }

    fn hard_break(&mut self) {
        self.breaks = (self.breaks + 1).min(2);
    }

    fn space(&mut self) {
        self.space = true;
    }

    fn push(&mut self, text: &str, pre: bool) {
        if pre {
            return self.push_pre(text);
        }
        let mut rest = text;
        loop {
            let word = rest.trim_start_matches(is_html_space);
            self.space |= word.len() < rest.len();
            if word.is_empty() {
                return;
            }
            let end = word.find(is_html_space).unwrap_or(word.len());
            self.put(&word[..end]);
            rest = &word[end..];
        }
    }

    /// Preformatted text: spaces and line breaks as written.
    fn push_pre(&mut self, text: &str) {
        for c in text.chars() {
            match c {
                '\r' => {}
                '\n' => self.hard_break(),
                '\u{a0}' => self.put(" "),
                c => self.put(c.encode_utf8(&mut [0; 4])),
            }
        }
    }

    /// Write a run of visible text, after the breaks or space owed before it.
    fn put(&mut self, word: &str) {
        if !self.out.is_empty() {
            if self.breaks > 0 {
                self.out.truncate(self.out.trim_end_matches(' ').len());
                for _ in 0..self.breaks {
                    self.out.push('\n');
                }
            } else if self.space {
                self.out.push(' ');
            }
        }
        self.breaks = 0;
        self.space = false;
        self.out.push_str(word);
    }

    fn finish(mut self) -> String {
        self.out.truncate(self.out.trim_end().len());
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_become_lines_and_entities_are_decoded() {
        let doc = read(
            "<html><head><title>T</title><style>p{x}</style></head><body>\n<p>Hello&nbsp;&amp; welcome</p><div>line  two</div><div><br></div><div>after blank</div>a<br>b<script>var x='<p>';</script></body>",
        );
        assert_eq!(doc.text, "Hello & welcome\n\nline two\n\nafter blank\na\nb");
    }

    #[test]
    fn pre_keeps_whitespace() {
        assert_eq!(read("<pre>a  b\r\nc</pre>d").text, "a  b\nc\nd");
    }

    #[test]
    fn table_cells_are_spaced() {
        assert_eq!(
            read("<table><tr><td>Code</td><td>1234</td></tr><tr><td>x</td></tr></table>").text,
            "Code 1234\nx"
        );
    }

    #[test]
    fn anchors_with_text_and_image_alt() {
        let doc = read(
            r#"<a href=" https://e.test/a?x=1&amp;y=2 ">Go <b>now</b></a><a href="https://e.test/b"><img alt="Verify"></a><a name="x">no href</a>"#,
        );
        assert_eq!(
            doc.anchors,
            vec![
                Anchor {
                    href: " https://e.test/a?x=1&y=2 ".into(),
                    text: "Go now".into()
                },
                Anchor {
                    href: "https://e.test/b".into(),
                    text: "Verify".into()
                },
            ]
        );
    }

    #[test]
    fn first_attribute_of_a_name_wins() {
        let doc = read(r#"<a href="https://one.test" href="https://two.test">x</a>"#);
        assert_eq!(doc.anchors[0].href, "https://one.test");
    }

    #[test]
    fn quote_containers_leave_the_reply() {
        let html = r#"<div>Sure.</div><div class="gmail_quote"><div class="gmail_attr">On Tue Bob wrote:</div><blockquote><div>old</div></blockquote></div><div>P.S. later</div>"#;
        let doc = read(html);
        assert_eq!(doc.reply, "Sure.\nP.S. later");
        assert_eq!(doc.text, "Sure.\nOn Tue Bob wrote:\nold\nP.S. later");

        let cite = read(r#"Yes<blockquote type="CITE"><blockquote>nested</blockquote>old</blockquote>end"#);
        assert_eq!(cite.reply, "Yes\nend");
        let plain_quote = read("Yes<blockquote>kept</blockquote>");
        assert_eq!(plain_quote.reply, "Yes\nkept");
        for class in ["yahoo_quoted", "protonmail_quote"] {
            let doc = read(&format!(r#"Ok<div class="x {class}">old</div>"#));
            assert_eq!(doc.reply, "Ok", "{class}");
        }
    }

    #[test]
    fn outlook_history_is_cut_from_its_header_on() {
        let html = r#"<div>Approved.</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> Bob</div><div>old body</div>"#;
        let doc = read(html);
        assert_eq!(doc.reply, "Approved.");
        assert!(doc.text.contains("old body"));
    }

    #[test]
    fn unclosed_and_stray_tags_are_harmless() {
        let doc = read("<div class=gmail_quote>never closed <div>x");
        assert_eq!((doc.reply.as_str(), doc.text.as_str()), ("", "never closed\nx"));
        assert_eq!(read("</div></a></p>text<br/>").text, "text");
        assert_eq!(
            read("<p><a href='https://x.test'>one<a href='https://y.test'>two")
                .anchors
                .len(),
            2
        );
    }
}
