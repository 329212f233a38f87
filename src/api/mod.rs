//! The HTTP control API (API.md part 1) on hyper: HTTP/1.1 and HTTP/2.
//!
//! Each request: route (404), method (405), then the key (401), its rate (429),
//! the query (400) and the handler. Every response carries `X-Request-Id`; those of
//! rate-limited endpoints carry `X-RateLimit-*`. Handlers live one file per resource.

mod auth;
mod errors;
mod inboxes;
mod json;
mod keys;
mod metrics;
mod pagination;
mod queue;
mod setup;
mod tenants;
mod validate;
mod workspaces;

use crate::auth::ratelimit::RateDecision;
use crate::server::{Context, tune_accepted};
use auth::Scope;
use bytes::Bytes;
use errors::ApiError;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use json::Out;
use pagination::Query;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use uuid::Uuid;

type Reply = Response<Full<Bytes>>;

/// A client that sends no complete request head within this is disconnected.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Serves the API on `listener` until shutdown; open connections then finish the
/// request in flight and close.
pub async fn serve(ctx: Arc<Context>, listener: TcpListener) {
    let builder = Arc::new(connection_builder());
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "api accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tune_accepted(&tcp);
        let (ctx, builder) = (ctx.clone(), builder.clone());
        ctx.tasks.clone().spawn(async move {
            let max = ctx.config.api.max_connections_per_ip;
            let Some(_slot) = ctx.connections.acquire("api", peer.ip(), max) else {
                refuse_connection(tcp).await;
                return;
            };
            let service_ctx = ctx.clone();
            let service = hyper::service::service_fn(move |req| {
                let ctx = service_ctx.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&ctx, req).await) }
            });
            let conn = builder.serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(conn);
            let mut shutdown = ctx.shutdown.clone();
            let stopping = async move {
                let _ = shutdown.wait_for(|stopping| *stopping).await;
            };
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stopping => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

fn connection_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(64 * 1024);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(64);
    builder
}

/// Over the per-address connection limit: one 503, then close.
async fn refuse_connection(mut tcp: tokio::net::TcpStream) {
    let out = ApiError::unavailable("Too many connections from your address.").into_out();
    let id: u128 = rand::random();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: {}\r\nX-Request-Id: {id:032x}\r\nRetry-After: 5\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n",
        out.content_type,
        out.body.len()
    );
    let _ = tcp.write_all(head.as_bytes()).await;
    let _ = tcp.write_all(&out.body).await;
}

