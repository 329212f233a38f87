//! One-time codes (API.md part 2 section 3 "Codes"): candidates, keywords, rejections and
//! confidence, by the written rules. Positions and distances count characters of the
//! normalised text (`normalize`); "lines" are its `\n`-separated lines, the subject is one.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::normalize::normalize;
use super::words::{self, Hit, Text};

/// Most codes listed.
pub const MAX_CODES: usize = 20;
/// A keyword this many characters before a code on its line, or [`AFTER`] after it, is near.
const BEFORE: usize = 40;
const AFTER: usize = 20;
/// A year-like number is a code only with a keyword ending this close before it.
const YEAR_KEYWORD: usize = 3;
/// The number a reference or phone word points at starts within this many characters.
const POINTS_AT: usize = 20;

/// How sure a code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

/// Where a code was found: the subject, the text/plain body, or text made from the HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeSource {
    Subject,
    Text,
    Html,
}

/// One code: `value` to type in, `raw` as written (after normalisation), the keyword
/// that made it likely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Code {
    pub value: String,
    pub raw: String,
    pub confidence: Confidence,
    pub source: CodeSource,
    pub keyword: Option<String>,
}

/// Codes in the subject and then the body, best first, one per value, at most [`MAX_CODES`].
pub fn find_codes(subject: &str, body: &str, body_source: CodeSource) -> Vec<Code> {
    let scans = [Scan::new(subject, CodeSource::Subject), Scan::new(body, body_source)];
    let first_keyword = scans.iter().find_map(|s| s.keywords.first()).map(|h| h.word.as_str());
    let mut found = Vec::new();
    for (order, scan) in scans.iter().enumerate() {
        for candidate in scan.candidates() {
            if scan.rejected(&candidate) {
                continue;
            }
            if let Some(rated) = scan.rate(candidate, first_keyword) {
                found.push((order, rated));
            }
        }
    }
    found.sort_by_key(|(order, r)| (r.confidence, r.distance, *order, r.start));
    let mut codes: Vec<Code> = Vec::new();
    for (order, r) in found {
        if codes.len() == MAX_CODES {
            break;
        }
        if codes.iter().all(|c| c.value != r.value) {
            codes.push(Code {
                value: r.value,
                raw: r.raw,
                confidence: r.confidence,
                source: scans[order].source,
                keyword: r.keyword,
            });
        }
    }
    codes
}

/// Dates and times: `2026-05-12`, `12/05/2026`, `12.05.2026`, `10:30`, `2pm`, `2026年5月12日`.
static DATE_OR_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4}|[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:\s?[ap]\.?m\b\.?)?|[0-9]{1,2}\s?[ap]m\b|[0-9]{2,4}[年년]\s?[0-9]{1,2}[月월](?:\s?[0-9]{1,2}[日일])?|[0-9]{1,2}[月월]\s?[0-9]{1,2}[日일]",
    )
    .expect("a valid static pattern")
});

const CURRENCY_SIGNS: &[char] = &['$', '€', '£', '¥', '₹', '元', '円', '원'];
const CURRENCY_CODES: &[&str] = &["usd", "eur"];
/// Units that make a number a quantity (`10 kg`, `500MB`, `30 mins`).
const UNITS: &[&str] = &[
    "ms", "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour", "hours",
    "day", "days", "week", "weeks", "am", "pm", "kb", "mb", "gb", "tb", "kg", "g", "mg", "lb", "lbs", "oz", "km", "m",
    "cm", "mm", "mi", "ft", "ml", "px", "pcs", "pts", "points", "miles", "steps", "kcal", "kwh",
];
/// Words and signs after which a lone code is likely (medium confidence).
const LEAD_WORDS: &[&str] = &["use", "enter", "is"];
const LEAD_SIGNS: &[&str] = &[":", "：", "输入", "入力"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Digits,
    Letters,
    Mixed,
}

/// A maximal run of ASCII letters and digits: no ASCII letter or digit touches a candidate.
struct Token {
    start: usize,
    end: usize,
    class: Class,
    /// The digit group of a digit token.
    group: Option<usize>,
}

impl Token {
    fn len(&self) -> usize {
        self.end - self.start
    }
}

/// Digit runs joined by single separators (`415 555-0100`, `591 204`): a phone number when
/// long, a code when short.
struct Group {
    first: usize,
    last: usize,
    digits: usize,
}

