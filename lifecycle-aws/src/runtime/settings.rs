//! Building a runtime: its parts, and its [`Settings`] — the one place their defaults are
//! written.

use super::*;

/// What a runtime is configured with. [`Settings::default`] is the one source of the defaults:
/// the runtime starts with them, the Lambda's configuration ([`LambdaConfig`]) reads each from
/// its environment variable or keeps it, and each `Runtime::with_…` setter changes one.
///
/// | setting | default | variable |
/// |---|---|---|
/// | `command_grace` | 120 s | `LIFECYCLE_COMMAND_GRACE_SECONDS` |
/// | `wait_deadline` | 1 h | `LIFECYCLE_WAIT_DEADLINE_SECONDS` |
/// | `claim_lease` | 60 s | `LIFECYCLE_CLAIM_LEASE_SECONDS` |
/// | `heartbeat_interval` | 240 s | `LIFECYCLE_HEARTBEAT_SECONDS` |
/// | `sweep_budget` | 20 s | `LIFECYCLE_SWEEP_BUDGET_SECONDS` |
/// | `retention` | 3 days | `LIFECYCLE_RETENTION_SECONDS` |
/// | `sweep_rule` | `lifecycle-sweep` | `LIFECYCLE_SWEEP_RULE` |
/// | `groups` | none | `LIFECYCLE_GROUPS` |
/// | `alive_check` | 1 h | `LIFECYCLE_ALIVE_CHECK_SECONDS` |
/// | `name_prefix` | none | `LIFECYCLE_NAME_PREFIX` |
///
/// ```
/// use std::time::Duration;
/// use lifecycle_aws::runtime::Settings;
/// # let (runtime, _, _) = lifecycle_aws::testing::example_runtime();
/// let settings = Settings { wait_deadline: Duration::from_secs(1800), ..Settings::default() };
/// let runtime = runtime.with_settings(settings);
/// assert_eq!(runtime.settings().wait_deadline, Duration::from_secs(1800));
/// assert_eq!(runtime.settings().heartbeat_interval, Settings::default().heartbeat_interval);
/// ```
///
/// [`LambdaConfig`]: crate::lambda::LambdaConfig
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long after it was requested a command's `InProgress` status still needs no
    /// heartbeat ([`Runtime::with_command_grace`]).
    pub command_grace: Duration,
    /// How long a lifecycle may wait for a command's result ([`Runtime::with_wait_deadline`]).
    pub wait_deadline: Duration,
    /// How long a claim holds at most ([`Runtime::with_claim_lease`]).
    pub claim_lease: Duration,
    /// How often the sweep keeps a waiting lifecycle's hook alive
    /// ([`Runtime::with_heartbeat_interval`]).
    pub heartbeat_interval: Duration,
    /// How long one sweep may work ([`Runtime::with_sweep_budget`]).
    pub sweep_budget: Duration,
    /// How long a terminated instance's record is kept ([`Runtime::with_retention`]).
    pub retention: Duration,
    /// The scheduled rule that runs the sweep ([`Runtime::with_sweep_rule`]).
    pub sweep_rule: String,
    /// The Auto Scaling groups the sweep reconciles ([`Runtime::with_groups`]).
    pub groups: Vec<String>,
    /// How often a record at rest gets its instance checked ([`Runtime::with_alive_check`]).
    pub alive_check: Duration,
    /// What the deployment puts before its rules' and documents' names
    /// ([`Runtime::with_name_prefix`]).
    pub name_prefix: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            command_grace: Duration::from_secs(120),
            wait_deadline: Duration::from_secs(3600),
            claim_lease: Duration::from_secs(60),
            heartbeat_interval: Duration::from_secs(240),
            sweep_budget: Duration::from_secs(20),
            retention: Duration::from_secs(3 * 24 * 3600),
            sweep_rule: "lifecycle-sweep".to_owned(),
            groups: Vec::new(),
            alive_check: Duration::from_secs(3600),
            name_prefix: String::new(),
        }
    }
}

