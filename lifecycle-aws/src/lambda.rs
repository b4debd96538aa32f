//! The Lambda: configuration from the environment, JSON logs, and the handler loop.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use lambda_runtime::{LambdaEvent, service_fn};
use lifecycle_core::LifecycleModel;
use serde_json::Value;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::runtime::{HandleError, Runtime};

/// The Lambda's configuration, from environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaConfig {
    /// `LIFECYCLE_TABLE`: the node table (required).
    pub table: String,
    /// `LIFECYCLE_COMMAND_GRACE_SECONDS`: see [`Runtime::with_command_grace`] (default 120).
    pub command_grace: Duration,
    /// `LIFECYCLE_LOG`: a tracing filter, e.g. `info` or `lifecycle_core=debug,info`
    /// (default `info`).
    pub log: String,
    /// `LIFECYCLE_WAIT_DEADLINE_SECONDS`: see [`Runtime::with_wait_deadline`] (default 3600).
    pub wait_deadline: Duration,
    /// `LIFECYCLE_CLAIM_LEASE_SECONDS`: see [`Runtime::with_claim_lease`] (default 60; set it
    /// to the function's timeout). Each invocation's claims also end at its deadline.
    pub claim_lease: Duration,
    /// `LIFECYCLE_HEARTBEAT_SECONDS`: see [`Runtime::with_heartbeat_interval`] (default 240).
    pub heartbeat_interval: Duration,
    /// `LIFECYCLE_SWEEP_BUDGET_SECONDS`: see [`Runtime::with_sweep_budget`] (default 20).
    pub sweep_budget: Duration,
    /// `LIFECYCLE_RETENTION_SECONDS`: see [`Runtime::with_retention`] (default 259200, 3 days).
    pub retention: Duration,
    /// `LIFECYCLE_SWEEP_RULE`: see [`Runtime::with_sweep_rule`] (default `lifecycle-sweep`).
    pub sweep_rule: String,
}

/// A configuration variable is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}: {problem}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl LambdaConfig {
    /// Reads the process environment. The region and credentials come from the standard AWS
    /// variables (`AWS_REGION`, ...), an endpoint override from `AWS_ENDPOINT_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads variables through `var`.
    ///
    /// ```
    /// use lifecycle_aws::lambda::LambdaConfig;
    /// let config = LambdaConfig::from_vars(|name| (name == "LIFECYCLE_TABLE").then(|| "nodes".to_owned())).unwrap();
    /// assert_eq!(config.table, "nodes");
    /// assert_eq!(config.command_grace.as_secs(), 120);
    /// assert_eq!(config.wait_deadline.as_secs(), 3600);
    /// assert_eq!(config.heartbeat_interval.as_secs(), 240);
    /// assert_eq!(config.retention.as_secs(), 3 * 24 * 3600);
    /// assert_eq!(config.sweep_rule, "lifecycle-sweep");
    /// assert!(LambdaConfig::from_vars(|_| None).is_err());
    /// ```
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table = var("LIFECYCLE_TABLE")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ConfigError {
                name: "LIFECYCLE_TABLE",
                problem: "not set: name the node table".into(),
            })?;
        let seconds = |name: &'static str, default: u64| match var(name) {
            None => Ok(Duration::from_secs(default)),
            Some(s) => s.parse().map(Duration::from_secs).map_err(|_| ConfigError {
                name,
                problem: format!("`{s}` is not a whole number of seconds"),
            }),
        };
        let command_grace = seconds("LIFECYCLE_COMMAND_GRACE_SECONDS", 120)?;
        let wait_deadline = seconds("LIFECYCLE_WAIT_DEADLINE_SECONDS", 3600)?;
        let claim_lease = seconds("LIFECYCLE_CLAIM_LEASE_SECONDS", 60)?;
        let heartbeat_interval = seconds("LIFECYCLE_HEARTBEAT_SECONDS", 240)?;
        let sweep_budget = seconds("LIFECYCLE_SWEEP_BUDGET_SECONDS", 20)?;
        let retention = seconds("LIFECYCLE_RETENTION_SECONDS", 3 * 24 * 3600)?;
        let sweep_rule = var("LIFECYCLE_SWEEP_RULE")
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "lifecycle-sweep".into());
        let log = var("LIFECYCLE_LOG").unwrap_or_else(|| "info".into());
        EnvFilter::try_new(&log).map_err(|e| ConfigError {
            name: "LIFECYCLE_LOG",
            problem: format!("`{log}`: {e}"),
        })?;
        Ok(LambdaConfig {
            table,
            command_grace,
            log,
            wait_deadline,
            claim_lease,
            heartbeat_interval,
            sweep_budget,
            retention,
            sweep_rule,
        })
    }
}

