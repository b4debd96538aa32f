//! The Lambda: configuration from the environment, JSON logs, and the handler.
//!
//! Two shapes. The one-liner, [`run`], does everything: configuration, JSON logs, the AWS
//! clients, the invocation loop. The composable one is the usual `lambda_runtime` shape, with
//! your own `main`, your own tracing subscriber and your own service around the runtime:
//!
//! ```no_run
//! # use lifecycle_core::testing::example::Node; // your model
//! use std::sync::Arc;
//! use lambda_runtime::{LambdaEvent, service_fn};
//! use lifecycle_aws::lambda::{LambdaConfig, RawValue, invoke};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     // Your subscriber (the runtime logs through `tracing`, with the event and instance id
//!     // in a span around each event).
//!     tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default())?;
//!     let config = LambdaConfig::from_env()?;
//!     let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//!     let runtime = Arc::new(config.runtime(&sdk, || Node));
//!     lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
//!         invoke(runtime.clone(), event)
//!     }))
//!     .await
//! }
//! ```
//!
//! Cargo features (both default): `lambda` ([`run`], [`invoke`]; needs `lambda_runtime`) and
//! `json-logs` ([`json_subscriber`], installed by [`run`]; needs `tracing-subscriber`). A
//! crate that only tests its model with [`testing`](crate::testing), or drives [`Runtime`]
//! itself, can turn both off.

use std::time::Duration;

use aws_config::SdkConfig;
use lifecycle_core::LifecycleModel;

use crate::runtime::{Runtime, Settings};

/// An invocation's payload as JSON text, what [`invoke`] takes.
pub use serde_json::value::RawValue;

/// The Lambda's configuration, from environment variables: the node table, the log filter,
/// whether metrics are written, and the runtime's [`Settings`] (each from its variable, listed
/// there, or its default).
///
/// ```
/// use std::time::Duration;
/// use lifecycle_aws::lambda::LambdaConfig;
/// use lifecycle_aws::runtime::Settings;
/// // Read from the environment in a Lambda; written out here.
/// let config = LambdaConfig {
///     table: "lifecycle-nodes".into(),
///     log: "info".into(),
///     metrics: true,
///     settings: Settings {
///         claim_lease: Duration::from_secs(30),
///         groups: vec!["cluster-managers".into(), "cluster-workers".into()],
///         ..Settings::default()
///     },
/// };
/// assert_eq!(config.settings.wait_deadline, Settings::default().wait_deadline);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaConfig {
    /// `LIFECYCLE_TABLE`: the node table (required).
    pub table: String,
    /// `LIFECYCLE_LOG`: a tracing filter, e.g. `info` or `lifecycle_core=debug,info`
    /// (default `info`).
    pub log: String,
    /// `LIFECYCLE_METRICS`: `on` (default) writes CloudWatch metrics as log lines
    /// ([`crate::metrics`]), `off` does not.
    pub metrics: bool,
    /// The runtime's settings, each from its `LIFECYCLE_…` variable (the table in
    /// [`Settings`]) within the range it can mean, or its default.
    pub settings: Settings,
}

/// The values a duration variable may take, and why.
struct SecondsRange {
    min: u64,
    max: u64,
    why: &'static str,
}

/// A configuration variable is missing or invalid.
///
/// Its `Debug` is its sentence too: `main` returning it prints
/// `Error: environment variable LIFECYCLE_TABLE: not set: name the node table`, not a struct.
///
/// ```
/// let error = lifecycle_aws::lambda::LambdaConfig::from_vars(|_| None).unwrap_err();
/// assert_eq!(format!("{error:?}"), "environment variable LIFECYCLE_TABLE: not set: name the node table");
/// ```
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}: {problem}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The environment variable `name`, which must be set and not empty; `purpose` says what it
/// names, for the error.
///
/// ```
/// # unsafe { std::env::remove_var("DNS_ZONE_ID") };
/// let error = lifecycle_aws::lambda::required_var("DNS_ZONE_ID", "the hosted zone").unwrap_err();
/// assert_eq!(error.to_string(), "environment variable DNS_ZONE_ID: not set: name the hosted zone");
/// ```
pub fn required_var(name: &'static str, purpose: &str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ConfigError {
            name,
            problem: format!("not set: name {purpose}"),
        })
}

