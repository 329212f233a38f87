//! The metrics registry behind GET /metrics (Prometheus text format 0.0.4).
//!
//! Every family is declared once in [`FAMILIES`] with its help text, type and the
//! label values it starts with, so a scrape shows `# HELP`/`# TYPE` for each and
//! counters at 0 before anything happened. Values are atomics; the family's map of
//! label sets is locked only to find or add a series.

use parking_lot::RwLock;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric family: its name, help text, type, label names and the label value
/// sets present from the start (one set per entry, in label-name order).
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub initial: &'static [&'static [&'static str]],
}

const fn family(
    name: &'static str,
    kind: Kind,
    help: &'static str,
    labels: &'static [&'static str],
    initial: &'static [&'static [&'static str]],
) -> Family {
    Family {
        name,
        help,
        kind,
        labels,
        initial,
    }
}

use Kind::{Counter, Gauge, Histogram};

const SMTP_PORTS: &[&[&str]] = &[&["mx"], &["submission"], &["submissions"]];
const LOGIN_RESULTS: &[&[&str]] = &[&["ok"], &["failed"], &["throttled"]];

/// Every metric mailroom exports.
pub const FAMILIES: &[Family] = &[
    family("mailroom_imap_sessions", Gauge, "IMAP sessions open now.", &[], &[&[]]),
    family(
        "mailroom_imap_sessions_total",
        Counter,
        "IMAP sessions started.",
        &[],
        &[&[]],
    ),
    family(
        "mailroom_imap_commands_total",
        Counter,
        "IMAP commands run, by command name.",
        &["command"],
        &[&["LOGIN"], &["SELECT"], &["FETCH"]],
    ),
    family(
        "mailroom_imap_command_duration_seconds",
        Histogram,
        "Time from a complete IMAP command to its tagged answer being queued.",
        &["command"],
        &[&["LOGIN"], &["SELECT"], &["FETCH"]],
    ),
    family(
        "mailroom_imap_logins_total",
        Counter,
        "IMAP logins, by result.",
        &["result"],
        LOGIN_RESULTS,
    ),
    family(
        "mailroom_smtp_sessions",
        Gauge,
        "SMTP sessions open now, by port.",
        &["port"],
        SMTP_PORTS,
    ),
    family(
        "mailroom_smtp_sessions_total",
        Counter,
        "SMTP sessions started, by port.",
        &["port"],
        SMTP_PORTS,
    ),
    family(
        "mailroom_smtp_messages_total",
        Counter,
        "SMTP messages at the end of DATA/BDAT, by port and result.",
        &["port", "result"],
        &[
            &["mx", "accepted"],
            &["mx", "refused"],
            &["mx", "failed"],
            &["submission", "accepted"],
            &["submission", "refused"],
            &["submission", "failed"],
            &["submissions", "accepted"],
            &["submissions", "refused"],
            &["submissions", "failed"],
        ],
    ),
    family(
        "mailroom_smtp_transaction_duration_seconds",
        Histogram,
        "Time from MAIL FROM to the 250 that accepts the message, by port.",
        &["port"],
        SMTP_PORTS,
    ),
    family(
        "mailroom_smtp_logins_total",
        Counter,
        "SMTP AUTH attempts, by result.",
        &["result"],
        &[&["ok"], &["failed"], &["throttled"], &["disabled"]],
    ),
    family(
        "mailroom_auth_throttled_total",
        Counter,
        "Times a client address or an account started being throttled after failed logins.",
        &["scope"],
        &[&["address"], &["account"]],
    ),
    family(
        "mailroom_api_requests_total",
        Counter,
        "API requests answered, by status code.",
        &["status"],
        &[
            &["200"],
            &["201"],
            &["400"],
            &["401"],
            &["403"],
            &["404"],
            &["429"],
            &["500"],
        ],
    ),
    family(
        "mailroom_api_request_duration_seconds",
        Histogram,
        "Time to answer an API request, by route template.",
        &["route"],
        &[],
    ),
    family(
        "mailroom_outbound_queued_total",
        Counter,
        "Messages put on the outbound queue.",
        &[],
        &[&[]],
    ),
    family(
        "mailroom_outbound_rate_limited_total",
        Counter,
        "Submissions refused by the outbound send rate.",
        &[],
        &[&[]],
    ),
    family(
        "mailroom_outbound_attempts_total",
        Counter,
        "Outbound delivery attempts of a queued message, by whether more remain.",
        &["result"],
        &[&["final"], &["deferred"]],
    ),
    family(
        "mailroom_outbound_recipients_total",
        Counter,
        "Outbound recipient outcomes per attempt.",
        &["result"],
        &[&["delivered"], &["failed"], &["deferred"]],
    ),
    family(
        "mailroom_outbound_bounces_total",
        Counter,
        "Bounce messages delivered to senders.",
        &[],
        &[&[]],
    ),
    family(
        "mailroom_outbound_queue_messages",
        Gauge,
        "Messages waiting in the outbound queue.",
        &[],
        &[&[]],
    ),
    family(
        "mailroom_outbound_queue_entries",
        Gauge,
        "Queue entries (one per destination domain) waiting.",
        &[],
        &[&[]],
    ),
    family(
        "mailroom_store_flushes_total",
        Counter,
        "Store flushes to disk.",
        &[],
        &[&[]],
    ),
    family(
        "mailroom_store_writes_total",
        Counter,
        "Mail writes applied by the store writer.",
        &[],
        &[&[]],
    ),
    family(
        "mailroom_store_write_batches_total",
        Counter,
        "Batches the store writer applied those writes in.",
        &[],
        &[&[]],
    ),
    family(
        "mailroom_store_size_bytes",
        Gauge,
        "Size of the store on disk.",
        &[],
        &[&[]],
    ),
];