struct Candidate {
    start: usize,
    end: usize,
    value: String,
    /// Letters and digits: a code only with high confidence.
    alnum: bool,
    group: Option<usize>,
}

struct Rated {
    start: usize,
    value: String,
    raw: String,
    confidence: Confidence,
    distance: usize,
    keyword: Option<String>,
}

struct Scan {
    source: CodeSource,
    text: Text,
    /// Line number of each character, and how many letters and digits each line has.
    line_of: Vec<u32>,
    line_alnum: Vec<u32>,
    tokens: Vec<Token>,
    groups: Vec<Group>,
    /// Groups that are phone or reference numbers.
    excluded: Vec<bool>,
    keywords: Vec<Hit>,
    /// Characters inside dates and times.
    in_date: Vec<bool>,
}

impl Scan {
    fn new(raw: &str, source: CodeSource) -> Self {
        let text = Text::new(normalize(raw));
        let (line_of, line_alnum) = lines(&text.chars);
        let mut tokens = tokens(&text.chars);
        let groups = groups(&text.chars, &mut tokens);
        let keywords = words::hits(&words::KEYWORDS, &text, words::keyword_rule);
        let mut in_date = vec![false; text.chars.len()];
        for m in DATE_OR_TIME.find_iter(&text.text) {
            for flag in &mut in_date[text.char_index(m.start())..text.char_index(m.end())] {
                *flag = true;
            }
        }
        let mut scan = Self {
            source,
            text,
            line_of,
            line_alnum,
            excluded: vec![false; groups.len()],
            tokens,
            groups,
            keywords,
            in_date,
        };
        scan.exclude_phones_and_references();
        scan
    }

    fn exclude_phones_and_references(&mut self) {
        for (g, group) in self.groups.iter().enumerate() {
            let start = self.tokens[group.first].start;
            let after_plus = self.text.before(start) == Some('+');
            let long = group.last > group.first && group.digits >= 9;
            self.excluded[g] = after_plus || long;
        }
        let pointers = [
            words::hits(&words::PHONE_WORDS, &self.text, words::phone_rule),
            words::hits(&words::REFERENCE_WORDS, &self.text, words::reference_rule),
        ];
        for hit in pointers.iter().flatten() {
            if let Some(g) = self.number_after(hit) {
                self.excluded[g] = true;
            }
        }
    }

    /// The group of the first number within [`POINTS_AT`] characters after `hit`, unless a
    /// code keyword stands between them ("account code: 1234" is a code).
    fn number_after(&self, hit: &Hit) -> Option<usize> {
        let from = self.tokens.partition_point(|t| t.start < hit.end);
        let token = self.tokens[from..]
            .iter()
            .take_while(|t| t.start - hit.end <= POINTS_AT)
            .find(|t| t.class == Class::Digits)?;
        if self.keyword_after(hit.end).is_some_and(|k| k.end <= token.start) {
            return None;
        }
        token.group
    }

    /// The nearest keyword ending at or before `pos`.
    fn keyword_before(&self, pos: usize) -> Option<&Hit> {
        let n = self.keywords.partition_point(|k| k.end <= pos);
        n.checked_sub(1).map(|i| &self.keywords[i])
    }

    /// The nearest keyword starting at or after `pos`.
    fn keyword_after(&self, pos: usize) -> Option<&Hit> {
        self.keywords.get(self.keywords.partition_point(|k| k.start < pos))
    }

    fn candidates(&self) -> Vec<Candidate> {
        let mut out = Vec::new();
        for (g, group) in self.groups.iter().enumerate() {
            let toks = &self.tokens[group.first..=group.last];
            if let [a, b] = toks
                && a.len() == b.len()
                && (a.len() == 3 || a.len() == 4)
                && b.start == a.end + 1
                && matches!(self.text.get(a.end), Some(' ' | '-'))
            {
                let value = format!("{}{}", self.slice(a.start, a.end), self.slice(b.start, b.end));
                out.push(Candidate {
                    start: a.start,
                    end: b.end,
                    value,
                    alnum: false,
                    group: Some(g),
                });
                continue;
            }
            for (i, t) in toks.iter().enumerate().filter(|(_, t)| (4..=8).contains(&t.len())) {
                let start = if toks.len() == 1 {
                    self.prefix_start(group.first + i)
                } else {
                    t.start
                };
                out.push(Candidate {
                    start,
                    end: t.end,
                    value: self.slice(t.start, t.end),
                    alnum: false,
                    group: Some(g),
                });
            }
        }
        for t in self
            .tokens
            .iter()
            .filter(|t| t.class == Class::Mixed && (4..=10).contains(&t.len()))
        {
            out.push(Candidate {
                start: t.start,
                end: t.end,
                value: self.slice(t.start, t.end),
                alnum: true,
                group: None,
            });
        }
        out
    }

