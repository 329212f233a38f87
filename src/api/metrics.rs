//! GET /healthz and GET /metrics (Prometheus text).

use super::errors::ApiError;
use super::json::{Out, reply};
use crate::server::Context;
use bytes::Bytes;
use hyper::StatusCode;

/// 200 while the store answers reads.
pub fn healthz(ctx: &Context) -> Result<Out, ApiError> {
    if !ctx.store.is_healthy() {
        return Err(ApiError::unavailable("The store is not answering."));
    }
    reply(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

pub fn render(ctx: &Context) -> Result<Out, ApiError> {
    // The store keeps its own counts; they are copied in at each scrape.
    let (writes, batches) = ctx.store.write_counts();
    let m = &ctx.metrics;
    m.counter_set("mailroom_store_flushes_total", &[], to_i64(ctx.store.flush_count()));
    m.counter_set("mailroom_store_writes_total", &[], to_i64(writes));
    m.counter_set("mailroom_store_write_batches_total", &[], to_i64(batches));
    m.gauge_set("mailroom_store_size_bytes", &[], to_i64(ctx.store.size_on_disk()));
    let (addresses, accounts) = ctx.auth.throttle_counts();
    m.counter_set(
        "mailroom_auth_throttled_total",
        &[("scope", "address")],
        to_i64(addresses),
    );
    m.counter_set(
        "mailroom_auth_throttled_total",
        &[("scope", "account")],
        to_i64(accounts),
    );
    Ok(Out {
        status: StatusCode::OK,
        body: Bytes::from(m.render()),
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        header: None,
    })
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
