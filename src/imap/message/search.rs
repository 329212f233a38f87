//! SEARCH evaluation for one message (RFC 3501 6.4.4 / RFC 9051 6.4.4, MODSEQ from
//! RFC 7162 3.1.5). String keys are case-insensitive substring matches on decoded text:
//! headers decoded from RFC 2047, bodies from their transfer encoding and charset.

use std::cell::OnceCell;

use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::datetime::NaiveDate;
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

use super::section::astring_text;
use crate::mail::decode::decode_header_text;
use crate::mail::{MessageSummary, PartKind, headers, part_text};

/// System flags of a message, as the session knows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemFlags {
    pub seen: bool,
    pub answered: bool,
    pub flagged: bool,
    pub deleted: bool,
    pub draft: bool,
    /// `\Recent` (IMAP4rev1 only).
    pub recent: bool,
}

/// What the session knows about a message besides its summary and bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchContext<'a> {
    pub seq: u32,
    pub uid: u32,
    /// Highest sequence number and UID in the mailbox: the value of `*`.
    pub max_seq: u32,
    pub max_uid: u32,
    pub flags: SystemFlags,
    /// Keywords set on the message.
    pub keywords: &'a [String],
    /// INTERNALDATE as unix seconds, and its zone in minutes east of UTC.
    pub internal_date: i64,
    pub internal_tz_minutes: i16,
    /// RFC822.SIZE.
    pub size: u32,
    /// MODSEQ (RFC 7162).
    pub modseq: u64,
}

/// Deepest NOT/OR/AND nesting evaluated; deeper keys do not match.
const MAX_DEPTH: usize = 64;
/// Most decoded body text searched per message.
const MAX_BODY_TEXT: usize = 32 * 1024 * 1024;

struct Eval<'a> {
    ctx: &'a SearchContext<'a>,
    summary: &'a MessageSummary,
    raw: &'a [u8],
    body_text: OnceCell<String>,
    header_text: OnceCell<String>,
}

/// Does the message match `key`?
pub fn matches(key: &SearchKey<'_>, ctx: &SearchContext<'_>, summary: &MessageSummary, raw: &[u8]) -> bool {
    matches_all(std::slice::from_ref(key), ctx, summary, raw)
}

