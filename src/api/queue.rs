//! Operator endpoints for outbound mail (admin token or `sa_` key):
//! `GET /v1/admin/queue` (what waits and why) and `GET /v1/admin/dkim/{domain}`
//! (the DNS record to publish). `mailroom queue list` and `mailroom dkim-record`
//! call these while the server runs, because sled lets only one process open the store.

use super::{Reply, error, reply};
use crate::auth::Principal;
use crate::delivery::outbound::admin;
use crate::server::Context;
use crate::store::KeyKind;
use hyper::{Method, StatusCode};

/// Answers `/v1/admin/...` requests.
pub async fn handle(ctx: &Context, principal: Option<&Principal>, method: &Method, path: &str) -> Reply {
    let operator = match principal {
        Some(Principal::Admin) => true,
        Some(Principal::Key(k)) => k.kind == KeyKind::Service,
        None => false,
    };
    if !operator {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Authentication required.");
    }
    if method != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "GET only");
    }
    if path == "/v1/admin/queue" {
        return match admin::queue_report(&ctx.store) {
            Ok(report) => reply(StatusCode::OK, report),
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error"),
        };
    }
    if let Some(domain) = path.strip_prefix("/v1/admin/dkim/") {
        return match admin::dkim_report(&ctx.store, &ctx.config, domain).await {
            Ok(Some(record)) => reply(StatusCode::OK, record),
            Ok(None) => error(StatusCode::NOT_FOUND, "NOT_FOUND", "not a domain of this server"),
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error"),
        };
    }
    error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such path")
}
