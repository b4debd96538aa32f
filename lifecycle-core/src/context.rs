//! What a task sees and what it can ask for: the event, the node's record, and side effects
//! such as SSM commands.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::event::{Event, LifecycleAction};
use crate::store::{AttributeUpdate, CasOutcome, Record, attr};

/// An SSM command a task wants to run on instances.
///
/// Values that come from events (notification metadata, tags, ...) belong in `parameters`,
/// which the document receives as parameters; they are never spliced into a shell string.
///
/// ```
/// use lifecycle_core::CommandRequest;
/// let request = CommandRequest::new("AWS-RunShellScript", ["i-1"])
///     .parameter("commands", ["/usr/local/bin/join-cluster"])
///     .comment("join cluster");
/// assert_eq!(request.parameters["commands"], vec!["/usr/local/bin/join-cluster".to_string()]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommandRequest {
    /// The SSM document, e.g. `AWS-RunShellScript`.
    pub document_name: String,
    /// The instances to run it on.
    pub instance_ids: Vec<String>,
    /// Document parameters.
    pub parameters: BTreeMap<String, Vec<String>>,
    /// A comment shown in the SSM console.
    pub comment: Option<String>,
}

impl CommandRequest {
    /// A request to run `document_name` on `instance_ids`, with no parameters.
    ///
    /// ```
    /// use lifecycle_core::CommandRequest;
    /// let request = CommandRequest::new("AWS-RunShellScript", ["i-1", "i-2"]);
    /// assert_eq!(request.instance_ids, ["i-1", "i-2"]);
    /// assert!(request.parameters.is_empty() && request.comment.is_none());
    /// ```
    pub fn new<I, S>(document_name: impl Into<String>, instance_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CommandRequest {
            document_name: document_name.into(),
            instance_ids: instance_ids.into_iter().map(Into::into).collect(),
            parameters: BTreeMap::new(),
            comment: None,
        }
    }

    /// Sets parameter `name` to `values`.
    ///
    /// ```
    /// use lifecycle_core::CommandRequest;
    /// let request = CommandRequest::new("ClusterJoin", ["i-1"]).parameter("Role", ["worker"]);
    /// assert_eq!(request.parameters["Role"], ["worker"]);
    /// ```
    pub fn parameter<I, S>(mut self, name: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.parameters
            .insert(name.into(), values.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the comment.
    ///
    /// ```
    /// use lifecycle_core::CommandRequest;
    /// let request = CommandRequest::new("ClusterLeave", ["i-1"]).comment("drain before termination");
    /// assert_eq!(request.comment.as_deref(), Some("drain before termination"));
    /// ```
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }
}

/// A side effect could not be carried out.
///
/// ```
/// use lifecycle_core::EffectError;
/// let err = EffectError::new("send_command", "throttled");
/// assert_eq!(err.to_string(), "send_command failed: throttled");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct EffectError {
    /// What was attempted.
    pub operation: &'static str,
    /// Why it failed.
    pub message: String,
    /// Whether trying again later may succeed (throttling, a timeout, a 5xx). A task that fails
    /// on such an error before its state change is stored makes the dispatcher stop with
    /// [`DispatchError::Transient`](crate::DispatchError::Transient) instead of entering the
    /// failure state: the event is redelivered and the task runs again.
    pub transient: bool,
}

impl EffectError {
    /// A lasting error for `operation`: trying again would fail the same way.
    ///
    /// ```
    /// use lifecycle_core::EffectError;
    /// let err = EffectError::new("send_command", "InvalidDocument: ClusterJoin");
    /// assert!(!err.transient);
    /// ```
    pub fn new(operation: &'static str, message: impl Into<String>) -> Self {
        EffectError {
            operation,
            message: message.into(),
            transient: false,
        }
    }

    /// A transient error for `operation` (throttling, a timeout, a 5xx).
    ///
    /// ```
    /// use lifecycle_core::EffectError;
    /// assert!(EffectError::transient("send_command", "ThrottlingException").transient);
    /// assert!(!EffectError::new("send_command", "InvalidDocument").transient);
    /// ```
    pub fn transient(operation: &'static str, message: impl Into<String>) -> Self {
        EffectError {
            transient: true,
            ..EffectError::new(operation, message)
        }
    }
}

/// The claim a delivery asks for before a task's first side effect (see [`Effects::claim`]).
///
/// ```
/// use lifecycle_core::ClaimRequest;
/// // What the dispatcher asks an `Effects` implementation before a task's first command: move
/// // record `i-1` from version 4 (state `joining`) to 5, holding it for this delivery.
/// let request = ClaimRequest { ident: "i-1", state: "joining", version: 4, holder: "d1", token: "d1.5" };
/// assert_eq!(request.version + 1, 5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimRequest<'a> {
    /// The record's `Ident`.
    pub ident: &'a str,
    /// The state the record must still be in.
    pub state: &'a str,
    /// The version the record must still have; the claim writes `version + 1`.
    pub version: u64,
    /// Who claims: this delivery's id ([`Context::delivery_id`]).
    pub holder: &'a str,
    /// The claim write's own token (a lost answer sent again finds it, as for a state change).
    pub token: &'a str,
}

