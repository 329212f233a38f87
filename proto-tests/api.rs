//! The control API driven over HTTP against the real server: tenants, workspaces
//! and their keys, scopes and tenant isolation, pagination, restart.

mod api_support;
mod common;

use api_support::*;
use common::*;

#[test]
fn healthz_metrics_and_me() {
    let server = TestServer::start();
    let r = curl(&[&server.api_url("/healthz")]);
    assert_eq!((r.status, r.json["status"].as_str()), (200, Some("ok")), "{}", r.show());
    assert!(r.header("x-request-id").is_some_and(|id| !id.is_empty()));
    assert!(r.header("x-ratelimit-limit").is_none(), "healthz is not rate-limited");
    let (tenant_id, tk) = tenant(&server, "Acme", None);
    let me = curl(&["-H", &format!("X-API-Key: {tk}"), &server.api_url("/v1/me")]);
    assert_eq!(me.status, 200, "{}", me.show());
    assert_eq!(me.json, serde_json::json!({"kind": "tenant", "tenantId": tenant_id}));
    assert!(me.header("x-ratelimit-remaining").is_some());
    let admin = call(&server, "GET", "/v1/me", Some(ADMIN_TOKEN), None);
    assert_eq!(admin.json["kind"], "service");
    let metrics = curl(&[&server.api_url("/metrics")]);
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        metrics.body.contains("mailroom_api_requests_total{status=\"200\"}"),
        "{}",
        metrics.body
    );
    // HTTP/2 (prior knowledge, as over a plain TCP connection) answers the same.
    let h2 = curl(&[
        "--http2-prior-knowledge",
        "-H",
        &format!("X-API-Key: {tk}"),
        &server.api_url("/v1/me"),
    ]);
    assert_eq!(h2.status, 200, "{}", h2.show());
    assert_eq!(h2.json["tenantId"], tenant_id.as_str());
    assert!(h2.header("x-request-id").is_some());
    // A caller's own request id is echoed.
    let r = request(&server, "GET", "/healthz", &[("X-Request-Id", "trace-42")], None);
    assert_eq!(r.header("x-request-id"), Some("trace-42"));
}

#[test]
fn metrics_can_require_the_operator() {
    let server = TestServer::start_with("[api]\nmetrics_require_auth = true\n");
    assert_eq!(call(&server, "GET", "/metrics", None, None).status, 401);
    let (_, tk) = tenant(&server, "Acme", None);
    assert_eq!(call(&server, "GET", "/metrics", Some(&tk), None).code(), "FORBIDDEN");
    assert_eq!(call(&server, "GET", "/metrics", Some(ADMIN_TOKEN), None).status, 200);
}

