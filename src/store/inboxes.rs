//! Inboxes: creation with their mailboxes, the address index, updates and deletion.

use super::codec::{decode, encode, key, uuid_from};
use super::identity::{NewKey, insert_key, new_api_key};
use super::model::*;
use super::page::{Page, scan_page};
use super::{Result, Store, StoreError, new_id, now_millis};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError as Abort;
use uuid::Uuid;

/// What `create_inbox` needs; the password arrives already hashed.
#[derive(Debug, Clone)]
pub struct CreateInbox {
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    pub username: String,
    pub domain: String,
    pub display_name: Option<String>,
    pub password_hash: String,
    pub key: NewKey,
    /// Try `username1` .. `username99` when another tenant has `username`.
    pub fallback: bool,
    /// The username was generated, not asked for: an inbox this tenant already has
    /// there is passed over like another tenant's, so each such call makes a new inbox.
    pub generated: bool,
    /// The caller sees only `workspace_id` (a `wk_` key): the tenant's inbox in
    /// another workspace is not returned as existing but passed over as taken.
    pub confined: bool,
}

#[derive(Debug)]
pub enum InboxCreated {
    Created {
        inbox: Inbox,
        api_key: ApiKey,
    },
    /// This tenant already has it: the create is idempotent.
    Existed(Inbox),
    /// Another tenant has the address (and every fallback, when allowed).
    Taken {
        /// The last username tried.
        attempted: String,
    },
}

enum Attempt {
    Done(Box<InboxCreated>),
    TakenByOther,
}

/// Longest username; fallback candidates that would exceed it are skipped.
pub const MAX_USERNAME: usize = 64;

impl Store {
    /// Creates an inbox at the first free candidate username, atomically with its
    /// address, mailboxes, counters and first `ak_` key. Concurrent creates of one
    /// address give one inbox: the loser sees `Existed` (same tenant) or moves on.
    pub fn create_inbox(&self, req: &CreateInbox) -> Result<InboxCreated> {
        let mut attempted = req.username.clone();
        let candidates = std::iter::once(req.username.clone())
            .chain(
                (1..=99)
                    .map(|n| format!("{}{n}", req.username))
                    .filter(|_| req.fallback),
            )
            .filter(|u| u.len() <= MAX_USERNAME);
        for username in candidates {
            attempted = username.clone();
            match self.try_create_inbox(req, &username)? {
                Attempt::Done(outcome) => return Ok(*outcome),
                Attempt::TakenByOther => continue,
            }
        }
        Ok(InboxCreated::Taken { attempted })
    }

