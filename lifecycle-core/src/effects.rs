//! What a task can ask for beyond its record — SSM commands, heartbeats, claims, other records —
//! as the traits the runtime implements ([`Effects`], [`Records`]), and [`MemoryEffects`], which
//! records them in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::{AttributeUpdate, CasOutcome, Record};
use crate::{Event, LifecycleAction};

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
    /// Who claims: this delivery's id ([`Context::delivery_id`](crate::Context::delivery_id)).
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

/// Side effects tasks request through the [`Context`](crate::Context). `lifecycle-aws` implements them with
/// SSM and Auto Scaling; [`MemoryEffects`] records them for local runs and tests.
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
    /// use lifecycle_core::{ClaimOutcome, ClaimRequest, Effects, MemoryEffects};
    /// lifecycle_core::testing::block_on(async {
    ///     // Local effects need no claim: one process runs everything.
    ///     let request = ClaimRequest { ident: "i-1", state: "joining", version: 1, holder: "d1", token: "d1.2" };
    ///     assert_eq!(MemoryEffects::new().claim(request).await.unwrap(), ClaimOutcome::NotNeeded);
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
    /// use lifecycle_core::{CommandKey, CommandRequest, Effects, MemoryEffects, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = MemoryEffects::new();
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
    /// use lifecycle_core::{Effects, LifecycleTransition, MemoryEffects};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = MemoryEffects::new();
    ///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
    ///     effects.record_heartbeat(&action).await.unwrap();
    ///     assert_eq!(effects.heartbeats(), [action]);
    /// });
    /// ```
    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), EffectError>;

    /// A state change was stored; `commands`, sent before it, are now part of the lifecycle
    /// (the others sent so far are not, and are withdrawn when the event is done).
    fn stored(&self, commands: &[String]) {
        let _ = commands;
    }

    /// The time of this delivery (epoch seconds), noted in the record's history with each
    /// state change; `None` (the default) if these effects keep no clock.
    ///
    /// ```
    /// use lifecycle_core::{Effects, MemoryEffects};
    /// assert_eq!(MemoryEffects::new().now(), None);
    /// ```
    fn now(&self) -> Option<u64> {
        None
    }

    /// Whether this delivery may still act, asked before each transition's tasks run. A
    /// delivery paused past its lease may have been taken over (the sweep goes on with a
    /// record left still that long), and a task's own side effects (a DNS update, say) are not
    /// fenced by the record's conditional writes: such a delivery stops with a transient
    /// error, and its event, delivered again, goes on from the record as it is then. The
    /// default always may.
    ///
    /// ```
    /// use lifecycle_core::{Effects, MemoryEffects};
    /// assert!(MemoryEffects::new().may_act().is_ok());
    /// ```
    fn may_act(&self) -> Result<(), EffectError> {
        Ok(())
    }
}

/// The store's other records, as tasks reach them through [`Context::load_record`](crate::Context::load_record) and
/// [`Context::update_record`](crate::Context::update_record). Every [`Store`](crate::Store) is one; the dispatcher gives its
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

/// A command recorded by [`MemoryEffects`].
///
/// ```
/// use lifecycle_core::{CommandRequest, Context, Event, MemoryEffects, Record};
/// lifecycle_core::testing::block_on(async {
///     let effects = MemoryEffects::new();
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
/// use lifecycle_core::{CommandKey, CommandRequest, Effects, Event, MemoryEffects, Record};
/// lifecycle_core::testing::block_on(async {
/// let effects = MemoryEffects::new();
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
pub struct MemoryEffects {
    commands: Mutex<Vec<SentCommand>>,
    heartbeats: Mutex<Vec<LifecycleAction>>,
    now: Option<u64>,
}

impl MemoryEffects {
    /// Nothing recorded yet.
    ///
    /// ```
    /// let effects = lifecycle_core::MemoryEffects::new();
    /// assert!(effects.commands().is_empty() && effects.heartbeats().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The same, with a clock stopped at `epoch_seconds`: the steps written to a record's
    /// history note that time (the runtime's effects note its clock's).
    ///
    /// ```
    /// use lifecycle_core::{Effects, MemoryEffects};
    /// assert_eq!(MemoryEffects::new().at(1_795_564_800).now(), Some(1_795_564_800));
    /// ```
    pub fn at(mut self, epoch_seconds: u64) -> Self {
        self.now = Some(epoch_seconds);
        self
    }

    /// The commands sent so far.
    ///
    /// ```
    /// use lifecycle_core::{CommandRequest, Context, MemoryEffects, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = MemoryEffects::new();
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
    /// use lifecycle_core::{Context, MemoryEffects, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = MemoryEffects::new();
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
impl Effects for MemoryEffects {
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

    fn now(&self) -> Option<u64> {
        self.now
    }
}
