//! Tenants, workspaces and API keys.

use super::codec::{decode, encode, key};
use super::model::*;
use super::{Result, Store, StoreError, now_millis};
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

impl Store {
    /// Creates a tenant with its default workspace and its first `tk_` key.
    pub fn create_tenant(&self, name: &str, max_inboxes: Option<u32>, new_key: &NewKey) -> Result<(Tenant, ApiKey)> {
        let now = now_millis();
        let tenant = Tenant {
            id: Uuid::now_v7(),
            name: name.to_string(),
            max_inboxes,
            inbox_count: 0,
            created_at: now,
        };
        let workspace = Workspace {
            id: Uuid::now_v7(),
            tenant_id: tenant.id,
            name: "Default".into(),
            slug: "default".into(),
            is_default: true,
            created_at: now,
        };
        let api_key = new_api_key(KeyKind::Tenant, Some(tenant.id), None, None, new_key, now);
        let t = self.trees();
        (&t.tenants, &t.workspaces, &t.api_keys, &t.key_index).transaction(|(tenants, workspaces, keys, index)| {
            tenants.insert(tenant.id.as_bytes(), encode(&tenant))?;
            workspaces.insert(
                key(&[tenant.id.as_bytes(), workspace.id.as_bytes()]),
                encode(&workspace),
            )?;
            insert_key(keys, index, &api_key, &new_key.hash)?;
            Ok::<_, Abort<StoreError>>(())
        })?;
        Ok((tenant, api_key))
    }

    pub fn tenant(&self, id: Uuid) -> Result<Option<Tenant>> {
        self.trees().tenants.get(id.as_bytes())?.map(|v| decode(&v)).transpose()
    }

    /// All tenants in creation order.
    pub fn tenants(&self) -> Result<Vec<Tenant>> {
        self.trees().tenants.iter().values().map(|v| decode(&v?)).collect()
    }

    /// Deletes a tenant with all its workspaces, inboxes, mail and keys.
    pub fn delete_tenant(&self, id: Uuid) -> Result<bool> {
        if self.tenant(id)?.is_none() {
            return Ok(false);
        }
        for workspace in self.workspaces(id)? {
            self.delete_workspace_cascade(&workspace)?;
        }
        self.revoke_all_keys(id)?;
        self.trees().tenants.remove(id.as_bytes())?;
        Ok(true)
    }

    /// Creates a workspace; its slug is unique within the tenant.
    pub fn create_workspace(&self, tenant_id: Uuid, name: &str, slug: &str) -> Result<Workspace> {
        if self.workspaces(tenant_id)?.iter().any(|w| w.slug == slug) {
            return Err(StoreError::Conflict(format!("a workspace with slug {slug:?} exists")));
        }
        let workspace = Workspace {
            id: Uuid::now_v7(),
            tenant_id,
            name: name.to_string(),
            slug: slug.to_string(),
            is_default: false,
            created_at: now_millis(),
        };
        let k = key(&[tenant_id.as_bytes(), workspace.id.as_bytes()]);
        self.trees().workspaces.insert(k, encode(&workspace))?;
        Ok(workspace)
    }

    pub fn workspace(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<Workspace>> {
        let k = key(&[tenant_id.as_bytes(), id.as_bytes()]);
        self.trees().workspaces.get(k)?.map(|v| decode(&v)).transpose()
    }

    /// The tenant's workspaces in creation order.
    pub fn workspaces(&self, tenant_id: Uuid) -> Result<Vec<Workspace>> {
        self.trees()
            .workspaces
            .scan_prefix(tenant_id.as_bytes())
            .values()
            .map(|v| decode(&v?))
            .collect()
    }

    pub fn default_workspace(&self, tenant_id: Uuid) -> Result<Option<Workspace>> {
        Ok(self.workspaces(tenant_id)?.into_iter().find(|w| w.is_default))
    }

    /// Deletes a non-default workspace with its inboxes and keys.
    pub fn delete_workspace(&self, tenant_id: Uuid, id: Uuid) -> Result<bool> {
        let Some(workspace) = self.workspace(tenant_id, id)? else {
            return Ok(false);
        };
        if workspace.is_default {
            return Err(StoreError::Conflict("the default workspace cannot be deleted".into()));
        }
        self.delete_workspace_cascade(&workspace)?;
        Ok(true)
    }

    fn delete_workspace_cascade(&self, workspace: &Workspace) -> Result<()> {
        for inbox in self.inboxes_of_tenant(workspace.tenant_id)? {
            if inbox.workspace_id == workspace.id {
                self.delete_inbox(inbox.id)?;
            }
        }
        self.revoke_all_keys(workspace.id)?;
        let k = key(&[workspace.tenant_id.as_bytes(), workspace.id.as_bytes()]);
        self.trees().workspaces.remove(k)?;
        Ok(())
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
        let api_key = new_api_key(kind, tenant_id, workspace_id, inbox_id, new_key, now_millis());
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

    /// Keys owned by a tenant (`tk_`), workspace (`wk_`) or inbox (`ak_`), oldest first.
    pub fn api_keys_of(&self, owner: Uuid) -> Result<Vec<ApiKey>> {
        let t = self.trees();
        let mut keys = Vec::new();
        for hash in t.key_index.scan_prefix(owner.as_bytes()).values() {
            if let Some(v) = t.api_keys.get(hash?)? {
                keys.push(decode(&v)?);
            }
        }
        Ok(keys)
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
        for api_key in self.api_keys_of(owner)? {
            self.revoke_api_key(owner, api_key.id)?;
        }
        Ok(())
    }
}

fn new_api_key(
    kind: KeyKind,
    tenant_id: Option<Uuid>,
    workspace_id: Option<Uuid>,
    inbox_id: Option<Uuid>,
    key: &NewKey,
    now: i64,
) -> ApiKey {
    ApiKey {
        id: Uuid::now_v7(),
        kind,
        tenant_id,
        workspace_id,
        inbox_id,
        name: key.name.clone(),
        prefix: key.prefix.clone(),
        created_at: now,
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