/// The resources of API.md part 1; ids are still text here (a malformed one is a 404 later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource<'a> {
    Healthz,
    Metrics,
    Me,
    Tenants,
    Tenant(&'a str),
    Workspaces,
    Workspace(&'a str),
    WorkspaceKeys(&'a str),
    WorkspaceKey(&'a str, &'a str),
    Inboxes,
    Inbox(&'a str),
    InboxPassword(&'a str),
    InboxKeys(&'a str),
    InboxKey(&'a str, &'a str),
    InboxMobileconfig(&'a str),
    /// Thunderbird autoconfig at the domain's own host, and at `autoconfig.<domain>`.
    AutoconfigWellKnown,
    Autoconfig,
    Autodiscover,
    /// Operator views of the outbound queue and DKIM records (not in API.md).
    AdminQueue,
    AdminDkim(&'a str),
}

fn route(path: &str) -> Option<Resource<'_>> {
    use Resource::*;
    let mut segments = [""; 5];
    let mut n = 0;
    for segment in path.strip_prefix('/')?.split('/') {
        *segments.get_mut(n)? = segment;
        n += 1;
    }
    Some(match &segments[..n] {
        ["healthz"] => Healthz,
        ["metrics"] => Metrics,
        ["v1", "me"] => Me,
        ["v1", "tenants"] => Tenants,
        ["v1", "tenants", id] => Tenant(id),
        ["v1", "workspaces"] => Workspaces,
        ["v1", "workspaces", id] => Workspace(id),
        ["v1", "workspaces", id, "keys"] => WorkspaceKeys(id),
        ["v1", "workspaces", id, "keys", key] => WorkspaceKey(id, key),
        ["v1", "inboxes"] => Inboxes,
        ["v1", "inboxes", id] => Inbox(id),
        ["v1", "inboxes", id, "password"] => InboxPassword(id),
        ["v1", "inboxes", id, "keys"] => InboxKeys(id),
        ["v1", "inboxes", id, "keys", key] => InboxKey(id, key),
        ["v1", "inboxes", id, "mobileconfig"] => InboxMobileconfig(id),
        [".well-known", "autoconfig", "mail", "config-v1.1.xml"] => AutoconfigWellKnown,
        ["mail", "config-v1.1.xml"] => Autoconfig,
        // Outlook capitalises the path as it likes.
        [a, b] if a.eq_ignore_ascii_case("autodiscover") && b.eq_ignore_ascii_case("autodiscover.xml") => Autodiscover,
        ["v1", "admin", "queue"] => AdminQueue,
        ["v1", "admin", "dkim", domain] => AdminDkim(domain),
        _ => return None,
    })
}

impl Resource<'_> {
    /// The route with its ids as placeholders, for logs and metrics.
    fn template(self) -> &'static str {
        use Resource::*;
        match self {
            Healthz => "/healthz",
            Metrics => "/metrics",
            Me => "/v1/me",
            Tenants => "/v1/tenants",
            Tenant(_) => "/v1/tenants/{id}",
            Workspaces => "/v1/workspaces",
            Workspace(_) => "/v1/workspaces/{id}",
            WorkspaceKeys(_) => "/v1/workspaces/{id}/keys",
            WorkspaceKey(..) => "/v1/workspaces/{id}/keys/{keyId}",
            Inboxes => "/v1/inboxes",
            Inbox(_) => "/v1/inboxes/{id}",
            InboxPassword(_) => "/v1/inboxes/{id}/password",
            InboxKeys(_) => "/v1/inboxes/{id}/keys",
            InboxKey(..) => "/v1/inboxes/{id}/keys/{keyId}",
            InboxMobileconfig(_) => "/v1/inboxes/{id}/mobileconfig",
            AutoconfigWellKnown => "/.well-known/autoconfig/mail/config-v1.1.xml",
            Autoconfig => "/mail/config-v1.1.xml",
            Autodiscover => "/autodiscover/autodiscover.xml",
            AdminQueue => "/v1/admin/queue",
            AdminDkim(_) => "/v1/admin/dkim/{domain}",
        }
    }

    /// The methods the resource has, as the `Allow` header lists them.
    fn allow(self) -> &'static str {
        use Resource::*;
        match self {
            Healthz | Metrics | Me | AdminQueue | AdminDkim(_) => "GET",
            InboxMobileconfig(_) | AutoconfigWellKnown | Autoconfig => "GET",
            Autodiscover => "POST",
            Tenants | Workspaces | WorkspaceKeys(_) | Inboxes | InboxKeys(_) => "GET, POST",
            Tenant(_) | WorkspaceKey(..) | InboxKey(..) => "DELETE",
            Workspace(_) => "GET, DELETE",
            Inbox(_) => "GET, PATCH, DELETE",
            InboxPassword(_) => "POST",
        }
    }

    /// The query parameters the endpoint knows; any other is a 400.
    fn params(self, method: &Method) -> &'static [&'static str] {
        match (self, method) {
            (Resource::Inboxes, &Method::GET) => &["limit", "offset", "workspaceId"],
            (Resource::Inboxes, &Method::POST) => &["strict"],
            (Resource::InboxMobileconfig(_), _) => &[],
            (_, &Method::GET) => &["limit", "offset"],
            _ => &[],
        }
    }
}

/// One authenticated request on its way to a handler.
pub struct Call<'a> {
    pub ctx: &'a Context,
    pub scope: Scope,
    pub query: Query,
    headers: &'a HeaderMap,
    body: Option<Incoming>,
}

impl Call<'_> {
    /// The JSON object body, None when there is none (API.md: 413, 415, 400).
    pub async fn json<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ApiError> {
        match self.body.take() {
            Some(body) => json::read(self.headers, body, self.ctx.config.api.max_body_bytes).await,
            None => Ok(None),
        }
    }
}

