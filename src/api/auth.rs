//! Who is calling: the key from `Authorization: Bearer` or `X-API-Key`, its scope,
//! and what each kind of key may do (API.md "Authentication").

use super::errors::ApiError;
use super::json::{Out, reply};
use crate::auth::Principal;
use crate::server::Context;
use crate::store::{Inbox, KeyKind};
use hyper::StatusCode;
use hyper::header::{AUTHORIZATION, HeaderMap};
use serde::Serialize;
use uuid::Uuid;

/// Longer than any key we issue; longer input is refused without hashing it.
const MAX_KEY_LEN: usize = 256;

/// What a key covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The admin token or an `sa_` key.
    Operator,
    Tenant {
        tenant: Uuid,
    },
    Workspace {
        tenant: Uuid,
        workspace: Uuid,
    },
    Inbox {
        tenant: Uuid,
        workspace: Uuid,
        inbox: Uuid,
    },
}

/// Resolves the presented key; every kind of bad key is the same 401.
pub fn authenticate(ctx: &Context, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let key = presented_key(headers).ok_or_else(ApiError::unauthorized)?;
    ctx.auth.authenticate_key(key)?.ok_or_else(ApiError::unauthorized)
}

/// `Authorization: Bearer <key>` (RFC 6750 2.1; the scheme is case-insensitive,
/// RFC 9110 11.1), else `X-API-Key: <key>`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key);
    let key = bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))?;
    let key = key.trim();
    (!key.is_empty() && key.len() <= MAX_KEY_LEN).then_some(key)
}

impl Scope {
    /// None for a stored key that lacks the ids its kind needs (never made so).
    pub fn of(principal: &Principal) -> Option<Scope> {
        let Principal::Key(k) = principal else {
            return Some(Scope::Operator);
        };
        Some(match k.kind {
            KeyKind::Service => Scope::Operator,
            KeyKind::Tenant => Scope::Tenant { tenant: k.tenant_id? },
            KeyKind::Workspace => Scope::Workspace {
                tenant: k.tenant_id?,
                workspace: k.workspace_id?,
            },
            KeyKind::Inbox => Scope::Inbox {
                tenant: k.tenant_id?,
                workspace: k.workspace_id?,
                inbox: k.inbox_id?,
            },
        })
    }

    pub fn kind(self) -> KeyKind {
        match self {
            Scope::Operator => KeyKind::Service,
            Scope::Tenant { .. } => KeyKind::Tenant,
            Scope::Workspace { .. } => KeyKind::Workspace,
            Scope::Inbox { .. } => KeyKind::Inbox,
        }
    }

    pub fn tenant(self) -> Option<Uuid> {
        match self {
            Scope::Operator => None,
            Scope::Tenant { tenant } | Scope::Workspace { tenant, .. } | Scope::Inbox { tenant, .. } => Some(tenant),
        }
    }

    pub fn workspace(self) -> Option<Uuid> {
        match self {
            Scope::Workspace { workspace, .. } | Scope::Inbox { workspace, .. } => Some(workspace),
            _ => None,
        }
    }

    /// Tenants are the operator's.
    pub fn require_operator(self) -> Result<(), ApiError> {
        match self {
            Scope::Operator => Ok(()),
            _ => Err(ApiError::forbidden(
                "Only the operator (the admin token or an sa_ key) manages tenants.",
            )),
        }
    }

    /// Only a `tk_` key: workspaces are created and deleted for the whole tenant.
    pub fn require_tenant(self) -> Result<Uuid, ApiError> {
        match self {
            Scope::Tenant { tenant } => Ok(tenant),
            _ => Err(ApiError::forbidden("This needs the tenant's key (tk_).")),
        }
    }

    /// A `tk_` or `wk_` key: the tenant and, for `wk_`, the one workspace it is confined to.
    pub fn require_manager(self) -> Result<(Uuid, Option<Uuid>), ApiError> {
        match self {
            Scope::Tenant { tenant } => Ok((tenant, None)),
            Scope::Workspace { tenant, workspace } => Ok((tenant, Some(workspace))),
            _ => Err(ApiError::forbidden("This needs a tenant (tk_) or workspace (wk_) key.")),
        }
    }

    /// Whether the inbox exists for this key at all (else it is a 404).
    pub fn sees_inbox(self, inbox: &Inbox) -> bool {
        match self {
            Scope::Operator => false,
            Scope::Tenant { tenant } => inbox.tenant_id == tenant,
            Scope::Workspace { tenant, workspace } => inbox.tenant_id == tenant && inbox.workspace_id == workspace,
            Scope::Inbox { tenant, inbox: id, .. } => inbox.tenant_id == tenant && inbox.id == id,
        }
    }

    /// Whether a workspace of the key's tenant exists for this key.
    pub fn sees_workspace(self, workspace: Uuid) -> bool {
        match self {
            Scope::Tenant { .. } => true,
            Scope::Workspace { workspace: own, .. } | Scope::Inbox { workspace: own, .. } => own == workspace,
            Scope::Operator => false,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    kind: &'static str,
    tenant_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workspace_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inbox_id: Option<Uuid>,
}

/// GET /v1/me
pub fn me(scope: Scope) -> Result<Out, ApiError> {
    let inbox_id = match scope {
        Scope::Inbox { inbox, .. } => Some(inbox),
        _ => None,
    };
    let me = Me {
        kind: scope.kind().name(),
        tenant_id: scope.tenant(),
        workspace_id: scope.workspace(),
        inbox_id,
    };
    reply(StatusCode::OK, &me)
}