/// How a claim went.
///
/// ```
/// use lifecycle_core::ClaimOutcome;
/// fn may_send(outcome: &ClaimOutcome) -> bool {
///     matches!(outcome, ClaimOutcome::NotNeeded | ClaimOutcome::Claimed { .. })
/// }
/// assert!(may_send(&ClaimOutcome::Claimed { version: 5 }));
/// assert!(!may_send(&ClaimOutcome::Busy { until: 1_764_000_000 }));
/// assert!(!may_send(&ClaimOutcome::Lost));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// These effects need no claim (one process, as in local runs): go ahead.
    NotNeeded,
    /// The record is this delivery's until its next state change; the claim wrote `version`.
    Claimed {
        /// The record's version after the claim.
        version: u64,
    },
    /// Another delivery holds the claim until `until` (epoch seconds): try again later.
    Busy {
        /// When its claim runs out.
        until: u64,
    },
    /// The record moved on since it was loaded: another delivery won the race.
    Lost,
}

/// Names a command by the claim it was sent under, so a delivery that takes over an abandoned
/// claim can find what the earlier holder sent instead of sending it again.
///
/// ```
/// use lifecycle_core::CommandKey;
/// // The second command sent under claim `d2`, which took over `d1`'s: look for `d1.1` first.
/// let key = CommandKey { marker: "d2.1".into(), previous: Some("d1.1".into()) };
/// assert_eq!(key.previous.as_deref(), Some("d1.1"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandKey {
    /// This command's marker: the claim holder and the command's place among the commands
    /// sent under that claim (`HOLDER.N`).
    pub marker: String,
    /// The marker the same command had under the claim this delivery took over, if it took
    /// one over: look for a command sent under it before sending.
    pub previous: Option<String>,
}

/// Side effects tasks request through the [`Context`]. `lifecycle-aws` implements them with
/// SSM and Auto Scaling; [`LocalEffects`] records them for local runs and tests.
///
/// ```
/// use lifecycle_core::{CommandKey, CommandRequest, Effects, EffectError, Event, LifecycleAction, Record};
///
/// /// Effects for a dry run: every command is refused, heartbeats are accepted.
/// struct DryRun;
///
/// #[async_trait::async_trait]
/// impl Effects for DryRun {
///     async fn send_command(&self, _: &Event, _: &Record, request: CommandRequest, _: &CommandKey)
///         -> Result<String, EffectError> {
///         Err(EffectError::new("send_command", format!("dry run: {} not sent", request.document_name)))
///     }
///
///     async fn record_heartbeat(&self, _: &LifecycleAction) -> Result<(), EffectError> {
///         Ok(())
///     }
/// }
///
/// lifecycle_core::testing::block_on(async {
///     let event = Event::scheduled("e-1", "backup");
///     let key = CommandKey { marker: "d.0".into(), previous: None };
///     let sent = DryRun.send_command(&event, &Record::new("backup", "backup"),
///         CommandRequest::new("LifecycleBackup", ["i-1"]), &key).await;
///     assert_eq!(sent.unwrap_err().to_string(), "send_command failed: dry run: LifecycleBackup not sent");
/// });
/// ```
#[async_trait::async_trait]
pub trait Effects: Send + Sync {
    /// Claims the record before the first side effect of a transition, so that of racing
    /// deliveries only one runs a side-effecting task: a conditional write of the claim
    /// (holder, lease) that also moves the record's version, so every other delivery's write
    /// fails. The next state change releases it. The default needs none ([`ClaimOutcome::NotNeeded`]).
    ///
    /// ```
    /// use lifecycle_core::{ClaimOutcome, ClaimRequest, Effects, LocalEffects};
    /// lifecycle_core::testing::block_on(async {
    ///     // Local effects need no claim: one process runs everything.
    ///     let request = ClaimRequest { ident: "i-1", state: "joining", version: 1, holder: "d1", token: "d1.2" };
    ///     assert_eq!(LocalEffects::new().claim(request).await.unwrap(), ClaimOutcome::NotNeeded);
    /// });
    /// ```
    async fn claim(&self, request: ClaimRequest<'_>) -> Result<ClaimOutcome, EffectError> {
        let _ = request;
        Ok(ClaimOutcome::NotNeeded)
    }

    /// Sends a command and registers it, so that its completion event resumes the lifecycle
    /// `event` belongs to. Returns the command id. With `key.previous`, a command sent under
    /// that marker is this one, sent by a delivery that did not finish: adopt it rather than
    /// send another.
    ///
    /// ```
    /// use lifecycle_core::{CommandKey, CommandRequest, Effects, LocalEffects, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = LocalEffects::new();
    ///     let event = lifecycle_core::testing::launching("i-1");
    ///     let key = CommandKey { marker: "d1.0".into(), previous: None };
    ///     let id = effects
    ///         .send_command(&event, &Record::new("i-1", "joining"), CommandRequest::new("ClusterJoin", ["i-1"]), &key)
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(effects.commands()[0].command_id, id);
    /// });
    /// ```
    async fn send_command(
        &self,
        event: &Event,
        record: &Record,
        request: CommandRequest,
        key: &CommandKey,
    ) -> Result<String, EffectError>;

