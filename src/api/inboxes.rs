//! Inboxes: the idempotent create with numeric fallback, the inbox object, updates,
//! deletion (mail gone, IMAP sessions closed) and password rotation.

use super::auth::Scope;
use super::errors::ApiError;
use super::json::{Out, Time, nullable, reply};
use super::pagination::{List, parse_uuid, single};
use super::{Call, blocking, inboxes_gone, validate};
use crate::auth::{keys, password};
use crate::server::Context;
use crate::store::{CreateInbox, Inbox, InboxCreated, KeyKind, Tenant};
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewInbox {
    username: Option<String>,
    display_name: Option<String>,
    domain: Option<String>,
    workspace_id: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct InboxPatch {
    #[serde(default, deserialize_with = "nullable")]
    display_name: Option<Option<String>>,
    paused: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Rotation {
    password: Option<String>,
}

/// The inbox's address, written straight into the JSON without a String of its own.
#[derive(Clone, Copy)]
struct Email<'a>(&'a Inbox);

impl Serialize for Email<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}@{}", self.0.username, self.0.domain))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InboxView<'a> {
    id: Uuid,
    email: Email<'a>,
    canonical_email: Email<'a>,
    username: &'a str,
    domain: &'a str,
    display_name: Option<&'a str>,
    workspace_id: Uuid,
    paused: bool,
    addresses: [AddressView<'a>; 1],
    imap: Endpoint<'a>,
    smtp: Endpoint<'a>,
    created_at: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    existed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    imap_password: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AddressView<'a> {
    address: Email<'a>,
    is_primary: bool,
}

/// Where clients connect: the public names from `[public]`, not the bind addresses.
#[derive(Serialize)]
struct Endpoint<'a> {
    host: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    starttls: Option<bool>,
    username: Email<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
}

fn endpoints<'a>(ctx: &'a Context, inbox: &'a Inbox, password: Option<&'a str>) -> (Endpoint<'a>, Endpoint<'a>) {
    let host = ctx.config.public_host();
    let imap = Endpoint {
        host,
        port: ctx.config.public.imap_port,
        tls: Some(true),
        starttls: None,
        username: Email(inbox),
        password,
    };
    let smtp = Endpoint {
        host,
        port: ctx.config.public.smtp_port,
        tls: None,
        starttls: Some(true),
        username: Email(inbox),
        password,
    };
    (imap, smtp)
}

/// What a create shows besides the inbox: secrets only when it made the inbox.
#[derive(Default, Clone, Copy)]
struct Shown<'a> {
    existed: Option<bool>,
    api_key: Option<&'a str>,
    password: Option<&'a str>,
}

fn view<'a>(ctx: &'a Context, inbox: &'a Inbox, shown: Shown<'a>) -> InboxView<'a> {
    let (imap, smtp) = endpoints(ctx, inbox, shown.password);
    InboxView {
        id: inbox.id,
        email: Email(inbox),
        canonical_email: Email(inbox),
        username: &inbox.username,
        domain: &inbox.domain,
        display_name: inbox.display_name.as_deref(),
        workspace_id: inbox.workspace_id,
        paused: inbox.paused,
        addresses: [AddressView {
            address: Email(inbox),
            is_primary: true,
        }],
        imap,
        smtp,
        created_at: Time(inbox.created_at),
        existed: shown.existed,
        api_key: shown.api_key,
        imap_password: shown.password,
    }
}

/// The inbox `id` if it exists for this key (another tenant's is a 404).
pub fn visible(call: &Call<'_>, id: &str) -> Result<Inbox, ApiError> {
    parse_uuid(id)
        .map(|id| call.ctx.store.inbox(id))
        .transpose()?
        .flatten()
        .filter(|inbox| call.scope.sees_inbox(inbox))
        .ok_or_else(|| ApiError::not_found("inbox"))
}

/// A visible inbox that the key may also change: not with the inbox's own `ak_` key.
pub fn managed(call: &Call<'_>, id: &str) -> Result<Inbox, ApiError> {
    let inbox = visible(call, id)?;
    call.scope.require_manager()?;
    Ok(inbox)
}

