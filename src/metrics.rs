//! Counters and gauges for GET /metrics, in Prometheus text format.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Default)]
pub struct Metrics {
    /// Series text (`name{labels}`) -> value; counters and gauges alike.
    series: Mutex<BTreeMap<String, (Kind, i64)>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

impl Metrics {
    /// Adds one to a counter, e.g. `inc("mailroom_smtp_messages_total", &[("port", "mx")])`.
    pub fn inc(&self, name: &str, labels: &[(&str, &str)]) {
        self.add(name, labels, 1);
    }

    pub fn add(&self, name: &str, labels: &[(&str, &str)], n: i64) {
        let mut series = self.series.lock();
        series.entry(series_key(name, labels)).or_insert((Kind::Counter, 0)).1 += n;
    }

    /// Moves a gauge up or down (connections open, queue length).
    pub fn gauge_add(&self, name: &str, labels: &[(&str, &str)], delta: i64) {
        let mut series = self.series.lock();
        series.entry(series_key(name, labels)).or_insert((Kind::Gauge, 0)).1 += delta;
    }

    pub fn gauge_set(&self, name: &str, labels: &[(&str, &str)], value: i64) {
        self.series
            .lock()
            .insert(series_key(name, labels), (Kind::Gauge, value));
    }

    pub fn render(&self) -> String {
        let series = self.series.lock();
        let mut out = String::new();
        let mut last_name = "";
        for (key, (kind, value)) in series.iter() {
            let name = key.split('{').next().unwrap_or(key);
            if name != last_name {
                let kind = if *kind == Kind::Counter { "counter" } else { "gauge" };
                let _ = writeln!(out, "# TYPE {name} {kind}");
                last_name = name;
            }
            let _ = writeln!(out, "{key} {value}");
        }
        out
    }
}

fn series_key(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let mut key = format!("{name}{{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            key.push(',');
        }
        let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let _ = write!(key, "{k}=\"{v}\"");
    }
    key.push('}');
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.inc("mailroom_api_requests_total", &[("status", "200")]);
        m.inc("mailroom_api_requests_total", &[("status", "200")]);
        m.gauge_add("mailroom_connections", &[("proto", "imap")], 1);
        let text = m.render();
        assert!(text.contains("# TYPE mailroom_api_requests_total counter\n"));
        assert!(text.contains("mailroom_api_requests_total{status=\"200\"} 2\n"));
        assert!(text.contains("mailroom_connections{proto=\"imap\"} 1\n"));
    }
}
