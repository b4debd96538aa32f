//! Processing one event: the original library's semantics, with every state change a
//! compare-and-set.

use std::fmt;

use serde_json::Value;

use crate::context::{ClaimOutcome, Context, EffectError, Effects, StepEffects, push_write_token};
use crate::event::{CommandStatus, Event, EventKind, LifecycleAction, LifecycleTransition};
use crate::history::StepNote;
use crate::model::{LifecycleModel, ModelDefinition, Phase, State, TaskFailure, UnknownState};
use crate::store::{CasOutcome, Record, StateChange, Store, attr};

/// How a lifecycle action is completed.
///
/// ```
/// use lifecycle_core::LifecycleResult;
/// let result: LifecycleResult = serde_json::from_str(r#""CONTINUE""#).unwrap();
/// assert_eq!(result, LifecycleResult::Continue);
/// assert_eq!(LifecycleResult::Abandon.to_string(), "ABANDON");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LifecycleResult {
    /// `CONTINUE`
    Continue,
    /// `ABANDON`
    Abandon,
}

impl LifecycleResult {
    /// The value `CompleteLifecycleAction` expects.
    ///
    /// ```
    /// use lifecycle_core::LifecycleResult;
    /// assert_eq!(LifecycleResult::Abandon.as_aws_str(), "ABANDON");
    /// ```
    pub fn as_aws_str(self) -> &'static str {
        match self {
            LifecycleResult::Continue => "CONTINUE",
            LifecycleResult::Abandon => "ABANDON",
        }
    }

    /// CONTINUE unless the event failed (ABANDON); a terminating action is always CONTINUE,
    /// since the instance goes away either way.
    ///
    /// ```
    /// use lifecycle_core::{LifecycleResult, LifecycleTransition};
    /// assert_eq!(LifecycleResult::for_outcome(LifecycleTransition::Launching, true), LifecycleResult::Abandon);
    /// assert_eq!(LifecycleResult::for_outcome(LifecycleTransition::Terminating, true), LifecycleResult::Continue);
    /// ```
    pub fn for_outcome(transition: LifecycleTransition, event_failed: bool) -> Self {
        match transition {
            LifecycleTransition::Launching if event_failed => LifecycleResult::Abandon,
            _ => LifecycleResult::Continue,
        }
    }
}

impl fmt::Display for LifecycleResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_aws_str())
    }
}

impl Context<'_> {
    /// The result to complete this event's lifecycle action with, if it belongs to one:
    /// CONTINUE unless the event failed, and always CONTINUE when terminating.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LifecycleResult, LocalEffects, Record};
    /// let effects = LocalEffects::new();
    /// let launch = lifecycle_core::testing::launching("i-1");
    /// let mut record = Record::new("i-1", "joining");
    /// let ctx = Context::new(&launch, &mut record, &effects);
    /// assert_eq!(ctx.lifecycle_result(), Some(LifecycleResult::Continue));
    /// let scheduled = Event::scheduled("e", "backup");
    /// let mut job = Record::new("backup", "backup");
    /// assert_eq!(Context::new(&scheduled, &mut job, &effects).lifecycle_result(), None);
    /// ```
    pub fn lifecycle_result(&self) -> Option<LifecycleResult> {
        self.event
            .lifecycle_transition()
            .map(|t| LifecycleResult::for_outcome(t, self.event_failed))
    }
}

/// Why processing stopped.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{CommandStatus, StopReason};
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     assert_eq!(harness.launch("i-1").await.unwrap().stop, StopReason::Waiting);
///     let done = harness.finish_command("i-1", CommandStatus::Success).await.unwrap();
///     assert_eq!(done.stop, StopReason::Finished);
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// No trigger of the current state fired, or only an internal one did: the state settled
    /// and waits for another event.
    Settled,
    /// A terminal state was reached.
    Finished,
    /// A trigger marked `stop` fired.
    StopAfterTrigger {
        /// The trigger.
        trigger: &'static str,
    },
    /// A transition marked `wait` entered its destination; the next event (typically a command
    /// result) resumes.
    Waiting,
    /// A compare-and-set found the record changed by someone else: this invocation stopped with
    /// no further side effects, the other one carries on.
    LostRace,
    /// The record has not reached the initial state yet (cloud-init still running).
    NotReady,
    /// The event does not apply to the record's state: a launching event for an instance past
    /// its initial state (e.g. a duplicate), or a terminating event for one that never got
    /// there.
    Refused,
    /// A command result the record does not wait for (a superseded command's, a late
    /// duplicate's, a fire-and-forget command's): nothing runs.
    NotAwaited,
    /// A terminating event that came while the instance's launch waits for a command, in a
    /// state with no trigger for it: noted on the record ([`attr::DEFERRED_TERMINATION`]); it
    /// runs, and is completed, once the launch's lifecycle is over
    /// ([`deferred_termination`]).
    Deferred,
}

/// One trigger that fired.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     let report = harness.launch("i-1").await.unwrap();
///     let fired = report.fired[0];
///     assert_eq!((fired.trigger, fired.from, fired.to), ("join", NodeState::FinishedCloudInit, NodeState::Joining));
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fired<S> {
    /// Index into the model's transitions.
    pub index: usize,
    /// The trigger's name.
    pub trigger: &'static str,
    /// The state it fired from.
    pub from: S,
    /// The state it led to (`from` for an internal transition).
    pub to: S,
}

/// A trigger that reacted to the event but whose guards said no, so the next one was tried.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Drain::default()).with_instance("i-1", DrainState::Ready);
///     let report = harness.terminate("i-1").await.unwrap();
///     // `demote` reacted to the termination, but its guard `is_manager` said no: `drain` fired.
///     assert_eq!(report.declined[0].trigger, "demote");
///     assert_eq!(report.declined[0].fired_before, 0);
///     assert_eq!(report.fired[0].trigger, "drain");
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declined<S> {
    /// The trigger's name.
    pub trigger: &'static str,
    /// The state it would have fired from.
    pub from: S,
    /// How many triggers had fired before: its place among [`Report::fired`].
    pub fired_before: usize,
}

/// What made the event fail.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{CommandStatus, FailureCause};
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     harness.launch("i-1").await.unwrap();
///     let report = harness.finish_command("i-1", CommandStatus::Failed).await.unwrap();
///     let failure = report.failure.unwrap();
///     assert!(matches!(failure.cause, FailureCause::Event(CommandStatus::Failed)));
///     assert_eq!(failure.cause.to_string(), "the command ended with status Failed");
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureCause<E> {
    /// A task returned an error.
    Task(TaskFailure<E>),
    /// The event itself reported failure (a command that did not succeed).
    Event(CommandStatus),
}