/// Histogram bucket upper bounds, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct HistogramValue {
    /// Observations per bucket (not cumulative); the last counts those above every bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

enum Value {
    Number(AtomicI64),
    Histogram(Box<HistogramValue>),
}

struct FamilyState {
    family: &'static Family,
    /// Rendered label set (`a="x",b="y"`) -> value.
    series: RwLock<BTreeMap<String, Arc<Value>>>,
}

pub struct Metrics {
    families: HashMap<&'static str, FamilyState>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut families = HashMap::new();
        for family in FAMILIES {
            let state = FamilyState {
                family,
                series: RwLock::new(BTreeMap::new()),
            };
            for values in family.initial {
                let labels: Vec<(&str, &str)> = family.labels.iter().copied().zip(values.iter().copied()).collect();
                state.get(&labels);
            }
            families.insert(family.name, state);
        }
        Metrics { families }
    }
}

impl FamilyState {
    fn get(&self, labels: &[(&str, &str)]) -> Arc<Value> {
        let key = label_text(labels);
        if let Some(v) = self.series.read().get(&key) {
            return v.clone();
        }
        let kind = self.family.kind;
        self.series
            .write()
            .entry(key)
            .or_insert_with(|| {
                Arc::new(match kind {
                    Histogram => Value::Histogram(Box::default()),
                    Counter | Gauge => Value::Number(AtomicI64::new(0)),
                })
            })
            .clone()
    }
}

impl Metrics {
    fn series(&self, name: &str, labels: &[(&str, &str)], kind: Kind) -> Option<Arc<Value>> {
        let state = self.families.get(name);
        // A name missing from FAMILIES, or used as the wrong type, is a bug here.
        debug_assert!(
            state.is_some_and(|s| s.family.kind == kind),
            "metric {name} is not a declared {kind:?}"
        );
        Some(state?.get(labels))
    }

    /// Adds one to a counter, e.g. `inc("mailroom_smtp_messages_total", &[("port", "mx")])`.
    pub fn inc(&self, name: &str, labels: &[(&str, &str)]) {
        self.add(name, labels, 1);
    }

