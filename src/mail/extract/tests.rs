//! The table of API.md part 2 section 3 (one test per case, numbered), then cases of our
//! own: MIME paths built as real RFC 5322 bytes, and hostile input.

use std::time::{Duration, Instant};

use mail_builder::MessageBuilder;
use mail_builder::mime::MimePart;
use mail_parser::MessageParser;
use serde_json::json;

use super::*;
use crate::mail::text;

fn input(subject: &str, text: Option<&str>, html: Option<&str>) -> ExtractInput {
    ExtractInput {
        subject: subject.to_string(),
        text: text.map(str::to_string),
        html: html.map(str::to_string),
        list_unsubscribe: Vec::new(),
    }
}

fn code(subject: &str, text: &str) -> Option<String> {
    extract(&input(subject, Some(text), None)).code
}

fn values(e: &Extraction) -> Vec<&str> {
    e.codes.iter().map(|c| c.value.as_str()).collect()
}

fn reply(text: &str) -> Extraction {
    extract(&input("", Some(text), None))
}

#[test]
fn case_01_code_after_keyword() {
    let e = extract(&input(
        "Your verification code",
        Some("Your code is 482910. It expires in 10 minutes."),
        None,
    ));
    assert_eq!(e.code.as_deref(), Some("482910"));
    assert_eq!(
        (e.codes[0].confidence, e.codes[0].source, e.codes[0].keyword.as_deref()),
        (Confidence::High, CodeSource::Text, Some("code"))
    );
    assert_eq!(values(&e), ["482910"]);
}

#[test]
fn case_02_jd_chinese_brackets_and_fullwidth_colon() {
    assert_eq!(
        code("", "【京东】验证码：548393，您正在新设备上登录").as_deref(),
        Some("548393")
    );
}

#[test]
fn case_03_code_touching_han() {
    assert_eq!(code("", "您的验证码：123456请勿泄露").as_deref(), Some("123456"));
}

#[test]
fn case_04_code_touching_hangul() {
    assert_eq!(code("", "인증 코드: 456789입니다").as_deref(), Some("456789"));
}

#[test]
fn case_05_letter_prefixed_code() {
    let e = extract(&input("", Some("G-318244 is your Google verification code."), None));
    assert_eq!(e.code.as_deref(), Some("318244"));
    assert_eq!(
        (e.codes[0].raw.as_str(), e.codes[0].keyword.as_deref()),
        ("G-318244", Some("verification"))
    );
}

#[test]
fn case_06_order_number_before_code() {
    let e = extract(&input("", Some("Your code for order 12345678 is 4930"), None));
    assert_eq!(e.code.as_deref(), Some("4930"));
    assert_eq!(values(&e), ["4930"]);
}

#[test]
fn case_07_code_in_subject_order_in_text() {
    let e = extract(&input("Your code: 778899", Some("Order 12345 shipped"), None));
    assert_eq!(e.code.as_deref(), Some("778899"));
    assert_eq!(e.codes[0].source, CodeSource::Subject);
    assert_eq!(values(&e), ["778899"]);
}

#[test]
fn case_08_spaced_code_with_keyword_in_subject() {
    let e = extract(&input("Sign-in code", Some("Use 591 204 to sign in"), None));
    assert_eq!(e.code.as_deref(), Some("591204"));
    assert_eq!(
        (e.codes[0].raw.as_str(), e.codes[0].confidence),
        ("591 204", Confidence::Medium)
    );
}

#[test]
fn case_09_german_compound() {
    assert_eq!(code("", "Ihr Bestätigungscode: 7731").as_deref(), Some("7731"));
}

#[test]
fn case_10_fullwidth_digits() {
    let e = extract(&input("", Some("Your one-time passcode is ４９３０２１"), None));
    assert_eq!(e.code.as_deref(), Some("493021"));
    assert_eq!(e.codes[0].keyword.as_deref(), Some("passcode"));
}

#[test]
fn case_11_alphanumeric_code() {
    assert_eq!(code("", "Verification code: vM8xw").as_deref(), Some("vM8xw"));
}