impl<E: fmt::Display> fmt::Display for FailureCause<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureCause::Task(failure) => failure.fmt(f),
            FailureCause::Event(status) => write!(f, "the command ended with status {status}"),
        }
    }
}

/// The failure that sent processing to the failure state.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::FailureCause;
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Drain { unreachable: true }).with_instance("i-1", DrainState::Ready);
///     let report = harness.terminate("i-1").await.unwrap();
///     let failure = report.failure.unwrap();
///     assert_eq!((failure.state, failure.trigger), (DrainState::Ready, Some("drain")));
///     let FailureCause::Task(task) = failure.cause else { panic!("a task failed") };
///     assert_eq!(task.to_string(), "task `drain` failed: node unreachable");
///     assert_eq!(report.end, DrainState::Failed);
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure<S, E> {
    /// The state it happened in.
    pub state: S,
    /// The trigger that was firing, if a task failed.
    pub trigger: Option<&'static str>,
    /// What failed.
    pub cause: FailureCause<E>,
    /// How many triggers had fired when it happened: its place in [`Report::fired`].
    pub fired_before: usize,
}

/// What processing one event did: what logs and tests read.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{LifecycleResult, StopReason};
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     let report = harness.launch("i-1").await.unwrap();
///     assert_eq!(report.ident, "i-1");
///     assert_eq!(report.states, [NodeState::FinishedCloudInit, NodeState::Joining]);
///     assert_eq!(report.stop, StopReason::Waiting);
///     assert!(!report.event_failed);
///     // It waits for the join command: the lifecycle action stays open.
///     assert_eq!(report.lifecycle_result, None::<LifecycleResult>);
/// });
/// ```
#[derive(Debug)]
pub struct Report<S, E> {
    /// The event's id.
    pub event_id: String,
    /// The record's `Ident`.
    pub ident: String,
    /// The state the record was in.
    pub start: S,
    /// The state the record is in now.
    pub end: S,
    /// Every state entered, `start` first.
    pub states: Vec<S>,
    /// Every trigger that fired, in order.
    pub fired: Vec<Fired<S>>,
    /// The triggers whose guards said no, in the order they were tried: why another trigger
    /// fired (or none did).
    pub declined: Vec<Declined<S>>,
    /// Why processing stopped.
    pub stop: StopReason,
    /// The failure handled, if any.
    pub failure: Option<Failure<S, E>>,
    /// Errors of `ignore_errors` triggers: logged, and the destination entered anyway.
    pub ignored: Vec<TaskFailure<E>>,
    /// Whether the event failed: failure handling ran (a task failed, or a failed command
    /// result was not handled by an `ignore_errors` trigger).
    pub event_failed: bool,
    /// The result to complete the event's lifecycle action with, when this event ended it:
    /// the record moved and came to rest ([`StopReason::Finished`] or [`StopReason::Settled`]),
    /// or a terminating event found nothing to run (refused, or no trigger reacts): CONTINUE,
    /// so the instance is not held until its hook times out.
    /// CONTINUE unless the event failed (ABANDON); a terminating action is always CONTINUE.
    pub lifecycle_result: Option<LifecycleResult>,
}

impl<S: State, E> Report<S, E> {
    /// The names of the fired triggers, in order.
    ///
    /// ```
    /// # use lifecycle_core::{Report, StopReason};
    /// # fn check<S: lifecycle_core::State, E>(report: &Report<S, E>) {
    /// for trigger in report.triggers() {
    ///     println!("fired {trigger}");
    /// }
    /// # }
    /// ```
    pub fn triggers(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fired.iter().map(|f| f.trigger)
    }

    /// Whether this event ended its lifecycle action (see [`Report::lifecycle_result`]).
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::CommandStatus;
    /// use lifecycle_core::testing::Harness;
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    ///     assert!(!harness.launch("i-1").await.unwrap().is_done());
    ///     assert!(harness.finish_command("i-1", CommandStatus::Success).await.unwrap().is_done());
    /// });
    /// ```
    pub fn is_done(&self) -> bool {
        self.lifecycle_result.is_some()
    }
}

/// Processing could not go on.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{DispatchError, LocalEffects, MemoryStore, Record, load_and_dispatch};
/// lifecycle_core::testing::block_on(async {
///     let store = MemoryStore::new();
///     let effects = LocalEffects::new();
///     let launch = lifecycle_core::testing::launching("i-1");
///     let missing = load_and_dispatch(&mut Node, &store, "i-1", &launch, &effects).await;
///     assert!(matches!(missing, Err(DispatchError::UnknownRecord(ident)) if ident == "i-1"));
///     store.insert(Record::new("i-1", "redy"));
///     let typo = load_and_dispatch(&mut Node, &store, "i-1", &launch, &effects).await;
///     assert_eq!(typo.unwrap_err().to_string(), "`redy` is not a state of model Node");
/// });
/// ```
#[derive(Debug, thiserror::Error)]
pub enum DispatchError<S, E, StoreError> {
    /// The stored state names no state of the model.
    #[error(transparent)]
    UnknownState(#[from] UnknownState),
    /// There is no record for this instance.
    #[error("no record for `{0}`")]
    UnknownRecord(String),
    /// The record's `Version` is past [`MAX_VERSION`](crate::MAX_VERSION): corrupt or forged,
    /// not written by counting. Nothing is written.
    #[error(
        "record `{ident}` has Version {version}, past the largest a record can reach ({}): the item is corrupt",
        crate::MAX_VERSION
    )]
    VersionOutOfRange {
        /// The record.
        ident: String,
        /// Its stored version.
        version: u64,
    },
    /// The store failed; nothing after the failed write was done.
    #[error("store error: {0}")]
    Store(#[source] StoreError),
    /// A task failed during failure handling.
    #[error("error during failure handling after {original}: {cause}")]
    FailureHandling {
        /// The error raised while handling the failure.
        cause: TaskFailure<E>,
        /// The failure that was being handled.
        original: FailureCause<E>,
        /// What had been done until then.
        report: Box<Report<S, E>>,
    },
    /// Triggers kept changing the state: the model has a cycle its guards do not break.
    #[error("gave up after {0} state changes for one event: a cycle of transitions never settles")]
    Cycle(usize),
    /// Another delivery holds the record's claim (it is running a side-effecting task for it):
    /// deliver the event again later; once the claim is released or runs out, it resumes.
    #[error("another delivery holds the claim on `{ident}` until {until} (epoch seconds)")]
    Busy {
        /// The record.
        ident: String,
        /// When the claim runs out.
        until: u64,
    },
    /// A task failed on a transient effect error (throttling, a timeout) before its state
    /// change was stored: deliver the event again; the record resumes where it is.
    #[error("transient error in trigger `{trigger}` from `{state}`: {error}")]
    Transient {
        /// Where the record is.
        state: S,
        /// The trigger whose task failed.
        trigger: &'static str,
        /// The effect's error.
        error: EffectError,
    },
}

