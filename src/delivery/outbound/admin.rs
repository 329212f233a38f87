//! What operators ask about outbound mail: the queue and the DKIM records, for
//! `GET /v1/admin/queue`, `GET /v1/admin/dkim/{domain}` and the CLI.
//!
//! sled locks its data directory, so while the server runs no second process can
//! open the store. The CLI therefore asks the running server over the API with the
//! admin token, and opens the store itself only when no server answers.

use super::dkim;
use crate::config::Config;
use crate::store::{QueueEntry, RecipientStatus, Store};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The queue as JSON: counts and every entry, earliest due first.
pub fn queue_report(store: &Store) -> Result<Value, crate::store::StoreError> {
    let (messages, _) = store.queue_len();
    let mut entries = Vec::new();
    for entry in store.queue_entries()? {
        let message = store.queued_message(entry.message)?;
        entries.push(entry_json(&entry, message.as_ref()));
    }
    Ok(json!({"messages": messages, "entries": entries}))
}

fn entry_json(entry: &QueueEntry, message: Option<&crate::store::QueuedMessage>) -> Value {
    let recipients: Vec<Value> = entry
        .recipients
        .iter()
        .map(|r| match &r.status {
            RecipientStatus::Pending => json!({"address": r.address, "status": "pending"}),
            RecipientStatus::Delivered { remote } => {
                json!({"address": r.address, "status": "delivered", "remote": remote})
            }
            RecipientStatus::Failed { status, diagnostic, .. } => {
                json!({"address": r.address, "status": "failed", "code": status, "diagnostic": diagnostic})
            }
        })
        .collect();
    json!({
        "id": entry.message,
        "domain": entry.domain,
        "sender": message.map(|m| m.sender),
        "mailFrom": message.map(|m| m.mail_from.clone()),
        "size": message.map(|m| m.size),
        "createdAt": message.map(|m| m.created_at),
        "expiresAt": message.map(|m| m.expires_at),
        "attempts": entry.attempts,
        "nextAttempt": entry.next_attempt,
        "lastError": entry.last_error,
        "recipients": recipients,
    })
}

/// A local domain's DKIM record (the key is made on first ask); None for a domain
/// that is not ours.
pub async fn dkim_report(store: &Store, config: &Config, domain: &str) -> Result<Option<Value>, dkim::DkimError> {
    if !config.is_local_domain(domain) {
        return Ok(None);
    }
    let record = dkim::key_record(store, config, domain).await?;
    let (name, value) = dkim::dns_record(&record);
    Ok(Some(json!({
        "domain": record.domain,
        "selector": record.selector,
        "algorithm": record.algorithm,
        "name": name,
        "value": value,
        "zone": dkim::zone_line(&record),
    })))
}

/// What the CLI asks.
pub enum Ask<'a> {
    Queue,
    Dkim(&'a str),
}

/// Answers `ask` from the running server (at `server`, else the first `[api]
/// listen` address) or, when none answers, from the store. Returns the JSON.
pub async fn ask(config: &Config, server: Option<&str>, ask: Ask<'_>) -> Result<Value, String> {
    let path = match &ask {
        Ask::Queue => "/v1/admin/queue".to_string(),
        Ask::Dkim(domain) => format!("/v1/admin/dkim/{domain}"),
    };
    let token = admin_token(config);
    if let (Some(addr), Some(token)) = (server_addr(config, server), token.as_deref()) {
        match http_get(addr, &path, token) {
            Ok((200, body)) => return Ok(body),
            Ok((404, _)) => return Err("not found (is the domain one of ours?)".into()),
            Ok((status, body)) => return Err(format!("the server answered {status}: {body}")),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(format!("asking the server at {addr}: {e}")),
        }
    }
    // No server running: the store is ours to open.
    let store = Store::open(&config.data_dir, config.store.cache_mb).map_err(|e| {
        format!(
            "cannot open the store in {} ({e}); if the server is running, pass --server http://HOST:PORT",
            config.data_dir.display()
        )
    })?;
    let answer = match ask {
        Ask::Queue => queue_report(&store).map_err(|e| e.to_string()),
        Ask::Dkim(domain) => match dkim_report(&store, config, domain).await {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(format!("{domain} is not one of this server's domains")),
            Err(e) => Err(e.to_string()),
        },
    };
    let _ = store.flush_blocking();
    answer
}

/// The configured admin token, else the one the server generated into `data_dir`
/// (never generated here: a CLI run must not change what the server uses).
fn admin_token(config: &Config) -> Option<String> {
    config.admin_token.clone().or_else(|| {
        std::fs::read_to_string(config.data_dir.join("admin_token"))
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    })
}

fn server_addr(config: &Config, server: Option<&str>) -> Option<SocketAddr> {
    let text = match server {
        Some(s) => s.trim_start_matches("http://").trim_end_matches('/').to_string(),
        None => config.api.listen.first()?.clone(),
    };
    let mut addr: SocketAddr = text.parse().ok()?;
    if addr.port() == 0 {
        return None;
    }
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Some(addr)
}

/// One GET over HTTP/1.1 with the admin token; (status, JSON body).
fn http_get(addr: SocketAddr, path: &str, token: &str) -> std::io::Result<(u16, Value)> {
    let timeout = Duration::from_secs(30);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.take(64 * 1024 * 1024).read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    Ok((status, body))
}

/// The queue report as a table for people.
pub fn queue_table(report: &Value) -> String {
    let mut out = format!("{} message(s) queued\n", report["messages"].as_u64().unwrap_or(0));
    let Some(entries) = report["entries"].as_array() else {
        return out;
    };
    if entries.is_empty() {
        return out;
    }
    out.push_str("QUEUE ID                              DOMAIN                    ATTEMPTS  NEXT ATTEMPT (UTC)         WAITING  LAST ERROR\n");
    for e in entries {
        let waiting = e["recipients"]
            .as_array()
            .map_or(0, |r| r.iter().filter(|r| r["status"] == "pending").count());
        let next = e["nextAttempt"].as_i64().unwrap_or(0) / 1000;
        out.push_str(&format!(
            "{:<37} {:<25} {:>8}  {:<26} {:>7}  {}\n",
            e["id"].as_str().unwrap_or(""),
            e["domain"].as_str().unwrap_or(""),
            e["attempts"].as_u64().unwrap_or(0),
            crate::mail::rfc5322_date(next, 0),
            waiting,
            e["lastError"].as_str().unwrap_or("-"),
        ));
    }
    out
}
