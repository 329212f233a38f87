//! Message-level IMAP rendering and evaluation: ENVELOPE, BODYSTRUCTURE, body sections,
//! SEARCH, SORT and THREAD for one message or a list of them. Pure functions over the
//! stored [`crate::mail::MessageSummary`] and raw bytes: no sockets, no store.

pub mod bodystructure;
pub mod envelope;
pub mod search;
pub mod section;
pub mod sort;
pub mod strings;
pub mod thread;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod transcripts;

pub use bodystructure::body_structure;
pub use envelope::envelope;
pub use search::{SearchContext, SystemFlags, matches, matches_all};
pub use section::{SectionError, binary, binary_size, body_section};
pub use sort::{SortItem, sort};
pub use thread::{ThreadAlgorithm, thread};