/// The record attribute in which each state change notes the lifecycle action that made it.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{LifecycleProgress, PROGRESS_ATTRIBUTE};
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     harness.launch("i-1").await.unwrap();
///     let record = harness.record("i-1").unwrap();
///     assert!(record.get_str(PROGRESS_ATTRIBUTE).is_some());
///     assert!(LifecycleProgress::of(&record).unwrap().waiting);
/// });
/// ```
pub const PROGRESS_ATTRIBUTE: &str = "LifecycleProgress";

/// What a record remembers of the lifecycle action that last moved it (attribute
/// [`PROGRESS_ATTRIBUTE`], written with each state change, in the same write).
///
/// It makes redelivery safe: an event of the same lifecycle action that finds the record
/// moved on resumes from there instead of being refused, and the event that brought the
/// lifecycle to rest, delivered again, completes the action again with the result it ended
/// with (Auto Scaling answers a repeat with "no active lifecycle action"), so a crash between
/// the last state change and the completion does not leave the hook to time out.
///
/// Stored as one string, `RESULT rest|wait TOKEN EVENT-ID` (one attribute, one allocation per
/// event: it is written on the hot path).
///
/// ```
/// use lifecycle_core::{LifecycleProgress, LifecycleResult, Record};
/// let record = Record::new("i-1", "ready").with("LifecycleProgress", "CONTINUE rest t-1 e-1");
/// let progress = LifecycleProgress::of(&record).unwrap();
/// assert_eq!(progress.token, "t-1");
/// assert_eq!(progress.result, LifecycleResult::Continue);
/// assert!(!progress.waiting);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleProgress {
    /// The lifecycle action's key: its token (the instance id when the event had none) and
    /// its transition, `TOKEN/launch` or `TOKEN/terminate`.
    pub token: String,
    /// The event whose processing made the change.
    pub event_id: String,
    /// What the action completes with if the lifecycle ends where the record is.
    pub result: LifecycleResult,
    /// Whether the record stopped to wait for another event (`wait` or `stop`).
    pub waiting: bool,
}

impl LifecycleProgress {
    /// The progress noted on `record`, if any.
    ///
    /// ```
    /// use lifecycle_core::{LifecycleProgress, LifecycleResult, Record};
    /// let record = Record::new("i-1", "failed").with("LifecycleProgress", "ABANDON rest t-1/launch e-7");
    /// let progress = LifecycleProgress::of(&record).unwrap();
    /// assert_eq!((progress.result, progress.event_id.as_str()), (LifecycleResult::Abandon, "e-7"));
    /// assert!(LifecycleProgress::of(&Record::new("i-2", "ready")).is_none());
    /// ```
    pub fn of(record: &Record) -> Option<Self> {
        let mut parts = record.get_str(PROGRESS_ATTRIBUTE)?.splitn(4, ' ');
        let result = match parts.next()? {
            "ABANDON" => LifecycleResult::Abandon,
            "CONTINUE" => LifecycleResult::Continue,
            _ => return None,
        };
        let waiting = match parts.next()? {
            "wait" => true,
            "rest" => false,
            _ => return None,
        };
        Some(LifecycleProgress {
            result,
            waiting,
            token: parts.next()?.to_owned(),
            event_id: parts.next()?.to_owned(),
        })
    }
}

/// The [`PROGRESS_ATTRIBUTE`] value an event of `action` leaves when it brings the lifecycle to
/// rest with `result`: for writes made outside the dispatcher (a parked launch ended by its
/// deadline), so a later event of the action finds it over.
///
/// ```
/// use lifecycle_core::{progress_note, LifecycleProgress, LifecycleResult, LifecycleTransition, Record};
/// let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
/// let note = progress_note(&action, "e-1", LifecycleResult::Abandon);
/// let record = Record::new("i-1", "pending").with("LifecycleProgress", note);
/// let progress = LifecycleProgress::of(&record).unwrap();
/// assert_eq!((progress.result, progress.waiting), (LifecycleResult::Abandon, false));
/// ```
pub fn progress_note(action: &LifecycleAction, event_id: &str, result: LifecycleResult) -> Value {
    progress_value(result, false, &action_key(action), event_id)
}

fn progress_value(result: LifecycleResult, waiting: bool, token: &str, event_id: &str) -> Value {
    let waiting = if waiting { "wait" } else { "rest" };
    Value::String(format!(
        "{} {waiting} {token} {event_id}",
        result.as_aws_str()
    ))
}

/// The write that starts a scheduled rule's run over: its record (`Ident` = the rule) rests in
/// a terminal state other than `start` (the state named like the rule), so the last run
/// ended. `None` when the record is at `start` or still in a run (a run still waiting is
/// resumed, not restarted).
///
/// ```
/// use lifecycle_core::{scheduled_restart, ModelDefinition, Record, State};
/// # use lifecycle_core::{lifecycle_model, Context, LifecycleModel};
/// # pub struct Job;
/// # #[lifecycle_model(states(Backup, Done), initial = Backup, schedules(Backup), terminal(Done), error = std::fmt::Error)]
/// # impl Job {
/// #     #[transition(from = Backup, to = Done, on(scheduled), ignore_errors)]
/// #     async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> { Ok(()) }
/// # }
/// let done = Record::new("backup", "done");
/// let change = scheduled_restart(&Job::DEFINITION, &done, JobState::Backup, "t.1").unwrap();
/// assert_eq!((change.from, change.to), ("done", "backup"));
/// assert!(scheduled_restart(&Job::DEFINITION, &Record::new("backup", "backup"), JobState::Backup, "t.1").is_none());
/// ```
pub fn scheduled_restart<'a, S: State>(
    definition: &ModelDefinition<S>,
    record: &'a Record,
    start: S,
    token: &'a str,
) -> Option<StateChange<'a>> {
    let state: S = record.state.parse().ok()?;
    (definition.is_terminal(state) && state != start).then(|| StateChange {
        ident: &record.ident,
        from: &record.state,
        version: record.version,
        to: start.name(),
        set: &[],
        token,
    })
}

