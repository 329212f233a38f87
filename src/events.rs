//! The change feed: after a change commits, the store's writer announces the
//! inbox's new modseq here. Listeners (IMAP IDLE, API waiters, webhooks) then read
//! the change log from where they were; a missed wake-up loses nothing because the
//! log, not this signal, is the source of truth.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use uuid::Uuid;

/// What a listener sees: the latest modseq, and whether the inbox was deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxSignal {
    pub modseq: u64,
    pub deleted: bool,
}

#[derive(Clone, Default)]
pub struct Events {
    channels: Arc<Mutex<HashMap<Uuid, watch::Sender<InboxSignal>>>>,
}

impl Events {
    /// Subscribes to an inbox's signal. Dropping the receiver unsubscribes.
    pub fn subscribe(&self, inbox: Uuid) -> watch::Receiver<InboxSignal> {
        let mut channels = self.channels.lock();
        channels.retain(|_, tx| tx.receiver_count() > 0);
        channels
            .entry(inbox)
            .or_insert_with(|| watch::Sender::new(InboxSignal::default()))
            .subscribe()
    }

    /// Announces that the inbox changed up to `modseq` (call after the commit).
    pub fn changed(&self, inbox: Uuid, modseq: u64) {
        if let Some(tx) = self.channels.lock().get(&inbox) {
            tx.send_modify(|s| s.modseq = s.modseq.max(modseq));
        }
    }

    /// Announces that the inbox is gone: its sessions close.
    pub fn deleted(&self, inbox: Uuid) {
        if let Some(tx) = self.channels.lock().remove(&inbox) {
            tx.send_modify(|s| s.deleted = true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_wake_on_change_and_deletion() {
        let events = Events::default();
        let inbox = Uuid::new_v4();
        let mut rx = events.subscribe(inbox);
        events.changed(inbox, 5);
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow_and_update().modseq, 5);
        events.changed(Uuid::new_v4(), 9); // nobody listening: nothing happens
        events.deleted(inbox);
        rx.changed().await.unwrap();
        assert!(rx.borrow().deleted);
    }
}
