//! Group commit: writers that need durability wait for a flush that started after
//! their write; one flush serves every writer waiting at the time it starts.

use super::{Result, StoreError};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

pub struct GroupCommit {
    db: sled::Db,
    state: Mutex<State>,
    /// The highest ticket known to be on disk.
    done: watch::Sender<u64>,
    flushes: AtomicU64,
}

struct State {
    /// Tickets handed out so far; a ticket stands for "my writes are done".
    issued: u64,
    flushing: bool,
}

impl GroupCommit {
    pub fn new(db: sled::Db) -> GroupCommit {
        GroupCommit {
            db,
            state: Mutex::new(State {
                issued: 0,
                flushing: false,
            }),
            done: watch::Sender::new(0),
            flushes: AtomicU64::new(0),
        }
    }

    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// Returns once everything written before the call is flushed.
    pub async fn flush(&self) -> Result<()> {
        let mut done = self.done.subscribe();
        let ticket = {
            let mut state = self.state.lock();
            state.issued += 1;
            state.issued
        };
        loop {
            if *done.borrow_and_update() >= ticket {
                return Ok(());
            }
            if self.try_lead() {
                self.lead_flush().await?;
                continue;
            }
            // Someone else is flushing; their flush may have started before our
            // write, so wait for it and look again.
            if done.changed().await.is_err() {
                return Err(StoreError::Corrupt("store closed".into()));
            }
        }
    }

    fn try_lead(&self) -> bool {
        let mut state = self.state.lock();
        if state.flushing {
            return false;
        }
        state.flushing = true;
        true
    }

    /// Flushes everything issued so far and publishes it as done.
    async fn lead_flush(&self) -> Result<()> {
        let covered = self.state.lock().issued;
        let db = self.db.clone();
        let result = tokio::task::spawn_blocking(move || db.flush()).await;
        self.state.lock().flushing = false;
        self.flushes.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(Ok(_)) => {
                // Always notify: a waiter whose ticket came after `covered` must
                // wake up to lead the next flush.
                self.done.send_modify(|d| *d = (*d).max(covered));
                Ok(())
            }
            Ok(Err(e)) => {
                // Wake the others so one of them retries the flush.
                self.done.send_modify(|_| {});
                Err(e.into())
            }
            Err(e) => {
                self.done.send_modify(|_| {});
                Err(StoreError::Corrupt(format!("flush task failed: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::testutil::temp_store;

    // On one runtime thread the writers take their tickets in a few waves (tokio
    // looks at the finished flush between batches of polled tasks), so 64 writers
    // share a handful of flushes; one flush each would be 64.
    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_writers_share_flushes() {
        let t = temp_store();
        let before = t.store.flush_count();
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let store = t.store.clone();
            tasks.push(tokio::spawn(async move { store.durable().await }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let used = t.store.flush_count() - before;
        assert!((1..=8).contains(&used), "64 writers used {used} flushes");
    }
}