    /// Where a digit token's `X-`/`XX-` prefix starts (`G-318244`), or the token's start.
    fn prefix_start(&self, token: usize) -> usize {
        let t = &self.tokens[token];
        let prefix = token.checked_sub(1).and_then(|p| self.tokens.get(p));
        match prefix {
            Some(p)
                if p.class == Class::Letters
                    && p.len() <= 2
                    && p.end + 1 == t.start
                    && self.text.get(p.end) == Some('-')
                    && self.text.chars[p.start..p.end].iter().all(char::is_ascii_uppercase) =>
            {
                p.start
            }
            _ => t.start,
        }
    }

    fn rejected(&self, c: &Candidate) -> bool {
        c.group.is_some_and(|g| self.excluded[g])
            || self.in_date[c.start..c.end].iter().any(|&d| d)
            || self.is_year(c)
            || is_yyyymmdd(&c.value)
            || self.is_amount(c)
    }

    /// 1900 to 2099, unless a keyword ends at most [`YEAR_KEYWORD`] characters before.
    fn is_year(&self, c: &Candidate) -> bool {
        let year = c.value.len() == 4 && c.value.parse::<u32>().is_ok_and(|y| (1900..=2099).contains(&y));
        year && self
            .keyword_before(c.start)
            .is_none_or(|k| c.start - k.end > YEAR_KEYWORD)
    }

    /// Money and quantities: a currency before or after, `%` or a unit after, or a decimal part.
    fn is_amount(&self, c: &Candidate) -> bool {
        let chars = &self.text.chars;
        if c.alnum {
            let digits = c.value.bytes().take_while(u8::is_ascii_digit).count();
            return digits > 0 && UNITS.contains(&c.value[digits..].to_ascii_lowercase().as_str());
        }
        let before = if self.text.before(c.start) == Some(' ') {
            c.start - 1
        } else {
            c.start
        };
        let after = if self.text.get(c.end) == Some(' ') {
            c.end + 1
        } else {
            c.end
        };
        let sign_before = self.text.before(before).is_some_and(|s| CURRENCY_SIGNS.contains(&s));
        let code_before = before >= 3
            && CURRENCY_CODES.contains(&word_of(&chars[before - 3..before]).as_str())
            && !self.text.before(before - 3).is_some_and(words::is_word);
        let sign_after = self
            .text
            .get(after)
            .is_some_and(|s| s == '%' || CURRENCY_SIGNS.contains(&s));
        let word_after = word_of(chars.get(after..).unwrap_or_default());
        let unit_after = UNITS.contains(&word_after.as_str()) || CURRENCY_CODES.contains(&word_after.as_str());
        let decimal_after = matches!(self.text.get(c.end), Some('.' | ','))
            && self.text.get(c.end + 1).is_some_and(|d| d.is_ascii_digit());
        let decimal_before = matches!(self.text.before(c.start), Some('.' | ','))
            && self.text.before(c.start - 1).is_some_and(|d| d.is_ascii_digit());
        sign_before || code_before || sign_after || unit_after || decimal_after || decimal_before
    }

    fn rate(&self, c: Candidate, first_keyword: Option<&str>) -> Option<Rated> {
        let line = self.line_of[c.start];
        let same_line = |k: &&Hit| self.line_of.get(k.start) == Some(&line);
        let before = self.keyword_before(c.start).filter(same_line);
        let after = self.keyword_after(c.end).filter(same_line);
        let gaps = [
            before.map(|k| (c.start - k.end, k, BEFORE)),
            after.map(|k| (k.start - c.end, k, AFTER)),
        ];
        let subject_rule = self.source == CodeSource::Subject && !self.keywords.is_empty();
        let near = gaps
            .iter()
            .flatten()
            .filter(|(gap, _, limit)| gap <= limit || subject_rule)
            .min_by_key(|(gap, ..)| *gap);
        let nearest = gaps.iter().flatten().min_by_key(|(gap, ..)| *gap);
        let confidence = if near.is_some() {
            Confidence::High
        } else if first_keyword.is_some() && (self.alone_on_line(&c) || self.after_lead(c.start)) {
            Confidence::Medium
        } else {
            Confidence::Low
        };
        if c.alnum && confidence != Confidence::High {
            return None;
        }
        let keyword = near.or(nearest).map(|(_, k, _)| k.word.clone());
        let keyword = match confidence {
            Confidence::Medium => keyword.or(first_keyword.map(str::to_string)),
            _ => keyword,
        };
        Some(Rated {
            start: c.start,
            raw: self.slice(c.start, c.end),
            value: c.value,
            confidence,
            distance: near.or(nearest).map_or(usize::MAX, |(gap, ..)| *gap),
            keyword,
        })
    }

