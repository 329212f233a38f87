//! Exact-bytes FETCH transcripts: our ENVELOPE and BODY/BODYSTRUCTURE encoded by
//! imap-codec, compared with the RFC 3501 7.4.2 example and what Dovecot answers for the
//! same messages (modulo the case of type names, which Dovecot copies from the message).
//! Line counts follow Dovecot: a part's last line, whose CRLF belongs to the following
//! boundary, is not counted.

use std::num::NonZeroU32;

use imap_codec::ResponseCodec;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::core::Vec1;
use imap_codec::imap_types::fetch::MessageDataItem;
use imap_codec::imap_types::response::{Data, Response};

use super::{body_structure, envelope};
use crate::mail::fixtures::*;
use crate::mail::summarize;

fn fetch(item: MessageDataItem<'static>) -> String {
    let resp = Response::Data(Data::Fetch {
        seq: NonZeroU32::MIN,
        items: Vec1::from(item),
    });
    String::from_utf8_lossy(&ResponseCodec::default().encode(&resp).dump()).into_owned()
}

fn env(raw: &[u8]) -> String {
    fetch(MessageDataItem::Envelope(envelope(&summarize(raw))))
}

fn bs(raw: &[u8]) -> String {
    fetch(MessageDataItem::BodyStructure(body_structure(&summarize(raw), true)))
}

fn body(raw: &[u8]) -> String {
    fetch(MessageDataItem::Body(body_structure(&summarize(raw), false)))
}

const TERRY: &str = "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\"))";

#[test]
fn rfc3501_example() {
    // RFC 3501 7.4.2, the FETCH example, with our body's size.
    assert_eq!(
        env(RFC3501),
        format!(
            "* 1 FETCH (ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \
             \"IMAP4rev1 WG mtg summary and minutes\" {TERRY} {TERRY} {TERRY} \
             ((NIL NIL \"imap\" \"cac.washington.edu\")) \
             ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) \
             NIL NIL \"<B27397-0100000@cac.washington.edu>\"))\r\n"
        )
    );
    assert_eq!(
        body(RFC3501),
        "* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 55 1))\r\n"
    );
}

#[test]
fn simple_text_plain() {
    // Dovecot: ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 31 2 NIL NIL NIL NIL)
    assert_eq!(
        bs(SIMPLE),
        "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 31 2 NIL NIL NIL NIL))\r\n"
    );
    assert_eq!(
        env(SIMPLE),
        "* 1 FETCH (ENVELOPE (\"Mon, 3 Feb 2025 12:00:00 +0000\" \"Lunch\" \
         ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) \
         ((\"Alice\" NIL \"alice\" \"example.org\")) ((NIL NIL \"bob\" \"example.com\")) NIL NIL NIL \
         \"<lunch-1@example.org>\"))\r\n"
    );
}

#[test]
fn multipart_alternative() {
    assert_eq!(
        bs(ALTERNATIVE),
        "* 1 FETCH (BODYSTRUCTURE (\
         (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"quoted-printable\" 14 0 NIL NIL NIL NIL)\
         (\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 24 0 NIL NIL NIL NIL) \
         \"ALTERNATIVE\" (\"BOUNDARY\" \"alt\") NIL NIL NIL))\r\n"
    );
    // BODY: the same without extension data (RFC 3501 7.4.2 BODY).
    assert_eq!(
        body(ALTERNATIVE),
        "* 1 FETCH (BODY (\
         (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"quoted-printable\" 14 0)\
         (\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 24 0) \"ALTERNATIVE\"))\r\n"
    );
}

#[test]
fn multipart_mixed_with_attachment() {
    assert_eq!(
        bs(MIXED),
        "* 1 FETCH (BODYSTRUCTURE (\
         (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 13 0 NIL NIL (\"en\" \"de\") NIL)\
         (\"APPLICATION\" \"PDF\" (\"NAME\" \"report.pdf\") \"<pdf1@example.org>\" \"The report\" \"base64\" 12 \
         NIL (\"ATTACHMENT\" (\"FILENAME\" \"report.pdf\")) NIL NIL) \
         \"MIXED\" (\"BOUNDARY\" \"mix\") NIL NIL NIL))\r\n"
    );
}

#[test]
fn nested_message_rfc822() {
    let alice = "((\"Alice\" NIL \"alice\" \"example.org\"))";
    assert_eq!(
        bs(NESTED),
        format!(
            "* 1 FETCH (BODYSTRUCTURE (\
             (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 16 0 NIL NIL NIL NIL)\
             (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 225 \
             (NIL \"Newsletter\" {alice} {alice} {alice} NIL NIL NIL NIL NIL) \
             ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 10 0 NIL NIL NIL NIL)\
             (\"TEXT\" \"HTML\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 16 0 NIL NIL NIL NIL) \
             \"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL) \
             13 NIL NIL NIL NIL) \
             \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL))\r\n"
        )
    );
}

#[test]
fn eight_bit_and_encoded_word_headers() {
    // Encoded-words stay raw (RFC 3501 7.4.2); 8-bit text is sent as a literal.
    let jorg = "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.de\"))";
    assert_eq!(
        env(ENCODED),
        format!(
            "* 1 FETCH (ENVELOPE (NIL {{37}}\r\n=?iso-8859-1?q?Gr=FC=DFe?= und Küsse \
             {jorg} {jorg} {jorg} (({{4}}\r\nZoë NIL \"zoe\" \"example.de\")) NIL NIL NIL NIL))\r\n"
        )
    );
}

#[test]
fn groups_and_missing_from() {
    // Missing From: NIL, and Sender/Reply-To follow it (RFC 3501 7.4.2).
    assert_eq!(
        env(GROUPS),
        "* 1 FETCH (ENVELOPE (NIL \"groups\" NIL NIL NIL \
         ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) \
         ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"example.org\")(\"B\" NIL \"b\" \"example.org\")(NIL NIL NIL NIL)) \
         NIL NIL NIL))\r\n"
    );
}

#[test]
fn quoting_and_nul() {
    let raw = b"Subject: say \"hi\" \\ there\0!\r\n\r\n";
    assert_eq!(
        env(raw),
        "* 1 FETCH (ENVELOPE (NIL \"say \\\"hi\\\" \\\\ there!\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"
    );
}

#[test]
fn encoder_accepts_fuzzed_summaries() {
    // Whatever summarize makes of junk must encode without panicking.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..500 {
        let mut raw = NESTED.to_vec();
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x as usize) % raw.len();
            raw[at] = (x >> 32) as u8;
        }
        let _ = bs(&raw);
        let _ = env(&raw);
    }
}
