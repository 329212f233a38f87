//! FETCH and UID FETCH (RFC 3501 6.4.5, RFC 9051 6.4.5, BINARY RFC 3516, CONDSTORE
//! CHANGEDSINCE and QRESYNC VANISHED RFC 7162). Answers come from the summary stored
//! at delivery and the raw bytes, never from parsing the message again. Every item
//! asked is answered for every message asked that still exists (CLIENTS.md).

use super::flags::to_fetch;
use super::message::{self, SectionError};
use super::response::code;
use super::retain::Kept;
use super::selected::uid_set;
use super::session::{Res, Session};
use crate::mail::MessageSummary;
use crate::store::{FlagOp, Flags, MessageRecord, flag};
use imap_codec::imap_types::command::FetchModifier;
use imap_codec::imap_types::core::{IString, Literal, LiteralMode, NString, NString8, Vec1};
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::Literal8;
use imap_codec::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName, Section,
};
use imap_codec::imap_types::response::Data;
use imap_codec::imap_types::sequence::SequenceSet;
use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;

/// A byte string as an IMAP literal (NUL cannot be sent in one, RFC 3501 4.3).
pub fn literal(bytes: Vec<u8>) -> NString<'static> {
    let bytes = if bytes.contains(&0) {
        bytes.into_iter().filter(|&b| b != 0).collect()
    } else {
        bytes
    };
    NString(Some(IString::Literal(Literal::unvalidated(bytes))))
}

/// INTERNALDATE from unix seconds.
pub fn internal_date(unix: i64) -> Option<DateTime> {
    let utc = chrono::DateTime::from_timestamp(unix, 0)?;
    let fixed = utc.with_timezone(&chrono::FixedOffset::east_opt(0)?);
    DateTime::try_from(fixed).ok()
}

fn needs_summary(item: &MessageDataItemName<'_>) -> bool {
    use MessageDataItemName::*;
    match item {
        Body | BodyStructure | Envelope | Binary { .. } | BinarySize { .. } => true,
        // HEADER, HEADER.FIELDS and TEXT of the message itself come from the raw
        // bytes alone (mail::section_bytes); a part number needs the MIME tree.
        BodyExt { section, .. } => section.as_ref().is_some_and(has_part_path),
        _ => false,
    }
}

fn has_part_path(section: &Section<'_>) -> bool {
    match section {
        Section::Part(_) | Section::Mime(_) => true,
        Section::Header(p) | Section::Text(p) | Section::HeaderFields(p, _) | Section::HeaderFieldsNot(p, _) => {
            p.is_some()
        }
    }
}

fn needs_raw(item: &MessageDataItemName<'_>) -> bool {
    use MessageDataItemName::*;
    matches!(
        item,
        BodyExt { .. } | Rfc822 | Rfc822Header | Rfc822Text | Binary { .. } | BinarySize { .. }
    )
}

/// Items that set \Seen (RFC 3501 6.4.5: BODY[...] without .PEEK, RFC822, RFC822.TEXT).
fn sets_seen(item: &MessageDataItemName<'_>) -> bool {
    use MessageDataItemName::*;
    match item {
        BodyExt { peek, .. } | Binary { peek, .. } => !peek,
        Rfc822 | Rfc822Text => true,
        _ => false,
    }
}