#[test]
fn tenants_are_the_operators() {
    let server = TestServer::start();
    let r = curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Authorization: Bearer {ADMIN_TOKEN}"),
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"name": "Acme agents", "maxInboxes": 5}"#,
        &server.api_url("/v1/tenants"),
    ]);
    assert_eq!(r.status, 201, "{}", r.show());
    assert_eq!(r.json["name"], "Acme agents");
    assert_eq!(r.json["maxInboxes"], 5);
    assert!(r.json["apiKey"].as_str().unwrap().starts_with("tk_"));
    assert!(r.json["createdAt"].as_str().unwrap().ends_with('Z'));
    let tk = str_of(&r.json["apiKey"]);
    let other = tenant(&server, "Other", None);
    let list = call(&server, "GET", "/v1/tenants", Some(ADMIN_TOKEN), None);
    assert_eq!(list.json["pagination"]["total"], 2, "{}", list.show());
    assert!(list.json["data"][0].get("apiKey").is_none(), "keys are shown once");
    assert_eq!(list.json["data"][1]["id"], other.0.as_str());
    // Only the operator manages tenants.
    assert_eq!(call(&server, "GET", "/v1/tenants", Some(&tk), None).code(), "FORBIDDEN");
    let r = call(&server, "POST", "/v1/tenants", Some(&tk), Some(r#"{"name":"x"}"#));
    assert_eq!((r.status, r.code()), (403, "FORBIDDEN"));
    // Deleting a tenant removes its inboxes and keys.
    let made = inbox(&server, &other.1, r#"{"username":"gone"}"#, 201);
    let r = call(
        &server,
        "DELETE",
        &format!("/v1/tenants/{}", other.0),
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(
        (r.status, r.json["deleted"].as_bool()),
        (200, Some(true)),
        "{}",
        r.show()
    );
    assert_eq!(call(&server, "GET", "/v1/me", Some(&other.1), None).status, 401);
    assert_eq!(
        call(&server, "GET", "/v1/me", Some(&str_of(&made.json["apiKey"])), None).status,
        401
    );
    let r = call(
        &server,
        "DELETE",
        &format!("/v1/tenants/{}", other.0),
        Some(ADMIN_TOKEN),
        None,
    );
    assert_eq!(r.status, 404);
    // The address is free again.
    let (_, third) = tenant(&server, "Third", None);
    let again = inbox(&server, &third, r#"{"username":"gone"}"#, 201);
    assert_eq!(again.json["username"], "gone");
}

#[test]
fn workspaces_and_their_keys() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Acme", None);
    let list = call(&server, "GET", "/v1/workspaces", Some(&tk), None);
    assert_eq!(list.json["pagination"]["total"], 1);
    let default = list.json["data"][0].clone();
    assert_eq!(
        (default["slug"].as_str(), default["isDefault"].as_bool()),
        (Some("default"), Some(true))
    );
    let r = call(
        &server,
        "POST",
        "/v1/workspaces",
        Some(&tk),
        Some(r#"{"name":"Sales & Support"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.show());
    assert_eq!(
        (r.json["slug"].as_str(), r.json["inboxCount"].as_u64()),
        (Some("sales-support"), Some(0))
    );
    let sales = str_of(&r.json["id"]);
    let r = call(
        &server,
        "POST",
        "/v1/workspaces",
        Some(&tk),
        Some(r#"{"name":"Sales 2","slug":"sales-support"}"#),
    );
    assert_eq!((r.status, r.code()), (409, "ALREADY_EXISTS"));
    let r = call(
        &server,
        "POST",
        "/v1/workspaces",
        Some(&tk),
        Some(r#"{"name":"Sales & Support"}"#),
    );
    assert_eq!(r.json["slug"], "sales-support-2", "a generated slug moves on");
    let r = call(
        &server,
        "DELETE",
        &format!("/v1/workspaces/{}", str_of(&default["id"])),
        Some(&tk),
        None,
    );
    assert_eq!(r.status, 409, "{}", r.show());

    // A workspace key: shown once, listed by prefix, confined to its workspace.
    let r = call(
        &server,
        "POST",
        &format!("/v1/workspaces/{sales}/keys"),
        Some(&tk),
        Some(r#"{"name":"ci"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.show());
    let wk = str_of(&r.json["key"]);
    assert!(wk.starts_with("wk_"));
    assert_eq!(
        (r.json["name"].as_str(), r.json["workspaceId"].as_str()),
        (Some("ci"), Some(sales.as_str()))
    );
    let keys = call(&server, "GET", &format!("/v1/workspaces/{sales}/keys"), Some(&tk), None);
    let listed = &keys.json["data"][0];
    assert_eq!(keys.json["pagination"]["total"], 1);
    assert!(listed.get("key").is_none() && wk.starts_with(listed["prefix"].as_str().unwrap()));
    let me = call(&server, "GET", "/v1/me", Some(&wk), None);
    assert_eq!(
        (me.json["kind"].as_str(), me.json["workspaceId"].as_str()),
        (Some("workspace"), Some(sales.as_str()))
    );
    let mine = call(&server, "GET", "/v1/workspaces", Some(&wk), None);
    assert_eq!(mine.json["pagination"]["total"], 1);
    assert_eq!(mine.json["data"][0]["id"], sales.as_str());
    let other = format!("/v1/workspaces/{}", str_of(&default["id"]));
    assert_eq!(
        call(&server, "GET", &other, Some(&wk), None).status,
        404,
        "another workspace is not there"
    );
    assert_eq!(
        call(&server, "GET", &format!("{other}/keys"), Some(&wk), None).status,
        404
    );
    let r = call(&server, "POST", "/v1/workspaces", Some(&wk), Some(r#"{"name":"x"}"#));
    assert_eq!(r.code(), "FORBIDDEN");

    // Inboxes made with the wk_ key land in its workspace; it sees only those.
    let in_sales = inbox(&server, &wk, r#"{"username":"seller"}"#, 201);
    assert_eq!(in_sales.json["workspaceId"], sales.as_str());
    let in_default = inbox(&server, &tk, r#"{"username":"main"}"#, 201);
    let seen = call(&server, "GET", "/v1/inboxes", Some(&wk), None);
    assert_eq!(seen.json["pagination"]["total"], 1, "{}", seen.show());
    assert_eq!(seen.json["data"][0]["username"], "seller");
    let path = format!("/v1/inboxes/{}", str_of(&in_default.json["id"]));
    assert_eq!(call(&server, "GET", &path, Some(&wk), None).status, 404);
    assert_eq!(call(&server, "DELETE", &path, Some(&wk), None).status, 404);
    let r = call(
        &server,
        "POST",
        "/v1/inboxes",
        Some(&wk),
        Some(r#"{"username":"main"}"#),
    );
    assert_eq!(
        (r.status, r.json["username"].as_str()),
        (201, Some("main1")),
        "{}",
        r.show()
    );
    let filtered = call(
        &server,
        "GET",
        &format!("/v1/inboxes?workspaceId={sales}"),
        Some(&tk),
        None,
    );
    assert_eq!(filtered.json["pagination"]["total"], 2);
    let ws = call(&server, "GET", &format!("/v1/workspaces/{sales}"), Some(&tk), None);
    assert_eq!(ws.json["inboxCount"], 2);

    // Revoked at once.
    let key_id = str_of(&listed["id"]);
    let r = call(
        &server,
        "DELETE",
        &format!("/v1/workspaces/{sales}/keys/{key_id}"),
        Some(&tk),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.show());
    assert_eq!(call(&server, "GET", "/v1/me", Some(&wk), None).status, 401);

    // Deleting the workspace takes its inboxes with it.
    let r = call(&server, "DELETE", &format!("/v1/workspaces/{sales}"), Some(&tk), None);
    assert_eq!(r.status, 200, "{}", r.show());
    let left = call(&server, "GET", "/v1/inboxes", Some(&tk), None);
    assert_eq!(left.json["pagination"]["total"], 1);
    let gone = format!("/v1/inboxes/{}", str_of(&in_sales.json["id"]));
    assert_eq!(call(&server, "GET", &gone, Some(&tk), None).status, 404);
    let seller_key = str_of(&in_sales.json["apiKey"]);
    assert_eq!(call(&server, "GET", "/v1/me", Some(&seller_key), None).status, 401);
}

#[test]
fn agent_keys_see_only_their_inbox() {
    let server = TestServer::start();
    let (tenant_id, tk) = tenant(&server, "Acme", None);
    let a = inbox(&server, &tk, r#"{"username":"agent-a"}"#, 201);
    inbox(&server, &tk, r#"{"username":"agent-b"}"#, 201);
    let ak = str_of(&a.json["apiKey"]);
    assert!(ak.starts_with("ak_"));
    let a_id = str_of(&a.json["id"]);
    let me = call(&server, "GET", "/v1/me", Some(&ak), None);
    assert_eq!(
        (me.json["kind"].as_str(), me.json["inboxId"].as_str()),
        (Some("inbox"), Some(a_id.as_str()))
    );
    assert_eq!(me.json["tenantId"], tenant_id.as_str());
    let list = call(&server, "GET", "/v1/inboxes", Some(&ak), None);
    assert_eq!(list.json["pagination"]["total"], 1, "{}", list.show());
    assert_eq!(list.json["data"][0]["id"], a_id.as_str());
    assert_eq!(
        call(&server, "GET", &format!("/v1/inboxes/{a_id}"), Some(&ak), None).status,
        200
    );
    let r = call(
        &server,
        "POST",
        "/v1/inboxes",
        Some(&ak),
        Some(r#"{"username":"more"}"#),
    );
    assert_eq!((r.status, r.code()), (403, "FORBIDDEN"), "{}", r.show());
    let r = call(&server, "DELETE", &format!("/v1/inboxes/{a_id}"), Some(&ak), None);
    assert_eq!(r.code(), "FORBIDDEN");
    assert_eq!(
        call(&server, "GET", "/v1/workspaces", Some(&ak), None).code(),
        "FORBIDDEN"
    );

    // More ak_ keys for the inbox; the first one is listed too.
    let r = call(
        &server,
        "POST",
        &format!("/v1/inboxes/{a_id}/keys"),
        Some(&tk),
        Some(r#"{"name":"second"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.show());
    assert_eq!(r.json["inboxId"], a_id.as_str());
    let second = str_of(&r.json["key"]);
    let keys = call(&server, "GET", &format!("/v1/inboxes/{a_id}/keys"), Some(&tk), None);
    assert_eq!(keys.json["pagination"]["total"], 2, "{}", keys.show());
    let first_id = str_of(&keys.json["data"][0]["id"]);
    let r = call(
        &server,
        "DELETE",
        &format!("/v1/inboxes/{a_id}/keys/{first_id}"),
        Some(&tk),
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        call(&server, "GET", "/v1/me", Some(&ak), None).status,
        401,
        "revoked at once"
    );
    assert_eq!(call(&server, "GET", "/v1/me", Some(&second), None).status, 200);
}

#[test]
fn other_tenants_do_not_exist() {
    let server = TestServer::start();
    let (_, a) = tenant(&server, "A", None);
    let (_, b) = tenant(&server, "B", None);
    let mine = inbox(&server, &a, r#"{"username":"private"}"#, 201);
    let id = str_of(&mine.json["id"]);
    for (method, path) in [
        ("GET", format!("/v1/inboxes/{id}")),
        ("PATCH", format!("/v1/inboxes/{id}")),
        ("DELETE", format!("/v1/inboxes/{id}")),
        ("POST", format!("/v1/inboxes/{id}/password")),
        ("GET", format!("/v1/inboxes/{id}/keys")),
        ("POST", format!("/v1/inboxes/{id}/keys")),
    ] {
        let r = call(&server, method, &path, Some(&b), Some("{}"));
        assert_eq!(
            (r.status, r.code()),
            (404, "NOT_FOUND"),
            "{method} {path}: {}",
            r.show()
        );
    }
    let ws = call(&server, "GET", "/v1/workspaces", Some(&a), None);
    let ws_id = str_of(&ws.json["data"][0]["id"]);
    assert_eq!(
        call(&server, "GET", &format!("/v1/workspaces/{ws_id}"), Some(&b), None).status,
        404
    );
    let r = call(
        &server,
        "GET",
        &format!("/v1/inboxes?workspaceId={ws_id}"),
        Some(&b),
        None,
    );
    assert_eq!(r.status, 404);
    let r = call(
        &server,
        "POST",
        "/v1/inboxes",
        Some(&b),
        Some(&format!(r#"{{"workspaceId":"{ws_id}"}}"#)),
    );
    assert_eq!(r.status, 404, "{}", r.show());
    assert_eq!(
        call(&server, "GET", "/v1/inboxes", Some(&b), None).json["pagination"]["total"],
        0
    );
    // Still there for its owner.
    assert_eq!(
        call(&server, "GET", &format!("/v1/inboxes/{id}"), Some(&a), None).status,
        200
    );
}

#[test]
fn pagination_limit_offset_has_more() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Acme", None);
    let names: Vec<String> = (0..7).map(|i| format!("p{i}")).collect();
    for name in &names {
        inbox(&server, &tk, &format!(r#"{{"username":"{name}"}}"#), 201);
    }
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let r = call(
            &server,
            "GET",
            &format!("/v1/inboxes?limit=3&offset={offset}"),
            Some(&tk),
            None,
        );
        let p = &r.json["pagination"];
        assert_eq!(
            (p["limit"].as_u64(), p["offset"].as_u64(), p["total"].as_u64()),
            (Some(3), Some(offset), Some(7))
        );
        let data = r.json["data"].as_array().unwrap();
        seen.extend(data.iter().map(|i| str_of(&i["username"])));
        assert_eq!(p["hasMore"].as_bool(), Some(offset + (data.len() as u64) < 7));
        if !p["hasMore"].as_bool().unwrap() {
            break;
        }
        offset += 3;
    }
    assert_eq!(seen, names, "creation order, each once");
    let past = call(&server, "GET", "/v1/inboxes?offset=50", Some(&tk), None);
    assert_eq!(past.json["data"].as_array().map(Vec::len), Some(0));
    assert_eq!(past.json["pagination"]["hasMore"], false);
    let default = call(&server, "GET", "/v1/inboxes", Some(&tk), None);
    assert_eq!(default.json["pagination"]["limit"], 50);
    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "offset=-1",
        "sort=name",
        "limit=1&limit=2",
    ] {
        let r = call(&server, "GET", &format!("/v1/inboxes?{bad}"), Some(&tk), None);
        assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"), "{bad}");
    }
}

#[test]
fn restart_keeps_everything() {
    let mut server = TestServer::start();
    let (tenant_id, tk) = tenant(&server, "Acme", Some(3));
    let ws = call(&server, "POST", "/v1/workspaces", Some(&tk), Some(r#"{"name":"Ops"}"#));
    let ws_id = str_of(&ws.json["id"]);
    let wk = call(
        &server,
        "POST",
        &format!("/v1/workspaces/{ws_id}/keys"),
        Some(&tk),
        None,
    );
    let wk = str_of(&wk.json["key"]);
    let made = inbox(
        &server,
        &wk,
        r#"{"username":"scout","password":"correct horse battery"}"#,
        201,
    );
    let id = str_of(&made.json["id"]);
    let ak = str_of(&made.json["apiKey"]);

    server.restart();

    let list = call(&server, "GET", "/v1/tenants", Some(ADMIN_TOKEN), None);
    assert_eq!(list.json["data"][0]["id"], tenant_id.as_str());
    assert_eq!(list.json["data"][0]["maxInboxes"], 3);
    assert_eq!(
        call(&server, "GET", &format!("/v1/workspaces/{ws_id}"), Some(&tk), None).json["inboxCount"],
        1
    );
    for key in [&tk, &wk, &ak] {
        let r = call(&server, "GET", &format!("/v1/inboxes/{id}"), Some(key), None);
        assert_eq!(r.status, 200, "{}", r.show());
    }
    let again = inbox(&server, &wk, r#"{"username":"scout"}"#, 200);
    assert_eq!(
        (again.json["id"].as_str(), again.json["existed"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    assert_eq!(imap_login(&server, "scout@example.test", "correct horse battery"), "OK");
}
