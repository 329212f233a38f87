//! Batched mail writes. sled runs every transaction under one global lock and, at
//! each commit and each flush, seals its log buffer: a disk write and a wake-up of
//! all its I/O threads. Writes that arrive together (deliveries, flag changes,
//! expunges, copies from many sessions) therefore go to one writer thread, which
//! applies every write waiting at the time in a single transaction and, when one of
//! them must be durable, flushes once for the whole batch before answering those.
//! Writes that need not be durable (flags, expunges) are answered as soon as the
//! batch commits, without waiting for the flush. While it flushes, the next batch
//! gathers. Each write is a closure over [`MailTx`];
//! later writes in a batch see the earlier ones, so the outcome is the same as
//! running them one after another.

use super::io_threads::{SLED_IO_THREADS, yield_sled_io_threads};
use super::{Result, StoreError};
use parking_lot::Mutex;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError as Abort, TransactionError, TransactionalTree};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

pub(super) type TxResult<T> = std::result::Result<T, Abort<StoreError>>;

/// Writes applied in one transaction at most; the rest wait for the next one.
const MAX_BATCH: usize = 256;
/// A batch smaller than this waits up to `GATHER` for more writes: each sled commit
/// costs about as much CPU as a hundred microseconds of waiting. (Measured with
/// bench_imap: 300 µs made ten closed-loop sessions wait more than they saved.)
const GATHER_BELOW: usize = 8;
const GATHER: std::time::Duration = std::time::Duration::from_micros(200);

/// The trees a mail write may touch, inside one transaction.
pub(super) struct MailTx<'a> {
    pub messages: &'a TransactionalTree,
    pub mailboxes: &'a TransactionalTree,
    pub inbox_state: &'a TransactionalTree,
    pub changes: &'a TransactionalTree,
    pub blob_refs: &'a TransactionalTree,
    pub blobs: &'a TransactionalTree,
    pub summaries: &'a TransactionalTree,
}

/// The same trees outside a transaction, in [`MailTx`] order.
#[derive(Clone)]
pub(super) struct MailTrees {
    pub messages: sled::Tree,
    pub mailboxes: sled::Tree,
    pub inbox_state: sled::Tree,
    pub changes: sled::Tree,
    pub blob_refs: sled::Tree,
    pub blobs: sled::Tree,
    pub summaries: sled::Tree,
}

