//! Links (API.md part 2 section 3 "Links"): `<a href>` with its text and bare `http(s)://`
//! URLs, trailing punctuation stripped, deduplicated, classified, never fetched.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use percent_encoding::percent_decode_str;
use regex::Regex;
use serde::Serialize;

use crate::mail::html::Anchor;

/// Most links listed (a newsletter has a hundred or so); past it `other` links go first.
pub const MAX_LINKS: usize = 500;
/// Most distinct links looked at.
const MAX_SEEN: usize = 10 * MAX_LINKS;
/// Characters stripped from the end of a URL.
const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '>', '\'', '"'];

/// What a link is for, in the order links are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Verify,
    MagicLogin,
    ResetPassword,
    Other,
    Unsubscribe,
}

/// Which body a link came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkSource {
    Html,
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub url: String,
    /// The anchor's text; null for a bare URL.
    pub text: Option<String>,
    pub kind: LinkKind,
    pub source: LinkSource,
}

/// Words that make a kind, matched in the URL's path, query and fragment (percent-decoded)
/// and in the link text, lower-cased, in this order. Stems (`verif`, `activat`, `validat`)
/// so that "verification", "activation" and "validation" count as their verbs do.
const KINDS: &[(LinkKind, &[&str])] = &[
    (LinkKind::Unsubscribe, &["unsubscribe", "opt-out"]),
    (
        LinkKind::Verify,
        &["verif", "confirm", "activat", "validat", "验证", "確認", "인증"],
    ),
    (
        LinkKind::MagicLogin,
        &[
            "magic",
            "login",
            "sign-in",
            "signin",
            "auth",
            "token=",
            "otp=",
            "登录",
            "ログイン",
        ],
    ),
    (LinkKind::ResetPassword, &["reset", "password", "recover"]),
];

/// A bare URL: the characters RFC 3986 allows in one.
static BARE_URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)https?://[a-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+").expect("a valid static pattern"));

/// The bodies links are taken from, in document order.
pub struct LinkSources<'a> {
    pub anchors: &'a [Anchor],
    /// Text made from the HTML (its bare URLs).
    pub html_text: Option<&'a str>,
    pub plain: Option<&'a str>,
    /// List-Unsubscribe URLs (RFC 2369): a link to one is `unsubscribe`.
    pub unsubscribe: &'a [String],
}

/// Links ordered verify, magic_login, reset_password, other, unsubscribe (document order
/// within a kind), at most [`MAX_LINKS`], dropping `other` links first.
pub fn find_links(src: &LinkSources<'_>) -> Vec<Link> {
    let unsubscribe: HashSet<String> = src.unsubscribe.iter().filter_map(|u| clean(u)).collect();
    let anchors = src
        .anchors
        .iter()
        .map(|a| (a.href.as_str(), Some(a.text.as_str()), LinkSource::Html));
    let html_bare = bare_urls(src.html_text).map(|u| (u, None, LinkSource::Html));
    let text_bare = bare_urls(src.plain).map(|u| (u, None, LinkSource::Text));
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut links: Vec<Link> = Vec::new();
    for (raw, text, source) in anchors.chain(html_bare).chain(text_bare) {
        if links.len() == MAX_SEEN {
            break;
        }
        let Some(url) = clean(raw) else { continue };
        let text = text.map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        if let Some(&first) = seen.get(&url) {
            // The same URL again: keep the first, with the first text found for it.
            if let (Some(text), Some(first)) = (text, links.get_mut(first))
                && first.text.is_none()
            {
                first.kind = kind_of(&first.url, Some(&text), &unsubscribe);
                first.text = Some(text);
            }
            continue;
        }
        seen.insert(url.clone(), links.len());
        let kind = kind_of(&url, text.as_deref(), &unsubscribe);
        links.push(Link {
            url,
            text,
            kind,
            source,
        });
    }
    links.sort_by_key(|l| l.kind);
    if links.len() > MAX_LINKS {
        let room_for_other = MAX_LINKS.saturating_sub(links.iter().filter(|l| l.kind != LinkKind::Other).count());
        let mut other = 0;
        links.retain(|l| {
            other += usize::from(l.kind == LinkKind::Other);
            l.kind != LinkKind::Other || other <= room_for_other
        });
        links.truncate(MAX_LINKS);
    }
    links
}

/// The first verify or magic_login link.
pub fn main_link(links: &[Link]) -> Option<String> {
    links
        .iter()
        .find(|l| matches!(l.kind, LinkKind::Verify | LinkKind::MagicLogin))
        .map(|l| l.url.clone())
}

fn bare_urls(text: Option<&str>) -> impl Iterator<Item = &str> {
    text.into_iter().flat_map(|t| BARE_URL.find_iter(t).map(|m| m.as_str()))
}

