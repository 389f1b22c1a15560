//! Counters for `GET /metrics`, rendered in the Prometheus text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Request counts and latency per route and status, and OAuth outcome counts.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), RouteStats>>,
    events: Mutex<BTreeMap<&'static str, u64>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct RouteStats {
    count: u64,
    seconds: f64,
}

impl Metrics {
    pub fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut map = self.requests.lock().expect("metrics lock");
        let entry = map
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        entry.count += 1;
        entry.seconds += seconds;
    }

    /// Counts an event such as `token_issued`, `client_auth_failed` or `idempotency_hit`.
    pub fn count(&self, event: &'static str) {
        *self
            .events
            .lock()
            .expect("metrics lock")
            .entry(event)
            .or_default() += 1;
    }

    pub fn render(&self, uptime_secs: u64) -> String {
        let mut out = String::new();
        out.push_str("# HELP kendrix_uptime_seconds Seconds since this server started.\n");
        out.push_str("# TYPE kendrix_uptime_seconds gauge\n");
        let _ = writeln!(out, "kendrix_uptime_seconds {uptime_secs}");
        out.push_str(
            "# HELP kendrix_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE kendrix_http_requests_total counter\n");
        let requests = self.requests.lock().expect("metrics lock").clone();
        for ((method, route, status), stats) in &requests {
            let _ = writeln!(
                out,
                "kendrix_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                stats.count
            );
        }
        out.push_str("# HELP kendrix_http_request_seconds_sum Time spent answering, by route.\n");
        out.push_str("# TYPE kendrix_http_request_seconds_sum counter\n");
        for ((method, route, status), stats) in &requests {
            let _ = writeln!(
                out,
                "kendrix_http_request_seconds_sum{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                stats.seconds
            );
        }
        out.push_str("# HELP kendrix_events_total OAuth, sync and idempotency outcomes.\n");
        out.push_str("# TYPE kendrix_events_total counter\n");
        for (event, count) in self.events.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "kendrix_events_total{{event=\"{event}\"}} {count}");
        }
        out
    }
}

/// Escapes a label value per the exposition format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_in_exposition_format() {
        let metrics = Metrics::default();
        metrics.record_request("GET", "/health", 200, 0.5);
        metrics.record_request("GET", "/health", 200, 0.25);
        metrics.count("token_issued");
        let text = metrics.render(7);
        assert!(text.contains("kendrix_uptime_seconds 7\n"));
        assert!(text.contains(
            "kendrix_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 2\n"
        ));
        assert!(text.contains("kendrix_events_total{event=\"token_issued\"} 1\n"));
    }
}
