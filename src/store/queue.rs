//! The outbound queue and the DKIM keys.
//!
//! A queued message is one record plus its bytes (stored once) plus one entry per
//! destination domain. Every entry is also in `queue_due` under its next-attempt
//! time, so "what is due now" is an ordered prefix scan. An entry is written in the
//! same transaction as its due key, and a finished entry, its message's counter and
//! the bounce it causes commit together: a restart finds each message either still
//! queued or finished with its bounce waiting, never half of it.

use super::codec::{decode, encode, key, u64_from};
use super::{Result, Store, StoreError};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError as Abort;
use uuid::Uuid;

/// A message waiting for remote delivery. Times are unix milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueuedMessage {
    pub id: Uuid,
    /// The inbox that submitted it; bounces go to its INBOX.
    pub sender: Uuid,
    pub mail_from: String,
    pub created_at: i64,
    /// After this a temporary failure becomes a bounce.
    pub expires_at: i64,
    pub size: u64,
    /// Entries (domains) not finished yet; the message goes when it reaches 0.
    pub open_entries: u16,
}

/// The recipients of one message at one destination domain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueEntry {
    pub message: Uuid,
    pub index: u16,
    pub domain: String,
    pub recipients: Vec<QueueRecipient>,
    pub attempts: u32,
    pub next_attempt: i64,
    pub last_attempt: Option<i64>,
    /// Why the last attempt did not finish (for `queue list` and the DSN).
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueRecipient {
    pub address: String,
    pub status: RecipientStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum RecipientStatus {
    Pending,
    Delivered {
        remote: String,
    },
    /// A permanent failure or expiry: `status` is the RFC 3463 code, `diagnostic`
    /// the remote reply or our reason.
    Failed {
        status: String,
        diagnostic: String,
        remote: Option<String>,
    },
}

impl QueueEntry {
    pub fn pending(&self) -> impl Iterator<Item = &QueueRecipient> {
        self.recipients.iter().filter(|r| r.status == RecipientStatus::Pending)
    }

    pub fn is_done(&self) -> bool {
        self.pending().next().is_none()
    }
}

/// A bounce waiting to be filed into the sender's INBOX.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DsnJob {
    pub id: Uuid,
    pub inbox: Uuid,
    pub raw: Vec<u8>,
}

/// A domain's DKIM key pair, made on first use.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct DkimKeyRecord {
    pub domain: String,
    pub selector: String,
    /// `rsa` or `ed25519`.
    pub algorithm: String,
    /// PKCS#1 DER (rsa) or PKCS#8 DER (ed25519).
    pub private_der: Vec<u8>,
    /// PKCS#1 RSAPublicKey DER (rsa) or the raw 32 bytes (ed25519).
    pub public_key: Vec<u8>,
    pub created_at: i64,
}

impl std::fmt::Debug for DkimKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimKeyRecord")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn entry_key(message: Uuid, index: u16) -> Vec<u8> {
    key(&[message.as_bytes(), &index.to_be_bytes()])
}

fn due_key(at: i64, message: Uuid, index: u16) -> Vec<u8> {
    let at = u64::try_from(at).unwrap_or(0);
    key(&[&at.to_be_bytes(), message.as_bytes(), &index.to_be_bytes()])
}

/// The entry key inside a due key.
fn entry_key_of_due(due: &[u8]) -> Result<&[u8]> {
    due.get(8..26)
        .ok_or_else(|| StoreError::Corrupt("short queue due key".into()))
}

impl Store {
    /// Queues a message with its entries, then waits until it is on disk.
    pub async fn enqueue(&self, message: &QueuedMessage, raw: &[u8], entries: &[QueueEntry]) -> Result<()> {
        let t = self.trees();
        (&t.queue_messages, &t.queue_bodies, &t.queue_entries, &t.queue_due).transaction(
            |(messages, bodies, entry_tree, due)| {
                messages.insert(message.id.as_bytes(), encode(message))?;
                bodies.insert(message.id.as_bytes(), raw)?;
                for entry in entries {
                    entry_tree.insert(entry_key(entry.message, entry.index), encode(entry))?;
                    due.insert(due_key(entry.next_attempt, entry.message, entry.index), &[])?;
                }
                Ok::<_, Abort<StoreError>>(())
            },
        )?;
        self.durable().await
    }