    /// Keeps `action` alive for another heartbeat timeout.
    ///
    /// ```
    /// use lifecycle_core::{Effects, LifecycleTransition, LocalEffects};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = LocalEffects::new();
    ///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
    ///     effects.record_heartbeat(&action).await.unwrap();
    ///     assert_eq!(effects.heartbeats(), [action]);
    /// });
    /// ```
    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), EffectError>;

    /// A state change was stored; `commands`, sent before it, are now part of the lifecycle
    /// (the others sent so far are not, and are withdrawn when the event is done).
    ///
    /// ```
    /// use lifecycle_core::{Effects, LocalEffects};
    /// // Local effects keep nothing beyond what they recorded: a stored state change is no news.
    /// LocalEffects::new().stored(&["local-command-1".to_string()]);
    /// ```
    fn stored(&self, commands: &[String]) {
        let _ = commands;
    }

    /// The time of this delivery (epoch seconds), noted in the record's history with each
    /// state change; `None` (the default) if these effects keep no clock.
    ///
    /// ```
    /// use lifecycle_core::{Effects, LocalEffects};
    /// assert_eq!(LocalEffects::new().now(), None);
    /// ```
    fn now(&self) -> Option<u64> {
        None
    }
}

/// The store's other records, as tasks reach them through [`Context::load_record`] and
/// [`Context::update_record`]. Every [`Store`](crate::Store) is one; the dispatcher gives its
/// store to the context, so a model does not carry a store handle of its own.
///
/// ```
/// use lifecycle_core::{MemoryStore, Record, Records};
/// lifecycle_core::testing::block_on(async {
///     let store = MemoryStore::new();
///     store.insert(Record::new("i-1", "ready"));
///     let records: &dyn Records = &store;
///     assert_eq!(records.load_record("i-1").await.unwrap().unwrap().state, "ready");
///     assert!(records.load_record("i-2").await.unwrap().is_none());
/// });
/// ```
#[async_trait::async_trait]
pub trait Records: Send + Sync {
    /// Loads a record; `None` if there is none.
    ///
    /// ```
    /// use lifecycle_core::{MemoryStore, Record, Records};
    /// lifecycle_core::testing::block_on(async {
    ///     let store = MemoryStore::new();
    ///     store.insert(Record::new("backup", "done"));
    ///     assert_eq!(store.load_record("backup").await.unwrap().unwrap().state, "done");
    /// });
    /// ```
    async fn load_record(&self, ident: &str) -> Result<Option<Record>, EffectError>;

    /// Applies `update` if the record is still where it was loaded.
    ///
    /// ```
    /// use lifecycle_core::{AttributeUpdate, CasOutcome, MemoryStore, Record, Records};
    /// lifecycle_core::testing::block_on(async {
    ///     let store = MemoryStore::new();
    ///     store.insert(Record::new("i-1", "ready"));
    ///     let set = [("LastBackup".to_string(), serde_json::json!("e-1"))];
    ///     let update = AttributeUpdate { ident: "i-1", state: "ready", version: 0, set: &set, token: "u.1" };
    ///     assert_eq!(Records::update_record(&store, update).await.unwrap(), CasOutcome::Applied { version: 1 });
    /// });
    /// ```
    async fn update_record(&self, update: AttributeUpdate<'_>) -> Result<CasOutcome, EffectError>;
}

#[async_trait::async_trait]
impl<St: crate::Store> Records for St {
    async fn load_record(&self, ident: &str) -> Result<Option<Record>, EffectError> {
        // A store error is I/O or throttling: the event is delivered again.
        self.load(ident)
            .await
            .map_err(|e| EffectError::transient("load_record", e.to_string()))
    }

    async fn update_record(&self, update: AttributeUpdate<'_>) -> Result<CasOutcome, EffectError> {
        self.update_attributes(update)
            .await
            .map_err(|e| EffectError::transient("update_record", e.to_string()))
    }
}

/// A command recorded by [`LocalEffects`].
///
/// ```
/// use lifecycle_core::{CommandRequest, Context, Event, LocalEffects, Record};
/// lifecycle_core::testing::block_on(async {
///     let effects = LocalEffects::new();
///     let event = lifecycle_core::testing::launching("i-1");
///     let mut record = Record::new("i-1", "finished_cloud_init");
///     let ctx = Context::new(&event, &mut record, &effects);
///     ctx.send_command(CommandRequest::new("ClusterJoin", ["i-1"])).await.unwrap();
///     let sent = &effects.commands()[0];
///     assert_eq!(sent.event_id, "launch-i-1");
///     assert_eq!(sent.lifecycle.as_ref().unwrap().ec2_instance_id, "i-1");
/// });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentCommand {
    /// The id returned to the task.
    pub command_id: String,
    /// The id of the event whose processing sent it.
    pub event_id: String,
    /// The lifecycle action it was sent for.
    pub lifecycle: Option<LifecycleAction>,
    /// What was asked.
    pub request: CommandRequest,
}