impl<M, F> Runtime<M, F>
where
    M: LifecycleModel,
    F: Fn() -> M + Send + Sync,
{
    /// A runtime on the DynamoDB table `table`, with SSM and Auto Scaling clients built from
    /// `config`; each event gets a fresh model from `new_model`.
    ///
    /// ```
    /// use lifecycle_aws::runtime::Runtime;
    /// use lifecycle_core::testing::example::Node;
    /// # let config = lifecycle_aws::testing::example_sdk_config();
    /// // A runtime for the deployed table `lifecycle-nodes`; no request is made until an event comes.
    /// let deployed = Runtime::new(&config, "lifecycle-nodes", || Node);
    /// assert_eq!(deployed.store().table(), "lifecycle-nodes");
    /// ```
    pub fn new(config: &SdkConfig, table: impl Into<String>, new_model: F) -> Self {
        // One Auto Scaling client for its actions and its view.
        let auto_scaling = Arc::new(AutoScalingActions::new(config));
        Runtime::with_parts(
            DynamoStore::new(aws_sdk_dynamodb::Client::new(config), table),
            Arc::new(SsmCommands(aws_sdk_ssm::Client::new(config))),
            auto_scaling.clone(),
            new_model,
        )
        .with_fleet(auto_scaling)
        .with_ec2_instances(config)
    }

    /// EC2 for the facts of instances reporting their cloud-init progress (feature `ec2`).
    #[cfg(feature = "ec2")]
    fn with_ec2_instances(self, config: &SdkConfig) -> Self {
        self.with_instances(Arc::new(crate::instances::Ec2Directory(
            aws_sdk_ec2::Client::new(config),
        )))
    }

    /// Without the `ec2` feature no EC2 client is built: an instance's cloud-init tag event
    /// finds no facts and writes nothing (give one with [`Runtime::with_instances`]).
    #[cfg(not(feature = "ec2"))]
    fn with_ec2_instances(self, _config: &SdkConfig) -> Self {
        self
    }
}