impl LambdaConfig {
    /// Reads the process environment. The region and credentials come from the standard AWS
    /// variables (`AWS_REGION`, ...), an endpoint override from `AWS_ENDPOINT_URL`.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), lifecycle_aws::lambda::ConfigError> {
    /// // In the Lambda, with `LIFECYCLE_TABLE=lifecycle-nodes` set by the template:
    /// let config = lifecycle_aws::lambda::LambdaConfig::from_env()?;
    /// assert_eq!(config.table, "lifecycle-nodes");
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads variables through `var`.
    ///
    /// ```
    /// use lifecycle_aws::lambda::LambdaConfig;
    /// let config = LambdaConfig::from_vars(|name| (name == "LIFECYCLE_TABLE").then(|| "nodes".to_owned())).unwrap();
    /// assert_eq!(config.table, "nodes");
    /// // Nothing else set: every setting is its default.
    /// assert_eq!(config.settings, lifecycle_aws::runtime::Settings::default());
    /// assert!(LambdaConfig::from_vars(|_| None).is_err());
    /// // A value outside what it can mean is one sentence, not an overflow later.
    /// let huge = LambdaConfig::from_vars(|name| match name {
    ///     "LIFECYCLE_TABLE" => Some("nodes".to_owned()),
    ///     "LIFECYCLE_CLAIM_LEASE_SECONDS" => Some(u64::MAX.to_string()),
    ///     _ => None,
    /// });
    /// assert_eq!(huge.unwrap_err().to_string(), "environment variable LIFECYCLE_CLAIM_LEASE_SECONDS: \
    ///     18446744073709551615 seconds is out of range: 1 to 900 (no Lambda invocation runs longer than 15 minutes)");
    /// // A name prefix is what rule and document names can hold.
    /// let prefix = |value: &str| LambdaConfig::from_vars(|name| match name {
    ///     "LIFECYCLE_TABLE" => Some("nodes".to_owned()),
    ///     "LIFECYCLE_NAME_PREFIX" => Some(value.to_owned()),
    ///     _ => None,
    /// });
    /// assert_eq!(prefix("prod-").unwrap().settings.name_prefix, "prod-");
    /// assert_eq!(prefix("prod/").unwrap_err().to_string(), "environment variable LIFECYCLE_NAME_PREFIX: \
    ///     `prod/` holds `/`: rule and document names take letters, digits, `-`, `_` and `.`");
    /// ```
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table = var("LIFECYCLE_TABLE")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ConfigError {
                name: "LIFECYCLE_TABLE",
                problem: "not set: name the node table".into(),
            })?;
        // Each duration within what it can mean: a value past its range is a typo, and would
        // make the runtime's arithmetic on times overflow.
        let seconds = |name: &'static str, default: u64, range: SecondsRange| {
            let Some(text) = var(name) else {
                return Ok(Duration::from_secs(default));
            };
            let value: u64 = text.trim().parse().map_err(|_| ConfigError {
                name,
                problem: format!("`{text}` is not a whole number of seconds"),
            })?;
            if !(range.min..=range.max).contains(&value) {
                return Err(ConfigError {
                    name,
                    problem: format!(
                        "{value} seconds is out of range: {} to {} ({})",
                        range.min, range.max, range.why
                    ),
                });
            }
            Ok(Duration::from_secs(value))
        };
        const DAY: u64 = 24 * 3600;
        let defaults = Settings::default();
        let command_grace = seconds(
            "LIFECYCLE_COMMAND_GRACE_SECONDS",
            defaults.command_grace.as_secs(),
            SecondsRange {
                min: 0,
                max: DAY,
                why: "a registration is milliseconds behind its command",
            },
        )?;
        let wait_deadline = seconds(
            "LIFECYCLE_WAIT_DEADLINE_SECONDS",
            defaults.wait_deadline.as_secs(),
            SecondsRange {
                min: 1,
                max: 2 * DAY,
                why: "no lifecycle hook waits longer than 48 hours",
            },
        )?;
        let claim_lease = seconds(
            "LIFECYCLE_CLAIM_LEASE_SECONDS",
            defaults.claim_lease.as_secs(),
            SecondsRange {
                min: 1,
                max: 900,
                why: "no Lambda invocation runs longer than 15 minutes",
            },
        )?;
        let heartbeat_interval = seconds(
            "LIFECYCLE_HEARTBEAT_SECONDS",
            defaults.heartbeat_interval.as_secs(),
            SecondsRange {
                min: 1,
                max: 7200,
                why: "a hook's heartbeat timeout is at most 2 hours",
            },
        )?;
        let sweep_budget = seconds(
            "LIFECYCLE_SWEEP_BUDGET_SECONDS",
            defaults.sweep_budget.as_secs(),
            SecondsRange {
                min: 1,
                max: 900,
                why: "no Lambda invocation runs longer than 15 minutes",
            },
        )?;
        let retention = seconds(
            "LIFECYCLE_RETENTION_SECONDS",
            defaults.retention.as_secs(),
            SecondsRange {
                min: 0,
                max: 3650 * DAY,
                why: "at most ten years",
            },
        )?;
        let sweep_rule = var("LIFECYCLE_SWEEP_RULE")
            .filter(|r| !r.is_empty())
            .unwrap_or(defaults.sweep_rule);
        let alive_check = seconds(
            "LIFECYCLE_ALIVE_CHECK_SECONDS",
            defaults.alive_check.as_secs(),
            SecondsRange {
                min: 300,
                max: 7 * DAY,
                why: "no more often than the sweep runs, at least weekly",
            },
        )?;
        let metrics = match var("LIFECYCLE_METRICS").as_deref().map(str::trim) {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => {
                return Err(ConfigError {
                    name: "LIFECYCLE_METRICS",
                    problem: format!("`{other}` is neither `on` nor `off`"),
                });
            }
        };
        let groups = var("LIFECYCLE_GROUPS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect();
        let name_prefix = var("LIFECYCLE_NAME_PREFIX").unwrap_or_default();
        if let Some(bad) = name_prefix
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(ConfigError {
                name: "LIFECYCLE_NAME_PREFIX",
                problem: format!(
                    "`{name_prefix}` holds `{bad}`: rule and document names take letters, digits, `-`, `_` and `.`"
                ),
            });
        }
        let log = var("LIFECYCLE_LOG").unwrap_or_else(|| "info".into());
        #[cfg(feature = "json-logs")]
        tracing_subscriber::EnvFilter::try_new(&log).map_err(|e| ConfigError {
            name: "LIFECYCLE_LOG",
            problem: format!("`{log}`: {e}"),
        })?;
        Ok(LambdaConfig {
            table,
            log,
            metrics,
            settings: Settings {
                command_grace,
                wait_deadline,
                claim_lease,
                heartbeat_interval,
                sweep_budget,
                retention,
                sweep_rule,
                groups,
                alive_check,
                name_prefix,
            },
        })
    }

    /// The runtime this configuration describes, on the table it names, with the AWS clients
    /// built from `sdk`; each event gets a fresh model from `new_model`.
    ///
    /// ```
    /// # use lifecycle_core::testing::example::Node; // your model
    /// use lifecycle_aws::lambda::LambdaConfig;
    /// let config = LambdaConfig::from_vars(|name| (name == "LIFECYCLE_TABLE").then(|| "nodes".to_owned())).unwrap();
    /// # let sdk = lifecycle_aws::testing::example_sdk_config();
    /// let runtime = config.runtime(&sdk, || Node);
    /// assert_eq!(runtime.store().table(), "nodes");
    /// ```
    pub fn runtime<M, F>(&self, sdk: &SdkConfig, new_model: F) -> Runtime<M, F>
    where
        M: LifecycleModel,
        F: Fn() -> M + Send + Sync,
    {
        Runtime::new(sdk, self.table.clone(), new_model)
            .with_settings(self.settings.clone())
            .with_metrics(if self.metrics {
                crate::metrics::Metrics::stdout()
            } else {
                crate::metrics::Metrics::default()
            })
    }
}