/// [`Effects`] that only record what was asked, for local runs and tests.
///
/// ```
/// use lifecycle_core::{CommandKey, CommandRequest, Effects, Event, LocalEffects, Record};
/// lifecycle_core::testing::block_on(async {
/// let effects = LocalEffects::new();
/// let event = Event::scheduled("e-1", "backup");
/// let key = CommandKey { marker: "d.0".into(), previous: None };
/// let id = effects
///     .send_command(&event, &Record::new("backup", "backup"), CommandRequest::new("AWS-RunShellScript", ["i-1"]), &key)
///     .await
///     .unwrap();
/// assert_eq!(effects.commands()[0].command_id, id);
/// });
/// ```
#[derive(Debug, Default)]
pub struct LocalEffects {
    commands: Mutex<Vec<SentCommand>>,
    heartbeats: Mutex<Vec<LifecycleAction>>,
}

impl LocalEffects {
    /// Nothing recorded yet.
    ///
    /// ```
    /// let effects = lifecycle_core::LocalEffects::new();
    /// assert!(effects.commands().is_empty() && effects.heartbeats().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The commands sent so far.
    ///
    /// ```
    /// use lifecycle_core::{CommandRequest, Context, LocalEffects, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = LocalEffects::new();
    ///     let event = lifecycle_core::testing::launching("i-1");
    ///     let mut record = Record::new("i-1", "finished_cloud_init");
    ///     let ctx = Context::new(&event, &mut record, &effects);
    ///     let id = ctx.send_command(CommandRequest::new("ClusterJoin", ["i-1"])).await.unwrap();
    ///     assert_eq!(effects.commands()[0].command_id, id);
    /// });
    /// ```
    pub fn commands(&self) -> Vec<SentCommand> {
        self.commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The heartbeats recorded so far.
    ///
    /// ```
    /// use lifecycle_core::{Context, LocalEffects, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = LocalEffects::new();
    ///     let event = lifecycle_core::testing::launching("i-1");
    ///     let mut record = Record::new("i-1", "joining");
    ///     Context::new(&event, &mut record, &effects).heartbeat().await.unwrap();
    ///     assert_eq!(effects.heartbeats()[0].ec2_instance_id, "i-1");
    /// });
    /// ```
    pub fn heartbeats(&self) -> Vec<LifecycleAction> {
        self.heartbeats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[async_trait::async_trait]
impl Effects for LocalEffects {
    async fn send_command(
        &self,
        event: &Event,
        _record: &Record,
        request: CommandRequest,
        _key: &CommandKey,
    ) -> Result<String, EffectError> {
        let mut commands = self.commands.lock().unwrap_or_else(|e| e.into_inner());
        let command_id = format!("local-command-{}", commands.len() + 1);
        commands.push(SentCommand {
            command_id: command_id.clone(),
            event_id: event.id.clone(),
            lifecycle: event.lifecycle.clone(),
            request,
        });
        Ok(command_id)
    }

    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), EffectError> {
        self.heartbeats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(action.clone());
        Ok(())
    }
}

/// What a task or guard is given: the event being processed, the node's record, and the
/// side effects it may request.
///
/// Attributes set with [`Context::set`] are visible at once and stored with the next state
/// change, in the same write.
///
/// ```
/// use lifecycle_core::{lifecycle_model, CommandRequest, Context};
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("{0}")]
/// pub struct JoinError(String);
///
/// pub struct Node;
///
/// #[lifecycle_model(states(FinishedCloudInit, Joining, Ready, Failed), initial = FinishedCloudInit,
///     terminal(Ready, Failed), failure = Failed, error = JoinError)]
/// impl Node {
///     /// A task reads the event and the record, sets attributes and sends commands.
///     #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
///     async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), JoinError> {
///         let instance = ctx.record().ident.clone();
///         let role = match ctx.lifecycle().and_then(|a| a.metadata_json()) {
///             Some(metadata) => metadata["type"].as_str().unwrap_or("worker").to_owned(),
///             None => "worker".to_owned(),
///         };
///         ctx.set("Role", role.clone());
///         ctx.send_command(CommandRequest::new("ClusterJoin", [instance]).parameter("Role", [role]))
///             .await
///             .map_err(|e| JoinError(e.to_string()))?;
///         Ok(())
///     }
///
///     #[transition(from = Joining, to = Ready, on(command))]
///     async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), JoinError> {
///         Ok(())
///     }
/// }
///
/// lifecycle_core::testing::block_on(async {
///     let mut harness = lifecycle_core::testing::Harness::new(Node)
///         .with_instance("i-1", NodeState::FinishedCloudInit);
///     harness.launch("i-1").await.unwrap();
///     assert_eq!(harness.record("i-1").unwrap().get_str("Role"), Some("worker"));
///     assert_eq!(harness.commands()[0].request.parameters["Role"], ["worker"]);
/// });
/// ```
pub struct Context<'a> {
    pub(crate) event: &'a Event,
    pub(crate) record: &'a mut Record,
    pub(crate) effects: &'a dyn Effects,
    /// The store's records, for tasks that work on other records than the event's.
    pub(crate) records: Option<&'a dyn Records>,
    pub(crate) staged: Vec<(String, Value)>,
    pub(crate) event_failed: bool,
    /// An `ignore_errors` trigger fired for a failed command result: the failure is handled,
    /// and the triggers after it no longer check the event's status.
    pub(crate) event_failure_handled: bool,
    /// The last transient effect error a task saw: if the task fails, the event is retried
    /// rather than failed. A mutex, not a cell: tasks hold `&Context` across awaits, and their
    /// futures must be `Send`.
    pub(crate) transient: std::sync::Mutex<Option<EffectError>>,
    /// Whether `transient` holds an error: the dispatcher checks after every task, and an
    /// atomic load is cheaper than a lock.
    pub(crate) has_transient: std::sync::atomic::AtomicBool,
    /// The lifecycle progress (waiting, result) this event last noted on the record: a later
    /// state change that would note the same writes nothing extra.
    pub(crate) progress_noted: Option<(bool, crate::LifecycleResult)>,
    /// This delivery's id: the claim holder, and the first half of every write token.
    pub(crate) delivery: String,
    /// The side effects of the transition being fired, until its state change is stored.
    pub(crate) step: std::sync::Mutex<StepEffects>,
    /// Whether `step` holds anything: most transitions have no side effect, and the
    /// dispatcher checks after each one; an atomic load is cheaper than a lock.
    pub(crate) step_used: std::sync::atomic::AtomicBool,
    /// The next write's token, built in place (a write per state change: no allocation each).
    pub(crate) token: String,
    /// Whether this delivery has noted a step in the record's history: its next steps share
    /// the first's time and event, and are stored without them.
    pub(crate) noted_step: bool,
}

