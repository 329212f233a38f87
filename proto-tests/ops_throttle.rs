//! The failed-login throttle as agents behind one address meet it, driven with
//! imaplib and smtplib: another account's failures never delay a correct password,
//! an account's own failures do, spraying is answered "try again later", trusted
//! networks get only the per-account limit, and each start is logged (warn).

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Short waits so the test runs in seconds; the shapes are the defaults'.
const FAST: &str = "[auth]\nthrottle_max_delay_ms = 100\n";

/// LOGIN over IMAPS once per (user, password) pair given on stdin, a new
/// connection each; prints the answer and the seconds it took, one line each.
const LOGINS: &str = r#"
import imaplib, ssl, sys, time
port = int(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
for line in sys.stdin.read().splitlines():
    user, password = line.split(" ", 1)
    c = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx, timeout=30)
    start = time.monotonic()
    try:
        c.login(user, password)
        answer = "OK"
    except imaplib.IMAP4.error as e:
        answer = "UNAVAILABLE" if "UNAVAILABLE" in str(e) else "FAILED"
    took = time.monotonic() - start
    try:
        c.logout()
    except Exception:
        pass
    print(answer, f"{took:.3f}")
"#;

/// Runs the logins; returns (answer, seconds) per attempt.
fn logins(server: &TestServer, attempts: &[(String, String)]) -> Vec<(String, f64)> {
    use std::io::Write;
    let input: String = attempts.iter().map(|(u, p)| format!("{u} {p}\n")).collect();
    let port = server.addr("imaps").port().to_string();
    let mut child = std::process::Command::new("python3")
        .args(["-c", LOGINS, &port])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (answer, took) = l.split_once(' ').unwrap();
            (answer.to_string(), took.parse().unwrap())
        })
        .collect()
}

fn spray(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("nobody{i}@example.test"), "wrong-password".to_string()))
        .collect()
}

fn wait_for_line(server: &TestServer, needles: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = server.log_lines();
        if let Some(l) = lines.iter().find(|l| needles.iter().all(|n| l.contains(n))) {
            return l.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no line with {needles:?}:\n{}",
            lines.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn correct_login_after_50_failures_for_other_accounts_is_answered_at_once() {
    let server = TestServer::start_with(FAST);
    let owner = provision(&server, "owner");
    let answers = logins(&server, &spray(50));
    assert!(answers[..10].iter().all(|(a, _)| a == "FAILED"), "{answers:?}");
    assert!(
        answers[30..].iter().all(|(a, _)| a == "UNAVAILABLE"),
        "spraying refused: {answers:?}"
    );
    assert!(answers[40].1 >= 0.09, "failed answers wait: {answers:?}");

    let good = logins(&server, &[(owner.email.clone(), owner.password.clone())]);
    assert_eq!(good[0].0, "OK", "{good:?}");
    assert!(good[0].1 < 1.0, "a correct password waited {}s", good[0].1);

    let line = wait_for_line(&server, &["WARN", "throttling starts", "scope=\"address\""]);
    assert!(line.contains("address=127.0.0.1"), "{line}");
    let log = server.log_lines().join("\n");
    assert!(
        !log.contains("wrong-password") && !log.contains(&owner.password),
        "no password in the log"
    );
    let metrics = api_support_metrics(&server);
    assert!(
        metrics.contains("mailroom_auth_throttled_total{scope=\"address\"} 1\n"),
        "{metrics}"
    );
}

#[test]
fn an_accounts_own_failures_delay_then_refuse_it_with_smtp_too() {
    let server = TestServer::start_with(FAST);
    let agent = provision(&server, "agent");
    let neighbour = provision(&server, "neighbour");
    let wrong: Vec<_> = (0..15).map(|_| (agent.email.clone(), "not-it".to_string())).collect();
    let answers = logins(&server, &wrong);
    assert_eq!(answers[14].0, "UNAVAILABLE", "{answers:?}");
    let line = wait_for_line(&server, &["throttling starts", "scope=\"account\""]);
    assert!(line.contains(&format!("account=\"{}\"", agent.email)), "{line}");
    wait_for_line(&server, &["refusing until the window passes", "scope=\"account\""]);
    // Locked: even the right password waits for the window (IMAP and SMTP alike).
    let locked = logins(&server, &[(agent.email.clone(), agent.password.clone())]);
    assert_eq!(locked[0].0, "UNAVAILABLE");
    let script = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=20)
try:
    s.login(sys.argv[2], sys.argv[3])
    print("OK")
except smtplib.SMTPAuthenticationError as e:
    print(e.smtp_code)
"#;
    let port = server.addr("smtp-submissions").port().to_string();
    let (_, out, err) = python(script, &[&port, &agent.email, &agent.password]);
    assert_eq!(out.trim(), "454", "{err}");
    // The neighbour on the same address is not touched.
    let (_, out, err) = python(script, &[&port, &neighbour.email, &neighbour.password]);
    assert_eq!(out.trim(), "OK", "{err}");
}

#[test]
fn trusted_networks_get_only_the_per_account_limit() {
    let server = TestServer::start_with(&format!("{FAST}trusted_networks = [\"127.0.0.0/8\"]\n"));
    let answers = logins(&server, &spray(40));
    assert!(answers.iter().all(|(a, t)| a == "FAILED" && *t < 1.0), "{answers:?}");
    let log = server.log_lines().join("\n");
    assert!(!log.contains("scope=\"address\""), "{log}");
}

fn api_support_metrics(server: &TestServer) -> String {
    let (status, _) = http(server, "GET", "/healthz", None, None);
    assert_eq!(status, 200);
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "10", &server.api_url("/metrics")])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
