//! API keys of workspaces (`wk_`) and inboxes (`ak_`): made here, shown once,
//! listed by prefix only, revoked at once (the store is asked on every request).

use super::errors::ApiError;
use super::json::{Out, Time, reply};
use super::pagination::{List, parse_uuid};
use super::{Call, inboxes, validate, workspaces};
use crate::auth::keys;
use crate::store::{ApiKey, KeyKind};
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyView<'a> {
    id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<&'a str>,
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workspace_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inbox_id: Option<Uuid>,
    created_at: Time,
}

/// A key as listed (its prefix) or as just made (the key itself, this once).
fn view<'a>(k: &'a ApiKey, plaintext: Option<&'a str>) -> KeyView<'a> {
    let (workspace_id, inbox_id) = match k.kind {
        KeyKind::Inbox => (None, k.inbox_id),
        _ => (k.workspace_id, None),
    };
    KeyView {
        id: k.id,
        key: plaintext,
        prefix: plaintext.is_none().then_some(k.prefix.as_str()),
        name: k.name.as_deref(),
        workspace_id,
        inbox_id,
        created_at: Time(k.created_at),
    }
}

async fn key_name(call: &mut Call<'_>) -> Result<Option<String>, ApiError> {
    let body: NewKey = call.json().await?.unwrap_or_default();
    body.name.map(|n| validate::name("name", &n, false)).transpose()
}

/// POST /v1/workspaces/{id}/keys
pub async fn create_workspace_key(call: &mut Call<'_>, id: &str) -> Result<Out, ApiError> {
    let workspace = workspaces::visible(call.ctx, call.scope, id)?;
    let name = key_name(call).await?;
    let (key, stored) = keys::generate(KeyKind::Workspace, name);
    let tenant = Some(workspace.tenant_id);
    let api_key = call
        .ctx
        .store
        .create_api_key(KeyKind::Workspace, tenant, Some(workspace.id), None, &stored)?;
    call.ctx.store.durable().await?;
    reply(StatusCode::CREATED, &view(&api_key, Some(&key)))
}

/// GET /v1/workspaces/{id}/keys
pub fn list_workspace_keys(call: &Call<'_>, id: &str) -> Result<Out, ApiError> {
    let workspace = workspaces::visible(call.ctx, call.scope, id)?;
    list(call, workspace.id)
}

/// DELETE /v1/workspaces/{id}/keys/{keyId}
pub async fn revoke_workspace_key(call: &Call<'_>, id: &str, key: &str) -> Result<Out, ApiError> {
    let workspace = workspaces::visible(call.ctx, call.scope, id)?;
    revoke(call, workspace.id, key).await
}

/// POST /v1/inboxes/{id}/keys
pub async fn create_inbox_key(call: &mut Call<'_>, id: &str) -> Result<Out, ApiError> {
    let inbox = inboxes::managed(call, id)?;
    let name = key_name(call).await?;
    let (key, stored) = keys::generate(KeyKind::Inbox, name);
    let api_key = call.ctx.store.create_api_key(
        KeyKind::Inbox,
        Some(inbox.tenant_id),
        Some(inbox.workspace_id),
        Some(inbox.id),
        &stored,
    )?;
    call.ctx.store.durable().await?;
    reply(StatusCode::CREATED, &view(&api_key, Some(&key)))
}

/// GET /v1/inboxes/{id}/keys
pub fn list_inbox_keys(call: &Call<'_>, id: &str) -> Result<Out, ApiError> {
    let inbox = inboxes::managed(call, id)?;
    list(call, inbox.id)
}

/// DELETE /v1/inboxes/{id}/keys/{keyId}
pub async fn revoke_inbox_key(call: &Call<'_>, id: &str, key: &str) -> Result<Out, ApiError> {
    let inbox = inboxes::managed(call, id)?;
    revoke(call, inbox.id, key).await
}

fn list(call: &Call<'_>, owner: Uuid) -> Result<Out, ApiError> {
    let req = call.query.page()?;
    let page = call.ctx.store.api_keys_page(owner, req.offset, req.limit)?;
    reply(StatusCode::OK, &List::of(req, &page, |k| view(k, None)))
}

async fn revoke(call: &Call<'_>, owner: Uuid, key: &str) -> Result<Out, ApiError> {
    let key_id = parse_uuid(key).ok_or_else(|| ApiError::not_found("key"))?;
    if !call.ctx.store.revoke_api_key(owner, key_id)? {
        return Err(ApiError::not_found("key"));
    }
    call.ctx.store.durable().await?;
    reply(StatusCode::OK, &serde_json::json!({"deleted": true, "id": key_id}))
}
