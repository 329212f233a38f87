//! The HTTP control API (hyper). This first cut serves only what the protocol
//! tests need to provision inboxes; the full API.md surface replaces it.

use crate::auth::{Principal, keys, password};
use crate::server::Context;
use crate::store::{CreateInbox, InboxCreated, KeyKind};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

mod queue;

type Reply = Response<Full<Bytes>>;

/// Serves the API on `listener` until shutdown.
pub async fn serve(ctx: Arc<Context>, listener: tokio::net::TcpListener) {
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let (stream, _) = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let ctx2 = ctx.clone();
        ctx.tasks.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let ctx = ctx2.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(ctx, req).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(ctx: Arc<Context>, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let principal = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|k| ctx.auth.authenticate_key(k.trim()).ok().flatten());
    let body = match Limited::new(body, ctx.config.api.max_body_bytes).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "body too large"),
    };
    let json: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/healthz") => reply(StatusCode::OK, json!({"status": "ok"})),
        (&Method::POST, "/v1/tenants") => match principal {
            Some(Principal::Admin) => create_tenant(&ctx, &json),
            _ => error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Authentication required."),
        },
        (&Method::POST, "/v1/inboxes") => match principal {
            Some(Principal::Key(k)) if k.kind == KeyKind::Tenant => create_inbox(&ctx, &k, &json).await,
            _ => error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Authentication required."),
        },
        (m, p) if p.starts_with("/v1/admin/") => queue::handle(&ctx, principal.as_ref(), m, p).await,
        _ => error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such path"),
    }
}

fn create_tenant(ctx: &Context, body: &Value) -> Reply {
    let name = body["name"].as_str().unwrap_or("tenant");
    let (key, stored) = keys::generate(KeyKind::Tenant, None);
    match ctx.store.create_tenant(name, None, &stored) {
        Ok((t, _)) => reply(StatusCode::CREATED, json!({"id": t.id, "name": t.name, "apiKey": key})),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error"),
    }
}

async fn create_inbox(ctx: &Context, key: &crate::store::ApiKey, body: &Value) -> Reply {
    let Some(tenant_id) = key.tenant_id else {
        return error(StatusCode::FORBIDDEN, "FORBIDDEN", "no tenant");
    };
    let Ok(Some(ws)) = ctx.store.default_workspace(tenant_id) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error");
    };
    let username = body["username"].as_str().unwrap_or("agent").to_ascii_lowercase();
    let password = body["password"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(password::generate_password);
    let Ok(hash) = ctx.auth.hash_password(password.clone()).await else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error");
    };
    let (ak, stored) = keys::generate(KeyKind::Inbox, None);
    let req = CreateInbox {
        tenant_id,
        workspace_id: ws.id,
        username,
        domain: body["domain"]
            .as_str()
            .unwrap_or(ctx.config.default_domain())
            .to_string(),
        display_name: None,
        password_hash: hash,
        key: stored,
        fallback: true,
    };
    match ctx.store.create_inbox(&req) {
        Ok(InboxCreated::Created { inbox, .. }) => reply(
            StatusCode::CREATED,
            json!({"id": inbox.id, "email": inbox.address(), "imapPassword": password, "apiKey": ak}),
        ),
        Ok(InboxCreated::Existed(inbox)) => reply(StatusCode::OK, json!({"id": inbox.id, "email": inbox.address()})),
        _ => error(StatusCode::CONFLICT, "USERNAME_TAKEN", "taken"),
    }
}

fn reply(status: StatusCode, body: Value) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        "content-type",
        "application/json; charset=utf-8".parse().expect("static header"),
    );
    resp
}

fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    reply(
        status,
        json!({"error": status.canonical_reason().unwrap_or(""), "code": code, "message": message, "statusCode": status.as_u16()}),
    )
}
