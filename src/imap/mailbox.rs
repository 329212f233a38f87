//! Mailbox commands: LIST (with SPECIAL-USE, CHILDREN, LIST-EXTENDED, LIST-STATUS),
//! LSUB, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE and STATUS.

use super::preparse::ListExtended;
use super::response::code;
use super::session::{Res, Session};
use crate::store::{Mailbox as StoreMailbox, MailboxError, Role};
use imap_codec::imap_types::core::{Atom, QuotedChar};
use imap_codec::imap_types::flag::FlagNameAttribute;
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox};
use imap_codec::imap_types::response::Data;
use imap_codec::imap_types::status::{StatusDataItem, StatusDataItemName};
use std::num::NonZeroU32;

/// What one LIST asks for.
#[derive(Debug, Default, Clone)]
struct ListRequest {
    patterns: Vec<String>,
    lsub: bool,
    select_subscribed: bool,
    select_special_use: bool,
    return_subscribed: bool,
    return_status: Option<Vec<StatusDataItemName>>,
    /// LIST-EXTENDED was used: CHILDREN info is always returned then too.
    extended: bool,
}

fn attribute(name: &'static str) -> FlagNameAttribute<'static> {
    FlagNameAttribute::from(Atom::unvalidated(name))
}

/// `*` matches anything, `%` anything but the hierarchy separator (RFC 3501 6.3.8).
pub fn wildcard_match(pattern: &[char], name: &[char]) -> bool {
    // can[j]: the pattern so far matches name[..j].
    let mut can = vec![false; name.len() + 1];
    can[0] = true;
    for &pc in pattern {
        let mut next = vec![false; name.len() + 1];
        match pc {
            '*' | '%' => {
                let mut reach = false;
                for j in 0..=name.len() {
                    if pc == '%' && j > 0 && name[j - 1] == '/' {
                        reach = false;
                    }
                    reach |= can[j];
                    next[j] = reach;
                }
            }
            c => {
                for j in 1..=name.len() {
                    next[j] = can[j - 1] && name[j - 1] == c;
                }
            }
        }
        can = next;
    }
    can[name.len()]
}

/// Treats a leading INBOX in any case as INBOX (RFC 3501 5.1).
fn normalize_pattern(pattern: &str) -> String {
    let upper = pattern
        .get(..5)
        .map(|p| p.eq_ignore_ascii_case("INBOX"))
        .unwrap_or(false);
    if upper && matches!(pattern[5..].chars().next(), None | Some('/')) {
        format!("INBOX{}", &pattern[5..])
    } else {
        pattern.to_string()
    }
}

pub fn status_item_name(name: &str) -> Option<StatusDataItemName> {
    Some(match name {
        "MESSAGES" => StatusDataItemName::Messages,
        "RECENT" => StatusDataItemName::Recent,
        "UIDNEXT" => StatusDataItemName::UidNext,
        "UIDVALIDITY" => StatusDataItemName::UidValidity,
        "UNSEEN" => StatusDataItemName::Unseen,
        "DELETED" => StatusDataItemName::Deleted,
        "SIZE" => StatusDataItemName::Size,
        "HIGHESTMODSEQ" => StatusDataItemName::HighestModSeq,
        _ => return None,
    })
}

/// Why a name a client wants to create is refused beyond what the store checks:
/// clients such as mbsync and offlineimap map names onto local paths, so a `.` or
/// `..` level, a leading separator or a leading `~` could escape their folder.
fn unsafe_name(name: &str) -> Option<&'static str> {
    // RFC 3501 6.3.3: a trailing separator only declares the name a parent.
    let name = name.strip_suffix('/').unwrap_or(name);
    if name.starts_with('/') {
        return Some("a name cannot start with the hierarchy separator");
    }
    if name.starts_with('~') {
        return Some("a name cannot start with ~");
    }
    for part in name.split('/') {
        match part {
            "" => return Some("empty hierarchy level"),
            "." | ".." => return Some("a hierarchy level cannot be . or .."),
            _ => {}
        }
    }
    if name.chars().any(char::is_control) {
        return Some("control characters");
    }
    None
}