/// An `http(s)` URL without surrounding space, trailing punctuation or `&amp;` left by a
/// sender that pasted HTML into text; `None` for anything else (mailto:, javascript:, relative).
fn clean(raw: &str) -> Option<String> {
    let url = raw.trim().trim_end_matches(TRAILING);
    let has_scheme = |scheme: &str| url.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme));
    let scheme_len = ["https://", "http://"].into_iter().find(|s| has_scheme(s))?.len();
    (url.len() > scheme_len).then(|| url.replace("&amp;", "&"))
}

fn kind_of(url: &str, text: Option<&str>, unsubscribe: &HashSet<String>) -> LinkKind {
    if unsubscribe.contains(url) {
        return LinkKind::Unsubscribe;
    }
    let after_host = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find(['/', '?', '#']).map(|i| &rest[i..]))
        .unwrap_or_default();
    let haystack = format!(
        "{} {}",
        percent_decode_str(after_host).decode_utf8_lossy().to_lowercase(),
        text.unwrap_or_default().to_lowercase()
    );
    KINDS
        .iter()
        .find(|(_, words)| words.iter().any(|w| haystack.contains(w)))
        .map_or(LinkKind::Other, |(kind, _)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(href: &str, text: &str) -> Anchor {
        Anchor {
            href: href.into(),
            text: text.into(),
        }
    }

    fn links(anchors: &[Anchor], plain: Option<&str>, unsubscribe: &[String]) -> Vec<Link> {
        find_links(&LinkSources {
            anchors,
            html_text: None,
            plain,
            unsubscribe,
        })
    }

    #[test]
    fn kinds_by_path_query_text_and_list_unsubscribe() {
        let a = [
            anchor("https://e.test/a", "Reset your password"),
            anchor("https://e.test/p?x=1", "Read more"),
            anchor("https://e.test/l/1", "manage"),
            anchor("https://e.test/x?token=1", ""),
            anchor("https://e.test/%E9%AA%8C%E8%AF%81", ""),
            anchor("https://e.test/account/activation", ""),
        ];
        let l = links(&a, None, &["https://e.test/l/1".to_string()]);
        let kinds: Vec<(&str, LinkKind)> = l.iter().map(|l| (l.url.as_str(), l.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("https://e.test/%E9%AA%8C%E8%AF%81", LinkKind::Verify),
                ("https://e.test/account/activation", LinkKind::Verify),
                ("https://e.test/x?token=1", LinkKind::MagicLogin),
                ("https://e.test/a", LinkKind::ResetPassword),
                ("https://e.test/p?x=1", LinkKind::Other),
                ("https://e.test/l/1", LinkKind::Unsubscribe),
            ]
        );
        assert_eq!(main_link(&l[3..]), None);
    }

    #[test]
    fn host_does_not_decide_the_kind() {
        assert_eq!(
            links(&[anchor("https://login.e.test/", "Home")], None, &[])[0].kind,
            LinkKind::Other
        );
    }

    #[test]
    fn cleaned_deduplicated_and_only_http() {
        let a = [
            anchor(" https://e.test/v?a=1&b=2 ", ""),
            anchor("mailto:x@e.test", "mail"),
            anchor("javascript:alert(1)", "x"),
            anchor("/relative", "x"),
            anchor("https://", "empty"),
            anchor("https://e.test/v?a=1&b=2", "Open"),
        ];
        let plain = "See (https://e.test/v?a=1&amp;b=2), or <https://e.test/other>!";
        let l = links(&a, Some(plain), &[]);
        let got: Vec<(&str, Option<&str>, LinkSource)> = l
            .iter()
            .map(|l| (l.url.as_str(), l.text.as_deref(), l.source))
            .collect();
        assert_eq!(
            got,
            [
                ("https://e.test/v?a=1&b=2", Some("Open"), LinkSource::Html),
                ("https://e.test/other", None, LinkSource::Text)
            ]
        );
    }

    #[test]
    fn at_most_max_links_other_ones_dropped_first() {
        let mut a: Vec<Anchor> = (0..MAX_LINKS + 50)
            .map(|i| anchor(&format!("https://e.test/{i}"), ""))
            .collect();
        a.push(anchor("https://e.test/unsubscribe", "Unsubscribe"));
        let l = links(&a, None, &[]);
        assert_eq!(l.len(), MAX_LINKS);
        assert_eq!(l[0].url, "https://e.test/0");
        assert_eq!(l.last().map(|l| l.kind), Some(LinkKind::Unsubscribe));
        let many: Vec<Anchor> = (0..3 * MAX_SEEN)
            .map(|i| anchor(&format!("https://e.test/v/{i}"), "verify"))
            .collect();
        assert_eq!(links(&many, None, &[]).len(), MAX_LINKS);
    }
}
