//! What a task sees and what it can ask for: the event, the node's record, and side effects
//! such as SSM commands.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::event::{Event, LifecycleAction};
use crate::store::Record;

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

/// Side effects tasks request through the [`Context`]. `lifecycle-aws` implements them with
/// SSM and Auto Scaling; [`LocalEffects`] records them for local runs and tests.
#[async_trait::async_trait]
pub trait Effects: Send + Sync {
    /// Sends a command and registers it, so that its completion event resumes the lifecycle
    /// `event` belongs to. Returns the command id.
    async fn send_command(
        &self,
        event: &Event,
        record: &Record,
        request: CommandRequest,
    ) -> Result<String, EffectError>;

    /// Keeps `action` alive for another heartbeat timeout.
    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), EffectError>;
}

/// A command recorded by [`LocalEffects`].
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
/// use lifecycle_core::{CommandRequest, Effects, Event, LocalEffects, Record};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let effects = LocalEffects::new();
/// let event = Event::scheduled("e-1", "backup");
/// let id = effects
///     .send_command(&event, &Record::new("backup", "backup"), CommandRequest::new("AWS-RunShellScript", ["i-1"]))
///     .await
///     .unwrap();
/// assert_eq!(effects.commands()[0].command_id, id);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct LocalEffects {
    commands: Mutex<Vec<SentCommand>>,
    heartbeats: Mutex<Vec<LifecycleAction>>,
}

impl LocalEffects {
    /// Nothing recorded yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The commands sent so far.
    pub fn commands(&self) -> Vec<SentCommand> {
        self.commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The heartbeats recorded so far.
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
pub struct Context<'a> {
    pub(crate) event: &'a Event,
    pub(crate) record: &'a mut Record,
    pub(crate) effects: &'a dyn Effects,
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
            staged: Vec::new(),
            event_failed: false,
            event_failure_handled: false,
            transient: std::sync::Mutex::new(None),
            has_transient: std::sync::atomic::AtomicBool::new(false),
            progress_noted: None,
        }
    }

    /// Whether this record was last moved by this same event: an earlier delivery of it got
    /// that far before it failed or was cut off, and this one resumes it. Tasks that run before
    /// a state change may already have run once for this event when this is true — and also
    /// when it is false, if the earlier delivery stopped before its first state change — so
    /// they must be idempotent; this tells a task it may find its own earlier work.
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
    pub fn event(&self) -> &Event {
        self.event
    }

    /// The node's record as it is now (including attributes set by earlier tasks).
    pub fn record(&self) -> &Record {
        self.record
    }

    /// The stored name of the current state.
    pub fn state(&self) -> &str {
        &self.record.state
    }

    /// Whether the event has failed and failure handling is running: a task failed, or a failed
    /// command result found no `ignore_errors` trigger to handle it.
    pub fn event_failed(&self) -> bool {
        self.event_failed
    }

    /// The lifecycle action this event belongs to, if any.
    pub fn lifecycle(&self) -> Option<&LifecycleAction> {
        self.event.lifecycle.as_ref()
    }

    /// Sets an attribute on the record; it is stored with the next state change.
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
    pub async fn send_command(&self, request: CommandRequest) -> Result<String, EffectError> {
        let sent = self
            .effects
            .send_command(self.event, self.record, request)
            .await;
        self.note(sent.as_ref().map(|_| ()));
        sent
    }

    /// Records a heartbeat for this event's lifecycle action, so the hook does not time out
    /// during a long task.
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