/// What the transition being fired has claimed and sent.
#[derive(Debug, Default)]
pub(crate) struct StepEffects {
    /// A claim is held (or none is needed) for this transition.
    pub(crate) claimed: bool,
    /// The record's version after the claim write, to write the state change from.
    pub(crate) version: Option<u64>,
    /// The holder of the claim taken over, whose commands may be found and adopted.
    pub(crate) previous: Option<String>,
    /// Commands sent under the claim so far (their markers count from 0).
    pub(crate) sent: usize,
    /// Their ids.
    pub(crate) commands: Vec<String>,
    /// Why the claim was refused (busy or lost), for the dispatcher to stop.
    pub(crate) refused: Option<ClaimOutcome>,
}

/// A token no other delivery's write carries: the delivery and the version it writes.
pub(crate) fn write_token(delivery: &str, version: u64) -> String {
    let mut token = String::with_capacity(delivery.len() + 8);
    push_write_token(&mut token, delivery, version);
    token
}

/// [`write_token`] into `buffer`.
pub(crate) fn push_write_token(buffer: &mut String, delivery: &str, version: u64) {
    use std::fmt::Write;
    buffer.clear();
    buffer.push_str(delivery);
    let _ = write!(buffer, ".{version}");
}

/// The token of a write made outside the dispatcher on `record` (a [`StateChange`]'s or an
/// update's): a fresh delivery and the version the write makes. `None` for a record whose
/// version is past [`MAX_VERSION`](crate::MAX_VERSION): no write can follow it.
///
/// ```
/// use lifecycle_core::{Record, write_token_after};
/// let mut record = Record::new("i-1", "ready");
/// record.version = 4;
/// assert!(write_token_after(&record).unwrap().ends_with(".5"));
/// record.version = u64::MAX;
/// assert_eq!(write_token_after(&record), None);
/// ```
///
/// [`StateChange`]: crate::StateChange
pub fn write_token_after(record: &Record) -> Option<String> {
    let next = record
        .version
        .checked_add(1)
        .filter(|_| record.version <= crate::MAX_VERSION)?;
    Some(write_token(&delivery_id(), next))
}

/// A fresh id no other delivery has: 64 random bits (the standard library's per-process random
/// hash keys, mixed with a counter and the time), in hex. Every [`Context`] gets one; a write
/// made outside the dispatcher takes one for its [`StateChange::token`](crate::StateChange).
///
/// ```
/// let (a, b) = (lifecycle_core::delivery_id(), lifecycle_core::delivery_id());
/// assert_eq!(a.len(), 16);
/// assert_ne!(a, b);
/// ```
pub fn delivery_id() -> String {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let hash = std::hash::RandomState::new().hash_one((n, std::time::SystemTime::now()));
    format!("{hash:016x}")
}