impl Session {
    pub async fn cmd_fetch(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        names: MacroOrMessageDataItemNames<'_>,
        uid: bool,
        modifiers: &[FetchModifier],
    ) -> Res {
        let mut items: Vec<MessageDataItemName<'_>> = match names {
            MacroOrMessageDataItemNames::Macro(m) => match m {
                Macro::Fast => vec![
                    MessageDataItemName::Flags,
                    MessageDataItemName::InternalDate,
                    MessageDataItemName::Rfc822Size,
                ],
                Macro::All => vec![
                    MessageDataItemName::Flags,
                    MessageDataItemName::InternalDate,
                    MessageDataItemName::Rfc822Size,
                    MessageDataItemName::Envelope,
                ],
                _ => vec![
                    MessageDataItemName::Flags,
                    MessageDataItemName::InternalDate,
                    MessageDataItemName::Rfc822Size,
                    MessageDataItemName::Envelope,
                    MessageDataItemName::Body,
                ],
            },
            MacroOrMessageDataItemNames::MessageDataItemNames(items) => items,
        };
        let mut changed_since = None;
        let mut want_vanished = false;
        for m in modifiers {
            match m {
                FetchModifier::ChangedSince(since) => changed_since = Some(since.get()),
                FetchModifier::Vanished => want_vanished = true,
            }
        }
        if want_vanished && (!uid || !self.enabled.qresync || changed_since.is_none()) {
            // RFC 7162 3.2.6: VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE.
            self.out
                .bad(tag, None, "VANISHED needs UID FETCH with CHANGEDSINCE and QRESYNC");
            return self.count_bad();
        }
        if changed_since.is_some() {
            // RFC 7162 3.1.4.1: CHANGEDSINCE turns CONDSTORE on and implies MODSEQ.
            self.enabled.condstore = true;
        }
        if (uid || self.enabled.qresync) && !items.contains(&MessageDataItemName::Uid) {
            items.push(MessageDataItemName::Uid);
        }
        let condstore = self.enabled.condstore;
        if (changed_since.is_some() || (condstore && items.contains(&MessageDataItemName::Flags)))
            && !items.contains(&MessageDataItemName::ModSeq)
        {
            items.push(MessageDataItemName::ModSeq);
        }
        // New mail and flag changes may be told now; expunges only for UID FETCH.
        self.sync_selected(uid);
        let Some(selected) = self.selected.as_ref() else {
            self.out.bad(tag, None, "No mailbox selected");
            return self.count_bad();
        };
        let indexes = match selected.resolve(set, uid) {
            Ok(i) => i,
            Err(_) => {
                self.out.bad(tag, None, "Invalid message sequence number");
                return self.count_bad();
            }
        };
        let inbox = self.inbox_id();
        let mailbox = selected.mailbox;
        let read_only = selected.read_only;
        let uids: Vec<u32> = indexes.iter().filter_map(|&i| selected.uids.get(i).copied()).collect();

        if want_vanished && let Some(since) = changed_since {
            self.fetch_vanished(set, since)?;
        }

        let summary_needed = items.iter().any(needs_summary);
        let raw_needed = items.iter().any(needs_raw);
        let marks_seen = !read_only && items.iter().any(sets_seen);
        let mut gone = false;
        let mut unknown_cte = false;
        let store = self.ctx.store.clone();

        // Load the records first, so \Seen can be set before answering.
        let mut records: Vec<(usize, MessageRecord)> = Vec::with_capacity(uids.len());
        // RFC 2180 4.1.1: messages expunged by another session that this client has
        // not been told about are served as they were.
        let mut kept: HashMap<u32, Arc<Kept>> = HashMap::new();
        for (&index, &u) in indexes.iter().zip(&uids) {
            let found = match store.message(inbox, mailbox, u) {
                Ok(Some(r)) => Some(r),
                Ok(None) => self.selected.as_ref().and_then(|s| s.view.kept(u)).map(|k| {
                    let record = k.record.clone();
                    kept.insert(u, k);
                    record
                }),
                Err(e) => {
                    self.server_error(tag, e);
                    return Ok(());
                }
            };
            match found {
                Some(r) => {
                    if changed_since.is_some_and(|since| r.modseq <= since) {
                        continue;
                    }
                    records.push((index, r));
                }
                None => gone = true,
            }
        }
        let mut seen_now: Vec<u32> = Vec::new();
        if marks_seen {
            let unseen: Vec<u32> = records
                .iter()
                .filter(|(_, r)| !r.flags.has(flag::SEEN))
                .map(|(_, r)| r.uid)
                .collect();
            if !unseen.is_empty() {
                match store
                    .store_flags(inbox, mailbox, &unseen, FlagOp::Add, &Flags::with(flag::SEEN), None)
                    .await
                {
                    Ok((updated, _)) => {
                        for (rec, changed) in updated {
                            if changed {
                                seen_now.push(rec.uid);
                            }
                            if let Some(slot) = records.iter_mut().find(|(_, r)| r.uid == rec.uid) {
                                slot.1 = rec;
                            }
                        }
                    }
                    Err(e) => {
                        self.server_error(tag, e);
                        return Ok(());
                    }
                }
                if let Some(sel) = self.selected.as_mut() {
                    for (_, r) in &records {
                        sel.set_flags(r.uid, r.flags.system, &r.flags.keywords);
                    }
                }
                if !seen_now.is_empty() {
                    self.notify_changed();
                }
            }
        }

