//! POST /v1/inboxes and the inbox's life: the inbox object, idempotent and
//! concurrent creates, numeric fallback, strict 409, PLAN_LIMIT, PATCH, password
//! rotation seen over IMAP, DELETE closing an IMAP session.

mod api_support;
mod common;

use api_support::*;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn the_inbox_object() {
    let server = TestServer::start_with("[public]\nhost = \"imap.example.net\"\nimap_port = 1993\nsmtp_port = 2587\n");
    let (_, tk) = tenant(&server, "Acme", None);
    let r = inbox(
        &server,
        &tk,
        r#"{"username":"Scout","displayName":"Scout","domain":"AGENTS.example.test"}"#,
        201,
    );
    let j = &r.json;
    let email = "scout@agents.example.test";
    assert_eq!(j["email"], email);
    assert_eq!(j["canonicalEmail"], email);
    assert_eq!(
        (j["username"].as_str(), j["domain"].as_str()),
        (Some("scout"), Some("agents.example.test"))
    );
    assert_eq!(
        (j["displayName"].as_str(), j["paused"].as_bool()),
        (Some("Scout"), Some(false))
    );
    assert_eq!(
        j["addresses"],
        serde_json::json!([{"address": email, "isPrimary": true}])
    );
    let password = str_of(&j["imapPassword"]);
    assert!(password.len() >= 12);
    assert_eq!(
        j["imap"],
        serde_json::json!({"host": "imap.example.net", "port": 1993, "tls": true, "username": email, "password": password})
    );
    assert_eq!(
        j["smtp"],
        serde_json::json!({"host": "imap.example.net", "port": 2587, "starttls": true, "username": email, "password": password})
    );
    assert_eq!(j["existed"], false);
    assert!(j["apiKey"].as_str().unwrap().starts_with("ak_"));
    let ws = call(&server, "GET", "/v1/workspaces", Some(&tk), None);
    assert_eq!(j["workspaceId"], ws.json["data"][0]["id"]);
    let created = j["createdAt"].as_str().unwrap();
    assert!(created.len() == 20 && created.ends_with('Z'), "{created}");

    // Read back: the same object without any secret.
    let got = call(
        &server,
        "GET",
        &format!("/v1/inboxes/{}", str_of(&j["id"])),
        Some(&tk),
        None,
    );
    assert_eq!(got.status, 200);
    for secret in ["imapPassword", "apiKey", "existed"] {
        assert!(got.json.get(secret).is_none(), "{secret} in {}", got.body);
    }
    assert!(got.json["imap"].get("password").is_none() && got.json["smtp"].get("password").is_none());
    assert_eq!(got.json["email"], email);

    // The password works over IMAP, with the address as the user name.
    assert_eq!(imap_login(&server, email, &password), "OK");
}

#[test]
fn usernames_generated_from_the_tenant_make_new_inboxes() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Acme Agents, Inc.", None);
    let first = call(&server, "POST", "/v1/inboxes", Some(&tk), None);
    assert_eq!(
        (first.status, first.json["username"].as_str()),
        (201, Some("acme-agents-inc")),
        "{}",
        first.show()
    );
    let second = inbox(&server, &tk, "{}", 201);
    assert_eq!(second.json["username"], "acme-agents-inc1");
}

