//! SEARCH / UID SEARCH (RFC 3501 6.4.4) with ESEARCH results (RFC 4731, and always
//! under IMAP4rev2), SORT and THREAD (RFC 5256). Evaluation is `imap::message`'s;
//! this file picks the messages, loads what the keys need and words the answer.

use super::flags::{GONE, RECENT};
use super::message::search::SystemFlags;
use super::message::{self, SearchContext, SortItem, ThreadAlgorithm};
use super::preparse::SearchReturn;
use super::selected::uid_set_text;
use super::session::{Res, Session};
use crate::mail::MessageSummary;
use crate::store::{MessageRecord, flag};
use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::extensions::sort::SortCriterion;
use imap_codec::imap_types::extensions::thread::ThreadingAlgorithm;
use imap_codec::imap_types::response::{Code, Data};
use imap_codec::imap_types::search::SearchKey;
use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroU64};

/// One message that matched, with what SORT/THREAD need.
/// What SORT and THREAD order: each hit by UID or sequence number.
fn sort_items<'a>(hits: &'a [Hit], uid: bool, empty: &'a MessageSummary) -> Vec<SortItem<'a>> {
    hits.iter()
        .map(|h| SortItem {
            id: if uid { h.uid } else { h.seq },
            summary: h.summary.as_ref().unwrap_or(empty),
            internal_date: h.record.internal_date,
            size: h.record.size,
        })
        .collect()
}

struct Hit {
    seq: u32,
    uid: u32,
    modseq: u64,
    record: MessageRecord,
    summary: Option<MessageSummary>,
}

/// Whether evaluating `key` reads the message (summary and raw bytes), or only its
/// record and flags.
fn needs_content(key: &SearchKey<'_>) -> bool {
    use SearchKey::*;
    match key {
        And(keys) => keys.as_ref().iter().any(needs_content),
        Or(a, b) => needs_content(a) || needs_content(b),
        Not(k) => needs_content(k),
        SentBefore(_) | SentOn(_) | SentSince(_) | Bcc(_) | Cc(_) | From(_) | To(_) | Subject(_) | Header(..)
        | Body(_) | Text(_) => true,
        _ => false,
    }
}

fn uses_modseq(key: &SearchKey<'_>) -> bool {
    use SearchKey::*;
    match key {
        And(keys) => keys.as_ref().iter().any(uses_modseq),
        Or(a, b) => uses_modseq(a) || uses_modseq(b),
        Not(k) => uses_modseq(k),
        ModSequence { .. } => true,
        _ => false,
    }
}

impl Session {
    fn charset_ok(&mut self, tag: &str, charset: Option<&Charset<'_>>) -> bool {
        let Some(c) = charset else { return true };
        let name = match c {
            Charset::Atom(a) => a.inner().to_string(),
            Charset::Quoted(q) => q.inner().to_string(),
        };
        if name.eq_ignore_ascii_case("UTF-8") || name.eq_ignore_ascii_case("US-ASCII") {
            return true;
        }
        let allowed = ["UTF-8", "US-ASCII"]
            .iter()
            .filter_map(|c| Charset::try_from(*c).ok())
            .collect();
        self.out
            .no(tag, Some(Code::BadCharset { allowed }), "Unsupported charset");
        false
    }

