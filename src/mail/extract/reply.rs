//! Reply-only text (API.md part 2 section 3 "Reply text"): cut at the first quote header,
//! drop a trailing block of `>` lines, the signature and mobile footers. The HTML quote
//! containers are dropped earlier, while the HTML is read (`mail::html`).

use std::sync::LazyLock;

use regex::Regex;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid static pattern")
}

/// Attribution lines: `On … wrote:`, `Am … schrieb …:`, `Le … a écrit :`, `El … escribió:`,
/// `Em … escreveu:`, `Il … ha scritto:`, `Op … schreef …:`, `在 … 写道：`, `… 寫道：`.
static ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^(?:on\s.+\swrote\s*:|am\s.+\sschrieb\b.*:|le\s.+\sa\s+écrit\s*:|el\s.+\sescribió\s*:|em\s.+\sescreveu\s*:|il\s.+\sha\s+scritto\s*:|op\s.+\sschreef\b.*:|在.+写道\s*[:：]|.+寫道\s*[:：])$",
    )
});

static ORIGINAL_MESSAGE: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)^-{2,}\s*original message\s*-{2,}$"));

/// A header line of a quoted message, by the kind of field it names.
static HEADER_LINE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^\*?(?:(?P<from>from|von|de|van|da|发件人)|(?P<neutral>cc)|(?:sent|gesendet|envoyé|enviado|inviato|verzonden|发送时间|date|datum|to|an|à|para|a|aan|收件人|subject|betreff|objet|asunto|assunto|oggetto|onderwerp|主题))\*?\s*[:：]",
    )
});

/// A rule above a quote header (Outlook draws `____`).
static SEPARATOR: LazyLock<Regex> = LazyLock::new(|| regex(r"^(?:_{5,}|-{5,}|={5,})$"));

/// `Sent from my …`, `Get Outlook for …`, `Von meinem … gesendet`, `Envoyé de mon …`, `发自我的…`.
static MOBILE_FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i)^(?:sent from my\s.+|get outlook for\s.+|von meinem\s.+\sgesendet\.?|envoyé de mon\s.+|发自我的.+)$")
});

/// The three-or-more header lines of a quoted message are looked for in this many lines.
const HEADER_BLOCK_LINES: usize = 12;

/// The reply part of a plain text body.
pub fn reply_only(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    let mut keep = &lines[..];
    if let Some(cut) = quote_header(&lines) {
        keep = &lines[..cut];
        while keep
            .last()
            .is_some_and(|l| l.trim().is_empty() || SEPARATOR.is_match(l.trim()))
        {
            keep = &keep[..keep.len() - 1];
        }
    }
    if let Some(sig) = keep.iter().position(|l| is_signature(l)) {
        keep = &keep[..sig];
    }
    keep = drop_trailing_quotes_and_footers(keep);
    keep.join("\n").trim().to_string()
}

/// The first line of quoted history, if the text has a quote header.
fn quote_header(lines: &[&str]) -> Option<usize> {
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        if line.is_empty() || is_quoted(line) {
            continue;
        }
        if ORIGINAL_MESSAGE.is_match(line) || header_block(&lines[i..]) {
            return Some(i);
        }
        if let Some(last) = attribution(lines, i) {
            // Interleaved answers stay whole.
            return (!interleaved(&lines[last + 1..])).then_some(i);
        }
    }
    None
}

/// The last line of an attribution starting at `i`: on one line, or wrapped onto two.
fn attribution(lines: &[&str], i: usize) -> Option<usize> {
    let line = lines[i].trim();
    if ATTRIBUTION.is_match(line) {
        return Some(i);
    }
    let next = lines.get(i + 1)?.trim();
    if next.is_empty() || is_quoted(next) || !next.ends_with([':', '：']) {
        return None;
    }
    ATTRIBUTION.is_match(&format!("{line} {next}")).then_some(i + 1)
}

/// Three or more header lines, the first naming the sender (`Cc:` lines may sit between).
fn header_block(lines: &[&str]) -> bool {
    let mut counted = 0;
    for (n, line) in lines.iter().take(HEADER_BLOCK_LINES).enumerate() {
        let Some(caps) = HEADER_LINE.captures(line.trim()) else {
            return false;
        };
        if n == 0 && caps.name("from").is_none() {
            return false;
        }
        if caps.name("neutral").is_none() {
            counted += 1;
        }
        if counted >= 3 {
            return true;
        }
    }
    false
}