#[cfg(feature = "json-logs")]
/// The JSON log subscriber the Lambda uses, writing to `writer`: one JSON object per line, with
/// the fields of the current span (event id, instance id) on every line.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// # #[derive(Clone, Default)] struct Lines(Arc<Mutex<Vec<u8>>>);
/// # impl std::io::Write for Lines {
/// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().extend_from_slice(b); Ok(b.len()) }
/// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// # }
/// let lines = Lines::default(); // an io::Write into memory (the Lambda: standard error)
/// let writer = lines.clone();
/// let subscriber = lifecycle_aws::lambda::json_subscriber("info", move || writer.clone());
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("event", instance = "i-1").in_scope(|| tracing::info!("joined"));
///     tracing::debug!("below the filter");
/// });
/// let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
/// let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
/// assert_eq!((line["fields"]["message"].as_str(), line["span"]["instance"].as_str()), (Some("joined"), Some("i-1")));
/// assert_eq!(text.lines().count(), 1);
/// ```
pub fn json_subscriber<W>(filter: &str, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(writer)
        .finish()
}

/// Runs the Lambda for the model `new_model` builds: reads [`LambdaConfig`] from the
/// environment, sets up JSON logs ([`json_subscriber`], unless the process already has a
/// subscriber, or the `json-logs` feature is off), builds the AWS clients once per container,
/// and handles invocations until the runtime stops it.
///
/// Started as `bootstrap --invoke EVENT.json` it handles that one event instead, prints the
/// answer as the last line of its output and exits (non-zero if handling failed): a local
/// invocation with no Lambda Runtime API, used to measure a cold start.
///
/// ```no_run
/// # use lifecycle_core::testing::example::Node; // your model
/// #[tokio::main]
/// async fn main() -> Result<(), lambda_runtime::Error> {
///     lifecycle_aws::run(|| Node).await
/// }
/// ```
#[cfg(feature = "lambda")]
pub async fn run<M, F>(new_model: F) -> Result<(), lambda_runtime::Error>
where
    M: LifecycleModel + 'static,
    F: Fn() -> M + Send + Sync + 'static,
{
    use std::sync::Arc;

    let config = LambdaConfig::from_env()?;
    #[cfg(feature = "json-logs")]
    if !tracing::dispatcher::has_been_set() {
        tracing::subscriber::set_global_default(json_subscriber(&config.log, std::io::stdout))?;
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let runtime = Arc::new(config.runtime(&sdk, new_model));
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let [flag, path] = args.as_slice()
        && flag == "--invoke"
    {
        let payload: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
        let handling: std::pin::Pin<
            Box<
                dyn std::future::Future<
                        Output = Result<serde_json::Value, crate::runtime::HandleError>,
                    > + Send
                    + '_,
            >,
        > = Box::pin(runtime.handle(&payload));
        match handling.await {
            Ok(answer) => {
                println!("{}", serde_json::to_string(&answer)?);
                return Ok(());
            }
            // A sentence, and an exit code a caller can act on: 75 (EX_TEMPFAIL) when
            // delivering the same event again may succeed, as a queue would.
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(if e.is_retryable() { 75 } else { 1 });
            }
        }
    }
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Box<RawValue>>| invoke(runtime.clone(), event),
    ))
    .await
}

