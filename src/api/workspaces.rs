//! Workspaces: a tenant's groups of inboxes. A `tk_` key manages them all; a `wk_`
//! key sees only its own.

use super::errors::ApiError;
use super::json::{Out, Time, reply};
use super::pagination::{List, parse_uuid, single};
use super::{Call, blocking, inboxes_gone, validate};
use crate::server::Context;
use crate::store::{StoreError, Workspace};
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Generated slugs that collide try `slug-2` ... up to this.
const MAX_SLUG_SUFFIX: u32 = 99;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWorkspace {
    name: String,
    slug: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WorkspaceView<'a> {
    id: Uuid,
    name: &'a str,
    slug: &'a str,
    is_default: bool,
    inbox_count: u32,
    created_at: Time,
}

fn view(w: &Workspace) -> WorkspaceView<'_> {
    WorkspaceView {
        id: w.id,
        name: &w.name,
        slug: &w.slug,
        is_default: w.is_default,
        inbox_count: w.inbox_count,
        created_at: Time(w.created_at),
    }
}

/// The workspace `id` as the key sees it: another tenant's, or another workspace
/// than a `wk_` key's own, does not exist.
pub fn visible(ctx: &Context, call_scope: super::auth::Scope, id: &str) -> Result<Workspace, ApiError> {
    let (tenant, _) = call_scope.require_manager()?;
    parse_uuid(id)
        .filter(|&id| call_scope.sees_workspace(id))
        .map(|id| ctx.store.workspace(tenant, id))
        .transpose()?
        .flatten()
        .ok_or_else(|| ApiError::not_found("workspace"))
}

/// POST /v1/workspaces
pub async fn create(call: &mut Call<'_>) -> Result<Out, ApiError> {
    let tenant = call.scope.require_tenant()?;
    let body: NewWorkspace = call
        .json()
        .await?
        .ok_or_else(|| ApiError::validation("name is required."))?;
    let name = validate::name("name", &body.name, true)?;
    let workspace = match &body.slug {
        Some(slug) => call.ctx.store.create_workspace(tenant, &name, &validate::slug(slug)?)?,
        None => create_with_generated_slug(call.ctx, tenant, &name)?,
    };
    call.ctx.store.durable().await?;
    reply(StatusCode::CREATED, &view(&workspace))
}

fn create_with_generated_slug(ctx: &Context, tenant: Uuid, name: &str) -> Result<Workspace, ApiError> {
    let base = validate::slug_from(name);
    for n in 1..=MAX_SLUG_SUFFIX {
        let slug = if n == 1 { base.clone() } else { format!("{base}-{n}") };
        match ctx.store.create_workspace(tenant, name, &slug) {
            Err(StoreError::Conflict(_)) => continue,
            other => return Ok(other?),
        }
    }
    Err(ApiError::conflict(
        "ALREADY_EXISTS",
        "Give this workspace a slug of its own.",
    ))
}

/// GET /v1/workspaces
pub fn list(call: &Call<'_>) -> Result<Out, ApiError> {
    let (tenant, own) = call.scope.require_manager()?;
    let req = call.query.page()?;
    let page = match own {
        None => call.ctx.store.workspaces_page(tenant, req.offset, req.limit)?,
        Some(id) => {
            let workspace = call.ctx.store.workspace(tenant, id)?;
            single(req, workspace.ok_or_else(|| ApiError::not_found("workspace"))?)
        }
    };
    reply(StatusCode::OK, &List::of(req, &page, view))
}

/// GET /v1/workspaces/{id}
pub fn get(call: &Call<'_>, id: &str) -> Result<Out, ApiError> {
    let workspace = visible(call.ctx, call.scope, id)?;
    reply(StatusCode::OK, &view(&workspace))
}

/// DELETE /v1/workspaces/{id}: with its inboxes and keys; never the default one.
pub async fn delete(call: &Call<'_>, id: &str) -> Result<Out, ApiError> {
    let tenant = call.scope.require_tenant()?;
    let workspace = visible(call.ctx, call.scope, id)?;
    if workspace.is_default {
        return Err(ApiError::conflict(
            "CONFLICT",
            "The default workspace cannot be deleted.",
        ));
    }
    let store = call.ctx.store.clone();
    let deleted = blocking(move || store.delete_workspace(tenant, workspace.id)).await?;
    let inboxes = deleted.ok_or_else(|| ApiError::not_found("workspace"))?;
    inboxes_gone(call.ctx, &inboxes).await?;
    reply(
        StatusCode::OK,
        &serde_json::json!({"deleted": true, "id": workspace.id}),
    )
}