    /// Evaluates `criteria` over the selected mailbox. With `keep_summaries` the
    /// summaries are loaded for every hit (SORT, THREAD).
    fn run_search(&mut self, tag: &str, criteria: &[SearchKey<'_>], keep_summaries: bool) -> Option<Vec<Hit>> {
        let inbox = self.inbox_id();
        let selected = self.selected.as_ref()?;
        let key = match criteria {
            [one] => one.clone(),
            many => match imap_codec::imap_types::core::Vec1::try_from(many.to_vec()) {
                Ok(v) => SearchKey::And(v),
                Err(_) => SearchKey::All,
            },
        };
        let content = needs_content(&key) || keep_summaries;
        let store = &self.ctx.store;
        let records: HashMap<u32, MessageRecord> = match store.messages(inbox, selected.mailbox) {
            Ok(r) => r.into_iter().map(|r| (r.uid, r)).collect(),
            Err(e) => {
                let e = e.to_string();
                self.server_error(tag, e);
                return None;
            }
        };
        let max_seq = selected.exists();
        let max_uid = selected.last_uid();
        let mut hits = Vec::new();
        for (i, (&uid, &bits)) in selected.uids.iter().zip(&selected.flags).enumerate() {
            if bits & GONE != 0 {
                continue;
            }
            let Some(record) = records.get(&uid) else { continue };
            let (summary, raw) = if content {
                let raw = store.raw_message(&record.blob).ok().flatten().unwrap_or_default();
                let summary = super::fetch::load_summary(store, record, &raw).unwrap_or_default();
                (Some(summary), raw)
            } else {
                (None, crate::store::Bytes::default())
            };
            let ctx = SearchContext {
                seq: i as u32 + 1,
                uid,
                max_seq,
                max_uid,
                flags: SystemFlags {
                    seen: bits & flag::SEEN != 0,
                    answered: bits & flag::ANSWERED != 0,
                    flagged: bits & flag::FLAGGED != 0,
                    deleted: bits & flag::DELETED != 0,
                    draft: bits & flag::DRAFT != 0,
                    recent: bits & RECENT != 0,
                },
                keywords: selected.keywords_of(uid),
                internal_date: record.internal_date,
                internal_tz_minutes: 0,
                size: record.size,
                modseq: record.modseq,
            };
            let empty = MessageSummary::default();
            if message::matches(&key, &ctx, summary.as_ref().unwrap_or(&empty), &raw) {
                hits.push(Hit {
                    seq: i as u32 + 1,
                    uid,
                    modseq: record.modseq,
                    record: record.clone(),
                    summary: if keep_summaries { summary } else { None },
                });
            }
        }
        Some(hits)
    }

    pub async fn cmd_search(
        &mut self,
        tag: &str,
        charset: Option<Charset<'_>>,
        criteria: &[SearchKey<'_>],
        uid: bool,
        ret: Option<SearchReturn>,
    ) -> Res {
        if !self.charset_ok(tag, charset.as_ref()) {
            return Ok(());
        }
        self.sync_selected(uid);
        let Some(hits) = self.run_search(tag, criteria, false) else {
            return Ok(());
        };
        let ids: Vec<u32> = hits.iter().map(|h| if uid { h.uid } else { h.seq }).collect();
        let with_modseq = criteria.iter().any(uses_modseq);
        let highest = hits.iter().map(|h| h.modseq).max();
        let ret = ret.or(if self.enabled.rev2 {
            // RFC 9051 6.4.4: IMAP4rev2 answers SEARCH with ESEARCH.
            Some(SearchReturn {
                all: true,
                ..Default::default()
            })
        } else {
            None
        });
        match ret {
            Some(r) => {
                let mut line = format!("* ESEARCH (TAG \"{tag}\")");
                if uid {
                    line.push_str(" UID");
                }
                if !ids.is_empty() {
                    if r.min {
                        line.push_str(&format!(" MIN {}", ids[0]));
                    }
                    if r.max {
                        line.push_str(&format!(" MAX {}", ids[ids.len() - 1]));
                    }
                    if r.all {
                        line.push_str(&format!(" ALL {}", uid_set_text(&ids)));
                    }
                }
                if r.count {
                    line.push_str(&format!(" COUNT {}", ids.len()));
                }
                if with_modseq && let Some(m) = highest {
                    line.push_str(&format!(" MODSEQ {m}"));
                }
                line.push_str("\r\n");
                self.out.raw(line.as_bytes());
            }
            None => {
                let ids: Vec<NonZeroU32> = ids.into_iter().filter_map(NonZeroU32::new).collect();
                let modseq = if with_modseq {
                    highest.and_then(NonZeroU64::new)
                } else {
                    None
                };
                self.out.data(Data::Search(ids, modseq));
            }
        }
        self.out.ok(tag, None, "SEARCH completed");
        Ok(())
    }

    pub async fn cmd_sort(
        &mut self,
        tag: &str,
        criteria: &[SortCriterion],
        charset: Charset<'_>,
        search: &[SearchKey<'_>],
        uid: bool,
    ) -> Res {
        if !self.charset_ok(tag, Some(&charset)) {
            return Ok(());
        }
        self.sync_selected(uid);
        let Some(hits) = self.run_search(tag, search, true) else {
            return Ok(());
        };
        let empty = MessageSummary::default();
        let items = sort_items(&hits, uid, &empty);
        let ids: Vec<NonZeroU32> = message::sort(&items, criteria)
            .into_iter()
            .filter_map(NonZeroU32::new)
            .collect();
        self.out.data(Data::Sort(ids, None));
        self.out.ok(tag, None, "SORT completed");
        Ok(())
    }

    pub async fn cmd_thread(
        &mut self,
        tag: &str,
        algorithm: &ThreadingAlgorithm<'_>,
        charset: Charset<'_>,
        search: &[SearchKey<'_>],
        uid: bool,
    ) -> Res {
        let algorithm = match algorithm {
            ThreadingAlgorithm::OrderedSubject => ThreadAlgorithm::OrderedSubject,
            ThreadingAlgorithm::References => ThreadAlgorithm::References,
            _ => {
                self.out.bad(tag, None, "Unsupported threading algorithm");
                return self.count_bad();
            }
        };
        if !self.charset_ok(tag, Some(&charset)) {
            return Ok(());
        }
        self.sync_selected(uid);
        let Some(hits) = self.run_search(tag, search, true) else {
            return Ok(());
        };
        let empty = MessageSummary::default();
        let items = sort_items(&hits, uid, &empty);
        self.out.data(Data::Thread(message::thread(&items, algorithm)));
        self.out.ok(tag, None, "THREAD completed");
        Ok(())
    }
}