/// The terminating event noted on `record` while its launch waited
/// ([`StopReason::Deferred`]), if any: run it once the launch's lifecycle is over.
///
/// ```
/// use lifecycle_core::{deferred_termination, EventKind, Record};
/// let noted = r#"{"EventId":"e-9","Action":{"AutoScalingGroupName":"g","LifecycleHookName":"h",
///     "EC2InstanceId":"i-1","LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING"}}"#;
/// let record = Record::new("i-1", "joining").with("DeferredTermination", noted);
/// let event = deferred_termination(&record).unwrap();
/// assert_eq!((event.id.as_str(), event.kind), ("e-9", EventKind::Terminating));
/// ```
pub fn deferred_termination(record: &Record) -> Option<Event> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Noted {
        event_id: String,
        action: LifecycleAction,
    }
    let noted: Noted = serde_json::from_str(record.get_str(attr::DEFERRED_TERMINATION)?).ok()?;
    Some(Event::lifecycle(noted.event_id, noted.action))
}

fn noted_termination(event: &Event, action: &LifecycleAction) -> Value {
    let noted = serde_json::json!({ "EventId": event.id, "Action": action });
    Value::String(noted.to_string())
}

/// The key that identifies a lifecycle action across its events: its token, and its
/// transition (a launch and a termination never share a key, whatever their tokens).
fn action_key(action: &LifecycleAction) -> String {
    let transition = transition_suffix(action.lifecycle_transition);
    // No spaces: the key is one word of the stored progress.
    match &action.lifecycle_action_token {
        Some(token) => format!("{}{transition}", token.replace(' ', "_")),
        None => format!("{}{transition}", action.ec2_instance_id.replace(' ', "_")),
    }
}

/// How a lifecycle action's key ends: `/launch` or `/terminate`.
fn transition_suffix(transition: LifecycleTransition) -> &'static str {
    match transition {
        LifecycleTransition::Launching => "/launch",
        LifecycleTransition::Terminating => "/terminate",
    }
}

/// Notes this event's lifecycle action on the record, to be stored with the next write —
/// unless this event already noted the same there (the attribute stays until overwritten).
fn stage_progress(ctx: &mut Context<'_>, waiting: bool) {
    let (Some(action), Some(result)) = (&ctx.event.lifecycle, ctx.lifecycle_result()) else {
        return;
    };
    if ctx.progress_noted == Some((waiting, result)) {
        return;
    }
    ctx.progress_noted = Some((waiting, result));
    let value = progress_value(result, waiting, &action_key(action), &ctx.event.id);
    ctx.set(PROGRESS_ATTRIBUTE, value);
}

/// The [`Report`] of model `M`.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::ModelReport;
/// use lifecycle_core::testing::Harness;
/// fn summary(report: &ModelReport<Node>) -> String {
///     format!("{} -> {}", report.start, report.end)
/// }
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     let report = harness.launch("i-1").await.unwrap();
///     assert_eq!(summary(&report), "finished_cloud_init -> joining");
/// });
/// ```
pub type ModelReport<M> = Report<<M as LifecycleModel>::State, <M as LifecycleModel>::Error>;

/// The [`DispatchError`] of model `M` with store `St`.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{MemoryStore, ModelDispatchError};
/// use lifecycle_core::testing::Harness;
/// fn retry_later(error: &ModelDispatchError<Node, MemoryStore>) -> bool {
///     use lifecycle_core::DispatchError::*;
///     matches!(error, Busy { .. } | Transient { .. } | Store(_))
/// }
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node);
///     let error = harness.launch("i-unknown").await.unwrap_err();
///     assert!(!retry_later(&error));
/// });
/// ```
pub type ModelDispatchError<M, St> =
    DispatchError<<M as LifecycleModel>::State, <M as LifecycleModel>::Error, <St as Store>::Error>;

/// Enough room in a report for a typical event without regrowing.
const EXPECTED_STEPS: usize = 16;

/// More state changes than this for one event means a cycle.
const MAX_STEPS: usize = 1024;

/// Loads the record for the event's instance and dispatches the event to it.
///
/// A scheduled event has no instance: its record is the rule's (see [`dispatch`]).
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{LocalEffects, MemoryStore, Record, load_and_dispatch};
/// lifecycle_core::testing::block_on(async {
///     let store = MemoryStore::new();
///     store.insert(Record::new("i-1", "finished_cloud_init"));
///     let effects = LocalEffects::new();
///     let launch = lifecycle_core::testing::launching("i-1");
///     let (record, report) = load_and_dispatch(&mut Node, &store, "i-1", &launch, &effects).await.unwrap();
///     assert_eq!((record.state.as_str(), report.end), ("joining", NodeState::Joining));
///     assert_eq!(store.get("i-1").unwrap().state, "joining");
/// });
/// ```
pub async fn load_and_dispatch<M: LifecycleModel, St: Store>(
    model: &mut M,
    store: &St,
    ident: &str,
    event: &Event,
    effects: &dyn Effects,
) -> Result<(Record, ModelReport<M>), ModelDispatchError<M, St>> {
    let mut record = store
        .load(ident)
        .await
        .map_err(DispatchError::Store)?
        .ok_or_else(|| DispatchError::UnknownRecord(ident.to_owned()))?;
    let report = dispatch(model, store, &mut record, event, effects).await?;
    Ok((record, report))
}