#[test]
fn case_12_order_and_phone_are_no_codes() {
    let e = extract(&input(
        "Your order",
        Some("Order #100234 shipped. Questions? Call +1 415 555 0100."),
        None,
    ));
    assert_eq!(e.code, None);
    assert!(e.codes.is_empty(), "{:?}", e.codes);
}

#[test]
fn case_13_date_time_and_year_like_room() {
    let e = extract(&input("", Some("Meeting on 2026-05-12 at 10:30 in room 2041"), None));
    assert_eq!(e.code, None);
    assert!(e.codes.is_empty(), "{:?}", e.codes);
}

#[test]
fn case_14_verify_link_first_unsubscribe_last() {
    let html = r#"<a href="https://e.test/unsubscribe">Unsubscribe</a> <a href="https://app.e.test/verify?t=abc">Confirm your email</a>"#;
    let e = extract(&input("", None, Some(html)));
    assert_eq!(e.links[0].url, "https://app.e.test/verify?t=abc");
    assert_eq!(e.links[0].kind, LinkKind::Verify);
    assert_eq!(e.links.last().map(|l| l.kind), Some(LinkKind::Unsubscribe));
    assert_eq!(e.link.as_deref(), Some("https://app.e.test/verify?t=abc"));
}

#[test]
fn case_15_bare_magic_link_loses_its_full_stop() {
    let e = extract(&input("", Some("Sign in: https://e.test/auth/magic?t=xyz."), None));
    assert_eq!(e.link.as_deref(), Some("https://e.test/auth/magic?t=xyz"));
    assert_eq!(
        (e.links[0].kind, e.links[0].source),
        (LinkKind::MagicLogin, LinkSource::Text)
    );
}

#[test]
fn case_16_mobile_footer_and_on_wrote() {
    let e = reply(
        "Thursday at 2pm works.\n\nSent from my iPhone\n\nOn Tue, Sep 22, 2026 at 9:14 AM Priya <p@x.test> wrote:\n> Can we move it?",
    );
    assert_eq!(
        (e.reply_text.as_str(), e.reply_text_trimmed),
        ("Thursday at 2pm works.", true)
    );
}

#[test]
fn case_17_am_schrieb() {
    let e = reply("Ja, passt.\n\nAm 12.05.2026 um 10:00 schrieb Max <m@x.test>:\n> Dienstag?");
    assert_eq!(e.reply_text, "Ja, passt.");
}

#[test]
fn case_18_zai_xiedao() {
    let e = reply("好的，收到。\n\n在 2026年5月12日 10:00，张三 <z@x.test> 写道：\n> 明天开会吗？");
    assert_eq!(e.reply_text, "好的，收到。");
}

#[test]
fn case_19_outlook_header_lines() {
    let e = reply("Approved.\n\nFrom: Bob <b@x.test>\nSent: Tuesday, May 12, 2026\nTo: Alice\nSubject: Budget");
    assert_eq!(e.reply_text, "Approved.");
}

#[test]
fn case_20_interleaved_answers_unchanged() {
    let e = reply("> q1\na1\n> q2\na2");
    assert_eq!(
        (e.reply_text.as_str(), e.reply_text_trimmed),
        ("> q1\na1\n> q2\na2", false)
    );
}

#[test]
fn json_is_the_sections_shape() {
    let html = r#"<p>Your code is <b>482910</b>.</p><p><a href="https://app.example.com/verify?t=abc">Confirm your email</a></p>"#;
    let e = extract(&input("Your code", Some("Your code is 482910."), Some(html)));
    assert_eq!(
        serde_json::to_value(&e).ok(),
        Some(json!({
            "code": "482910",
            "codes": [{"value": "482910", "raw": "482910", "confidence": "high", "source": "text", "keyword": "code"}],
            "link": "https://app.example.com/verify?t=abc",
            "links": [{"url": "https://app.example.com/verify?t=abc", "text": "Confirm your email", "kind": "verify", "source": "html"}],
            "replyText": "Your code is 482910.",
            "replyTextTrimmed": false
        }))
    );
}

// ---- MIME paths, as real messages ----

fn builder() -> MessageBuilder<'static> {
    MessageBuilder::new()
        .from(("Acme", "no-reply@acme.test"))
        .to("scout@example.test")
        .subject("Confirm your account")
}

