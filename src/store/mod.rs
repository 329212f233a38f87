//! The store: the only code that touches sled.
//!
//! The rest of the program sees domain operations (create an inbox, deliver a
//! message, change flags ...) on [`Store`]; no sled type crosses this boundary, so a
//! second backend can replace it. Mail writes (messages, mailboxes, flags) are
//! batched by one writer and applied through a journal (writer.rs, batch.rs);
//! other multi-key changes are one sled transaction. Durable answers await a
//! flush shared among all concurrent writers (group commit).

mod batch;
mod codec;
mod durability;
mod identity;
mod inboxes;
mod io_threads;
mod mailboxes;
mod messages;
pub mod model;
mod page;
mod queue;
mod writer;

pub use identity::NewKey;
pub use inboxes::{CreateInbox, InboxCreated, MAX_USERNAME};
pub use mailboxes::MailboxError;
pub use messages::{Bytes, Delivered, FlagOp, FlagsStored, NewMessage};
pub use model::*;
pub use page::Page;
pub use queue::{DkimKeyRecord, DsnJob, QueueEntry, QueueRecipient, QueuedMessage, RecipientStatus};

use batch::MailTrees;
use durability::GroupCommit;
use std::path::Path;
use std::sync::Arc;
use uuid::Uuid;
use writer::Writer;

/// The layout version of the store on disk; a newer store is refused.
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O: {0}")]
    Io(#[from] sled::Error),
    #[error("store corrupt: {0}")]
    Corrupt(String),
    #[error("the store at {path} has schema version {found}; this binary knows up to {known}")]
    TooNew { path: String, found: u32, known: u32 },
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Limit(String),
}

impl<E: Into<StoreError>> From<sled::transaction::TransactionError<E>> for StoreError {
    fn from(e: sled::transaction::TransactionError<E>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e.into(),
            sled::transaction::TransactionError::Storage(e) => StoreError::Io(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Named trees; see DESIGN.md "Store".
struct Trees {
    meta: sled::Tree,
    tenants: sled::Tree,
    /// tenant ++ workspace
    workspaces: sled::Tree,
    /// tenant ++ slug -> workspace (slugs are unique per tenant)
    workspace_slugs: sled::Tree,
    /// sha256(key)
    api_keys: sled::Tree,
    /// owner ++ key id -> sha256(key)
    key_index: sled::Tree,
    inboxes: sled::Tree,
    /// tenant ++ inbox -> workspace
    tenant_inboxes: sled::Tree,
    /// workspace ++ inbox
    workspace_inboxes: sled::Tree,
    inbox_state: sled::Tree,
    /// lower-cased address -> inbox
    addresses: sled::Tree,
    /// inbox ++ mailbox id
    mailboxes: sled::Tree,
    /// inbox ++ name -> mailbox id
    mailbox_names: sled::Tree,
    /// inbox ++ mailbox ++ uid
    messages: sled::Tree,
    /// sha256(raw) -> raw bytes
    blobs: sled::Tree,
    /// sha256(raw) -> reference count (u64 BE)
    blob_refs: sled::Tree,
    /// sha256(raw) -> message summary (opaque to the store)
    summaries: sled::Tree,
    /// inbox ++ modseq -> Change
    changes: sled::Tree,
    /// Outbound queue (see queue.rs): message id -> QueuedMessage
    queue_messages: sled::Tree,
    /// message id -> the signed raw bytes, stored once for all its domains
    queue_bodies: sled::Tree,
    /// message id ++ domain index (u16) -> QueueEntry
    queue_entries: sled::Tree,
    /// next attempt (unix ms, u64) ++ message id ++ domain index -> (): due-time order
    queue_due: sled::Tree,
    /// DSN id -> DsnJob: bounces waiting for local delivery
    queue_dsns: sled::Tree,
    /// lower-cased domain -> DkimKeyRecord
    dkim_keys: sled::Tree,
}

struct Inner {
    db: sled::Db,
    trees: Trees,
    commit: GroupCommit,
    /// Applies mail writes in batches (see writer.rs).
    writer: Writer,
    writer_trees: MailTrees,
}

/// A cheap-to-clone handle to the store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Opens (or creates) the store under `dir` with a page cache of `cache_mb` MiB.
    pub fn open(dir: &Path, cache_mb: u64) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(e.into()))?;
        let db = sled::Config::new()
            .path(dir.join("store"))
            .cache_capacity(cache_mb.max(1) * 1024 * 1024)
            .flush_every_ms(Some(500))
            .open()?;
        let open = |name: &str| db.open_tree(name);
        let trees = Trees {
            meta: open("meta")?,
            tenants: open("tenants")?,
            workspaces: open("workspaces")?,
            workspace_slugs: open("workspace_slugs")?,
            api_keys: open("api_keys")?,
            key_index: open("key_index")?,
            inboxes: open("inboxes")?,
            tenant_inboxes: open("tenant_inboxes")?,
            workspace_inboxes: open("workspace_inboxes")?,
            inbox_state: open("inbox_state")?,
            addresses: open("addresses")?,
            mailboxes: open("mailboxes")?,
            mailbox_names: open("mailbox_names")?,
            messages: open("messages")?,
            blobs: open("blobs")?,
            blob_refs: open("blob_refs")?,
            summaries: open("summaries")?,
            changes: open("changes")?,
            queue_messages: open("queue_messages")?,
            queue_bodies: open("queue_bodies")?,
            queue_entries: open("queue_entries")?,
            queue_due: open("queue_due")?,
            queue_dsns: open("queue_dsns")?,
            dkim_keys: open("dkim_keys")?,
        };
        check_schema(&trees.meta, dir)?;
        let commit = GroupCommit::new(db.clone());
        let writer_trees = MailTrees {
            blobs: trees.blobs.clone(),
            summaries: trees.summaries.clone(),
            blob_refs: trees.blob_refs.clone(),
            messages: trees.messages.clone(),
            mailboxes: trees.mailboxes.clone(),
            mailbox_names: trees.mailbox_names.clone(),
            inbox_state: trees.inbox_state.clone(),
            changes: trees.changes.clone(),
            meta: trees.meta.clone(),
            lock: Arc::default(),
        };
        // A batch cut short by a crash lands now, before anything reads the trees.
        if batch::replay(&writer_trees)? {
            db.flush()?;
            tracing::warn!("store: applied a mail batch interrupted by a crash");
        }
        let writer = Writer::start(db.clone(), writer_trees.clone())?;
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                trees,
                commit,
                writer,
                writer_trees,
            }),
        })
    }

    fn trees(&self) -> &Trees {
        &self.inner.trees
    }

    /// Waits until everything written before this call is on disk. Concurrent
    /// callers share one flush.
    pub async fn durable(&self) -> Result<()> {
        self.inner.commit.flush().await
    }

    /// Flushes now, blocking; for shutdown.
    pub fn flush_blocking(&self) -> Result<()> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// True when the store answers reads (for /healthz).
    pub fn is_healthy(&self) -> bool {
        self.trees().meta.get(b"schema").is_ok()
    }

    pub fn size_on_disk(&self) -> u64 {
        self.inner.db.size_on_disk().unwrap_or(0)
    }

    /// Number of flushes done so far (for /metrics and group-commit measurements).
    pub fn flush_count(&self) -> u64 {
        let writer = self
            .inner
            .writer
            .counts()
            .flushes
            .load(std::sync::atomic::Ordering::Relaxed);
        self.inner.commit.flushes() + writer
    }

    /// Mail writes applied so far, and the batches they took.
    pub fn write_counts(&self) -> (u64, u64) {
        let counts = self.inner.writer.counts();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        (load(&counts.writes), load(&counts.batches))
    }
}