    fn try_create_inbox(&self, req: &CreateInbox, username: &str) -> Result<Attempt> {
        let (id, now) = new_id();
        let inbox = Inbox {
            id,
            tenant_id: req.tenant_id,
            workspace_id: req.workspace_id,
            username: username.to_string(),
            domain: req.domain.to_ascii_lowercase(),
            display_name: req.display_name.clone(),
            paused: false,
            password_hash: req.password_hash.clone(),
            created_at: now,
        };
        let address = inbox.address().to_ascii_lowercase();
        let api_key = new_api_key(
            KeyKind::Inbox,
            Some(req.tenant_id),
            Some(req.workspace_id),
            Some(inbox.id),
            &req.key,
        );
        let workspace_key = key(&[req.tenant_id.as_bytes(), req.workspace_id.as_bytes()]);
        let t = self.trees();
        let trees = (
            &t.addresses,
            &t.inboxes,
            &t.tenants,
            &t.workspaces,
            &t.tenant_inboxes,
            &t.workspace_inboxes,
            &t.inbox_state,
            &t.mailboxes,
            &t.mailbox_names,
            &t.api_keys,
            &t.key_index,
        );
        // It writes mail trees (the new inbox's mailboxes and counters).
        let _writer = self.inner.writer_trees.lock.lock();
        let attempt = trees.transaction(
            |(
                addresses,
                inboxes,
                tenants,
                workspaces,
                tenant_inboxes,
                workspace_inboxes,
                states,
                mailboxes,
                names,
                keys,
                index,
            )| {
                if let Some(owner) = addresses.get(address.as_bytes())? {
                    let existing: Inbox = match inboxes.get(&owner)? {
                        Some(v) => decode(&v).map_err(Abort::Abort)?,
                        None => {
                            return Err(Abort::Abort(StoreError::Corrupt(format!(
                                "address {address} has no inbox"
                            ))));
                        }
                    };
                    let visible = existing.tenant_id == req.tenant_id
                        && (!req.confined || existing.workspace_id == req.workspace_id);
                    return Ok(if visible && !req.generated {
                        Attempt::Done(Box::new(InboxCreated::Existed(existing)))
                    } else {
                        Attempt::TakenByOther
                    });
                }
                let mut tenant: Tenant = match tenants.get(req.tenant_id.as_bytes())? {
                    Some(v) => decode(&v).map_err(Abort::Abort)?,
                    None => return Err(Abort::Abort(StoreError::NotFound)),
                };
                // The workspace may have been deleted since the caller looked.
                let mut workspace: Workspace = match workspaces.get(workspace_key.as_slice())? {
                    Some(v) => decode(&v).map_err(Abort::Abort)?,
                    None => return Err(Abort::Abort(StoreError::NotFound)),
                };
                if tenant.max_inboxes.is_some_and(|max| tenant.inbox_count >= max) {
                    return Err(Abort::Abort(StoreError::Limit(format!(
                        "the tenant's limit of {} inboxes is reached",
                        tenant.max_inboxes.unwrap_or(0)
                    ))));
                }
                tenant.inbox_count += 1;
                tenants.insert(tenant.id.as_bytes(), encode(&tenant))?;
                workspace.inbox_count += 1;
                workspaces.insert(workspace_key.as_slice(), encode(&workspace))?;
                addresses.insert(address.as_bytes(), inbox.id.as_bytes())?;
                inboxes.insert(inbox.id.as_bytes(), encode(&inbox))?;
                tenant_inboxes.insert(
                    key(&[req.tenant_id.as_bytes(), inbox.id.as_bytes()]),
                    req.workspace_id.as_bytes(),
                )?;
                workspace_inboxes.insert(key(&[req.workspace_id.as_bytes(), inbox.id.as_bytes()]), &[])?;
                let mut state = InboxState {
                    modseq: 0,
                    next_mailbox_id: 1,
                    last_uidvalidity: 0,
                };
                for (role, name) in Role::DEFAULTS {
                    let mailbox = new_mailbox(&mut state, name, Some(role), true);
                    mailboxes.insert(key(&[inbox.id.as_bytes(), &mailbox.id.to_be_bytes()]), encode(&mailbox))?;
                    names.insert(key(&[inbox.id.as_bytes(), name.as_bytes()]), &mailbox.id.to_be_bytes())?;
                }
                states.insert(inbox.id.as_bytes(), encode(&state))?;
                insert_key(keys, index, &api_key, &req.key.hash)?;
                Ok(Attempt::Done(Box::new(InboxCreated::Created {
                    inbox: inbox.clone(),
                    api_key: api_key.clone(),
                })))
            },
        )?;
        Ok(attempt)
    }

    pub fn inbox(&self, id: Uuid) -> Result<Option<Inbox>> {
        self.trees().inboxes.get(id.as_bytes())?.map(|v| decode(&v)).transpose()
    }

    /// The inbox that receives mail for `address` (any case).
    pub fn inbox_by_address(&self, address: &str) -> Result<Option<Inbox>> {
        let address = address.to_ascii_lowercase();
        match self.trees().addresses.get(address.as_bytes())? {
            Some(id) => self.inbox(uuid_from(&id)?),
            None => Ok(None),
        }
    }

