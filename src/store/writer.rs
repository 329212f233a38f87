//! Batched mail writes. Writes that arrive together (deliveries, flag changes,
//! expunges, copies from many sessions) go to one writer thread, which stages
//! every write waiting at the time in one [`Batch`], applies it, and, when one of
//! them must be durable, flushes once for the whole batch before answering those.
//! Writes that need not be durable (flags, expunges) are answered as soon as the
//! batch is applied, without waiting for the flush. While it flushes, the next
//! batch gathers. Each write is a closure over [`MailTx`]; later writes in a batch
//! see the earlier ones, so the outcome is the same as running them one after
//! another.

use super::batch::{Batch, MailTrees, MailTx};
use super::io_threads::{SLED_IO_THREADS, yield_sled_io_threads};
use super::{Result, StoreError};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

/// Writes applied in one batch at most; the rest wait for the next one.
const MAX_BATCH: usize = 256;
/// A batch smaller than this waits up to `GATHER` for more writes: each batch
/// costs about as much CPU as a hundred microseconds of waiting. (Measured with
/// bench_imap: 300 µs made ten closed-loop sessions wait more than they saved.)
const GATHER_BELOW: usize = 8;
const GATHER: std::time::Duration = std::time::Duration::from_micros(200);

type Job = Box<dyn FnOnce(&MailTx<'_>) -> Result<()> + Send>;

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
    pub(super) fn start(db: sled::Db, trees: MailTrees) -> Result<Writer> {
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

    /// Runs `op` in the next batch and returns its result once applied and,
    /// when `durable`, flushed to disk.
    pub async fn write<T, F>(&self, durable: bool, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&MailTx<'_>) -> Result<T> + Send + 'static,
    {
        // The value waits here until the batch is applied (and flushed).
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

/// Runs `op` alone on the calling thread, for the rare writes made from
/// synchronous code (mailbox create, rename, delete; claiming \Recent). It waits
/// for the writer thread's batch in progress, if any.
pub(super) fn write_now<T, E: From<StoreError>>(
    trees: &MailTrees,
    op: impl FnOnce(&MailTx<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let _writer = trees.lock.lock();
    let mut batch = Batch::default();
    let value = batch.run(trees, op)?;
    batch.apply(trees)?;
    Ok(value)
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
        let mut answers = Vec::with_capacity(batch.len());
        let applied = {
            let _writer = trees.lock.lock();
            let mut staged = Batch::default();
            for p in batch {
                let result = staged.run(trees, p.job);
                answers.push((p.durable, p.done, result));
            }
            staged.apply(trees)
        };
        let mut to_flush = Vec::with_capacity(answers.len());
        for (durable, done, result) in answers {
            let result = match &applied {
                Err(e) => result.and(Err(StoreError::Corrupt(format!("writing a batch failed: {e}")))),
                Ok(()) => result,
            };
            if durable {
                to_flush.push((done, result));
            } else {
                let _ = done.send(result);
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
        for (done, result) in to_flush {
            let result = match &flushed {
                Err(e) => result.and(Err(StoreError::Corrupt(format!("flush failed: {e}")))),
                Ok(_) => result,
            };
            let _ = done.send(result);
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
                            return Err(StoreError::NotFound);
                        }
                        // A counter every write bumps: lost updates would show.
                        let now = match tx.inbox_state.get(b"counter")? {
                            Some(v) => u32::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 4])) + 1,
                            None => 1,
                        };
                        tx.inbox_state.insert(b"counter", &now.to_be_bytes());
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
