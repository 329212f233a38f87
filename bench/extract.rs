//! Extraction benchmark (API.md part 2 section 3): prints µs per message for
//! - a typical verification mail (multipart/alternative, text and HTML, about 4 KB),
//! - a long newsletter (HTML only, about 200 KB, 300 links),
//! - 1 MB of hostile HTML (nested quote containers, entities, broken tags, a link per line),
//! - 1 MB of one start tag with 150,000 attributes,
//!
//! each as: `parse` (mail-parser, the bodies decoded), `extract` (given the parsed input),
//! `text+preview` (the message object's `text` and `preview`), and `raw->extract` (all of it
//! from raw bytes, what an event or wait path pays). Median and p99 of repeated runs, in a
//! single thread.
//!
//! Run: `cargo run --release --example bench_extract` (`MAILROOM_BENCH_SECS` per figure,
//! default 1; `MAILROOM_BENCH_CASE=newsletter` runs the messages whose name has that word).

use std::hint::black_box;
use std::time::{Duration, Instant};

use mail_builder::MessageBuilder;
use mail_builder::mime::MimePart;
use mail_parser::MessageParser;
use mailroom::mail::extract::{ExtractInput, extract, extract_raw};
use mailroom::mail::text;

fn verification_mail() -> Vec<u8> {
    let text = "Hi Scout,\n\nYour Acme verification code is 482910. It expires in 10 minutes.\n\n\
        Or confirm your email address with this link:\nhttps://app.acme.test/verify?t=9f8e7d6c5b4a\n\n\
        If you did not sign up, ignore this message.\n\n-- \nAcme, 1 Market St, San Francisco, CA 94105\n\
        Questions? Call +1 415 555 0100.\n";
    let mut html = String::from(
        "<html><head><style>body{font-family:sans-serif}.code{font-size:32px;letter-spacing:4px}</style></head><body>",
    );
    html.push_str("<table width=\"100%\"><tr><td><img src=\"https://cdn.acme.test/logo.png\" alt=\"Acme\"></td></tr>");
    html.push_str("<tr><td><p>Hi Scout,</p><p>Your Acme verification code is</p><p class=\"code\">482910</p>");
    html.push_str("<p>It expires in 10 minutes.</p><p><a href=\"https://app.acme.test/verify?t=9f8e7d6c5b4a&amp;utm_source=email\" style=\"background:#06c;color:#fff;padding:12px 24px\">Confirm your email</a></p>");
    html.push_str("<p style=\"color:#999\">If you did not sign up, ignore this message.</p></td></tr>");
    for i in 0..12 {
        html.push_str(&format!("<tr><td style=\"padding:4px;color:#999;font-size:11px\">Footer line {i}: Acme Inc., 1 Market St, San Francisco &middot; <a href=\"https://acme.test/legal/{i}\">Legal</a></td></tr>"));
    }
    html.push_str(
        "<tr><td><a href=\"https://acme.test/unsubscribe?u=42\">Unsubscribe</a></td></tr></table></body></html>",
    );
    MessageBuilder::new()
        .from(("Acme", "no-reply@acme.test"))
        .to("scout@example.test")
        .subject("Your Acme verification code")
        .header(
            "List-Unsubscribe",
            mail_builder::headers::raw::Raw::new("<https://acme.test/unsubscribe?u=42>"),
        )
        .body(MimePart::new(
            "multipart/alternative",
            vec![MimePart::new("text/plain", text), MimePart::new("text/html", html)],
        ))
        .write_to_vec()
        .unwrap_or_default()
}

