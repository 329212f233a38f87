//! The query string and paginated lists (API.md "Lists"): `?limit=` (1 to 100,
//! default 50) and `?offset=`; `{"data": [...], "pagination": {...}}`.

use super::errors::ApiError;
use crate::store::Page;
use serde::Serialize;
use uuid::Uuid;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 100;

/// The decoded query parameters of a request, checked against the names its
/// endpoint knows.
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes `raw`; a name not in `known`, or given twice, is a 400.
    pub fn parse(raw: Option<&str>, known: &[&str]) -> Result<Query, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let (name, value) = (decode(name)?, decode(value)?);
            if !known.contains(&name.as_str()) {
                return Err(ApiError::validation(format!("Unknown query parameter {name:?}.")));
            }
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(ApiError::validation(format!(
                    "Query parameter {name:?} is given twice."
                )));
            }
            pairs.push((name, value));
        }
        Ok(Query { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// `?name=true|false`, false when absent.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(ApiError::validation(format!("{name} must be true or false."))),
        }
    }

    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.get(name)
            .map(|v| parse_uuid(v).ok_or_else(|| ApiError::validation(format!("{name} must be a UUID."))))
            .transpose()
    }

    /// `limit` and `offset`, checked.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| ApiError::validation(format!("limit must be an integer from 1 to {MAX_LIMIT}.")))?,
        };
        let offset = match self.get("offset") {
            None => 0,
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ApiError::validation("offset must be a non-negative integer."))?,
        };
        Ok(PageRequest { limit, offset })
    }
}

/// Only the canonical hyphenated form, so one id has one spelling.
pub fn parse_uuid(text: &str) -> Option<Uuid> {
    (text.len() == 36).then(|| Uuid::try_parse(text).ok()).flatten()
}

/// Percent-decoding of one query component (`+` is a space, as in forms).
fn decode(text: &str) -> Result<String, ApiError> {
    let bad = || ApiError::validation("The query string is not valid percent-encoded UTF-8.");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: usize,
    pub offset: u64,
}

#[derive(Serialize)]
pub struct List<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub limit: usize,
    pub offset: u64,
    pub total: u64,
    pub has_more: bool,
}

impl<T> List<T> {
    /// The list body for `page`, each item turned into its JSON view.
    pub fn of<'a, S>(req: PageRequest, page: &'a Page<S>, view: impl FnMut(&'a S) -> T) -> List<T> {
        let data: Vec<T> = page.items.iter().map(view).collect();
        List {
            pagination: Pagination {
                limit: req.limit,
                offset: req.offset,
                total: page.total,
                has_more: req.offset + (data.len() as u64) < page.total,
            },
            data,
        }
    }
}

/// A page of a list that has at most one item (a `wk_` key's workspace, an `ak_` key's inbox).
pub fn single<S>(req: PageRequest, item: S) -> Page<S> {
    Page {
        items: (req.offset == 0).then_some(item).into_iter().collect(),
        total: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_values_and_pages() {
        let q = Query::parse(Some("limit=10&offset=5&strict=TRUE"), &["limit", "offset", "strict"]).unwrap();
        assert_eq!(q.page().unwrap().limit, 10);
        assert!(q.flag("strict").unwrap());
        assert!(Query::parse(Some("limt=1"), &["limit"]).is_err());
        assert!(Query::parse(Some("limit=1&limit=2"), &["limit"]).is_err());
        assert!(Query::parse(Some("limit=%zz"), &["limit"]).is_err());
        let bad = |raw: &str| Query::parse(Some(raw), &["limit", "offset"]).unwrap().page().is_err();
        assert!(bad("limit=0") && bad("limit=101") && bad("limit=-1") && bad("offset=-3") && bad("limit="));
        let q = Query::parse(
            Some("workspaceId=%30%30000000-0000-0000-0000-000000000000"),
            &["workspaceId"],
        )
        .unwrap();
        assert_eq!(q.uuid("workspaceId").unwrap(), Some(Uuid::nil()));
        assert!(parse_uuid("00000000000000000000000000000000").is_none());
    }

    #[test]
    fn has_more_counts_what_was_returned() {
        let req = PageRequest { limit: 2, offset: 2 };
        let list = List::of(
            req,
            &Page {
                items: vec![1, 2],
                total: 5,
            },
            |x| *x,
        );
        assert!(list.pagination.has_more);
        let list = List::of(
            req,
            &Page {
                items: vec![1],
                total: 3,
            },
            |x| *x,
        );
        assert!(!list.pagination.has_more);
    }
}