    fn alone_on_line(&self, c: &Candidate) -> bool {
        let own = self.text.chars[c.start..c.end]
            .iter()
            .filter(|ch| ch.is_alphanumeric())
            .count();
        self.line_alnum[self.line_of[c.start] as usize] as usize == own
    }

    /// Right after `use`, `enter`, `is`, `:`, `：`, 输入 or 入力 (spaces between allowed).
    fn after_lead(&self, start: usize) -> bool {
        let chars = &self.text.chars;
        let mut end = start;
        while end > 0 && chars[end - 1].is_whitespace() {
            end -= 1;
        }
        let ends_with = |lead: &str| {
            let n = lead.chars().count();
            end >= n && chars[end - n..end].iter().copied().eq(lead.chars())
        };
        if LEAD_SIGNS.iter().any(|s| ends_with(s)) {
            return true;
        }
        let letters = chars[..end]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        let word = word_of(&chars[end - letters..end]);
        LEAD_WORDS.contains(&word.as_str()) && !self.text.before(end - letters).is_some_and(words::is_word)
    }

    fn slice(&self, start: usize, end: usize) -> String {
        self.text.chars[start..end].iter().collect()
    }
}

/// The ASCII letters at the start of `chars`, lower-cased (at most 12: longer than any unit).
fn word_of(chars: &[char]) -> String {
    chars
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .take(12)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn lines(chars: &[char]) -> (Vec<u32>, Vec<u32>) {
    let mut line_of = Vec::with_capacity(chars.len());
    let mut line_alnum = vec![0];
    let mut line = 0u32;
    for &c in chars {
        line_of.push(line);
        if c == '\n' {
            line += 1;
            line_alnum.push(0);
        } else if c.is_alphanumeric() {
            line_alnum[line as usize] += 1;
        }
    }
    (line_of, line_alnum)
}

fn tokens(chars: &[char]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        let (mut digits, mut letters) = (false, false);
        while let Some(c) = chars.get(i).filter(|c| c.is_ascii_alphanumeric()) {
            digits |= c.is_ascii_digit();
            letters |= c.is_ascii_alphabetic();
            i += 1;
        }
        let class = match (digits, letters) {
            (true, false) => Class::Digits,
            (false, _) => Class::Letters,
            (true, true) => Class::Mixed,
        };
        out.push(Token {
            start,
            end: i,
            class,
            group: None,
        });
    }
    out
}

/// Separators inside a digit group: `591 204`, `555-0100`, `12.05`, `(415) 555`.
fn joins(gap: &[char]) -> bool {
    matches!(gap, [' ' | '-' | '.' | ')'] | [')', ' ' | '-'] | [' ', '('])
}

/// Group the digit tokens, noting each one's group in it.
fn groups(chars: &[char], tokens: &mut [Token]) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for i in 0..tokens.len() {
        if tokens[i].class != Class::Digits {
            continue;
        }
        let (start, len) = (tokens[i].start, tokens[i].len());
        let prev = out
            .last_mut()
            .filter(|g| g.last + 1 == i && joins(&chars[tokens[g.last].end..start]));
        match prev {
            Some(g) => {
                g.last = i;
                g.digits += len;
            }
            None => out.push(Group {
                first: i,
                last: i,
                digits: len,
            }),
        }
        tokens[i].group = Some(out.len() - 1);
    }
    out
}

/// A valid date written `YYYYMMDD` (1900 to 2099).
fn is_yyyymmdd(value: &str) -> bool {
    if value.len() != 8 {
        return false;
    }
    let num = |r: std::ops::Range<usize>| value.get(r).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    let (y, m, d) = (num(0..4), num(4..6), num(6..8));
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    (1900..=2099).contains(&y) && (1..=days).contains(&d)
}
