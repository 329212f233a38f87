//! What an operator runs the server by: GET /metrics read by Prometheus's own text
//! parser (prometheus_client, PyPI), and the info lines per IMAP/SMTP session, per
//! accepted message and per API request, in text and in `--log-format json`.

mod api_support;
mod common;

use api_support::*;
use common::*;
use std::time::{Duration, Instant};

/// One IMAP session (login, select, fetch, logout) and one SMTP submission over
/// implicit TLS, both with Python's standard clients.
const CLIENTS: &str = r#"
import imaplib, smtplib, ssl, sys
imaps, smtps, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", smtps, context=ctx, timeout=20)
s.login(user, password)
s.sendmail(user, [user], f"From: {user}\r\nTo: {user}\r\nSubject: metrics\r\n\r\nhello\r\n")
s.quit()
c = imaplib.IMAP4_SSL("127.0.0.1", imaps, ssl_context=ctx, timeout=20)
c.login(user, password)
c.select("INBOX")
c.fetch("1", "(FLAGS)")
c.logout()
print("done")
"#;

/// Parses the exposition with prometheus_client and prints one line per family:
/// name, type, sample count, then checks what the text parser alone does not.
const PARSE: &str = r#"
import sys
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit("prometheus_client is missing: run `bash .ci/run` once, or `.ci/venv/bin/pip install prometheus_client`")
text = sys.stdin.read()
for family in text_string_to_metric_families(text):
    count = sum(s.value for s in family.samples if s.name.endswith("_count"))
    print(family.name, family.type, len(family.samples), int(count), "help" if family.documentation else "nohelp")
"#;

fn run_clients(server: &TestServer, inbox: &TestInbox) {
    let imaps = server.addr("imaps").port().to_string();
    let smtps = server.addr("smtp-submissions").port().to_string();
    let (code, out, err) = python(CLIENTS, &[&imaps, &smtps, &inbox.email, &inbox.password]);
    assert_eq!((code, out.trim()), (0, "done"), "{err}");
}

fn venv_python() -> &'static str {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/venv/bin/python3");
    if std::path::Path::new(venv).exists() {
        venv
    } else {
        "python3"
    }
}