    /// Up to `limit` entries due at or before `now`, earliest first, leaving out
    /// those `skip` says are already being worked on.
    pub fn queue_due(&self, now: i64, limit: usize, skip: impl Fn(Uuid, u16) -> bool) -> Result<Vec<QueueEntry>> {
        let t = self.trees();
        let end = due_key(now.saturating_add(1), Uuid::nil(), 0);
        let mut out = Vec::new();
        for k in t.queue_due.range(..end).keys() {
            let k = k?;
            let ek = entry_key_of_due(&k)?;
            let message = super::codec::uuid_from(&ek[..16])?;
            let index = u16::from_be_bytes([ek[16], ek[17]]);
            if skip(message, index) {
                continue;
            }
            match t.queue_entries.get(ek)? {
                Some(v) => out.push(decode(&v)?),
                // A due key without its entry cannot be worked on; drop it.
                None => {
                    t.queue_due.remove(&k)?;
                }
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// When the earliest entry is due (unix ms), if any is queued.
    pub fn queue_next_due(&self) -> Result<Option<i64>> {
        match self.trees().queue_due.first()? {
            Some((k, _)) => Ok(Some(u64_from(&k[..8.min(k.len())])? as i64)),
            None => Ok(None),
        }
    }

    pub fn queued_message(&self, id: Uuid) -> Result<Option<QueuedMessage>> {
        self.trees()
            .queue_messages
            .get(id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    pub fn queued_body(&self, id: Uuid) -> Result<Option<Vec<u8>>> {
        Ok(self.trees().queue_bodies.get(id.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Writes an entry's progress and moves its due key to `entry.next_attempt`,
    /// then waits until it is on disk (a recorded delivery must survive a crash, or
    /// the recipient would get the message twice).
    pub async fn queue_update(&self, entry: &QueueEntry) -> Result<()> {
        let t = self.trees();
        let ek = entry_key(entry.message, entry.index);
        (&t.queue_entries, &t.queue_due).transaction(|(entries, due)| {
            let Some(old) = entries.get(&ek)? else {
                return Err(Abort::Abort(StoreError::NotFound));
            };
            let old: QueueEntry = decode(&old).map_err(Abort::Abort)?;
            due.remove(due_key(old.next_attempt, old.message, old.index))?;
            due.insert(due_key(entry.next_attempt, entry.message, entry.index), &[])?;
            entries.insert(ek.as_slice(), encode(entry))?;
            Ok(())
        })?;
        self.durable().await
    }

    /// Removes a finished entry and, with it, the message once its last entry is
    /// done; queues `dsn` in the same transaction. Waits until it is on disk.
    pub async fn queue_finish(&self, entry: &QueueEntry, dsn: Option<&DsnJob>) -> Result<()> {
        let t = self.trees();
        let ek = entry_key(entry.message, entry.index);
        let trees = (
            &t.queue_messages,
            &t.queue_bodies,
            &t.queue_entries,
            &t.queue_due,
            &t.queue_dsns,
        );
        trees.transaction(|(messages, bodies, entries, due, dsns)| {
            let Some(old) = entries.remove(ek.as_slice())? else {
                // Finished already (by an earlier run): nothing to do twice.
                return Ok(());
            };
            let old: QueueEntry = decode(&old).map_err(Abort::Abort)?;
            due.remove(due_key(old.next_attempt, old.message, old.index))?;
            let id = entry.message.as_bytes();
            if let Some(v) = messages.get(id)? {
                let mut message: QueuedMessage = decode(&v).map_err(Abort::Abort)?;
                message.open_entries = message.open_entries.saturating_sub(1);
                if message.open_entries == 0 {
                    messages.remove(id)?;
                    bodies.remove(id)?;
                } else {
                    messages.insert(id, encode(&message))?;
                }
            }
            if let Some(dsn) = dsn {
                dsns.insert(dsn.id.as_bytes(), encode(dsn))?;
            }
            Ok(())
        })?;
        self.durable().await
    }

    /// Every queued entry, earliest due first (for `queue list`).
    pub fn queue_entries(&self) -> Result<Vec<QueueEntry>> {
        self.queue_due(i64::MAX - 1, usize::MAX, |_, _| false)
    }

    /// Messages queued and entries (domains) queued.
    pub fn queue_len(&self) -> (usize, usize) {
        let t = self.trees();
        (t.queue_messages.len(), t.queue_entries.len())
    }

    /// Bounces not yet filed.
    pub fn dsn_jobs(&self) -> Result<Vec<DsnJob>> {
        self.trees().queue_dsns.iter().values().map(|v| decode(&v?)).collect()
    }

    /// Forgets a filed bounce (lazily durable: a crash before the next flush files it again).
    pub fn remove_dsn(&self, id: Uuid) -> Result<()> {
        self.trees().queue_dsns.remove(id.as_bytes())?;
        Ok(())
    }

    pub fn dkim_key(&self, domain: &str) -> Result<Option<DkimKeyRecord>> {
        self.trees()
            .dkim_keys
            .get(domain.to_ascii_lowercase().as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Stores `record` unless the domain has a key already; returns the key that is
    /// stored (the earlier one when two were made at once), once it is on disk.
    pub async fn put_dkim_key_if_absent(&self, record: &DkimKeyRecord) -> Result<DkimKeyRecord> {
        let name = record.domain.to_ascii_lowercase();
        let tree = &self.trees().dkim_keys;
        let swapped = tree.compare_and_swap(name.as_bytes(), None as Option<&[u8]>, Some(encode(record)))?;
        self.durable().await?;
        match swapped {
            Ok(()) => Ok(record.clone()),
            Err(_) => self.dkim_key(&name)?.ok_or(StoreError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;

    fn entry(message: Uuid, index: u16, domain: &str, at: i64) -> QueueEntry {
        QueueEntry {
            message,
            index,
            domain: domain.into(),
            recipients: vec![QueueRecipient {
                address: format!("a@{domain}"),
                status: RecipientStatus::Pending,
            }],
            attempts: 0,
            next_attempt: at,
            last_attempt: None,
            last_error: None,
        }
    }

    #[tokio::test]
    async fn due_scan_is_ordered_and_finish_removes_the_message_once() {
        let t = temp_store();
        let s = &t.store;
        let id = Uuid::now_v7();
        let message = QueuedMessage {
            id,
            sender: Uuid::new_v4(),
            mail_from: "me@example.test".into(),
            created_at: 0,
            expires_at: 10_000,
            size: 5,
            open_entries: 2,
        };
        let a = entry(id, 0, "a.example", 300);
        let b = entry(id, 1, "b.example", 100);
        s.enqueue(&message, b"hello", &[a.clone(), b.clone()]).await.unwrap();
        let due: Vec<String> = s
            .queue_due(1000, 10, |_, _| false)
            .unwrap()
            .into_iter()
            .map(|e| e.domain)
            .collect();
        assert_eq!(due, ["b.example", "a.example"]);
        assert!(s.queue_due(99, 10, |_, _| false).unwrap().is_empty());
        assert_eq!(s.queue_next_due().unwrap(), Some(100));
        let skipped = s.queue_due(1000, 10, |_, i| i == 1).unwrap();
        assert_eq!(skipped.len(), 1);

        let mut later = b.clone();
        later.next_attempt = 5000;
        later.attempts = 1;
        s.queue_update(&later).await.unwrap();
        assert_eq!(s.queue_next_due().unwrap(), Some(300));
        assert_eq!(s.queue_entries().unwrap().len(), 2, "one due key per entry");

        s.queue_finish(&a, None).await.unwrap();
        assert!(s.queued_body(id).unwrap().is_some(), "b is still open");
        let dsn = DsnJob {
            id: Uuid::now_v7(),
            inbox: message.sender,
            raw: b"bounce".to_vec(),
        };
        s.queue_finish(&later, Some(&dsn)).await.unwrap();
        s.queue_finish(&later, Some(&dsn)).await.unwrap();
        assert!(s.queued_message(id).unwrap().is_none());
        assert!(s.queued_body(id).unwrap().is_none());
        assert_eq!(s.queue_len(), (0, 0));
        assert_eq!(s.dsn_jobs().unwrap(), vec![dsn.clone()]);
        s.remove_dsn(dsn.id).unwrap();
        assert!(s.dsn_jobs().unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_first_dkim_key_wins() {
        let t = temp_store();
        let key = |n: u8| DkimKeyRecord {
            domain: "Example.test".into(),
            selector: "s".into(),
            algorithm: "ed25519".into(),
            private_der: vec![n],
            public_key: vec![n],
            created_at: 0,
        };
        assert_eq!(t.store.put_dkim_key_if_absent(&key(1)).await.unwrap().private_der, [1]);
        assert_eq!(t.store.put_dkim_key_if_absent(&key(2)).await.unwrap().private_der, [1]);
        assert_eq!(t.store.dkim_key("example.TEST").unwrap().unwrap().private_der, [1]);
    }
}