/// Processes `event` for `record`, which was loaded from `store`:
///
/// 1. The triggers of the current state are tried in declaration order; the first that reacts
///    to the event, whose `prepare` tasks succeed and whose guards pass, fires.
/// 2. Firing runs its `before` tasks and the task method, stores the new state (a
///    compare-and-set), then runs its `after` tasks.
/// 3. If the state changed, the new state's triggers are tried, until no trigger changes the
///    state, a terminal state is reached, or a `stop`/`wait` flag says so.
/// 4. A task error marks the event failed and enters the failure state, whose triggers run the
///    same way (an error there is returned). With `ignore_errors` the error is logged and the
///    destination entered anyway. A failed command result only fires `ignore_errors` triggers;
///    when it blocks every other one, failure handling starts as for a task error. Once an
///    `ignore_errors` trigger has fired for it, the failure is handled and the triggers after
///    it run as for a successful event.
///
/// `record` is updated to what was stored.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{CommandStatus, Event, LocalEffects, MemoryStore, Record, StopReason, dispatch};
/// lifecycle_core::testing::block_on(async {
///     let store = MemoryStore::new();
///     let mut record = Record::new("i-1", "finished_cloud_init");
///     store.insert(record.clone());
///     let effects = LocalEffects::new();
///     let launch = lifecycle_core::testing::launching("i-1");
///     let report = dispatch(&mut Node, &store, &mut record, &launch, &effects).await.unwrap();
///     assert_eq!(report.stop, StopReason::Waiting);
///     // The join command's result, for the lifecycle it was sent for.
///     let sent = &effects.commands()[0];
///     let result = Event::command_result("e-2", &sent.command_id, CommandStatus::Success, "i-1", sent.lifecycle.clone());
///     let report = dispatch(&mut Node, &store, &mut record, &result, &effects).await.unwrap();
///     assert_eq!((report.end, report.stop), (NodeState::Ready, StopReason::Finished));
/// });
/// ```
pub async fn dispatch<M: LifecycleModel, St: Store>(
    model: &mut M,
    store: &St,
    record: &mut Record,
    event: &Event,
    effects: &dyn Effects,
) -> Result<ModelReport<M>, ModelDispatchError<M, St>> {
    // A copy (a few pointers): the model is borrowed mutably by its tasks below.
    let def = model.definition();
    let start: M::State = record.state.parse()?;
    if record.state != start.name()
        && let Some(former) = def.former.iter().find(|f| f.name == record.state)
    {
        // Stored by an earlier version of the model: read as what it became, written with its
        // new name at the next state change.
        if former.retired {
            tracing::info!(event_id = %event.id, ident = %record.ident, stored = %record.state, now = %start, "a retired state's record goes where the model says");
        } else {
            tracing::info!(event_id = %event.id, ident = %record.ident, stored = %record.state, now = %start, "a record stored under a former name");
        }
    }
    if record.version > crate::MAX_VERSION {
        // Each write below adds one: never past what a u64 holds.
        return Err(DispatchError::VersionOutOfRange {
            ident: record.ident.clone(),
            version: record.version,
        });
    }
    let mut report = Report {
        event_id: event.id.clone(),
        ident: record.ident.clone(),
        start,
        end: start,
        states: Vec::with_capacity(EXPECTED_STEPS),
        fired: Vec::with_capacity(EXPECTED_STEPS),
        declined: Vec::new(),
        stop: StopReason::Settled,
        failure: None,
        ignored: Vec::new(),
        event_failed: false,
        lifecycle_result: None,
    };
    report.states.push(start);
    if let EventKind::CommandResult { command_id, .. } = &event.kind
        && !takes_result(record, command_id, &event.id)
    {
        tracing::info!(event_id = %event.id, ident = %record.ident, state = %start, command_id, "the record does not wait for this command: result not applied");
        report.stop = StopReason::NotAwaited;
        return Ok(report);
    }
    // The same lifecycle action under two keys: a lifecycle of this transition waits on the
    // record, started by an event of another key — reconciliation started it from Auto
    // Scaling's view (no token: keyed by the instance), and this is its late event, or the
    // other way round. One instance has one open action per transition: this one is already
    // being handled, and its lifecycle completes it.
    if let Some(action) = &event.lifecycle
        && matches!(event.kind, EventKind::Launching | EventKind::Terminating)
        && let Some(progress) = LifecycleProgress::of(record)
        && progress.waiting
        && progress.token != action_key(action)
        && progress
            .token
            .ends_with(transition_suffix(action.lifecycle_transition))
    {
        tracing::info!(event_id = %event.id, ident = %record.ident, state = %start, handled_by = %progress.event_id, "this lifecycle action is already handled under another key: nothing to do");
        report.stop = StopReason::Refused;
        return Ok(report);
    }
    // A termination while the launch waits for its command: the launch's next event (its
    // result, or the deadline's) goes to the model as a failure — the instance is going — and
    // the termination runs after it, once.
    let deferred = deferred_termination(record);
    // Only a launch is cut short: a drain (a wait some other event started, with no lifecycle
    // action of its own) sees the status SSM reported, and the termination runs after it.
    let launch_waits =
        LifecycleProgress::of(record).is_some_and(|p| p.waiting && p.token.ends_with("/launch"));
    let terminated_result;
    let event = match (&deferred, &event.kind) {
        (Some(_), EventKind::CommandResult { command_id, .. }) if launch_waits => {
            terminated_result = Event {
                kind: EventKind::CommandResult {
                    command_id: command_id.clone(),
                    status: CommandStatus::Other("Terminated".into()),
                },
                ..event.clone()
            };
            &terminated_result
        }
        _ => event,
    };
    if let (EventKind::Terminating, Some(action)) = (&event.kind, &event.lifecycle) {
        // The launch's lifecycle waits, or a drain some other event started (a Spot
        // interruption, a rebalance recommendation) waits for its command.
        let progress = LifecycleProgress::of(record);
        let launch_waits = progress
            .as_ref()
            .is_some_and(|p| p.waiting && p.token != action_key(action))
            || (record.awaited_commands().next().is_some()
                && progress.is_none_or(|p| p.token != action_key(action)));
        let handled = def.triggers_from(start).any(|(_, t)| t.accepts(event));
        if launch_waits && !handled {
            if deferred.is_none() {
                let mut ctx = Context::new(event, record, effects);
                ctx.set(attr::DEFERRED_TERMINATION, noted_termination(event, action));
                if !write(store, &mut ctx, start, None, None).await? {
                    report.stop = StopReason::LostRace;
                    return Ok(report);
                }
            }
            tracing::info!(event_id = %event.id, ident = %record.ident, state = %start, "termination while the launch waits: it runs once the launch is over");
            report.stop = StopReason::Deferred;
            return Ok(report);
        }
        if deferred.as_ref().is_some_and(|d| d.id == event.id) {
            // Its turn: taken off the record before it runs.
            let mut ctx = Context::new(event, record, effects);
            ctx.set(attr::DEFERRED_TERMINATION, Value::Null);
            if !write(store, &mut ctx, start, None, None).await? {
                report.stop = StopReason::LostRace;
                return Ok(report);
            }
        }
    }
    // An event of the lifecycle action that last moved the record is a redelivery (or the
    // action's next event): it resumes from where the record is, it is not refused.
    let progress = LifecycleProgress::of(record).filter(|p| {
        event
            .lifecycle
            .as_ref()
            .is_some_and(|action| action_key(action) == p.token)
    });
    if progress.is_none()
        && let Some(reason) = admission(&def, start, record, event)
    {
        tracing::info!(event_id = %event.id, ident = %record.ident, state = %start, ?reason, "event not processed");
        report.stop = reason;
        report.lifecycle_result = match (reason, event.lifecycle_transition()) {
            // Nothing will ever run for this terminating instance: let it go.
            (StopReason::Refused, Some(LifecycleTransition::Terminating)) => {
                Some(LifecycleResult::Continue)
            }
            // The instance was terminated before its launch ran.
            (StopReason::Refused, Some(LifecycleTransition::Launching))
                if terminated(record) && is_new(&def, start) =>
            {
                Some(LifecycleResult::Abandon)
            }
            _ => None,
        };
        if reason == StopReason::Refused && event.kind == EventKind::Terminating {
            // Terminated before its launch ran (the launch is late, or its delivery died
            // early): noted, so the launch is refused when it comes. Its parked launch, if any,
            // goes with this write. Whoever wins a race here, the termination is let go.
            let mut ctx = Context::new(event, record, effects);
            stage_progress(&mut ctx, false);
            write(store, &mut ctx, start, None, None).await?;
        }
        return Ok(report);
    }

    let mut ctx = Context::new(event, record, effects).with_records(store);
    let mut state = start;
    // Resuming a lifecycle that already failed (an earlier delivery entered failure handling
    // and was cut off): failure handling goes on, and the action still ends ABANDON.
    let mut in_failure = progress
        .as_ref()
        .is_some_and(|p| p.result == LifecycleResult::Abandon);
    if in_failure {
        ctx.event_failed = true;
        report.event_failed = true;
    }
    let mut steps = 0;
    let stop = loop {
        steps += 1;
        if steps > MAX_STEPS {
            return Err(DispatchError::Cycle(MAX_STEPS));
        }
        match step(model, &def, store, &mut ctx, state, in_failure, &mut report).await? {
            Step::Moved(next) => state = next,
            Step::Stop(reason) => break reason,
            Step::Failed {
                state: at,
                trigger,
                cause,
            } => {
                if in_failure {
                    let FailureCause::Task(cause) = cause else {
                        unreachable!(
                            "the implicit event condition is not applied during failure handling"
                        )
                    };
                    // Failure handling resumed for an earlier delivery's failure has no cause
                    // of its own.
                    let original = report.failure.take().map_or(
                        FailureCause::Event(CommandStatus::Other(
                            "failed in an earlier delivery".into(),
                        )),
                        |f| f.cause,
                    );
                    tracing::error!(event_id = %event.id, ident = %ctx.record.ident, state = %at, %cause, "error during failure handling");
                    report.end = *report
                        .states
                        .last()
                        .expect("states starts with the start state");
                    return Err(DispatchError::FailureHandling {
                        cause,
                        original,
                        report: Box::new(report),
                    });
                }
                tracing::error!(event_id = %event.id, ident = %ctx.record.ident, state = %at, trigger = trigger.unwrap_or(""), %cause, "event failed");
                ctx.event_failed = true;
                report.event_failed = true;
                report.failure = Some(Failure {
                    state: at,
                    trigger,
                    cause,
                    fired_before: report.fired.len(),
                });
                let Some(failure_state) = def.failure else {
                    // Only a model whose every trigger ignores errors has no failure state.
                    break StopReason::Settled;
                };
                in_failure = true;
                // What the failed transition sent is not part of the lifecycle any more.
                if ctx.step_used() {
                    ctx.step().commands.clear();
                }
                if at != failure_state {
                    stage_progress(&mut ctx, false);
                    let noted = Noted {
                        trigger: trigger.unwrap_or("-"),
                        failed: true,
                    };
                    if !write(store, &mut ctx, failure_state, Some(false), Some(noted)).await? {
                        break StopReason::LostRace;
                    }
                    report.states.push(failure_state);
                }
                state = failure_state;
            }
        }
    };
    report.stop = stop;
    report.end = *report
        .states
        .last()
        .expect("states starts with the start state");
    // The lifecycle action is over when this event moved the record and it came to rest; an
    // event that only ran internal transitions (a heartbeat sweep) or stopped to wait is not
    // the end of it.
    let moved = report.states.len() > 1;
    report.lifecycle_result = match stop {
        StopReason::Finished | StopReason::Settled if moved => ctx.lifecycle_result(),
        // This action's lifecycle, found where an earlier event left it. At rest, and left so
        // by this very event: a redelivery after its last state change, whose completion may
        // never have been sent — complete again. Waiting, or left by another event of the
        // action (a duplicate arriving late): that event completes it, or did.
        StopReason::Finished | StopReason::Settled if progress.is_some() => progress
            .filter(|p| !p.waiting && p.event_id == event.id)
            .map(|p| p.result),
        // A terminating instance nothing in the model reacts to (already terminal, or caught
        // mid-launch), or one launching from the warm pool with nothing left to do: let it go
        // rather than leave its hook to time out.
        StopReason::Finished | StopReason::Settled
            if event.kind == EventKind::Terminating || from_warm_pool(event) =>
        {
            Some(LifecycleResult::Continue)
        }
        _ => None,
    };
    Ok(report)
}