#[test]
fn creates_are_idempotent_even_when_concurrent() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Acme", None);
    let answers: Vec<(u16, String, bool)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let r = call(
                        &server,
                        "POST",
                        "/v1/inboxes",
                        Some(&tk),
                        Some(r#"{"username":"twin"}"#),
                    );
                    (r.status, str_of(&r.json["id"]), r.json.get("imapPassword").is_some())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created: Vec<_> = answers.iter().filter(|a| a.0 == 201).collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    assert!(created[0].2, "the creator gets the password");
    for (status, id, secret) in &answers {
        assert!(*status == 201 || (*status == 200 && !secret), "{answers:?}");
        assert_eq!(id, &created[0].1, "one inbox");
    }
    assert_eq!(
        call(&server, "GET", "/v1/inboxes", Some(&tk), None).json["pagination"]["total"],
        1
    );
    let again = inbox(&server, &tk, r#"{"username":"TWIN"}"#, 200);
    assert_eq!(again.json["existed"], true);
}

#[test]
fn another_tenants_username_falls_back_or_is_409_strict() {
    let server = TestServer::start();
    let (_, a) = tenant(&server, "A", None);
    let (_, b) = tenant(&server, "B", None);
    inbox(&server, &a, r#"{"username":"scout"}"#, 201);
    let r = call(
        &server,
        "POST",
        "/v1/inboxes?strict=true",
        Some(&b),
        Some(r#"{"username":"scout"}"#),
    );
    assert_eq!((r.status, r.code()), (409, "USERNAME_TAKEN"), "{}", r.show());
    assert_eq!(r.json["requestedUsername"], "scout");
    assert_eq!(r.json["attemptedUsername"], "scout");
    assert_eq!(r.json["domain"], "example.test");
    assert_eq!(r.json["statusCode"], 409);
    let r = inbox(&server, &b, r#"{"username":"scout"}"#, 201);
    assert_eq!(
        (r.json["username"].as_str(), r.json["email"].as_str()),
        (Some("scout1"), Some("scout1@example.test"))
    );
    // A retry is idempotent: B's own fallback is the inbox it already has.
    let r = inbox(&server, &b, r#"{"username":"scout"}"#, 200);
    assert_eq!(
        (r.json["username"].as_str(), r.json["existed"].as_bool()),
        (Some("scout1"), Some(true))
    );
    // The same name on the other domain is free.
    let r = inbox(
        &server,
        &b,
        r#"{"username":"scout","domain":"agents.example.test"}"#,
        201,
    );
    assert_eq!(r.json["email"], "scout@agents.example.test");
    // Strict on a name that is free just creates it.
    let r = call(
        &server,
        "POST",
        "/v1/inboxes?strict=true",
        Some(&b),
        Some(r#"{"username":"solo"}"#),
    );
    assert_eq!(r.status, 201);
}

#[test]
fn all_99_fallbacks_taken_is_409() {
    let server = TestServer::start();
    let (_, a) = tenant(&server, "A", None);
    let (_, b) = tenant(&server, "B", None);
    for n in 0..=99 {
        let name = if n == 0 { "x".to_string() } else { format!("x{n}") };
        inbox(&server, &a, &format!(r#"{{"username":"{name}"}}"#), 201);
    }
    let r = call(&server, "POST", "/v1/inboxes", Some(&b), Some(r#"{"username":"x"}"#));
    assert_eq!((r.status, r.code()), (409, "USERNAME_TAKEN"), "{}", r.show());
    assert_eq!(r.json["attemptedUsername"], "x99");
    assert_eq!(
        call(&server, "GET", "/v1/inboxes", Some(&b), None).json["pagination"]["total"],
        0
    );
}

#[test]
fn plan_limit_is_403() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Small", Some(2));
    let one = inbox(&server, &tk, r#"{"username":"one"}"#, 201);
    inbox(&server, &tk, r#"{"username":"two"}"#, 201);
    let r = call(
        &server,
        "POST",
        "/v1/inboxes",
        Some(&tk),
        Some(r#"{"username":"three"}"#),
    );
    assert_eq!((r.status, r.code()), (403, "PLAN_LIMIT"), "{}", r.show());
    inbox(&server, &tk, r#"{"username":"one"}"#, 200); // an existing one is still returned
    assert_eq!(
        call(&server, "GET", "/v1/inboxes", Some(&tk), None).json["pagination"]["total"],
        2
    );
    let path = format!("/v1/inboxes/{}", str_of(&one.json["id"]));
    let r = call(&server, "DELETE", &path, Some(&tk), None);
    assert_eq!((r.status, r.json["deleted"].as_bool()), (200, Some(true)));
    assert_eq!(r.json["id"], one.json["id"]);
    inbox(&server, &tk, r#"{"username":"three"}"#, 201);
}

#[test]
fn patch_display_name_and_paused() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Acme", None);
    let made = inbox(&server, &tk, r#"{"username":"pat","displayName":"Pat"}"#, 201);
    let path = format!("/v1/inboxes/{}", str_of(&made.json["id"]));
    let r = call(
        &server,
        "PATCH",
        &path,
        Some(&tk),
        Some(r#"{"displayName":"Pat Two","paused":true}"#),
    );
    assert_eq!(r.status, 200, "{}", r.show());
    assert_eq!(
        (r.json["displayName"].as_str(), r.json["paused"].as_bool()),
        (Some("Pat Two"), Some(true))
    );
    let r = call(&server, "PATCH", &path, Some(&tk), Some(r#"{"displayName":null}"#));
    assert_eq!(
        (r.json["displayName"].clone(), r.json["paused"].as_bool()),
        (serde_json::Value::Null, Some(true))
    );
    for bad in [
        r#"{"displayName":"a\r\nBcc: x"}"#,
        r#"{"paused":"yes"}"#,
        r#"{"username":"x"}"#,
    ] {
        let r = call(&server, "PATCH", &path, Some(&tk), Some(bad));
        assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"), "{bad}: {}", r.show());
    }
    let r = call(&server, "GET", &path, Some(&tk), None);
    assert_eq!(
        (r.json["displayName"].clone(), r.json["paused"].as_bool()),
        (serde_json::Value::Null, Some(true))
    );
}

#[test]
fn rotation_stops_the_old_password_at_once() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Acme", None);
    let made = inbox(&server, &tk, r#"{"username":"rot","password":"first password 1"}"#, 201);
    let id = str_of(&made.json["id"]);
    let email = "rot@example.test";
    // Logged in once, so the verify cache holds the old password.
    assert_eq!(imap_login(&server, email, "first password 1"), "OK");
    let r = call(&server, "POST", &format!("/v1/inboxes/{id}/password"), Some(&tk), None);
    assert_eq!(r.status, 200, "{}", r.show());
    let new = str_of(&r.json["imapPassword"]);
    assert_eq!(r.json["imap"]["password"], new.as_str());
    assert_eq!(r.json["smtp"]["password"], new.as_str());
    assert_eq!(r.json["imap"]["username"], email);
    assert!(imap_login(&server, email, "first password 1").starts_with("REFUSED"));
    assert_eq!(imap_login(&server, email, &new), "OK");
    // A chosen password, checked like at creation.
    let path = format!("/v1/inboxes/{id}/password");
    let r = call(&server, "POST", &path, Some(&tk), Some(r#"{"password":"short"}"#));
    assert_eq!(r.code(), "VALIDATION_ERROR");
    let r = call(
        &server,
        "POST",
        &path,
        Some(&tk),
        Some(r#"{"password":"chosen password 2"}"#),
    );
    assert_eq!(r.json["imapPassword"], "chosen password 2");
    assert!(imap_login(&server, email, &new).starts_with("REFUSED"));
    assert_eq!(imap_login(&server, email, "chosen password 2"), "OK");
    // The inbox's own key may not rotate it.
    let ak = str_of(&made.json["apiKey"]);
    assert_eq!(call(&server, "POST", &path, Some(&ak), None).code(), "FORBIDDEN");
}

#[test]
fn delete_closes_imap_sessions_and_removes_mail() {
    let server = TestServer::start();
    let (_, tk) = tenant(&server, "Acme", None);
    let made = inbox(
        &server,
        &tk,
        r#"{"username":"doomed","password":"doomed password"}"#,
        201,
    );
    // Logged in and idle, after storing one message.
    let script = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx, timeout=20)
c.login("doomed@example.test", "doomed password")
c.append("INBOX", None, None, b"Subject: hi\r\n\r\nbody\r\n")
c.select("INBOX")
print("logged-in", flush=True)
print("got", c.readline().decode().strip(), flush=True)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, &server.addr("imaps").port().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("logged-in"));
    let r = call(
        &server,
        "DELETE",
        &format!("/v1/inboxes/{}", str_of(&made.json["id"])),
        Some(&tk),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.show());
    let got = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(got.starts_with("got * BYE"), "{got}");
    let _ = child.wait();
    assert!(imap_login(&server, "doomed@example.test", "doomed password").starts_with("REFUSED"));
    // The same address made again starts empty: the old mail is gone.
    inbox(
        &server,
        &tk,
        r#"{"username":"doomed","password":"doomed password"}"#,
        201,
    );
    let (code, out, err) = python(
        r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx, timeout=20)
c.login("doomed@example.test", "doomed password")
print(c.select("INBOX")[1][0].decode())
"#,
        &[&server.addr("imaps").port().to_string()],
    );
    assert_eq!((code, out.trim()), (0, "0"), "{err}");
    std::thread::sleep(Duration::from_millis(10));
}