    /// A page of the tenant's inboxes, or of one of its workspaces, in creation
    /// order; None when the tenant (or its workspace) does not exist. The totals
    /// are counters kept with the inboxes, so a page costs only its own reads.
    pub fn inboxes_page(
        &self,
        tenant_id: Uuid,
        workspace_id: Option<Uuid>,
        offset: u64,
        limit: usize,
    ) -> Result<Option<Page<Inbox>>> {
        let t = self.trees();
        let read = |k: &[u8], _: &[u8]| self.inbox(uuid_from(&k[16..])?);
        let page = match workspace_id {
            None => {
                let Some(tenant) = self.tenant(tenant_id)? else {
                    return Ok(None);
                };
                let total = Some(u64::from(tenant.inbox_count));
                scan_page(&t.tenant_inboxes, tenant_id.as_bytes(), offset, limit, total, read)?
            }
            Some(ws) => {
                let Some(workspace) = self.workspace(tenant_id, ws)? else {
                    return Ok(None);
                };
                let total = Some(u64::from(workspace.inbox_count));
                scan_page(&t.workspace_inboxes, ws.as_bytes(), offset, limit, total, read)?
            }
        };
        Ok(Some(page))
    }

    /// Sets display name and/or paused; returns the updated inbox.
    pub fn update_inbox(&self, id: Uuid, display_name: Option<Option<String>>, paused: Option<bool>) -> Result<Inbox> {
        let updated = self.trees().inboxes.transaction(|inboxes| {
            let mut inbox: Inbox = match inboxes.get(id.as_bytes())? {
                Some(v) => decode(&v).map_err(Abort::Abort)?,
                None => return Err(Abort::Abort(StoreError::NotFound)),
            };
            if let Some(name) = &display_name {
                inbox.display_name = name.clone();
            }
            if let Some(paused) = paused {
                inbox.paused = paused;
            }
            inboxes.insert(id.as_bytes(), encode(&inbox))?;
            Ok(inbox)
        })?;
        Ok(updated)
    }

    /// Replaces the password hash; the old password stops working at once.
    pub fn set_password_hash(&self, id: Uuid, password_hash: &str) -> Result<Inbox> {
        let updated = self.trees().inboxes.transaction(|inboxes| {
            let mut inbox: Inbox = match inboxes.get(id.as_bytes())? {
                Some(v) => decode(&v).map_err(Abort::Abort)?,
                None => return Err(Abort::Abort(StoreError::NotFound)),
            };
            inbox.password_hash = password_hash.to_string();
            inboxes.insert(id.as_bytes(), encode(&inbox))?;
            Ok(inbox)
        })?;
        Ok(updated)
    }

    /// Deletes an inbox and all its mail; false when there is no such inbox. The
    /// inbox disappears atomically (address, record, indexes, counters); its keys,
    /// mailboxes and messages are removed right after.
    pub fn delete_inbox(&self, id: Uuid) -> Result<bool> {
        let t = self.trees();
        let trees = (
            &t.addresses,
            &t.inboxes,
            &t.tenants,
            &t.workspaces,
            &t.tenant_inboxes,
            &t.workspace_inboxes,
            &t.inbox_state,
        );
        let writer = self.inner.writer_trees.lock.lock();
        let removed = trees.transaction(
            |(addresses, inboxes, tenants, workspaces, tenant_inboxes, workspace_inboxes, states)| {
                // Read inside the transaction: of two concurrent deletes one does it.
                let Some(v) = inboxes.remove(id.as_bytes())? else {
                    return Ok(false);
                };
                let inbox: Inbox = decode(&v).map_err(Abort::Abort)?;
                addresses.remove(inbox.address().to_ascii_lowercase().as_bytes())?;
                states.remove(id.as_bytes())?;
                tenant_inboxes.remove(key(&[inbox.tenant_id.as_bytes(), id.as_bytes()]))?;
                workspace_inboxes.remove(key(&[inbox.workspace_id.as_bytes(), id.as_bytes()]))?;
                if let Some(v) = tenants.get(inbox.tenant_id.as_bytes())? {
                    let mut tenant: Tenant = decode(&v).map_err(Abort::Abort)?;
                    tenant.inbox_count = tenant.inbox_count.saturating_sub(1);
                    tenants.insert(tenant.id.as_bytes(), encode(&tenant))?;
                }
                let workspace_key = key(&[inbox.tenant_id.as_bytes(), inbox.workspace_id.as_bytes()]);
                if let Some(v) = workspaces.get(workspace_key.as_slice())? {
                    let mut workspace: Workspace = decode(&v).map_err(Abort::Abort)?;
                    workspace.inbox_count = workspace.inbox_count.saturating_sub(1);
                    workspaces.insert(workspace_key.as_slice(), encode(&workspace))?;
                }
                Ok::<_, Abort<StoreError>>(true)
            },
        )?;
        drop(writer);
        if removed {
            self.revoke_all_keys(id)?;
            self.remove_inbox_mail(id)?;
        }
        Ok(removed)
    }