fn check_schema(meta: &sled::Tree, dir: &Path) -> Result<()> {
    match meta.get(b"schema")? {
        None => {
            meta.insert(b"schema", &SCHEMA_VERSION.to_be_bytes())?;
            meta.flush()?;
            Ok(())
        }
        Some(v) => {
            let found = codec::u32_from(&v)?;
            if found > SCHEMA_VERSION {
                return Err(StoreError::TooNew {
                    path: dir.display().to_string(),
                    found,
                    known: SCHEMA_VERSION,
                });
            }
            Ok(())
        }
    }
}

/// A new time-ordered id and its creation time, taken from the id itself so that
/// key order (by id) is exactly creation time, then id.
pub(crate) fn new_id() -> (Uuid, i64) {
    let id = Uuid::now_v7();
    let created = id
        .get_timestamp()
        .map(|t| {
            let (secs, nanos) = t.to_unix();
            secs as i64 * 1000 + i64::from(nanos / 1_000_000)
        })
        .unwrap_or_else(now_millis);
    (id, created)
}

pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// A store in a fresh temporary directory, removed when the guard drops.
    pub struct TempStore {
        pub store: Store,
        dir: std::path::PathBuf,
    }

    impl Drop for TempStore {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    pub fn temp_store() -> TempStore {
        let dir = std::env::temp_dir().join(format!("mailroom-store-{}", uuid::Uuid::new_v4()));
        TempStore {
            store: Store::open(&dir, 4).unwrap(),
            dir,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_schema_is_refused() {
        let dir = std::env::temp_dir().join(format!("mailroom-schema-{}", uuid::Uuid::new_v4()));
        {
            let store = Store::open(&dir, 4).unwrap();
            store.trees().meta.insert(b"schema", &99u32.to_be_bytes()).unwrap();
            store.flush_blocking().unwrap();
        }
        let err = Store::open(&dir, 4).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
