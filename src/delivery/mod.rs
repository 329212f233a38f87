//! Accepting a message for its recipients, for every front end. (SMTP delivery lands
//! here on branch `smtp`; this file only declares what IMAP needs so far.)

pub mod append;