/// POST /v1/inboxes[?strict=true] (API.md "POST /v1/inboxes").
pub async fn create(call: &mut Call<'_>) -> Result<Out, ApiError> {
    let (tenant_id, own_workspace) = call.scope.require_manager()?;
    let strict = call.query.flag("strict")?;
    let body: NewInbox = call.json().await?.unwrap_or_default();
    let ctx = call.ctx;
    let tenant = ctx
        .store
        .tenant(tenant_id)?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let (username, generated) = match &body.username {
        Some(u) => (validate::username(u)?, false),
        None => (validate::username_from(&tenant.name), true),
    };
    let display_name = match &body.display_name {
        Some(d) => Some(validate::name("displayName", d, false)?).filter(|d| !d.is_empty()),
        None => None,
    };
    let domain = domain(ctx, body.domain.as_deref())?;
    let workspace_id = workspace(ctx, call.scope, &tenant, body.workspace_id.as_deref())?;
    let chosen = body.password.as_deref().map(validate::password).transpose()?;

    // The answers that need no password hash come first, so a retry or a refusal
    // costs no argon2. The store decides again, atomically, below.
    let taken = |attempted: &str| {
        ApiError::conflict("USERNAME_TAKEN", format!("{attempted}@{domain} is taken."))
            .with_field("requestedUsername", username.as_str())
            .with_field("attemptedUsername", attempted)
            .with_field("domain", domain.as_str())
    };
    if !generated && let Some(existing) = ctx.store.inbox_by_address(&format!("{username}@{domain}"))? {
        let ours = existing.tenant_id == tenant_id && own_workspace.is_none_or(|w| w == existing.workspace_id);
        if ours {
            return existed(ctx, &existing);
        }
        if strict {
            return Err(taken(&username));
        }
    }
    if let Some(max) = tenant.max_inboxes.filter(|&max| tenant.inbox_count >= max) {
        return Err(plan_limit(max));
    }

    let password = chosen.unwrap_or_else(password::generate_password);
    let password_hash = ctx.auth.hash_password(password.clone()).await.map_err(ApiError::bug)?;
    let (api_key, key) = keys::generate(KeyKind::Inbox, None);
    let req = CreateInbox {
        tenant_id,
        workspace_id,
        username: username.clone(),
        domain: domain.clone(),
        display_name,
        password_hash,
        key,
        fallback: !strict,
        generated,
        confined: own_workspace.is_some(),
    };
    match ctx.store.create_inbox(&req)? {
        InboxCreated::Created { inbox, .. } => {
            ctx.store.durable().await?;
            let shown = Shown {
                existed: Some(false),
                api_key: Some(&api_key),
                password: Some(&password),
            };
            reply(StatusCode::CREATED, &view(ctx, &inbox, shown))
        }
        // A concurrent create of the same address won.
        InboxCreated::Existed(inbox) => existed(ctx, &inbox),
        InboxCreated::Taken { attempted } => Err(taken(&attempted)),
    }
}

fn existed(ctx: &Context, inbox: &Inbox) -> Result<Out, ApiError> {
    let shown = Shown {
        existed: Some(true),
        ..Shown::default()
    };
    reply(StatusCode::OK, &view(ctx, inbox, shown))
}

fn plan_limit(max: u32) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "PLAN_LIMIT",
        format!("The tenant's limit of {max} inboxes is reached."),
    )
}

/// One of the server's domains (any case), the first by default.
fn domain(ctx: &Context, asked: Option<&str>) -> Result<String, ApiError> {
    let Some(asked) = asked else {
        return Ok(ctx.config.default_domain().to_ascii_lowercase());
    };
    match ctx.config.domains.iter().find(|d| d.eq_ignore_ascii_case(asked)) {
        Some(d) => Ok(d.to_ascii_lowercase()),
        None => Err(ApiError::validation(format!(
            "domain must be one of this server's domains: {}.",
            ctx.config.domains.join(", ")
        ))),
    }
}

/// The workspace a new inbox goes to: `workspaceId` (a `tk_` key's choice), the
/// `wk_` key's own, or the tenant's default.
fn workspace(ctx: &Context, scope: Scope, tenant: &Tenant, asked: Option<&str>) -> Result<Uuid, ApiError> {
    let asked = asked
        .map(|a| parse_uuid(a).ok_or_else(|| ApiError::validation("workspaceId must be a UUID.")))
        .transpose()?;
    if let Some(own) = scope.workspace() {
        if asked.is_some_and(|a| a != own) {
            return Err(ApiError::forbidden(
                "A workspace key creates inboxes only in its own workspace.",
            ));
        }
        return Ok(own);
    }
    let found = match asked {
        Some(id) => ctx.store.workspace(tenant.id, id)?,
        None => ctx.store.default_workspace(tenant.id)?,
    };
    found.map(|w| w.id).ok_or_else(|| ApiError::not_found("workspace"))
}

