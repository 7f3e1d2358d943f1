//! Aggregate counters for `/metrics` (Prometheus text format). Counts only, never people.
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

#[derive(Clone, Default)]
pub struct Metrics(Arc<Counters>);

#[derive(Default)]
struct Counters {
    requests_2xx: AtomicU64,
    requests_3xx: AtomicU64,
    requests_4xx: AtomicU64,
    requests_5xx: AtomicU64,
}

impl Metrics {
    pub fn record_status(&self, status: u16) {
        let c = &self.0;
        let counter = match status {
            200..=299 => &c.requests_2xx,
            300..=399 => &c.requests_3xx,
            400..=499 => &c.requests_4xx,
            _ => &c.requests_5xx,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render_requests(&self, out: &mut String) {
        let c = &self.0;
        out.push_str("# HELP constellate_http_requests_total HTTP responses by status class.\n");
        out.push_str("# TYPE constellate_http_requests_total counter\n");
        for (class, counter) in
            [("2xx", &c.requests_2xx), ("3xx", &c.requests_3xx), ("4xx", &c.requests_4xx), ("5xx", &c.requests_5xx)]
        {
            out.push_str(&format!(
                "constellate_http_requests_total{{class=\"{class}\"}} {}\n",
                counter.load(Ordering::Relaxed)
            ));
        }
    }
}
