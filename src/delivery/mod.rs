//! Accepting a message for its recipients, for every front end: local delivery,
//! APPEND, and the hand-off of remote recipients to the outbound queue.

pub mod append;
pub mod local;
pub mod outbound;
pub mod sent;

pub use sent::{recent_sent_copy, remember_sent_copy};

use crate::server::Context;
use crate::store::StoreError;
use uuid::Uuid;

/// A submitted message for recipients outside this server.
pub struct RemoteMessage<'a> {
    /// The authenticated inbox that sent it; bounces go back to it.
    pub sender: Uuid,
    /// The envelope sender (MAIL FROM).
    pub mail_from: &'a str,
    /// Envelope recipients at other domains.
    pub recipients: &'a [String],
    /// The message as it will be sent (Received, Message-ID and Date already added).
    pub raw: &'a [u8],
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// This server does not deliver to other domains (SMTP answers 550 5.7.1).
    #[error("relaying to other domains is not available")]
    Unavailable,
    /// The inbox is over its send rate (SMTP answers 451 4.7.1 and the client retries).
    #[error("sending rate exceeded")]
    RateLimited,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Queues `message` for remote delivery; Ok only once the queue entry is on disk.
/// The message is DKIM-signed here (once) when its sender's domain is ours.
pub async fn queue_remote(ctx: &Context, message: RemoteMessage<'_>) -> Result<(), QueueError> {
    if message.recipients.is_empty() {
        return Ok(());
    }
    if !ctx.config.delivery.enabled {
        return Err(QueueError::Unavailable);
    }
    if !ctx.outbound.allow_send(message.sender) {
        ctx.metrics.inc("mailroom_outbound_rate_limited_total", &[]);
        return Err(QueueError::RateLimited);
    }
    outbound::enqueue(&ctx.store, &ctx.config, ctx.outbound.signers(), &message).await?;
    ctx.metrics.inc("mailroom_outbound_queued_total", &[]);
    ctx.outbound.wake();
    Ok(())
}
