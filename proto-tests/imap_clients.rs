//! Real clients nobody here wrote: mbsync (isync) syncing 1,000 messages both ways,
//! and curl fetching one message.

mod common;
mod imap_support;

use imap_support::Imap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn have(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok()
}

/// Runs a command with a deadline; returns (status ok, stdout+stderr).
fn run(cmd: &mut Command, limit: Duration) -> (bool, String) {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(out)) => (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        _ => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
    }
}

fn maildir_count(dir: &Path) -> usize {
    ["cur", "new"]
        .iter()
        .map(|d| std::fs::read_dir(dir.join(d)).map(|r| r.count()).unwrap_or(0))
        .sum()
}

fn maildir_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for d in ["cur", "new"] {
        if let Ok(r) = std::fs::read_dir(dir.join(d)) {
            out.extend(r.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    out.sort();
    out
}

/// Appends `count` messages over several connections at once (the store's group
/// commit shares the flushes).
fn load(t: &Imap, count: usize) {
    t.py(&format!(
        r#"
import threading
N = {count}
W = 20
errors = []
def worker(w):
    try:
        c = tls()
        for i in range(w, N, W):
            msg = ("From: Sender <s%d@example.org>\r\nTo: alice@example.test\r\nSubject: message %d\r\n"
                   "Message-ID: <m%d@example.org>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nBody %d\r\n") % (i, i, i, i)
            ok(c.append("INBOX", None, None, msg.encode()))
        c.logout()
    except Exception as e:
        errors.append(repr(e))
ts = [threading.Thread(target=worker, args=(w,)) for w in range(W)]
[t.start() for t in ts]; [t.join() for t in ts]
assert not errors, errors
"#
    ));
}

#[test]
fn mbsync_syncs_a_thousand_messages_both_ways() {
    if !have("mbsync") {
        panic!("mbsync (isync) is needed: apt-get install isync");
    }
    let t = Imap::start();
    let started = Instant::now();
    load(&t, 1000);
    println!("loaded 1000 messages in {:?}", started.elapsed());
    let dir = t.server.dir.join("mbsync");
    let mail = dir.join("mail");
    std::fs::create_dir_all(&mail).expect("mail dir");
    let rc = dir.join("mbsyncrc");
    // isync 1.4 on Debian 12: SSLType IMAPS (TLSType is 1.5); a CertificateFile that matches the
    // server's certificate exactly is trusted (the dev cert is self-signed).
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount acc\nHost 127.0.0.1\nPort {port}\nUser {user}\nPass {pass}\nSSLType IMAPS\n\
             CertificateFile {cert}\nPipelineDepth 50\n\n\
             IMAPStore remote\nAccount acc\n\n\
             MaildirStore local\nPath {mail}/\nInbox {mail}/INBOX\nSubFolders Verbatim\n\n\
             Channel ch\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n",
            port = t.port("imaps"),
            user = t.inbox.email,
            pass = t.inbox.password,
            cert = t.server.dir.join("cert.pem").display(),
            mail = mail.display(),
        ),
    )
    .expect("rc");
    let sync = || {
        let started = Instant::now();
        // -Dn: the IMAP dialogue (commands and responses, no message data).
        let (ok, out) = run(
            Command::new("mbsync").arg("-Dn").arg("-c").arg(&rc).arg("-a"),
            Duration::from_secs(180),
        );
        assert!(ok, "mbsync failed:\n{out}");
        println!("mbsync run took {:?}", started.elapsed());
        out
    };
    let dialogue = sync();
    // mbsync turns on COMPRESS=DEFLATE (RFC 4978) when offered: the whole sync ran deflated.
    assert!(
        dialogue.contains("COMPRESS DEFLATE") && dialogue.contains("OK DEFLATE active"),
        "{}",
        &dialogue[..dialogue.len().min(4000)]
    );
    let inbox = mail.join("INBOX");
    assert_eq!(maildir_count(&inbox), 1000);
    for folder in ["Sent", "Drafts", "Trash", "Junk", "Archive"] {
        assert!(mail.join(folder).join("cur").is_dir(), "{folder} not created");
    }

    // Local changes: delete 10, mark 5 seen, move 3 to Archive, add one to Drafts.
    let files = maildir_files(&inbox);
    for f in &files[0..10] {
        std::fs::remove_file(f).expect("delete");
    }
    for f in &files[10..15] {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let base = name.split(":2,").next().unwrap().to_string();
        std::fs::rename(f, inbox.join("cur").join(format!("{base}:2,S"))).expect("mark seen");
    }
    for f in &files[15..18] {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let base = name.split(",U=").next().unwrap().to_string();
        std::fs::rename(f, mail.join("Archive").join("cur").join(format!("{base}:2,"))).expect("move");
    }
    std::fs::write(
        mail.join("Drafts").join("new").join("1700000000.local.draft"),
        "Subject: my draft\r\nMessage-ID: <draft@example.test>\r\n\r\ndraft body\r\n",
    )
    .expect("draft");
    sync();
    let out = t.py(r#"
c = tls()
for box in ["INBOX", "Archive", "Drafts"]:
    print(box, c.status(box, "(MESSAGES)")[1][0].decode())
ok(c.select("INBOX"))
print("SEEN", len(c.search(None, "SEEN")[1][0].split()))
ok(c.select("Drafts"))
print("DRAFT", c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1])
# Server-side changes for the way back: flag 2, delete 4.
ok(c.select("INBOX"))
ok(c.store("1:2", "+FLAGS", "(\\Flagged)"))
ok(c.store("3:6", "+FLAGS", "(\\Deleted)"))
ok(c.expunge())
c.logout()
"#);
    assert!(out.contains("INBOX (MESSAGES 987)"), "{out}");
    assert!(out.contains("Archive (MESSAGES 3)"), "{out}");
    assert!(out.contains("Drafts (MESSAGES 1)"), "{out}");
    assert!(out.contains("SEEN 5"), "{out}");
    assert!(out.contains("Subject: my draft"), "{out}");
    sync();
    assert_eq!(maildir_count(&inbox), 983);
    let flagged = maildir_files(&inbox)
        .iter()
        .filter(|f| f.to_string_lossy().rsplit(":2,").next().unwrap_or("").contains('F'))
        .count();
    assert_eq!(flagged, 2);
    // Nothing left to do: a third run changes nothing.
    sync();
    assert_eq!(maildir_count(&inbox), 983);
}

