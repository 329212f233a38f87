//! GET /healthz and GET /metrics (Prometheus text).

use super::errors::ApiError;
use super::json::{Out, reply};
use crate::server::Context;
use bytes::Bytes;
use hyper::StatusCode;
use std::fmt::Write;

/// 200 while the store answers reads.
pub fn healthz(ctx: &Context) -> Result<Out, ApiError> {
    if !ctx.store.is_healthy() {
        return Err(ApiError::unavailable("The store is not answering."));
    }
    reply(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

pub fn render(ctx: &Context) -> Result<Out, ApiError> {
    let mut text = ctx.metrics.render();
    let (writes, batches) = ctx.store.write_counts();
    let store = [
        ("mailroom_store_flushes_total", "counter", ctx.store.flush_count()),
        ("mailroom_store_writes_total", "counter", writes),
        ("mailroom_store_write_batches_total", "counter", batches),
        ("mailroom_store_size_bytes", "gauge", ctx.store.size_on_disk()),
    ];
    for (name, kind, value) in store {
        let _ = writeln!(text, "# TYPE {name} {kind}\n{name} {value}");
    }
    Ok(Out {
        status: StatusCode::OK,
        body: Bytes::from(text),
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        header: None,
    })
}
