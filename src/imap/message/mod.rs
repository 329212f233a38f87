//! Message-level IMAP rendering.