/// GET /v1/inboxes[?workspaceId=]: an `ak_` key sees its own inbox.
pub fn list(call: &Call<'_>) -> Result<Out, ApiError> {
    let req = call.query.page()?;
    let filter = call.query.uuid("workspaceId")?;
    let store = &call.ctx.store;
    let no_workspace = || ApiError::not_found("workspace");
    let page = match call.scope {
        Scope::Operator => return Err(ApiError::forbidden("Inboxes belong to tenants; use a tenant's key.")),
        _ if filter.is_some_and(|w| !call.scope.sees_workspace(w)) => return Err(no_workspace()),
        Scope::Inbox { inbox, .. } => single(req, store.inbox(inbox)?.ok_or_else(|| ApiError::not_found("inbox"))?),
        Scope::Tenant { tenant } => store
            .inboxes_page(tenant, filter, req.offset, req.limit)?
            .ok_or_else(no_workspace)?,
        Scope::Workspace { tenant, workspace } => store
            .inboxes_page(tenant, Some(workspace), req.offset, req.limit)?
            .ok_or_else(no_workspace)?,
    };
    reply(
        StatusCode::OK,
        &List::of(req, &page, |i| view(call.ctx, i, Shown::default())),
    )
}

/// GET /v1/inboxes/{id}
pub fn get(call: &Call<'_>, id: &str) -> Result<Out, ApiError> {
    let inbox = visible(call, id)?;
    reply(StatusCode::OK, &view(call.ctx, &inbox, Shown::default()))
}

/// PATCH /v1/inboxes/{id}: `displayName` (null clears it) and `paused`.
pub async fn update(call: &mut Call<'_>, id: &str) -> Result<Out, ApiError> {
    let inbox = managed(call, id)?;
    let patch: InboxPatch = call.json().await?.unwrap_or_default();
    let display_name = match patch.display_name {
        Some(Some(d)) => Some(Some(validate::name("displayName", &d, false)?).filter(|d| !d.is_empty())),
        other => other,
    };
    let inbox = call.ctx.store.update_inbox(inbox.id, display_name, patch.paused)?;
    call.ctx.store.durable().await?;
    reply(StatusCode::OK, &view(call.ctx, &inbox, Shown::default()))
}

/// DELETE /v1/inboxes/{id}: its mail is gone and its IMAP sessions are closed.
pub async fn delete(call: &Call<'_>, id: &str) -> Result<Out, ApiError> {
    let inbox = managed(call, id)?;
    let store = call.ctx.store.clone();
    if !blocking(move || store.delete_inbox(inbox.id)).await? {
        return Err(ApiError::not_found("inbox"));
    }
    inboxes_gone(call.ctx, &[inbox.id]).await?;
    reply(StatusCode::OK, &serde_json::json!({"deleted": true, "id": inbox.id}))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rotated<'a> {
    imap_password: &'a str,
    imap: Endpoint<'a>,
    smtp: Endpoint<'a>,
}

/// POST /v1/inboxes/{id}/password: a new password (or the one given); the old
/// one stops working at once, cached logins included.
pub async fn rotate_password(call: &mut Call<'_>, id: &str) -> Result<Out, ApiError> {
    let inbox = managed(call, id)?;
    let body: Rotation = call.json().await?.unwrap_or_default();
    let chosen = body.password.as_deref().map(validate::password).transpose()?;
    let password = chosen.unwrap_or_else(password::generate_password);
    let ctx = call.ctx;
    let hash = ctx.auth.hash_password(password.clone()).await.map_err(ApiError::bug)?;
    let inbox = ctx.store.set_password_hash(inbox.id, &hash)?;
    ctx.auth.forget_logins(inbox.id);
    ctx.store.durable().await?;
    let (imap, smtp) = endpoints(ctx, &inbox, Some(&password));
    let rotated = Rotated {
        imap_password: &password,
        imap,
        smtp,
    };
    reply(StatusCode::OK, &rotated)
}
