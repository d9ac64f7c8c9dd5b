//! Prometheus metrics of one instance: requests and latency by route and status, answers
//! recorded, emails and webhook deliveries by outcome, and, read at scrape time, the outbox's
//! lag and the database pool's connections. Route labels are route templates (`/r/{token}`),
//! never paths, so no token reaches a label.

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The metrics of one instance (each instance has its own registry).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    answers: IntCounterVec,
    emails: IntCounterVec,
    webhooks: IntCounterVec,
    batches: Histogram,
    gauges: IntGaugeVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Latency buckets, in seconds: from a cached read to a slow import.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("scorekeeper".into()), None)
            .unwrap_or_else(|_| Registry::new());
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
            registry
                .register(Box::new(c.clone()))
                .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
            c
        };
        let requests = counter(
            "http_requests_total",
            "HTTP requests answered, by route template, method and status",
            &["route", "method", "status"],
        );
        let answers = counter(
            "answers_recorded_total",
            "Answers recorded: created (a first answer) or updated",
            &["change"],
        );
        let emails = counter(
            "emails_total",
            "Survey emails by outcome: queued, sent, retried, failed, cancelled",
            &["outcome"],
        );
        let webhooks = counter(
            "webhook_deliveries_total",
            "Webhook delivery attempts by outcome: delivered, retried, failed",
            &["outcome"],
        );
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route template and method",
            )
            .buckets(BUCKETS.to_vec()),
            &["route", "method"],
        )
        .unwrap_or_else(|e| unreachable!("latency histogram: {e}"));
        registry
            .register(Box::new(latency.clone()))
            .unwrap_or_else(|e| unreachable!("latency histogram: {e}"));
        let batches = Histogram::with_opts(
            HistogramOpts::new(
                "answer_batch_size",
                "Answers committed together in one transaction (group commit)",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
            ]),
        )
        .unwrap_or_else(|e| unreachable!("batch histogram: {e}"));
        registry
            .register(Box::new(batches.clone()))
            .unwrap_or_else(|e| unreachable!("batch histogram: {e}"));
        let gauges = IntGaugeVec::new(
            Opts::new(
                "state",
                "Read at scrape time: db_pool_in_use, db_pool_idle, outbox_due (emails due now), \
                 outbox_lag_seconds (age of the oldest due email)",
            ),
            &["of"],
        )
        .unwrap_or_else(|e| unreachable!("gauges: {e}"));
        registry
            .register(Box::new(gauges.clone()))
            .unwrap_or_else(|e| unreachable!("gauges: {e}"));
        Self {
            registry,
            requests,
            latency,
            answers,
            emails,
            webhooks,
            batches,
            gauges,
        }
    }

    /// Counts one answered request to `route` (a template) that took `took`.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[route, method])
            .observe(took.as_secs_f64());
    }

    /// Counts one recorded answer (`created` or `updated`).
    pub fn answer(&self, created: bool) {
        let change = if created { "created" } else { "updated" };
        self.answers.with_label_values(&[change]).inc();
    }

    /// Records the size of one committed batch of answers.
    pub fn answer_batch(&self, size: usize) {
        self.batches.observe(size as f64);
    }

    /// Counts one email outcome.
    pub fn email(&self, outcome: &str) {
        self.emails.with_label_values(&[outcome]).inc();
    }

    /// Counts one webhook delivery attempt's outcome.
    pub fn webhook(&self, outcome: &str) {
        self.webhooks.with_label_values(&[outcome]).inc();
    }

    /// Sets a scrape-time gauge.
    pub fn set(&self, of: &str, value: i64) {
        self.gauges.with_label_values(&[of]).set(value);
    }

    /// Everything, in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_text_format_under_their_labels() {
        let m = Metrics::new();
        m.request("/r/{token}", "POST", 201, Duration::from_millis(3));
        m.answer(true);
        m.email("sent");
        m.answer_batch(3);
        m.set("outbox_lag_seconds", 7);
        let text = m.render();
        assert!(text.contains(
            "scorekeeper_http_requests_total{method=\"POST\",route=\"/r/{token}\",status=\"201\"} 1"
        ));
        assert!(text.contains("scorekeeper_answers_recorded_total{change=\"created\"} 1"));
        assert!(text.contains("scorekeeper_emails_total{outcome=\"sent\"} 1"));
        assert!(text.contains("scorekeeper_answer_batch_size_sum 3"));
        assert!(text.contains("scorekeeper_state{of=\"outbox_lag_seconds\"} 7"));
        assert!(text.contains("scorekeeper_http_request_duration_seconds_bucket"));
    }
}
