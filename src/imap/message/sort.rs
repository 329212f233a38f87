//! SORT (RFC 5256 3; DISPLAYFROM/DISPLAYTO from RFC 5957) over a list of messages.

use std::cmp::Ordering;

use imap_codec::imap_types::extensions::sort::{SortCriterion, SortKey};

use crate::mail::{FirstAddress, MessageSummary};

/// One message to sort or thread.
#[derive(Debug, Clone, Copy)]
pub struct SortItem<'a> {
    /// What the answer lists: the sequence number or the UID.
    pub id: u32,
    pub summary: &'a MessageSummary,
    /// INTERNALDATE, unix seconds.
    pub internal_date: i64,
    /// RFC822.SIZE.
    pub size: u32,
}

impl SortItem<'_> {
    /// RFC 5256 DATE: the Date header, or INTERNALDATE when it is missing or invalid.
    pub fn sent_or_internal(&self) -> i64 {
        self.summary.sent_date.unwrap_or(self.internal_date)
    }
}

/// i;ascii-casemap (RFC 4790 9.2): compare with ASCII letters upper-cased.
pub(crate) fn ascii_casemap(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_uppercase())
        .cmp(b.bytes().map(|c| c.to_ascii_uppercase()))
}

/// RFC 5256: FROM/TO/CC sort by the addr-mailbox (local part) of the first address.
fn mailbox(a: &Option<FirstAddress>) -> &str {
    a.as_ref().map_or("", |a| a.mailbox.as_str())
}

/// RFC 5957: the display name, or the addr-spec when there is none.
fn display(a: &Option<FirstAddress>) -> String {
    match a {
        Some(a) if !a.name.is_empty() => a.name.to_lowercase(),
        Some(a) => a.addr_spec().to_lowercase(),
        None => String::new(),
    }
}

fn compare(key: &SortKey, a: &SortItem<'_>, b: &SortItem<'_>) -> Ordering {
    let (sa, sb) = (a.summary, b.summary);
    match key {
        SortKey::Arrival => a.internal_date.cmp(&b.internal_date),
        SortKey::Date => a.sent_or_internal().cmp(&b.sent_or_internal()),
        SortKey::Size => a.size.cmp(&b.size),
        SortKey::Subject => ascii_casemap(&sa.base_subject, &sb.base_subject),
        SortKey::From => ascii_casemap(mailbox(&sa.from), mailbox(&sb.from)),
        SortKey::To => ascii_casemap(mailbox(&sa.to), mailbox(&sb.to)),
        SortKey::Cc => ascii_casemap(mailbox(&sa.cc), mailbox(&sb.cc)),
        SortKey::DisplayFrom => display(&sa.from).cmp(&display(&sb.from)),
        SortKey::DisplayTo => display(&sa.to).cmp(&display(&sb.to)),
    }
}

/// The ids of `items` in SORT order. `items` must be in sequence-number order: when all
/// criteria tie, that order decides (RFC 5256 3, "sorted by sequence number").
pub fn sort(items: &[SortItem<'_>], criteria: &[SortCriterion]) -> Vec<u32> {
    let mut order: Vec<&SortItem<'_>> = items.iter().collect();
    // Stable sort: ties keep the input (sequence) order.
    order.sort_by(|a, b| {
        for c in criteria {
            let o = compare(&c.key, a, b);
            let o = if c.reverse { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    order.into_iter().map(|i| i.id).collect()
}