fn newsletter() -> Vec<u8> {
    let mut html = String::from("<!DOCTYPE html><html><head><title>Weekly</title><style>");
    html.push_str(&".c{color:#333;margin:0;padding:0}".repeat(200));
    html.push_str("</style></head><body><center><table width=\"600\">");
    let mut n = 0;
    while html.len() < 200 * 1024 {
        html.push_str(&format!(
            "<tr><td class=\"c\" style=\"padding:16px;font-family:Georgia,serif\"><h2><a href=\"https://news.acme.test/story/{n}?utm_source=weekly&amp;utm_medium=email&amp;utm_campaign=2026-05\">Story {n}: what happened this week in the world of widgets</a></h2>\
             <p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Prices from $1299 and 25% off until 2026-05-31.</p>\
             <p><a href=\"https://news.acme.test/story/{n}#comments\">Comments</a> &middot; <a href=\"https://news.acme.test/share/{n}\">Share</a></p></td></tr>"
        ));
        n += 1;
    }
    html.push_str("<tr><td><a href=\"https://news.acme.test/unsubscribe?u=42\">Unsubscribe</a> | <a href=\"https://news.acme.test/prefs\">Preferences</a></td></tr></table></center></body></html>");
    MessageBuilder::new()
        .from(("Acme Weekly", "news@acme.test"))
        .to("scout@example.test")
        .subject("This week at Acme")
        .html_body(html)
        .write_to_vec()
        .unwrap_or_default()
}

fn html_message(html: String) -> Vec<u8> {
    let mut raw =
        b"From: x@e.test\r\nTo: y@e.test\r\nSubject: code\r\nContent-Type: text/html; charset=utf-8\r\n\r\n".to_vec();
    raw.extend_from_slice(html.as_bytes());
    raw
}

fn hostile_html() -> Vec<u8> {
    let mut html = String::new();
    let mut i = 0u32;
    while html.len() < 1 << 20 {
        html.push_str(&format!(
            "<div class=\"gmail_quote\"><a href=\"https://e.test/{i}?token=1&amp;x\">code {i:06} <b>verify</b></a><blockquote type=cite><p>&#x{:x}; &bogus; <\n",
            0x4e00 + i % 100
        ));
        i += 1;
    }
    html_message(html)
}

fn attribute_flood() -> Vec<u8> {
    let mut html = String::from("<a href=\"https://e.test/v\"");
    let mut i = 0;
    while html.len() < 1 << 20 {
        html.push_str(&format!(" a{i}=1"));
        i += 1;
    }
    html.push_str(">Verify</a>");
    html_message(html)
}

/// Median and p99 of `f` in µs, run for about `budget`.
fn time(budget: Duration, mut f: impl FnMut()) -> (f64, f64) {
    let mut samples = Vec::new();
    let started = Instant::now();
    while started.elapsed() < budget || samples.len() < 5 {
        let t = Instant::now();
        f();
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99))
}

fn main() {
    let secs = std::env::var("MAILROOM_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(secs);
    let cases = [
        ("verification mail", verification_mail()),
        ("newsletter", newsletter()),
        ("hostile 1 MB HTML", hostile_html()),
        ("1 MB attribute flood", attribute_flood()),
    ];
    println!(
        "{:<22} {:>8} {:>20} {:>20} {:>20} {:>20}",
        "message", "bytes", "parse p50/p99 µs", "extract p50/p99", "text+preview", "raw->extract"
    );
    let only = std::env::var("MAILROOM_BENCH_CASE").unwrap_or_default();
    for (name, raw) in cases.iter().filter(|(name, _)| name.contains(only.as_str())) {
        let parsed = MessageParser::default().parse(raw);
        let Some(msg) = parsed.as_ref() else {
            println!("{name}: does not parse");
            continue;
        };
        let input = ExtractInput::from_message(msg);
        let e = extract(&input);
        let parse = time(budget, || {
            black_box(
                MessageParser::default()
                    .parse(black_box(raw))
                    .map(|m| ExtractInput::from_message(&m)),
            );
        });
        let ext = time(budget, || {
            black_box(extract(black_box(&input)));
        });
        let txt = time(budget, || {
            let body = text::body_text(black_box(msg));
            black_box(text::preview(&body.text));
        });
        let all = time(budget, || {
            black_box(extract_raw(black_box(raw)));
        });
        let pair = |(a, b): (f64, f64)| format!("{a:.0} / {b:.0}");
        println!(
            "{name:<22} {:>8} {:>20} {:>20} {:>20} {:>20}   code={:?} links={} link={:?}",
            raw.len(),
            pair(parse),
            pair(ext),
            pair(txt),
            pair(all),
            e.code,
            e.links.len(),
            e.link
        );
    }
}