fn raw_message(headers: &str, body: &str) -> Vec<u8> {
    format!("From: no-reply@acme.test\r\nTo: scout@example.test\r\n{headers}\r\n{body}").into_bytes()
}

#[test]
fn alternative_with_only_html() {
    let html = r#"<html><head><style>.x{color:red}</style></head><body><table><tr><td>Your verification code</td></tr><tr><td style="font-size:28px">730519</td></tr></table><a href="https://acme.test/confirm?u=1&amp;t=2">Confirm</a></body></html>"#;
    let raw = builder()
        .body(MimePart::new(
            "multipart/alternative",
            vec![MimePart::new("text/html", html)],
        ))
        .write_to_vec()
        .unwrap_or_default();
    assert!(String::from_utf8_lossy(&raw).contains("multipart/alternative"));
    let e = extract_raw(&raw);
    assert_eq!(e.code.as_deref(), Some("730519"));
    assert_eq!(e.codes[0].source, CodeSource::Html);
    assert_eq!(e.link.as_deref(), Some("https://acme.test/confirm?u=1&t=2"));
    let parsed = MessageParser::default().parse(&raw);
    let body = parsed.as_ref().map(text::body_text).unwrap_or_default();
    assert!(body.from_html);
    assert_eq!(body.text, "Your verification code\n730519\nConfirm");
    assert_eq!(text::preview(&body.text), "Your verification code 730519 Confirm");
}

#[test]
fn quoted_printable_body_in_latin1() {
    // The soft line break splits the code; the charset is ISO-8859-1.
    let raw = raw_message(
        "Subject: Anmeldung\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n",
        "Ihr Best=E4tigungscode: 77=\r\n31\r\nBest=E4tigen: https://acme.test/confirm?id=3D9\r\n",
    );
    let e = extract_raw(&raw);
    assert_eq!(e.code.as_deref(), Some("7731"));
    assert_eq!(e.codes[0].raw, "7731");
    assert_eq!(
        e.reply_text,
        "Ihr Bestätigungscode: 7731\nBestätigen: https://acme.test/confirm?id=9"
    );
    assert_eq!(
        (e.link.as_deref(), e.links[0].kind),
        (Some("https://acme.test/confirm?id=9"), LinkKind::Verify)
    );
}

#[test]
fn base64_body_in_utf8() {
    let raw = builder()
        .subject("【京东】登录验证")
        .text_body("【京东】验证码：548393，您正在新设备上登录。验证码五分钟内有效，请勿泄露给他人。")
        .write_to_vec()
        .unwrap_or_default();
    assert!(String::from_utf8_lossy(&raw).contains("Content-Transfer-Encoding: base64"));
    let e = extract_raw(&raw);
    assert_eq!(e.code.as_deref(), Some("548393"));
    assert_eq!(e.codes[0].keyword.as_deref(), Some("验证码"));
}

#[test]
fn code_in_the_subject_only() {
    let raw = builder()
        .subject("482910 is your Acme verification code")
        .text_body("Welcome to Acme!")
        .write_to_vec()
        .unwrap_or_default();
    let e = extract_raw(&raw);
    assert_eq!(e.code.as_deref(), Some("482910"));
    assert_eq!(
        (e.codes[0].source, e.codes[0].confidence),
        (CodeSource::Subject, Confidence::High)
    );
}

#[test]
fn list_unsubscribe_header_marks_its_link() {
    let raw = raw_message(
        "Subject: News\r\nList-Unsubscribe: <mailto:u@acme.test>,\r\n <https://acme.test/u/\r\n 42>\r\nContent-Type: text/html\r\n",
        r#"<a href="https://acme.test/u/42">Manage</a> <a href="https://acme.test/post">Read</a>"#,
    );
    let e = extract_raw(&raw);
    let kinds: Vec<(&str, LinkKind)> = e.links.iter().map(|l| (l.url.as_str(), l.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("https://acme.test/post", LinkKind::Other),
            ("https://acme.test/u/42", LinkKind::Unsubscribe)
        ]
    );
    assert_eq!(e.link, None);
}

