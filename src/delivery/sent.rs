//! The memory of Sent copies filed by submission, so that a client saving its own
//! copy with APPEND (Thunderbird does, CLIENTS.md) gets the existing UID instead of
//! a duplicate. Keyed by inbox id (never by name); bounded in entries per inbox,
//! in inboxes, and in time.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a Sent copy counts as recent: clients APPEND right after sending.
const REMEMBER: Duration = Duration::from_secs(15 * 60);
const PER_INBOX: usize = 32;
const MAX_INBOXES: usize = 10_000;

struct Copy {
    message_id: Box<str>,
    at: Instant,
    /// (mailbox id, UIDVALIDITY, UID)
    place: (u32, u32, u32),
}

#[derive(Default)]
struct Memory {
    inboxes: HashMap<Uuid, VecDeque<Copy>>,
}

fn memory() -> &'static Mutex<Memory> {
    static MEMORY: OnceLock<Mutex<Memory>> = OnceLock::new();
    MEMORY.get_or_init(Default::default)
}

/// Notes that submission filed `message_id` in the inbox's Sent mailbox.
pub fn remember_sent_copy(inbox: Uuid, message_id: &str, mailbox: u32, uidvalidity: u32, uid: u32) {
    let now = Instant::now();
    let mut memory = memory().lock();
    if !memory.inboxes.contains_key(&inbox) && memory.inboxes.len() >= MAX_INBOXES {
        memory.evict(now);
    }
    let copies = memory.inboxes.entry(inbox).or_default();
    if copies.len() >= PER_INBOX {
        copies.pop_front();
    }
    copies.push_back(Copy {
        message_id: message_id.into(),
        at: now,
        place: (mailbox, uidvalidity, uid),
    });
}

/// The Sent copy submission filed recently for this Message-ID, if any:
/// (mailbox id, UIDVALIDITY, UID).
pub fn recent_sent_copy(inbox: Uuid, message_id: &str) -> Option<(u32, u32, u32)> {
    let memory = memory().lock();
    let copies = memory.inboxes.get(&inbox)?;
    copies
        .iter()
        .rev()
        .find(|c| c.at.elapsed() < REMEMBER && &*c.message_id == message_id)
        .map(|c| c.place)
}

impl Memory {
    /// Drops expired copies; when every inbox is still live, the one used least recently.
    fn evict(&mut self, now: Instant) {
        self.inboxes.retain(|_, copies| {
            copies.retain(|c| now.duration_since(c.at) < REMEMBER);
            !copies.is_empty()
        });
        if self.inboxes.len() < MAX_INBOXES {
            return;
        }
        let stalest = self
            .inboxes
            .iter()
            .min_by_key(|(_, copies)| copies.back().map(|c| c.at))
            .map(|(id, _)| *id);
        if let Some(id) = stalest {
            self.inboxes.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_inbox_and_bounded() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        remember_sent_copy(a, "x@y", 2, 7, 1);
        assert_eq!(recent_sent_copy(a, "x@y"), Some((2, 7, 1)));
        // Another inbox never sees it.
        assert_eq!(recent_sent_copy(b, "x@y"), None);
        for uid in 0..(PER_INBOX as u32 + 5) {
            remember_sent_copy(a, &format!("m{uid}"), 2, 7, uid + 10);
        }
        assert_eq!(recent_sent_copy(a, "x@y"), None, "oldest dropped past the cap");
        assert_eq!(recent_sent_copy(a, "m36"), Some((2, 7, 46)));
        assert!(memory().lock().inboxes[&a].len() <= PER_INBOX);
    }
}
