//! Inboxes: creation with their mailboxes, the address index, updates and deletion.

use super::codec::{decode, encode, key, uuid_from};
use super::identity::{NewKey, insert_key};
use super::model::*;
use super::{Result, Store, StoreError, now_millis};
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
        let now = now_millis();
        let inbox = Inbox {
            id: Uuid::now_v7(),
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
        let api_key = ApiKey {
            id: Uuid::now_v7(),
            kind: KeyKind::Inbox,
            tenant_id: Some(req.tenant_id),
            workspace_id: Some(req.workspace_id),
            inbox_id: Some(inbox.id),
            name: req.key.name.clone(),
            prefix: req.key.prefix.clone(),
            created_at: now,
        };
        let t = self.trees();
        let trees = (
            &t.addresses,
            &t.inboxes,
            &t.tenants,
            &t.tenant_inboxes,
            &t.inbox_state,
            &t.mailboxes,
            &t.mailbox_names,
            &t.api_keys,
            &t.key_index,
        );
        let attempt = trees.transaction(
            |(addresses, inboxes, tenants, tenant_inboxes, states, mailboxes, names, keys, index)| {
                if let Some(owner) = addresses.get(address.as_bytes())? {
                    let existing: Inbox = match inboxes.get(&owner)? {
                        Some(v) => decode(&v).map_err(Abort::Abort)?,
                        None => {
                            return Err(Abort::Abort(StoreError::Corrupt(format!(
                                "address {address} has no inbox"
                            ))));
                        }
                    };
                    return Ok(if existing.tenant_id == req.tenant_id {
                        Attempt::Done(Box::new(InboxCreated::Existed(existing)))
                    } else {
                        Attempt::TakenByOther
                    });
                }
                let mut tenant: Tenant = match tenants.get(req.tenant_id.as_bytes())? {
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
                addresses.insert(address.as_bytes(), inbox.id.as_bytes())?;
                inboxes.insert(inbox.id.as_bytes(), encode(&inbox))?;
                tenant_inboxes.insert(
                    key(&[req.tenant_id.as_bytes(), inbox.id.as_bytes()]),
                    req.workspace_id.as_bytes(),
                )?;
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

    /// The tenant's inboxes in creation order.
    pub fn inboxes_of_tenant(&self, tenant_id: Uuid) -> Result<Vec<Inbox>> {
        let mut inboxes = Vec::new();
        for k in self.trees().tenant_inboxes.scan_prefix(tenant_id.as_bytes()).keys() {
            let k = k?;
            if let Some(inbox) = self.inbox(uuid_from(&k[16..])?)? {
                inboxes.push(inbox);
            }
        }
        Ok(inboxes)
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

    /// Deletes an inbox and all its mail. The inbox disappears atomically (address,
    /// record, counters); its mailboxes and messages are removed right after.
    pub fn delete_inbox(&self, id: Uuid) -> Result<bool> {
        let Some(inbox) = self.inbox(id)? else {
            return Ok(false);
        };
        let address = inbox.address().to_ascii_lowercase();
        let t = self.trees();
        (&t.addresses, &t.inboxes, &t.tenants, &t.tenant_inboxes, &t.inbox_state).transaction(
            |(addresses, inboxes, tenants, tenant_inboxes, states)| {
                addresses.remove(address.as_bytes())?;
                inboxes.remove(id.as_bytes())?;
                states.remove(id.as_bytes())?;
                tenant_inboxes.remove(key(&[inbox.tenant_id.as_bytes(), id.as_bytes()]))?;
                if let Some(v) = tenants.get(inbox.tenant_id.as_bytes())? {
                    let mut tenant: Tenant = decode(&v).map_err(Abort::Abort)?;
                    tenant.inbox_count = tenant.inbox_count.saturating_sub(1);
                    tenants.insert(tenant.id.as_bytes(), encode(&tenant))?;
                }
                Ok::<_, Abort<StoreError>>(())
            },
        )?;
        self.revoke_all_keys(id)?;
        self.remove_inbox_mail(id)?;
        Ok(true)
    }

    fn remove_inbox_mail(&self, id: Uuid) -> Result<()> {
        let t = self.trees();
        for item in t.messages.scan_prefix(id.as_bytes()) {
            let (k, v) = item?;
            let record: MessageRecord = decode(&v)?;
            t.messages.remove(k)?;
            self.release_blob(&record.blob)?;
        }
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