/// What the request log line and metrics learn while a request is dispatched.
#[derive(Default)]
struct Seen {
    rate: Option<RateDecision>,
    /// The route template; None for an unknown path.
    route: Option<&'static str>,
    /// The caller's key id and kind once authenticated.
    key: Option<(Uuid, &'static str)>,
}

async fn handle(ctx: &Context, req: Request<Incoming>) -> Reply {
    let started = std::time::Instant::now();
    let request_id = request_id(req.headers());
    let (parts, body) = req.into_parts();
    let mut seen = Seen::default();
    let out = match dispatch(ctx, &parts, body, &mut seen).await {
        Ok(out) => out,
        Err(e) => {
            if let Some(detail) = e.internal() {
                tracing::error!(request_id = ?request_id, code = e.code, %detail, "api request failed");
            }
            e.into_out()
        }
    };
    log_request(ctx, &parts.method, &seen, out.status, &request_id, started.elapsed());
    let mut resp = Response::new(Full::new(out.body));
    *resp.status_mut() = out.status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(out.content_type));
    headers.insert(X_REQUEST_ID, request_id);
    if let Some((name, value)) = out.header {
        headers.insert(name, value);
    }
    if let Some(d) = seen.rate.filter(|_| ctx.config.api.rate_limit_per_second > 0) {
        headers.insert(X_RATELIMIT_LIMIT, HeaderValue::from(d.limit));
        headers.insert(X_RATELIMIT_REMAINING, HeaderValue::from(d.remaining));
        headers.insert(X_RATELIMIT_RESET, HeaderValue::from(d.reset_secs));
    }
    resp
}

/// One info line and the metrics per request; never a key or a body.
fn log_request(
    ctx: &Context,
    method: &Method,
    seen: &Seen,
    status: hyper::StatusCode,
    request_id: &HeaderValue,
    took: Duration,
) {
    let route = seen.route.unwrap_or("unknown");
    ctx.metrics
        .inc("mailroom_api_requests_total", &[("status", status.as_str())]);
    (ctx.metrics).observe("mailroom_api_request_duration_seconds", &[("route", route)], took);
    let (key_id, key_kind) = match seen.key {
        Some((id, kind)) => (Some(id), kind),
        None => (None, "-"),
    };
    tracing::info!(
        method = %method,
        route,
        status = status.as_u16(),
        duration_ms = took.as_secs_f64() * 1000.0,
        key_id = %key_id.map_or_else(|| "-".to_string(), |id| id.to_string()),
        key_kind,
        request_id = request_id.to_str().unwrap_or("-"),
        "api request"
    );
}