#[test]
fn gmail_html_reply_drops_the_quote() {
    let html = r#"<div dir="ltr">Works for me, code 5521 is fine.</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Tue, Sep 22, 2026 at 9:14 AM Priya &lt;p@x.test&gt; wrote:<br></div><blockquote class="gmail_quote">Your code is 998877</blockquote></div>"#;
    let e = extract(&input("Re: hi", None, Some(html)));
    assert_eq!(
        (e.reply_text.as_str(), e.reply_text_trimmed),
        ("Works for me, code 5521 is fine.", true)
    );
    assert_eq!(values(&e), ["5521"]);
}

// ---- codes next to other numbers ----

#[test]
fn codes_next_to_cjk_punctuation() {
    assert_eq!(code("", "验证码【829301】，5分钟内有效。").as_deref(), Some("829301"));
    assert_eq!(code("", "認証コード：482019。").as_deref(), Some("482019"));
    assert_eq!(code("", "인증번호[123789]를 입력하세요").as_deref(), Some("123789"));
    assert_eq!(code("", "您的动态码为「667123」").as_deref(), Some("667123"));
}

#[test]
fn phone_number_and_date_beside_a_code() {
    let e = extract(&input(
        "Sign in",
        Some(
            "Your code is 739201.\nCall 415-555-0100 or +44 20 7946 0958, phone 5550199.\nSent 2026-05-12 10:30, 12/05/2026, 20260512.",
        ),
        None,
    ));
    assert_eq!(e.code.as_deref(), Some("739201"));
    assert_eq!(values(&e), ["739201"]);
}

#[test]
fn money_amounts_are_no_codes() {
    let e = extract(&input(
        "Your code",
        Some("Total $1234, 5678 EUR, USD 4321, 2500%, 1299.99, 3000元, ¥8800, 1500 kg, 500MB.\nYour code: 4821"),
        None,
    ));
    assert_eq!(values(&e), ["4821"]);
}

#[test]
fn order_number_then_code() {
    let e = extract(&input(
        "",
        Some("Order 48213 confirmed.\nInvoice no. 99120.\nYour verification code: 662901"),
        None,
    ));
    assert_eq!(e.code.as_deref(), Some("662901"));
    assert_eq!(values(&e), ["662901"]);
}

#[test]
fn year_after_a_keyword_is_a_code() {
    assert_eq!(code("", "PIN: 1999").as_deref(), Some("1999"));
    assert_eq!(code("", "Your code arrives in 2026").as_deref(), None);
}

#[test]
fn lone_code_on_its_line_is_medium() {
    let e = extract(&input(
        "Your Acme login code",
        Some("Here it is:\n\n  830192  \n\nThanks"),
        None,
    ));
    assert_eq!(e.code.as_deref(), Some("830192"));
    assert_eq!(
        (e.codes[0].confidence, e.codes[0].keyword.as_deref()),
        (Confidence::Medium, Some("login code"))
    );
}

#[test]
fn no_keyword_means_low_and_no_code() {
    let e = extract(&input("Hello", Some("See you at gate 4471"), None));
    assert_eq!(e.code, None);
    assert_eq!(
        e.codes.iter().map(|c| c.confidence).collect::<Vec<_>>(),
        [Confidence::Low]
    );
}

#[test]
fn alphanumerics_need_high_confidence() {
    assert_eq!(
        values(&extract(&input("Code inside", Some("Model X9000ab\n\nX1Y2Z3"), None))),
        Vec::<&str>::new()
    );
}

#[test]
fn urls_addresses_and_zero_width() {
    let e = extract(&input(
        "",
        Some("Your code is 48\u{200B}29\u{200B}10, not https://e.test/123456 nor 654321@e.test"),
        None,
    ));
    assert_eq!(values(&e), ["482910"]);
}

#[test]
fn best_code_first_and_values_once() {
    let e = extract(&input(
        "Code 112233",
        Some("Your code is 445566\nAgain: 112233\nOther 7788"),
        None,
    ));
    assert_eq!(values(&e), ["112233", "445566", "7788"]);
    assert_eq!(e.codes[0].source, CodeSource::Subject);
}

// ---- reply text ----