/// Whether a command's result may move the record: the record waits for that command. A
/// record that waits without naming a command (the command was not sent through the context)
/// takes any result, and so does one the original library wrote (it named none). A result
/// that already moved the record, delivered again, goes on to the redelivery rules (it may
/// have to complete the action again).
fn takes_result(record: &Record, command_id: &str, event_id: &str) -> bool {
    if record.version == 0 || record.awaits(command_id) {
        return true;
    }
    let progress = LifecycleProgress::of(record);
    progress.as_ref().is_some_and(|p| {
        p.event_id == event_id || (p.waiting && record.awaited_commands().next().is_none())
    })
}

/// Whether `state` is the initial state or one before it: the instance's launch has not run.
fn is_new<S: State>(def: &ModelDefinition<S>, state: S) -> bool {
    def.initial == Some(state) || def.is_before_initial(state)
}

/// Whether `event` launches an instance from the warm pool into its group.
fn from_warm_pool(event: &Event) -> bool {
    event.kind == EventKind::Launching
        && event
            .lifecycle
            .as_ref()
            .is_some_and(|a| a.origin() == crate::Location::WarmPool)
}

/// Whether `record` waits: its lifecycle stopped to wait (`wait`, `stop`), or it waits for a
/// command's result (a drain a Spot interruption started, say, with no lifecycle action).
/// A termination noted while it waits runs once it no longer does.
///
/// ```
/// use lifecycle_core::{Record, is_waiting};
/// assert!(is_waiting(&Record::new("i-1", "draining").with("AwaitedCommand", "c-1")));
/// assert!(is_waiting(&Record::new("i-1", "joining").with("LifecycleProgress", "CONTINUE wait t/launch e-1")));
/// assert!(!is_waiting(&Record::new("i-1", "ready")));
/// ```
pub fn is_waiting(record: &Record) -> bool {
    record.awaited_commands().next().is_some()
        || LifecycleProgress::of(record).is_some_and(|p| p.waiting)
}

/// Whether a termination has run (or been let go) for the record.
fn terminated(record: &Record) -> bool {
    LifecycleProgress::of(record).is_some_and(|p| p.token.ends_with("/terminate"))
}

