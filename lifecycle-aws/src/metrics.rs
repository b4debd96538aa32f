//! CloudWatch metrics, without a call: each is one log line in the Embedded Metric Format
//! (EMF), which CloudWatch Logs turns into a metric. The dimensions are few and bounded — the
//! model, the transition, the result, a reason or a kind — and never an instance id, a token or
//! an event id (a dimension value per instance would be a metric per instance). Each metric is
//! also rolled up by `Model` alone, for alarms on the model as a whole.
//!
//! | metric | unit | dimensions | when |
//! |---|---|---|---|
//! | `LifecyclesCompleted` | Count | Model, Transition, Result | a lifecycle action completed (Auto Scaling took it) |
//! | `CompletionsRepeated` | Count | Model, Transition | a completion answered "no active lifecycle action" |
//! | `EventsRefused` | Count | Model, Reason | a lifecycle event acted on not: `not_held` (Auto Scaling holds no such action), `no_token` |
//! | `EventsFailed` | Count | Model, Retryable | an event's handling failed (`true`: it is delivered again) |
//! | `Reconciled` | Count | Model, Kind | the sweep `started` a lifecycle, `recompleted` one, found one `unhandled`, or a record `vanished` |
//! | `WaitsExpired` | Count | Model, Limit | a wait reached its deadline: `configured`, or the `hook`'s global timeout |
//! | `ResultsRecovered` | Count | Model | the sweep found a waited-for command ended whose result never came, and handled its result |
//! | `ParkedResumed` | Count | Model | the sweep resumed a launch parked for cloud-init that had finished, its stream record never handled |
//! | `Heartbeats` | Count | Model | a waiting lifecycle action was kept alive |
//! | `SweepDuration` | Milliseconds | Model | one sweep, reconciliation included |
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use lifecycle_aws::metrics::Metrics;
//! let lines = Arc::new(Mutex::new(Vec::new()));
//! let kept = lines.clone();
//! let metrics = Metrics::to(Arc::new(move |line: &str| kept.lock().unwrap().push(line.to_owned())));
//! metrics.count("ClusterNode", "LifecyclesCompleted", &[("Transition", "launch"), ("Result", "CONTINUE")], 1_764_158_400_000);
//! let line: serde_json::Value = serde_json::from_str(&lines.lock().unwrap()[0]).unwrap();
//! assert_eq!(line["LifecyclesCompleted"], 1);
//! assert_eq!(line["Result"], "CONTINUE");
//! assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Lifecycle");
//! assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0], serde_json::json!(["Model", "Transition", "Result"]));
//! ```

use std::sync::Arc;

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Lifecycle";

/// Where metric lines go: the Lambda's standard output (CloudWatch Logs), or a test's buffer.
pub type MetricSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Writes metrics as EMF log lines to a sink; writes nothing without one (local runs).
#[derive(Clone, Default)]
pub struct Metrics {
    sink: Option<MetricSink>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.sink.is_some())
            .finish()
    }
}

impl Metrics {
    /// Metrics written to `sink`, one line each.
    pub fn to(sink: MetricSink) -> Self {
        Metrics { sink: Some(sink) }
    }

    /// Metrics written to standard output, where the Lambda's logs go.
    ///
    /// ```
    /// let metrics = lifecycle_aws::metrics::Metrics::stdout();
    /// assert!(format!("{metrics:?}").contains("enabled: true"));
    /// ```
    pub fn stdout() -> Self {
        Metrics::to(Arc::new(|line: &str| println!("{line}")))
    }

    /// `value` of the count `name` for model `model` with `dimensions`, at `timestamp_ms`
    /// (epoch milliseconds).
    pub fn count(&self, model: &str, name: &str, dimensions: &[(&str, &str)], timestamp_ms: u64) {
        self.emit(model, name, "Count", 1.0, dimensions, timestamp_ms);
    }

    /// A duration in milliseconds.
    pub fn milliseconds(
        &self,
        model: &str,
        name: &str,
        value: f64,
        dimensions: &[(&str, &str)],
        timestamp_ms: u64,
    ) {
        self.emit(model, name, "Milliseconds", value, dimensions, timestamp_ms);
    }

    fn emit(
        &self,
        model: &str,
        name: &str,
        unit: &str,
        value: f64,
        dimensions: &[(&str, &str)],
        timestamp_ms: u64,
    ) {
        let Some(sink) = &self.sink else {
            return;
        };
        let mut keys = vec![Value::from("Model")];
        let rollup = !dimensions.is_empty();
        let mut line = Map::new();
        line.insert("Model".to_owned(), Value::from(model));
        for (key, value) in dimensions {
            keys.push(Value::from(*key));
            line.insert((*key).to_owned(), Value::from(*value));
        }
        line.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": if rollup { json!([keys, ["Model"]]) } else { json!([keys]) },
                    "Metrics": [{"Name": name, "Unit": unit}],
                }],
            }),
        );
        let value = if value.fract() == 0.0 && value.abs() < 1e15 {
            Value::from(value as i64)
        } else {
            Value::from(value)
        };
        line.insert(name.to_owned(), value);
        sink(&Value::Object(line).to_string());
    }
}