impl<'a> Context<'a> {
    /// A context for running tasks by hand (the typestate API, tests). The dispatcher makes its
    /// own.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LocalEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = LocalEffects::new();
    /// let mut ctx = Context::new(&event, &mut record, &effects);
    /// ctx.set("LastBackup", "2026-11-25");
    /// assert_eq!(ctx.record().get_str("LastBackup"), Some("2026-11-25"));
    /// ```
    pub fn new(event: &'a Event, record: &'a mut Record, effects: &'a dyn Effects) -> Self {
        Context {
            event,
            record,
            effects,
            records: None,
            staged: Vec::new(),
            event_failed: false,
            event_failure_handled: false,
            transient: std::sync::Mutex::new(None),
            has_transient: std::sync::atomic::AtomicBool::new(false),
            progress_noted: None,
            delivery: delivery_id(),
            step: std::sync::Mutex::new(StepEffects::default()),
            step_used: std::sync::atomic::AtomicBool::new(false),
            token: String::new(),
            noted_step: false,
        }
    }

    /// The context with `records` for [`Context::load_record`] and [`Context::update_record`]
    /// (the dispatcher gives its store; a context made by hand has none).
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LocalEffects, MemoryStore, Record};
    /// lifecycle_core::testing::block_on(async {
    /// let store = MemoryStore::new();
    /// store.insert(Record::new("i-1", "ready").with("InstanceIp", "10.0.0.7"));
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = LocalEffects::new();
    /// let ctx = Context::new(&event, &mut record, &effects).with_records(&store);
    /// let node = ctx.load_record("i-1").await.unwrap().unwrap();
    /// assert_eq!(node.get_str("InstanceIp"), Some("10.0.0.7"));
    /// });
    /// ```
    pub fn with_records(mut self, records: &'a dyn Records) -> Self {
        self.records = Some(records);
        self
    }

    /// This delivery's id: unique to this processing of the event, it names the claim this
    /// delivery takes and the writes it makes.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LocalEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let (mut a, mut b) = (Record::new("backup", "backup"), Record::new("backup", "backup"));
    /// let effects = LocalEffects::new();
    /// let first = Context::new(&event, &mut a, &effects).delivery_id().to_owned();
    /// // The same event processed again is another delivery.
    /// assert_ne!(first, Context::new(&event, &mut b, &effects).delivery_id());
    /// ```
    pub fn delivery_id(&self) -> &str {
        &self.delivery
    }

    pub(crate) fn step(&self) -> std::sync::MutexGuard<'_, StepEffects> {
        self.step_used
            .store(true, std::sync::atomic::Ordering::Release);
        self.step.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The transition's side effects so far, taken (the step starts afresh); nothing if it
    /// had none.
    pub(crate) fn take_step(&self) -> StepEffects {
        if !self
            .step_used
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            return StepEffects::default();
        }
        std::mem::take(&mut *self.step.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether the transition being fired claimed the record or sent anything.
    pub(crate) fn step_used(&self) -> bool {
        self.step_used.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Claims the record for the transition being fired, once, before its first side effect;
    /// returns the next command's key.
    async fn claim(&self) -> Result<CommandKey, EffectError> {
        if !self.step().claimed {
            let version = self.record.version;
            let token = write_token(&self.delivery, version + 1);
            let request = ClaimRequest {
                ident: &self.record.ident,
                state: &self.record.state,
                version,
                holder: &self.delivery,
                token: &token,
            };
            let outcome = match self.effects.claim(request).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    self.note(Err(&e));
                    return Err(e);
                }
            };
            let mut step = self.step();
            match outcome {
                ClaimOutcome::NotNeeded => step.claimed = true,
                ClaimOutcome::Claimed { version } => {
                    step.claimed = true;
                    step.version = Some(version);
                    // A claim left by a delivery that never stored its state change.
                    step.previous = self.record.claimed_by().map(str::to_owned);
                }
                refused => {
                    let message = match &refused {
                        ClaimOutcome::Busy { until } => {
                            format!("another delivery holds the record's claim until {until}")
                        }
                        _ => "the record changed before it could be claimed".to_owned(),
                    };
                    step.refused = Some(refused);
                    return Err(EffectError::new("claim", message));
                }
            }
        }
        let mut step = self.step();
        let n = step.sent;
        step.sent += 1;
        Ok(CommandKey {
            marker: format!("{}.{n}", self.delivery),
            previous: step.previous.as_ref().map(|p| format!("{p}.{n}")),
        })
    }

    /// Whether this record was last moved by this same event: an earlier delivery of it got
    /// that far before it failed or was cut off, and this one resumes it. Tasks that run before
    /// a state change may already have run once for this event when this is true — and also
    /// when it is false, if the earlier delivery stopped before its first state change — so
    /// they must be idempotent; this tells a task it may find its own earlier work.
    ///
    /// ```
    /// use lifecycle_core::{Context, LocalEffects, Record};
    /// let event = lifecycle_core::testing::launching("i-1");
    /// let effects = LocalEffects::new();
    /// // An earlier delivery of this event moved the record to `joining`, and noted so.
    /// let mut record = Record::new("i-1", "joining")
    ///     .with("LifecycleProgress", "CONTINUE wait token-launching-i-1/launch launch-i-1");
    /// assert!(Context::new(&event, &mut record, &effects).is_redelivery());
    /// let mut fresh = Record::new("i-1", "finished_cloud_init");
    /// assert!(!Context::new(&event, &mut fresh, &effects).is_redelivery());
    /// ```
    pub fn is_redelivery(&self) -> bool {
        crate::LifecycleProgress::of(self.record)
            .is_some_and(|progress| progress.event_id == self.event.id)
    }

    fn note(&self, result: Result<(), &EffectError>) {
        if let Err(e) = result
            && e.transient
        {
            *self.transient.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
            self.has_transient
                .store(true, std::sync::atomic::Ordering::Release);
        }
    }

    pub(crate) fn take_transient(&self) -> Option<EffectError> {
        use std::sync::atomic::Ordering;
        if !self.has_transient.load(Ordering::Acquire) {
            return None;
        }
        self.has_transient.store(false, Ordering::Release);
        self.transient
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// The event being processed.
    ///
    /// ```
    /// use lifecycle_core::{Context, EventKind, LocalEffects, Record};
    /// let event = lifecycle_core::testing::terminating("i-1");
    /// let mut record = Record::new("i-1", "ready");
    /// let effects = LocalEffects::new();
    /// assert_eq!(Context::new(&event, &mut record, &effects).event().kind, EventKind::Terminating);
    /// ```
    pub fn event(&self) -> &Event {
        self.event
    }

    /// The node's record as it is now (including attributes set by earlier tasks).
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LocalEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup").with("Destination", "s3://backups");
    /// let effects = LocalEffects::new();
    /// let ctx = Context::new(&event, &mut record, &effects);
    /// assert_eq!(ctx.record().get_str("Destination"), Some("s3://backups"));
    /// ```
    pub fn record(&self) -> &Record {
        self.record
    }

    /// The stored name of the current state.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LocalEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = LocalEffects::new();
    /// assert_eq!(Context::new(&event, &mut record, &effects).state(), "backup");
    /// ```
    pub fn state(&self) -> &str {
        &self.record.state
    }

    /// Whether the event has failed and failure handling is running: a task failed, or a failed
    /// command result found no `ignore_errors` trigger to handle it.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LocalEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = LocalEffects::new();
    /// // Only the dispatcher marks an event failed, when a task fails or a command did not succeed.
    /// assert!(!Context::new(&event, &mut record, &effects).event_failed());
    /// ```
    pub fn event_failed(&self) -> bool {
        self.event_failed
    }

    /// The lifecycle action this event belongs to, if any.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LocalEffects, Record};
    /// let effects = LocalEffects::new();
    /// let launch = lifecycle_core::testing::launching("i-1");
    /// let mut record = Record::new("i-1", "finished_cloud_init");
    /// let ctx = Context::new(&launch, &mut record, &effects);
    /// assert_eq!(ctx.lifecycle().unwrap().auto_scaling_group_name, "test-group");
    /// let scheduled = Event::scheduled("e-1", "backup");
    /// let mut job = Record::new("backup", "backup");
    /// assert!(Context::new(&scheduled, &mut job, &effects).lifecycle().is_none());
    /// ```
    pub fn lifecycle(&self) -> Option<&LifecycleAction> {
        self.event.lifecycle.as_ref()
    }

    /// Sets an attribute on the record; it is stored with the next state change.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LocalEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = LocalEffects::new();
    /// let mut ctx = Context::new(&event, &mut record, &effects);
    /// ctx.set("Attempts", 1);
    /// ctx.set("Attempts", 2);
    /// assert_eq!(ctx.record().attributes["Attempts"], 2);
    /// ```
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        self.record.attributes.insert(key.clone(), value.clone());
        match self.staged.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.staged.push((key, value)),
        }
    }

    /// Sends an SSM command; its completion event resumes this lifecycle (use `wait` on the
    /// transition to stop until then). Returns the command id.
    ///
    /// The first side effect of a transition claims the record (see [`Effects::claim`]): of
    /// racing deliveries of one event, only the claimer sends; the others stop.
    ///
    /// ```
    /// use lifecycle_core::{CommandRequest, Context, LocalEffects, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = LocalEffects::new();
    ///     let event = lifecycle_core::testing::launching("i-1");
    ///     let mut record = Record::new("i-1", "finished_cloud_init");
    ///     let ctx = Context::new(&event, &mut record, &effects);
    ///     let id = ctx
    ///         .send_command(CommandRequest::new("ClusterJoin", ["i-1"]).parameter("Role", ["manager"]))
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(effects.commands()[0].command_id, id);
    /// });
    /// ```
    pub async fn send_command(&self, request: CommandRequest) -> Result<String, EffectError> {
        let key = self.claim().await?;
        let sent = self
            .effects
            .send_command(self.event, self.record, request, &key)
            .await;
        self.note(sent.as_ref().map(|_| ()));
        if let Ok(id) = &sent {
            self.step().commands.push(id.clone());
        }
        sent
    }

    /// Loads another record of the store (a scheduled job loading the node it works on, as the
    /// original library's backup did). `None` if there is none. A store error is transient:
    /// the task fails and the event is delivered again.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LocalEffects, MemoryStore, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let store = MemoryStore::new();
    ///     store.insert(Record::new("i-1", "ready"));
    ///     let event = Event::scheduled("e-1", "backup");
    ///     let mut record = Record::new("backup", "backup");
    ///     let effects = LocalEffects::new();
    ///     let ctx = Context::new(&event, &mut record, &effects).with_records(&store);
    ///     assert_eq!(ctx.load_record("i-1").await.unwrap().unwrap().state, "ready");
    ///     assert!(ctx.load_record("i-9").await.unwrap().is_none());
    /// });
    /// ```
    pub async fn load_record(&self, ident: &str) -> Result<Option<Record>, EffectError> {
        let loaded = self.records("load_record")?.load_record(ident).await;
        self.note(loaded.as_ref().map(|_| ()));
        loaded
    }

    /// Stores `set` (null removes) on `record`, a record loaded with
    /// [`Context::load_record`], if it is still as it was loaded: `Ok(true)` and `record`
    /// updated, or `Ok(false)` if someone changed it since (load it again and decide again), or
    /// a delivery holds its claim. Its state, claim and waits are left alone. The record being
    /// processed is changed with [`Context::set`] instead (it is stored with the state change).
    ///
    /// Like every task's effect, this may run again when the event is delivered again: the
    /// condition makes a repeated update find the record changed, not apply twice.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LocalEffects, MemoryStore, Record};
    /// lifecycle_core::testing::block_on(async {
    /// let store = MemoryStore::new();
    /// store.insert(Record::new("i-1", "ready"));
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = LocalEffects::new();
    /// let ctx = Context::new(&event, &mut record, &effects).with_records(&store);
    /// let mut node = ctx.load_record("i-1").await.unwrap().unwrap();
    /// let mut stale = node.clone();
    /// assert!(ctx.update_record(&mut node, vec![("LastBackup".into(), "e-1".into())]).await.unwrap());
    /// assert_eq!(store.get("i-1").unwrap().get_str("LastBackup"), Some("e-1"));
    /// // A copy loaded before that write is out of date: nothing is written.
    /// assert!(!ctx.update_record(&mut stale, vec![("LastBackup".into(), "e-0".into())]).await.unwrap());
    /// });
    /// ```
    pub async fn update_record(
        &self,
        record: &mut Record,
        set: Vec<(String, Value)>,
    ) -> Result<bool, EffectError> {
        if record.ident == self.record.ident {
            return Err(EffectError::new(
                "update_record",
                "this is the record being processed: change it with ctx.set, stored with the state change",
            ));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if record.claimed_by().is_some() && record.claimed_until().is_some_and(|until| until > now)
        {
            return Ok(false);
        }
        // A token of its own, not the delivery's: one delivery may try several updates of the
        // same record at the same version (a stale copy, then a fresh one), and only a retry of
        // this very request may find its token there and count as applied.
        let Some(token) = write_token_after(record) else {
            return Err(EffectError::new(
                "update_record",
                format!(
                    "record `{}` has a Version no write can follow",
                    record.ident
                ),
            ));
        };
        let update = AttributeUpdate {
            ident: &record.ident,
            state: &record.state,
            version: record.version,
            set: &set,
            token: &token,
        };
        let outcome = self.records("update_record")?.update_record(update).await;
        self.note(outcome.as_ref().map(|_| ()));
        match outcome? {
            CasOutcome::Applied { version } => {
                for (key, value) in set {
                    if value.is_null() {
                        record.attributes.remove(&key);
                    } else {
                        record.attributes.insert(key, value);
                    }
                }
                record.version = version;
                record
                    .attributes
                    .insert(attr::WRITE_TOKEN.into(), Value::String(token));
                Ok(true)
            }
            CasOutcome::Conflict => Ok(false),
        }
    }

    fn records(&self, operation: &'static str) -> Result<&'a dyn Records, EffectError> {
        self.records.ok_or_else(|| {
            EffectError::new(
                operation,
                "this context has no store: the dispatcher gives one; a context made by hand takes one with Context::with_records",
            )
        })
    }

    /// Records a heartbeat for this event's lifecycle action, so the hook does not time out
    /// during a long task.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LocalEffects, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = LocalEffects::new();
    ///     let launch = lifecycle_core::testing::launching("i-1");
    ///     let mut record = Record::new("i-1", "joining");
    ///     Context::new(&launch, &mut record, &effects).heartbeat().await.unwrap();
    ///     assert_eq!(effects.heartbeats().len(), 1);
    ///     // A scheduled job has no lifecycle action to keep alive.
    ///     let scheduled = Event::scheduled("e-1", "backup");
    ///     let mut job = Record::new("backup", "backup");
    ///     assert!(Context::new(&scheduled, &mut job, &effects).heartbeat().await.is_err());
    /// });
    /// ```
    pub async fn heartbeat(&self) -> Result<(), EffectError> {
        match &self.event.lifecycle {
            Some(action) => {
                let recorded = self.effects.record_heartbeat(action).await;
                self.note(recorded.as_ref().copied());
                recorded
            }
            None => Err(EffectError::new(
                "record_heartbeat",
                "this event belongs to no lifecycle action",
            )),
        }
    }
}