type Job = Box<dyn Fn(&MailTx<'_>) -> TxResult<()> + Send>;

struct Pending {
    job: Job,
    /// Answer only once the batch is flushed to disk.
    durable: bool,
    done: oneshot::Sender<Result<()>>,
}

pub(super) struct Writer {
    queue: Option<mpsc::Sender<Pending>>,
    thread: Option<std::thread::JoinHandle<()>>,
    counts: Arc<Counts>,
}

/// What the writer has done, for /metrics: writes per batch tell how well
/// concurrent writers share sled's per-commit cost.
#[derive(Default)]
pub struct Counts {
    pub writes: AtomicU64,
    pub batches: AtomicU64,
    pub flushes: AtomicU64,
}

impl Writer {
    /// Starts the writer thread; it ends when the writer is dropped.
    pub fn start(db: sled::Db, trees: MailTrees) -> Result<Writer> {
        let (queue, jobs) = mpsc::channel();
        let counts = Arc::new(Counts::default());
        let kept = counts.clone();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || serve(&db, &trees, &jobs, &kept))
            .map_err(|e| StoreError::Io(e.into()))?;
        Ok(Writer {
            queue: Some(queue),
            thread: Some(thread),
            counts,
        })
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Runs `op` in the next batch and returns its result once committed and,
    /// when `durable`, flushed to disk.
    pub async fn write<T, F>(&self, durable: bool, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&MailTx<'_>) -> TxResult<T> + Send + 'static,
    {
        // sled may run a transaction more than once; the last run's value stands.
        let slot = Arc::new(Mutex::new(None));
        let out = slot.clone();
        let job: Job = Box::new(move |tx| {
            let value = op(tx)?;
            *out.lock() = Some(value);
            Ok(())
        });
        let (done, finished) = oneshot::channel();
        let queue = self.queue.as_ref().ok_or_else(writer_gone)?;
        queue.send(Pending { job, durable, done }).map_err(|_| writer_gone())?;
        finished.await.map_err(|_| writer_gone())??;
        slot.lock().take().ok_or_else(writer_gone)
    }
}

impl Drop for Writer {
    /// Lets the thread finish what is queued and release the trees, so the store
    /// can be opened again as soon as it is dropped.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `op` in its own transaction on the calling thread, for the rare writes
/// made from synchronous code (renaming INBOX).
pub(super) fn write_now<T>(trees: &MailTrees, op: impl Fn(&MailTx<'_>) -> TxResult<T>) -> Result<T> {
    let t = trees;
    let result = (
        &t.messages,
        &t.mailboxes,
        &t.inbox_state,
        &t.changes,
        &t.blob_refs,
        &t.blobs,
        &t.summaries,
    )
        .transaction(
            |(messages, mailboxes, inbox_state, changes, blob_refs, blobs, summaries)| {
                op(&MailTx {
                    messages,
                    mailboxes,
                    inbox_state,
                    changes,
                    blob_refs,
                    blobs,
                    summaries,
                })
            },
        );
    result.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Io(e),
    })
}

fn serve(db: &sled::Db, trees: &MailTrees, jobs: &mpsc::Receiver<Pending>, counts: &Counts) {
    let mut yielded = 0;
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        let gather_until = std::time::Instant::now() + GATHER;
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(next) => batch.push(next),
                Err(mpsc::TryRecvError::Empty) if batch.len() < GATHER_BELOW => {
                    match jobs.recv_timeout(gather_until.saturating_duration_since(std::time::Instant::now())) {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                Err(_) => break,
            }
        }
        counts.batches.fetch_add(1, Ordering::Relaxed);
        counts.writes.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let all = write_now(trees, |tx| batch.iter().try_for_each(|p| (p.job)(tx)));
        let results: Vec<Result<()>> = match all {
            Ok(()) => batch.iter().map(|_| Ok(())).collect(),
            Err(e) if batch.len() == 1 => vec![Err(e)],
            // One write failed and took the batch with it: give each its own
            // transaction so only the failing one gets its error.
            Err(_) => batch.iter().map(|p| write_now(trees, |tx| (p.job)(tx))).collect(),
        };
        let mut to_flush = Vec::with_capacity(batch.len());
        for (p, result) in batch.into_iter().zip(results) {
            if p.durable {
                to_flush.push((p, result));
            } else {
                let _ = p.done.send(result);
            }
        }
        if to_flush.is_empty() {
            continue;
        }
        counts.flushes.fetch_add(1, Ordering::Relaxed);
        let flushed = db.flush();
        if yielded < SLED_IO_THREADS {
            yielded = yield_sled_io_threads();
        }
        for (p, result) in to_flush {
            let result = match &flushed {
                Err(e) => result.and(Err(StoreError::Corrupt(format!("flush failed: {e}")))),
                Ok(_) => result,
            };
            let _ = p.done.send(result);
        }
    }
}

fn writer_gone() -> StoreError {
    StoreError::Corrupt("the store writer stopped".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;

    #[tokio::test]
    async fn batched_writes_see_each_other_and_fail_alone() {
        let t = temp_store();
        let store = t.store.clone();
        let mut tasks = Vec::new();
        for n in 0..50u32 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .inner
                    .writer
                    .write(n % 2 == 0, move |tx| {
                        if n == 7 {
                            return Err(Abort::Abort(StoreError::NotFound));
                        }
                        // A counter every write bumps: lost updates would show.
                        let now = match tx.inbox_state.get(b"counter")? {
                            Some(v) => u32::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 4])) + 1,
                            None => 1,
                        };
                        tx.inbox_state.insert(&b"counter"[..], &now.to_be_bytes())?;
                        Ok(n)
                    })
                    .await
            }));
        }
        let mut ok = 0;
        for (n, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(v) => {
                    assert_eq!(v as usize, n);
                    ok += 1;
                }
                Err(StoreError::NotFound) => assert_eq!(n, 7),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(ok, 49);
        let counter = store.inner.writer_trees.inbox_state.get(b"counter").unwrap().unwrap();
        assert_eq!(counter.as_ref(), &49u32.to_be_bytes());
    }
}