    pub fn add(&self, name: &str, labels: &[(&str, &str)], n: i64) {
        if let Some(Value::Number(v)) = self.series(name, labels, Counter).as_deref() {
            v.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Sets a counter kept elsewhere (the store's own counts).
    pub fn counter_set(&self, name: &str, labels: &[(&str, &str)], value: i64) {
        if let Some(Value::Number(v)) = self.series(name, labels, Counter).as_deref() {
            v.store(value, Ordering::Relaxed);
        }
    }

    /// Moves a gauge up or down (connections open).
    pub fn gauge_add(&self, name: &str, labels: &[(&str, &str)], delta: i64) {
        if let Some(Value::Number(v)) = self.series(name, labels, Gauge).as_deref() {
            v.fetch_add(delta, Ordering::Relaxed);
        }
    }

    pub fn gauge_set(&self, name: &str, labels: &[(&str, &str)], value: i64) {
        if let Some(Value::Number(v)) = self.series(name, labels, Gauge).as_deref() {
            v.store(value, Ordering::Relaxed);
        }
    }

    /// Records one duration in a histogram.
    pub fn observe(&self, name: &str, labels: &[(&str, &str)], took: Duration) {
        if let Some(Value::Histogram(h)) = self.series(name, labels, Histogram).as_deref() {
            let secs = took.as_secs_f64();
            let bucket = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
            h.buckets[bucket].fetch_add(1, Ordering::Relaxed);
            h.sum_micros
                .fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for family in FAMILIES {
            let Some(state) = self.families.get(family.name) else {
                continue;
            };
            let kind = match family.kind {
                Counter => "counter",
                Gauge => "gauge",
                Histogram => "histogram",
            };
            let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
            let _ = writeln!(out, "# TYPE {} {kind}", family.name);
            for (labels, value) in state.series.read().iter() {
                render_series(&mut out, family.name, labels, value);
            }
        }
        out
    }
}

fn render_series(out: &mut String, name: &str, labels: &str, value: &Value) {
    match value {
        Value::Number(v) => {
            let _ = writeln!(out, "{name}{} {}", braces(labels), v.load(Ordering::Relaxed));
        }
        Value::Histogram(h) => {
            let sep = if labels.is_empty() { "" } else { "," };
            let mut cumulative = 0;
            for (i, bound) in BUCKETS
                .iter()
                .map(|b| b.to_string())
                .chain(["+Inf".to_string()])
                .enumerate()
            {
                cumulative += h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
            }
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
            let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
        }
    }
}

fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

/// `a="x",b="y"` with values escaped as the text format says.
fn label_text(labels: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let _ = write!(text, "{k}=\"{v}\"");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.inc("mailroom_api_requests_total", &[("status", "200")]);
        m.inc("mailroom_api_requests_total", &[("status", "200")]);
        m.gauge_add("mailroom_imap_sessions", &[], 1);
        m.observe(
            "mailroom_api_request_duration_seconds",
            &[("route", "/v1/inboxes/{id}")],
            Duration::from_millis(3),
        );
        let text = m.render();
        assert!(text.contains("# TYPE mailroom_api_requests_total counter\n"));
        assert!(text.contains("mailroom_api_requests_total{status=\"200\"} 2\n"));
        assert!(text.contains("mailroom_api_requests_total{status=\"404\"} 0\n"));
        assert!(text.contains("mailroom_imap_sessions 1\n"));
        assert!(text.contains("mailroom_outbound_queued_total 0\n"));
        assert!(text.contains("route=\"/v1/inboxes/{id}\",le=\"0.0025\"} 0\n"));
        assert!(text.contains("route=\"/v1/inboxes/{id}\",le=\"0.005\"} 1\n"));
        assert!(text.contains("mailroom_api_request_duration_seconds_count{route=\"/v1/inboxes/{id}\"} 1\n"));
        for family in FAMILIES {
            assert!(family.name.starts_with("mailroom_"));
            assert!(text.contains(&format!("# HELP {} ", family.name)));
        }
    }
}
