//! Tenants, workspaces and API keys.

use super::codec::{decode, encode, key, uuid_from};
use super::model::*;
use super::page::{Page, scan_page};
use super::{Result, Store, StoreError, new_id};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError as Abort;
use uuid::Uuid;

/// A key to store: its SHA-256 and display prefix. The key itself never reaches the store.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub hash: [u8; 32],
    pub prefix: String,
    pub name: Option<String>,
}

/// The slug of every tenant's first workspace.
pub const DEFAULT_SLUG: &str = "default";

impl Store {
    /// Creates a tenant with its default workspace and its first `tk_` key.
    pub fn create_tenant(&self, name: &str, max_inboxes: Option<u32>, new_key: &NewKey) -> Result<(Tenant, ApiKey)> {
        let (id, now) = new_id();
        let tenant = Tenant {
            id,
            name: name.to_string(),
            max_inboxes,
            inbox_count: 0,
            created_at: now,
        };
        let workspace = new_workspace(id, "Default", DEFAULT_SLUG, true);
        let api_key = new_api_key(KeyKind::Tenant, Some(tenant.id), None, None, new_key);
        let t = self.trees();
        (&t.tenants, &t.workspaces, &t.workspace_slugs, &t.api_keys, &t.key_index).transaction(
            |(tenants, workspaces, slugs, keys, index)| {
                tenants.insert(tenant.id.as_bytes(), encode(&tenant))?;
                workspaces.insert(
                    key(&[tenant.id.as_bytes(), workspace.id.as_bytes()]),
                    encode(&workspace),
                )?;
                slugs.insert(
                    key(&[tenant.id.as_bytes(), DEFAULT_SLUG.as_bytes()]),
                    workspace.id.as_bytes(),
                )?;
                insert_key(keys, index, &api_key, &new_key.hash)?;
                Ok::<_, Abort<StoreError>>(())
            },
        )?;
        Ok((tenant, api_key))
    }

    pub fn tenant(&self, id: Uuid) -> Result<Option<Tenant>> {
        self.trees().tenants.get(id.as_bytes())?.map(|v| decode(&v)).transpose()
    }

    /// A page of all tenants in creation order.
    pub fn tenants_page(&self, offset: u64, limit: usize) -> Result<Page<Tenant>> {
        scan_page(&self.trees().tenants, &[], offset, limit, None, |_, v| {
            decode(v).map(Some)
        })
    }

    /// Deletes a tenant with all its workspaces, inboxes, mail and keys; returns the
    /// ids of the inboxes deleted, None when there is no such tenant.
    pub fn delete_tenant(&self, id: Uuid) -> Result<Option<Vec<Uuid>>> {
        if self.tenant(id)?.is_none() {
            return Ok(None);
        }
        // Contents first, so a crash part-way leaves a tenant whose delete can be
        // retried; once the record is gone no create can start, and the second pass
        // removes what was created meanwhile.
        let mut inboxes = self.delete_tenant_contents(id)?;
        self.trees().tenants.remove(id.as_bytes())?;
        inboxes.extend(self.delete_tenant_contents(id)?);
        self.revoke_all_keys(id)?;
        Ok(Some(inboxes))
    }

    fn delete_tenant_contents(&self, tenant_id: Uuid) -> Result<Vec<Uuid>> {
        let mut inboxes = Vec::new();
        for workspace in self.workspaces(tenant_id)? {
            inboxes.extend(self.delete_workspace_cascade(&workspace)?);
        }
        for k in self.trees().tenant_inboxes.scan_prefix(tenant_id.as_bytes()).keys() {
            let inbox = uuid_from(&k?[16..])?;
            if self.delete_inbox(inbox)? {
                inboxes.push(inbox);
            }
        }
        Ok(inboxes)
    }

    /// Creates a workspace; its slug is unique within the tenant (else `Conflict`).
    pub fn create_workspace(&self, tenant_id: Uuid, name: &str, slug: &str) -> Result<Workspace> {
        let workspace = new_workspace(tenant_id, name, slug, false);
        let slug_key = key(&[tenant_id.as_bytes(), slug.as_bytes()]);
        let t = self.trees();
        (&t.tenants, &t.workspaces, &t.workspace_slugs).transaction(|(tenants, workspaces, slugs)| {
            if tenants.get(tenant_id.as_bytes())?.is_none() {
                return Err(Abort::Abort(StoreError::NotFound));
            }
            if slugs.get(slug_key.as_slice())?.is_some() {
                return Err(Abort::Abort(StoreError::Conflict(format!(
                    "a workspace with slug {slug:?} exists"
                ))));
            }
            slugs.insert(slug_key.as_slice(), workspace.id.as_bytes())?;
            workspaces.insert(
                key(&[tenant_id.as_bytes(), workspace.id.as_bytes()]),
                encode(&workspace),
            )?;
            Ok(())
        })?;
        Ok(workspace)
    }