/// Whether the event may run at all, given where the record is (the original library's "new"
/// rules: a launch runs only for a new instance, a termination only for one that is not new).
fn admission<S: State>(
    def: &ModelDefinition<S>,
    start: S,
    record: &Record,
    event: &Event,
) -> Option<StopReason> {
    def.initial?;
    let is_new = is_new(def, start);
    match event.kind {
        EventKind::Launching if terminated(record) => Some(StopReason::Refused),
        EventKind::Launching if def.is_before_initial(start) => Some(StopReason::NotReady),
        // A launch from the warm pool finds the record where the launch into the pool left
        // it: its triggers there decide.
        EventKind::Launching if !is_new && !from_warm_pool(event) => Some(StopReason::Refused),
        EventKind::Terminating if is_new => Some(StopReason::Refused),
        _ if def.is_before_initial(start) => Some(StopReason::NotReady),
        _ => None,
    }
}

enum Step<S, E> {
    Moved(S),
    Stop(StopReason),
    Failed {
        state: S,
        trigger: Option<&'static str>,
        cause: FailureCause<E>,
    },
}

/// Tries the triggers of `state` and fires the first that passes.
async fn step<M: LifecycleModel, St: Store>(
    model: &mut M,
    def: &ModelDefinition<M::State>,
    store: &St,
    ctx: &mut Context<'_>,
    state: M::State,
    in_failure: bool,
    report: &mut ModelReport<M>,
) -> Result<Step<M::State, M::Error>, ModelDispatchError<M, St>> {
    let mut blocked_by_event = false;
    for (index, transition) in def.triggers_from(state) {
        if !transition.accepts(ctx.event) {
            continue;
        }
        // The implicit condition "the event succeeded", which failure handling does not apply,
        // nor the triggers after one that handled the failed event with `ignore_errors`.
        let event_failed = !ctx.event.succeeded() && !ctx.event_failure_handled;
        if event_failed && !transition.ignore_errors && !in_failure {
            blocked_by_event = true;
            continue;
        }
        let trigger = transition.trigger;
        let failed = |cause| Step::Failed {
            state,
            trigger: Some(trigger),
            cause: FailureCause::Task(cause),
        };

        // Only an error a failing task itself saw counts.
        ctx.take_transient();
        if let Err(e) = model.run_tasks(index, Phase::Prepare, ctx).await {
            if let Some(stop) = interrupted(ctx, state, trigger)? {
                return Ok(stop);
            }
            if !transition.ignore_errors {
                return Ok(failed(e));
            }
            ignore(ctx, report, state, trigger, e);
        }
        match model.check_guards(index, ctx).await {
            Ok(true) => {}
            Ok(false) => {
                report.declined.push(Declined {
                    trigger,
                    from: state,
                    fired_before: report.fired.len(),
                });
                continue;
            }
            Err(e) => {
                if let Some(stop) = interrupted(ctx, state, trigger)? {
                    return Ok(stop);
                }
                if !transition.ignore_errors {
                    return Ok(failed(e));
                }
                // As the original library did: a guard that failed under `ignore_errors`
                // lets the transition go ahead.
                ignore(ctx, report, state, trigger, e);
            }
        }
        ctx.take_transient();
        if let Err(e) = model.run_tasks(index, Phase::Before, ctx).await {
            if let Some(stop) = interrupted(ctx, state, trigger)? {
                return Ok(stop);
            }
            if !transition.ignore_errors {
                return Ok(failed(e));
            }
            ignore(ctx, report, state, trigger, e);
        }

        let dest = transition.dest.unwrap_or(state);
        let waits = transition.wait_after_state_change || transition.stop_after_trigger;
        // A claim taken, or an awaited result applied, is settled by a write even when the
        // state stays.
        let settles = (ctx.step_used() && ctx.step().version.is_some())
            || matches!(&ctx.event.kind, EventKind::CommandResult { command_id, .. } if ctx.record.awaits(command_id));
        if dest != state || !ctx.staged.is_empty() || settles {
            stage_progress(ctx, waits);
            let noted = Noted {
                trigger,
                failed: false,
            };
            if !write(store, ctx, dest, Some(waits), Some(noted)).await? {
                return Ok(Step::Stop(StopReason::LostRace));
            }
        }
        tracing::info!(event_id = %ctx.event.id, ident = %ctx.record.ident, from = %state, to = %dest, trigger, "fired");
        if event_failed {
            ctx.event_failure_handled = true;
        }
        report.fired.push(Fired {
            index,
            trigger,
            from: state,
            to: dest,
        });
        if dest != state {
            report.states.push(dest);
        }

        if let Err(e) = model.run_tasks(index, Phase::After, ctx).await {
            if !transition.ignore_errors {
                return Ok(Step::Failed {
                    state: dest,
                    trigger: Some(trigger),
                    cause: FailureCause::Task(e),
                });
            }
            ignore(ctx, report, dest, trigger, e);
        }
        // Side effects of `after` tasks came after the state change: one more write takes
        // their commands up (awaited if the transition waits) and releases their claim, or they
        // would count as a lost run's and be withdrawn.
        if ctx.step_used() {
            let settle = {
                let step = ctx.step();
                step.version.is_some() || !step.commands.is_empty()
            };
            if settle && !write(store, ctx, dest, Some(waits), None).await? {
                return Ok(Step::Stop(StopReason::LostRace));
            }
        }

        return Ok(if transition.stop_after_trigger {
            Step::Stop(StopReason::StopAfterTrigger { trigger })
        } else if dest == state {
            Step::Stop(StopReason::Settled)
        } else if transition.wait_after_state_change {
            Step::Stop(StopReason::Waiting)
        } else if def.is_terminal(dest) && def.outgoing[dest.index()].is_empty() {
            Step::Stop(StopReason::Finished)
        } else {
            Step::Moved(dest)
        });
    }

    if blocked_by_event
        && report.failure.is_none()
        && let EventKind::CommandResult { status, .. } = &ctx.event.kind
    {
        return Ok(Step::Failed {
            state,
            trigger: None,
            cause: FailureCause::Event(status.clone()),
        });
    }
    Ok(Step::Stop(if def.is_terminal(state) {
        StopReason::Finished
    } else {
        StopReason::Settled
    }))
}

/// A task failed before its state change was stored: if its claim was refused, the event
/// stops (another delivery won, or holds the claim); if an effect it asked for failed
/// transiently, the event is to be delivered again rather than failed.
fn interrupted<S: State, E, StE>(
    ctx: &Context<'_>,
    state: S,
    trigger: &'static str,
) -> Result<Option<Step<S, E>>, DispatchError<S, E, StE>> {
    let refused = if ctx.step_used() {
        ctx.step().refused.take()
    } else {
        None
    };
    match refused {
        Some(ClaimOutcome::Busy { until }) => {
            tracing::info!(event_id = %ctx.event.id, ident = %ctx.record.ident, %state, trigger, until, "another delivery holds the claim: the event will be retried");
            return Err(DispatchError::Busy {
                ident: ctx.record.ident.clone(),
                until,
            });
        }
        Some(_) => {
            tracing::warn!(event_id = %ctx.event.id, ident = %ctx.record.ident, %state, trigger, "lost a race: the record changed before the claim; stopping");
            return Ok(Some(Step::Stop(StopReason::LostRace)));
        }
        None => {}
    }
    match ctx.take_transient() {
        Some(error) => {
            tracing::warn!(event_id = %ctx.event.id, ident = %ctx.record.ident, %state, trigger, %error, "transient error: the event will be retried");
            Err(DispatchError::Transient {
                state,
                trigger,
                error,
            })
        }
        None => Ok(None),
    }
}