/// Waits (bounded) until the server logged a line containing every needle.
fn wait_for_line(server: &TestServer, needles: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = server.log_lines();
        if let Some(line) = lines.iter().find(|l| needles.iter().all(|n| l.contains(n))) {
            return line.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needles:?}; log:\n{}",
            lines.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn metrics_parse_with_help_and_type_and_histograms() {
    let server = TestServer::start();
    // Before anything happened: every family is there, counters at 0.
    let fresh = curl(&[&server.api_url("/metrics")]);
    assert_eq!(fresh.status, 200);
    for zero in [
        "mailroom_smtp_messages_total{port=\"mx\",result=\"accepted\"} 0\n",
        "mailroom_imap_logins_total{result=\"failed\"} 0\n",
        "mailroom_outbound_queued_total 0\n",
        "mailroom_auth_throttled_total{scope=\"address\"} 0\n",
    ] {
        assert!(fresh.body.contains(zero), "{zero} missing:\n{}", fresh.body);
    }
    let inbox = provision(&server, "metrics");
    run_clients(&server, &inbox);
    let r = curl(&[&server.api_url("/metrics")]);
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4"))
    );

    let mut child = std::process::Command::new(venv_python())
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(r.body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let parsed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "parser refused the text: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let families: Vec<Vec<&str>> = parsed.lines().map(|l| l.split(' ').collect()).collect();
    assert!(families.len() >= 20, "{parsed}");
    for f in &families {
        assert!(f[0].starts_with("mailroom_"), "{f:?}");
        assert_eq!(f[4], "help", "{f:?} has no HELP");
        assert!(r.body.contains(&format!("# TYPE {} {}\n", type_name(f), f[1])), "{f:?}");
    }
    let histogram = |name: &str| {
        families
            .iter()
            .find(|f| f[0] == name)
            .unwrap_or_else(|| panic!("{name} missing: {parsed}"))
            .clone()
    };
    for name in [
        "mailroom_imap_command_duration_seconds",
        "mailroom_smtp_transaction_duration_seconds",
        "mailroom_api_request_duration_seconds",
    ] {
        let f = histogram(name);
        assert_eq!(f[1], "histogram", "{f:?}");
        assert!(f[3].parse::<u64>().unwrap() >= 1, "{name} observed nothing: {f:?}");
    }
    assert!(
        r.body.contains("mailroom_imap_commands_total{command=\"SELECT\"} 1\n"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("mailroom_smtp_messages_total{port=\"submissions\",result=\"accepted\"} 1\n")
    );
    assert!(r.body.contains("route=\"/v1/inboxes\",le="), "routes are templates");
}

/// prometheus_client names a counter family without its `_total`.
fn type_name(f: &[&str]) -> String {
    if f[1] == "counter" {
        format!("{}_total", f[0])
    } else {
        f[0].to_string()
    }
}

#[test]
fn one_info_line_per_session_message_and_request() {
    let server = TestServer::start();
    let inbox = provision(&server, "logs");
    run_clients(&server, &inbox);
    let imap = wait_for_line(&server, &["imap session ended", "protocol=\"imap\""]);
    for field in [
        "peer=127.0.0.1:",
        &format!("inbox=\"{}\"", inbox.email),
        "commands=5",
        "bytes_in=",
        "bytes_out=",
        "duration_ms=",
        "ended=\"logout\"",
    ] {
        assert!(imap.contains(field), "{field} not in {imap}");
    }
    let smtp = wait_for_line(&server, &["smtp session ended"]);
    for field in [
        "peer=127.0.0.1:",
        "port=\"submissions\"",
        &format!("inbox=\"{}\"", inbox.email),
        "messages=1",
        "commands=",
        "bytes_in=",
        "duration_ms=",
        "ended=\"quit\"",
    ] {
        assert!(smtp.contains(field), "{field} not in {smtp}");
    }
    let accepted = wait_for_line(&server, &["message accepted"]);
    for field in ["id=", "size=", "recipients=1", "local=1", "queued_remote=0"] {
        assert!(accepted.contains(field), "{field} not in {accepted}");
    }
    let request = wait_for_line(&server, &["api request", "route=\"/v1/inboxes\""]);
    for field in [
        "method=POST",
        "status=201",
        "duration_ms=",
        "key_id=",
        "key_kind=\"tenant\"",
        "request_id=",
    ] {
        assert!(request.contains(field), "{field} not in {request}");
    }
    // One line each, and never a secret.
    let log = server.log_lines().join("\n");
    assert_eq!(log.matches("imap session ended").count(), 1, "{log}");
    for secret in [inbox.password.as_str(), &inbox.api_key, &inbox.tenant_key, ADMIN_TOKEN] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

#[test]
fn json_log_format_for_shippers() {
    let server = TestServer::start_logging("", "json");
    let r = call(&server, "GET", "/v1/inboxes/not-an-id", Some(ADMIN_TOKEN), None);
    assert_eq!(r.status, 404);
    let line = wait_for_line(&server, &["api request", "/v1/inboxes/{id}"]);
    let json: serde_json::Value = serde_json::from_str(&line).expect("a JSON object per line");
    assert_eq!(json["level"], "INFO", "{json}");
    let fields = &json["fields"];
    assert_eq!(
        (fields["method"].as_str(), fields["status"].as_u64()),
        (Some("GET"), Some(404)),
        "{json}"
    );
    assert_eq!(fields["key_kind"], "admin", "{json}");
    assert!(fields["request_id"].as_str().is_some_and(|id| id.len() == 32), "{json}");
    // Every line is JSON, including the start-up ones.
    for line in server.log_lines() {
        assert!(serde_json::from_str::<serde_json::Value>(&line).is_ok(), "{line}");
    }
}