async fn dispatch(
    ctx: &Context,
    parts: &hyper::http::request::Parts,
    body: Incoming,
    seen: &mut Seen,
) -> Result<Out, ApiError> {
    use Resource::*;
    let resource = route(parts.uri.path()).ok_or_else(|| ApiError::not_found("path"))?;
    seen.route = Some(resource.template());
    let method = &parts.method;
    if !resource.allow().split(", ").any(|m| m == method.as_str()) {
        return Err(ApiError::method_not_allowed(resource.allow()));
    }
    if ctx.is_shutting_down() {
        return Err(ApiError::unavailable("The server is shutting down."));
    }
    match resource {
        Healthz => return metrics::healthz(ctx),
        // Client setup needs no key (API.md part 2 section 0).
        AutoconfigWellKnown | Autoconfig => return setup::autoconfig(ctx, parts),
        Autodiscover => return setup::autodiscover(ctx, parts, body).await,
        Metrics if !ctx.config.api.metrics_require_auth => return metrics::render(ctx),
        _ => {}
    }
    let principal = auth::authenticate(ctx, &parts.headers)?;
    seen.key = Some(match &principal {
        crate::auth::Principal::Admin => (Uuid::nil(), "admin"),
        crate::auth::Principal::Key(k) => (k.id, k.kind.name()),
    });
    let decision = ctx.auth.check_rate(&principal);
    seen.rate = Some(decision);
    if !decision.allowed {
        return Err(ApiError::rate_limited(decision.reset_secs));
    }
    let scope = Scope::of(&principal).ok_or_else(ApiError::unauthorized)?;
    let query = Query::parse(parts.uri.query(), resource.params(method))?;
    let mut call = Call {
        ctx,
        scope,
        query,
        headers: &parts.headers,
        body: Some(body),
    };
    match (resource, method) {
        (Metrics, _) => {
            scope.require_operator()?;
            metrics::render(ctx)
        }
        (Me, _) => auth::me(scope),
        (Tenants, &Method::POST) => tenants::create(&mut call).await,
        (Tenants, _) => tenants::list(&call),
        (Tenant(id), _) => tenants::delete(&call, id).await,
        (Workspaces, &Method::POST) => workspaces::create(&mut call).await,
        (Workspaces, _) => workspaces::list(&call),
        (Workspace(id), &Method::DELETE) => workspaces::delete(&call, id).await,
        (Workspace(id), _) => workspaces::get(&call, id),
        (WorkspaceKeys(id), &Method::POST) => keys::create_workspace_key(&mut call, id).await,
        (WorkspaceKeys(id), _) => keys::list_workspace_keys(&call, id),
        (WorkspaceKey(id, key), _) => keys::revoke_workspace_key(&call, id, key).await,
        (Inboxes, &Method::POST) => inboxes::create(&mut call).await,
        (Inboxes, _) => inboxes::list(&call),
        (Inbox(id), &Method::PATCH) => inboxes::update(&mut call, id).await,
        (Inbox(id), &Method::DELETE) => inboxes::delete(&call, id).await,
        (Inbox(id), _) => inboxes::get(&call, id),
        (InboxPassword(id), _) => inboxes::rotate_password(&mut call, id).await,
        (InboxKeys(id), &Method::POST) => keys::create_inbox_key(&mut call, id).await,
        (InboxKeys(id), _) => keys::list_inbox_keys(&call, id),
        (InboxKey(id, key), _) => keys::revoke_inbox_key(&call, id, key).await,
        (InboxMobileconfig(id), _) => setup::mobileconfig(&call, id),
        (AutoconfigWellKnown | Autoconfig | Autodiscover, _) => Err(ApiError::bug("client setup routed late")),
        (AdminQueue, _) => queue::report(&call),
        (AdminDkim(domain), _) => queue::dkim(&call, domain).await,
        (Healthz, _) => metrics::healthz(ctx),
    }
}

/// Runs a store operation that may take long (a cascade over much mail) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::bug)?
        .map_err(ApiError::from)
}

/// After inboxes were deleted: the deletion is on disk, then their IMAP sessions
/// close and their cached logins are forgotten.
async fn inboxes_gone(ctx: &Context, inboxes: &[uuid::Uuid]) -> Result<(), ApiError> {
    ctx.store.durable().await?;
    for &id in inboxes {
        ctx.events.deleted(id);
        ctx.auth.forget_logins(id);
    }
    Ok(())
}

/// The caller's `X-Request-Id` when it is short and plain, else a new random one.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(given) = headers.get(X_REQUEST_ID)
        && (1..=64).contains(&given.len())
        && given
            .as_bytes()
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
    {
        return given.clone();
    }
    let id: u128 = rand::random();
    HeaderValue::from_str(&format!("{id:032x}")).unwrap_or(HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_segments() {
        assert_eq!(route("/v1/inboxes"), Some(Resource::Inboxes));
        assert_eq!(route("/v1/inboxes/x/keys/y"), Some(Resource::InboxKey("x", "y")));
        assert_eq!(route("/v1/inboxes/"), Some(Resource::Inbox("")));
        for path in [
            "",
            "/",
            "/v1",
            "/v1/inboxes/x/keys/y/z",
            "/v2/inboxes",
            "/v1//inboxes",
            "x",
        ] {
            assert_eq!(route(path), None, "{path}");
        }
    }
}