/// After an attribution: quoted lines with answers written between them or below them.
fn interleaved(rest: &[&str]) -> bool {
    let mut seen_quote = false;
    for line in rest {
        if is_signature(line) {
            break;
        }
        let line = line.trim();
        if is_quoted(line) {
            seen_quote = true;
        } else if seen_quote && !line.is_empty() && !MOBILE_FOOTER.is_match(line) {
            return true;
        }
    }
    false
}

fn drop_trailing_quotes_and_footers<'a, 'b>(mut lines: &'b [&'a str]) -> &'b [&'a str] {
    loop {
        let before = lines.len();
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines = &lines[..lines.len() - 1];
        }
        if lines.last().is_some_and(|l| is_quoted(l.trim())) {
            while lines.last().is_some_and(|l| l.trim().is_empty() || is_quoted(l.trim())) {
                lines = &lines[..lines.len() - 1];
            }
        }
        if lines.last().is_some_and(|l| MOBILE_FOOTER.is_match(l.trim())) {
            lines = &lines[..lines.len() - 1];
        }
        if lines.len() == before {
            return lines;
        }
    }
}

fn is_quoted(trimmed: &str) -> bool {
    trimmed.starts_with('>')
}

/// The signature separator `-- ` (RFC 3676 4.3), also with its space lost on the way.
fn is_signature(line: &str) -> bool {
    line.trim_end() == "--"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_wrote_over_two_lines() {
        let t = "Works for me.\r\n\r\nOn Tue, Sep 22, 2026 at 9:14 AM Priya Raman <priya.raman@example.test>\r\nwrote:\r\n\r\n> Can we move it?\r\n> Thanks";
        assert_eq!(reply_only(t), "Works for me.");
    }

    #[test]
    fn other_languages() {
        for header in [
            "Le mar. 12 mai 2026 à 10:00, Jean <j@x.test> a écrit :",
            "El mar, 12 may 2026 a las 10:00, Ana (<a@x.test>) escribió:",
            "Em ter., 12 de mai. de 2026 às 10:00, João <j@x.test> escreveu:",
            "Il giorno mar 12 mag 2026 alle ore 10:00 Luca <l@x.test> ha scritto:",
            "Op di 12 mei 2026 om 10:00 schreef Piet <p@x.test>:",
            "張三 <z@x.test> 於 2026年5月12日 週二 上午10:00 寫道：",
        ] {
            assert_eq!(reply_only(&format!("Oui.\n\n{header}\n> old")), "Oui.", "{header}");
        }
    }

    #[test]
    fn outlook_original_message_and_separator() {
        let t = "Done, see attached.\n\n-----Original Message-----\nFrom: Bob\nold text";
        assert_eq!(reply_only(t), "Done, see attached.");
        let t = "Approved.\n\n________________________________\nVon: Bob <b@x.test>\nGesendet: Dienstag\nAn: Alice\nBetreff: Budget\n\nold";
        assert_eq!(reply_only(t), "Approved.");
    }

    #[test]
    fn header_block_needs_three_lines_from_first() {
        let t = "From: the team\nTo: everyone\n\nthanks";
        assert_eq!(reply_only(t), t);
        let t = "To: a\nSubject: b\nFrom: c\nrest";
        assert_eq!(reply_only(t), t);
    }

    #[test]
    fn signature_and_footers() {
        assert_eq!(reply_only("Thanks!\n-- \nBob Smith\nACME"), "Thanks!");
        assert_eq!(reply_only("Thanks!\n--\nBob"), "Thanks!");
        assert_eq!(reply_only("Ok\n\nGet Outlook for iOS"), "Ok");
        assert_eq!(reply_only("Gut\n\nVon meinem iPhone gesendet"), "Gut");
        assert_eq!(reply_only("Bien\n\nEnvoyé de mon iPhone"), "Bien");
        assert_eq!(reply_only("好\n\n发自我的iPhone"), "好");
        // A footer line inside the text is not a footer.
        assert_eq!(
            reply_only("Sent from my phone while on the train, sorry.\nMore text"),
            "Sent from my phone while on the train, sorry.\nMore text"
        );
    }

    #[test]
    fn trailing_quote_block_without_header() {
        assert_eq!(reply_only("Yes.\n\n> old\n>\n> older\n"), "Yes.");
        assert_eq!(reply_only("> all quoted"), "");
    }

    #[test]
    fn bottom_posted_answer_stays_whole() {
        let t = "On Tue Bob wrote:\n> question?\n\nanswer.";
        assert_eq!(reply_only(t), t);
    }

    #[test]
    fn plain_text_unchanged() {
        assert_eq!(reply_only("  Just one line.  \n"), "Just one line.");
        assert_eq!(reply_only(""), "");
    }
}