fn ignore<S: State, E: fmt::Display>(
    ctx: &Context<'_>,
    report: &mut Report<S, E>,
    state: S,
    trigger: &'static str,
    failure: TaskFailure<E>,
) {
    tracing::warn!(event_id = %ctx.event.id, ident = %ctx.record.ident, %state, trigger, error = %failure, "error ignored (ignore_errors)");
    report.ignored.push(failure);
}

/// The step a write adds to the record's history: the trigger that fired, or whose failure
/// moves the record to the failure state.
#[derive(Clone, Copy)]
struct Noted<'t> {
    trigger: &'t str,
    failed: bool,
}

/// Stores `to` (and the attributes tasks set) if the record is still where it was loaded (or
/// claimed). `false` if someone else moved it first. A waiting write (`waits` = `Some(true)`)
/// notes the commands the transition sent as the ones the record waits for; any other
/// transition's clears them; a bookkeeping write (`None`) leaves them. A write that fires a
/// step (`noted`) adds it to the record's history in the same write.
async fn write<S: State, E, St: Store>(
    store: &St,
    ctx: &mut Context<'_>,
    to: S,
    waits: Option<bool>,
    noted: Option<Noted<'_>>,
) -> Result<bool, DispatchError<S, E, St::Error>> {
    // The transition's step ends with this write, stored or not.
    let StepEffects {
        version: claimed,
        commands,
        ..
    } = ctx.take_step();
    if let Some(version) = claimed {
        ctx.record.version = version;
    }
    if let Some(noted) = noted {
        note_step(ctx, to.name(), noted, &commands);
    }
    match waits {
        Some(true) if !commands.is_empty() => {
            ctx.set(attr::AWAITED_COMMAND, commands.join(" "));
        }
        Some(_) if ctx.record.awaited_commands().next().is_some() => {
            ctx.set(attr::AWAITED_COMMAND, Value::Null);
        }
        _ => {}
    }
    push_write_token(&mut ctx.token, &ctx.delivery, ctx.record.version + 1);
    let removes = claimed.is_some() || ctx.staged.iter().any(|(_, value)| value.is_null());
    let change = StateChange {
        ident: &ctx.record.ident,
        from: &ctx.record.state,
        version: ctx.record.version,
        to: to.name(),
        set: &ctx.staged,
        token: &ctx.token,
    };
    match store
        .compare_and_set(change)
        .await
        .map_err(DispatchError::Store)?
    {
        CasOutcome::Applied { version } => {
            ctx.record.state.clear();
            ctx.record.state.push_str(to.name());
            ctx.record.version = version;
            ctx.staged.clear();
            if removes || ctx.record.claimed_by().is_some() {
                ctx.record.attributes.retain(|key, value| {
                    !value.is_null() && key != attr::CLAIMED_BY && key != attr::CLAIMED_UNTIL
                });
            }
            ctx.effects.stored(&commands);
            Ok(true)
        }
        CasOutcome::Conflict => {
            tracing::warn!(event_id = %ctx.event.id, ident = %ctx.record.ident, from = %ctx.record.state, to = %to, "lost a race: the record changed under us; stopping");
            Ok(false)
        }
    }
}

/// Adds the step to `ctx`'s record's history: the commands it sent, or the awaited command
/// whose result it applies, with that result.
fn note_step(ctx: &mut Context<'_>, to: &str, noted: Noted<'_>, sent: &[String]) {
    let applied = match &ctx.event.kind {
        EventKind::CommandResult { command_id, status } if ctx.record.awaits(command_id) => {
            Some((command_id.as_str(), status))
        }
        _ => None,
    };
    let sent = match sent {
        [] => None,
        [one] => Some(std::borrow::Cow::Borrowed(one.as_str())),
        many => Some(std::borrow::Cow::Owned(many.join(","))),
    };
    let status = applied.map(|(_, status)| status.to_string());
    let from = std::mem::take(&mut ctx.record.state);
    let step = StepNote {
        at: ctx.effects.now(),
        from: &from,
        to,
        trigger: noted.trigger,
        event_id: &ctx.event.id,
        command: sent.as_deref().or(applied.map(|(id, _)| id)),
        result: match (&status, noted.failed) {
            (Some(status), _) => Some(status.as_str()),
            (None, true) => Some("failed"),
            (None, false) => None,
        },
    };
    crate::history::append(ctx.record, step, ctx.noted_step);
    ctx.record.state = from;
    ctx.noted_step = true;
    // The record holds the new history already: only the write needs its copy.
    let history = ctx.record.attributes[attr::HISTORY].clone();
    match ctx.staged.iter_mut().find(|(key, _)| key == attr::HISTORY) {
        Some(slot) => slot.1 = history,
        None => ctx.staged.push((attr::HISTORY.to_owned(), history)),
    }
}

/// Runs all tasks of transition `index` by hand, with no guards and no store, and moves
/// `ctx`'s record to its destination. This is what the typestate API calls.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{LifecycleModel, LocalEffects, Record, run_transition};
/// lifecycle_core::testing::block_on(async {
///     let event = lifecycle_core::testing::terminating("i-1");
///     let mut record = Record::new("i-1", "ready");
///     let effects = LocalEffects::new();
///     let mut ctx = Context::new(&event, &mut record, &effects);
///     // The transition `drain`, with no guard checked and nothing stored.
///     let index = Drain::DEFINITION.transitions.iter().position(|t| t.trigger == "drain").unwrap();
///     run_transition(&mut Drain::default(), index, &mut ctx).await.unwrap();
///     assert_eq!(ctx.state(), "draining");
/// });
/// ```
pub async fn run_transition<M: LifecycleModel>(
    model: &mut M,
    index: usize,
    ctx: &mut Context<'_>,
) -> Result<(), TaskFailure<M::Error>> {
    model.run_tasks(index, Phase::Prepare, ctx).await?;
    model.run_tasks(index, Phase::Before, ctx).await?;
    if let Some(dest) = model.definition().transitions[index].dest {
        ctx.record.state.clear();
        ctx.record.state.push_str(dest.name());
    }
    model.run_tasks(index, Phase::After, ctx).await
}
