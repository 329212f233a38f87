//! Tenants: the operator's (`sa_` keys and the admin token).

use super::errors::ApiError;
use super::json::{Out, Time, reply};
use super::pagination::{List, parse_uuid};
use super::{Call, blocking, inboxes_gone, validate};
use crate::auth::keys;
use crate::store::{KeyKind, Tenant};
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewTenant {
    name: String,
    max_inboxes: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TenantView<'a> {
    id: Uuid,
    name: &'a str,
    max_inboxes: Option<u32>,
    inbox_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<&'a str>,
    created_at: Time,
}

fn view<'a>(t: &'a Tenant, api_key: Option<&'a str>) -> TenantView<'a> {
    TenantView {
        id: t.id,
        name: &t.name,
        max_inboxes: t.max_inboxes,
        inbox_count: t.inbox_count,
        api_key,
        created_at: Time(t.created_at),
    }
}

/// POST /v1/tenants: the tenant with its `tk_` key, shown this once.
pub async fn create(call: &mut Call<'_>) -> Result<Out, ApiError> {
    call.scope.require_operator()?;
    let body: NewTenant = call
        .json()
        .await?
        .ok_or_else(|| ApiError::validation("name is required."))?;
    let name = validate::name("name", &body.name, true)?;
    let (key, stored) = keys::generate(KeyKind::Tenant, None);
    let (tenant, _) = call.ctx.store.create_tenant(&name, body.max_inboxes, &stored)?;
    call.ctx.store.durable().await?;
    reply(StatusCode::CREATED, &view(&tenant, Some(&key)))
}

/// GET /v1/tenants
pub fn list(call: &Call<'_>) -> Result<Out, ApiError> {
    call.scope.require_operator()?;
    let req = call.query.page()?;
    let page = call.ctx.store.tenants_page(req.offset, req.limit)?;
    reply(StatusCode::OK, &List::of(req, &page, |t| view(t, None)))
}

/// DELETE /v1/tenants/{id}: everything of the tenant goes, its IMAP sessions close.
pub async fn delete(call: &Call<'_>, id: &str) -> Result<Out, ApiError> {
    call.scope.require_operator()?;
    let id = parse_uuid(id).ok_or_else(|| ApiError::not_found("tenant"))?;
    let store = call.ctx.store.clone();
    let deleted = blocking(move || store.delete_tenant(id)).await?;
    let inboxes = deleted.ok_or_else(|| ApiError::not_found("tenant"))?;
    inboxes_gone(call.ctx, &inboxes).await?;
    reply(StatusCode::OK, &serde_json::json!({"deleted": true, "id": id}))
}
