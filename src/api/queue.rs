//! Operator endpoints for outbound mail (admin token or `sa_` key):
//! `GET /v1/admin/queue` (what waits and why) and `GET /v1/admin/dkim/{domain}`
//! (the DNS record to publish). `mailroom queue list` and `mailroom dkim-record`
//! call these while the server runs, because sled lets only one process open the store.

use super::Call;
use super::errors::ApiError;
use super::json::{Out, reply};
use crate::delivery::outbound::admin;
use hyper::StatusCode;

pub fn report(call: &Call<'_>) -> Result<Out, ApiError> {
    call.scope.require_operator()?;
    let report = admin::queue_report(&call.ctx.store).map_err(ApiError::bug)?;
    reply(StatusCode::OK, &report)
}

pub async fn dkim(call: &Call<'_>, domain: &str) -> Result<Out, ApiError> {
    call.scope.require_operator()?;
    match admin::dkim_report(&call.ctx.store, &call.ctx.config, domain).await {
        Ok(Some(record)) => reply(StatusCode::OK, &record),
        Ok(None) => Err(ApiError::not_found("domain")),
        Err(e) => Err(ApiError::bug(e)),
    }
}