        for (index, record) in records {
            let mut kept_copy = kept.get(&record.uid).cloned();
            let raw = if raw_needed {
                let mut raw = match &kept_copy {
                    Some(k) => Ok(k.raw.clone()),
                    None => store.raw_message(&record.blob),
                };
                if matches!(raw, Ok(None)) && kept_copy.is_none() {
                    // Expunged by another session after the record was read.
                    kept_copy = self.kept_copy(record.uid);
                    raw = Ok(kept_copy.as_ref().and_then(|k| k.raw.clone()));
                }
                match raw {
                    Ok(Some(raw)) => raw,
                    Ok(None) => {
                        gone = true;
                        continue;
                    }
                    Err(e) => {
                        self.server_error(tag, e);
                        return Ok(());
                    }
                }
            } else {
                crate::store::Bytes::default()
            };
            let summary = if summary_needed {
                let stored = match &kept_copy {
                    Some(k) => k.summary.clone(),
                    None => store.message_summary(&record.blob).ok().flatten(),
                };
                let stored = stored.or_else(|| {
                    kept_copy = self.kept_copy(record.uid);
                    kept_copy.as_ref().and_then(|k| k.summary.clone())
                });
                let decoded = stored.and_then(|b| postcard::from_bytes::<MessageSummary>(&b).ok());
                match decoded.or_else(|| load_summary(&store, &record, &raw)) {
                    Some(s) => s,
                    None => {
                        gone = true;
                        continue;
                    }
                }
            } else {
                MessageSummary::default()
            };
            let session_flags = self
                .selected
                .as_ref()
                .and_then(|s| s.flags.get(index).copied())
                .unwrap_or(0);
            let mut out_items = Vec::with_capacity(items.len() + 1);
            for item in &items {
                match self.fetch_item(item, &record, &summary, &raw, session_flags) {
                    Ok(i) => out_items.push(i),
                    Err(SectionError::UnknownCte) => unknown_cte = true,
                    Err(SectionError::NoSuchPart) => {
                        // RFC 3516 4.2: a missing part of BINARY is an empty string.
                        if let MessageDataItemName::Binary { section, .. } = item {
                            out_items.push(MessageDataItem::Binary {
                                section: section.clone(),
                                value: NString8::NString(NString(None)),
                            });
                        }
                    }
                }
            }
            if seen_now.contains(&record.uid) && !items.contains(&MessageDataItemName::Flags) {
                // RFC 3501 6.4.5: the implicit \Seen change is reported.
                out_items.push(MessageDataItem::Flags(to_fetch(session_flags, &record.flags.keywords)));
            }
            let (Some(seq), Ok(items1)) = (NonZeroU32::new(index as u32 + 1), Vec1::try_from(out_items)) else {
                continue;
            };
            if let Some(sel) = self.selected.as_mut() {
                sel.note_keywords(&record.flags.keywords);
                sel.announce_flags(&mut self.out);
            }
            self.out.data(Data::Fetch { seq, items: items1 });
            if self.out.len() >= super::response::FLUSH_AT {
                self.flush().await?;
            }
        }
        if unknown_cte {
            self.out
                .no(tag, Some(code("UNKNOWN-CTE")), "Unknown Content-Transfer-Encoding");
        } else if gone {
            // RFC 9051 7.1: some messages were expunged meanwhile.
            self.out
                .no(tag, Some(code("EXPUNGEISSUED")), "Some messages were expunged");
        } else {
            self.out.ok(tag, None, "FETCH completed");
        }
        Ok(())
    }

    /// The selected view's copy of a message another session expunged.
    fn kept_copy(&self, uid: u32) -> Option<Arc<Kept>> {
        self.selected.as_ref().and_then(|s| s.view.kept(uid))
    }

    fn fetch_item(
        &self,
        item: &MessageDataItemName<'_>,
        record: &MessageRecord,
        summary: &MessageSummary,
        raw: &[u8],
        session_flags: u8,
    ) -> Result<MessageDataItem<'static>, SectionError> {
        use MessageDataItemName as N;
        Ok(match item {
            N::Flags => MessageDataItem::Flags(to_fetch(session_flags, &record.flags.keywords)),
            N::Uid => MessageDataItem::Uid(NonZeroU32::new(record.uid).ok_or(SectionError::NoSuchPart)?),
            N::InternalDate => {
                MessageDataItem::InternalDate(internal_date(record.internal_date).ok_or(SectionError::NoSuchPart)?)
            }
            N::Rfc822Size => MessageDataItem::Rfc822Size(record.size),
            N::ModSeq => MessageDataItem::ModSeq(NonZeroU64::new(record.modseq).ok_or(SectionError::NoSuchPart)?),
            N::Envelope => MessageDataItem::Envelope(message::envelope(summary)),
            N::Body => MessageDataItem::Body(message::body_structure(summary, false)),
            N::BodyStructure => MessageDataItem::BodyStructure(message::body_structure(summary, true)),
            N::Rfc822 => MessageDataItem::Rfc822(literal(raw.to_vec())),
            N::Rfc822Header => MessageDataItem::Rfc822Header(literal(message::body_section(
                summary,
                raw,
                Some(&Section::Header(None)),
                None,
            ))),
            N::Rfc822Text => MessageDataItem::Rfc822Text(literal(message::body_section(
                summary,
                raw,
                Some(&Section::Text(None)),
                None,
            ))),
            N::BodyExt { section, partial, .. } => {
                let data = message::body_section(summary, raw, section.as_ref(), *partial);
                MessageDataItem::BodyExt {
                    section: section.clone().map(imap_codec::imap_types::IntoStatic::into_static),
                    origin: partial.map(|(origin, _)| origin),
                    data: literal(data),
                }
            }
            N::Binary { section, partial, .. } => {
                let data = message::binary(summary, raw, section, *partial)?;
                MessageDataItem::Binary {
                    section: section.clone(),
                    value: NString8::Literal8(Literal8 {
                        data: data.into(),
                        mode: LiteralMode::Sync,
                    }),
                }
            }
            N::BinarySize { section } => MessageDataItem::BinarySize {
                section: section.clone(),
                size: message::binary_size(summary, raw, section)?,
            },
        })
    }

    /// `* VANISHED (EARLIER)` for UIDs in the set expunged after `since`.
    fn fetch_vanished(&mut self, set: &SequenceSet, since: u64) -> Res {
        let Some(selected) = self.selected.as_ref() else {
            return Ok(());
        };
        let mailbox = selected.mailbox;
        let last = selected.last_uid();
        let Ok(changes) = self.ctx.store.changes_since(self.inbox_id(), since) else {
            return Ok(());
        };
        let mut uids: Vec<u32> = changes
            .into_iter()
            .filter(|(_, c)| c.mailbox == mailbox && c.kind == crate::store::ChangeKind::Expunged)
            .map(|(_, c)| c.uid)
            .filter(|u| in_uid_set(set, *u, last))
            .collect();
        uids.sort_unstable();
        uids.dedup();
        if let Some(known_uids) = uid_set(&uids) {
            self.out.data(Data::Vanished {
                earlier: true,
                known_uids,
            });
        }
        Ok(())
    }
}

fn in_uid_set(set: &SequenceSet, uid: u32, star: u32) -> bool {
    use imap_codec::imap_types::sequence::{SeqOrUid, Sequence};
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => star.max(uid),
    };
    set.0.as_ref().iter().any(|s| match s {
        Sequence::Single(v) => value(v) == uid,
        Sequence::Range(a, b) => {
            let (a, b) = (value(a), value(b));
            (a.min(b)..=a.max(b)).contains(&uid)
        }
    })
}

/// The stored summary; a message stored without a usable one is summarized again
/// from its bytes (only when the stored copy is unreadable).
pub fn load_summary(store: &crate::store::Store, record: &MessageRecord, raw: &[u8]) -> Option<MessageSummary> {
    if let Ok(Some(bytes)) = store.message_summary(&record.blob)
        && let Ok(summary) = postcard::from_bytes::<MessageSummary>(&bytes)
    {
        return Some(summary);
    }
    tracing::warn!("imap: message summary unreadable; summarizing from the raw bytes");
    if raw.is_empty() {
        let raw = store.raw_message(&record.blob).ok()??;
        return Some(crate::mail::summarize(&raw));
    }
    Some(crate::mail::summarize(raw))
}
