//! mailroom: a mail server for AI agents.
pub mod mail;