/// Does the message match every key (the top level of a SEARCH command is an AND)?
/// Decoded body text is computed at most once for all keys.
pub fn matches_all(keys: &[SearchKey<'_>], ctx: &SearchContext<'_>, summary: &MessageSummary, raw: &[u8]) -> bool {
    let ev = Eval {
        ctx,
        summary,
        raw,
        body_text: OnceCell::new(),
        header_text: OnceCell::new(),
    };
    keys.iter().all(|k| ev.eval(k, 0))
}

/// Days since 1970-01-01 of a calendar date (proleptic Gregorian).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An IMAP search date as days since the epoch. NaiveDate displays as `YYYY-MM-DD`
/// (its year is validated to 0..=9999).
fn day_of(date: &NaiveDate) -> Option<i64> {
    let s = date.as_ref().to_string();
    let mut it = s.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (it.next()??, it.next()??, it.next()??);
    Some(days_from_civil(y, m, d))
}

fn local_day(unix: i64, tz_minutes: i16) -> i64 {
    (unix + i64::from(tz_minutes) * 60).div_euclid(86_400)
}

fn in_set(set: &SequenceSet, n: u32, max: u32) -> bool {
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => max,
    };
    n != 0
        && set.0.as_ref().iter().any(|s| match s {
            Sequence::Single(v) => value(v) == n,
            Sequence::Range(a, b) => {
                let (a, b) = (value(a), value(b));
                (a.min(b)..=a.max(b)).contains(&n)
            }
        })
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    needle.is_empty() || haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// Like [`contains_ci`] for a haystack already lower-cased.
fn lower_contains(haystack_lower: &str, needle: &str) -> bool {
    needle.is_empty() || haystack_lower.contains(&needle.to_lowercase())
}

impl Eval<'_> {
    fn header_has(&self, name: &str, needle: &AString<'_>) -> bool {
        let needle = astring_text(needle);
        let header = self.summary.root.header(self.raw);
        // RFC 3501 6.4.4 HEADER: an empty string matches every message with the field.
        headers::all(header, name).any(|v| contains_ci(&decode_header_text(v), &needle))
    }

    /// Decoded text of all text parts, lower-cased.
    fn body_text(&self) -> &str {
        self.body_text.get_or_init(|| {
            let mut out = String::new();
            self.summary.root.walk(&mut |p| {
                if p.is_text() && out.len() < MAX_BODY_TEXT {
                    out.push_str(&part_text(p, self.raw, MAX_BODY_TEXT));
                    out.push('\n');
                }
                // Headers of encapsulated messages are text of the message too.
                if let PartKind::Message(m) = &p.kind {
                    out.push_str(&decoded_header(m.root.header(self.raw)));
                }
            });
            // Lower-cased once; every key then only lower-cases its needle.
            out.to_lowercase()
        })
    }

    /// Decoded top-level header, lower-cased.
    fn header_text(&self) -> &str {
        self.header_text
            .get_or_init(|| decoded_header(self.summary.root.header(self.raw)).to_lowercase())
    }

    fn eval(&self, key: &SearchKey<'_>, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let c = self.ctx;
        let f = c.flags;
        let sent_day = || {
            self.summary
                .sent_date
                .map(|t| local_day(t, self.summary.sent_tz_minutes))
        };
        let internal_day = || local_day(c.internal_date, c.internal_tz_minutes);
        let has_keyword = |k: &str| c.keywords.iter().any(|x| x.eq_ignore_ascii_case(k));
        match key {
            SearchKey::And(keys) => keys.as_ref().iter().all(|k| self.eval(k, depth + 1)),
            SearchKey::Or(a, b) => self.eval(a, depth + 1) || self.eval(b, depth + 1),
            SearchKey::Not(k) => !self.eval(k, depth + 1),
            SearchKey::SequenceSet(set) => in_set(set, c.seq, c.max_seq),
            SearchKey::Uid(set) => in_set(set, c.uid, c.max_uid),
            SearchKey::All => true,
            SearchKey::Answered => f.answered,
            SearchKey::Unanswered => !f.answered,
            SearchKey::Deleted => f.deleted,
            SearchKey::Undeleted => !f.deleted,
            SearchKey::Draft => f.draft,
            SearchKey::Undraft => !f.draft,
            SearchKey::Flagged => f.flagged,
            SearchKey::Unflagged => !f.flagged,
            SearchKey::Seen => f.seen,
            SearchKey::Unseen => !f.seen,
            SearchKey::Recent => f.recent,
            // RFC 3501 6.4.4: NEW = RECENT UNSEEN, OLD = NOT RECENT.
            SearchKey::New => f.recent && !f.seen,
            SearchKey::Old => !f.recent,
            SearchKey::Keyword(k) => has_keyword(k.inner()),
            SearchKey::Unkeyword(k) => !has_keyword(k.inner()),
            SearchKey::Larger(n) => c.size > *n,
            SearchKey::Smaller(n) => c.size < *n,
            // Internal date, "disregarding time and timezone" (RFC 3501 6.4.4).
            SearchKey::Before(d) => day_of(d).is_some_and(|d| internal_day() < d),
            SearchKey::On(d) => day_of(d).is_some_and(|d| internal_day() == d),
            SearchKey::Since(d) => day_of(d).is_some_and(|d| internal_day() >= d),
            // The Date header, in its own zone; a message without one does not match.
            SearchKey::SentBefore(d) => {
                matches!((sent_day(), day_of(d)), (Some(s), Some(d)) if s < d)
            }
            SearchKey::SentOn(d) => matches!((sent_day(), day_of(d)), (Some(s), Some(d)) if s == d),
            SearchKey::SentSince(d) => {
                matches!((sent_day(), day_of(d)), (Some(s), Some(d)) if s >= d)
            }
            SearchKey::Bcc(s) => self.header_has("Bcc", s),
            SearchKey::Cc(s) => self.header_has("Cc", s),
            SearchKey::From(s) => self.header_has("From", s),
            SearchKey::To(s) => self.header_has("To", s),
            SearchKey::Subject(s) => self.header_has("Subject", s),
            SearchKey::Header(name, s) => self.header_has(&astring_text(name), s),
            SearchKey::Body(s) => lower_contains(self.body_text(), &astring_text(s)),
            SearchKey::Text(s) => {
                let needle = astring_text(s);
                lower_contains(self.header_text(), &needle) || lower_contains(self.body_text(), &needle)
            }
            SearchKey::ModSequence { modseq, .. } => c.modseq >= *modseq,
            // Keys of extensions this crate may enable later (WITHIN) need the clock.
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// A header block as decoded text: `Name: value` lines.
fn decoded_header(header: &[u8]) -> String {
    let mut out = String::new();
    for f in headers::fields(header) {
        out.push_str(&String::from_utf8_lossy(f.name));
        out.push_str(": ");
        out.push_str(&decode_header_text(f.value));
        out.push('\n');
    }
    out
}
