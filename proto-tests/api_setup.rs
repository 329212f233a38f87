//! Client setup (API.md part 2 section 10): Thunderbird's autoconfig request at both
//! paths resolving to settings that imaplib and smtplib then use, the same body for
//! every local part, foreign domains refused; the mobileconfig read by plistlib; the
//! autodiscover POX answer and its hostile bodies (DTD, entity bomb, 10 MB).

mod api_support;
mod common;

use api_support::*;
use common::*;
use std::time::{Duration, Instant};

/// Two loopback ports free right now, for listeners whose port the config must name
/// in advance (`[public]` has to say where clients really connect).
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let b = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    (a.local_addr().unwrap().port(), b.local_addr().unwrap().port())
}

/// A server whose `[public]` names its own IMAPS and submission listeners.
fn start_public() -> TestServer {
    let (imaps, submission) = free_ports();
    TestServer::start_with(&format!(
        "[imap]\nlisten_tls = [\"127.0.0.1:{imaps}\"]\n\
         [smtp]\nsubmission = [\"127.0.0.1:{submission}\"]\n\
         [public]\nhost = \"127.0.0.1\"\nimap_port = {imaps}\nsmtp_port = {submission}\n"
    ))
}

/// GET with a given Host header, as a client that resolved `host` to us sends it.
fn get_at(server: &TestServer, host: &str, path: &str) -> Resp {
    raw(
        server,
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// What Thunderbird does (its ISP lookup): ask `autoconfig.<domain>/mail/config-v1.1.xml
/// ?emailaddress=` and `<domain>/.well-known/autoconfig/mail/config-v1.1.xml`, read the
/// clientConfig, put the address in for %EMAILADDRESS%, then log in and send with the
/// host, port and socket type it says.
const THUNDERBIRD: &str = r#"
import http.client, imaplib, smtplib, ssl, sys, time, urllib.parse
import xml.etree.ElementTree as ET
api_port, address, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
domain = address.rsplit("@", 1)[1]
q = urllib.parse.urlencode({"emailaddress": address})
requests = [("autoconfig." + domain, "/mail/config-v1.1.xml?" + q),
            (domain, "/.well-known/autoconfig/mail/config-v1.1.xml?" + q),
            ("autoconfig." + domain, "/mail/config-v1.1.xml"),
            (domain, "/.well-known/autoconfig/mail/config-v1.1.xml")]
bodies = []
for host, path in requests:
    c = http.client.HTTPConnection("127.0.0.1", api_port, timeout=20)
    c.request("GET", path, headers={"Host": host})
    r = c.getresponse()
    assert r.status == 200, (host, path, r.status)
    assert r.getheader("Content-Type").startswith("application/xml"), r.getheader("Content-Type")
    assert r.getheader("Cache-Control") == "max-age=3600"
    bodies.append(r.read())
assert all(b == bodies[0] for b in bodies), "the four lookups differ"
root = ET.fromstring(bodies[0])
assert root.tag == "clientConfig" and root.get("version") == "1.1"
provider = root.find("emailProvider")
assert provider.get("id") == domain and provider.findtext("domain") == domain
def server(tag):
    s = provider.find(tag)
    user = s.findtext("username").replace("%EMAILADDRESS%", address)
    assert s.findtext("authentication") == "password-cleartext"
    return s.get("type"), s.findtext("hostname"), int(s.findtext("port")), s.findtext("socketType"), user
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
kind, host, port, socket_type, user = server("incomingServer")
assert (kind, socket_type) == ("imap", "SSL"), (kind, socket_type)
imap = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=20)
imap.login(user, password)
kind, host, port, socket_type, user = server("outgoingServer")
assert (kind, socket_type) == ("smtp", "STARTTLS"), (kind, socket_type)
smtp = smtplib.SMTP(host, port, timeout=20)
smtp.starttls(context=ctx)
smtp.login(user, password)
smtp.sendmail(address, [address], "From: %s\r\nTo: %s\r\nSubject: set up by autoconfig\r\n\r\nhello\r\n" % (address, address))
smtp.quit()
for _ in range(100):
    imap.select("INBOX")
    typ, data = imap.search(None, "SUBJECT", '"set up by autoconfig"')
    if data[0]:
        break
    time.sleep(0.1)
assert data[0], "the message sent with the autoconfig settings did not arrive"
imap.logout()
print("OK")
"#;

#[test]
fn thunderbird_lookup_gives_settings_that_work() {
    let server = start_public();
    let inbox = provision(&server, "thunder");
    let port = server.addr("api").port().to_string();
    let (code, out, err) = python(THUNDERBIRD, &[&port, &inbox.email, &inbox.password]);
    assert_eq!((code, out.trim()), (0, "OK"), "{out}{err}");
}

#[test]
fn autoconfig_is_the_same_for_every_local_part_and_refuses_foreign_domains() {
    let server = TestServer::start_with("[public]\nhost = \"mail.example.test\"\nimap_port = 993\nsmtp_port = 587\n");
    let inbox = provision(&server, "scout");
    let path = |address: &str| format!("/mail/config-v1.1.xml?emailaddress={}", address.replace('@', "%40"));
    let existing = get_at(&server, "autoconfig.example.test", &path(&inbox.email));
    assert_eq!(existing.status, 200, "{}", existing.show());
    let body = &existing.body;
    for part in [
        "<clientConfig version=\"1.1\">",
        "<emailProvider id=\"example.test\">",
        "<displayName>mailroom (example.test)</displayName>",
        "<displayShortName>mailroom</displayShortName>",
        "<incomingServer type=\"imap\">",
        "<hostname>mail.example.test</hostname>",
        "<port>993</port>",
        "<socketType>SSL</socketType>",
        "<outgoingServer type=\"smtp\">",
        "<port>587</port>",
        "<socketType>STARTTLS</socketType>",
        "<username>%EMAILADDRESS%</username>",
    ] {
        assert!(body.contains(part), "{part} missing from {body}");
    }
    // No enumeration: an inbox that exists, one that does not and odd local parts
    // get the very same bytes, at both paths, with and without the Host.
    for address in ["nobody@example.test", "Scout@EXAMPLE.TEST", "x.y+z@example.test"] {
        for host in ["autoconfig.example.test", "example.test", "anything.invalid"] {
            for p in [
                path(address),
                path(address).replace("/mail/", "/.well-known/autoconfig/mail/"),
            ] {
                let r = get_at(&server, host, &p);
                assert_eq!((r.status, &r.body), (200, body), "{host} {p}");
            }
        }
    }
    // The second configured domain has its own provider id.
    let other = get_at(&server, "autoconfig.agents.example.test", "/mail/config-v1.1.xml");
    assert_eq!(other.status, 200, "{}", other.show());
    assert!(
        other.body.contains("<emailProvider id=\"agents.example.test\">"),
        "{}",
        other.body
    );

    // Not ours: 404, by address or by Host, also for our own public host name.
    for (host, p) in [
        ("example.test", path("scout@example.org")),
        ("autoconfig.example.org", "/mail/config-v1.1.xml".to_string()),
        (
            "example.org",
            "/.well-known/autoconfig/mail/config-v1.1.xml".to_string(),
        ),
        ("mail.example.test", "/mail/config-v1.1.xml".to_string()),
        ("127.0.0.1", "/mail/config-v1.1.xml".to_string()),
    ] {
        let r = get_at(&server, host, &p);
        assert_eq!((r.status, r.code()), (404, "NOT_FOUND"), "{host} {p}: {}", r.show());
    }
    // A 10 KB emailaddress, a non-address, an unknown parameter: 400.
    let long = format!("{}@example.test", "a".repeat(10 * 1024));
    for p in [
        path(&long),
        path("no-at-sign"),
        path("@example.test"),
        "/mail/config-v1.1.xml?x=1".into(),
    ] {
        let r = get_at(&server, "autoconfig.example.test", &p);
        assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"), "{}", r.show());
        assert!(r.body.len() < 12 * 1024, "the 400 is short");
    }
    let r = call(&server, "POST", "/mail/config-v1.1.xml", None, Some("{}"));
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")), "{}", r.show());
}

/// Reads the mobileconfig with plistlib, checks its fields, then logs in over IMAP
/// with the host, port and username it gives.
const PLISTLIB: &str = r#"
import imaplib, plistlib, ssl, sys, uuid
path, inbox_id, address, password, display = sys.argv[1:6]
with open(path, "rb") as f:
    p = plistlib.load(f)
ns = uuid.UUID("6d61696c-726f-4f6d-8a5e-7f1c2b39d04e")
profile_uuid = uuid.uuid5(ns, inbox_id)
assert p["PayloadType"] == "Configuration", p
assert p["PayloadVersion"] == 1
assert p["PayloadIdentifier"] == "mailroom." + inbox_id
assert p["PayloadUUID"] == str(profile_uuid).upper(), p["PayloadUUID"]
assert len(p["PayloadContent"]) == 1
m = p["PayloadContent"][0]
assert m["PayloadType"] == "com.apple.mail.managed"
assert m["PayloadUUID"] == str(uuid.uuid5(profile_uuid, "com.apple.mail.managed")).upper()
assert m["PayloadIdentifier"] == "mailroom." + inbox_id + ".mail"
assert m["EmailAccountType"] == "EmailTypeIMAP"
assert m["EmailAddress"] == address
assert m["EmailAccountName"] == display
for side, port_type in (("Incoming", "imap"), ("Outgoing", "smtp")):
    assert m[side + "MailServerUseSSL"] is True
    assert m[side + "MailServerUsername"] == address
    assert m[side + "MailServerAuthentication"] == "EmailAuthPassword"
    assert m[side + "MailServerHostName"] == "127.0.0.1"
    assert isinstance(m[side + "MailServerPortNumber"], int)
assert m["OutgoingPasswordSameAsIncomingPassword"] is True
assert not any("assword" in k and k != "OutgoingPasswordSameAsIncomingPassword" for k in m), "no password in it"
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
imap = imaplib.IMAP4_SSL(m["IncomingMailServerHostName"], m["IncomingMailServerPortNumber"], ssl_context=ctx, timeout=20)
imap.login(m["IncomingMailServerUsername"], password)
imap.logout()
print("OK")
"#;

#[test]
fn mobileconfig_is_read_by_plistlib_and_scoped() {
    let server = start_public();
    let (_, tk) = tenant(&server, "Fruit", None);
    let created = inbox(
        &server,
        &tk,
        r#"{"username":"apple","displayName":"Apple <&> Agent","password":"correct-horse-apple-1"}"#,
        201,
    );
    let (id, ak) = (str_of(&created.json["id"]), str_of(&created.json["apiKey"]));
    let path = format!("/v1/inboxes/{id}/mobileconfig");
    let r = call(&server, "GET", &path, Some(&ak), None);
    assert_eq!(r.status, 200, "{}", r.show());
    assert_eq!(r.header("content-type"), Some("application/x-apple-aspen-config"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"apple@example.test.mobileconfig\"")
    );
    assert!(!r.body.contains("correct-horse"), "no password in the profile");
    let file = server.dir.join("apple.mobileconfig");
    std::fs::write(&file, &r.body).expect("write");
    let args = [
        &path_str(&file),
        id.as_str(),
        "apple@example.test",
        "correct-horse-apple-1",
        "Apple <&> Agent",
    ];
    let (code, out, err) = python(PLISTLIB, &args);
    assert_eq!((code, out.trim()), (0, "OK"), "{out}{err}");
    // The same bytes every time (same UUIDs: installing again replaces the profile),
    // and with the tenant's key too.
    let again = call(&server, "GET", &path, Some(&tk), None);
    assert_eq!((again.status, &again.body), (200, &r.body));

    // Scopes (API.md part 2 section 0): another inbox's ak_, another tenant, a
    // workspace key of another workspace and the operator get 404; no key 401.
    let other = provision(&server, "banana");
    let ws = call(&server, "POST", "/v1/workspaces", Some(&tk), Some(r#"{"name":"Side"}"#));
    assert_eq!(ws.status, 201, "{}", ws.show());
    let wk = call(
        &server,
        "POST",
        &format!("/v1/workspaces/{}/keys", str_of(&ws.json["id"])),
        Some(&tk),
        None,
    );
    assert_eq!(wk.status, 201, "{}", wk.show());
    for key in [&other.api_key, &other.tenant_key, &str_of(&wk.json["key"]), ADMIN_TOKEN] {
        let r = call(&server, "GET", &path, Some(key), None);
        assert_eq!((r.status, r.code()), (404, "NOT_FOUND"), "{}", r.show());
    }
    let r = call(&server, "GET", &path, None, None);
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"), "{}", r.show());
    let r = call(&server, "GET", "/v1/inboxes/not-a-uuid/mobileconfig", Some(&tk), None);
    assert_eq!(r.status, 404, "{}", r.show());
    let r = call(&server, "GET", &format!("{path}?limit=1"), Some(&tk), None);
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"), "{}", r.show());
}

/// curl -si, keeping the final answer when an interim `100 Continue` came first.
fn curl_final(args: &[&str]) -> Resp {
    let out = std::process::Command::new("curl")
        .args(["-si", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl is needed for the API tests");
    let mut bytes = out.stdout.as_slice();
    while bytes.starts_with(b"HTTP/1.1 100") {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(bytes.len(), |i| i + 4);
        bytes = &bytes[end..];
    }
    parse(bytes)
}

fn autodiscover_body(address: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>{address}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#
    )
}

fn post_xml(server: &TestServer, path: &str, body: &str) -> Resp {
    request(
        server,
        "POST",
        path,
        &[("Content-Type", "text/xml")],
        Some(body.as_bytes()),
    )
}

/// Reads the POX answer as Outlook would: the Account's protocols by type.
const POX: &str = r#"
import sys
import xml.etree.ElementTree as ET
ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
      "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == "{%s}Autodiscover" % ns["a"], root.tag
account = root.find("{%s}Response/{%s}Account" % (ns["o"], ns["o"]))
assert account.findtext("{%s}AccountType" % ns["o"]) == "email"
assert account.findtext("{%s}Action" % ns["o"]) == "settings"
out = []
for p in account.findall("{%s}Protocol" % ns["o"]):
    f = {c.tag.split("}")[1]: c.text for c in p}
    out.append(" ".join("%s=%s" % (k, f[k]) for k in sorted(f)))
print("\n".join(out))
"#;

fn pox_fields(body: &str) -> String {
    let mut child = std::process::Command::new("python3")
        .args(["-c", POX])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn autodiscover_answers_pox_and_refuses_hostile_bodies() {
    let server = TestServer::start_with("[public]\nhost = \"mail.example.test\"\nimap_port = 993\nsmtp_port = 587\n");
    provision(&server, "outlook");
    let r = post_xml(
        &server,
        "/Autodiscover/Autodiscover.xml",
        &autodiscover_body("outlook@example.test"),
    );
    assert_eq!(r.status, 200, "{}", r.show());
    assert!(
        r.header("content-type").unwrap_or("").starts_with("text/xml"),
        "{}",
        r.show()
    );
    assert_eq!(
        pox_fields(&r.body),
        "AuthRequired=on DomainRequired=off LoginName=outlook@example.test Port=993 SPA=off SSL=on Server=mail.example.test Type=IMAP\n\
         AuthRequired=on DomainRequired=off Encryption=TLS LoginName=outlook@example.test Port=587 SPA=off Server=mail.example.test Type=SMTP"
    );
    // An address with no inbox gets the same answer but for its own LoginName.
    let nobody = post_xml(
        &server,
        "/autodiscover/autodiscover.xml",
        &autodiscover_body("nobody@example.test"),
    );
    assert_eq!(nobody.body, r.body.replace("outlook@", "nobody@"));

    // A domain not ours: error 600.
    for address in ["outlook@example.org", "not an address"] {
        let r = post_xml(&server, "/autodiscover/autodiscover.xml", &autodiscover_body(address));
        assert_eq!(r.status, 200, "{}", r.show());
        assert!(r.body.contains("<ErrorCode>600</ErrorCode>"), "{}", r.body);
        assert!(!r.body.contains("Protocol"), "{}", r.body);
    }
    // Another response schema (ActiveSync's): 601.
    let mobilesync =
        autodiscover_body("outlook@example.test").replace("outlook/responseschema", "mobilesync/responseschema");
    let r = post_xml(&server, "/autodiscover/autodiscover.xml", &mobilesync);
    assert!(r.body.contains("<ErrorCode>601</ErrorCode>"), "{}", r.show());

    // Hostile bodies: a clear 400, at once, nothing expanded or fetched.
    let laughs = {
        let mut dtd = String::from("<!ENTITY lol \"lol\">");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_string()
            } else {
                format!("lol{}", i - 1)
            };
            dtd.push_str(&format!("<!ENTITY lol{i} \"{}\">", format!("&{prev};").repeat(10)));
        }
        format!(
            "<?xml version=\"1.0\"?><!DOCTYPE Autodiscover [{dtd}]>{}",
            autodiscover_body("&lol9;@example.test")
        )
    };
    let external = format!(
        "<!DOCTYPE Autodiscover [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        autodiscover_body("&x;@example.test")
    );
    let undeclared = autodiscover_body("&x;@example.test");
    for (body, says) in [
        (laughs.as_str(), "DOCTYPE"),
        (external.as_str(), "DOCTYPE"),
        ("<!DOCTYPE Autodiscover><Autodiscover/>", "DOCTYPE"),
        (undeclared.as_str(), "entit"),
        ("<Autodiscover><Request>", "well-formed"),
        ("<Autodiscover><Request></Autodiscover>", "well-formed"),
        ("{\"emailAddress\":\"outlook@example.test\"}", "Autodiscover"),
        ("<html/>", "Autodiscover"),
    ] {
        let started = Instant::now();
        let r = post_xml(&server, "/autodiscover/autodiscover.xml", body);
        assert!(started.elapsed() < Duration::from_secs(2), "slow refusal");
        assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"), "{body}: {}", r.show());
        let message = r.json["message"].as_str().unwrap_or("");
        assert!(message.contains(says), "{says} not in {message:?}");
        assert!(!r.body.contains("root:"), "no file content");
    }
    // Over 16 KiB, declared or sent chunked: 413 (10 MB by curl, which waits for 100-continue).
    let big = server.dir.join("big.xml");
    let mut ten_mb = autodiscover_body("outlook@example.test");
    ten_mb.push_str(&" ".repeat(10 * 1024 * 1024));
    std::fs::write(&big, &ten_mb).unwrap();
    let url = server.api_url("/autodiscover/autodiscover.xml");
    let data = format!("@{}", path_str(&big));
    for extra in [None, Some("Transfer-Encoding: chunked")] {
        let mut args = vec!["-H", "Content-Type: text/xml", "--data-binary", &data, &url];
        if let Some(h) = extra {
            args.splice(0..0, ["-H", h]);
        }
        let r = curl_final(&args);
        assert_eq!(
            (r.status, r.code()),
            (413, "PAYLOAD_TOO_LARGE"),
            "{extra:?}: {}",
            r.show()
        );
    }
    let just_over = autodiscover_body("outlook@example.test") + &" ".repeat(16 * 1024);
    let r = post_xml(&server, "/autodiscover/autodiscover.xml", &just_over);
    assert_eq!((r.status, r.code()), (413, "PAYLOAD_TOO_LARGE"), "{}", r.show());
    // No body, GET: 400 and 405. The server is fine after all this.
    let r = request(&server, "POST", "/autodiscover/autodiscover.xml", &[], None);
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"), "{}", r.show());
    let r = call(&server, "GET", "/autodiscover/autodiscover.xml", None, None);
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")), "{}", r.show());
    let r = call(&server, "GET", "/healthz", None, None);
    assert_eq!(r.status, 200);
}
