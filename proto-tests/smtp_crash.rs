//! Durability under a crash: load generators submit on the MX port while the server
//! is killed with SIGKILL; after each restart every message that got 250 must be
//! there, byte for byte, and nothing stored may be partial.

mod common;
mod smtp_support;

use smtp_support::Smtp;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ROUNDS: usize = 4;
const THREADS: usize = 6;

/// The message for an id: its size and contents follow from the id, so what is
/// read back can be checked without keeping every message sent.
fn content(id: &str, to: &str) -> Vec<u8> {
    let lines = 8 + id.bytes().map(usize::from).sum::<usize>() % 40;
    let mut m =
        format!("From: load@example.org\r\nTo: {to}\r\nSubject: {id}\r\nMessage-ID: <{id}@crash.example>\r\n\r\n");
    for n in 0..lines {
        m.push_str(&format!(
            "{id} line {n:03} the quick brown fox jumps over the lazy dog\r\n"
        ));
    }
    m.into_bytes()
}

fn reply(reader: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(all);
        }
    }
}

fn expect(reader: &mut BufReader<TcpStream>, code: &str) -> std::io::Result<()> {
    let r = reply(reader)?;
    if r.starts_with(code) {
        Ok(())
    } else {
        Err(std::io::Error::other(r))
    }
}

/// Sends messages until the connection breaks; returns the ids that got 250.
fn load(addr: SocketAddr, to: &str, prefix: &str, stop: &AtomicBool) -> Vec<String> {
    let mut acked = Vec::new();
    let _ = (|| -> std::io::Result<()> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut writer = tcp.try_clone()?;
        let mut reader = BufReader::new(tcp);
        expect(&mut reader, "220")?;
        writer.write_all(b"EHLO load.example\r\n")?;
        expect(&mut reader, "250")?;
        for n in 0.. {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let id = format!("{prefix}-{n}");
            // Pipelined envelope, as clients with PIPELINING do.
            writer.write_all(format!("MAIL FROM:<load@example.org>\r\nRCPT TO:<{to}>\r\nDATA\r\n").as_bytes())?;
            expect(&mut reader, "250")?;
            expect(&mut reader, "250")?;
            expect(&mut reader, "354")?;
            writer.write_all(&content(&id, to))?;
            writer.write_all(b".\r\n")?;
            expect(&mut reader, "250")?;
            acked.push(id);
        }
        Ok(())
    })();
    acked
}

#[test]
fn every_acknowledged_message_survives_kill_9() {
    let started = Instant::now();
    let mut t = Smtp::start();
    let second = common::provision(&t.server, "second");
    let inboxes = [t.inbox.email.clone(), second.email.clone()];
    let mut acked: Vec<(usize, String)> = Vec::new();
    for round in 0..ROUNDS {
        let mx = t.mx();
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..THREADS)
            .map(|n| {
                let to = inboxes[n % 2].clone();
                let stop = stop.clone();
                std::thread::spawn(move || (n % 2, load(mx, &to, &format!("r{round}t{n}"), &stop)))
            })
            .collect();
        // Kill at a different point of the load each round.
        std::thread::sleep(Duration::from_millis(400 + 170 * round as u64));
        t.server.kill9();
        stop.store(true, Ordering::Relaxed);
        let mut this_round = 0;
        for w in workers {
            let (inbox, ids) = w.join().expect("load thread");
            this_round += ids.len();
            acked.extend(ids.into_iter().map(|id| (inbox, id)));
        }
        assert!(
            this_round > 0,
            "round {round}: no message was acknowledged before the kill"
        );
        t.server.start_again();
        verify(&t, &second, &inboxes, &acked);
        eprintln!("round {round}: {this_round} acknowledged, all present after kill -9");
    }
    assert!(started.elapsed() < Duration::from_secs(60), "crash test too slow");
}

/// Every acknowledged id is stored whole; every stored message is a whole message.
fn verify(t: &Smtp, second: &common::TestInbox, inboxes: &[String; 2], acked: &[(usize, String)]) {
    for (n, inbox) in [&t.inbox, second].into_iter().enumerate() {
        let stored = smtp_support::fetch_all(&t.server, inbox, "INBOX");
        let mut by_id: HashMap<String, Vec<u8>> = HashMap::new();
        for m in &stored {
            let body = m.without_received().to_vec();
            let text = String::from_utf8_lossy(&body).into_owned();
            let id = text
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .expect("subject")
                .to_string();
            assert_eq!(body, content(&id, &inboxes[n]), "stored message {id} is not whole");
            by_id.insert(id, body);
        }
        for (_, id) in acked.iter().filter(|(i, _)| *i == n) {
            assert!(by_id.contains_key(id), "{id} got 250 but is missing after kill -9");
        }
    }
}
