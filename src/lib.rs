//! mailroom: a mail server for AI agents.
//!
//! One process runs SMTP, IMAP and the HTTP control API over one embedded store.
//! See DESIGN.md for the layers: the front ends (`api`, `smtp`, `imap`) use
//! `delivery`, `auth`, `mail`, `events` and `store`, and never each other.

pub mod config;
pub mod mail;
pub mod store;
pub mod tls;
