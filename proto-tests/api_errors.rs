//! Every error row of API.md, and hostile input: each gets its status, code,
//! headers and the JSON body, and nothing is stored.

mod api_support;
mod common;

use api_support::*;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The error body API.md promises, with a request id.
fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{}", r.show());
    assert_eq!(r.json["statusCode"], status);
    assert!(r.json["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", r.show());
    assert!(
        r.json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.show()
    );
    assert!(r.header("content-type").unwrap_or("").starts_with("application/json"));
    assert!(
        r.header("x-request-id").is_some_and(|id| !id.is_empty()),
        "{}",
        r.show()
    );
}

fn total_inboxes(server: &TestServer, key: &str) -> u64 {
    let r = call(server, "GET", "/v1/inboxes", Some(key), None);
    r.json["pagination"]["total"].as_u64().expect("a list")
}

#[test]
fn unauthorized_is_one_answer_for_every_bad_key() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Acme", None);
    let ws = call(&server, "GET", "/v1/workspaces", Some(&tk), None);
    let ws_id = str_of(&ws.json["data"][0]["id"]);
    let made = call(
        &server,
        "POST",
        &format!("/v1/workspaces/{ws_id}/keys"),
        Some(&tk),
        None,
    );
    let revoked = str_of(&made.json["key"]);
    let path = format!("/v1/workspaces/{ws_id}/keys/{}", str_of(&made.json["id"]));
    assert_eq!(call(&server, "DELETE", &path, Some(&tk), None).status, 200);
    let unknown = format!("tk_{}", "A".repeat(43));
    let basic = "Basic dXNlcjpwYXNz".to_string();
    let bearer = |k: &str| format!("Bearer {k}");
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("missing", vec![]),
        ("malformed", vec![("Authorization", bearer("not-a-key"))]),
        ("unknown", vec![("Authorization", bearer(&unknown))]),
        ("revoked", vec![("Authorization", bearer(&revoked))]),
        ("basic", vec![("Authorization", basic)]),
        ("empty x-api-key", vec![("X-API-Key", String::new())]),
        ("unknown x-api-key", vec![("X-API-Key", unknown.clone())]),
        ("overlong", vec![("X-API-Key", "k".repeat(5000))]),
    ];
    let mut messages = Vec::new();
    for (what, headers) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = request(&server, "GET", "/v1/inboxes", &headers, None);
        assert_error(&r, 401, "UNAUTHORIZED");
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Bearer realm="API", charset="UTF-8""#),
            "{what}"
        );
        messages.push(r.json["message"].clone());
    }
    assert!(
        messages.windows(2).all(|w| w[0] == w[1]),
        "one message for all: {messages:?}"
    );
    // Both headers work for a good key, with any case of the scheme.
    let r = request(&server, "GET", "/v1/me", &[("X-API-Key", &tk)], None);
    assert_eq!(r.status, 200);
    let r = request(
        &server,
        "GET",
        "/v1/me",
        &[("Authorization", &format!("bEaReR {tk}"))],
        None,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn not_found_and_method_not_allowed() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Acme", None);
    for path in [
        "/",
        "/v2/inboxes",
        "/v1/inboxes/",
        "/v1/nothing",
        "/v1/inboxes/x/y/z/w",
        "/healthz/x",
    ] {
        assert_error(&call(&server, "GET", path, Some(&tk), None), 404, "NOT_FOUND");
    }
    // Ids that are not UUIDs, traversal, encoded traversal: no such resource.
    for path in [
        "/v1/inboxes/123",
        "/v1/inboxes/../tenants",
        "/v1/inboxes/%2e%2e/keys",
        "/v1/inboxes/..%2f..%2fetc%2fpasswd",
        "/v1/inboxes/00000000000000000000000000000000",
        "/v1/inboxes/{00000000-0000-0000-0000-000000000000}",
        "/v1/inboxes/00000000-0000-0000-0000-000000000000",
        "/v1/workspaces/%00",
    ] {
        assert_error(&call(&server, "GET", path, Some(&tk), None), 404, "NOT_FOUND");
    }
    let r = curl(&[
        "--path-as-is",
        "-H",
        &format!("X-API-Key: {tk}"),
        &server.api_url("/v1/inboxes/../../healthz"),
    ]);
    assert_error(&r, 404, "NOT_FOUND");
    for (method, path, allow) in [
        ("PUT", "/v1/inboxes", "GET, POST"),
        ("DELETE", "/v1/inboxes", "GET, POST"),
        ("POST", "/healthz", "GET"),
        ("GET", "/v1/tenants/00000000-0000-0000-0000-000000000000", "DELETE"),
        (
            "PUT",
            "/v1/inboxes/00000000-0000-0000-0000-000000000000",
            "GET, PATCH, DELETE",
        ),
        (
            "GET",
            "/v1/inboxes/00000000-0000-0000-0000-000000000000/password",
            "POST",
        ),
    ] {
        let r = call(&server, method, path, None, None);
        assert_error(&r, 405, "METHOD_NOT_ALLOWED");
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
}

#[test]
fn bodies_too_large_malformed_or_not_json() {
    let server = TestServer::start_with("[api]\nmax_body_bytes = 4096\n");
    let (_, tk) = tenant(&server, "Acme", None);
    let auth = format!("Bearer {tk}");
    let json = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    let big = format!(r#"{{"username":"big","displayName":"{}"}}"#, "x".repeat(5000));
    assert_error(
        &request(&server, "POST", "/v1/inboxes", &json, Some(big.as_bytes())),
        413,
        "PAYLOAD_TOO_LARGE",
    );
    // Chunked, with no length announced: cut off at the limit all the same.
    let mut chunked = format!(
        "POST /v1/inboxes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {auth}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for _ in 0..5 {
        chunked.push_str(&format!("400\r\n{}\r\n", " ".repeat(1024)));
    }
    chunked.push_str("0\r\n\r\n");
    assert_error(&raw(&server, chunked.as_bytes()), 413, "PAYLOAD_TOO_LARGE");

    for body in [
        "{",
        "{\"username\": }",
        "not json",
        "{\"username\":\"a\"} trailing",
        "\u{feff}{}",
    ] {
        let r = request(&server, "POST", "/v1/inboxes", &json, Some(body.as_bytes()));
        assert_error(&r, 400, "INVALID_JSON");
    }
    let r = request(
        &server,
        "POST",
        "/v1/inboxes",
        &json,
        Some(b"{\"username\":\"\xff\xfe\"}"),
    );
    assert_error(&r, 400, "INVALID_JSON");
    // Deep nesting: refused by type (or as not an object) before depth matters.
    let deep_field = format!("{{\"username\":{}{}}}", "[".repeat(1500), "]".repeat(1500));
    let deep_array = format!("{}{}", "[".repeat(1500), "]".repeat(1500));
    for body in ["[]", "\"scout\"", "42", "null", &deep_array, &deep_field] {
        let r = request(&server, "POST", "/v1/inboxes", &json, Some(body.as_bytes()));
        assert_error(&r, 400, "VALIDATION_ERROR");
    }

    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "multipart/form-data",
    ] {
        let headers = [("Authorization", auth.as_str()), ("Content-Type", content_type)];
        let r = request(
            &server,
            "POST",
            "/v1/inboxes",
            &headers,
            Some(br#"{"username":"typed"}"#),
        );
        assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    }
    let r = request(
        &server,
        "POST",
        "/v1/inboxes",
        &[("Authorization", &auth)],
        Some(br#"{"username":"untyped"}"#),
    );
    assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    // curl -d without -H sends a form type.
    let r = curl(&[
        "-H",
        &format!("X-API-Key: {tk}"),
        "-d",
        r#"{"username":"curl"}"#,
        &server.api_url("/v1/inboxes"),
    ]);
    assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    // A charset parameter is fine.
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "Application/JSON; charset=UTF-8"),
    ];
    let r = request(
        &server,
        "POST",
        "/v1/inboxes",
        &headers,
        Some(br#"{"username":"typed"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.show());
    assert_eq!(total_inboxes(&server, &tk), 1, "only the good one was stored");
}

#[test]
fn hostile_fields_are_refused_and_nothing_is_stored() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Acme", None);
    let long = "a".repeat(65);
    let long_name = format!(r#"{{"displayName":"{}"}}"#, "n".repeat(257));
    let bodies = [
        r#"{"username":"a\r\nb"}"#.to_string(),
        r#"{"username":"a b"}"#.into(),
        r#"{"username":"../../etc"}"#.into(),
        r#"{"username":".dot"}"#.into(),
        r#"{"username":"dot."}"#.into(),
        r#"{"username":"a..b"}"#.into(),
        r#"{"username":"x@evil.test"}"#.into(),
        r#"{"username":"ünï"}"#.into(),
        r#"{"username":""}"#.into(),
        format!(r#"{{"username":"{long}"}}"#),
        r#"{"username":"ok","displayName":"Evil\r\nBcc: all@x"}"#.into(),
        r#"{"username":"ok","displayName":"nul\u0000byte"}"#.into(),
        r#"{"username":"ok","displayName":"tab\tbed"}"#.into(),
        long_name,
        r#"{"username":"ok","password":"short"}"#.into(),
        r#"{"username":"ok","password":"twelve chars\nplus"}"#.into(),
        r#"{"username":"ok","domain":"elsewhere.test"}"#.into(),
        r#"{"username":"ok","domain":"example.test\r\n"}"#.into(),
        r#"{"username":"ok","workspaceId":"not-a-uuid"}"#.into(),
        r#"{"username":"ok","nickname":"unknown field"}"#.into(),
        r#"{"username":42}"#.into(),
        r#"{"username":["a"]}"#.into(),
        r#"{"username":"ok","displayName":{"x":1}}"#.into(),
        r#"{"username":"ok","password":12345678901234}"#.into(),
        r#"{"username":"ok","username":"twice"}"#.into(),
    ];
    for body in &bodies {
        let r = call(&server, "POST", "/v1/inboxes", Some(&tk), Some(body));
        assert_error(&r, 400, "VALIDATION_ERROR");
    }
    let r = call(
        &server,
        "POST",
        "/v1/inboxes?strict=maybe",
        Some(&tk),
        Some(r#"{"username":"ok"}"#),
    );
    assert_error(&r, 400, "VALIDATION_ERROR");
    let r = call(
        &server,
        "POST",
        "/v1/inboxes?force=true",
        Some(&tk),
        Some(r#"{"username":"ok"}"#),
    );
    assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(total_inboxes(&server, &tk), 0);

    for body in [
        r#"{"name":"a\nb"}"#,
        r#"{"name":""}"#,
        r#"{"name":"   "}"#,
        r#"{"name":"x","maxInboxes":-1}"#,
        "{}",
    ] {
        let r = call(&server, "POST", "/v1/tenants", Some(ADMIN_TOKEN), Some(body));
        assert_error(&r, 400, "VALIDATION_ERROR");
    }
    let r = call(&server, "POST", "/v1/tenants", Some(ADMIN_TOKEN), None);
    assert_error(&r, 400, "VALIDATION_ERROR");
    let tenants = call(&server, "GET", "/v1/tenants", Some(ADMIN_TOKEN), None);
    assert_eq!(tenants.json["pagination"]["total"], 1);
    for body in [
        r#"{"name":"w","slug":"Bad Slug"}"#,
        r#"{"name":"w\u0007"}"#,
        r#"{"name":"w","slug":"-x"}"#,
    ] {
        let r = call(&server, "POST", "/v1/workspaces", Some(&tk), Some(body));
        assert_error(&r, 400, "VALIDATION_ERROR");
    }
    let ws = call(&server, "GET", "/v1/workspaces", Some(&tk), None);
    assert_eq!(ws.json["pagination"]["total"], 1);
    let ws_id = str_of(&ws.json["data"][0]["id"]);
    let r = call(
        &server,
        "POST",
        &format!("/v1/workspaces/{ws_id}/keys"),
        Some(&tk),
        Some(r#"{"name":"a\r\nb"}"#),
    );
    assert_error(&r, 400, "VALIDATION_ERROR");
    let keys = call(&server, "GET", &format!("/v1/workspaces/{ws_id}/keys"), Some(&tk), None);
    assert_eq!(keys.json["pagination"]["total"], 0);
}

#[test]
fn forbidden_for_the_wrong_kind_of_key() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Acme", None);
    let made = inbox(&server, &tk, r#"{"username":"agent"}"#, 201);
    let ak = str_of(&made.json["apiKey"]);
    let r = call(
        &server,
        "POST",
        "/v1/inboxes",
        Some(&ak),
        Some(r#"{"username":"more"}"#),
    );
    assert_error(&r, 403, "FORBIDDEN");
    assert_error(&call(&server, "GET", "/v1/tenants", Some(&tk), None), 403, "FORBIDDEN");
    assert_error(
        &call(&server, "GET", "/v1/inboxes", Some(ADMIN_TOKEN), None),
        403,
        "FORBIDDEN",
    );
    let r = call(&server, "POST", "/v1/inboxes", Some(ADMIN_TOKEN), Some("{}"));
    assert_error(&r, 403, "FORBIDDEN");
    assert_eq!(total_inboxes(&server, &tk), 1);
}

#[test]
fn over_the_rate_is_429_with_retry_after() {
    let server = TestServer::start_with("[api]\nrate_limit_per_second = 1\nrate_limit_burst = 3\n");
    let (_, tk) = tenant(&server, "Acme", None);
    let (_, other) = tenant(&server, "Other", None);
    let mut remaining = Vec::new();
    let mut refused = None;
    for _ in 0..6 {
        let r = call(&server, "GET", "/v1/me", Some(&tk), None);
        assert_eq!(r.header("x-ratelimit-limit"), Some("3"), "{}", r.show());
        assert!(r.header("x-ratelimit-reset").is_some());
        remaining.push(r.header("x-ratelimit-remaining").unwrap_or("").to_string());
        if r.status == 429 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("refused within 6 requests at 1/s with a burst of 3");
    assert_error(&r, 429, "RATE_LIMITED");
    let wait: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=3).contains(&wait), "{wait}");
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(remaining[0], "2");
    // Another key has its own bucket; the refused one recovers after Retry-After.
    assert_eq!(call(&server, "GET", "/v1/me", Some(&other), None).status, 200);
    std::thread::sleep(Duration::from_secs(wait));
    assert_eq!(call(&server, "GET", "/v1/me", Some(&tk), None).status, 200);
}

#[test]
fn over_the_connection_limit_is_503_with_retry_after() {
    let server = TestServer::start_with("[api]\nmax_connections_per_ip = 1\n");
    let mut held = TcpStream::connect(server.addr("api")).expect("connect");
    held.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 512];
    held.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let n = held.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let r = call(&server, "GET", "/healthz", None, None);
    assert_error(&r, 503, "UNAVAILABLE");
    assert_eq!(r.header("retry-after"), Some("5"));
    drop(held);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while call(&server, "GET", "/healthz", None, None).status != 200 {
        assert!(std::time::Instant::now() < deadline, "the slot came back");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_finishes_open_connections_and_exits_0() {
    let mut server = TestServer::start();
    // A keep-alive connection left open must not hold the shutdown up.
    let mut idle = TcpStream::connect(server.addr("api")).expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 512];
    let _ = idle.read(&mut buf);
    let started = std::time::Instant::now();
    assert_eq!(server.stop(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}
