//! What the server announces, one line per capability with the RFC that defines it.

use super::session::{Session, State};
use imap_codec::imap_types::auth::AuthMechanism;
use imap_codec::imap_types::core::{Atom, Vec1};
use imap_codec::imap_types::extensions::compress::CompressionAlgorithm;
use imap_codec::imap_types::extensions::sort::SortAlgorithm;
use imap_codec::imap_types::extensions::thread::ThreadingAlgorithm;
use imap_codec::imap_types::response::{Capability, Code};

/// Command names we parse, to tell "bad arguments" from "unknown command".
pub const KNOWN_COMMANDS: &[&str] = &[
    "CAPABILITY",
    "NOOP",
    "LOGOUT",
    "STARTTLS",
    "AUTHENTICATE",
    "LOGIN",
    "SELECT",
    "EXAMINE",
    "CREATE",
    "DELETE",
    "RENAME",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "LIST",
    "LSUB",
    "STATUS",
    "APPEND",
    "CHECK",
    "CLOSE",
    "EXPUNGE",
    "SEARCH",
    "FETCH",
    "STORE",
    "COPY",
    "MOVE",
    "UID",
    "IDLE",
    "ENABLE",
    "NAMESPACE",
    "ID",
    "UNSELECT",
    "SORT",
    "THREAD",
    "COMPRESS",
];

fn other(name: impl Into<String>) -> Capability<'static> {
    Capability::from(Atom::unvalidated(name.into()))
}

pub fn capabilities(session: &Session) -> Vec1<Capability<'static>> {
    let mut caps = vec![
        Capability::Imap4Rev1, // RFC 3501
        other("IMAP4rev2"),    // RFC 9051
    ];
    if session.state == State::NotAuthenticated {
        if session.starttls_offered && !session.is_tls() {
            caps.push(Capability::StartTls); // RFC 3501 6.2.1
            caps.push(Capability::LoginDisabled); // RFC 3501 6.2.3: no plaintext passwords
        } else {
            caps.push(Capability::Auth(AuthMechanism::Plain)); // RFC 4616
        }
        caps.push(Capability::SaslIr); // RFC 4959
        caps.push(Capability::LiteralPlus); // RFC 7888
        caps.push(Capability::Id); // RFC 2971
        caps.push(Capability::Enable); // RFC 5161
        caps.push(Capability::Idle); // RFC 2177
        return Vec1::unvalidated(caps);
    }
    caps.extend([
        Capability::SaslIr,                                     // RFC 4959
        Capability::LiteralPlus,                                // RFC 7888
        Capability::Id,                                         // RFC 2971
        Capability::Enable,                                     // RFC 5161
        Capability::Idle,                                       // RFC 2177
        Capability::UidPlus,                                    // RFC 4315
        Capability::Move,                                       // RFC 6851
        other("SPECIAL-USE"),                                   // RFC 6154
        Capability::ListExtended,                               // RFC 5258
        other("LIST-STATUS"),                                   // RFC 5819
        Capability::Namespace,                                  // RFC 2342
        Capability::Unselect,                                   // RFC 3691
        other("CHILDREN"),                                      // RFC 3348
        other("ESEARCH"),                                       // RFC 4731
        Capability::CondStore,                                  // RFC 7162
        Capability::QResync,                                    // RFC 7162
        Capability::StatusSize,                                 // RFC 8438
        Capability::Binary,                                     // RFC 3516
        Capability::Sort(None),                                 // RFC 5256
        Capability::Thread(ThreadingAlgorithm::References),     // RFC 5256
        Capability::Thread(ThreadingAlgorithm::OrderedSubject), // RFC 5256
        Capability::Compress {
            algorithm: CompressionAlgorithm::Deflate,
        }, // RFC 4978
    ]);
    caps.push(Capability::Sort(Some(SortAlgorithm::Display))); // RFC 5957
    caps.push(other(format!("APPENDLIMIT={}", session.append_limit()))); // RFC 7889
    Vec1::unvalidated(caps)
}

/// The CAPABILITY response code of the greeting.
pub fn greeting_capabilities(session: &Session) -> Code<'static> {
    Code::Capability(capabilities(session))
}
