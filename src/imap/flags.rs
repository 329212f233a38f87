//! Flags between IMAP and the store: system flags as bits, keywords as strings.

use crate::store::{Flags, flag};
use imap_codec::imap_types::core::Atom;
use imap_codec::imap_types::flag::{Flag, FlagFetch, FlagPerm};

/// Session-only bit in the snapshot: \Recent for this session (RFC 3501 2.3.2).
pub const RECENT: u8 = 0x40;
/// Session-only bit: expunged by someone, not yet announced to this client.
pub const GONE: u8 = 0x80;
/// The bits that are real message flags.
pub const SYSTEM_MASK: u8 = 0x1f;

const SYSTEM: [(u8, Flag<'static>); 5] = [
    (flag::ANSWERED, Flag::Answered),
    (flag::FLAGGED, Flag::Flagged),
    (flag::DELETED, Flag::Deleted),
    (flag::SEEN, Flag::Seen),
    (flag::DRAFT, Flag::Draft),
];

/// Longest keyword kept, and most keywords per message.
const MAX_KEYWORD: usize = 100;
pub const MAX_KEYWORDS: usize = 50;

/// Converts client flags; `\Recent` and unknown system flags are ignored (RFC 3501
/// 2.3.2: \Recent cannot be changed by clients).
pub fn from_imap(flags: &[Flag<'_>]) -> Flags {
    let mut out = Flags::default();
    for f in flags {
        match f {
            Flag::Answered => out.system |= flag::ANSWERED,
            Flag::Flagged => out.system |= flag::FLAGGED,
            Flag::Deleted => out.system |= flag::DELETED,
            Flag::Seen => out.system |= flag::SEEN,
            Flag::Draft => out.system |= flag::DRAFT,
            Flag::Extension(_) => {}
            Flag::Keyword(k) => {
                let k = k.inner();
                if k.len() <= MAX_KEYWORD
                    && out.keywords.len() < MAX_KEYWORDS
                    && !out.keywords.iter().any(|have| have.eq_ignore_ascii_case(k))
                {
                    out.keywords.push(k.to_string());
                }
            }
        }
    }
    out
}

/// FLAGS as FETCH shows them.
pub fn to_fetch(system: u8, keywords: &[String]) -> Vec<FlagFetch<'static>> {
    let mut out: Vec<FlagFetch<'static>> = SYSTEM
        .iter()
        .filter(|(bit, _)| system & bit != 0)
        .map(|(_, f)| FlagFetch::Flag(f.clone()))
        .collect();
    if system & RECENT != 0 {
        out.push(FlagFetch::Recent);
    }
    out.extend(keywords.iter().filter_map(|k| keyword(k).map(FlagFetch::Flag)));
    out
}

fn keyword(k: &str) -> Option<Flag<'static>> {
    Atom::try_from(k.to_string()).ok().map(Flag::Keyword)
}

/// The FLAGS response: system flags plus the keywords in use.
pub fn mailbox_flags(keywords: &[String]) -> Vec<Flag<'static>> {
    let mut out: Vec<Flag<'static>> = SYSTEM.iter().map(|(_, f)| f.clone()).collect();
    out.extend(keywords.iter().filter_map(|k| keyword(k)));
    out
}

/// PERMANENTFLAGS: everything, and new keywords (`\*`).
pub fn permanent_flags(keywords: &[String]) -> Vec<FlagPerm<'static>> {
    let mut out: Vec<FlagPerm<'static>> = mailbox_flags(keywords).into_iter().map(FlagPerm::Flag).collect();
    out.push(FlagPerm::Asterisk);
    out
}