    fn remove_inbox_mail(&self, id: Uuid) -> Result<()> {
        let t = self.trees();
        self.remove_all_messages(id.as_bytes())?;
        // No batch touches these keys once the inbox's state is gone; the lock
        // keeps the removals in turn with the writer all the same.
        let _writer = self.inner.writer_trees.lock.lock();
        for tree in [&t.mailboxes, &t.mailbox_names, &t.changes] {
            for k in tree.scan_prefix(id.as_bytes()).keys() {
                tree.remove(k?)?;
            }
        }
        Ok(())
    }
}

/// A new mailbox record; takes its id and a UIDVALIDITY that never repeats in the inbox.
pub(super) fn new_mailbox(state: &mut InboxState, name: &str, role: Option<Role>, subscribed: bool) -> Mailbox {
    let id = state.next_mailbox_id;
    state.next_mailbox_id += 1;
    // RFC 3501 2.3.1.1: a recreated mailbox must get a new UIDVALIDITY. Seconds
    // since the epoch, bumped past the last one given in this inbox.
    let now = (now_millis() / 1000) as u32;
    state.last_uidvalidity = now.max(state.last_uidvalidity + 1);
    Mailbox {
        id,
        name: name.to_string(),
        role,
        uidvalidity: state.last_uidvalidity,
        uidnext: 1,
        highest_modseq: state.modseq,
        subscribed,
        recent_from_uid: 1,
        messages: 0,
        unseen: 0,
        deleted: 0,
        size: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;

    fn key_for(n: u8) -> NewKey {
        NewKey {
            hash: [n; 32],
            prefix: format!("ak_{n}"),
            name: None,
        }
    }

    fn request(tenant: &Tenant, ws: Uuid, username: &str, n: u8) -> CreateInbox {
        CreateInbox {
            tenant_id: tenant.id,
            workspace_id: ws,
            username: username.into(),
            domain: "example.test".into(),
            display_name: None,
            password_hash: "x".into(),
            key: key_for(n),
            fallback: true,
            generated: false,
            confined: false,
        }
    }

    #[test]
    fn create_is_idempotent_and_falls_back_across_tenants() {
        let t = temp_store();
        let s = &t.store;
        let (a, _) = s.create_tenant("a", None, &key_for(100)).unwrap();
        let (b, _) = s.create_tenant("b", None, &key_for(101)).unwrap();
        let wa = s.default_workspace(a.id).unwrap().unwrap().id;
        let wb = s.default_workspace(b.id).unwrap().unwrap().id;
        let InboxCreated::Created { inbox, .. } = s.create_inbox(&request(&a, wa, "scout", 1)).unwrap() else {
            panic!("first create must create")
        };
        assert_eq!(s.mailboxes(inbox.id).unwrap().len(), 6);
        assert!(matches!(
            s.create_inbox(&request(&a, wa, "scout", 2)).unwrap(),
            InboxCreated::Existed(_)
        ));
        let InboxCreated::Created { inbox: other, .. } = s.create_inbox(&request(&b, wb, "scout", 3)).unwrap() else {
            panic!("other tenant falls back")
        };
        assert_eq!(other.username, "scout1");
        let mut strict = request(&b, wb, "scout", 4);
        strict.fallback = false;
        assert!(matches!(s.create_inbox(&strict).unwrap(), InboxCreated::Taken { .. }));
        assert_eq!(s.inbox_by_address("SCOUT@example.test").unwrap().unwrap().id, inbox.id);
        assert!(s.delete_inbox(inbox.id).unwrap());
        assert!(s.inbox_by_address("scout@example.test").unwrap().is_none());
        assert_eq!(s.tenant(a.id).unwrap().unwrap().inbox_count, 0);
    }

    #[test]
    fn pages_and_counts_follow_workspaces() {
        let t = temp_store();
        let s = &t.store;
        let (a, _) = s.create_tenant("a", None, &key_for(100)).unwrap();
        let wa = s.default_workspace(a.id).unwrap().unwrap().id;
        let other = s.create_workspace(a.id, "Other", "other").unwrap().id;
        for (i, name) in ["a1", "a2", "a3"].iter().enumerate() {
            s.create_inbox(&request(&a, wa, name, i as u8)).unwrap();
        }
        let InboxCreated::Created { inbox: o, .. } = s.create_inbox(&request(&a, other, "o1", 9)).unwrap() else {
            panic!("create in the other workspace")
        };
        let all = s.inboxes_page(a.id, None, 1, 2).unwrap().unwrap();
        let names: Vec<_> = all.items.iter().map(|i| i.username.as_str()).collect();
        assert_eq!((all.total, names), (4, vec!["a2", "a3"]));
        let page = s.inboxes_page(a.id, Some(other), 0, 10).unwrap().unwrap();
        assert_eq!((page.total, page.items[0].id), (1, o.id));
        assert!(s.inboxes_page(a.id, Some(Uuid::new_v4()), 0, 10).unwrap().is_none());
        assert_eq!(s.delete_workspace(a.id, other).unwrap(), Some(vec![o.id]));
        assert!(s.inbox(o.id).unwrap().is_none());
        assert_eq!(s.tenant(a.id).unwrap().unwrap().inbox_count, 3);
        assert!(!s.delete_inbox(o.id).unwrap(), "already gone");
        // A deleted workspace takes no new inboxes.
        let err = s.create_inbox(&request(&a, other, "late", 10)).unwrap_err();
        assert!(matches!(err, StoreError::NotFound));
    }

    #[test]
    fn generated_usernames_never_return_an_existing_inbox() {
        let t = temp_store();
        let s = &t.store;
        let (a, _) = s.create_tenant("a", None, &key_for(100)).unwrap();
        let wa = s.default_workspace(a.id).unwrap().unwrap().id;
        let mut req = request(&a, wa, "acme", 1);
        req.generated = true;
        let names: Vec<String> = (0..3)
            .map(|_| match s.create_inbox(&req).unwrap() {
                InboxCreated::Created { inbox, .. } => inbox.username,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["acme", "acme1", "acme2"]);
    }

    #[test]
    fn concurrent_creates_of_one_address_make_one_inbox() {
        let t = temp_store();
        let s = &t.store;
        let (a, _) = s.create_tenant("a", None, &key_for(100)).unwrap();
        let wa = s.default_workspace(a.id).unwrap().unwrap().id;
        let outcomes: Vec<InboxCreated> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8u8)
                .map(|n| {
                    let req = request(&a, wa, "race", n);
                    scope.spawn(move || s.create_inbox(&req).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let created = outcomes
            .iter()
            .filter(|o| matches!(o, InboxCreated::Created { .. }))
            .count();
        assert_eq!(created, 1);
        assert_eq!(s.tenant(a.id).unwrap().unwrap().inbox_count, 1);
    }

    #[test]
    fn plan_limit_is_enforced() {
        let t = temp_store();
        let s = &t.store;
        let (a, _) = s.create_tenant("a", Some(1), &key_for(100)).unwrap();
        let wa = s.default_workspace(a.id).unwrap().unwrap().id;
        s.create_inbox(&request(&a, wa, "one", 1)).unwrap();
        let err = s.create_inbox(&request(&a, wa, "two", 2)).unwrap_err();
        assert!(matches!(err, StoreError::Limit(_)));
    }
}