/// The JSON log subscriber the Lambda uses, writing to `writer`: one JSON object per line, with
/// the fields of the current span (event id, instance id) on every line.
pub fn json_subscriber<W>(filter: &str, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::new(filter))
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(writer)
        .finish()
}

/// Runs the Lambda for the model `new_model` builds: reads [`LambdaConfig`] from the
/// environment, sets up JSON logs, builds the AWS clients once per container, and handles
/// invocations until the runtime stops it.
///
/// Started as `bootstrap --invoke EVENT.json` it handles that one event instead, prints the
/// answer as the last line of its output and exits (non-zero if handling failed): a local
/// invocation with no Lambda Runtime API, used to measure a cold start.
///
/// ```no_run
/// # use lifecycle_core::{lifecycle_model, Context};
/// # pub struct Node;
/// # #[lifecycle_model(states(Start, Done), initial = Start, terminal(Done), error = std::fmt::Error)]
/// # impl Node {
/// #     #[transition(from = Start, to = Done, ignore_errors)]
/// #     async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> { Ok(()) }
/// # }
/// #[tokio::main]
/// async fn main() -> Result<(), lambda_runtime::Error> {
///     lifecycle_aws::run(|| Node).await
/// }
/// ```
pub async fn run<M, F>(new_model: F) -> Result<(), lambda_runtime::Error>
where
    M: LifecycleModel + 'static,
    F: Fn() -> M + Send + Sync + 'static,
{
    let config = LambdaConfig::from_env()?;
    tracing::subscriber::set_global_default(json_subscriber(&config.log, std::io::stdout))?;
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let runtime = Arc::new(
        Runtime::new(&sdk, config.table, new_model)
            .with_command_grace(config.command_grace)
            .with_wait_deadline(config.wait_deadline)
            .with_claim_lease(config.claim_lease)
            .with_heartbeat_interval(config.heartbeat_interval)
            .with_sweep_budget(config.sweep_budget)
            .with_retention(config.retention)
            .with_sweep_rule(config.sweep_rule),
    );
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let [flag, path] = args.as_slice()
        && flag == "--invoke"
    {
        let payload: Value = serde_json::from_slice(&std::fs::read(path)?)?;
        let handling: Pin<Box<dyn Future<Output = Result<Value, HandleError>> + Send + '_>> =
            Box::pin(runtime.handle(&payload));
        match handling.await {
            Ok(answer) => {
                println!("{answer}");
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
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let runtime = runtime.clone();
        async move {
            let request_id = event.context.request_id.clone();
            let deadline =
                std::time::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
            // A trait object here keeps the handler's future type shallow: nested concretely
            // inside lambda_runtime's service, it overflows rustc's query depth in the user's
            // `main`.
            let handling: Pin<Box<dyn Future<Output = Result<Value, HandleError>> + Send + '_>> =
                Box::pin(runtime.handle_before(&event.payload, deadline));
            let result = handling.await;
            if let Err(e) = &result {
                tracing::error!(%request_id, error = %e, retryable = e.is_retryable(), "invocation failed");
            }
            result.map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
