//! The control API driven over HTTP against the real server.

mod common;
use common::*;

#[test]
fn provisioning_and_restart_keep_inboxes() {
    let mut server = TestServer::start();
    let (status, health) = http(&server, "GET", "/healthz", None, None);
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let inbox = provision(&server, "scout");
    assert_eq!(inbox.email, "scout@example.test");
    server.restart();
    let (status, again) = http(
        &server,
        "POST",
        "/v1/inboxes",
        Some(&inbox.tenant_key),
        Some("{\"username\":\"scout\"}"),
    );
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"].as_str(), Some(inbox.id.as_str()));
}