impl Session {
    fn wire_mailbox(&self, name: &str) -> Mailbox<'static> {
        if name == "INBOX" {
            return Mailbox::Inbox;
        }
        Mailbox::try_from(self.wire_name(name)).unwrap_or(Mailbox::Inbox)
    }

    /// Announces a committed mailbox-level change to the inbox's other sessions.
    fn mailboxes_changed(&self) {
        let inbox = self.inbox_id();
        if let Ok(modseq) = self.ctx.store.inbox_modseq(inbox) {
            self.ctx.events.changed(inbox, modseq);
        }
    }

    fn mailbox_error(&mut self, tag: &str, e: MailboxError) {
        match e {
            MailboxError::AlreadyExists => self.out.no(tag, Some(code("ALREADYEXISTS")), "Mailbox already exists"),
            MailboxError::NotFound => self.out.no(tag, Some(code("NONEXISTENT")), "No such mailbox"),
            MailboxError::InvalidName(why) => self.out.no(tag, Some(code("CANNOT")), &format!("Invalid name: {why}")),
            MailboxError::InboxIsPermanent => self.out.no(tag, Some(code("CANNOT")), "INBOX cannot be deleted"),
            MailboxError::TooMany => self.out.no(tag, Some(code("LIMIT")), "Too many mailboxes"),
            MailboxError::Store(e) => self.server_error(tag, e),
        }
    }

    pub fn cmd_create(&mut self, tag: &str, mailbox: &Mailbox<'_>) {
        let Some(name) = self.mailbox_name(mailbox) else {
            self.out.no(tag, Some(code("CANNOT")), "Invalid mailbox name");
            return;
        };
        if let Some(why) = unsafe_name(&name) {
            self.out.no(tag, Some(code("CANNOT")), &format!("Invalid name: {why}"));
            return;
        }
        match self.ctx.store.create_mailbox(self.inbox_id(), &name) {
            Ok(_) => {
                self.mailboxes_changed();
                self.out.ok(tag, None, "CREATE completed");
            }
            Err(e) => self.mailbox_error(tag, e),
        }
    }

    pub fn cmd_delete(&mut self, tag: &str, mailbox: &Mailbox<'_>) {
        let Some(name) = self.mailbox_name(mailbox) else {
            self.out.no(tag, Some(code("NONEXISTENT")), "No such mailbox");
            return;
        };
        match self.ctx.store.delete_mailbox(self.inbox_id(), &name) {
            Ok(()) => {
                self.mailboxes_changed();
                self.out.ok(tag, None, "DELETE completed");
            }
            Err(e) => self.mailbox_error(tag, e),
        }
    }

    pub fn cmd_rename(&mut self, tag: &str, from: &Mailbox<'_>, to: &Mailbox<'_>) {
        let (Some(from), Some(to)) = (self.mailbox_name(from), self.mailbox_name(to)) else {
            self.out.no(tag, Some(code("CANNOT")), "Invalid mailbox name");
            return;
        };
        if let Some(why) = unsafe_name(&to) {
            self.out.no(tag, Some(code("CANNOT")), &format!("Invalid name: {why}"));
            return;
        }
        match self.ctx.store.rename_mailbox(self.inbox_id(), &from, &to) {
            Ok(()) => {
                self.mailboxes_changed();
                self.sync_selected(true);
                self.out.ok(tag, None, "RENAME completed");
            }
            Err(e) => self.mailbox_error(tag, e),
        }
    }

    pub fn cmd_subscribe(&mut self, tag: &str, mailbox: &Mailbox<'_>, subscribe: bool) {
        let Some(name) = self.mailbox_name(mailbox) else {
            self.out.no(tag, Some(code("NONEXISTENT")), "No such mailbox");
            return;
        };
        match self.ctx.store.set_subscribed(self.inbox_id(), &name, subscribe) {
            Ok(()) => {
                let what = if subscribe { "SUBSCRIBE" } else { "UNSUBSCRIBE" };
                self.out.ok(tag, None, &format!("{what} completed"));
            }
            Err(e) => self.mailbox_error(tag, e),
        }
    }

    pub fn cmd_list(&mut self, tag: &str, reference: &Mailbox<'_>, pattern: &ListMailbox<'_>, lsub: bool) {
        let reference = match reference {
            Mailbox::Inbox => "INBOX".to_string(),
            Mailbox::Other(o) => self.name_from_bytes(o.as_ref()).unwrap_or_default(),
        };
        let pattern_bytes: &[u8] = match pattern {
            ListMailbox::Token(t) => t.as_ref(),
            ListMailbox::String(s) => s.as_ref(),
        };
        let pattern = self.name_from_bytes(pattern_bytes).unwrap_or_default();
        let request = ListRequest {
            patterns: vec![format!("{reference}{pattern}")],
            lsub,
            ..Default::default()
        };
        if pattern.is_empty() {
            // RFC 3501 6.3.8: the hierarchy delimiter and root.
            self.out.data(Data::List {
                items: vec![FlagNameAttribute::Noselect],
                delimiter: QuotedChar::try_from('/').ok(),
                mailbox: Mailbox::try_from("").unwrap_or(Mailbox::Inbox),
            });
        } else if let Err(e) = self.list(&request) {
            return self.server_error(tag, e);
        }
        self.out
            .ok(tag, None, if lsub { "LSUB completed" } else { "LIST completed" });
    }

    pub async fn cmd_list_extended(&mut self, list: ListExtended) -> Res {
        let tag = list.tag.clone();
        if list.malformed {
            self.out.bad(&tag, None, "Invalid LIST arguments");
            return self.count_bad();
        }
        if !matches!(
            self.state,
            super::session::State::Authenticated | super::session::State::Selected
        ) {
            self.out.bad(&tag, None, "Not authenticated");
            return self.count_bad();
        }
        let reference = self.name_from_bytes(&list.reference).unwrap_or_default();
        let mut request = ListRequest {
            select_subscribed: list.select_subscribed,
            select_special_use: list.select_special_use,
            return_subscribed: list.return_subscribed || list.select_subscribed,
            extended: true,
            ..Default::default()
        };
        for p in &list.patterns {
            let p = self.name_from_bytes(p).unwrap_or_default();
            request.patterns.push(format!("{reference}{p}"));
        }
        if let Some(items) = &list.return_status {
            let mut names = Vec::new();
            for i in items {
                match status_item_name(i) {
                    Some(n) => names.push(n),
                    None => {
                        self.out.bad(&tag, None, "Unknown STATUS item");
                        return self.count_bad();
                    }
                }
            }
            request.return_status = Some(names);
        }
        if let Err(e) = self.list(&request) {
            self.server_error(&tag, e);
            return Ok(());
        }
        self.out.ok(&tag, None, "LIST completed");
        Ok(())
    }

    fn list(&mut self, request: &ListRequest) -> Result<(), crate::store::StoreError> {
        let mut mailboxes = self.ctx.store.mailboxes(self.inbox_id())?;
        mailboxes.sort_by(|a, b| (a.name != "INBOX", &a.name).cmp(&(b.name != "INBOX", &b.name)));
        let patterns: Vec<Vec<char>> = request
            .patterns
            .iter()
            .map(|p| normalize_pattern(p).chars().collect())
            .collect();
        for (i, m) in mailboxes.iter().enumerate() {
            let chars: Vec<char> = m.name.chars().collect();
            if !patterns.iter().any(|p| wildcard_match(p, &chars)) {
                continue;
            }
            if (request.lsub || request.select_subscribed) && !m.subscribed {
                continue;
            }
            if request.select_special_use && m.role.is_none_or(|r| r == Role::Inbox) {
                continue;
            }
            let prefix = format!("{}/", m.name);
            let has_children = mailboxes
                .iter()
                .enumerate()
                .any(|(j, c)| j != i && c.name.starts_with(&prefix));
            let mut items = Vec::new();
            if !request.lsub {
                // RFC 3348 CHILDREN.
                items.push(attribute(if has_children { "HasChildren" } else { "HasNoChildren" }));
                if request.return_subscribed && m.subscribed {
                    items.push(attribute("Subscribed"));
                }
                // CLIENTS.md: SPECIAL-USE attributes in plain LIST too (RFC 6154 2).
                if let Some(attr) = m.role.and_then(Role::attribute) {
                    items.push(attribute(attr.trim_start_matches('\\')));
                }
            }
            let wire = self.wire_mailbox(&m.name);
            let data = if request.lsub {
                Data::Lsub {
                    items,
                    delimiter: QuotedChar::try_from('/').ok(),
                    mailbox: wire,
                }
            } else {
                Data::List {
                    items,
                    delimiter: QuotedChar::try_from('/').ok(),
                    mailbox: wire,
                }
            };
            self.out.data(data);
            if let Some(names) = &request.return_status {
                self.status_response(m, names)?;
            }
        }
        let _ = request.extended;
        Ok(())
    }

    fn status_response(
        &mut self,
        m: &StoreMailbox,
        names: &[StatusDataItemName],
    ) -> Result<(), crate::store::StoreError> {
        let mut items = Vec::new();
        for name in names {
            let item = match name {
                StatusDataItemName::Messages => StatusDataItem::Messages(m.messages),
                StatusDataItemName::Recent => {
                    let recent = if m.recent_from_uid < m.uidnext {
                        self.ctx
                            .store
                            .message_uids(self.inbox_id(), m.id)?
                            .iter()
                            .filter(|u| **u >= m.recent_from_uid)
                            .count() as u32
                    } else {
                        0
                    };
                    StatusDataItem::Recent(recent)
                }
                StatusDataItemName::UidNext => match NonZeroU32::new(m.uidnext) {
                    Some(n) => StatusDataItem::UidNext(n),
                    None => continue,
                },
                StatusDataItemName::UidValidity => match NonZeroU32::new(m.uidvalidity) {
                    Some(n) => StatusDataItem::UidValidity(n),
                    None => continue,
                },
                StatusDataItemName::Unseen => StatusDataItem::Unseen(m.unseen),
                StatusDataItemName::Deleted => StatusDataItem::Deleted(m.deleted),
                StatusDataItemName::DeletedStorage => StatusDataItem::DeletedStorage(0),
                StatusDataItemName::Size => StatusDataItem::Size(m.size),
                StatusDataItemName::HighestModSeq => StatusDataItem::HighestModSeq(m.highest_modseq),
            };
            items.push(item);
        }
        self.out.data(Data::Status {
            mailbox: self.wire_mailbox(&m.name),
            items: items.into(),
        });
        Ok(())
    }

    pub fn cmd_status(&mut self, tag: &str, mailbox: &Mailbox<'_>, names: &[StatusDataItemName]) {
        let Some(name) = self.mailbox_name(mailbox) else {
            self.out.no(tag, Some(code("NONEXISTENT")), "No such mailbox");
            return;
        };
        match self.ctx.store.mailbox_by_name(self.inbox_id(), &name) {
            Ok(Some(m)) => {
                if let Err(e) = self.status_response(&m, names) {
                    return self.server_error(tag, e);
                }
                self.out.ok(tag, None, "STATUS completed");
            }
            Ok(None) => self.out.no(tag, Some(code("NONEXISTENT")), "No such mailbox"),
            Err(e) => self.server_error(tag, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        wildcard_match(&p.chars().collect::<Vec<_>>(), &n.chars().collect::<Vec<_>>())
    }

    #[test]
    fn wildcards() {
        assert!(m("*", "a/b/c"));
        assert!(m("%", "Sent"));
        assert!(!m("%", "a/b"));
        assert!(m("a/%", "a/b"));
        assert!(!m("a/%", "a/b/c"));
        assert!(m("a*c", "a/b/c"));
        assert!(m("INBOX", "INBOX"));
        assert!(!m("INBOX", "INBOX/x"));
        assert!(m("%/%", "a/b"));
        assert!(!m("x%", "y"));
        assert_eq!(normalize_pattern("inbox/%"), "INBOX/%");
        assert_eq!(normalize_pattern("inboxes"), "inboxes");
    }

    #[test]
    fn names_that_could_escape_a_folder_are_refused() {
        for bad in ["", "/x", "~x", "../x", "a/../b", "a/.", ".", "a//b", "a//", "a\u{7}b"] {
            assert!(unsafe_name(bad).is_some(), "{bad:?}");
        }
        for good in ["x", "a/b", "a/", "a.b/..c", "a~b", "Archive/2026"] {
            assert_eq!(unsafe_name(good), None, "{good:?}");
        }
    }
}