#[test]
fn on_wrote_over_two_lines() {
    let e = reply(
        "Works for me.\r\n\r\nOn Tue, Sep 22, 2026 at 9:14 AM Priya Raman <priya.raman@example.test>\r\nwrote:\r\n\r\n> Can we move it?\r\n> Your code is 123456",
    );
    assert_eq!(e.reply_text, "Works for me.");
    assert_eq!(e.code, None);
}

#[test]
fn outlook_original_message() {
    let e = reply("Done.\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\nSubject: code 993311\n\nold");
    assert_eq!((e.reply_text.as_str(), e.code), ("Done.", None));
}

#[test]
fn signature_line() {
    let e = reply("See you then.\n\n-- \nBob Smith\nTel +1 415 555 0100");
    assert_eq!((e.reply_text.as_str(), e.reply_text_trimmed), ("See you then.", true));
}

// ---- hostile input: bounded time, no panic ----

/// Generous: a quadratic path would take minutes; an unoptimised build takes well under this.
const BOUND: Duration = Duration::from_secs(30);

fn bounded(raw: &[u8]) -> Extraction {
    let started = Instant::now();
    let e = extract_raw(raw);
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    e
}

fn html_message(html: &str) -> Vec<u8> {
    raw_message("Subject: x\r\nContent-Type: text/html; charset=utf-8\r\n", html)
}

#[test]
fn hostile_one_megabyte_of_html() {
    let mut html = String::new();
    let mut i = 0u32;
    while html.len() < 1 << 20 {
        html.push_str(&format!(
            "<div class=\"gmail_quote\"><a href=\"https://e.test/{i}?token=1&amp;x\">code {i:06} <b>verify</b></a><blockquote type=cite><p>&#x{:x}; &bogus; <",
            0x4e00 + i % 100
        ));
        i += 1;
    }
    let e = bounded(&html_message(&html));
    assert!(e.links.len() <= MAX_LINKS && e.codes.len() <= MAX_CODES);
}

#[test]
fn hostile_deep_nesting() {
    let html = "<div><blockquote type=cite><span>".repeat(100_000) + "Your code is 123456";
    let e = bounded(&html_message(&html));
    assert_eq!(e.reply_text, "");
    let html = "<b><i><div>".repeat(100_000) + "Your code is 123456" + &"</div></i></b>".repeat(100_000);
    assert_eq!(bounded(&html_message(&html)).code.as_deref(), Some("123456"));
}

#[test]
fn hostile_many_attributes_in_one_tag() {
    let mut html = String::from("<a href=\"https://e.test/v\"");
    for i in 0..150_000 {
        html.push_str(&format!(" a{i}=1"));
    }
    html.push_str(">Verify</a>");
    assert_eq!(bounded(&html_message(&html)).link.as_deref(), Some("https://e.test/v"));
}

#[test]
fn hostile_hundred_thousand_digits() {
    let text = format!("Your code is {}\n", "7".repeat(100_000));
    let e = bounded(&raw_message("Subject: code\r\n", &text));
    assert_eq!(e.code, None);
    let spaced = "Your code is ".to_string() + &"1234 ".repeat(20_000);
    let e = bounded(&raw_message("Subject: code\r\n", &spaced));
    assert!(e.codes.len() <= MAX_CODES);
}

#[test]
fn hostile_invalid_utf8_and_unknown_charset() {
    let mut raw = b"Subject: \xff\xfe code\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\n".to_vec();
    raw.extend_from_slice(b"Your code is \xff\xfe\xc3 660011 \xe2\x82\r\n");
    let e = bounded(&raw);
    assert_eq!(e.code.as_deref(), Some("660011"));
    let raw = raw_message("Content-Type: text/html; charset=utf-16\r\n", "\u{0}<\u{0}a\u{0}");
    bounded(&raw);
}

#[test]
fn hostile_empty_and_garbage() {
    for raw in [
        &b""[..],
        b"\r\n\r\n",
        b"garbage without header",
        b"Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n--x--",
    ] {
        let e = bounded(raw);
        assert_eq!((e.code, e.link), (None, None));
    }
    assert_eq!(extract(&ExtractInput::default()).reply_text, "");
}