/// One Lambda invocation: `event`'s payload, as JSON text, handled by `runtime` before the
/// invocation's deadline (no claim outlives it). The text is decoded without building a
/// `serde_json::Value` of it first ([`Runtime::handle_bytes`]). A failure is logged with the request id and returned, so
/// the Lambda service (or the queue behind it) delivers the event again when that may help:
/// see [`HandleError::is_retryable`](crate::runtime::HandleError::is_retryable).
///
/// For your own `service_fn` (see the [module documentation](self)); [`run`] uses it too.
///
/// ```
/// # use std::sync::Arc;
/// # use lifecycle_aws::store::MemoryTable;
/// # use lifecycle_aws::runtime::Runtime;
/// # use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
/// # use lifecycle_core::{lifecycle_model, Context};
/// # pub struct Job;
/// # #[lifecycle_model(states(Backup, Done), initial = Backup, schedules(Backup), terminal(Done), error = std::fmt::Error)]
/// # impl Job {
/// #     #[transition(from = Backup, to = Done, on(scheduled), ignore_errors)]
/// #     async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> { Ok(()) }
/// # }
/// use lambda_runtime::{Context as LambdaContext, LambdaEvent};
/// use lifecycle_aws::lambda::{RawValue, invoke};
/// let runtime = Arc::new(Runtime::with_parts(MemoryTable::new(), Arc::new(MemoryCommands::new()),
///     Arc::new(MemoryActions::new()), || Job));
/// let payload = RawValue::from_string(lifecycle_aws::testing::scheduled_event("backup").to_string()).unwrap();
/// let event = LambdaEvent::new(payload, LambdaContext::default());
/// let answer = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
///     .block_on(invoke(runtime, event))
///     .unwrap();
/// assert_eq!(serde_json::to_value(&answer).unwrap()["outcomes"][0]["end"], "done");
/// ```
#[cfg(feature = "lambda")]
pub fn invoke<M, F, T>(
    runtime: std::sync::Arc<Runtime<M, F, T>>,
    event: lambda_runtime::LambdaEvent<Box<RawValue>>,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<crate::runtime::Answer, lambda_runtime::Error>>
            + Send,
    >,
>
where
    M: LifecycleModel + 'static,
    F: Fn() -> M + Send + Sync + 'static,
    T: crate::store::NodeTable + 'static,
{
    // A trait object here keeps the handler's future type shallow: nested concretely inside
    // lambda_runtime's service, it overflows rustc's query depth in the user's `main`.
    Box::pin(async move {
        let request_id = event.context.request_id.clone();
        let payload = event.payload.get().as_bytes();
        // No deadline given (0: a context built by hand, not by the Lambda service): the
        // claim's lease alone bounds it.
        let result = match event.context.deadline {
            0 => runtime.handle_bytes(payload).await,
            ms => {
                let deadline = std::time::UNIX_EPOCH + Duration::from_millis(ms);
                runtime.handle_bytes_before(payload, deadline).await
            }
        };
        if let Err(e) = &result {
            tracing::error!(%request_id, error = %e, retryable = e.is_retryable(), "invocation failed");
        }
        result.map_err(lambda_runtime::Error::from)
    })
}