#[test]
fn curl_fetches_a_message() {
    if !have("curl") {
        panic!("curl is needed");
    }
    let t = Imap::start();
    let message = "From: Bob <bob@example.org>\r\nSubject: for curl\r\n\r\nHello curl\r\n";
    t.py(&format!(
        "c = tls()\nok(c.append('INBOX', None, None, {message:?}.encode()))\nc.logout()"
    ));
    let url = format!("imaps://127.0.0.1:{}/INBOX;UID=1", t.port("imaps"));
    let (ok, out) = run(
        Command::new("curl")
            .args(["--silent", "--show-error", "--insecure", "--max-time", "20", "-u"])
            .arg(format!("{}:{}", t.inbox.email, t.inbox.password))
            .arg(&url),
        Duration::from_secs(30),
    );
    assert!(ok, "curl failed: {out}");
    assert_eq!(out, message);
    // The mailbox listing too.
    let (ok, out) = run(
        Command::new("curl")
            .args(["--silent", "--show-error", "--insecure", "--max-time", "20", "-u"])
            .arg(format!("{}:{}", t.inbox.email, t.inbox.password))
            .arg(format!("imaps://127.0.0.1:{}/", t.port("imaps"))),
        Duration::from_secs(30),
    );
    assert!(ok && out.contains("\\Sent) \"/\" Sent"), "{out}");
}
