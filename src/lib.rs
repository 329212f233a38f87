//! mailroom: a mail server for AI agents.
pub mod imap;
pub mod mail;
