//! ENABLE (RFC 5161; IMAP4rev2, CONDSTORE, QRESYNC, UTF8=ACCEPT), ID (RFC 2971) and
//! NAMESPACE (RFC 2342).

use super::response::code;
use super::session::Session;
use imap_codec::imap_types::core::{IString, NString, QuotedChar};
use imap_codec::imap_types::extensions::enable::CapabilityEnable;
use imap_codec::imap_types::extensions::namespace::Namespace;
use imap_codec::imap_types::response::Data;

impl Session {
    pub fn cmd_enable(&mut self, tag: &str, capabilities: &[CapabilityEnable<'_>]) {
        let mut enabled = Vec::new();
        for cap in capabilities {
            let name = cap.to_string().to_ascii_uppercase();
            match name.as_str() {
                "IMAP4REV2" if !self.enabled.rev2 => {
                    // RFC 9051: mailbox names are UTF-8 from now on.
                    self.enabled.rev2 = true;
                    self.enabled.utf8 = true;
                    enabled.push("IMAP4rev2");
                }
                "CONDSTORE" if !self.enabled.condstore => {
                    self.enabled.condstore = true;
                    enabled.push("CONDSTORE");
                }
                "QRESYNC" if !self.enabled.qresync => {
                    // RFC 7162 3.2.3: QRESYNC implies CONDSTORE.
                    self.enabled.qresync = true;
                    self.enabled.condstore = true;
                    enabled.push("QRESYNC");
                }
                "UTF8=ACCEPT" if !self.enabled.utf8 || !enabled.contains(&"UTF8=ACCEPT") => {
                    self.enabled.utf8 = true;
                    enabled.push("UTF8=ACCEPT");
                }
                _ => {}
            }
        }
        // Written by hand: imap-types lists only the capabilities it knows.
        let mut line = b"* ENABLED".to_vec();
        for e in enabled {
            line.push(b' ');
            line.extend_from_slice(e.as_bytes());
        }
        line.extend_from_slice(b"\r\n");
        self.out.raw(&line);
        self.out.ok(tag, None, "ENABLE completed");
    }

    pub fn cmd_id(&mut self, tag: &str) {
        let field = |s: &str| IString::try_from(s.to_string()).ok();
        let parameters = [("name", "mailroom"), ("version", env!("CARGO_PKG_VERSION"))]
            .iter()
            .filter_map(|(k, v)| Some((field(k)?, NString(field(v)))))
            .collect();
        self.out.data(Data::Id {
            parameters: Some(parameters),
        });
        self.out.ok(tag, None, "ID completed");
    }

    pub fn cmd_namespace(&mut self, tag: &str) {
        let personal = IString::try_from(String::new()).ok().map(|prefix| Namespace {
            prefix,
            delimiter: QuotedChar::try_from('/').ok(),
            extensions: Vec::new(),
        });
        match personal {
            Some(ns) => {
                self.out.data(Data::Namespace {
                    personal: vec![ns],
                    other: Vec::new(),
                    shared: Vec::new(),
                });
                self.out.ok(tag, None, "NAMESPACE completed");
            }
            None => self.out.no(tag, Some(code("SERVERBUG")), "NAMESPACE unavailable"),
        }
    }
}