impl<M, F, T> Runtime<M, F, T>
where
    M: LifecycleModel,
    F: Fn() -> M + Send + Sync,
    T: NodeTable,
{
    /// A runtime on any node table, command sender and Auto Scaling: what local runs and
    /// simulations use, with the same code path as the Lambda.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::runtime::Runtime;
    /// use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
    /// use lifecycle_core::testing::example::Node;
    /// let runtime = Runtime::with_parts(MemoryTable::new(), Arc::new(MemoryCommands::new()),
    ///     Arc::new(MemoryActions::new()), || Node);
    /// assert!(runtime.store().records().snapshot().is_empty());
    /// ```
    pub fn with_parts(
        table: T,
        commands: Arc<dyn CommandSender>,
        actions: Arc<dyn LifecycleActions>,
        new_model: F,
    ) -> Self {
        Runtime {
            store: table,
            commands,
            actions,
            // Local runs know no instances until told (`with_instances`).
            instances: Arc::new(MemoryInstances::default()),
            new_model,
            settings: Settings::default(),
            clock: Arc::new(SystemClock),
            // Local runs have no Auto Scaling to ask (`with_fleet`).
            fleet: None,
            // Local runs write no metric lines (`with_metrics`).
            metrics: crate::metrics::Metrics::default(),
            hooks: deadline::HookCache::default(),
            _model: std::marker::PhantomData,
        }
    }

    /// Where instances reporting their cloud-init progress are looked up: EC2 (what
    /// [`Runtime::new`] sets), or [`MemoryInstances`] for local runs and tests.
    pub fn with_instances(mut self, instances: Arc<dyn InstanceDirectory>) -> Self {
        self.instances = instances;
        self
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long a lifecycle may wait for a command's result. Until then the sweep and the
    /// command's progress events send heartbeats; after it, the command counts as `TimedOut`:
    /// the model handles that like any failed command (a launch ends ABANDON through the
    /// failure path, a termination CONTINUE). Default: [`Settings`].
    pub fn with_wait_deadline(mut self, deadline: Duration) -> Self {
        self.settings.wait_deadline = deadline;
        self
    }

    /// How long a claim holds at most (default: [`Settings`]): a delivery that dies holding one keeps
    /// the record from every other delivery until then. Within an invocation handled with
    /// [`Runtime::handle_before`], a claim never outlasts the invocation's deadline.
    pub fn with_claim_lease(mut self, lease: Duration) -> Self {
        self.settings.claim_lease = lease;
        self
    }

    /// How often the sweep sends a heartbeat for a lifecycle that waits (a command's result, a
    /// parked launch), below every hook's heartbeat timeout the template sets (default:
    /// [`Settings`]).
    /// The sweep runs every 5 minutes; a wait is looked at on the first run after it is due.
    pub fn with_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.settings.heartbeat_interval = interval;
        self
    }

    /// How long one sweep may work (within the function's timeout; default: [`Settings`]): it
    /// stops there and leaves the rest, still due, to the next run. It always handles at least
    /// one wait.
    pub fn with_sweep_budget(mut self, budget: Duration) -> Self {
        self.settings.sweep_budget = budget;
        self
    }

    /// How long a finished lifecycle's record is kept (default: [`Settings`]): when its termination
    /// is completed at a terminal state, the record gets `ExpiresAt` and DynamoDB's TTL
    /// removes it then.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.settings.retention = retention;
        self
    }

    /// The scheduled rule whose events run the sweep ([`Runtime::sweep`]; default: [`Settings`]).
    /// It must name no state of the model.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// let runtime = runtime.with_sweep_rule("nodes-sweep");
    /// lifecycle_aws::testing::block_on(async {
    ///     let swept = runtime.handle(&lifecycle_aws::testing::scheduled_event("nodes-sweep")).await.unwrap();
    ///     assert_eq!(swept["outcomes"][0]["outcome"], "swept");
    /// });
    /// ```
    pub fn with_sweep_rule(mut self, rule: impl Into<String>) -> Self {
        self.settings.sweep_rule = rule.into();
        self
    }

    /// The prefix the deployment puts before the names of its scheduled rules and SSM
    /// documents, so that two stacks can share a region (the template uses
    /// `<stack name>-`). The model keeps the names it was written with: a rule
    /// `prod-backup` starts the state `backup`, `prod-lifecycle-sweep` is the sweep rule
    /// `lifecycle-sweep`, and `ClusterJoin` is sent as `prod-ClusterJoin`. A rule without
    /// the prefix is another stack's: [`HandleError::UnknownSchedule`]. Default: [`Settings`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::runtime::Runtime;
    /// use lifecycle_aws::testing::{lifecycle_action_event, scheduled_event, MemoryActions, MemoryCommands};
    /// use lifecycle_core::testing::example::Node;
    /// use lifecycle_core::{LifecycleTransition, Record};
    /// let (commands, table) = (Arc::new(MemoryCommands::new()), MemoryTable::new());
    /// table.records().insert(Record::new("i-1", "finished_cloud_init"));
    /// let runtime = Runtime::with_parts(table, commands.clone(), Arc::new(MemoryActions::new()), || Node)
    ///     .with_name_prefix("prod-");
    /// lifecycle_aws::testing::block_on(async {
    ///     runtime.handle(&lifecycle_action_event("i-1", "workers", LifecycleTransition::Launching)).await.unwrap();
    ///     let swept = runtime.handle(&scheduled_event("prod-lifecycle-sweep")).await.unwrap();
    ///     assert_eq!(swept["outcomes"][0]["outcome"], "swept");
    ///     // Another stack's sweep is refused.
    ///     assert!(runtime.handle(&scheduled_event("lifecycle-sweep")).await.is_err());
    /// });
    /// assert_eq!(commands.sent()[0].1.document_name, "prod-ClusterJoin");
    /// ```
    pub fn with_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.name_prefix = prefix.into();
        self
    }

    /// Replaces the SSM calls ([`Runtime::new`] sets the SSM API): another way of running
    /// commands, or a test's SSM.
    pub fn with_commands(mut self, commands: Arc<dyn CommandSender>) -> Self {
        self.commands = commands;
        self
    }

    /// Replaces the Auto Scaling calls (tests; other schedulers).
    ///
    /// ```
    /// # let (runtime, commands, first) = lifecycle_aws::testing::example_runtime();
    /// use std::sync::Arc;
    /// use lifecycle_aws::testing::{command_status_event, lifecycle_action_event, MemoryActions};
    /// let other = Arc::new(MemoryActions::new());
    /// let runtime = runtime.with_actions(other.clone());
    /// lifecycle_aws::testing::block_on(async {
    ///     runtime.handle(&lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching)).await.unwrap();
    ///     let (id, _) = commands.sent().remove(0);
    ///     runtime.handle(&command_status_event(&id, "i-0abc123def4567890", "ClusterJoin", "Success")).await.unwrap();
    /// });
    /// assert_eq!((other.completions().len(), first.completions().len()), (1, 0));
    /// ```
    pub fn with_actions(mut self, actions: Arc<dyn LifecycleActions>) -> Self {
        self.actions = actions;
        self
    }

    /// How long after it was requested an unknown command's result is taken for one whose
    /// registration is still on its way (retried) rather than one that is not ours (ignored).
    /// The gap between `SendCommand` and the registration is milliseconds. Default:
    /// [`Settings`].
    pub fn with_command_grace(mut self, grace: Duration) -> Self {
        self.settings.command_grace = grace;
        self
    }

    /// Where Auto Scaling's own view comes from ([`Runtime::new`] sets the Auto Scaling API).
    /// With it, a lifecycle event is acted on only if Auto Scaling holds its action (one
    /// `DescribeAutoScalingInstances` before anything is written; otherwise
    /// [`Outcome::Refused`]), an event without a token is refused as bad input
    /// ([`HandleError::NoActionToken`]), and the sweep reconciles the groups of
    /// [`Runtime::with_groups`]. Without it (local runs), every event is taken as it comes.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::runtime::Runtime;
    /// use lifecycle_aws::testing::{MemoryAutoScaling, MemoryCommands, lifecycle_action_event};
    /// use lifecycle_core::testing::example::Node;
    /// use lifecycle_core::{LifecycleTransition, Record};
    /// let aws = Arc::new(MemoryAutoScaling::new().with_group("workers"));
    /// let table = MemoryTable::new();
    /// table.records().insert(Record::new("i-1", "finished_cloud_init"));
    /// let runtime = Runtime::with_parts(table, Arc::new(MemoryCommands::new()), aws.clone(), || Node)
    ///     .with_fleet(aws.clone());
    /// aws.set_instance("i-1", "workers", "InService");
    /// // A launch event for an instance in service: Auto Scaling holds no such action.
    /// let forged = lifecycle_action_event("i-1", "workers", LifecycleTransition::Launching);
    /// lifecycle_aws::testing::block_on(async {
    ///     let answer = runtime.handle(&forged).await.unwrap();
    ///     assert_eq!(answer["outcomes"][0]["outcome"], "refused");
    /// });
    /// assert_eq!(runtime.store().records().get("i-1").unwrap().state, "finished_cloud_init", "nothing written");
    /// ```
    pub fn with_fleet(mut self, fleet: Arc<dyn Fleet>) -> Self {
        self.fleet = Some(fleet);
        self
    }

    /// The Auto Scaling groups the sweep reconciles: each of their instances that waits in a
    /// lifecycle hook with no lifecycle handling it (its event lost) gets that lifecycle
    /// started, as if its event had come. Needs [`Runtime::with_fleet`]. Default: [`Settings`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::runtime::{Outcome, Runtime};
    /// use lifecycle_aws::testing::{MemoryAutoScaling, MemoryCommands};
    /// use lifecycle_core::testing::example::Node;
    /// use lifecycle_core::Record;
    /// let aws = Arc::new(MemoryAutoScaling::new().with_group("workers"));
    /// let table = MemoryTable::new();
    /// table.records().insert(Record::new("i-1", "finished_cloud_init"));
    /// let runtime = Runtime::with_parts(table, Arc::new(MemoryCommands::new()), aws.clone(), || Node)
    ///     .with_fleet(aws.clone())
    ///     .with_groups(["workers"]);
    /// let _lost = aws.launch("i-1", "workers"); // its event never arrives
    /// lifecycle_aws::testing::block_on(async {
    ///     let Outcome::Swept { reconciled, .. } = runtime.sweep().await.unwrap() else { panic!() };
    ///     assert_eq!(reconciled, ["i-1"]);
    /// });
    /// // Its lifecycle runs as if the event had come: the node joins.
    /// assert_eq!(runtime.store().records().get("i-1").unwrap().state, "joining_cluster");
    /// ```
    pub fn with_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Where CloudWatch metrics go, as Embedded Metric Format log lines
    /// ([`crate::metrics`]; the Lambda: standard output). Default: nowhere.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::metrics::Metrics;
    /// use lifecycle_aws::runtime::Runtime;
    /// use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
    /// use lifecycle_core::testing::example::Node;
    /// let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    /// let kept = lines.clone();
    /// let table = MemoryTable::new();
    /// table.records().insert(lifecycle_core::Record::new("i-1", "finished_cloud_init"));
    /// let runtime = Runtime::with_parts(table, Arc::new(MemoryCommands::new()), Arc::new(MemoryActions::new()), || Node)
    ///     .with_metrics(Metrics::to(Arc::new(move |line: &str| kept.lock().unwrap().push(line.to_owned()))));
    /// let sweep = lifecycle_aws::testing::scheduled_event("lifecycle-sweep");
    /// tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    ///     .block_on(runtime.handle(&sweep)).unwrap();
    /// assert!(lines.lock().unwrap()[0].contains("\"SweepDuration\""));
    /// ```
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// How often the sweep checks that the instance of a record at rest still exists, when it
    /// reconciles ([`Runtime::with_groups`]): a record whose instance Auto Scaling no longer
    /// knows (terminated outside its group, its state-change event lost) gets an
    /// `instance_state = "terminated"` event, so the model ends it. Default: [`Settings`].
    pub fn with_alive_check(mut self, interval: Duration) -> Self {
        self.settings.alive_check = interval;
        self
    }

    /// Every setting at once (what [`LambdaConfig`](crate::lambda::LambdaConfig) gives the
    /// Lambda's runtime); see [`Settings`] for an example.
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The settings this runtime works with.
    ///
    /// ```
    /// # let (runtime, _, _) = lifecycle_aws::testing::example_runtime();
    /// assert_eq!(runtime.settings(), &lifecycle_aws::runtime::Settings::default());
    /// ```
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The node table.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// assert_eq!(runtime.store().records().get("i-0abc123def4567890").unwrap().state, "finished_cloud_init");
    /// ```
    pub fn store(&self) -> &T {
        &self.store
    }
}
