//! Paginated listings: one page of an ordered prefix scan, and the total.

use super::Result;

/// One page of a listing in key order (creation time, then id), and how many
/// there are in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Reads the entries under `prefix` from `offset`, at most `limit` of them, turning
/// each through `read` (None skips a dangling index entry). `total` is counted by
/// scanning when the caller does not keep a counter for it.
pub(super) fn scan_page<T>(
    tree: &sled::Tree,
    prefix: &[u8],
    offset: u64,
    limit: usize,
    total: Option<u64>,
    mut read: impl FnMut(&[u8], &[u8]) -> Result<Option<T>>,
) -> Result<Page<T>> {
    let mut items = Vec::with_capacity(limit.min(100));
    let mut seen = 0u64;
    for entry in tree.scan_prefix(prefix) {
        if items.len() >= limit && total.is_some() {
            break;
        }
        let (k, v) = entry?;
        if seen >= offset
            && items.len() < limit
            && let Some(item) = read(&k, &v)?
        {
            items.push(item);
        }
        seen += 1;
    }
    Ok(Page {
        items,
        total: total.unwrap_or(seen),
    })
}
