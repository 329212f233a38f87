//! The records the store keeps. Times are unix milliseconds unless named otherwise.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub max_inboxes: Option<u32>,
    pub inbox_count: u32,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Workspace {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub slug: String,
    pub is_default: bool,
    pub inbox_count: u32,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum KeyKind {
    /// `sa_`: operator.
    Service,
    /// `tk_`: one tenant.
    Tenant,
    /// `wk_`: one workspace.
    Workspace,
    /// `ak_`: one inbox.
    Inbox,
}

impl KeyKind {
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Service => "sa_",
            KeyKind::Tenant => "tk_",
            KeyKind::Workspace => "wk_",
            KeyKind::Inbox => "ak_",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Service => "service",
            KeyKind::Tenant => "tenant",
            KeyKind::Workspace => "workspace",
            KeyKind::Inbox => "inbox",
        }
    }
}

/// An API key as stored: the key itself is never kept, only its SHA-256 (the tree key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKey {
    pub id: Uuid,
    pub kind: KeyKind,
    pub tenant_id: Option<Uuid>,
    pub workspace_id: Option<Uuid>,
    pub inbox_id: Option<Uuid>,
    pub name: Option<String>,
    /// The first characters of the key, shown in listings so people can tell keys apart.
    pub prefix: String,
    pub created_at: i64,
}

impl ApiKey {
    /// The id whose key listing this key appears in.
    pub fn owner(&self) -> Uuid {
        match self.kind {
            KeyKind::Service => Uuid::nil(),
            KeyKind::Tenant => self.tenant_id.unwrap_or_default(),
            KeyKind::Workspace => self.workspace_id.unwrap_or_default(),
            KeyKind::Inbox => self.inbox_id.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Inbox {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    pub username: String,
    pub domain: String,
    pub display_name: Option<String>,
    pub paused: bool,
    /// argon2id PHC string of the IMAP/SMTP password.
    pub password_hash: String,
    pub created_at: i64,
}

impl Inbox {
    pub fn address(&self) -> String {
        format!("{}@{}", self.username, self.domain)
    }
}

/// Per-inbox counters, kept apart from the inbox so deliveries don't rewrite it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InboxState {
    /// The last modseq handed out; every change in the inbox takes the next one.
    pub modseq: u64,
    pub next_mailbox_id: u32,
    pub last_uidvalidity: u32,
}

/// SPECIAL-USE roles (RFC 6154) of the mailboxes every inbox is created with.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Role {
    Inbox,
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
}

impl Role {
    /// The mailboxes made with every inbox, with exactly these names (CLIENTS.md).
    pub const DEFAULTS: [(Role, &'static str); 6] = [
        (Role::Inbox, "INBOX"),
        (Role::Sent, "Sent"),
        (Role::Drafts, "Drafts"),
        (Role::Trash, "Trash"),
        (Role::Junk, "Junk"),
        (Role::Archive, "Archive"),
    ];

    /// The RFC 6154 attribute, None for INBOX which has no special-use attribute.
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            Role::Inbox => None,
            Role::Sent => Some("\\Sent"),
            Role::Drafts => Some("\\Drafts"),
            Role::Trash => Some("\\Trash"),
            Role::Junk => Some("\\Junk"),
            Role::Archive => Some("\\Archive"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mailbox {
    pub id: u32,
    /// Full name with "/" as the hierarchy separator, in UTF-8 (IMAP converts to modified UTF-7).
    pub name: String,
    pub role: Option<Role>,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highest_modseq: u64,
    pub subscribed: bool,
    /// Messages with a UID at or above this are \Recent for the next session that selects.
    pub recent_from_uid: u32,
    pub messages: u32,
    pub unseen: u32,
    pub deleted: u32,
    pub size: u64,
}

/// System flags as bits; keywords are kept as strings beside them.
pub mod flag {
    pub const SEEN: u8 = 1;
    pub const ANSWERED: u8 = 2;
    pub const FLAGGED: u8 = 4;
    pub const DELETED: u8 = 8;
    pub const DRAFT: u8 = 16;
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flags {
    pub system: u8,
    pub keywords: Vec<String>,
}

impl Flags {
    pub fn has(&self, bit: u8) -> bool {
        self.system & bit != 0
    }

    pub fn with(system: u8) -> Flags {
        Flags {
            system,
            keywords: Vec::new(),
        }
    }
}

/// One message in one mailbox. The raw bytes and the summary are shared blobs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageRecord {
    pub uid: u32,
    /// SHA-256 of the raw bytes: the blob and summary key.
    pub blob: [u8; 32],
    /// Stable across copies and moves (EMAILID, X-Mailroom-Id).
    pub email_id: Uuid,
    pub size: u32,
    /// INTERNALDATE, unix seconds.
    pub internal_date: i64,
    pub flags: Flags,
    pub modseq: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Flags,
    Expunged,
    MailboxCreated,
    MailboxRenamed,
    MailboxDeleted,
}

/// An entry of the per-inbox change log, keyed by modseq.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Change {
    pub mailbox: u32,
    pub uid: u32,
    pub kind: ChangeKind,
}