    pub fn workspace(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<Workspace>> {
        let k = key(&[tenant_id.as_bytes(), id.as_bytes()]);
        self.trees().workspaces.get(k)?.map(|v| decode(&v)).transpose()
    }

    /// The tenant's workspaces in creation order.
    pub fn workspaces(&self, tenant_id: Uuid) -> Result<Vec<Workspace>> {
        Ok(self.workspaces_page(tenant_id, 0, usize::MAX)?.items)
    }

    pub fn workspaces_page(&self, tenant_id: Uuid, offset: u64, limit: usize) -> Result<Page<Workspace>> {
        let tree = &self.trees().workspaces;
        scan_page(tree, tenant_id.as_bytes(), offset, limit, None, |_, v| {
            decode(v).map(Some)
        })
    }

    pub fn default_workspace(&self, tenant_id: Uuid) -> Result<Option<Workspace>> {
        let slug_key = key(&[tenant_id.as_bytes(), DEFAULT_SLUG.as_bytes()]);
        match self.trees().workspace_slugs.get(slug_key)? {
            Some(id) => self.workspace(tenant_id, uuid_from(&id)?),
            None => Ok(None),
        }
    }

    /// Deletes a non-default workspace with its inboxes and keys; returns the ids
    /// of the inboxes deleted, None when the tenant has no such workspace.
    pub fn delete_workspace(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<Vec<Uuid>>> {
        let Some(workspace) = self.workspace(tenant_id, id)? else {
            return Ok(None);
        };
        if workspace.is_default {
            return Err(StoreError::Conflict("the default workspace cannot be deleted".into()));
        }
        self.delete_workspace_cascade(&workspace).map(Some)
    }

    fn delete_workspace_cascade(&self, workspace: &Workspace) -> Result<Vec<Uuid>> {
        // As for tenants: contents, the record (which stops new creates), contents again.
        let mut inboxes = self.delete_workspace_inboxes(workspace.id)?;
        let t = self.trees();
        (&t.workspaces, &t.workspace_slugs).transaction(|(workspaces, slugs)| {
            workspaces.remove(key(&[workspace.tenant_id.as_bytes(), workspace.id.as_bytes()]))?;
            slugs.remove(key(&[workspace.tenant_id.as_bytes(), workspace.slug.as_bytes()]))?;
            Ok::<_, Abort<StoreError>>(())
        })?;
        inboxes.extend(self.delete_workspace_inboxes(workspace.id)?);
        self.revoke_all_keys(workspace.id)?;
        Ok(inboxes)
    }

    fn delete_workspace_inboxes(&self, workspace_id: Uuid) -> Result<Vec<Uuid>> {
        let mut inboxes = Vec::new();
        for k in self
            .trees()
            .workspace_inboxes
            .scan_prefix(workspace_id.as_bytes())
            .keys()
        {
            let inbox = uuid_from(&k?[16..])?;
            if self.delete_inbox(inbox)? {
                inboxes.push(inbox);
            }
        }
        Ok(inboxes)
    }

    /// Stores a new API key of `kind` for the given owner ids.
    pub fn create_api_key(
        &self,
        kind: KeyKind,
        tenant_id: Option<Uuid>,
        workspace_id: Option<Uuid>,
        inbox_id: Option<Uuid>,
        new_key: &NewKey,
    ) -> Result<ApiKey> {
        let api_key = new_api_key(kind, tenant_id, workspace_id, inbox_id, new_key);
        let t = self.trees();
        (&t.api_keys, &t.key_index).transaction(|(keys, index)| {
            insert_key(keys, index, &api_key, &new_key.hash)?;
            Ok::<_, Abort<StoreError>>(())
        })?;
        Ok(api_key)
    }

    /// Looks a key up by the SHA-256 of the presented key.
    pub fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
        self.trees().api_keys.get(hash)?.map(|v| decode(&v)).transpose()
    }

    /// A page of the keys owned by a tenant (`tk_`), workspace (`wk_`) or inbox
    /// (`ak_`), oldest first.
    pub fn api_keys_page(&self, owner: Uuid, offset: u64, limit: usize) -> Result<Page<ApiKey>> {
        let t = self.trees();
        scan_page(&t.key_index, owner.as_bytes(), offset, limit, None, |_, hash| {
            t.api_keys.get(hash)?.map(|v| decode(&v)).transpose()
        })
    }

    /// Revokes one key of `owner`; false when it has no such key.
    pub fn revoke_api_key(&self, owner: Uuid, key_id: Uuid) -> Result<bool> {
        let t = self.trees();
        let index_key = key(&[owner.as_bytes(), key_id.as_bytes()]);
        let removed = (&t.api_keys, &t.key_index).transaction(|(keys, index)| {
            let Some(hash) = index.remove(index_key.as_slice())? else {
                return Ok(false);
            };
            keys.remove(hash)?;
            Ok::<_, Abort<StoreError>>(true)
        })?;
        Ok(removed)
    }

    pub(super) fn revoke_all_keys(&self, owner: Uuid) -> Result<()> {
        for k in self.trees().key_index.scan_prefix(owner.as_bytes()).keys() {
            self.revoke_api_key(owner, uuid_from(&k?[16..])?)?;
        }
        Ok(())
    }
}

fn new_workspace(tenant_id: Uuid, name: &str, slug: &str, is_default: bool) -> Workspace {
    let (id, created_at) = new_id();
    Workspace {
        id,
        tenant_id,
        name: name.to_string(),
        slug: slug.to_string(),
        is_default,
        inbox_count: 0,
        created_at,
    }
}

pub(super) fn new_api_key(
    kind: KeyKind,
    tenant_id: Option<Uuid>,
    workspace_id: Option<Uuid>,
    inbox_id: Option<Uuid>,
    key: &NewKey,
) -> ApiKey {
    let (id, created_at) = new_id();
    ApiKey {
        id,
        kind,
        tenant_id,
        workspace_id,
        inbox_id,
        name: key.name.clone(),
        prefix: key.prefix.clone(),
        created_at,
    }
}

pub(super) fn insert_key(
    keys: &sled::transaction::TransactionalTree,
    index: &sled::transaction::TransactionalTree,
    api_key: &ApiKey,
    hash: &[u8; 32],
) -> std::result::Result<(), Abort<StoreError>> {
    keys.insert(&hash[..], encode(api_key))?;
    index.insert(key(&[api_key.owner().as_bytes(), api_key.id.as_bytes()]), &hash[..])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;

    fn new_key(n: u8) -> NewKey {
        NewKey {
            hash: [n; 32],
            prefix: format!("wk_{n}"),
            name: None,
        }
    }

    #[test]
    fn workspace_slugs_are_unique_per_tenant_and_pages_are_ordered() {
        let t = temp_store();
        let s = &t.store;
        let (a, _) = s.create_tenant("a", None, &new_key(1)).unwrap();
        let (b, _) = s.create_tenant("b", None, &new_key(2)).unwrap();
        let w1 = s.create_workspace(a.id, "One", "one").unwrap();
        assert!(matches!(
            s.create_workspace(a.id, "One again", "one"),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.create_workspace(a.id, "Default two", DEFAULT_SLUG),
            Err(StoreError::Conflict(_))
        ));
        s.create_workspace(b.id, "One", "one").unwrap();
        let w2 = s.create_workspace(a.id, "Two", "two").unwrap();
        let page = s.workspaces_page(a.id, 1, 1).unwrap();
        assert_eq!((page.total, page.items[0].id), (3, w1.id));
        assert_eq!(s.workspaces_page(a.id, 2, 10).unwrap().items[0].id, w2.id);
        assert!(s.workspaces_page(a.id, 5, 10).unwrap().items.is_empty());
        assert!(s.delete_workspace(a.id, w1.id).unwrap().is_some());
        s.create_workspace(a.id, "One", "one").unwrap();
        let tenants = s.tenants_page(0, 10).unwrap();
        assert_eq!(tenants.items.iter().map(|t| t.id).collect::<Vec<_>>(), [a.id, b.id]);
        assert!(s.delete_tenant(a.id).unwrap().is_some());
        assert!(s.workspaces(a.id).unwrap().is_empty());
        assert!(s.api_key_by_hash(&[1; 32]).unwrap().is_none());
        assert!(s.delete_tenant(a.id).unwrap().is_none());
    }

    #[test]
    fn key_pages_and_revocation() {
        let t = temp_store();
        let s = &t.store;
        let (a, tk) = s.create_tenant("a", None, &new_key(1)).unwrap();
        let ws = s.default_workspace(a.id).unwrap().unwrap();
        let k1 = s
            .create_api_key(KeyKind::Workspace, Some(a.id), Some(ws.id), None, &new_key(2))
            .unwrap();
        s.create_api_key(KeyKind::Workspace, Some(a.id), Some(ws.id), None, &new_key(3))
            .unwrap();
        let page = s.api_keys_page(ws.id, 0, 1).unwrap();
        assert_eq!((page.total, page.items[0].id), (2, k1.id));
        assert!(s.revoke_api_key(ws.id, k1.id).unwrap());
        assert!(!s.revoke_api_key(ws.id, k1.id).unwrap());
        assert!(!s.revoke_api_key(ws.id, tk.id).unwrap(), "another owner's key");
        assert!(s.api_key_by_hash(&[2; 32]).unwrap().is_none());
        assert_eq!(s.api_keys_page(ws.id, 0, 10).unwrap().total, 1);
    }
}
