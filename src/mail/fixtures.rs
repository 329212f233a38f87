//! Test messages shared by the mail and IMAP tests.

/// The RFC 3501 7.4.2 FETCH example message (envelope and body taken from the RFC).
pub const RFC3501: &[u8] = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
From: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
To: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
\r\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

/// A plain message without any MIME header.
pub const SIMPLE: &[u8] = b"From: Alice <alice@example.org>\r\n\
To: bob@example.com\r\n\
Subject: Lunch\r\n\
Date: Mon, 3 Feb 2025 12:00:00 +0000\r\n\
Message-ID: <lunch-1@example.org>\r\n\
\r\n\
Shall we meet at noon?\r\nAlice\r\n";

pub const ALTERNATIVE: &[u8] = b"From: Alice <alice@example.org>\r\n\
To: bob@example.com\r\n\
Subject: Newsletter\r\n\
Date: Tue, 4 Feb 2025 09:30:00 +0100\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\
\r\n\
This is a MIME message.\r\n\
--alt\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Caf=C3=A9 news\r\n\
--alt\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Caf\xc3\xa9 <b>news</b></p>\r\n\
--alt--\r\n";

pub const MIXED: &[u8] = b"From: Alice <alice@example.org>\r\n\
To: bob@example.com\r\n\
Subject: Report\r\n\
Message-ID: <report@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=mix\r\n\
\r\n\
--mix\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
Content-Language: en, de\r\n\
\r\n\
See attached.\r\n\
--mix\r\n\
Content-Type: application/pdf; name=\"report.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"report.pdf\"\r\n\
Content-ID: <pdf1@example.org>\r\n\
Content-Description: The report\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--mix--\r\n";

pub const NESTED: &[u8] = b"From: Carol <carol@example.net>\r\n\
To: dave@example.com\r\n\
Subject: Fwd: Newsletter\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
--outer\r\n\
\r\n\
Forwarding this.\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: Alice <alice@example.org>\r\n\
Subject: Newsletter\r\n\
Content-Type: multipart/alternative; boundary=\"inner\"\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain\r\n\
\r\n\
Plain body\r\n\
--inner\r\n\
Content-Type: text/html\r\n\
\r\n\
<p>HTML body</p>\r\n\
--inner--\r\n\
\r\n\
--outer--\r\n";

/// 8-bit (UTF-8) and RFC 2047 headers.
pub const ENCODED: &[u8] = "From: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>\r\n\
To: Zoë <zoe@example.de>\r\n\
Subject: =?iso-8859-1?q?Gr=FC=DFe?= und Küsse\r\n\
\r\n\
Hallo\r\n"
    .as_bytes();

/// Group syntax and no From.
pub const GROUPS: &[u8] = b"To: undisclosed-recipients:;\r\n\
Cc: Team: a@example.org, B <b@example.org>;\r\n\
Subject: groups\r\n\
\r\n\
body\r\n";
